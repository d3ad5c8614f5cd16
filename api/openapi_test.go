package api_test

// api/openapi.json describes both HTTP APIs of `sohoa serve`: the reuse API
// (api.Routes) and the counter intake API (pipeline.Routes). These tests
// hold the document to the code: every registered route is documented under
// its listener's tag and server, nothing else is, and the intake
// operations' schemas are the JSON package pipeline sends and takes.

import (
	"encoding/json"
	"strings"
	"testing"

	"sohoa/api"
	"sohoa/internal/openapicheck"
	"sohoa/pipeline"
)

// servedRoutes lists what both listeners register, as the document's
// x-listener names them.
func servedRoutes() []openapicheck.Route {
	var out []openapicheck.Route
	for _, r := range api.Routes() {
		out = append(out, openapicheck.Route{Listener: "reuse", Method: r.Method, Path: r.Path})
	}
	for _, r := range pipeline.Routes() {
		out = append(out, openapicheck.Route{Listener: "intake", Method: r.Method, Path: r.Path})
	}
	return out
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
	if len(api.Routes()) == 0 || len(pipeline.Routes()) == 0 {
		t.Fatal("a route list is empty")
	}
	served := servedRoutes()
	for _, r := range served {
		if r.Method == "" || !strings.HasPrefix(r.Path, "/") {
			t.Errorf("%s route %q %q: a route needs a method and a path", r.Listener, r.Method, r.Path)
		}
	}
	for _, p := range openapicheck.MustParse(t, api.OpenAPI()).RouteProblems(served) {
		t.Error(p)
	}
}

// TestOpenAPISchemasMatchIntakeTypes: each intake operation documents the
// JSON package pipeline really sends and takes.
func TestOpenAPISchemasMatchIntakeTypes(t *testing.T) {
	d := openapicheck.MustParse(t, api.OpenAPI())
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
