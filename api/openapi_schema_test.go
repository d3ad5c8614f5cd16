package api

import (
	"testing"

	"sohoa/internal/openapicheck"
	"sohoa/storage"
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
		{"getResult", "200", metadataView{}},
		{"getResultStatus", "200", statusView{}},
		{"getResultData", "200", dataResponse{}},
		{"verifyCopy", "200", verifyResponse{}},
		{"prefill", "200", prefillResponse{}},
		{"dossierCheck", "200", dossierCheckResponse{}},
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
		{"prefill", prefillRequest{}},
		{"dossierCheck", dossierCheckRequest{}},
		{"revokeResult", revokeRequest{}},
	} {
		for _, p := range d.RequestSchemaProblems(c.op, c.v) {
			t.Error(p)
		}
	}
	// GET /v1/results/{code}/data sends the data document's bytes as they
	// are embedded (a json.RawMessage): the document storage writes.
	for _, p := range d.ComponentSchemaProblems("ResultData", storage.ResultData{}) {
		t.Error(p)
	}
	// Every JSON error answer of both APIs is WriteError's envelope.
	for _, name := range []string{"Error", "IntakeError"} {
		for _, p := range d.ComponentSchemaProblems(name, errorBody{}) {
			t.Error(p)
		}
	}
}
