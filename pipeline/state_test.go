package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/ocr"
	"sohoa/storage"
)

// runOnly runs the queued tasks of one type once (as a worker that took
// only those before Redis lost the rest).
func (h *harness) runOnly(t *testing.T, typ string) {
	t.Helper()
	mux := h.pipe.Mux()
	for _, task := range h.queue.ofType(typ) {
		if err := mux.ProcessTask(context.Background(), task); err != nil && !errors.Is(err, asynq.SkipRetry) {
			t.Fatalf("task %s: %v", taskID(task), err)
		}
	}
}

// flush forgets every queued task, as FLUSHALL does.
func (h *harness) flush() {
	h.queue.mu.Lock()
	h.queue.tasks = nil
	h.queue.mu.Unlock()
}

// noMetaBucket leaves a scan stored as the old two-write intake did when
// it crashed between its writes: open markers did not exist (their writes
// vanish) and the metadata write fails.
type noMetaBucket struct{ storage.Bucket }

func (b noMetaBucket) Upload(ctx context.Context, key string, body io.Reader, size int64, sum string) error {
	if strings.HasPrefix(key, "open/") {
		return nil
	}
	if strings.HasSuffix(key, ".meta.json") {
		return fmt.Errorf("put %s: process killed", key)
	}
	return b.Bucket.Upload(ctx, key, body, size, sum)
}

func needs(st InputState) string {
	var s []string
	for _, n := range st.Needs {
		s = append(s, n.Task())
	}
	return strings.Join(s, ",")
}

// TestStateOfEveryState walks one input into each state the state machine
// knows, from the repository alone, and checks what it still needs.
func TestStateOfEveryState(t *testing.T) {
	ctx := context.Background()
	meta := storage.IntakeMeta{Name: "ho_so.pdf", Source: SourceCounter, ProcedureCode: "1.004873"}
	tests := []struct {
		name  string
		setup func(t *testing.T, h *harness) string
		state string
		final bool
		needs string
	}{
		{"stored, not recognised", func(t *testing.T, h *harness) string {
			return submit(t, h, meta)
		}, StateProcessing, false, "ocr"},
		{"recognised, issue task lost", func(t *testing.T, h *harness) string {
			k := submit(t, h, meta)
			h.runOnly(t, TypeOCR)
			h.flush()
			return k
		}, StateProcessing, false, "issue:1"},
		{"issued", func(t *testing.T, h *harness) string {
			k := submit(t, h, meta)
			h.runAll(t)
			return k
		}, StateIssued, true, ""},
		{"waiting for a person", func(t *testing.T, h *harness) string {
			k := submit(t, h, storage.IntakeMeta{Name: "f.jpg", Source: SourceBackfill})
			h.runAll(t)
			return k
		}, StateReview, false, ""},
		{"approved, issue enqueue failed", func(t *testing.T, h *harness) string {
			k := submit(t, h, storage.IntakeMeta{Name: "f.jpg", Source: SourceBackfill})
			h.runAll(t)
			h.queue.down = true
			err := h.pipe.Decide(ctx, Approval{InputKey: k, Doc: 1, Approved: true, By: "cb01", Fields: map[string]string{FieldProcedureCode: "1.004873"}})
			if err == nil {
				t.Fatal("Decide with the queue down succeeded")
			}
			h.queue.down = false
			return k
		}, StateProcessing, false, "issue:1"},
		{"rejected by a person", func(t *testing.T, h *harness) string {
			k := submit(t, h, storage.IntakeMeta{Name: "f.jpg", Source: SourceBackfill})
			h.runAll(t)
			if err := h.pipe.Decide(ctx, Approval{InputKey: k, Doc: 1, By: "cb01", Reason: "not legible"}); err != nil {
				t.Fatal(err)
			}
			return k
		}, StateRejected, true, ""},
		{"partly issued", func(t *testing.T, h *harness) string {
			k := submit(t, h, meta)
			h.runAll(t)
			// A second document sent to a person later.
			item := ReviewItem{InputKey: k, Documents: []Decision{{Doc: 0, Action: ActionReview, Reasons: []string{"x"}}}}
			if err := h.repo.PutSealedJSON(ctx, storage.ReviewDocKey(k, 0), item); err != nil {
				t.Fatal(err)
			}
			return k
		}, StatePartlyIssued, false, ""},
		{"kept: nothing to issue", func(t *testing.T, h *harness) string {
			h.rec.pages = h.rec.pages[:1] // the application form alone
			k := submit(t, h, meta)
			h.runAll(t)
			return k
		}, StateKept, true, ""},
		{"quarantined", func(t *testing.T, h *harness) string {
			h.rec.err = fmt.Errorf("decode: %w", ocr.ErrUnreadable)
			k := submit(t, h, meta)
			h.runAll(t)
			return k
		}, StateQuarantined, true, ""},
		{"metadata lost before open markers", func(t *testing.T, h *harness) string {
			old, err := storage.New(noMetaBucket{h.bucket}, storage.Options{Keys: testKeys()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := old.PutIntake(ctx, []byte("scan bytes"), meta); err == nil {
				t.Fatal("PutIntake without metadata succeeded")
			}
			return storage.InputKeyOf([]byte("scan bytes"))
		}, StateIncomplete, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			key := tt.setup(t, h)
			st, err := StateOf(ctx, h.repo, key)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tt.state || st.Final != tt.final || needs(st) != tt.needs {
				t.Errorf("state = %s final=%v needs=%q; want %s final=%v needs=%q", st.State, st.Final, needs(st), tt.state, tt.final, tt.needs)
			}
			if tt.state == StateIncomplete {
				return
			}
			// The status API's answer is the same state.
			got, err := statusOf(ctx, h.repo, key)
			if err != nil {
				t.Fatal(err)
			}
			if want := st.Status(); got.State != want.State || !slices.Equal(got.Results, want.Results) {
				t.Errorf("statusOf = %s %v, StateOf().Status() = %s %v", got.State, got.Results, want.State, want.Results)
			}
		})
	}
	if _, err := StateOf(ctx, newHarness(t).repo, storage.InputKeyOf([]byte("never uploaded"))); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("StateOf of nothing = %v, want ErrNotFound", err)
	}
}

func submit(t *testing.T, h *harness, meta storage.IntakeMeta) string {
	t.Helper()
	sub, err := h.intake.Submit(context.Background(), []byte("scan bytes"), meta)
	if err != nil {
		t.Fatal(err)
	}
	return sub.InputKey
}

// TestOCRStageWaitsForLostMetadata (finding 6): a scan stored without its
// metadata is not recognised into a record that has no dossier code (and
// then quarantined as bad_payload, its name lost): it waits, and sending
// the file again completes it.
func TestOCRStageWaitsForLostMetadata(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	old, err := storage.New(noMetaBucket{h.bucket}, storage.Options{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("scan bytes")
	key := storage.InputKeyOf(data)
	_, _ = old.PutIntake(ctx, data, storage.IntakeMeta{Name: "ho_so.pdf"})
	if err := h.pipe.OCR(ctx, key); err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.repo.Exists(ctx, storage.QuarantineKey(key)); ok {
		t.Fatal("a scan without metadata was quarantined")
	}
	if ok, _ := h.repo.Exists(ctx, storage.RecordKey(key)); ok {
		t.Fatal("a scan without metadata was recognised")
	}
	sub, err := h.intake.Submit(ctx, data, storage.IntakeMeta{Name: "ho_so.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	if err != nil {
		t.Fatal(err)
	}
	h.flush() // the first OCR task ran; the reconciler queues the new one
	r := &Reconciler{Repo: h.repo, Queue: h.queue}
	if _, err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	st, err := StateOf(ctx, h.repo, sub.InputKey)
	if err != nil || st.State != StateIssued || st.Intake.Meta.Name != "ho_so.pdf" {
		t.Fatalf("after sending it again: %s %+v, %v", st.State, st.Intake.Meta, err)
	}
}

// TestOCRStageRestoresMetadataFromOpenMarker (finding 6): a crash between
// the scan and its metadata leaves the metadata in the open marker; the OCR
// stage recognises the scan under its name and dossier code.
func TestOCRStageRestoresMetadataFromOpenMarker(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	crashing, err := storage.New(metaOnlyFails{h.bucket}, storage.Options{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	code, err := h.repo.AllocateDossierCode(ctx, "000.00.31.H29", time.Now(), storage.DossierClaim{BatchID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("scan bytes")
	if _, err := crashing.PutIntake(ctx, data, storage.IntakeMeta{Name: "ho_so.pdf", DossierCode: code, ProcedureCode: "1.004873"}); err == nil {
		t.Fatal("want the crash")
	}
	key := storage.InputKeyOf(data)
	st, err := StateOf(ctx, h.repo, key)
	if err != nil || needs(st) != "ocr" || st.Intake.Meta.Name != "ho_so.pdf" {
		t.Fatalf("state after the crash = %s needs %q meta %+v, %v", st.State, needs(st), st.Intake.Meta, err)
	}
	if n, err := Reconcile(ctx, h.repo, h.queue); err != nil || n != 1 {
		t.Fatalf("reconcile = %d, %v", n, err)
	}
	h.runAll(t)
	st, err = StateOf(ctx, h.repo, key)
	if err != nil || st.State != StateIssued || len(st.Results) != 1 || st.Results[0].ResultCode != code+"-KQ1" {
		t.Fatalf("after the reconciler: %s %+v, %v", st.State, st.Results, err)
	}
}

// metaOnlyFails fails the write of intake metadata beside the scan.
type metaOnlyFails struct{ storage.Bucket }

func (b metaOnlyFails) Upload(ctx context.Context, key string, body io.Reader, size int64, sum string) error {
	if strings.HasSuffix(key, ".meta.json") {
		return fmt.Errorf("put %s: process killed", key)
	}
	return b.Bucket.Upload(ctx, key, body, size, sum)
}
