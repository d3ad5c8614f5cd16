// Package openapicheck holds sohoa's HTTP servers to their OpenAPI 3.1
// document (api/openapi.json) in tests: the routes each listener registers
// against the document's operations, both ways (RouteProblems); the Go
// types the handlers send and take against the document's schemas
// (ResponseSchemaProblems, RequestSchemaProblems); and every answer a test
// gets from a server against the operation it called (Handler,
// AnswerProblems). Import it from _test.go files only, like
// internal/testenv.
//
// The document names each server's listener in an x-listener extension
// ("reuse", "intake") and tags each operation with the listeners that
// serve it; a path item's servers are those listeners' servers.
package openapicheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// Doc is a parsed OpenAPI document.
type Doc struct {
	root map[string]any
	// muxes route a request to its operation, per listener: the handler
	// registered for "METHOD path" is never run, only its pattern read.
	muxes map[string]*http.ServeMux
	// ops are the operations by mux pattern, per listener.
	ops map[string]map[string]map[string]any
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Parse reads an OpenAPI document.
func Parse(b []byte) (*Doc, error) {
	d := &Doc{muxes: map[string]*http.ServeMux{}, ops: map[string]map[string]map[string]any{}}
	if err := json.Unmarshal(b, &d.root); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	top, err := d.servers(d.root["servers"])
	if err != nil {
		return nil, err
	}
	for p, v := range obj(d.root["paths"]) {
		item := obj(v)
		on := top
		if s, ok := item["servers"]; ok {
			if on, err = d.servers(s); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		for _, m := range httpMethods {
			op := obj(item[m])
			if op == nil {
				continue
			}
			for _, l := range on {
				if d.muxes[l.Listener] == nil {
					d.muxes[l.Listener] = http.NewServeMux()
					d.ops[l.Listener] = map[string]map[string]any{}
				}
				pattern := strings.ToUpper(m) + " " + p
				d.muxes[l.Listener].HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
				d.ops[l.Listener][pattern] = op
			}
		}
	}
	return d, nil
}

// MustParse is Parse for tests: it fails t on an error.
func MustParse(t interface {
	Helper()
	Fatalf(string, ...any)
}, b []byte) *Doc {
	t.Helper()
	d, err := Parse(b)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return d
}

// Server is an entry of a servers list.
type Server struct {
	URL      string `json:"url"`
	Listener string `json:"x-listener"`
}

func (d *Doc) servers(v any) ([]Server, error) {
	b, _ := json.Marshal(v)
	var out []Server
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("servers: %w", err)
	}
	for _, s := range out {
		if s.Listener == "" {
			return nil, fmt.Errorf("server %s has no x-listener", s.URL)
		}
	}
	return out, nil
}

// Route is a route a listener registers: an HTTP method and a ServeMux
// path pattern.
type Route struct {
	Listener, Method, Path string
}

// openAPIPath turns a ServeMux pattern's path into an OpenAPI path
// template: "{name...}" is "{name}", a trailing "{$}" is dropped.
func openAPIPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return strings.ReplaceAll(p, "...}", "}")
}

// RouteProblems compares the routes the servers register with the
// document's operations, both ways: a registered route must be documented
// with its listeners as tags, on a path whose servers are the document's
// servers of the listeners that serve it; a documented operation must be
// registered.
func (d *Doc) RouteProblems(served []Route) []string {
	top, _ := d.servers(d.root["servers"])
	known := map[Server]bool{}
	for _, s := range top {
		known[s] = true
	}
	byOp, byPath := map[string][]string{}, map[string][]string{}
	for _, r := range served {
		p := openAPIPath(r.Path)
		k := strings.ToUpper(r.Method) + " " + p
		byOp[k] = append(byOp[k], r.Listener)
		if !slices.Contains(byPath[p], r.Listener) {
			byPath[p] = append(byPath[p], r.Listener)
		}
	}
	var problems []string
	documented := map[string]bool{}
	for p, v := range obj(d.root["paths"]) {
		item := obj(v)
		for _, m := range httpMethods {
			op := obj(item[m])
			if op == nil {
				continue
			}
			k := strings.ToUpper(m) + " " + p
			documented[k] = true
			listeners, ok := byOp[k]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s (%v) is documented but no server registers it", k, op["operationId"]))
				continue
			}
			var tags []string
			for _, t := range asList(op["tags"]) {
				tags = append(tags, fmt.Sprint(t))
			}
			if !sameSet(tags, listeners) {
				problems = append(problems, fmt.Sprintf("%s: tagged %v, registered by %v", k, tags, listeners))
			}
		}
		on := top // a path without servers of its own is on all
		if s, ok := item["servers"]; ok {
			var err error
			if on, err = d.servers(s); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", p, err))
				continue
			}
		}
		var names []string
		for _, s := range on {
			if !known[s] {
				problems = append(problems, fmt.Sprintf("%s: server %s (%s) is not one of the document's servers", p, s.URL, s.Listener))
			}
			names = append(names, s.Listener)
		}
		if want := byPath[p]; want != nil && !sameSet(names, want) {
			problems = append(problems, fmt.Sprintf("%s: its servers are %v, it is served by %v", p, names, want))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(byOp)) {
		if !documented[k] {
			problems = append(problems, fmt.Sprintf("%s (%s) is registered but not documented", k, strings.Join(byOp[k], ", ")))
		}
	}
	sort.Strings(problems)
	return problems
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func asList(v any) []any { l, _ := v.([]any); return l }
