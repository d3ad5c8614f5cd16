// This file checks answers: the status a server sent must be one the
// document lists for the operation called, its content type one that
// response has, and a JSON body must be valid under that media type's
// schema (a subset of JSON Schema 2020-12, the part the document uses).

package openapicheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// AnswerProblems checks one answer of listener to method and path (no
// query) against the document.
func (d *Doc) AnswerProblems(listener, method, path string, status int, header http.Header, body []byte) []string {
	mux := d.muxes[listener]
	if mux == nil {
		return []string{fmt.Sprintf("the document has no operation on listener %q", listener)}
	}
	req, err := http.NewRequest(method, "http://check"+path, nil)
	if err != nil {
		return []string{fmt.Sprintf("%s %s: %v", method, path, err)}
	}
	_, pattern := mux.Handler(req)
	what := fmt.Sprintf("%s %s answered %d", method, path, status)
	op := d.ops[listener][pattern]
	if op == nil {
		// No documented operation: only "no such endpoint" answers fit.
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			return []string{what + ", and the document has no such operation"}
		}
		return nil
	}
	what = fmt.Sprintf("%s (%s %s) answered %d", op["operationId"], method, pattern[strings.Index(pattern, " ")+1:], status)
	resp := obj(obj(op["responses"])[strconv.Itoa(status)])
	if resp == nil {
		return []string{what + ", which the document does not list"}
	}
	if resp, err = d.deref(resp); err != nil {
		return []string{what + ": " + err.Error()}
	}
	content := obj(resp["content"])
	if len(body) == 0 || method == http.MethodHead {
		return nil
	}
	if content == nil {
		return []string{fmt.Sprintf("%s with a body; the document says it has none", what)}
	}
	ct, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	media := obj(content[ct])
	if media == nil {
		return []string{fmt.Sprintf("%s as %q; the document lists %v", what, ct, keys(content))}
	}
	if ct != "application/json" || media["schema"] == nil {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{fmt.Sprintf("%s: not JSON: %v", what, err)}
	}
	var out []string
	for _, p := range d.Validate(obj(media["schema"]), v) {
		out = append(out, what+": "+p)
	}
	return out
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Validate checks value v (decoded with UseNumber) against schema s: $ref,
// allOf, oneOf, anyOf, type, const, enum, required, properties,
// additionalProperties, propertyNames, items, minItems, maxItems, pattern,
// minLength, maxLength, minimum, maximum and the formats date and
// date-time. It returns the problems, each with the JSON path.
func (d *Doc) Validate(s map[string]any, v any) []string {
	return d.validate("$", s, v)
}

var (
	reMu    sync.Mutex
	reCache = map[string]*regexp.Regexp{}
)

func compiled(p string) (*regexp.Regexp, error) {
	reMu.Lock()
	defer reMu.Unlock()
	if re, ok := reCache[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err == nil {
		reCache[p] = re
	}
	return re, err
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) && !strings.ContainsAny(x.String(), ".eE") {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

func (d *Doc) validate(at string, s map[string]any, v any) []string {
	s, err := d.deref(s)
	if err != nil {
		return []string{at + ": " + err.Error()}
	}
	var out []string
	bad := func(format string, args ...any) { out = append(out, at+": "+fmt.Sprintf(format, args...)) }
	for _, a := range asList(s["allOf"]) {
		out = append(out, d.validate(at, obj(a), v)...)
	}
	if alts := asList(s["oneOf"]); alts != nil {
		n := 0
		var why []string
		for i, a := range alts {
			p := d.validate(at, obj(a), v)
			if len(p) == 0 {
				n++
			}
			for _, x := range p {
				why = append(why, fmt.Sprintf("(oneOf %d) %s", i, x))
			}
		}
		if n != 1 {
			bad("valid under %d of the %d oneOf schemas, not exactly one", n, len(alts))
			if n == 0 {
				out = append(out, why...)
			}
		}
	}
	if alts := asList(s["anyOf"]); alts != nil {
		ok := false
		for _, a := range alts {
			ok = ok || len(d.validate(at, obj(a), v)) == 0
		}
		if !ok {
			bad("valid under none of the anyOf schemas")
		}
	}
	got := jsonType(v)
	if t, ok := s["type"]; ok {
		var types []string
		switch x := t.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, y := range x {
				types = append(types, fmt.Sprint(y))
			}
		}
		ok := false
		for _, want := range types {
			ok = ok || want == got || want == "number" && got == "integer"
		}
		if !ok {
			bad("%s, the schema says %v", got, types)
			return out
		}
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		bad("%v, the schema says const %v", v, c)
	}
	if e := asList(s["enum"]); e != nil {
		ok := false
		for _, x := range e {
			ok = ok || fmt.Sprint(x) == fmt.Sprint(v)
		}
		if !ok {
			bad("%v is not one of %v", v, e)
		}
	}
	switch x := v.(type) {
	case string:
		if p, ok := s["pattern"].(string); ok {
			if re, err := compiled(p); err != nil {
				bad("pattern %q: %v", p, err)
			} else if !re.MatchString(x) {
				bad("%q does not match %s", x, p)
			}
		}
		n := float64(len([]rune(x)))
		if m, ok := s["minLength"].(float64); ok && n < m {
			bad("%q is shorter than %v", x, m)
		}
		if m, ok := s["maxLength"].(float64); ok && n > m {
			bad("%q is longer than %v", x, m)
		}
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339, x); err != nil {
				bad("%q is not a date-time", x)
			}
		case "date":
			if _, err := time.Parse(time.DateOnly, x); err != nil {
				bad("%q is not a date", x)
			}
		}
	case json.Number:
		if m, ok := s["minimum"].(float64); ok {
			if f, _ := x.Float64(); f < m {
				bad("%v is below %v", x, m)
			}
		}
		if m, ok := s["maximum"].(float64); ok {
			if f, _ := x.Float64(); f > m {
				bad("%v is above %v", x, m)
			}
		}
	case []any:
		if m, ok := s["minItems"].(float64); ok && float64(len(x)) < m {
			bad("%d items, at least %v", len(x), m)
		}
		if m, ok := s["maxItems"].(float64); ok && float64(len(x)) > m {
			bad("%d items, at most %v", len(x), m)
		}
		if items := obj(s["items"]); items != nil {
			for i, e := range x {
				out = append(out, d.validate(fmt.Sprintf("%s[%d]", at, i), items, e)...)
			}
		}
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := x[fmt.Sprint(r)]; !ok {
				bad("required %q is missing", r)
			}
		}
		props := obj(s["properties"])
		for k, e := range x {
			if ps := obj(props[k]); ps != nil {
				out = append(out, d.validate(at+"."+k, ps, e)...)
				continue
			}
			switch a := s["additionalProperties"].(type) {
			case bool:
				if !a {
					bad("%q is not a documented property", k)
				}
			case map[string]any:
				out = append(out, d.validate(at+"."+k, a, e)...)
			}
			if pn := obj(s["propertyNames"]); pn != nil {
				out = append(out, d.validate(at+" key "+strconv.Quote(k), pn, k)...)
			}
		}
	}
	return out
}

// Handler serves next and checks every answer against the operation of
// listener that the request called, failing t for each problem
// (AnswerProblems). JSON bodies are read whole; others only for their
// length.
func Handler(t testing.TB, d *Doc, listener string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		for _, p := range d.AnswerProblems(listener, r.Method, r.URL.Path, rec.status, w.Header(), rec.body()) {
			t.Errorf("openapi (api/openapi.json): %s", p)
		}
	})
}

// recorder keeps what an answer sends: its status, and its body when it is
// JSON (else a byte of it, to know there is one).
type recorder struct {
	http.ResponseWriter
	status int
	json   bool
	buf    bytes.Buffer
	any    bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		ct, _, _ := mime.ParseMediaType(r.Header().Get("Content-Type"))
		r.json = ct == "application/json"
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.any = r.any || n > 0
	if r.json {
		r.buf.Write(b[:n])
	}
	return n, err
}

func (r *recorder) body() []byte {
	if r.json {
		return r.buf.Bytes()
	}
	if r.any {
		return []byte{0}
	}
	return nil
}

// Unwrap lets http.ResponseController reach the connection (read
// deadlines of slow uploads).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
