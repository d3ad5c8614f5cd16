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
	var keys []string
	if err := r.b.List(ctx, EventsPrefix(id), func(o ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return nil, 0, err
	}
	next := 1
	evs := make([]StatusEvent, 0, len(keys))
	for _, k := range keys {
		var seq int
		if _, err := fmt.Sscanf(strings.TrimPrefix(k, EventsPrefix(id)), "%06d-", &seq); err != nil {
			return nil, 0, fmt.Errorf("event key %s: %w", k, ErrCorrupt)
		}
		next = max(next, seq+1)
		var e StatusEvent
		if err := r.getJSON(ctx, k, &e, maxEventBytes); err != nil {
			return nil, 0, err
		}
		evs = append(evs, e)
	}
	return evs, next, nil
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

// AppendStatus appends a status event to a result. A zero At is now.
// Suspension and revocation need a DecisionRef; revoked and superseded are
// final; re-appending the same decision is a no-op, so retries are safe.
func (r *Repository) AppendStatus(ctx context.Context, resultCode string, e StatusEvent) error {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = r.now()
	}
	e.At = e.At.In(Vietnam()).Truncate(time.Millisecond)
	if err := e.check(); err != nil {
		return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
	}
	for range maxAppendAttempts {
		evs, next, err := r.events(ctx, m.ID)
		if err != nil {
			return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
		}
		cur := StatusActive
		for _, old := range evs {
			if old.sameChange(e) && e.ReasonCode != ReasonCodeIssued {
				return nil
			}
		}
		if len(evs) > 0 {
			cur = latest(evs).Status
		}
		if !transitionAllowed(cur, e) {
			return fmt.Errorf("append status to %s: %s → %s is not allowed: %w", m.ResultCode, cur, e.Status, ErrInvalid)
		}
		err = r.PutJSON(ctx, EventKey(m.ID, next, e.Status), e)
		if err == nil {
			r.log.InfoContext(ctx, "result status changed", "result_code", m.ResultCode, "status", e.Status,
				"decision_ref", e.DecisionRef, "seq", next)
			return nil
		}
		if !errors.Is(err, ErrExists) {
			return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
		}
		// Another writer took this sequence number: re-read and re-judge.
	}
	return fmt.Errorf("append status to %s: too many concurrent appends: %w", m.ResultCode, ErrExists)
}

// latest is the event in force last: greatest At, ties to the later append.
func latest(evs []StatusEvent) StatusEvent {
	l := evs[0]
	for _, e := range evs[1:] {
		if !e.At.Before(l.At) {
			l = e
		}
	}
	return l
}

// Supersede marks oldCode superseded by newCode and records the link on the
// new result too. Both results must exist. Safe to retry.
func (r *Repository) Supersede(ctx context.Context, oldCode, newCode, actor string) error {
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
	at := r.now()
	if err := r.AppendStatus(ctx, oldM.ResultCode, StatusEvent{At: at, Status: StatusSuperseded,
		ReasonCode: ReasonSuperseded, Actor: actor, SupersededBy: newM.ResultCode}); err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	if err := r.AppendStatus(ctx, newM.ResultCode, StatusEvent{At: at, Status: StatusActive,
		ReasonCode: "SUPERSEDES", Actor: actor, Supersedes: oldM.ResultCode}); err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	return nil
}
