// Package pipeline moves a scan from intake to a filed e-result on asynq.
//
// Stages (task types are noun:verb):
//
//	scan:ocr      open the intake object in a supervised OCR child, extract
//	              documents and fields, write records/{inputKey}.json, then
//	              either enqueue result:issue per result document or write a
//	              review record for a person.
//	result:issue  render, stamp and sign one e-result, verify it, and file it
//	              create-once in the repository.
//
// Payloads carry keys, never image bytes: S3 is the system of record and
// Redis only says what to do next. Every handler is idempotent, because asynq
// delivers at least once (reliability.md §1). Only this package decides what
// is retried and what is quarantined: see classify.
package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/storage"
)

// Task types.
const (
	TypeOCR   = "scan:ocr"
	TypeIssue = "result:issue"
)

// Queues, named for the work. Counter uploads outrank issuing, which
// outranks archive backfill; asynq's weighted priority keeps backfill from
// starving.
const (
	QueueCounter  = "counter"
	QueueIssue    = "issue"
	QueueBackfill = "backfill"
)

// Queues returns the weighted queue map for an asynq server.
func Queues() map[string]int {
	return map[string]int{QueueCounter: 6, QueueIssue: 4, QueueBackfill: 1}
}

// OCRPayload names the intake object to recognise.
type OCRPayload struct {
	InputKey string `json:"input_key"`
}

// IssuePayload names one document of a recognised scan to issue.
type IssuePayload struct {
	InputKey string `json:"input_key"`
	Doc      int    `json:"doc"` // index into the record's documents
}

// NewOCRTask makes the OCR task for one intake object. Its TaskID derives
// from the input key, so re-uploading a scan is "already queued", not a
// second job. Backfill goes to the low-weight queue.
func NewOCRTask(inputKey string, backfill bool) (*asynq.Task, error) {
	b, err := json.Marshal(OCRPayload{InputKey: inputKey})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", TypeOCR, err)
	}
	q := QueueCounter
	if backfill {
		q = QueueBackfill
	}
	return asynq.NewTask(TypeOCR, b,
		asynq.TaskID("ocr:"+inputKey),
		asynq.Queue(q),
		asynq.MaxRetry(8),
		// Longer than the OCR pool's own budget of a long dossier (5 min
		// plus 30 s a page after the first: 200 pages, 104.5 min), which
		// bounds the recognition and quarantines the file; this bounds
		// the rest.
		asynq.Timeout(2*time.Hour),
		asynq.Retention(24*time.Hour),
	), nil
}

// NewIssueTask makes the issue task for document doc of a recognised scan.
func NewIssueTask(inputKey string, doc int) (*asynq.Task, error) {
	b, err := json.Marshal(IssuePayload{InputKey: inputKey, Doc: doc})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", TypeIssue, err)
	}
	return asynq.NewTask(TypeIssue, b,
		asynq.TaskID(fmt.Sprintf("issue:%s:%d", inputKey, doc)),
		asynq.Queue(QueueIssue),
		asynq.MaxRetry(8),
		asynq.Timeout(5*time.Minute),
		asynq.Retention(24*time.Hour),
	), nil
}

// decodePayload decodes a task payload strictly: unknown fields and a
// malformed input key are errors, not guesses.
func decodePayload(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("decode payload: %w", err)
	}
	var key string
	switch p := v.(type) {
	case *OCRPayload:
		key = p.InputKey
	case *IssuePayload:
		key = p.InputKey
		if p.Doc < 0 || p.Doc > 1000 {
			return fmt.Errorf("decode payload: document index %d out of range", p.Doc)
		}
	}
	if !validInputKey(key) {
		return fmt.Errorf("decode payload: malformed input key %q", key)
	}
	return nil
}

// validInputKey reports whether k is an input key (storage.InputKeyOf).
func validInputKey(k string) bool { return storage.ValidInputKey(k) }
