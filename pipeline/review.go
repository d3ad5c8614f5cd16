package pipeline

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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

// Decide records a reviewer's decision on document doc of an intake. An
// approved result document is then issued with the corrections applied and
// every field marked verified by the reviewer; a rejection only records why.
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
	if a.Approved {
		d, _, err := p.approvedDocument(&rec, a)
		if err != nil {
			return err
		}
		if l, ok := p.o.Layouts.Layout(d.DocType); !ok || l.Application {
			return fmt.Errorf("review: document %d is a %s, not a result to issue: %w", a.Doc, d.DocType, ErrNotForReview)
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

// approvedDocument applies a reviewer's corrections to the extracted
// document and checks the result: the holder ID must be 12 digits and agree
// with the document's sex and birth date, unless the reviewer overrode
// exactly the codes that still fail.
func (p *Pipeline) approvedDocument(rec *Record, a Approval) (ocr.Document, string, error) {
	d := rec.Result.Documents[a.Doc]
	fields := make(map[string]ocr.Field, len(d.Fields)+len(a.Fields))
	for k, f := range d.Fields {
		fields[k] = f
	}
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
					return d, "", fmt.Errorf("review: valid_until: %w", err)
				}
				d.ValidUntil = &v
			}
		default:
			fields[k] = ocr.Field{Value: v, Confidence: 1}
		}
	}
	d.Fields = fields
	l, ok := p.o.Layouts.Layout(d.DocType)
	if ok && l.HolderIDField != "" {
		if v, set := a.Fields[l.HolderIDField]; set {
			d.HolderPersonalID = strings.TrimSpace(v)
		}
	}
	if !personalIDRe.MatchString(d.HolderPersonalID) {
		return d, "", errors.New("review: the holder ID must be exactly 12 digits")
	}
	if _, err := civilDate(d.Fields["issue_date"].Value); err != nil {
		return d, "", fmt.Errorf("review: issue_date: %w", err)
	}
	if ok && l.Validity != nil {
		if _, changed := a.Fields["issue_date"]; changed {
			if _, given := a.Fields[FieldValidUntil]; !given {
				return d, "", errors.New("review: issue_date changed on a type with limited validity: give valid_until too")
			}
		}
	}
	if ok {
		facts := ocr.IDFacts{BirthDate: d.Fields[l.BirthDateField].Value, Sex: l.SexImplied}
		if l.SexField != "" && d.Fields[l.SexField].Value != "" {
			facts.Sex = d.Fields[l.SexField].Value
		}
		fails := p.o.Layouts.ValidatePersonalID(d.HolderPersonalID, facts)
		sort.Strings(fails)
		over := append([]string(nil), a.Override...)
		sort.Strings(over)
		if len(fails) > 0 && strings.Join(fails, ",") != strings.Join(over, ",") {
			return d, "", fmt.Errorf("review: the holder ID still fails %s; correct it, or override exactly these codes", strings.Join(fails, ", "))
		}
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
			e := ReviewEntry{InputKey: item.InputKey, File: item.File, Doc: d.Doc, Reasons: d.Reasons, Since: item.CreatedAt}
			if d.Doc >= 0 && d.Doc < len(rec.Result.Documents) {
				e.DocType = rec.Result.Documents[d.Doc].DocType
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Since.Before(out[j].Since) })
	return out, nil
}
