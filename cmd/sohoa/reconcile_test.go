package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/pipeline"
	"sohoa/storage"
)

// TestReconcileOnStack drives findings 1 and 3 on the real stack, with the
// stand-in OCR: an input stored while Redis was down (no task) and one
// whose OCR task asynq archived (it keeps its task ID, so enqueueing it
// again is a conflict) are both re-dispatched by `sohoa reconcile` (a dry
// run first changes nothing), and a worker finishes them; then an input
// stored with no task while the worker runs is found by the worker's own
// reconciler within a period (15 s), not ten minutes.
func TestReconcileOnStack(t *testing.T) {
	stackTest(t, 6)
	canned := t.TempDir()
	writeCannedAnswers(t, canned)
	t.Setenv("SOHOA_OCR_CANNED", canned)
	ctx := context.Background()
	cfg := envConfig(t)
	repo, err := openRepository(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(cfg.redisOpt())
	defer client.Close()
	insp := asynq.NewInspector(cfg.redisOpt())
	defer insp.Close()
	store := func(name string) string {
		t.Helper()
		code, err := repo.AllocateDossierCode(ctx, cfg.AgencyCode, cfg.now(), storage.DossierClaim{BatchID: "reconcile-test"})
		if err != nil {
			t.Fatal(err)
		}
		key, err := repo.PutIntake(ctx, fmt.Appendf(nil, "reconcile test %s %d", name, time.Now().UnixNano()),
			storage.IntakeMeta{Name: name, BatchID: "reconcile-test", DossierCode: code})
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	lost := store("lost.png")
	archived := store("archived.png")
	task, err := pipeline.NewOCRTask(archived, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.EnqueueContext(ctx, task); err != nil {
		t.Fatal(err)
	}
	if err := insp.ArchiveTask(pipeline.QueueCounter, "ocr:"+archived); err != nil {
		t.Fatal(err)
	}
	if _, err := client.EnqueueContext(ctx, task); err == nil {
		t.Fatal("an archived task's ID took a new task")
	}

	reconcile := func(args ...string) string {
		t.Helper()
		var out, logs bytes.Buffer
		if rc := runCmd(ctx, append([]string{"reconcile"}, args...), &out, &logs); rc != 0 {
			t.Fatalf("sohoa reconcile %v exited %d: %s %s", args, rc, out.String(), logs.String())
		}
		return out.String()
	}
	out := reconcile("--dry-run")
	for _, want := range []string{lost + " ocr: would be enqueued", archived + " ocr: would be revived (new round) (round 1)", "would dispatch 2 tasks"} {
		if !strings.Contains(out, want) {
			t.Errorf("reconcile --dry-run printed %q, want a line with %q", out, want)
		}
	}
	if info, err := insp.GetTaskInfo(pipeline.QueueCounter, "ocr:"+archived); err != nil || info.State != asynq.TaskStateArchived {
		t.Fatalf("after a dry run the archived task is %+v, %v", info, err)
	}
	out = reconcile()
	for _, want := range []string{lost + " ocr: enqueued", archived + " ocr: revived (new round) (round 1)", "dispatched 2 tasks"} {
		if !strings.Contains(out, want) {
			t.Errorf("reconcile printed %q, want a line with %q", out, want)
		}
	}
	startCommand(t, "worker") // reconciling every 15 s (the default)
	awaitFinal := func(key string, within time.Duration) pipeline.InputState {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			st, err := pipeline.StateOf(ctx, repo, key)
			if err != nil {
				t.Fatal(err)
			}
			if st.Final {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is still %s after %s (needs %v)", key, st.State, within, st.Needs)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	for _, k := range []string{lost, archived} {
		if st := awaitFinal(k, 2*time.Minute); st.State != pipeline.StateIssued && st.State != pipeline.StateQuarantined {
			t.Errorf("%s ended %s", k, st.State)
		}
	}
	// Stored while Redis was down: no task at all. The worker's reconciler
	// finds it by its open marker.
	awaitFinal(store("while-redis-was-down.png"), 90*time.Second)
	if out := reconcile(); !strings.Contains(out, "dispatched 0 tasks") {
		t.Errorf("a reconcile with everything final printed %q", out)
	}
}
