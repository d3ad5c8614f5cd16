// This file owns the one state machine of an input, derived from what the
// repository holds and never from Redis: where the input is and what it
// still needs. The reconciler re-dispatches what it says is missing; the
// status API reports it.

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"sohoa/storage"
)

// Input states (InputStatus.State).
const (
	StateProcessing   = "processing"    // OCR or issuing still to do
	StateIssued       = "issued"        // every result filed (final)
	StatePartlyIssued = "partly_issued" // some filed, others wait for a person
	StateReview       = "review"        // waiting for a person
	StateRejected     = "rejected"      // a person decided nothing is issued (final)
	StateKept         = "kept"          // digitised, nothing to issue (final)
	StateQuarantined  = "quarantined"   // failed permanently (final)
	// StateIncomplete: the scan is stored but its metadata is not and
	// cannot be restored (an upload interrupted before open markers
	// existed). Nothing is dispatched: sending the file again completes
	// it.
	StateIncomplete = "incomplete"
)

// Need is one piece of work an input still needs: its OCR task, or the
// issue task of one document.
type Need struct {
	OCR bool
	Doc int // the document to issue, when !OCR
}

// Task names the asynq task of a need ("ocr" or "issue:N"), for logs and
// reports.
func (n Need) Task() string {
	if n.OCR {
		return "ocr"
	}
	return fmt.Sprintf("issue:%d", n.Doc)
}

// InputState is where one input is, from the repository alone.
type InputState struct {
	InputKey string
	Intake   storage.IntakeInfo
	State    string
	// Final: nothing more will ever happen to the input by itself (issued,
	// rejected, kept, quarantined).
	Final bool
	// Needs is the work to dispatch now; empty for a final input and for
	// one that only waits for a person.
	Needs []Need

	Record     *RecordHead
	Results    []storage.Manifest
	Quarantine *QuarantineItem
	// Pending are the documents waiting for a person (no decision yet).
	Pending []Decision
	// Approved and Rejected are the documents a person decided.
	Approved, Rejected []int
	// ToIssue are the documents that should have a result by now:
	// auto-accepted ones not sent to review later, and approved ones.
	ToIssue []int
}

// StateOf derives the state of input key from the repository: intake and
// metadata (never the scan's bytes), record, results by input key, review
// items, decisions and quarantine. ErrNotFound when nothing of the intake
// is stored.
//
// The rules: a quarantine record is final whatever else exists (results
// filed before a later document failed stay listed). Without a record the
// input needs OCR, unless its metadata is lost (incomplete). With a record,
// each document is issued (auto-accepted, or approved by a person), kept,
// waiting for a person, or rejected; while fewer results are filed than
// documents to issue, every document to issue whose result code is not
// among the filed ones needs its issue task (issuing is idempotent: a
// document already filed under another code only finds its result again).
func StateOf(ctx context.Context, repo *storage.Repository, key string) (InputState, error) {
	st := InputState{InputKey: key, State: StateProcessing}
	info, err := repo.IntakeInfo(ctx, key)
	if err != nil {
		return st, err
	}
	st.Intake = info
	var q QuarantineItem
	switch err := repo.GetSealedJSON(ctx, storage.QuarantineKey(key), &q); {
	case err == nil:
		st.Quarantine = &q
	case !errors.Is(err, storage.ErrNotFound):
		return st, err
	}
	ms, err := repo.ByInputKey(ctx, key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return st, err
	}
	st.Results = ms
	if st.Quarantine != nil {
		st.State, st.Final = StateQuarantined, true
		return st, nil
	}
	var rec RecordHead
	switch err := repo.GetSealedJSON(ctx, storage.RecordKey(key), &rec); {
	case errors.Is(err, storage.ErrNotFound):
		if !info.HasMeta && info.OpenKey == "" {
			st.State = StateIncomplete
			return st, nil
		}
		st.Needs = []Need{{OCR: true}}
		return st, nil
	case err != nil:
		return st, err
	}
	st.Record = &rec
	items, err := reviewItems(ctx, repo, key)
	if err != nil {
		return st, err
	}
	pending, approved, rejected := map[int]bool{}, map[int]bool{}, map[int]bool{}
	// decided files document d of a review as pending, approved or
	// rejected by its approval; false when it was seen already.
	decided := func(d Decision) (waiting bool, err error) {
		if pending[d.Doc] || approved[d.Doc] || rejected[d.Doc] {
			return false, nil
		}
		var a Approval
		switch err := repo.GetSealedJSON(ctx, storage.ApprovalKey(key, d.Doc), &a); {
		case errors.Is(err, storage.ErrNotFound):
			pending[d.Doc] = true
			st.Pending = append(st.Pending, d)
			return true, nil
		case err != nil:
			return false, err
		case a.Approved:
			approved[d.Doc] = true
			st.Approved = append(st.Approved, d.Doc)
		default:
			rejected[d.Doc] = true
			st.Rejected = append(st.Rejected, d.Doc)
		}
		return false, nil
	}
	for _, d := range items {
		if _, err := decided(d); err != nil {
			return st, err
		}
	}
	// A document the record sends to review waits for a person even when
	// its review item is not written yet (the OCR stage writes the record
	// first, then the item): never final meanwhile, and if the item is
	// missing for good (the worker died between the two writes), the OCR
	// task re-dispatches it.
	for _, d := range rec.Decisions {
		if d.Action != ActionReview {
			continue
		}
		waiting, err := decided(d)
		if err != nil {
			return st, err
		}
		if waiting && !slices.Contains(st.Needs, Need{OCR: true}) {
			st.Needs = append(st.Needs, Need{OCR: true})
		}
	}
	toIssue := map[int]bool{}
	for d := range approved {
		toIssue[d] = true
	}
	for _, d := range rec.Decisions {
		if d.Action == ActionIssue && !pending[d.Doc] && !rejected[d.Doc] {
			toIssue[d.Doc] = true
		}
	}
	for d := range toIssue {
		st.ToIssue = append(st.ToIssue, d)
	}
	sort.Ints(st.ToIssue)
	sort.Ints(st.Approved)
	sort.Ints(st.Rejected)
	if missing := len(st.ToIssue) - len(st.Results); missing > 0 {
		filed := map[string]bool{}
		for _, m := range st.Results {
			filed[m.ResultCode] = true
		}
		for _, d := range st.ToIssue {
			if code := decisionCode(&rec, d); code == "" || !filed[code] {
				st.Needs = append(st.Needs, Need{Doc: d})
			}
		}
		if len(st.Needs) == 0 {
			// Every proposed code is filed but fewer results than
			// documents: codes moved within a batch. Issue them all; the
			// filed ones only find themselves.
			for _, d := range st.ToIssue {
				st.Needs = append(st.Needs, Need{Doc: d})
			}
		}
		return st, nil
	}
	issued, waiting := len(st.Results) > 0, len(st.Pending) > 0
	switch {
	case waiting && issued:
		st.State = StatePartlyIssued
	case waiting:
		st.State = StateReview
	case len(st.ToIssue) > 0:
		st.State, st.Final = StateIssued, true
	case len(st.Rejected) > 0:
		st.State, st.Final = StateRejected, true
	default:
		st.State, st.Final = StateKept, true
	}
	return st, nil
}

// decisionCode is the result code the OCR stage proposed for document doc.
func decisionCode(rec *RecordHead, doc int) string {
	i := slices.IndexFunc(rec.Decisions, func(d Decision) bool { return d.Doc == doc })
	if i < 0 {
		return ""
	}
	return rec.Decisions[i].ResultCode
}

// RecordHead is the part of a Record the state machine reads: the
// decision on each document and the stored page images. Decoding only it
// skips the recognised words and boxes, most of a record's bytes: every
// status read and reconciler pass decodes the record.
type RecordHead struct {
	Decisions []Decision `json:"decisions"`
	Images    []ImageRef `json:"images"`
}

// Status is the InputStatus of a state, as GET /v1/inputs/{key} answers.
func (st InputState) Status() InputStatus {
	out := InputStatus{
		InputKey: st.InputKey, File: st.Intake.Meta.Name, DossierCode: st.Intake.Meta.DossierCode,
		State: st.State, Review: st.Pending, Quarantine: st.Quarantine,
	}
	if out.State == StateIncomplete {
		out.State = StateProcessing // the API's states; a re-upload completes it
	}
	for _, m := range st.Results {
		out.Results = append(out.Results, m.ResultCode)
	}
	if st.Record != nil {
		out.Pages = len(st.Record.Images)
	}
	return out
}
