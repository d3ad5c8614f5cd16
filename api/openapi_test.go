package api_test

// api/openapi.json describes both HTTP APIs of `sohoa serve`: the reuse API
// (api.Routes) and the counter intake API (pipeline.Routes). These tests
// hold the document to the code: every registered route is documented under
// its listener's tag and server, nothing else is, and the intake
// operations' schemas are the JSON package pipeline sends and takes.

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"sohoa/api"
	"sohoa/pipeline"
)

// Listeners, as the document's servers (x-listener) and tags name them.
const (
	reuse  = "reuse"
	intake = "intake"
)

// servedRoute is a route one listener registers.
type servedRoute struct {
	listener string
	api.Route
}

func servedRoutes() []servedRoute {
	var out []servedRoute
	for _, r := range api.Routes() {
		out = append(out, servedRoute{reuse, r})
	}
	for _, r := range pipeline.Routes() {
		out = append(out, servedRoute{intake, r})
	}
	return out
}

// openAPIPath turns a ServeMux pattern's path into an OpenAPI path
// template: "{name...}" is "{name}", a trailing "{$}" is dropped.
func openAPIPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return strings.ReplaceAll(p, "...}", "}")
}

// document is what the route check reads of an OpenAPI document.
type document struct {
	Servers []server `json:"servers"`
	Paths   map[string]map[string]json.RawMessage
}

type server struct {
	URL      string `json:"url"`
	Listener string `json:"x-listener"`
}

type operation struct {
	OperationID string   `json:"operationId"`
	Tags        []string `json:"tags"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// routeProblems compares the routes the servers register with the
// operations of the document, both ways: a registered route must be
// documented, with its listener's tag, on a path whose servers are the
// listeners that serve it; a documented operation must be registered.
func routeProblems(served []servedRoute, docJSON []byte) ([]string, error) {
	var doc document
	if err := json.Unmarshal(docJSON, &doc); err != nil {
		return nil, err
	}
	listenerOf := map[string]string{} // server URL → listener
	for _, s := range doc.Servers {
		if s.Listener == "" {
			return nil, fmt.Errorf("server %s has no x-listener", s.URL)
		}
		listenerOf[s.URL] = s.Listener
	}
	// (METHOD path) → listeners registering it; path → listeners.
	byOp, byPath := map[string][]string{}, map[string][]string{}
	for _, r := range served {
		p := openAPIPath(r.Path)
		k := strings.ToUpper(r.Method) + " " + p
		byOp[k] = append(byOp[k], r.listener)
		if !slices.Contains(byPath[p], r.listener) {
			byPath[p] = append(byPath[p], r.listener)
		}
	}
	var problems []string
	documented := map[string]bool{}
	for p, item := range doc.Paths {
		for _, m := range httpMethods {
			raw, ok := item[m]
			if !ok {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, p, err)
			}
			k := strings.ToUpper(m) + " " + p
			documented[k] = true
			listeners, ok := byOp[k]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s (%s) is documented but no server registers it", k, op.OperationID))
				continue
			}
			if !sameSet(op.Tags, listeners) {
				problems = append(problems, fmt.Sprintf("%s: tagged %v, registered by %v", k, op.Tags, listeners))
			}
		}
		pathServers := doc.Servers // a path without servers of its own is on all
		if raw, ok := item["servers"]; ok {
			pathServers = nil
			if err := json.Unmarshal(raw, &pathServers); err != nil {
				return nil, fmt.Errorf("%s servers: %w", p, err)
			}
		}
		var on []string
		for _, s := range pathServers {
			if l, ok := listenerOf[s.URL]; !ok || l != s.Listener {
				problems = append(problems, fmt.Sprintf("%s: server %s (%s) is not one of the document's servers", p, s.URL, s.Listener))
			}
			on = append(on, s.Listener)
		}
		if want := byPath[p]; want != nil && !sameSet(on, want) {
			problems = append(problems, fmt.Sprintf("%s: its servers are %v, it is served by %v", p, on, want))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(byOp)) {
		if !documented[k] {
			problems = append(problems, fmt.Sprintf("%s (%s) is registered but not documented", k, strings.Join(byOp[k], ", ")))
		}
	}
	sort.Strings(problems)
	return problems, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// TestOpenAPIDocumentsEveryRoute: the served document describes exactly
// the routes of the reuse API and the intake API.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi.json: version %q, %v; want OpenAPI 3.1.0", doc.OpenAPI, err)
	}
	served := servedRoutes()
	if len(api.Routes()) == 0 || len(pipeline.Routes()) == 0 {
		t.Fatal("a route list is empty")
	}
	for _, r := range served {
		if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
			t.Errorf("%s route %q %q: a route needs a method and a path", r.listener, r.Method, r.Path)
		}
	}
	problems, err := routeProblems(served, api.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestRouteProblemsFail: the comparison fails in each direction.
func TestRouteProblemsFail(t *testing.T) {
	doc := `{"servers":[{"url":"https://r","x-listener":"reuse"},{"url":"http://i","x-listener":"intake"}],"paths":{
		"/v1/a/{code}":{"servers":[{"url":"https://r","x-listener":"reuse"}],"get":{"operationId":"a","tags":["reuse"]}},
		"/v1/b":{"servers":[{"url":"http://i","x-listener":"intake"}],"post":{"operationId":"b","tags":["intake"]}}}}`
	ok := []servedRoute{{reuse, api.Route{Method: "GET", Path: "/v1/a/{code}"}}, {intake, api.Route{Method: "POST", Path: "/v1/b"}}}
	for _, c := range []struct {
		name   string
		served []servedRoute
		doc    string
		want   string // in a problem; "" for none
	}{
		{"match", ok, doc, ""},
		{"route not documented", append(slices.Clone(ok), servedRoute{reuse, api.Route{Method: "POST", Path: "/v1/a/{code}"}}), doc,
			"POST /v1/a/{code} (reuse) is registered but not documented"},
		{"documented, not registered", ok[:1], doc, "POST /v1/b (b) is documented but no server registers it"},
		{"another method", []servedRoute{{reuse, api.Route{Method: "PUT", Path: "/v1/a/{code}"}}, ok[1]}, doc, "GET /v1/a/{code} (a) is documented"},
		{"another path template", []servedRoute{{reuse, api.Route{Method: "GET", Path: "/v1/a/{id}"}}, ok[1]}, doc, "GET /v1/a/{id} (reuse) is registered"},
		{"other listener", []servedRoute{ok[0], {reuse, api.Route{Method: "POST", Path: "/v1/b"}}}, doc, "POST /v1/b: tagged [intake], registered by [reuse]"},
		{"wrong server", ok, strings.Replace(doc, `"servers":[{"url":"http://i","x-listener":"intake"}],"post"`, `"servers":[{"url":"https://r","x-listener":"reuse"}],"post"`, 1),
			"/v1/b: its servers are [reuse], it is served by [intake]"},
		{"no servers of its own", ok, strings.Replace(doc, `"servers":[{"url":"https://r","x-listener":"reuse"}],"get"`, `"get"`, 1),
			"/v1/a/{code}: its servers are [reuse intake], it is served by [reuse]"},
		{"unknown server", ok, strings.Replace(doc, `"servers":[{"url":"https://r","x-listener":"reuse"}],"get"`, `"servers":[{"url":"https://x","x-listener":"reuse"}],"get"`, 1),
			"/v1/a/{code}: server https://x (reuse) is not one of the document's servers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := routeProblems(c.served, []byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if len(got) > 0 {
					t.Errorf("problems %q, want none", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, c.want) }) {
				t.Errorf("problems %q lack %q", got, c.want)
			}
		})
	}
}

// TestOpenAPISchemasMatchIntakeTypes: each intake operation documents the
// JSON package pipeline really sends and takes.
func TestOpenAPISchemasMatchIntakeTypes(t *testing.T) {
	d := api.ParseOADoc(t, api.OpenAPI())
	for _, c := range []struct {
		op, status string
		v          any
	}{
		{"createBatch", "201", pipeline.BatchResponse{}},
		{"createBatch", "207", pipeline.BatchResponse{}},
		{"addBatchFiles", "201", pipeline.BatchResponse{}},
		{"addBatchFiles", "207", pipeline.BatchResponse{}},
		{"addBatchFiles", "422", pipeline.BatchResponse{}},
		{"addBatchFiles", "429", pipeline.BatchResponse{}},
		{"getBatch", "200", pipeline.BatchStatus{}},
		{"getInput", "200", pipeline.InputStatus{}},
	} {
		for _, p := range d.ResponseSchemaProblems(c.op, c.status, c.v) {
			t.Error(p)
		}
	}
	for _, p := range d.RequestSchemaProblems("createBatch", pipeline.BatchRequest{}) {
		t.Error(p)
	}
}
