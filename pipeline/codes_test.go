package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"sohoa/storage"
)

// finalState checks the invariant of every input once the queue is drained:
// it ended with exactly one of result(s), a pending review or a quarantine
// record, and its reported state says which. It returns the state.
func finalState(t *testing.T, h *harness, key string) InputStatus {
	t.Helper()
	ctx := context.Background()
	st, err := h.intake.Status(ctx, key)
	if err != nil {
		t.Fatalf("status of %s: %v", key, err)
	}
	quarantined, err := h.repo.Exists(ctx, storage.QuarantineKey(key))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, has := range []bool{len(st.Results) > 0, len(st.Review) > 0, quarantined} {
		if has {
			n++
		}
	}
	want := map[string]bool{"issued": len(st.Results) > 0, "review": len(st.Review) > 0, "quarantined": quarantined}
	if n != 1 || !want[st.State] {
		t.Errorf("input %s (%s) ended %q with %d results, %d documents in review, quarantined %v; want exactly one final state",
			key, st.File, st.State, len(st.Results), len(st.Review), quarantined)
	}
	return st
}

// TestTakenResultCodeGoesToReview: an intake whose dossier code names
// another upload's dossier (as uploads could before codes were reserved)
// finds its result code taken at issue time. It is not dropped: it goes to
// review, and a person's approval issues it under the dossier's next code.
func TestTakenResultCodeGoesToReview(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	dossier := storage.FormatDossierCode("000.00.31.H29", time.Now(), 42)
	first, err := h.intake.Submit(ctx, []byte("first scan"), storage.IntakeMeta{Name: "a.jpg", Source: SourceCounter,
		DossierCode: dossier, ProcedureCode: "1.004873", BatchID: "batch-1"})
	if err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	if st := finalState(t, h, first.InputKey); st.State != "issued" || !slices.Equal(st.Results, []string{dossier + "-KQ1"}) {
		t.Fatalf("first upload = %+v, want issued as %s-KQ1", st, dossier)
	}

	// The same dossier code on an intake of another upload, stored past the
	// intake door.
	second, err := h.repo.PutIntake(ctx, []byte("second scan"), storage.IntakeMeta{Name: "b.jpg", Source: SourceCounter,
		DossierCode: dossier, ProcedureCode: "1.004873", BatchID: "batch-2"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := NewOCRTask(second, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.queue.EnqueueContext(ctx, task); err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	st := finalState(t, h, second)
	if st.State != "review" || len(st.Review) != 1 || !slices.Contains(st.Review[0].Reasons, ReasonResultCodeTaken) {
		t.Fatalf("second upload = %+v, want review for %s", st, ReasonResultCodeTaken)
	}
	pending, err := PendingReviews(ctx, h.repo)
	if err != nil || len(pending) != 1 || pending[0].InputKey != second {
		t.Fatalf("pending reviews = %+v, %v; want the second upload's document", pending, err)
	}
	if err := h.pipe.Decide(ctx, Approval{InputKey: second, Doc: pending[0].Doc, Approved: true, By: "cb01"}); err != nil {
		t.Fatalf("approve: %v", err)
	}
	h.runAll(t)
	if st := finalState(t, h, second); st.State != "issued" || !slices.Equal(st.Results, []string{dossier + "-KQ2"}) {
		t.Errorf("second upload after approval = %+v, want issued as %s-KQ2", st, dossier)
	}
	if m, err := h.repo.Get(ctx, dossier+"-KQ1"); err != nil || m.InputKey != first.InputKey {
		t.Errorf("%s-KQ1 = %+v, %v; want the first upload's, untouched", dossier, m, err)
	}
}

// TestTakenResultCodeRejected: a person may reject the document instead;
// it then stays out of the dossier.
func TestTakenResultCodeRejected(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	dossier := storage.FormatDossierCode("000.00.31.H29", time.Now(), 43)
	if _, err := h.intake.Submit(ctx, []byte("first scan"), storage.IntakeMeta{Name: "a.jpg", DossierCode: dossier,
		ProcedureCode: "1.004873", BatchID: "batch-1"}); err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	second, err := h.repo.PutIntake(ctx, []byte("second scan"), storage.IntakeMeta{Name: "b.jpg", DossierCode: dossier,
		ProcedureCode: "1.004873", BatchID: "batch-2"})
	if err != nil {
		t.Fatal(err)
	}
	task, _ := NewOCRTask(second, false)
	h.queue.EnqueueContext(ctx, task)
	h.runAll(t)
	st := finalState(t, h, second)
	if st.State != "review" {
		t.Fatalf("second upload = %+v, want review", st)
	}
	if err := h.pipe.Decide(ctx, Approval{InputKey: second, Doc: st.Review[0].Doc, Reason: "wrong dossier code", By: "cb01"}); err != nil {
		t.Fatalf("reject: %v", err)
	}
	h.runAll(t)
	if err := h.pipe.IssueDocument(ctx, second, st.Review[0].Doc); err != nil {
		t.Errorf("a redelivered issue of the rejected document: %v, want nil", err)
	}
	if st, _ := h.intake.Status(ctx, second); len(st.Results) != 0 || len(st.Review) != 0 {
		t.Errorf("after rejection = %+v, want no result and nothing pending", st)
	}
}
