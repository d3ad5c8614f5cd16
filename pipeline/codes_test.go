package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	if st, _ := h.intake.Status(ctx, second); st.State != "rejected" || len(st.Results) != 0 || len(st.Review) != 0 {
		t.Errorf("after rejection = %+v, want rejected: no result and nothing pending", st)
	}
}

// upload is one request of the acceptance test: files under one dossier code
// field ("" for none).
type upload struct {
	dossier string
	files   int
	want    string // the refusal reason of every file, or "" for accepted
	perFile bool   // one dossier code per file
}

func postBatch(t *testing.T, url, dossier string, files map[string][]byte, perFile ...bool) (int, BatchResponse) {
	t.Helper()
	fields := map[string]string{"procedure_code": "1.004873"}
	if dossier != "" {
		fields["dossier_code"] = dossier
	}
	if len(perFile) > 0 && perFile[0] {
		fields["dossier_per_file"] = "1"
	}
	body, ct := multipartBody(t, fields, files)
	req, err := http.NewRequest("POST", url+"/v1/batches", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer counter-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var br BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		t.Fatalf("batch answer: %v", err)
	}
	return resp.StatusCode, br
}

// TestHundredUploadsEachEndOnce is the acceptance test of dossier codes: 100
// uploads with allocated, clashing, foreign, malformed, implausibly dated
// and ahead-of-counter dossier codes. Every file is either refused at the
// door with a reason, or ends in exactly one final state: none stays
// processing, no result is dropped, and no two uploads share a dossier.
func TestHundredUploadsEachEndOnce(t *testing.T) {
	h := newHarness(t)
	srv := newIntakeServer(t, h.intake.Handler())
	defer srv.Close()
	now := time.Now()
	const agency = "000.00.31.H29"
	code := func(day time.Time, seq int) string { return storage.FormatDossierCode(agency, day, seq) }
	ahead := []int{35, 41, 50, 58} // named before the counter gets there, then passed by it
	var plan []upload
	for range 5 {
		plan = append(plan, upload{"", 3, "", false}) // one dossier, one code
	}
	for _, seq := range ahead {
		plan = append(plan, upload{code(now, seq), 2, "", false})
	}
	for range 5 {
		plan = append(plan, upload{"", 3, "", true}) // a code per file
	}
	for _, seq := range ahead {
		plan = append(plan, upload{code(now, seq), 1, RefusedDossierTaken, false}) // another upload, same dossier
	}
	plan = append(plan,
		upload{"000.00.00.H00-" + now.In(storage.Vietnam()).Format("060102") + "-0001", 3, RefusedDossierAgency, false},
		upload{"000.01.31.H29-" + now.In(storage.Vietnam()).Format("060102") + "-0002", 2, RefusedDossierAgency, false},
		upload{"ABC", 2, RefusedDossierFormat, false},
		upload{agency + "-261340-0001", 2, RefusedDossierFormat, false}, // month 13
		upload{code(now, 0), 2, RefusedDossierFormat, false},            // sequence 0000
		upload{agency + "-" + now.In(storage.Vietnam()).Format("060102") + "-42", 2, RefusedDossierFormat, false},
		upload{code(now.AddDate(0, 0, 2), 7), 2, RefusedDossierDate, false},
		upload{code(now.AddDate(-2, 0, 0), 7), 2, RefusedDossierDate, false},
	)
	for range 8 {
		plan = append(plan, upload{"", 5, "", true}) // the counter now runs past the named codes
	}
	total := 0
	for _, u := range plan {
		total += u.files
	}
	// Clashes with codes the counter handed out come last: 100 files in all.
	var accepted []Submission
	var refused []Submission
	send := func(u upload) {
		files := map[string][]byte{}
		for range u.files {
			n := len(accepted) + len(refused) + len(files)
			files[fmt.Sprintf("scan-%03d.jpg", n)] = []byte(fmt.Sprintf("scan bytes %03d", n))
		}
		status, br := postBatch(t, srv.URL, u.dossier, files, u.perFile)
		if len(br.Files) != u.files {
			t.Fatalf("upload %+v answered %d files, want %d", u, len(br.Files), u.files)
		}
		codes := map[string]bool{}
		for _, f := range br.Files {
			codes[f.DossierCode] = true
		}
		switch {
		case u.want != "":
		case u.perFile && len(codes) != u.files:
			t.Errorf("upload %+v with a code per file: %d codes for %d files", u, len(codes), u.files)
		case !u.perFile && (len(codes) != 1 || !codes[br.DossierCode]):
			t.Errorf("upload %+v: codes %v, want all files under the batch's %s", u, codes, br.DossierCode)
		}
		wantStatus := http.StatusCreated
		if u.want != "" {
			wantStatus = http.StatusUnprocessableEntity
		}
		if status != wantStatus {
			t.Errorf("upload %+v answered %d, want %d", u, status, wantStatus)
		}
		for _, f := range br.Files {
			switch {
			case u.want == "" && f.Status == StatusQueued:
				accepted = append(accepted, f)
			case u.want != "" && f.Status == StatusRejected && f.Reason == u.want && f.Error != "" && f.InputKey == "":
				refused = append(refused, f)
			default:
				t.Errorf("upload %+v: file %+v, want %s", u, f, map[bool]string{true: "queued", false: "refused as " + u.want}[u.want == ""])
			}
		}
	}
	for _, u := range plan {
		send(u)
	}
	counted := map[string]bool{}
	for _, f := range accepted {
		counted[f.DossierCode] = true
	}
	for c := range counted {
		if len(accepted)+len(refused) >= 100 {
			break
		}
		if !slices.Contains(ahead, mustSeq(t, c)) {
			send(upload{c, 1, RefusedDossierTaken, false}) // a code the counter allocated
		}
	}
	for len(accepted)+len(refused) < 100 {
		send(upload{"", 1, "", false})
	}
	if n := len(accepted) + len(refused); n != 100 {
		t.Fatalf("sent %d files, want 100", n)
	}

	h.runAll(t)
	batchOf := map[string]string{} // dossier code → the upload that holds it
	results := map[string]string{} // result code → input key
	for _, f := range accepted {
		st := finalState(t, h, f.InputKey)
		if st.State != "issued" {
			t.Errorf("%s (%s) = %s, want issued", f.Name, f.DossierCode, st.State)
		}
		_, meta, err := h.repo.Intake(context.Background(), f.InputKey)
		if err != nil {
			t.Fatal(err)
		}
		if b, ok := batchOf[f.DossierCode]; ok && b != meta.BatchID {
			t.Errorf("dossier %s is shared by uploads %s and %s", f.DossierCode, b, meta.BatchID)
		}
		batchOf[f.DossierCode] = meta.BatchID
		for _, r := range st.Results {
			if other, dup := results[r]; dup {
				t.Errorf("result code %s issued twice (%s and %s)", r, other, f.InputKey)
			}
			results[r] = f.InputKey
		}
	}
	if len(results) != len(accepted) {
		t.Errorf("%d results for %d accepted scans of one result each", len(results), len(accepted))
	}
	// The files of one upload under a named code share its numbering.
	for _, seq := range ahead {
		for _, kq := range []string{"-KQ1", "-KQ2"} {
			if _, ok := results[code(now, seq)+kq]; !ok {
				t.Errorf("no result %s%s: the two files of the upload naming it", code(now, seq), kq)
			}
		}
	}
	top := 0
	for c := range batchOf {
		top = max(top, mustSeq(t, c))
	}
	if top <= slices.Max(ahead) {
		t.Errorf("the counter reached %04d, not past the named codes %v: the test proves nothing", top, ahead)
	}
	t.Logf("%d files (%d planned): %d refused at the door, %d issued under %d dossier codes up to %04d",
		len(accepted)+len(refused), total, len(refused), len(accepted), len(batchOf), top)
}

func mustSeq(t *testing.T, code string) int {
	t.Helper()
	_, _, seq, err := storage.ParseDossierCode(code)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}
