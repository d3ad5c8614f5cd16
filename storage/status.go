// This file owns a result's status events: appending and listing them,
// supersession, and the result's validity at a time.

package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Events returns a result's status events in append order.
func (r *Repository) Events(ctx context.Context, resultCode string) ([]StatusEvent, error) {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return nil, err
	}
	evs, _, err := r.events(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", m.ResultCode, err)
	}
	return evs, nil
}

// events lists a result's events and the next free sequence number (≥1:
// 0 is the issued event File writes).
func (r *Repository) events(ctx context.Context, id string) ([]StatusEvent, int, error) {
	evs, _, next, err := r.eventsSeq(ctx, id)
	return evs, next, err
}

// eventsSeq is events with each event's sequence number.
func (r *Repository) eventsSeq(ctx context.Context, id string) ([]StatusEvent, []int, int, error) {
	var keys []string
	if err := r.b.List(ctx, EventsPrefix(id), func(o ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return nil, nil, 0, err
	}
	next := 1
	evs := make([]StatusEvent, 0, len(keys))
	seqs := make([]int, 0, len(keys))
	for _, k := range keys {
		var seq int
		if _, err := fmt.Sscanf(strings.TrimPrefix(k, EventsPrefix(id)), "%06d-", &seq); err != nil {
			return nil, nil, 0, fmt.Errorf("event key %s: %w", k, ErrCorrupt)
		}
		next = max(next, seq+1)
		var e StatusEvent
		if err := r.getJSON(ctx, k, &e, maxEventBytes); err != nil {
			return nil, nil, 0, err
		}
		evs = append(evs, e)
		seqs = append(seqs, seq)
	}
	return evs, seqs, next, nil
}

// Validity evaluates a result's validity at t (ValidAt over its manifest and
// events).
func (r *Repository) Validity(ctx context.Context, resultCode string, at time.Time) (Validity, error) {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return Validity{}, err
	}
	evs, _, err := r.events(ctx, m.ID)
	if err != nil {
		return Validity{}, fmt.Errorf("validity of %s: %w", m.ResultCode, err)
	}
	return ValidAt(m, evs, at), nil
}

// MaxStatusLead is how far ahead of now a status change may be dated: a
// decision may take effect later than it is recorded (a revocation from the
// first of next month), but not more than a year later (9999-12-31 is a
// typing mistake that would leave the result valid for ever).
const MaxStatusLead = 366 * 24 * time.Hour

// AppendStatus appends a status event to a result. A zero At is now.
// Suspension and revocation need a DecisionRef. The event must take effect
// on or after the day the result was issued and the moment it was filed,
// and at most MaxStatusLead ahead (else ErrInvalid); it must be a transition
// the rules allow from the status in force just before it, and to the one
// recorded after it (revoked and superseded are final: else ErrConflict).
// A change already recorded (the same status, decision and reason) is
// ErrExists: a second revocation is refused even under the same decision,
// and a caller retrying an append it is unsure of treats ErrExists as done.
func (r *Repository) AppendStatus(ctx context.Context, resultCode string, e StatusEvent) error {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return err
	}
	now := r.now()
	if e.At.IsZero() {
		e.At = now
	}
	e.At = e.At.In(Vietnam()).Truncate(time.Millisecond)
	if err := e.check(); err != nil {
		return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
	}
	switch {
	case e.At.After(now.Add(MaxStatusLead)):
		return fmt.Errorf("append status to %s: takes effect %s, more than a year from now: %w",
			m.ResultCode, e.At.Format(time.RFC3339), ErrInvalid)
	case e.At.Before(m.IssuedAt.Start()):
		return fmt.Errorf("append status to %s: takes effect %s, before the result was issued on %s: %w",
			m.ResultCode, e.At.Format(time.RFC3339), m.IssuedAt, ErrInvalid)
	}
	for range maxAppendAttempts {
		evs, seqs, next, err := r.eventsSeq(ctx, m.ID)
		if err != nil {
			return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
		}
		for i, old := range evs {
			if old.sameChange(e) && e.ReasonCode != ReasonCodeIssued {
				// A retry: the first call may have stopped before the
				// outbox event.
				if err := r.putOutbox(ctx, m, seqs[i], old); err != nil {
					return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
				}
				return fmt.Errorf("append status to %s: %s under %q is already recorded: %w", m.ResultCode, e.Status, e.DecisionRef, ErrExists)
			}
			if old.ReasonCode == ReasonCodeIssued && e.At.Before(old.At) {
				// The issuing event would then follow it and read as active.
				return fmt.Errorf("append status to %s: takes effect %s, before the result was filed at %s: %w",
					m.ResultCode, e.At.Format(time.RFC3339), old.At.Format(time.RFC3339), ErrInvalid)
			}
		}
		if err := allowedAmong(evs, e); err != nil {
			return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
		}
		err = r.PutJSON(ctx, EventKey(m.ID, next, e.Status), e)
		if err == nil {
			r.log.InfoContext(ctx, "result status changed", "result_code", m.ResultCode, "status", e.Status,
				"decision_ref", e.DecisionRef, "seq", next)
			if err := r.putOutbox(ctx, m, next, e); err != nil {
				return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
			}
			return nil
		}
		if !errors.Is(err, ErrExists) {
			return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
		}
		// Another writer took this sequence number: re-read and re-judge.
	}
	return fmt.Errorf("append status to %s: too many concurrent appends: %w", m.ResultCode, ErrExists)
}

// allowedAmong judges e against the history evs (in append order), in the
// order of taking effect that ValidAt reads (ties keep append order, so e
// comes after the events of its instant): the status in force just before
// e must allow it, and e must allow the next change recorded after it, if
// any. Issuing events change no status.
func allowedAmong(evs []StatusEvent, e StatusEvent) error {
	before, after := StatusActive, (*StatusEvent)(nil)
	var last time.Time
	for i := range evs {
		x := &evs[i]
		if x.ReasonCode == ReasonCodeIssued {
			continue
		}
		switch {
		case !x.At.After(e.At) && !x.At.Before(last):
			before, last = x.Status, x.At
		case x.At.After(e.At) && (after == nil || x.At.Before(after.At)):
			after = x
		}
	}
	if !transitionAllowed(before, e) {
		return fmt.Errorf("%s → %s is not allowed: %w", before, e.Status, ErrConflict)
	}
	if after != nil && !transitionAllowed(e.Status, *after) {
		return fmt.Errorf("%s from %s is already recorded, and %s → %s is not allowed: %w",
			after.Status, after.At.Format(time.RFC3339), e.Status, after.Status, ErrConflict)
	}
	return nil
}

// Supersede marks oldCode superseded by newCode and records the link on the
// new result too. Both results must exist. Safe to retry.
func (r *Repository) Supersede(ctx context.Context, oldCode, newCode, actor string) error {
	return r.SupersedeUnder(ctx, oldCode, newCode, actor, "")
}

// SupersedeUnder is Supersede recording the decision (số quyết định) that
// replaced the result on both events. Safe to retry with the same
// decision.
func (r *Repository) SupersedeUnder(ctx context.Context, oldCode, newCode, actor, decisionRef string) error {
	oldM, err := r.Get(ctx, oldCode)
	if err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	newM, err := r.Get(ctx, newCode)
	if err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	if oldM.ID == newM.ID {
		return fmt.Errorf("supersede %s: a result cannot supersede itself: %w", oldM.ResultCode, ErrInvalid)
	}
	// Each half already recorded (a retry) counts as done.
	at := r.now()
	if err := r.AppendStatus(ctx, oldM.ResultCode, StatusEvent{At: at, Status: StatusSuperseded,
		ReasonCode: ReasonSuperseded, DecisionRef: decisionRef, Actor: actor, SupersededBy: newM.ResultCode}); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("supersede: %w", err)
	}
	if err := r.AppendStatus(ctx, newM.ResultCode, StatusEvent{At: at, Status: StatusActive,
		ReasonCode: "SUPERSEDES", DecisionRef: decisionRef, Actor: actor, Supersedes: oldM.ResultCode}); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("supersede: %w", err)
	}
	return nil
}
