package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/storage"
)

// fakeInspector is asynq's view of the fake queue: a task the queue holds is
// pending unless the test set another state.
type fakeInspector struct {
	q       *fakeQueue
	mu      sync.Mutex
	states  map[string]*asynq.TaskInfo
	deleted []string
}

func (f *fakeInspector) set(id string, info *asynq.TaskInfo) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.states == nil {
		f.states = map[string]*asynq.TaskInfo{}
	}
	info.ID = id
	f.states[id] = info
}

func (f *fakeInspector) GetTaskInfo(queue, id string) (*asynq.TaskInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if info, ok := f.states[id]; ok {
		return info, nil
	}
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	if _, ok := f.q.tasks[id]; ok {
		return &asynq.TaskInfo{ID: id, Queue: queue, State: asynq.TaskStatePending}, nil
	}
	return nil, fmt.Errorf("asynq: %w", asynq.ErrTaskNotFound)
}

func (f *fakeInspector) DeleteTask(queue, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.states, id)
	f.deleted = append(f.deleted, id)
	f.q.mu.Lock()
	defer f.q.mu.Unlock()
	delete(f.q.tasks, id)
	return nil
}

func dids(rep Report) string {
	var s []string
	for _, a := range rep.Actions {
		s = append(s, a.Task+"="+a.Did)
	}
	return strings.Join(s, ",")
}

// TestReconcileRedispatchesLostIssueTasks (finding 2): after FLUSHALL an
// input whose record exists but whose result:issue task was lost is not
// "done": the reconciler enqueues the issue task, and the result is filed.
func TestReconcileRedispatchesLostIssueTasks(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	key := submit(t, h, storage.IntakeMeta{Name: "a.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	h.runOnly(t, TypeOCR)
	h.flush()
	n, err := Reconcile(ctx, h.repo, h.queue)
	if err != nil || n != 1 {
		t.Fatalf("reconcile after FLUSHALL = %d, %v; want the issue task", n, err)
	}
	h.runAll(t)
	if st, _ := h.intake.Status(ctx, key); st.State != StateIssued {
		t.Fatalf("state = %s, want issued", st.State)
	}
	if n, _ := Reconcile(ctx, h.repo, h.queue); n != 0 {
		t.Errorf("reconcile of a final input dispatched %d", n)
	}
}

// TestReconcileRedispatchesApproval (finding 2): an approval whose enqueue
// failed is issued by the reconciler.
func TestReconcileRedispatchesApproval(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	key := submit(t, h, storage.IntakeMeta{Name: "f.jpg", Source: SourceBackfill})
	h.runAll(t)
	h.queue.down = true
	_ = h.pipe.Decide(ctx, Approval{InputKey: key, Doc: 1, Approved: true, By: "cb01", Fields: map[string]string{FieldProcedureCode: "1.004873"}})
	h.queue.down = false
	if n, err := Reconcile(ctx, h.repo, h.queue); err != nil || n != 1 {
		t.Fatalf("reconcile = %d, %v; want the approved document's issue task", n, err)
	}
	h.runAll(t)
	if st, _ := h.intake.Status(ctx, key); st.State != StateIssued {
		t.Fatalf("state = %s, want issued", st.State)
	}
}

// TestReconcileRevivesArchivedTasks (finding 1): an OCR task asynq archived
// after its last retry keeps its ID; the reconciler deletes it and enqueues
// it again with a new round, after a cool-down, and quarantines the input
// (ours, not asynq's archive) when its rounds are spent.
func TestReconcileRevivesArchivedTasks(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	insp := &fakeInspector{q: h.queue}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := &Reconciler{Repo: h.repo, Queue: h.queue, Tasks: insp, Now: func() time.Time { return now }, MaxRounds: 2, RoundCooldown: time.Minute}
	key := submit(t, h, storage.IntakeMeta{Name: "a.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	id := "ocr:" + key
	archive := func() {
		insp.set(id, &asynq.TaskInfo{Queue: QueueCounter, State: asynq.TaskStateArchived, LastErr: "dial tcp: connection refused", LastFailedAt: now})
	}
	archive()
	// Still cooling down: nothing happens.
	rep, err := r.Pass(ctx)
	if err != nil || dids(rep) != "ocr=waiting" {
		t.Fatalf("pass while cooling down = %s, %v", dids(rep), err)
	}
	for round := 1; round <= 2; round++ {
		now = now.Add(time.Hour)
		rep, err = r.Pass(ctx)
		if err != nil || dids(rep) != "ocr=revived" || rep.Actions[0].Round != round {
			t.Fatalf("round %d: pass = %+v, %v", round, rep.Actions, err)
		}
		if len(h.queue.ofType(TypeOCR)) != 1 {
			t.Fatalf("round %d: OCR task not queued again", round)
		}
		archive() // and it fails again
	}
	now = now.Add(2 * time.Hour)
	rep, err = r.Pass(ctx)
	if err != nil || dids(rep) != "ocr=quarantined" {
		t.Fatalf("pass after the last round = %s, %v", dids(rep), err)
	}
	st, err := StateOf(ctx, h.repo, key)
	if err != nil || st.State != StateQuarantined || st.Quarantine.Code != CodeRetriesExhausted || st.Quarantine.File != "a.pdf" {
		t.Fatalf("state = %+v, %v", st, err)
	}
	if rep, _ := r.Pass(ctx); len(rep.Actions) != 0 {
		t.Errorf("a quarantined input got %s", dids(rep))
	}
}

// TestReconcileUnblocksCompletedTask: a completed task kept (Retention) while
// its input still needs it blocks the ID; it is deleted and enqueued again.
// One that completed after the state was read is left alone.
func TestReconcileUnblocksCompletedTask(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	insp := &fakeInspector{q: h.queue}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r := &Reconciler{Repo: h.repo, Queue: h.queue, Tasks: insp, Now: func() time.Time { return now }}
	key := submit(t, h, storage.IntakeMeta{Name: "a.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	h.runOnly(t, TypeOCR)
	h.flush()
	id := fmt.Sprintf("issue:%s:1", key)
	insp.set(id, &asynq.TaskInfo{Queue: QueueIssue, State: asynq.TaskStateCompleted, CompletedAt: now.Add(time.Second)})
	if rep, err := r.Pass(ctx); err != nil || len(rep.Actions) != 0 {
		t.Fatalf("pass = %s, %v; want nothing (completed after the read)", dids(rep), err)
	}
	insp.set(id, &asynq.TaskInfo{Queue: QueueIssue, State: asynq.TaskStateCompleted, CompletedAt: now.Add(-time.Minute)})
	rep, err := r.Pass(ctx)
	if err != nil || dids(rep) != "issue:1=unblocked" {
		t.Fatalf("pass = %s, %v", dids(rep), err)
	}
	h.runAll(t)
	if st, _ := StateOf(ctx, h.repo, key); st.State != StateIssued {
		t.Fatalf("state = %s", st.State)
	}
}

// TestReconcileDryRunChangesNothing: a dry run reports what it would do.
func TestReconcileDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	h.queue.down = true
	sub, _ := h.intake.Submit(ctx, []byte("scan"), storage.IntakeMeta{Name: "c.png", Source: SourceCounter, ProcedureCode: "1.004873"})
	h.queue.down = false
	r := &Reconciler{Repo: h.repo, Queue: h.queue, DryRun: true}
	rep, err := r.Pass(ctx)
	if err != nil || dids(rep) != "ocr=enqueued" || rep.Actions[0].InputKey != sub.InputKey {
		t.Fatalf("dry run = %+v, %v", rep, err)
	}
	if len(h.queue.ofType(TypeOCR)) != 0 {
		t.Error("a dry run enqueued")
	}
}

// listCounter counts listings by prefix.
type listCounter struct {
	storage.Bucket
	mu    sync.Mutex
	lists map[string]int
}

func (b *listCounter) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	b.mu.Lock()
	b.lists[strings.SplitN(prefix, "/", 2)[0]]++
	b.mu.Unlock()
	return b.Bucket.List(ctx, prefix, fn)
}

// TestReconcileIsCheap (finding 3): the reconciler can run every few
// seconds: after its first (full) pass it lists only the open markers of
// recent hours, never the whole intake, and reads no input that is final;
// an input stored while Redis was down is found by its open marker on the
// next pass.
func TestReconcileIsCheap(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	lc := &listCounter{Bucket: h.bucket, lists: map[string]int{}}
	repo, err := storage.New(lc, storage.Options{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	h.repo = repo
	h.pipe.o.Repo = repo
	h.intake.repo = repo
	for i := range 3 {
		if _, err := h.intake.Submit(ctx, fmt.Appendf(nil, "scan %d", i), storage.IntakeMeta{Name: "a.pdf", Source: SourceCounter, ProcedureCode: "1.004873"}); err != nil {
			t.Fatal(err)
		}
	}
	h.runAll(t)
	r := &Reconciler{Repo: repo, Queue: h.queue}
	rep, err := r.Pass(ctx)
	if err != nil || !rep.Full || rep.Final != 3 || rep.Open != 0 {
		t.Fatalf("first pass = %+v, %v", rep, err)
	}
	h.queue.down = true
	sub, _ := h.intake.Submit(ctx, []byte("while redis was down"), storage.IntakeMeta{Name: "b.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	h.queue.down = false
	lc.lists = map[string]int{}
	rep, err = r.Pass(ctx)
	if err != nil || rep.Full || rep.Looked != 1 || dids(rep) != "ocr=enqueued" || rep.Actions[0].InputKey != sub.InputKey {
		t.Fatalf("second pass = %+v, %v", rep, err)
	}
	if lc.lists["intake"] != 0 || lc.lists["closed"] != 0 {
		t.Errorf("a pass after the first listed %v", lc.lists)
	}
	// The next full pass reads only inputs not closed.
	h.runAll(t)
	r.ForceFull()
	if rep, err = r.Pass(ctx); err != nil || rep.Looked != 1 || rep.Final != 1 {
		t.Fatalf("full pass = %+v, %v", rep, err)
	}
	r.ForceFull()
	if rep, err = r.Pass(ctx); err != nil || rep.Looked != 0 {
		t.Fatalf("full pass once all are closed = %+v, %v", rep, err)
	}
}

// TestReconcileRepairsInterruptedFiling: a crash or S3 outage after the
// result's manifest was stored but before its inputs/ lookup leaves the
// input needing its issue task. The re-run issue stage finds the manifest
// and writes the missing lookup, so the input reads issued and the
// reconciler stops dispatching it.
func TestReconcileRepairsInterruptedFiling(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	key := submit(t, h, storage.IntakeMeta{Name: "a.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	h.runAll(t)
	if st, _ := h.intake.Status(ctx, key); st.State != StateIssued {
		t.Fatalf("state = %s, want issued", st.State)
	}
	signed := len(h.iss.reqs)
	var lookups []string
	if err := h.bucket.List(ctx, storage.InputsPrefix(key), func(o storage.ObjectInfo) error {
		lookups = append(lookups, o.Key)
		return nil
	}); err != nil || len(lookups) == 0 {
		t.Fatalf("inputs/ lookups = %v, %v; want the filed result's", lookups, err)
	}
	for _, k := range lookups {
		if err := h.bucket.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := h.intake.Status(ctx, key); st.State == StateIssued {
		t.Fatalf("without its lookup the input still reads issued")
	}
	h.flush()
	if n, err := Reconcile(ctx, h.repo, h.queue); err != nil || n != 1 {
		t.Fatalf("reconcile = %d, %v; want the issue task", n, err)
	}
	h.runAll(t)
	if st, _ := h.intake.Status(ctx, key); st.State != StateIssued {
		t.Fatalf("after the re-run issue stage state = %s, want issued", st.State)
	}
	var again []string
	_ = h.bucket.List(ctx, storage.InputsPrefix(key), func(o storage.ObjectInfo) error {
		again = append(again, o.Key)
		return nil
	})
	if strings.Join(again, ",") != strings.Join(lookups, ",") {
		t.Errorf("lookups after repair = %v, want %v", again, lookups)
	}
	if n, _ := Reconcile(ctx, h.repo, h.queue); n != 0 {
		t.Errorf("reconcile after the repair dispatched %d, want 0", n)
	}
	if got := len(h.iss.reqs); got != signed {
		t.Errorf("issuer called %d times, want %d (the repair must not re-sign)", got, signed)
	}
}
