package storage

import (
	"fmt"
	"sort"
	"time"
)

// Result statuses (domain.md §4(c)). "expired" is derived, never stored.
const (
	StatusActive     = "active"
	StatusSuspended  = "suspended"
	StatusRevoked    = "revoked"
	StatusSuperseded = "superseded"
)

// Validity reasons.
const (
	ReasonExpired          = "EXPIRED"
	ReasonRevoked          = "REVOKED"
	ReasonSuperseded       = "SUPERSEDED"
	ReasonSuspended        = "SUSPENDED"
	ReasonNotYetEffective  = "NOT_YET_EFFECTIVE"
	ReasonSignatureInvalid = "SIGNATURE_INVALID"
)

// ReasonCodeIssued marks the initial event File writes.
const ReasonCodeIssued = "ISSUED"

// StatusEvent is one append-only status change of a result. At is when the
// change takes effect; the status at time t is that of the last event with
// At ≤ t.
type StatusEvent struct {
	At           time.Time `json:"at"`
	Status       string    `json:"status"`
	ReasonCode   string    `json:"reason_code,omitempty"`
	DecisionRef  string    `json:"decision_ref,omitempty"` // số quyết định
	Actor        string    `json:"actor,omitempty"`
	SupersededBy string    `json:"superseded_by,omitempty"` // result code
	Supersedes   string    `json:"supersedes,omitempty"`    // result code
}

func (e StatusEvent) check() error {
	switch e.Status {
	case StatusActive, StatusSuspended, StatusRevoked:
		// Reinstating needs a decision too; only the link recorded on a
		// superseding result has the new result as its reference.
		if e.DecisionRef == "" && (e.Status != StatusActive || e.Supersedes == "") {
			return fmt.Errorf("status %s needs a decision_ref: %w", e.Status, ErrInvalid)
		}
	case StatusSuperseded:
		if e.SupersededBy == "" {
			return fmt.Errorf("status superseded needs superseded_by: %w", ErrInvalid)
		}
	default:
		return fmt.Errorf("status %q: want active, suspended, revoked or superseded: %w", e.Status, ErrInvalid)
	}
	if e.At.IsZero() {
		return fmt.Errorf("status event without a time: %w", ErrInvalid)
	}
	return nil
}

// sameChange reports whether two events record the same decision, so a
// retried append is recognised.
func (e StatusEvent) sameChange(o StatusEvent) bool {
	return e.Status == o.Status && e.DecisionRef == o.DecisionRef && e.ReasonCode == o.ReasonCode &&
		e.SupersededBy == o.SupersededBy && e.Supersedes == o.Supersedes
}

// Validity is the answer to "is this result valid at t".
type Validity struct {
	Valid        bool      `json:"valid"`
	Reason       string    `json:"reason,omitempty"` // one of the Reason* constants, "" when valid
	EvaluatedAt  time.Time `json:"evaluated_at"`
	Status       string    `json:"status"` // status at EvaluatedAt
	SupersededBy string    `json:"superseded_by,omitempty"`
}

// ValidAt evaluates domain.md §4(c) at t: the result is valid iff its status
// at t is active, t is on or after effective_from (00:00 in Vietnam), t is
// not after valid_until (inclusive to the end of that day in Vietnam), and
// no event at or before t invalidated the signature. Events may be in any
// order; ties in At keep their given (storage) order. A result with no
// event at or before t is active: its issuing event records when it was
// filed, which for a backfilled paper result is long after it took effect.
func ValidAt(m Manifest, events []StatusEvent, t time.Time) Validity {
	v := Validity{EvaluatedAt: t, Status: StatusActive}
	evs := make([]StatusEvent, len(events))
	copy(evs, events)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At.Before(evs[j].At) })
	var last *StatusEvent
	for i := range evs {
		if evs[i].At.After(t) {
			break
		}
		last = &evs[i]
	}
	if last != nil {
		v.Status = last.Status
		v.SupersededBy = last.SupersededBy
	}
	switch {
	case last != nil && last.ReasonCode == ReasonSignatureInvalid && last.Status != StatusActive:
		v.Reason = ReasonSignatureInvalid
	case v.Status == StatusRevoked:
		v.Reason = ReasonRevoked
	case v.Status == StatusSuperseded:
		v.Reason = ReasonSuperseded
	case v.Status == StatusSuspended:
		v.Reason = ReasonSuspended
	case v.Status != StatusActive:
		v.Reason = ReasonRevoked // an unknown stored status never reads as valid
	case t.Before(m.Effective().Start()):
		v.Reason = ReasonNotYetEffective
	case m.ValidUntil != nil && !t.Before(m.ValidUntil.Start().AddDate(0, 0, 1)):
		v.Reason = ReasonExpired
	default:
		v.Valid = true
	}
	return v
}

// transitionAllowed reports whether event e may follow status from.
// Revoked and superseded are final; a suspension can be lifted; an active
// result may record that it supersedes another while staying active.
func transitionAllowed(from string, e StatusEvent) bool {
	switch from {
	case StatusActive:
		return e.Status != StatusActive || e.Supersedes != ""
	case StatusSuspended:
		return e.Supersedes == ""
	default:
		return false
	}
}
