// This file owns the reconciler: it re-dispatches whatever the state
// machine (state.go) says an input still needs and Redis does not hold, and
// unblocks the task IDs asynq's archive or completed set keep.

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/storage"
)

// CodeRetriesExhausted quarantines an input one of whose tasks exhausted
// its retries in Reconciler.MaxRounds rounds.
const CodeRetriesExhausted = "retries_exhausted"

// TaskInspector is what the reconciler asks of asynq (an *asynq.Inspector).
type TaskInspector interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
}

// Reconciler makes Redis agree with S3, the system of record: every input
// not final gets the tasks its state says it needs. It is cheap enough to
// run every few seconds: a pass looks only at the inputs it knows to be
// open and at the open markers (storage.OpenKey) of the hours since its
// last pass; the first pass, and one every FullEvery, lists the whole
// intake (less the inputs already closed) so nothing is missed. Every
// action is idempotent (task IDs, create-once writes), so any number of
// workers may run one.
//
// Retry budget: a task asynq archived after its last retry (an outage
// longer than the budget; worker crashes, which asynq counts as retries)
// is not left there. The reconciler deletes it and enqueues it again with a
// fresh budget, a "round" recorded create-once in S3 (storage.RetryRoundKey)
// after a cool-down that grows 4× a round (RoundCooldown, capped at an
// hour). A task whose MaxRounds rounds are spent puts its input in our
// quarantine (CodeRetriesExhausted), never only in asynq's archive. A
// round needs S3 to be recorded, and an outage stops the reconciler too,
// so one outage costs a task at most one round.
type Reconciler struct {
	Repo  *storage.Repository
	Queue Enqueuer
	// Tasks, when set, is asked what Redis holds of each needed task;
	// without it every need is enqueued and a task ID conflict counts as
	// queued (archived tasks then stay blocked).
	Tasks TaskInspector
	Log   *slog.Logger
	Now   func() time.Time
	// FullEvery is how often a pass lists the whole intake; default 1 h.
	FullEvery time.Duration
	// MaxRounds is how many fresh retry budgets a task gets; default 5.
	MaxRounds int
	// RoundCooldown is the wait after a task was archived before its
	// first new round; default 1 minute.
	RoundCooldown time.Duration
	// Parallel is how many inputs a pass reads at once; default 4.
	Parallel int
	// DryRun reports what a pass would do and changes nothing.
	DryRun bool

	mu   sync.Mutex
	open map[string]bool
	// closed are the inputs found final lately, so the open markers of
	// recent hours, listed every pass, cost no read for them.
	closed   map[string]time.Time
	lastFull time.Time
	lastPass time.Time
}

// Action is one thing a pass did (or, dry, would do) for an input.
type Action struct {
	InputKey string `json:"input_key"`
	Task     string `json:"task"` // ocr | issue:N
	// Did: enqueued (missing from Redis), unblocked (a completed task
	// kept its ID), revived (an archived task, new round), quarantined
	// (rounds spent), waiting (archived, cooling down before its next
	// round), closed (found final).
	Did    string `json:"did"`
	Round  int    `json:"round,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Report is what one pass found and did.
type Report struct {
	Full    bool     `json:"full"`
	Looked  int      `json:"looked"` // inputs whose state was read
	Open    int      `json:"open"`   // inputs not final after the pass
	Final   int      `json:"final"`
	Actions []Action `json:"actions,omitempty"`
}

// Dispatched counts the tasks a pass put (or would put) on the queue.
func (r Report) Dispatched() int {
	n := 0
	for _, a := range r.Actions {
		if a.Did == "enqueued" || a.Did == "unblocked" || a.Did == "revived" {
			n++
		}
	}
	return n
}

// Reconcile runs one full pass of a fresh Reconciler with defaults and
// returns the number of tasks dispatched.
func Reconcile(ctx context.Context, repo *storage.Repository, q Enqueuer) (int, error) {
	r := &Reconciler{Repo: repo, Queue: q}
	rep, err := r.Pass(ctx)
	return rep.Dispatched(), err
}

func (r *Reconciler) defaults() {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.FullEvery <= 0 {
		r.FullEvery = time.Hour
	}
	if r.MaxRounds <= 0 {
		r.MaxRounds = 5
	}
	if r.RoundCooldown <= 0 {
		r.RoundCooldown = time.Minute
	}
	if r.Parallel <= 0 {
		r.Parallel = 4
	}
}

// ForceFull makes the next pass list the whole intake (after Redis lost
// its data, say).
func (r *Reconciler) ForceFull() {
	r.mu.Lock()
	r.lastFull = time.Time{}
	r.mu.Unlock()
}

// Pass looks at every input that may need work and dispatches what is
// missing. An error reading one input does not stop the others; the first
// error is returned with the report.
func (r *Reconciler) Pass(ctx context.Context) (Report, error) {
	r.defaults()
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Now()
	rep := Report{Full: r.open == nil || r.lastFull.IsZero() || now.Sub(r.lastFull) >= r.FullEvery}
	cands, err := r.candidates(ctx, now, rep.Full)
	if err != nil {
		return rep, err
	}
	if r.open == nil {
		r.open = map[string]bool{}
	}
	for k, at := range r.closed {
		if now.Sub(at) > 3*time.Hour {
			delete(r.closed, k) // its markers are out of the listed hours
		}
	}
	type result struct {
		key     string
		actions []Action
		final   bool
		drop    bool
		err     error
	}
	keys := make(chan string)
	results := make(chan result)
	var wg sync.WaitGroup
	for range min(r.Parallel, max(len(cands), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				acts, final, drop, err := r.reconcileInput(ctx, k)
				results <- result{k, acts, final, drop, err}
			}
		}()
	}
	go func() {
		defer close(keys)
		for _, k := range cands {
			select {
			case keys <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var firstErr error
	for res := range results {
		rep.Looked++
		rep.Actions = append(rep.Actions, res.actions...)
		switch {
		case res.err != nil:
			r.open[res.key] = true
			if firstErr == nil {
				firstErr = res.err
			}
		case res.final:
			rep.Final++
			delete(r.open, res.key)
			r.closed[res.key] = now
		case res.drop:
			delete(r.open, res.key)
		default:
			r.open[res.key] = true
		}
	}
	rep.Open = len(r.open)
	if firstErr == nil {
		if rep.Full {
			r.lastFull = now
		}
		r.lastPass = now
	}
	if err := ctx.Err(); err != nil && firstErr == nil {
		firstErr = err
	}
	return rep, firstErr
}

// candidates lists the inputs a pass looks at: on a full pass every intake
// not closed, else the known open ones; both with the open markers of the
// hours since the last pass.
func (r *Reconciler) candidates(ctx context.Context, now time.Time, full bool) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	if r.closed == nil {
		r.closed = map[string]time.Time{}
	}
	closed := map[string]bool{}
	add := func(k string) {
		if _, done := r.closed[k]; storage.ValidInputKey(k) && !seen[k] && !closed[k] && !done {
			seen[k] = true
			out = append(out, k)
		}
	}
	if full {
		if err := r.Repo.Bucket().List(ctx, storage.ClosedKey(""), func(oi storage.ObjectInfo) error {
			closed[strings.TrimPrefix(oi.Key, storage.ClosedKey(""))] = true
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reconcile: list closed inputs: %w", err)
		}
		if err := r.Repo.Bucket().List(ctx, storage.IntakeKey(""), func(oi storage.ObjectInfo) error {
			add(strings.TrimSuffix(strings.TrimPrefix(oi.Key, storage.IntakeKey("")), ".meta.json"))
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reconcile: list intake: %w", err)
		}
	} else {
		for k := range r.open {
			add(k)
		}
	}
	from := r.lastPass
	if from.IsZero() || now.Sub(from) > 48*time.Hour {
		from = now.Add(-time.Hour)
	}
	// The marker's hour comes from the writer's clock: look an hour back.
	for h := from.Add(-time.Hour).Truncate(time.Hour); !h.After(now); h = h.Add(time.Hour) {
		p := storage.OpenHourPrefix(h)
		if err := r.Repo.Bucket().List(ctx, p, func(oi storage.ObjectInfo) error {
			k := strings.TrimPrefix(oi.Key, p)
			if closed[k] {
				r.closed[k] = now
			}
			add(k)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reconcile: list open inputs: %w", err)
		}
	}
	return out, nil
}

// reconcileInput reads one input's state and ensures each task it needs.
// drop: the input needs nothing from the reconciler until something new
// happens (it is not stored, or incomplete).
func (r *Reconciler) reconcileInput(ctx context.Context, key string) (acts []Action, final, drop bool, err error) {
	readAt := r.Now()
	st, err := StateOf(ctx, r.Repo, key)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, false, true, nil // an open marker of an upload never stored
	case err != nil:
		return nil, false, false, fmt.Errorf("reconcile %s: %w", key, err)
	}
	if st.Final {
		if !r.DryRun {
			if err := r.Repo.PutJSON(ctx, storage.ClosedKey(key), closedMarker{State: st.State, At: readAt.UTC()}); err != nil && !errors.Is(err, storage.ErrExists) {
				return nil, false, false, fmt.Errorf("reconcile %s: close: %w", key, err)
			}
		}
		return nil, true, false, nil
	}
	if st.State == StateIncomplete {
		r.Log.Warn("intake incomplete: scan stored without metadata; send the file again", "input_key", key)
		return nil, false, true, nil
	}
	for _, n := range st.Needs {
		a, err := r.ensure(ctx, &st, n, readAt)
		if err != nil {
			return acts, false, false, fmt.Errorf("reconcile %s %s: %w", key, n.Task(), err)
		}
		if a.Did != "" {
			acts = append(acts, a)
			level := slog.LevelInfo
			if a.Did == "waiting" {
				level = slog.LevelDebug
			}
			r.Log.Log(ctx, level, "reconciled", "input_key", key, "task", a.Task, "did", a.Did, "round", a.Round)
		}
		if a.Did == "quarantined" {
			return acts, true, false, nil
		}
	}
	return acts, false, false, nil
}

// closedMarker is the body of a storage.ClosedKey (no personal data).
type closedMarker struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

// retryRound is the body of a storage.RetryRoundKey, sealed: the archived
// task's last error may name the file.
type retryRound struct {
	Task    string    `json:"task"`
	Round   int       `json:"round"`
	LastErr string    `json:"last_error"`
	At      time.Time `json:"at"`
}

// taskOf is the task of a need, its queue and its ID.
func taskOf(st *InputState, n Need) (*asynq.Task, string, string, error) {
	if n.OCR {
		backfill := st.Intake.Meta.Source == SourceBackfill
		t, err := NewOCRTask(st.InputKey, backfill)
		q := QueueCounter
		if backfill {
			q = QueueBackfill
		}
		return t, q, "ocr:" + st.InputKey, err
	}
	t, err := NewIssueTask(st.InputKey, n.Doc)
	return t, QueueIssue, fmt.Sprintf("issue:%s:%d", st.InputKey, n.Doc), err
}

// ensure makes sure the task of one need is in Redis and can run.
func (r *Reconciler) ensure(ctx context.Context, st *InputState, n Need, readAt time.Time) (Action, error) {
	a := Action{InputKey: st.InputKey, Task: n.Task()}
	task, queue, id, err := taskOf(st, n)
	if err != nil {
		return a, err
	}
	if r.Tasks != nil {
		info, err := r.Tasks.GetTaskInfo(queue, id)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
		case err != nil:
			return a, fmt.Errorf("inspect task: %w", err)
		case info.State == asynq.TaskStateCompleted:
			if info.CompletedAt.After(readAt) {
				return a, nil // completed after the state was read: next pass
			}
			// The task ran to completion, yet the input still needs it
			// (its outcome was lost, or it ended early): its retained ID
			// blocks a new one.
			a.Did, a.Reason = "unblocked", "completed task kept its ID"
			if err := r.unblock(queue, id); err != nil {
				return a, err
			}
		case info.State == asynq.TaskStateArchived:
			return r.revive(ctx, st, n, a, task, queue, id, info)
		default:
			return a, nil // pending, active, scheduled, retry: under way
		}
	}
	if a.Did == "" {
		a.Did = "enqueued"
	}
	if r.DryRun {
		return a, nil
	}
	if _, err := r.Queue.EnqueueContext(ctx, task); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			// Queued already (without an inspector, as far as we can
			// know), or enqueued concurrently by the intake or a worker.
			return Action{}, nil
		}
		return a, fmt.Errorf("enqueue: %w", err)
	}
	return a, nil
}

func (r *Reconciler) unblock(queue, id string) error {
	if r.DryRun {
		return nil
	}
	if err := r.Tasks.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	return nil
}

// revive gives an archived task a new round, or quarantines its input when
// its rounds are spent.
func (r *Reconciler) revive(ctx context.Context, st *InputState, n Need, a Action, task *asynq.Task, queue, id string, info *asynq.TaskInfo) (Action, error) {
	doc := n.Doc
	if n.OCR {
		doc = -1
	}
	rounds := 0
	if err := r.Repo.Bucket().List(ctx, storage.RetryRoundsPrefix(st.InputKey, doc), func(storage.ObjectInfo) error {
		rounds++
		return nil
	}); err != nil {
		return a, fmt.Errorf("count retry rounds: %w", err)
	}
	a.Reason = info.LastErr
	if rounds >= r.MaxRounds {
		a.Did, a.Round = "quarantined", rounds
		if r.DryRun {
			return a, nil
		}
		stage := TypeOCR
		if !n.OCR {
			stage = TypeIssue
		}
		q := QuarantineItem{
			InputKey: st.InputKey, IntakeKey: storage.IntakeKey(st.InputKey), File: st.Intake.Meta.Name,
			Stage: stage, Code: CodeRetriesExhausted, At: r.Now().UTC(),
			Error: fmt.Sprintf("%s failed in %d rounds of retries; last error: %s", n.Task(), rounds, info.LastErr),
		}
		if err := r.Repo.PutSealedJSON(ctx, storage.QuarantineKey(st.InputKey), q); err != nil && !errors.Is(err, storage.ErrExists) {
			return a, fmt.Errorf("write quarantine record: %w", err)
		}
		return a, r.unblock(queue, id)
	}
	cool := r.RoundCooldown
	for i := 0; i < rounds && cool < time.Hour; i++ {
		cool *= 4
	}
	cool = min(cool, time.Hour)
	if wait := info.LastFailedAt.Add(cool).Sub(r.Now()); wait > 0 {
		a.Did, a.Round = "waiting", rounds+1
		return a, nil
	}
	a.Did, a.Round = "revived", rounds+1
	if r.DryRun {
		return a, nil
	}
	rr := retryRound{Task: n.Task(), Round: rounds + 1, LastErr: info.LastErr, At: r.Now().UTC()}
	if err := r.Repo.PutSealedJSON(ctx, storage.RetryRoundKey(st.InputKey, doc, rounds+1), rr); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return Action{}, nil // another reconciler took this round
		}
		return a, fmt.Errorf("record retry round: %w", err)
	}
	if err := r.unblock(queue, id); err != nil {
		return a, err
	}
	if _, err := r.Queue.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return a, fmt.Errorf("enqueue: %w", err)
	}
	return a, nil
}
