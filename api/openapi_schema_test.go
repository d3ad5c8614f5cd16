package api

import (
	"testing"

	"sohoa/internal/openapicheck"
)

// TestOpenAPISchemasMatchReuseTypes: each reuse API operation documents
// the JSON its handler really sends and takes (the handlers' unexported
// view types, compared by reflection).
func TestOpenAPISchemasMatchReuseTypes(t *testing.T) {
	d := openapicheck.MustParse(t, OpenAPI())
	for _, c := range []struct {
		op, status string
		v          any
	}{
		{"searchResults", "200", searchResponse{}},
		{"getResult", "200", resultView{}},
		{"getResultStatus", "200", statusView{}},
		{"verifyCopy", "200", verifyResponse{}},
		{"revokeResult", "200", statusView{}},
	} {
		for _, p := range d.ResponseSchemaProblems(c.op, c.status, c.v) {
			t.Error(p)
		}
	}
	for _, c := range []struct {
		op string
		v  any
	}{
		{"searchResults", searchRequest{}},
		{"verifyCopy", verifyRequest{}},
		{"revokeResult", revokeRequest{}},
	} {
		for _, p := range d.RequestSchemaProblems(c.op, c.v) {
			t.Error(p)
		}
	}
	// Every JSON error answer of both APIs is WriteError's envelope.
	for _, name := range []string{"Error", "IntakeError"} {
		for _, p := range d.ComponentSchemaProblems(name, errorBody{}) {
			t.Error(p)
		}
	}
}
