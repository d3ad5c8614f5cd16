package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/ocr"
	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

// fixture is a synthetic two-document dossier (application form + result)
// with perfectly recognised text.
type fixture struct {
	Pages []struct {
		Number int    `json:"number"`
		Text   string `json:"text"`
	} `json:"pages"`
	HolderID string `json:"holder_personal_id"`
}

func loadFixture(t *testing.T) ([]ocr.Page, string) {
	t.Helper()
	b, err := os.ReadFile("testdata/dossier.json")
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var pages []ocr.Page
	for _, p := range f.Pages {
		pg := ocr.Page{Number: p.Number, Text: p.Text, Confidence: 0.95, Width: 1654, Height: 2339, DPI: 200}
		for li, line := range strings.Split(p.Text, "\n") {
			x := 100
			for _, w := range strings.Fields(line) {
				pg.Words = append(pg.Words, ocr.Word{Text: w, Conf: 0.95, Line: li,
					Box: image.Rect(x, 100+li*40, x+20*len([]rune(w)), 130+li*40)})
				x += 20*len([]rune(w)) + 15
			}
		}
		pages = append(pages, pg)
	}
	return pages, f.HolderID
}

type fakeRecognizer struct {
	pages   []ocr.Page
	err     error
	pageDPI float64
	calls   int
	mu      sync.Mutex
}

func (f *fakeRecognizer) dpi() float64 {
	if f.pageDPI > 0 {
		return f.pageDPI
	}
	return 200
}

// Process gives the page images to sink last page first: a recognizer
// may deliver them in any order.
func (f *fakeRecognizer) Process(ctx context.Context, data []byte, name string, sink ocr.PageSink) ([]ocr.Page, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	for i := len(f.pages) - 1; i >= 0; i-- {
		p := f.pages[i]
		img := ocr.PageImage{Number: p.Number, Data: []byte(fmt.Sprintf("png-bytes-of-page-%d", p.Number)), Format: "png", DPI: f.dpi()}
		if err := sink(ctx, img); err != nil {
			return nil, err
		}
	}
	return f.pages, nil
}

type fakeIssuer struct {
	reqs []IssueRequest
}

func (f *fakeIssuer) Issue(ctx context.Context, req IssueRequest) (Issued, error) {
	f.reqs = append(f.reqs, req)
	return Issued{PDF: []byte("%PDF-1.7 signed " + req.ResultCode), SignatureFormat: storage.SignatureCMSDetached, SigningTime: time.Unix(1_700_000_000, 0)}, nil
}

type fakeQueue struct {
	mu    sync.Mutex
	tasks map[string]*asynq.Task
	down  bool
}

func (q *fakeQueue) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.down {
		return nil, errors.New("dial tcp 127.0.0.1:16379: connection refused")
	}
	if q.tasks == nil {
		q.tasks = map[string]*asynq.Task{}
	}
	id := taskID(t)
	if _, ok := q.tasks[id]; ok {
		return nil, asynq.ErrTaskIDConflict
	}
	q.tasks[id] = t
	return &asynq.TaskInfo{ID: id}, nil
}

// taskID recomputes the ID our constructors give a task.
func taskID(t *asynq.Task) string {
	switch t.Type() {
	case TypeOCR:
		var p OCRPayload
		_ = json.Unmarshal(t.Payload(), &p)
		return "ocr:" + p.InputKey
	default:
		var p IssuePayload
		_ = json.Unmarshal(t.Payload(), &p)
		return fmt.Sprintf("issue:%s:%d", p.InputKey, p.Doc)
	}
}

func (q *fakeQueue) ofType(typ string) []*asynq.Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*asynq.Task
	for _, t := range q.tasks {
		if t.Type() == typ {
			out = append(out, t)
		}
	}
	return out
}

func testKeys() storage.Keys {
	k := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	return storage.Keys{IndexKeys: map[string][]byte{"k1": k(1)}, IndexKID: "k1", SealKeys: map[string][]byte{"s1": k(2)}, SealKID: "s1"}
}

type harness struct {
	repo   *storage.Repository
	bucket *mem.Bucket
	rec    *fakeRecognizer
	iss    *fakeIssuer
	queue  *fakeQueue
	pipe   *Pipeline
	intake *Intake
	holder string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	pages, holder := loadFixture(t)
	b := mem.New()
	repo, err := storage.New(b, storage.Options{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{repo: repo, bucket: b, rec: &fakeRecognizer{pages: pages}, iss: &fakeIssuer{}, queue: &fakeQueue{}, holder: holder}
	h.pipe, err = New(Options{Repo: repo, Recognizer: h.rec, Layouts: layouts, Issuer: h.iss, Queue: h.queue, AgencyCode: "000.00.31.H29", AgencyName: "UBND test"})
	if err != nil {
		t.Fatal(err)
	}
	h.intake = NewIntake(repo, h.queue, "000.00.31.H29", nil)
	h.intake.Token = "counter-secret"
	return h
}

// runAll drains the fake queue through the real handlers, as a worker would.
func (h *harness) runAll(t *testing.T) {
	t.Helper()
	mux := h.pipe.Mux()
	done := map[string]bool{}
	for round := 0; round < 10; round++ {
		progressed := false
		for _, typ := range []string{TypeOCR, TypeIssue} {
			for _, task := range h.queue.ofType(typ) {
				id := taskID(task)
				if done[id] {
					continue
				}
				done[id] = true
				progressed = true
				if err := mux.ProcessTask(context.Background(), task); err != nil && !errors.Is(err, asynq.SkipRetry) {
					t.Fatalf("task %s: %v", id, err)
				}
			}
		}
		if !progressed {
			return
		}
	}
}

func TestPipelineIssuesResultAndKeepsForm(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sub, err := h.intake.Submit(ctx, []byte("scan bytes"), storage.IntakeMeta{Name: "ho_so.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != StatusQueued || !validInputKey(sub.InputKey) || !storage.ValidDossierCode(sub.DossierCode) {
		t.Fatalf("submission = %+v", sub)
	}
	h.runAll(t)

	var rec Record
	if err := h.repo.GetSealedJSON(ctx, storage.RecordKey(sub.InputKey), &rec); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, d := range rec.Decisions {
		actions = append(actions, rec.Result.Documents[d.Doc].DocType+"="+d.Action)
	}
	if got, want := strings.Join(actions, ","), "to-khai=keep,xac-nhan-hon-nhan=issue"; got != want {
		t.Fatalf("decisions = %s, want %s (review reasons: %+v)", got, want, rec.Decisions)
	}
	if len(h.iss.reqs) != 1 {
		t.Fatalf("issuer called %d times, want 1", len(h.iss.reqs))
	}
	code := sub.DossierCode + "-KQ1"
	if h.iss.reqs[0].ResultCode != code {
		t.Errorf("result code = %s, want %s", h.iss.reqs[0].ResultCode, code)
	}
	m, err := h.repo.Get(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if m.DocType != "xac-nhan-hon-nhan" || m.InputKey != sub.InputKey || m.IssuedAt.IsZero() {
		t.Errorf("manifest = %+v", m)
	}
	// The converting agency is the configured one; the issuing authority
	// is the one printed on the paper, under its own name.
	authority := rec.Result.Documents[1].Fields["issuing_authority"].Value
	if m.ConvertingAgency != (storage.Agency{Code: "000.00.31.H29", Name: "UBND test"}) || authority == "" ||
		m.IssuingAuthority == nil || m.IssuingAuthority.Name != authority || h.iss.reqs[0].IssuingAuthority == nil || h.iss.reqs[0].IssuingAuthority.Name != authority {
		t.Errorf("converting agency %+v, issuing authority %+v, want the configured agency and %q", m.ConvertingAgency, m.IssuingAuthority, authority)
	}
	// The data document given to the issuer (to embed before signing) is
	// the manifest's, and the manifest records its hash.
	data := h.iss.reqs[0].Data
	var doc storage.ResultData
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("data document: %v", err)
	}
	if m.File.DataSHA256 != storage.SHA256Hex(data) || doc.ResultCode != code || doc.DocType != m.DocType || doc.IssuedAt != m.IssuedAt ||
		doc.ConvertingAgency != m.ConvertingAgency || doc.IssuingAuthority == nil || doc.IssuingAuthority.Name != authority ||
		doc.Fields["full_name"].Value != rec.Result.Documents[1].Fields["full_name"].Value || doc.Fields["full_name"].VerifiedByPerson {
		t.Errorf("data document %s does not match the manifest %+v (data_sha256 %s)", data, m, m.File.DataSHA256)
	}
	if m.File.SignatureFormat != storage.SignatureCMSDetached {
		t.Errorf("signature format %q, want %q", m.File.SignatureFormat, storage.SignatureCMSDetached)
	}
	hits, err := h.repo.Search(ctx, storage.Query{IDType: "CCCD", ID: h.holder, IncludeHistory: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].ResultCode != code {
		t.Fatalf("search = %+v, want one hit %s", hits, code)
	}
	st, err := h.intake.Status(ctx, sub.InputKey)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "issued" || len(st.Results) != 1 {
		t.Errorf("status = %+v, want issued with one result", st)
	}

	// No key, and no stored body, carries the holder's ID or name in clear.
	name := rec.Result.Documents[1].Fields["full_name"].Value
	if name == "" {
		t.Fatal("fixture has no holder name")
	}
	storagetest.CheckKeys(t, h.bucket, []string{h.holder}, []string{name})
	err = h.bucket.List(ctx, "", func(oi storage.ObjectInfo) error {
		body, _, err := h.bucket.Get(ctx, oi.Key)
		if err != nil {
			return err
		}
		if strings.Contains(string(body), h.holder) || strings.Contains(string(body), name) {
			t.Errorf("object %s holds the holder ID or name in clear", oi.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPipelineIsIdempotent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sub, err := h.intake.Submit(ctx, []byte("scan bytes"), storage.IntakeMeta{Name: "a.pdf", Source: SourceCounter, ProcedureCode: "1.004873"})
	if err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	// Redelivery of both stages, as asynq may do after a lost lease.
	if err := h.pipe.OCR(ctx, sub.InputKey); err != nil {
		t.Fatal(err)
	}
	if err := h.pipe.IssueDocument(ctx, sub.InputKey, 1); err != nil {
		t.Fatal(err)
	}
	if h.rec.calls != 1 {
		t.Errorf("recognizer ran %d times, want 1", h.rec.calls)
	}
	if len(h.iss.reqs) != 1 {
		t.Errorf("issuer ran %d times, want 1", len(h.iss.reqs))
	}
	again, err := h.intake.Submit(ctx, []byte("scan bytes"), storage.IntakeMeta{Name: "a-again.pdf", Source: SourceCounter})
	if err != nil {
		t.Fatal(err)
	}
	if again.InputKey != sub.InputKey || again.DossierCode != sub.DossierCode || again.Status != StatusAlreadyQueued {
		t.Errorf("re-upload = %+v, want same key and dossier, already queued (first %+v)", again, sub)
	}
}

func TestPipelineQuarantinesBadInput(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	empty, err := h.intake.Submit(ctx, nil, storage.IntakeMeta{Name: "empty.pdf", Source: SourceCounter})
	if err != nil || empty.Status != StatusRejected || !strings.Contains(empty.Error, "empty.pdf") {
		t.Fatalf("empty upload = %+v, %v; want rejected naming the file", empty, err)
	}
	h.rec.err = fmt.Errorf("zero_pages.tif: first IFD offset is 0: %w", ocr.ErrEmpty)
	sub, err := h.intake.Submit(ctx, []byte("II*\x00\x00\x00\x00\x00"), storage.IntakeMeta{Name: "zero_pages.tif", Source: SourceCounter})
	if err != nil {
		t.Fatal(err)
	}
	task := h.queue.ofType(TypeOCR)[0]
	err = h.pipe.Mux().ProcessTask(ctx, task)
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("handler error = %v, want SkipRetry", err)
	}
	var q QuarantineItem
	if err := h.repo.GetSealedJSON(ctx, storage.QuarantineKey(sub.InputKey), &q); err != nil {
		t.Fatal(err)
	}
	if q.Code != CodeEmpty || q.File != "zero_pages.tif" || !strings.Contains(q.Error, "zero_pages.tif") {
		t.Errorf("quarantine = %+v", q)
	}
	// The original bytes stay where they were.
	if _, _, err := h.repo.Intake(ctx, sub.InputKey); err != nil {
		t.Errorf("intake after quarantine: %v", err)
	}
	st, err := h.intake.Status(ctx, sub.InputKey)
	if err != nil || st.State != "quarantined" {
		t.Errorf("status = %+v, %v; want quarantined", st, err)
	}
	// A transient failure is retried, not quarantined.
	h2 := newHarness(t)
	h2.rec.err = errors.New("ocr child: connection reset")
	sub2, _ := h2.intake.Submit(ctx, []byte("x"), storage.IntakeMeta{Name: "b.jpg", Source: SourceCounter})
	err = h2.pipe.Mux().ProcessTask(ctx, h2.queue.ofType(TypeOCR)[0])
	if err == nil || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("transient error = %v, want a retryable error", err)
	}
	if ok, _ := h2.repo.Exists(ctx, storage.QuarantineKey(sub2.InputKey)); ok {
		t.Error("transient failure was quarantined")
	}
}

func TestResultWithoutProcedureGoesToReview(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	sub, err := h.intake.Submit(ctx, []byte("scan"), storage.IntakeMeta{Name: "d.jpg", Source: SourceBackfill})
	if err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	if len(h.iss.reqs) != 0 {
		t.Fatalf("issued %d results without a procedure code", len(h.iss.reqs))
	}
	st, err := h.intake.Status(ctx, sub.InputKey)
	if err != nil || st.State != "review" || len(st.Review) != 1 || st.Review[0].Reasons[0] != "procedure_code_unknown" {
		t.Fatalf("status = %+v, %v; want review for procedure_code_unknown", st, err)
	}
	// With the installation's mapping, the same backfilled scan is issued.
	h2 := newHarness(t)
	h2.pipe.o.Procedures = map[string]string{"xac-nhan-hon-nhan": "1.004873"}
	if _, err := h2.intake.Submit(ctx, []byte("scan"), storage.IntakeMeta{Name: "d.jpg", Source: SourceBackfill}); err != nil {
		t.Fatal(err)
	}
	h2.runAll(t)
	if len(h2.iss.reqs) != 1 || h2.iss.reqs[0].ProcedureCode != "1.004873" || h2.iss.reqs[0].Origin != "digitized_backfill" {
		t.Fatalf("issue requests = %+v, want one under 1.004873, digitized_backfill", h2.iss.reqs)
	}
}

func TestLowResolutionScanGoesToReview(t *testing.T) {
	h := newHarness(t)
	h.rec.pageDPI = 150
	ctx := context.Background()
	sub, err := h.intake.Submit(ctx, []byte("scan"), storage.IntakeMeta{Name: "e.jpg", Source: SourceCounter, ProcedureCode: "1.004873"})
	if err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	st, err := h.intake.Status(ctx, sub.InputKey)
	if err != nil || st.State != "review" || len(h.iss.reqs) != 0 {
		t.Fatalf("status = %+v, %v, %d issued; want review and nothing issued", st, err, len(h.iss.reqs))
	}
	if got := strings.Join(st.Review[0].Reasons, ","); !strings.Contains(got, "dpi_below_200") {
		t.Errorf("review reasons = %s, want a dpi reason", got)
	}
}

func TestSubmitWhenQueueDown(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.queue.down = true
	sub, err := h.intake.Submit(ctx, []byte("scan"), storage.IntakeMeta{Name: "c.png", Source: SourceCounter, ProcedureCode: "1.004873"})
	if err == nil || sub.Status != StatusStoredNotQueued {
		t.Fatalf("submit with queue down = %+v, %v; want stored_not_queued and an error", sub, err)
	}
	if _, _, err := h.repo.Intake(ctx, sub.InputKey); err != nil {
		t.Fatalf("intake not stored before answering: %v", err)
	}
	h.queue.down = false
	n, err := Reconcile(ctx, h.repo, h.queue)
	if err != nil || n != 1 {
		t.Fatalf("reconcile = %d, %v; want 1", n, err)
	}
	h.runAll(t)
	if n, _ := Reconcile(ctx, h.repo, h.queue); n != 0 {
		t.Errorf("second reconcile requeued %d, want 0", n)
	}
}

func TestReviewApproval(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// A backfilled scan without a procedure code waits for a person.
	sub, err := h.intake.Submit(ctx, []byte("scan"), storage.IntakeMeta{Name: "f.jpg", Source: SourceBackfill})
	if err != nil {
		t.Fatal(err)
	}
	h.runAll(t)
	pending, err := PendingReviews(ctx, h.repo)
	if err != nil || len(pending) != 1 || pending[0].DocType != "xac-nhan-hon-nhan" {
		t.Fatalf("pending = %+v, %v; want the result document", pending, err)
	}
	doc := pending[0].Doc
	wrongSex := h.holder[:3] + string('0'+(h.holder[3]-'0')^1) + h.holder[4:] // flips the sex digit
	tests := []struct {
		name string
		a    Approval
		want string // error substring; "" means accepted
	}{
		{"no reviewer", Approval{Approved: true, Fields: map[string]string{FieldProcedureCode: "1.004873"}}, "reviewer"},
		{"reject without reason", Approval{By: "cb01"}, "reason"},
		{"id not 12 digits", Approval{Approved: true, By: "cb01", Fields: map[string]string{FieldHolderID: "12345", FieldProcedureCode: "1.004873"}}, "12 digits"},
		{"id contradicts sex", Approval{Approved: true, By: "cb01", Fields: map[string]string{FieldHolderID: wrongSex, FieldProcedureCode: "1.004873"}}, "id_sex_mismatch"},
		{"form is not a result", Approval{Doc: -1, Approved: true, By: "cb01"}, "not waiting for review"},
		{"approve", Approval{Approved: true, By: "cb01", Fields: map[string]string{FieldProcedureCode: "1.004873", "full_name": "NGUYỄN HỮU ĐÔNG"}}, ""},
		{"second decision", Approval{Approved: false, By: "cb02", Reason: "changed my mind"}, "already decided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			a.InputKey = sub.InputKey
			if a.Doc == 0 {
				a.Doc = doc
			}
			err := h.pipe.Decide(ctx, a)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Decide: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Decide error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	h.runAll(t)
	if len(h.iss.reqs) != 1 || h.iss.reqs[0].ProcedureCode != "1.004873" || h.iss.reqs[0].Document.Fields["full_name"].Value != "NGUYỄN HỮU ĐÔNG" {
		t.Fatalf("issue requests = %+v, want one with the reviewer's corrections", h.iss.reqs)
	}
	m, err := h.repo.Get(ctx, h.iss.reqs[0].ResultCode)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := h.repo.Sealed(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if f := sealed.Extracted["full_name"]; f.VerifiedBy != "cb01" || f.VerifiedAt == nil {
		t.Errorf("full_name = %+v, want verified by cb01", f)
	}
	var data storage.ResultData
	if err := json.Unmarshal(h.iss.reqs[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if f := data.Fields["full_name"]; f.Value != "NGUYỄN HỮU ĐÔNG" || !f.VerifiedByPerson || f.VerifiedAt == nil {
		t.Errorf("data document's full_name = %+v, want the reviewer's value, verified by a person", f)
	}
	if pending, _ := PendingReviews(ctx, h.repo); len(pending) != 0 {
		t.Errorf("still pending after approval: %+v", pending)
	}
	if st, _ := h.intake.Status(ctx, sub.InputKey); st.State != "issued" {
		t.Errorf("state after approval = %s, want issued", st.State)
	}
}

// TestWorkerLogOmitsFileNames: an upload named after its holder is
// quarantined with its name in the (sealed) quarantine record, but the
// worker's log line carries the input key, not the name.
func TestWorkerLogOmitsFileNames(t *testing.T) {
	h := newHarness(t)
	var logs bytes.Buffer
	h.pipe.o.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	ctx := context.Background()
	name := "ho_so_Nguyễn_Thị_Thu_Trang.tif"
	h.rec.err = fmt.Errorf("recognise %s: first IFD offset is 0: %w", name, ocr.ErrEmpty)
	sub, err := h.intake.Submit(ctx, []byte("II*\x00\x00\x00\x00\x00"), storage.IntakeMeta{Name: name, Source: SourceCounter})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.pipe.Mux().ProcessTask(ctx, h.queue.ofType(TypeOCR)[0]); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("handler error = %v, want SkipRetry", err)
	}
	var q QuarantineItem
	if err := h.repo.GetSealedJSON(ctx, storage.QuarantineKey(sub.InputKey), &q); err != nil || !strings.Contains(q.Error, name) {
		t.Fatalf("quarantine record %+v, %v; want it to name the file", q, err)
	}
	for _, part := range []string{"Nguyễn", "Trang", name} {
		if strings.Contains(logs.String(), part) {
			t.Errorf("worker log shows %q:\n%s", part, logs.String())
		}
	}
	if !strings.Contains(logs.String(), sub.InputKey) || !strings.Contains(logs.String(), "<file>") {
		t.Errorf("worker log lacks the input key or the <file> placeholder:\n%s", logs.String())
	}
}
