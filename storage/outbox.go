// This file owns the Kho outbox: one create-once event per status event of
// a result (issued, suspended, reinstated, revoked, superseded, supersedes),
// written beside the status event itself, and the create-once delivery
// records the sync task (package kho) adds: failed tries, delivered, dead.
// Nothing is ever overwritten or deleted, so the outbox is its own
// delivery log.

package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Outbox event kinds: what happened to the result.
const (
	KindIssued     = "issued"
	KindSuspended  = "suspended"
	KindReinstated = "reinstated"
	KindRevoked    = "revoked"
	KindSuperseded = "superseded"
	// KindSupersedes: the result (still active) replaced an earlier one.
	KindSupersedes = "supersedes"
)

// Delivery states of an outbox event, and of a result's events together.
const (
	SyncPending   = "pending"
	SyncDelivered = "delivered"
	SyncDead      = "dead"
)

// Reasons an event is dead.
const (
	// DeadAfterAge: delivery kept failing for the dead-letter age.
	DeadAfterAge = "failing_too_long"
	// DeadBlocked: an earlier event of the same result is dead, and events
	// of a result are delivered in order only.
	DeadBlocked = "earlier_event_dead"
)

const (
	maxOutboxBytes = 16 << 10
	// MaxOutboxTries is the last try number recorded (OutboxTryKey takes
	// 1-9999); later failures are still retried, not recorded.
	MaxOutboxTries = 9999
)

// OutboxEvent announces one status event of a result to the citizen's data
// store (Kho). It names the result only by ID and code; the holder is read
// from the sealed manifest when the event is delivered.
type OutboxEvent struct {
	ResultID   string    `json:"result_id"`
	ResultCode string    `json:"result_code"`
	Seq        int       `json:"seq"` // the status event's seq (0: issued)
	Kind       string    `json:"kind"`
	Status     string    `json:"status"` // the status the event records
	At         time.Time `json:"at"`     // when the change takes effect
	// DecisionRef, Supersedes and SupersededBy repeat the status event's.
	DecisionRef  string    `json:"decision_ref,omitempty"`
	Supersedes   string    `json:"supersedes,omitempty"`
	SupersededBy string    `json:"superseded_by,omitempty"`
	RecordedAt   time.Time `json:"recorded_at"`
}

// KhoAttempt is one failed delivery try.
type KhoAttempt struct {
	At time.Time `json:"at"`
	// HTTPStatus is the Kho's answer, 0 when there was none (refused,
	// timed out).
	HTTPStatus int `json:"http_status,omitempty"`
	// Error says what failed, without personal data.
	Error string `json:"error,omitempty"`
}

// KhoDelivery records the Kho's acknowledgement of an event.
type KhoDelivery struct {
	At         time.Time `json:"at"`
	HTTPStatus int       `json:"http_status"`
	PortalRef  string    `json:"portal_ref,omitempty"` // the Kho's reference, if it gave one
	Tries      int       `json:"tries"`                // failed tries before this one
}

// KhoDead records that an event was given up.
type KhoDead struct {
	At             time.Time `json:"at"`
	Reason         string    `json:"reason"` // DeadAfterAge or DeadBlocked
	BlockedBy      *int      `json:"blocked_by,omitempty"`
	Tries          int       `json:"tries"`
	FirstAttemptAt time.Time `json:"first_attempt_at,omitzero"`
}

// OutboxEntry is an outbox event with its delivery records.
type OutboxEntry struct {
	OutboxEvent
	Tries     int
	FirstTry  *KhoAttempt // nil before the first failure
	LastTry   *KhoAttempt
	Delivered *KhoDelivery
	Dead      *KhoDead
}

// State is the entry's delivery state. A delivery wins over a dead record
// a concurrent run may have written.
func (e OutboxEntry) State() string {
	switch {
	case e.Delivered != nil:
		return SyncDelivered
	case e.Dead != nil:
		return SyncDead
	}
	return SyncPending
}

// KindOf is the outbox kind of a status event.
func KindOf(e StatusEvent) string {
	switch {
	case e.ReasonCode == ReasonCodeIssued:
		return KindIssued
	case e.Status == StatusActive && e.Supersedes != "":
		return KindSupersedes
	case e.Status == StatusActive:
		return KindReinstated
	case e.Status == StatusSuspended:
		return KindSuspended
	case e.Status == StatusRevoked:
		return KindRevoked
	case e.Status == StatusSuperseded:
		return KindSuperseded
	}
	return e.Status
}

// WithOutboxNotify returns a copy of r that calls fn after it stores an
// outbox event (the sync task's enqueue: a hint for prompt delivery; the
// periodic sweep finds every pending event anyway, so fn may fail).
func (r *Repository) WithOutboxNotify(fn func(ctx context.Context, resultID string)) *Repository {
	c := *r
	c.notify = fn
	return &c
}

// putOutbox writes the outbox event of status event seq of m, create-once:
// a retried write is done.
func (r *Repository) putOutbox(ctx context.Context, m Manifest, seq int, e StatusEvent) error {
	ev := OutboxEvent{ResultID: m.ID, ResultCode: m.ResultCode, Seq: seq, Kind: KindOf(e), Status: e.Status, At: e.At,
		DecisionRef: e.DecisionRef, Supersedes: e.Supersedes, SupersededBy: e.SupersededBy,
		RecordedAt: r.now().In(Vietnam()).Truncate(time.Millisecond)}
	err := r.PutJSON(ctx, OutboxKey(m.ID, seq), ev)
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("outbox event %d of %s: %w", seq, m.ResultCode, err)
	}
	if r.notify != nil {
		r.notify(ctx, m.ID)
	}
	return nil
}

// outboxKey is a parsed key under OutboxResultPrefix.
type outboxKey struct {
	seq  int
	kind string // "event", "try", "delivered", "dead"
	try  int
}

// parseOutboxKey reads the part of a key after its result's folder.
func parseOutboxKey(rest string) (outboxKey, bool) {
	if len(rest) < 6 {
		return outboxKey{}, false
	}
	seq, err := strconv.Atoi(rest[:6])
	if err != nil || seq < 0 {
		return outboxKey{}, false
	}
	switch tail := rest[6:]; {
	case tail == jsonSuffix:
		return outboxKey{seq: seq, kind: "event"}, true
	case tail == ".delivered"+jsonSuffix:
		return outboxKey{seq: seq, kind: "delivered"}, true
	case tail == ".dead"+jsonSuffix:
		return outboxKey{seq: seq, kind: "dead"}, true
	case strings.HasPrefix(tail, ".try-") && strings.HasSuffix(tail, jsonSuffix):
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(tail, ".try-"), jsonSuffix))
		if err != nil || n < 1 {
			return outboxKey{}, false
		}
		return outboxKey{seq: seq, kind: "try", try: n}, true
	}
	return outboxKey{}, false
}

// Outbox returns a result's outbox events, by seq, with their delivery
// records. A result filed before the outbox existed has none until
// RepairOutbox writes them.
func (r *Repository) Outbox(ctx context.Context, resultID string) ([]OutboxEntry, error) {
	if !validResultID(resultID) {
		return nil, fmt.Errorf("outbox: malformed result id: %w", ErrInvalid)
	}
	prefix := OutboxResultPrefix(resultID)
	type found struct {
		event, delivered, dead bool
		tries                  []int
	}
	bySeq := map[int]*found{}
	if err := r.b.List(ctx, prefix, func(o ObjectInfo) error {
		k, ok := parseOutboxKey(strings.TrimPrefix(o.Key, prefix))
		if !ok {
			return fmt.Errorf("outbox key %s: %w", redactKey(o.Key, prefixOutbox), ErrCorrupt)
		}
		f := bySeq[k.seq]
		if f == nil {
			f = &found{}
			bySeq[k.seq] = f
		}
		switch k.kind {
		case "event":
			f.event = true
		case "delivered":
			f.delivered = true
		case "dead":
			f.dead = true
		case "try":
			f.tries = append(f.tries, k.try)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("outbox of %s: %w", resultID, err)
	}
	seqs := make([]int, 0, len(bySeq))
	for s, f := range bySeq {
		if f.event {
			seqs = append(seqs, s)
		}
	}
	slices.Sort(seqs)
	out := make([]OutboxEntry, 0, len(seqs))
	for _, s := range seqs {
		f := bySeq[s]
		var e OutboxEntry
		if err := r.getJSON(ctx, OutboxKey(resultID, s), &e.OutboxEvent, maxOutboxBytes); err != nil {
			return nil, err
		}
		if e.ResultID != resultID || e.Seq != s {
			return nil, fmt.Errorf("outbox event %d of %s: does not match its key: %w", s, resultID, ErrCorrupt)
		}
		if len(f.tries) > 0 {
			slices.Sort(f.tries)
			e.Tries = f.tries[len(f.tries)-1]
			first, last := &KhoAttempt{}, &KhoAttempt{}
			if err := r.getJSON(ctx, OutboxTryKey(resultID, s, f.tries[0]), first, maxOutboxBytes); err != nil {
				return nil, err
			}
			if err := r.getJSON(ctx, OutboxTryKey(resultID, s, e.Tries), last, maxOutboxBytes); err != nil {
				return nil, err
			}
			e.FirstTry, e.LastTry = first, last
		}
		if f.delivered {
			e.Delivered = &KhoDelivery{}
			if err := r.getJSON(ctx, OutboxDeliveredKey(resultID, s), e.Delivered, maxOutboxBytes); err != nil {
				return nil, err
			}
		}
		if f.dead {
			e.Dead = &KhoDead{}
			if err := r.getJSON(ctx, OutboxDeadKey(resultID, s), e.Dead, maxOutboxBytes); err != nil {
				return nil, err
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// RecordKhoAttempt records a failed delivery try of event seq, create-once
// under the next free try number, and returns that number. Past
// MaxOutboxTries nothing more is recorded (and MaxOutboxTries returned).
func (r *Repository) RecordKhoAttempt(ctx context.Context, resultID string, seq, after int, a KhoAttempt) (int, error) {
	a.At = a.At.In(Vietnam()).Truncate(time.Millisecond)
	for n := after + 1; n <= MaxOutboxTries; n++ {
		err := r.PutJSON(ctx, OutboxTryKey(resultID, seq, n), a)
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, ErrExists) {
			return 0, fmt.Errorf("record kho attempt: %w", err)
		}
		// A concurrent run took this number: the next one.
	}
	return MaxOutboxTries, nil
}

// MarkKhoDelivered records the Kho's acknowledgement of event seq,
// create-once: a second acknowledgement (a duplicate run) is not recorded
// again and is not an error.
func (r *Repository) MarkKhoDelivered(ctx context.Context, resultID string, seq int, d KhoDelivery) error {
	d.At = d.At.In(Vietnam()).Truncate(time.Millisecond)
	if err := r.PutJSON(ctx, OutboxDeliveredKey(resultID, seq), d); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("mark kho delivered: %w", err)
	}
	r.log.InfoContext(ctx, "kho event delivered", "result_id", resultID, "seq", seq, "http_status", d.HTTPStatus)
	return nil
}

// MarkKhoDead records, create-once, that event seq was given up.
func (r *Repository) MarkKhoDead(ctx context.Context, resultID string, seq int, d KhoDead) error {
	d.At = d.At.In(Vietnam()).Truncate(time.Millisecond)
	if err := r.PutJSON(ctx, OutboxDeadKey(resultID, seq), d); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("mark kho dead: %w", err)
	}
	r.log.WarnContext(ctx, "kho event dead-lettered", "result_id", resultID, "seq", seq, "reason", d.Reason, "tries", d.Tries)
	return nil
}

// SyncState is a result's Kho synchronisation (the manifest's kho_sync,
// domain.md §4): the state of its events together — dead if any is dead,
// else pending if any is pending, else delivered — and the times of the
// last try and the last acknowledgement.
type SyncState struct {
	State         string     `json:"state"`
	Events        int        `json:"events"`
	Delivered     int        `json:"delivered"`
	Pending       int        `json:"pending"`
	Dead          int        `json:"dead"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	SyncedAt      *time.Time `json:"synced_at"`
	PortalRef     string     `json:"portal_ref,omitempty"`
}

// SyncStateOf summarises a result's outbox entries.
func SyncStateOf(entries []OutboxEntry) SyncState {
	s := SyncState{State: SyncPending, Events: len(entries)}
	later := func(p **time.Time, t time.Time) {
		if !t.IsZero() && (*p == nil || t.After(**p)) {
			t := t
			*p = &t
		}
	}
	for _, e := range entries {
		switch e.State() {
		case SyncDelivered:
			s.Delivered++
			later(&s.SyncedAt, e.Delivered.At)
			later(&s.LastAttemptAt, e.Delivered.At)
			if e.Delivered.PortalRef != "" {
				s.PortalRef = e.Delivered.PortalRef
			}
		case SyncDead:
			s.Dead++
		default:
			s.Pending++
		}
		if e.LastTry != nil {
			later(&s.LastAttemptAt, e.LastTry.At)
		}
	}
	switch {
	case s.Dead > 0:
		s.State = SyncDead
	case s.Pending > 0 || s.Events == 0:
		s.State = SyncPending
	default:
		s.State = SyncDelivered
	}
	return s
}

// SyncStateOfResult is SyncStateOf the result's outbox.
func (r *Repository) SyncStateOfResult(ctx context.Context, m Manifest) (SyncState, error) {
	entries, err := r.Outbox(ctx, m.ID)
	if err != nil {
		return SyncState{}, err
	}
	return SyncStateOf(entries), nil
}

// OutboxCounts counts one result's outbox objects by kind, from a listing
// alone (no reads).
type OutboxCounts struct {
	ResultID                  string
	Events, Delivered, Dead   int
	Pending                   int
	delivered, dead, hasEvent map[int]bool
}

// ScanOutbox lists the whole outbox once and calls fn for every result
// that has outbox events, in result-ID order, with its counts. Its cost is
// one listing of outbox/ (about 1,000 keys a request).
func (r *Repository) ScanOutbox(ctx context.Context, fn func(OutboxCounts) error) error {
	var cur *OutboxCounts
	flush := func() error {
		if cur == nil {
			return nil
		}
		c := *cur
		for s := range c.hasEvent {
			switch {
			case c.delivered[s]:
				c.Delivered++
			case c.dead[s]:
				c.Dead++
			default:
				c.Pending++
			}
		}
		cur = nil
		if c.Events == 0 {
			return nil
		}
		return fn(c)
	}
	err := r.b.List(ctx, prefixOutbox, func(o ObjectInfo) error {
		id, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, prefixOutbox), "/")
		k, kok := parseOutboxKey(rest)
		if !ok || !kok || !validResultID(id) {
			return fmt.Errorf("outbox key %s: %w", redactKey(o.Key, prefixOutbox), ErrCorrupt)
		}
		if cur == nil || cur.ResultID != id {
			if err := flush(); err != nil {
				return err
			}
			cur = &OutboxCounts{ResultID: id, delivered: map[int]bool{}, dead: map[int]bool{}, hasEvent: map[int]bool{}}
		}
		switch k.kind {
		case "event":
			cur.Events++
			cur.hasEvent[k.seq] = true
		case "delivered":
			cur.delivered[k.seq] = true
		case "dead":
			cur.dead[k.seq] = true
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan outbox: %w", err)
	}
	return flush()
}

// RepairOutbox writes the outbox event of every status event that has
// none: results filed before the outbox existed, and a process that died
// between writing a status event and its outbox event. It lists the
// results, events and outbox folders once each and returns how many events
// it wrote.
func (r *Repository) RepairOutbox(ctx context.Context) (int, error) {
	have := map[string]bool{}
	if err := r.b.List(ctx, prefixOutbox, func(o ObjectInfo) error {
		have[o.Key] = true
		return nil
	}); err != nil {
		return 0, fmt.Errorf("repair outbox: %w", err)
	}
	type missing struct {
		id  string
		seq int
		key string
	}
	var todo []missing
	if err := r.b.List(ctx, prefixEvents, func(o ObjectInfo) error {
		id, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, prefixEvents), "/")
		var seq int
		if !ok || len(rest) < 7 || !validResultID(id) {
			return nil
		}
		if _, err := fmt.Sscanf(rest[:6], "%06d", &seq); err != nil {
			return nil
		}
		if !have[OutboxKey(id, seq)] {
			todo = append(todo, missing{id, seq, o.Key})
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("repair outbox: %w", err)
	}
	if len(todo) == 0 {
		return 0, nil
	}
	manifests := map[string]string{}
	if err := r.b.List(ctx, prefixResults, func(o ObjectInfo) error {
		if IsManifestKey(o.Key) {
			base := o.Key[strings.LastIndexByte(o.Key, '/')+1:]
			manifests[strings.TrimSuffix(base, manifestSuffix)] = o.Key
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("repair outbox: %w", err)
	}
	n := 0
	for _, t := range todo {
		mk, ok := manifests[t.id]
		if !ok {
			continue // events of a result whose manifest is not stored: nothing to announce
		}
		m, err := r.readManifest(ctx, mk)
		if err != nil {
			return n, fmt.Errorf("repair outbox: %w", err)
		}
		var e StatusEvent
		if err := r.getJSON(ctx, t.key, &e, maxEventBytes); err != nil {
			return n, fmt.Errorf("repair outbox: %w", err)
		}
		if err := r.putOutbox(ctx, m, t.seq, e); err != nil {
			return n, fmt.Errorf("repair outbox: %w", err)
		}
		n++
	}
	return n, nil
}
