package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/ocr"
	"sohoa/storage"
)

// Approval is a person's decision on one document that was sent to review.
// It is written create-once: a decision is never changed, only superseded
// by filing a corrected result later.
type Approval struct {
	InputKey string `json:"input_key"`
	Doc      int    `json:"doc"`
	Approved bool   `json:"approved"`
	// Fields are the reviewer's corrections, by field slug; every other
	// extracted value is confirmed as read. holder_personal_id sets the
	// holder ID; procedure_code and valid_until (dd/mm/yyyy, or "none") may
	// also be given.
	Fields map[string]string `json:"fields,omitempty"`
	// Override acknowledges validation failures that remain after the
	// corrections (e.g. an ID printed inconsistently on the original); the
	// codes acknowledged are recorded.
	Override []string  `json:"override,omitempty"`
	Reason   string    `json:"reason,omitempty"` // why rejected, or a note
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// ErrDecided: the document already has a review decision.
var ErrDecided = errors.New("document already decided")

// ErrNotForReview: the document is not waiting for review.
var ErrNotForReview = errors.New("document is not waiting for review")

// Review field keys beyond the layout's slugs.
const (
	FieldHolderID      = "holder_personal_id"
	FieldProcedureCode = "procedure_code"
	FieldValidUntil    = "valid_until"
)

var personalIDRe = regexp.MustCompile(`^\d{12}$`)

// FieldError is one value of a review decision that is refused: Field is
// the field key (a layout slug or one of the Field* keys; "" for the
// decision as a whole), Code says why (FieldUnknown, …) and Detail is an
// English explanation for logs and the CLI. It never holds the value.
type FieldError struct {
	Field  string `json:"field"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	// Checks are the ID validation codes still failing (FieldIDChecks).
	Checks []string `json:"checks,omitempty"`
}

// Codes of a FieldError.
const (
	FieldUnknown          = "field_unknown"            // not a field of the document's type
	FieldRequired         = "field_required"           // a required field is empty
	FieldIDFormat         = "field_id_format"          // not 12 digits
	FieldDateFormat       = "field_date_format"        // not a dd/mm/yyyy date
	FieldIDChecks         = "field_id_checks"          // the holder ID fails validation (Checks)
	FieldValidUntilNeeded = "field_valid_until_needed" // issue date changed on a type with limited validity
)

// ValidationError is every refused value of a review decision, one per
// field: the decision is not recorded. Errors.As it out of Decide's error
// to show each beside its field.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		if f.Field == "" {
			parts[i] = f.Detail
		} else {
			parts[i] = f.Field + ": " + f.Detail
		}
	}
	return "review: " + strings.Join(parts, "; ")
}

// ByField returns the first error of each field key.
func (e *ValidationError) ByField() map[string]FieldError {
	out := make(map[string]FieldError, len(e.Fields))
	for _, f := range e.Fields {
		if _, ok := out[f.Field]; !ok {
			out[f.Field] = f
		}
	}
	return out
}

func (e *ValidationError) add(field, code, detail string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Code: code, Detail: detail})
}

func (e *ValidationError) err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Decide records a reviewer's decision on document doc of an intake. An
// approved result document is then issued with the corrections applied and
// every field marked verified by the reviewer; a rejection only records why.
// Corrections are checked first: a key that is not a field of the
// document's type is refused (approve or reject), and an approval whose
// values fail (a required field empty, a malformed date or ID, an ID that
// contradicts the document) returns a *ValidationError naming each field.
func (p *Pipeline) Decide(ctx context.Context, a Approval) error {
	if strings.TrimSpace(a.By) == "" {
		return errors.New("review: the reviewer (by) is required")
	}
	if !a.Approved && strings.TrimSpace(a.Reason) == "" {
		return errors.New("review: a rejection needs a reason")
	}
	var rec Record
	if err := p.o.Repo.GetSealedJSON(ctx, storage.RecordKey(a.InputKey), &rec); err != nil {
		return fmt.Errorf("review: read record: %w", err)
	}
	if a.Doc < 0 || a.Doc >= len(rec.Decisions) || a.Doc >= len(rec.Result.Documents) {
		return fmt.Errorf("review: document %d of %s: %w", a.Doc, a.InputKey, ErrNotForReview)
	}
	if rec.Decisions[a.Doc].Action != ActionReview {
		// Or sent to review later, by the issue stage.
		later, err := p.o.Repo.Exists(ctx, storage.ReviewDocKey(a.InputKey, a.Doc))
		if err != nil {
			return fmt.Errorf("review: %w", err)
		}
		if !later {
			return fmt.Errorf("review: document %d of %s: %w", a.Doc, a.InputKey, ErrNotForReview)
		}
	}
	l, known := p.o.Layouts.Layout(rec.Result.Documents[a.Doc].DocType)
	ve := checkCorrections(l, known, rec.Result.Documents[a.Doc], a)
	if !a.Approved {
		if err := ve.err(); err != nil {
			return err
		}
	} else {
		if !known || l.Application {
			return fmt.Errorf("review: document %d is a %s, not a result to issue: %w", a.Doc, rec.Result.Documents[a.Doc].DocType, ErrNotForReview)
		}
		d, procedure, err := p.approvedDocument(&rec, a)
		var dve *ValidationError
		switch {
		case errors.As(err, &dve):
			ve.Fields = append(ve.Fields, dve.Fields...)
		case err != nil:
			return err
		case firstNonEmpty(procedure, rec.Intake.ProcedureCode, p.o.Procedures[d.DocType]) == "":
			// The issue stage could not file it.
			ve.add(FieldProcedureCode, FieldRequired, "no procedure code is known for this document: give procedure_code")
		}
		if err := ve.err(); err != nil {
			return err
		}
	}
	a.At = p.o.Now().UTC()
	if err := p.o.Repo.PutSealedJSON(ctx, storage.ApprovalKey(a.InputKey, a.Doc), a); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("review: document %d of %s: %w", a.Doc, a.InputKey, ErrDecided)
		}
		return fmt.Errorf("review: write decision: %w", err)
	}
	if !a.Approved {
		return nil
	}
	t, err := NewIssueTask(a.InputKey, a.Doc)
	if err != nil {
		return err
	}
	if _, err := p.o.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("review: enqueue issue: %w (the decision is recorded; the reconciler re-queues it)", err)
	}
	return nil
}

// Layouts are the layouts documents are checked against.
func (p *Pipeline) Layouts() *ocr.Layouts { return p.o.Layouts }

// ReviewFieldKeys are the keys a reviewer may correct on a document of
// layout l: its fields' slugs and the Field* keys.
func ReviewFieldKeys(l *ocr.Layout) []string {
	keys := []string{FieldHolderID, FieldProcedureCode, FieldValidUntil}
	if l != nil {
		for _, f := range l.Fields {
			keys = append(keys, f.Slug)
		}
	}
	return keys
}

// checkCorrections checks a decision's corrections against the layout
// before anything else: every key must be a field of the document's type
// (an unknown type takes the Field* keys only), and, on approval, a
// corrected date or ID field must be well formed (empty clears an optional
// field) and every required field must have a value, read or entered. These are the checks of a decision being made; approvedDocument
// holds those that a recorded decision must still pass when issued.
func checkCorrections(l *ocr.Layout, known bool, d ocr.Document, a Approval) *ValidationError {
	approving := a.Approved
	ve := &ValidationError{}
	if !known {
		l = nil
	}
	allowed := ReviewFieldKeys(l)
	keys := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			ve.add(k, FieldUnknown, "not a field of this document type")
			continue
		}
		if !approving || l == nil {
			continue
		}
		spec, ok := l.Field(k)
		v := strings.TrimSpace(a.Fields[k])
		switch {
		case !ok:
		case v == "" && spec.Required:
			ve.add(k, FieldRequired, "a required field cannot be emptied")
		case v == "":
		case spec.Kind == ocr.KindDate:
			if _, err := civilDate(v); err != nil {
				ve.add(k, FieldDateFormat, "not a dd/mm/yyyy date")
			}
		case spec.Kind == ocr.KindID && k != l.HolderIDField:
			if !personalIDRe.MatchString(v) {
				ve.add(k, FieldIDFormat, "must be exactly 12 digits")
			}
		}
	}
	if approving && l != nil {
		// Required fields the extraction missed must be entered.
		for _, f := range l.Fields {
			if !f.Required || f.Slug == l.HolderIDField {
				continue
			}
			if _, given := a.Fields[f.Slug]; given || strings.TrimSpace(d.Fields[f.Slug].Value) != "" {
				continue
			}
			ve.add(f.Slug, FieldRequired, "a required field was not read: enter it")
		}
	}
	return ve
}

// approvedDocument applies a reviewer's corrections to the extracted
// document and checks the result: the holder ID must be 12 digits and agree
// with the document's sex and birth date, unless the reviewer overrode
// exactly the codes that still fail; the issue date must be a date. Its
// error is a *ValidationError naming the fields.
func (p *Pipeline) approvedDocument(rec *Record, a Approval) (ocr.Document, string, error) {
	d := rec.Result.Documents[a.Doc]
	fields := make(map[string]ocr.Field, len(d.Fields)+len(a.Fields))
	for k, f := range d.Fields {
		fields[k] = f
	}
	ve := &ValidationError{}
	procedure := ""
	for k, v := range a.Fields {
		v = strings.TrimSpace(v)
		switch k {
		case FieldHolderID:
			d.HolderPersonalID = v
		case FieldProcedureCode:
			procedure = v
		case FieldValidUntil:
			if v == "none" || v == "" {
				d.ValidUntil = nil
			} else {
				if _, err := civilDate(v); err != nil {
					ve.add(FieldValidUntil, FieldDateFormat, "valid_until: not a dd/mm/yyyy date (or none)")
					continue
				}
				d.ValidUntil = &v
			}
		default:
			if f, ok := fields[k]; ok && f.Value == v {
				continue // confirmed as read
			}
			fields[k] = ocr.Field{Value: v, Confidence: 1}
		}
	}
	d.Fields = fields
	l, ok := p.o.Layouts.Layout(d.DocType)
	idKey := FieldHolderID
	if ok && l.HolderIDField != "" {
		idKey = l.HolderIDField
		if v, set := a.Fields[l.HolderIDField]; set {
			d.HolderPersonalID = strings.TrimSpace(v)
		}
	}
	if _, set := a.Fields[FieldHolderID]; set {
		idKey = FieldHolderID
	}
	idOK := personalIDRe.MatchString(d.HolderPersonalID)
	if !idOK {
		ve.add(idKey, FieldIDFormat, "the holder ID must be exactly 12 digits")
	}
	if _, err := civilDate(d.Fields["issue_date"].Value); err != nil {
		ve.add("issue_date", FieldDateFormat, "issue_date: not a dd/mm/yyyy date")
	}
	if ok && l.Validity != nil {
		if _, changed := a.Fields["issue_date"]; changed {
			if _, given := a.Fields[FieldValidUntil]; !given {
				ve.add(FieldValidUntil, FieldValidUntilNeeded, "issue_date changed on a type with limited validity: give valid_until too")
			}
		}
	}
	if ok && idOK {
		facts := ocr.IDFacts{BirthDate: d.Fields[l.BirthDateField].Value, Sex: l.SexImplied}
		if l.SexField != "" && d.Fields[l.SexField].Value != "" {
			facts.Sex = d.Fields[l.SexField].Value
		}
		fails := p.o.Layouts.ValidatePersonalID(d.HolderPersonalID, facts)
		sort.Strings(fails)
		over := append([]string(nil), a.Override...)
		sort.Strings(over)
		if len(fails) > 0 && strings.Join(fails, ",") != strings.Join(over, ",") {
			ve.Fields = append(ve.Fields, FieldError{Field: idKey, Code: FieldIDChecks, Checks: fails,
				Detail: fmt.Sprintf("the holder ID still fails %s; correct it, or override exactly these codes", strings.Join(fails, ", "))})
		}
	}
	if err := ve.err(); err != nil {
		return d, "", err
	}
	d.NeedsReview, d.ReviewReasons = false, nil
	return d, procedure, nil
}

// ReviewEntry is one document waiting for a person.
type ReviewEntry struct {
	InputKey string    `json:"input_key"`
	File     string    `json:"file"`
	Doc      int       `json:"doc"`
	DocType  string    `json:"doc_type"`
	Reasons  []string  `json:"reasons"`
	Since    time.Time `json:"since"`
	Office   string    `json:"office,omitempty"` // the receiving office (Record.Intake.Office)
}

// PendingReviews lists the documents in the review queue that have no
// decision yet, oldest first.
func PendingReviews(ctx context.Context, repo *storage.Repository) ([]ReviewEntry, error) {
	var keys []string
	err := repo.Bucket().List(ctx, storage.ReviewPrefix(), func(oi storage.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list review queue: %w", err)
	}
	var out []ReviewEntry
	for _, k := range keys {
		var item ReviewItem
		if err := repo.GetSealedJSON(ctx, k, &item); err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		var rec Record
		if err := repo.GetSealedJSON(ctx, storage.RecordKey(item.InputKey), &rec); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, err
		}
		for _, d := range item.Documents {
			done, err := repo.Exists(ctx, storage.ApprovalKey(item.InputKey, d.Doc))
			if err != nil {
				return nil, err
			}
			if done {
				continue
			}
			e := ReviewEntry{InputKey: item.InputKey, File: item.File, Doc: d.Doc, Reasons: d.Reasons, Since: item.CreatedAt, Office: rec.Intake.Office}
			if d.Doc >= 0 && d.Doc < len(rec.Result.Documents) {
				e.DocType = rec.Result.Documents[d.Doc].DocType
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}

// DocumentDecision returns the recorded review decision on document doc of
// an intake (nil when none yet) and, once its result is filed, the result
// code.
func DocumentDecision(ctx context.Context, repo *storage.Repository, inputKey string, doc int) (*Approval, string, error) {
	var a Approval
	switch err := repo.GetSealedJSON(ctx, storage.ApprovalKey(inputKey, doc), &a); {
	case errors.Is(err, storage.ErrNotFound):
		return nil, "", nil
	case err != nil:
		return nil, "", fmt.Errorf("read decision: %w", err)
	}
	if !a.Approved {
		return &a, "", nil
	}
	ms, err := repo.ByInputKey(ctx, inputKey)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return &a, "", fmt.Errorf("results of %s: %w", inputKey, err)
	}
	for _, m := range ms {
		// The code was reserved for its document (storage.CodeOwner).
		var owner storage.CodeOwner
		if err := repo.GetJSON(ctx, storage.CodeKey(m.ResultCode), &owner); err != nil {
			return &a, "", fmt.Errorf("owner of %s: %w", m.ResultCode, err)
		}
		if owner.InputKey == inputKey && owner.Doc == doc {
			return &a, m.ResultCode, nil
		}
	}
	return &a, "", nil
}
