// This file owns what the OCR stage writes about an intake: the record with
// its per-document decisions, and the review queue entry.

package pipeline

import (
	"time"

	"sohoa/ocr"
)

// Record is what the OCR stage writes for every scan it recognises.
type Record struct {
	SchemaVersion   int           `json:"schema_version"`
	InputKey        string        `json:"input_key"`
	File            string        `json:"file"`
	PipelineVersion string        `json:"pipeline_version"`
	Result          ocr.Result    `json:"result"`
	Decisions       []Decision    `json:"decisions"`
	Images          []ImageRef    `json:"images"`
	CreatedAt       time.Time     `json:"created_at"`
	Intake          IntakeSummary `json:"intake"`
	// Signature is the check of an input that arrived signed; nil for
	// any other input.
	Signature *SignatureCheck `json:"signature,omitempty"`
}

// IntakeSummary is the part of the intake metadata a record carries along.
type IntakeSummary struct {
	DossierCode   string `json:"dossier_code"`
	ProcedureCode string `json:"procedure_code"`
	Source        string `json:"source"`
	BatchID       string `json:"batch_id,omitempty"`
	Office        string `json:"office,omitempty"`
}

// ImageRef points at one stored page image.
type ImageRef struct {
	Page   int     `json:"page"`
	Key    string  `json:"key"`
	Format string  `json:"format"`
	DPI    float64 `json:"dpi"`
}

// Decision says what happens to one document of a record.
type Decision struct {
	Doc        int      `json:"doc"`
	Action     string   `json:"action"` // issue | review | keep
	ResultCode string   `json:"result_code,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
}

// Actions of a Decision.
const (
	ActionIssue  = "issue"  // a result document, auto-accepted
	ActionReview = "review" // a person must check it before anything is filed
	ActionKeep   = "keep"   // a dossier component (application form): digitised, not issued
)

// ReviewItem is the review queue entry for one scan.
type ReviewItem struct {
	InputKey  string     `json:"input_key"`
	File      string     `json:"file"`
	Documents []Decision `json:"documents"`
	CreatedAt time.Time  `json:"created_at"`
}
