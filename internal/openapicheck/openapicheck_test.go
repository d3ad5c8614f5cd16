package openapicheck

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

// hasProblem reports whether one of got says want.
func hasProblem(got []string, want string) bool {
	return slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, want) })
}

const routesDoc = `{"servers":[{"url":"https://r","x-listener":"reuse"},{"url":"http://i","x-listener":"intake"}],"paths":{
	"/v1/a/{code}":{"servers":[{"url":"https://r","x-listener":"reuse"}],"get":{"operationId":"a","tags":["reuse"]}},
	"/v1/b":{"servers":[{"url":"http://i","x-listener":"intake"}],"post":{"operationId":"b","tags":["intake"]}}}}`

// TestRouteProblems: the route comparison fails in each direction.
func TestRouteProblems(t *testing.T) {
	ok := []Route{{"reuse", "GET", "/v1/a/{code}"}, {"intake", "POST", "/v1/b"}}
	for _, c := range []struct {
		name   string
		served []Route
		doc    string
		want   string // in a problem; "" for none
	}{
		{"match", ok, routesDoc, ""},
		{"a ServeMux wildcard", []Route{{"reuse", "GET", "/v1/a/{code...}"}, ok[1]}, routesDoc, ""},
		{"route not documented", append(slices.Clone(ok), Route{"reuse", "POST", "/v1/a/{code}"}), routesDoc,
			"POST /v1/a/{code} (reuse) is registered but not documented"},
		{"documented, not registered", ok[:1], routesDoc, "POST /v1/b (b) is documented but no server registers it"},
		{"another method", []Route{{"reuse", "PUT", "/v1/a/{code}"}, ok[1]}, routesDoc, "GET /v1/a/{code} (a) is documented"},
		{"another path template", []Route{{"reuse", "GET", "/v1/a/{id}"}, ok[1]}, routesDoc, "GET /v1/a/{id} (reuse) is registered"},
		{"other listener", []Route{ok[0], {"reuse", "POST", "/v1/b"}}, routesDoc, "POST /v1/b: tagged [intake], registered by [reuse]"},
		{"wrong server", ok, strings.Replace(routesDoc, `"servers":[{"url":"http://i","x-listener":"intake"}],"post"`, `"servers":[{"url":"https://r","x-listener":"reuse"}],"post"`, 1),
			"/v1/b: its servers are [reuse], it is served by [intake]"},
		{"no servers of its own", ok, strings.Replace(routesDoc, `"servers":[{"url":"https://r","x-listener":"reuse"}],"get"`, `"get"`, 1),
			"/v1/a/{code}: its servers are [reuse intake], it is served by [reuse]"},
		{"unknown server", ok, strings.Replace(routesDoc, `"servers":[{"url":"https://r","x-listener":"reuse"}],"get"`, `"servers":[{"url":"https://x","x-listener":"reuse"}],"get"`, 1),
			"/v1/a/{code}: server https://x (reuse) is not one of the document's servers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := MustParse(t, []byte(c.doc)).RouteProblems(c.served)
			if c.want == "" {
				if len(got) > 0 {
					t.Errorf("problems %q, want none", got)
				}
				return
			}
			if !hasProblem(got, c.want) {
				t.Errorf("problems %q lack %q", got, c.want)
			}
		})
	}
}

func TestParseNeedsListeners(t *testing.T) {
	if _, err := Parse([]byte(`{"servers":[{"url":"https://r"}],"paths":{}}`)); err == nil {
		t.Error("a server without x-listener parsed")
	}
}

const schemaDoc = `{"servers":[{"url":"https://r","x-listener":"reuse"}],
	"paths":{"/x/{id}":{"get":{"operationId":"x",
		"responses":{"200":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/X"}}}},
		             "404":{"$ref":"#/components/responses/NotFound"},
		             "304":{"description":"not modified"}},
		"requestBody":{"content":{"application/json":{"schema":{"$ref":"#/components/schemas/X"}}}}}}},
	"components":{
		"responses":{"NotFound":{"description":"no","content":{"application/json":{"schema":{"$ref":"#/components/schemas/E"}}}}},
		"schemas":{
			"X":{"type":"object","required":["a","c"],"properties":{
				"a":{"type":"string","pattern":"^[a-z]+$"},"c":{"type":"integer","minimum":1,"maximum":9},"p":{"type":"string"},
				"t":{"type":"string","format":"date"},"l":{"type":"array","maxItems":3,"items":{"type":"integer"}},
				"r":{"$ref":"#/components/schemas/Y"},"d":{"type":"string","format":"date"},
				"n":{"oneOf":[{"$ref":"#/components/schemas/Y"},{"type":"null"}]},
				"m":{"type":"object","additionalProperties":{"type":"integer"},"propertyNames":{"enum":["k"]}}}},
			"Y":{"type":"object","required":["s"],"additionalProperties":false,"properties":{"s":{"type":"string","enum":["on","off"]}}},
			"E":{"type":"object","required":["error"],"properties":{"error":{"type":"object","properties":{"code":{"type":"string","enum":["not_found"]}}}}}}}}`

// day is a struct that encoding/json writes as a string (like storage.Date).
type day struct{ Y, M, D int }

func (d day) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "%04d-%02d-%02d", d.Y, d.M, d.D), nil
}

// TestSchemaProblems: the type comparison finds each kind of mismatch.
func TestSchemaProblems(t *testing.T) {
	d := MustParse(t, []byte(schemaDoc))
	type y struct {
		S string `json:"s"`
	}
	type resp struct {
		A string         `json:"a"`           // ok
		B string         `json:"b,omitempty"` // not in the schema
		C string         `json:"c,omitempty"` // required but omitted when empty; wrong type
		P *string        `json:"p"`           // sent as null, schema has no null; not required
		T time.Time      `json:"t,omitempty"` // format date, not date-time
		L []string       `json:"l,omitempty"` // items integer
		N *y             `json:"n"`           // ok: nullable
		M map[string]int `json:"m,omitempty"` // ok
		// ok: raw JSON of any shape (its writer's type is compared with
		// the schema apart)
		R json.RawMessage `json:"r,omitempty"`
		D day             `json:"d,omitempty"` // ok: written as text
	}
	got := d.ResponseSchemaProblems("x", "200", resp{})
	for _, want := range []string{`sends field "b"`, `JSON string, the schema says [integer]`, `requires "c"`,
		`.p: sent as null`, `"p" is always sent`, `format is "date"`, `x 200.l[]: Go string`} {
		if !hasProblem(got, want) {
			t.Errorf("no problem saying %q in %q", want, got)
		}
	}
	if hasProblem(got, ".n") || hasProblem(got, ".m") || hasProblem(got, "200.r") || hasProblem(got, "200.d") || hasProblem(got, `"a"`) {
		t.Errorf("problems with fields that match: %q", got)
	}
	type req struct {
		A string `json:"a"`
	}
	got = d.RequestSchemaProblems("x", req{})
	for _, want := range []string{`lists "c"`, "additionalProperties false", `requires "c"`} {
		if !hasProblem(got, want) {
			t.Errorf("request: no problem saying %q in %q", want, got)
		}
	}
	if p := d.ResponseSchemaProblems("nope", "200", resp{}); len(p) == 0 {
		t.Error("an unknown operation is no problem")
	}
	if p := d.ComponentSchemaProblems("Y", y{}); len(p) > 0 {
		t.Errorf("matching component: %q", p)
	}
}

// TestAnswerProblems: answers are checked for their status, content type
// and body.
func TestAnswerProblems(t *testing.T) {
	d := MustParse(t, []byte(schemaDoc))
	j := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name           string
		method, path   string
		status         int
		header         http.Header
		body           string
		want           string // "" for none
		alsoNotWanting string
	}{
		{"valid", "GET", "/x/1", 200, j, `{"a":"ok","c":2,"n":{"s":"on"},"m":{"k":1},"t":"2025-01-02"}`, "", ""},
		{"null allowed", "GET", "/x/1", 200, j, `{"a":"ok","c":2,"n":null}`, "", ""},
		{"status not listed", "GET", "/x/1", 418, j, `{}`, "x (GET /x/{id}) answered 418, which the document does not list", ""},
		{"unknown path, 404", "GET", "/nope", 404, nil, "404 page not found", "", ""},
		{"unknown path, 200", "GET", "/nope", 200, j, `{}`, "GET /nope answered 200, and the document has no such operation", ""},
		{"other method, 405", "POST", "/x/1", 405, nil, "", "", ""},
		{"content type", "GET", "/x/1", 200, http.Header{"Content-Type": {"text/plain"}}, "hi", `as "text/plain"`, ""},
		{"body where none", "GET", "/x/1", 304, nil, "x", "with a body; the document says it has none", ""},
		{"empty 304", "GET", "/x/1", 304, nil, "", "", ""},
		{"not JSON", "GET", "/x/1", 200, j, `{`, "not JSON", ""},
		{"required", "GET", "/x/1", 200, j, `{"a":"ok"}`, `$: required "c" is missing`, ""},
		{"type", "GET", "/x/1", 200, j, `{"a":"ok","c":"2"}`, `$.c: string, the schema says [integer]`, ""},
		{"integer", "GET", "/x/1", 200, j, `{"a":"ok","c":2.5}`, `$.c: number, the schema says [integer]`, ""},
		{"minimum", "GET", "/x/1", 200, j, `{"a":"ok","c":0}`, `$.c: 0 is below 1`, ""},
		{"maximum", "GET", "/x/1", 200, j, `{"a":"ok","c":10}`, `$.c: 10 is above 9`, ""},
		{"maxItems", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"l":[1,2,3,4]}`, `$.l: 4 items, at most 3`, ""},
		{"raw JSON under its schema", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"r":{"s":"up"}}`, `$.r.s: up is not one of [on off]`, ""},
		{"pattern", "GET", "/x/1", 200, j, `{"a":"OK","c":1}`, `$.a: "OK" does not match`, ""},
		{"format", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"t":"2025-13-01"}`, `$.t: "2025-13-01" is not a date`, ""},
		{"items", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"l":[1,"x"]}`, `$.l[1]: string`, ""},
		{"oneOf", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"n":{"s":"maybe"}}`, `$.n: valid under 0 of the 2 oneOf schemas`, ""},
		{"additionalProperties false", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"n":{"s":"on","z":1}}`, `"z" is not a documented property`, ""},
		{"additionalProperties schema", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"m":{"k":"v"}}`, `$.m.k: string`, ""},
		{"propertyNames", "GET", "/x/1", 200, j, `{"a":"ok","c":1,"m":{"q":1}}`, `$.m key "q": q is not one of [k]`, ""},
		{"error enum via $ref response", "GET", "/x/1", 404, j, `{"error":{"code":"gone"}}`, `$.error.code: gone is not one of [not_found]`, ""},
		{"error ok", "GET", "/x/1", 404, j, `{"error":{"code":"not_found"}}`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := d.AnswerProblems("reuse", c.method, c.path, c.status, c.header, []byte(c.body))
			if c.want == "" {
				if len(got) > 0 {
					t.Errorf("problems %q, want none", got)
				}
				return
			}
			if !hasProblem(got, c.want) {
				t.Errorf("problems %q lack %q", got, c.want)
			}
		})
	}
	if p := d.AnswerProblems("intake", "GET", "/x/1", 200, j, nil); !hasProblem(p, `no operation on listener "intake"`) {
		t.Errorf("unknown listener: %q", p)
	}
}

// fakeT records what Handler reports.
type fakeT struct {
	testing.TB
	errs []string
}

func (f *fakeT) Errorf(format string, args ...any) {
	b, _ := json.Marshal(args)
	f.errs = append(f.errs, format+string(b))
}

// TestHandler: a server's answers pass through unchanged and are checked.
func TestHandler(t *testing.T) {
	d := MustParse(t, []byte(schemaDoc))
	ft := &fakeT{TB: t}
	h := Handler(ft, d, "reuse", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("bad") != "" {
			w.Write([]byte(`{"a":"ok"}`))
			return
		}
		w.Write([]byte(`{"a":"ok","c":1}`))
	}))
	for _, q := range []string{"", "?bad=1"} {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest("GET", "/x/1"+q, nil))
		if rr.Code != 200 || !strings.HasPrefix(rr.Body.String(), `{"a":"ok"`) {
			t.Errorf("answer changed: %d %q", rr.Code, rr.Body)
		}
	}
	if len(ft.errs) != 1 || !strings.Contains(ft.errs[0], `required \"c\" is missing`) {
		t.Errorf("reported %q, want one missing c", ft.errs)
	}
}
