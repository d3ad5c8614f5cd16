package kho

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/storage"
)

// TypeSync is the task that delivers a result's pending outbox events.
const TypeSync = "kho:sync"

// Queue is the asynq queue of sync tasks.
const Queue = "kho"

// QueueWeight is its weight beside the pipeline's queues.
const QueueWeight = 2

// maxRetry lets asynq retry a sync task for as long as the dead-letter age
// allows: the dead letter is ours (a create-once record), never asynq's
// archive (reliability.md rule 4), and an archived task would keep its ID
// and block re-enqueueing.
const maxRetry = 1 << 20

// SyncPayload names the result whose outbox a sync task delivers.
type SyncPayload struct {
	ResultID string `json:"result_id"`
}

// NewSyncTask is the sync task of one result. Its TaskID is per result: a
// result has at most one sync task queued, and that task delivers every
// pending event of the result, in order, when it runs.
func NewSyncTask(resultID string) (*asynq.Task, error) {
	b, err := json.Marshal(SyncPayload{ResultID: resultID})
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", TypeSync, err)
	}
	return asynq.NewTask(TypeSync, b,
		asynq.TaskID("kho:"+resultID),
		asynq.Queue(Queue),
		asynq.MaxRetry(maxRetry),
		asynq.Timeout(5*time.Minute),
	), nil
}

// Backoff is the wait before retry n (from 0) of a sync task: Base, 2·Base,
// 4·Base … at most Max.
type Backoff struct{ Base, Max time.Duration }

// Delay is the wait before retry n.
func (b Backoff) Delay(n int) time.Duration {
	d := time.Duration(float64(b.Base) * math.Pow(2, float64(min(max(n, 0), 40))))
	if d <= 0 || d > b.Max {
		return b.Max
	}
	return d
}

// Repository is what the syncer needs of storage.Repository.
type Repository interface {
	Source
	Outbox(ctx context.Context, resultID string) ([]storage.OutboxEntry, error)
	RecordKhoAttempt(ctx context.Context, resultID string, seq, after int, a storage.KhoAttempt) (int, error)
	MarkKhoDelivered(ctx context.Context, resultID string, seq int, d storage.KhoDelivery) error
	MarkKhoDead(ctx context.Context, resultID string, seq int, d storage.KhoDead) error
}

// Syncer delivers outbox events.
type Syncer struct {
	Repo   Repository
	Sender interface {
		Send(ctx context.Context, p Payload) (Ack, error)
	}
	// VerifyURL gives the public verification URL of a result code.
	VerifyURL func(code string) string
	// DeadAfter is how long an event may keep failing, from its first
	// failed try, before it is dead.
	DeadAfter time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

func (s *Syncer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Syncer) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// ProcessTask is the asynq handler of TypeSync.
func (s *Syncer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p SyncPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ResultID == "" {
		return fmt.Errorf("%s: bad payload: %w", TypeSync, asynq.SkipRetry)
	}
	err := s.SyncResult(ctx, p.ResultID)
	if errors.Is(err, storage.ErrInvalid) {
		return fmt.Errorf("%s: %w: %w", TypeSync, err, asynq.SkipRetry)
	}
	return err
}

// SyncResult delivers the pending events of one result in seq order and
// returns nil when none is left to try now (all delivered or dead). It
// stops at the first event the Kho does not acknowledge, records the try
// and returns an error (asynq retries with backoff), unless that event has
// failed for DeadAfter since its first try: then it and every later event
// of the result are dead. Safe to run twice at once: each send carries the
// event's idempotency key and each record is create-once.
func (s *Syncer) SyncResult(ctx context.Context, resultID string) error {
	seen := -1
	for {
		entries, err := s.Repo.Outbox(ctx, resultID)
		if err != nil {
			return fmt.Errorf("kho sync %s: %w", resultID, err)
		}
		if len(entries) == seen {
			return nil
		}
		seen = len(entries)
		if err := s.syncEntries(ctx, resultID, entries); err != nil {
			return err
		}
		// Events appended while this run sent: deliver them too.
	}
}

func (s *Syncer) syncEntries(ctx context.Context, resultID string, entries []storage.OutboxEntry) error {
	var deadSeq *int
	for _, e := range entries {
		switch e.State() {
		case storage.SyncDelivered:
			continue
		case storage.SyncDead:
			if deadSeq == nil {
				seq := e.Seq
				deadSeq = &seq
			}
			continue
		}
		if deadSeq != nil {
			// In order only: an event after a dead one cannot be delivered.
			if err := s.Repo.MarkKhoDead(ctx, resultID, e.Seq, storage.KhoDead{At: s.now(), Reason: storage.DeadBlocked,
				BlockedBy: deadSeq, Tries: e.Tries}); err != nil {
				return fmt.Errorf("kho sync %s: %w", resultID, err)
			}
			continue
		}
		ack, sendErr := s.deliver(ctx, e)
		if sendErr == nil {
			if err := s.Repo.MarkKhoDelivered(ctx, resultID, e.Seq, storage.KhoDelivery{At: s.now(), HTTPStatus: ack.HTTPStatus,
				PortalRef: ack.PortalRef, Tries: e.Tries}); err != nil {
				return fmt.Errorf("kho sync %s: %w", resultID, err)
			}
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err() // shutting down or out of time: not the Kho's failure
		}
		now := s.now()
		a := storage.KhoAttempt{At: now, Error: sendErr.Error()}
		var se *SendError
		if errors.As(sendErr, &se) {
			a.HTTPStatus = se.HTTPStatus
		}
		n, err := s.Repo.RecordKhoAttempt(ctx, resultID, e.Seq, e.Tries, a)
		if err != nil {
			return fmt.Errorf("kho sync %s: %w (after %w)", resultID, err, sendErr)
		}
		first := now
		if e.FirstTry != nil {
			first = e.FirstTry.At
		}
		if now.Sub(first) < s.DeadAfter {
			s.log().InfoContext(ctx, "kho delivery failed; will retry", "result_id", resultID, "seq", e.Seq, "try", n, "err", sendErr)
			return fmt.Errorf("kho sync %s event %d: %w", resultID, e.Seq, sendErr)
		}
		if err := s.Repo.MarkKhoDead(ctx, resultID, e.Seq, storage.KhoDead{At: now, Reason: storage.DeadAfterAge,
			Tries: n, FirstAttemptAt: first}); err != nil {
			return fmt.Errorf("kho sync %s: %w", resultID, err)
		}
		seq := e.Seq
		deadSeq = &seq
	}
	return nil
}

// deliver builds and sends one event.
func (s *Syncer) deliver(ctx context.Context, e storage.OutboxEntry) (Ack, error) {
	p, err := Build(ctx, s.Repo, e.OutboxEvent, s.VerifyURL)
	if err != nil {
		return Ack{}, err
	}
	return s.Sender.Send(ctx, p)
}

// Enqueuer is the part of asynq.Client the sweep uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Enqueue queues the sync task of a result; one already queued (or
// retrying) is enough, and is not an error.
func Enqueue(ctx context.Context, q Enqueuer, resultID string) error {
	t, err := NewSyncTask(resultID)
	if err != nil {
		return err
	}
	if _, err := q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("enqueue %s: %w", TypeSync, err)
	}
	return nil
}

// Outbox is what the sweep needs of storage.Repository.
type Outbox interface {
	RepairOutbox(ctx context.Context) (int, error)
	ScanOutbox(ctx context.Context, fn func(storage.OutboxCounts) error) error
}

// SweepReport says what one sweep did.
type SweepReport struct {
	Repaired, Results, Pending, Dead, Enqueued int
}

// Sweep is the safety net under the enqueue at write time: it writes the
// outbox events a status event lacks (storage.RepairOutbox), then queues
// the sync task of every result with a pending event (Redis lost it, an
// enqueue failed, or the result changed just as its task finished: the
// enqueue then met the finishing task's ID and was dropped).
func Sweep(ctx context.Context, o Outbox, q Enqueuer) (SweepReport, error) {
	return sweep(ctx, o, q, true)
}

func sweep(ctx context.Context, o Outbox, q Enqueuer, repair bool) (SweepReport, error) {
	var rep SweepReport
	if repair {
		n, err := o.RepairOutbox(ctx)
		rep.Repaired = n
		if err != nil {
			return rep, err
		}
	}
	err := o.ScanOutbox(ctx, func(c storage.OutboxCounts) error {
		rep.Results++
		rep.Pending += c.Pending
		rep.Dead += c.Dead
		if c.Pending == 0 {
			return nil
		}
		rep.Enqueued++
		return Enqueue(ctx, q, c.ResultID)
	})
	return rep, err
}

// SweepLoop sweeps every `every` until ctx ends: the outbox scan each
// time, the repair (which lists every status event) at the first sweep and
// then every repairEvery sweeps. report, when not nil, is given each
// sweep's report (metrics, logs).
func SweepLoop(ctx context.Context, o Outbox, q Enqueuer, every time.Duration, repairEvery int, report func(SweepReport, error)) {
	for i := 0; ; i++ {
		rep, err := sweep(ctx, o, q, repairEvery <= 1 || i%repairEvery == 0)
		if report != nil && ctx.Err() == nil {
			report(rep, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
