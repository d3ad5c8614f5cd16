package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/ocr"
	"sohoa/pipeline"
	"sohoa/storage"
)

// reviewFixture is the pipeline's synthetic dossier: an application form
// and a marriage-status certificate (the result), perfectly recognised.
type reviewFixture struct {
	Pages []struct {
		Number int    `json:"number"`
		Text   string `json:"text"`
	} `json:"pages"`
	HolderID string `json:"holder_personal_id"`
}

// fixturePages lays the fixture's text out in words with boxes, and gives
// the certificate's ID word a second read of another number: its reads
// disagree and it goes to review with both readings.
func fixturePages(t *testing.T) ([]ocr.Page, string, string) {
	t.Helper()
	b, err := os.ReadFile("../pipeline/testdata/dossier.json")
	if err != nil {
		t.Fatal(err)
	}
	var f reviewFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	other := []byte(f.HolderID)
	other[8] = '0' + (other[8]-'0'+1)%10
	var pages []ocr.Page
	for _, p := range f.Pages {
		pg := ocr.Page{Number: p.Number, Text: p.Text, Confidence: 0.95, Width: 1654, Height: 2339, DPI: 200}
		for li, line := range strings.Split(p.Text, "\n") {
			x := 100
			for _, w := range strings.Fields(line) {
				word := ocr.Word{Text: w, Conf: 0.95, Line: li, Box: image.Rect(x, 100+li*40, x+20*len([]rune(w)), 130+li*40)}
				if p.Number == 2 && w == f.HolderID {
					word.Alts = []ocr.Reading{{Text: string(other), Conf: 0.9, Words: 1}}
				}
				pg.Words = append(pg.Words, word)
				x += 20*len([]rune(w)) + 15
			}
		}
		pages = append(pages, pg)
	}
	return pages, f.HolderID, string(other)
}

type fakeRecognizer struct {
	pages []ocr.Page
	png   []byte
}

func (f *fakeRecognizer) Process(ctx context.Context, _ []byte, _ string, sink ocr.PageSink) ([]ocr.Page, error) {
	for _, p := range f.pages {
		if err := sink(ctx, ocr.PageImage{Number: p.Number, Data: f.png, Format: "png", DPI: 200}); err != nil {
			return nil, err
		}
	}
	return f.pages, nil
}

type fakeIssuer struct{}

func (fakeIssuer) Issue(_ context.Context, req pipeline.IssueRequest) (pipeline.Issued, error) {
	return pipeline.Issued{PDF: []byte("%PDF-1.7 signed " + req.ResultCode), SignatureFormat: storage.SignatureCMSDetached, SigningTime: time.Unix(1_700_000_000, 0)}, nil
}

// taskQueue keeps what was enqueued.
type taskQueue struct {
	mu    sync.Mutex
	tasks []*asynq.Task
}

func (q *taskQueue) EnqueueContext(_ context.Context, t *asynq.Task, _ ...asynq.Option) (*asynq.TaskInfo, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tasks = append(q.tasks, t)
	return &asynq.TaskInfo{}, nil
}

type reviewEnv struct {
	*env
	pipe       *pipeline.Pipeline
	intake     *pipeline.Intake
	queue      *taskQueue
	srv        *httptest.Server
	inputKey   string
	doc        int
	id, other  string // the holder ID, and its other reading
	item, page string // the item's path, and its page image's
	png        []byte
}

func newReviewEnv(t *testing.T) *reviewEnv {
	t.Helper()
	e := newEnv(t)
	pages, id, other := fixturePages(t)
	img := image.NewGray(image.Rect(0, 0, 1654, 2339))
	for i := range img.Pix {
		img.Pix[i] = 250
	}
	img.Set(10, 10, color.Gray{0})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	q := &taskQueue{}
	pipe, err := pipeline.New(pipeline.Options{Repo: e.repo, Recognizer: &fakeRecognizer{pages: pages, png: buf.Bytes()}, Layouts: layouts,
		Issuer: fakeIssuer{}, Queue: q, AgencyCode: "000.00.31.H29", AgencyName: "UBND thử nghiệm", Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	in := pipeline.NewIntake(e.repo, q, "000.00.31.H29", nil)
	ctx := context.Background()
	sub, err := in.Submit(ctx, []byte("scan of a dossier"), storage.IntakeMeta{Name: "xac-nhan.png", Source: pipeline.SourceCounter, Office: "000.00.31.H29"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pipe.OCR(ctx, sub.InputKey); err != nil {
		t.Fatal(err)
	}
	pending, err := pipeline.PendingReviews(ctx, e.repo)
	if err != nil || len(pending) != 1 || pending[0].DocType != "xac-nhan-hon-nhan" {
		t.Fatalf("pending = %+v, %v; want the certificate", pending, err)
	}
	re := &reviewEnv{env: e, pipe: pipe, intake: in, queue: q, inputKey: sub.InputKey, doc: pending[0].Doc, id: id, other: other, png: buf.Bytes()}
	re.item = fmt.Sprintf("/review/%s/%d", re.inputKey, re.doc)
	re.page = re.item + "/page/2"
	re.srv = e.app(func(o *Options) {
		o.Repo, o.Pipeline, o.Intake, o.ReasonTexts = e.repo, pipe, in, pipeline.StaffTexts()
	})
	return re
}

func (re *reviewEnv) signin(user string, role Role) *browser {
	re.t.Helper()
	pw := re.user(user, role)
	b := newBrowser(re.t, re.srv)
	if resp, _ := b.signin(user, pw); resp.StatusCode != http.StatusSeeOther {
		re.t.Fatalf("sign-in of %s: %d", user, resp.StatusCode)
	}
	return b
}

// fieldBlock is the part of the item page about one field.
func fieldBlock(t *testing.T, page, slug string) string {
	t.Helper()
	i := strings.Index(page, `<div class="field `)
	for i >= 0 {
		rest := page[i:]
		end := strings.Index(rest[1:], `<div class="field `)
		block := rest
		if end >= 0 {
			block = rest[:end+1]
		}
		if strings.Contains(block[:strings.Index(block, ">")], `data-field="`+slug+`"`) {
			return block
		}
		if end < 0 {
			break
		}
		i += end + 1
	}
	t.Fatalf("page has no field %s", slug)
	return ""
}

var urlAttrRe = regexp.MustCompile(`(?:href|src|action)="([^"]*)"`)

// noIDOutsideBody: the citizen ID is in no URL of the page, no audit
// record and no log line.
func (re *reviewEnv) noIDOutsideBody(page string) {
	re.t.Helper()
	for _, m := range urlAttrRe.FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[1], re.id) || strings.Contains(m[1], re.other) {
			re.t.Errorf("a URL holds the citizen ID: %s", m[1])
		}
	}
	recs, _ := json.Marshal(re.audit.records())
	if bytes.Contains(recs, []byte(re.id)) || bytes.Contains(recs, []byte(re.other)) {
		re.t.Error("an audit record holds the citizen ID")
	}
	if strings.Contains(re.logs.String(), re.id) || strings.Contains(re.logs.String(), re.other) {
		re.t.Error("a log line holds the citizen ID")
	}
}

func TestReviewQueue(t *testing.T) {
	re := newReviewEnv(t)
	re.clk.Add(3*time.Hour + 5*time.Minute)
	rev := re.signin("kiemtra1", RoleReviewer)
	resp, page := rev.get("/review")
	wantStatus(t, "queue", resp, 200)
	texts := pipeline.StaffTexts()
	for _, want := range []string{`id="review-queue"`, `<a class="item" href="` + re.item + `"`, "Giấy xác nhận tình trạng hôn nhân",
		"3 giờ trước", pipeline.StaffReason(texts, "id_reads_disagree:personal_id"), "000.00.31.H29", "Chưa có người nhận", "/static/review.css"} {
		if !strings.Contains(page, want) {
			t.Errorf("queue lacks %q", want)
		}
	}
	if strings.Contains(page, "id_reads_disagree:") || strings.Contains(page, "style=") {
		t.Error("queue shows a raw reason code, or an inline style")
	}
	for q, want := range map[string]int{"?reason=id_reads_disagree": 1, "?type=xac-nhan-hon-nhan": 1, "?type=ket-hon": 0,
		"?office=000.00.31.H29": 1, "?office=000.00.99.H99": 0, "?reason=low_confidence": 0} {
		_, page := rev.get("/review" + q)
		if got := strings.Count(page, `<a class="item"`); got != want {
			t.Errorf("queue%s: %d items, want %d", q, got, want)
		}
	}
	// Opening claims it: the queue says so, to this reviewer and others.
	rev.get(re.item)
	if _, page := rev.get("/review"); !strings.Contains(page, "Bạn đang kiểm tra") {
		t.Error("queue does not show the item claimed by me")
	}
	rev2 := re.signin("kiemtra2", RoleSupervisor)
	if _, page := rev2.get("/review"); !strings.Contains(page, "Đang được cán bộ khác kiểm tra") || !strings.Contains(page, `data-claim="other"`) {
		t.Error("queue does not show the item claimed by another reviewer")
	}
	// A counter clerk may open none of it; each refusal is audited.
	clerk := re.signin("quay1", RoleCounter)
	before := strings.Count(strings.Join(re.rules(), " "), "role_forbidden")
	for _, p := range []string{"/review", re.item, re.page, re.item + "/status"} {
		resp, _ := clerk.get(p)
		wantStatus(t, "counter GET "+p, resp, http.StatusForbidden)
	}
	if got := strings.Count(strings.Join(re.rules(), " "), "role_forbidden") - before; got != 4 {
		t.Errorf("%d refusals audited, want 4", got)
	}
}

func TestReviewItemClaimsAndApproves(t *testing.T) {
	re := newReviewEnv(t)
	ctx := context.Background()
	rev := re.signin("kiemtra1", RoleReviewer)
	resp, page := rev.get(re.item)
	wantStatus(t, "item", resp, 200)
	id := fieldBlock(t, page, "personal_id")
	for _, want := range []string{`class="id-reading" data-value="` + re.id + `"`, `class="id-reading" data-value="` + re.other + `"`, "hai lần đọc «Số định danh cá nhân» cho kết quả khác nhau"} {
		if !strings.Contains(id, want) {
			t.Errorf("ID field lacks %q:\n%s", want, id)
		}
	}
	for _, want := range []string{`<image href="` + re.page + `"`, `viewBox="0 0 1654 2339"`, `<rect class="box failing" data-field="personal_id"`,
		`data-field="full_name" x="`, `id="approve"`, `id="reject"`, `id="shortcuts"`, "Ctrl</kbd>+<kbd>Enter", `/static/review.js`,
		`id="f-procedure_code" name="f.procedure_code"`} {
		if !strings.Contains(page, want) {
			t.Errorf("item page lacks %q", want)
		}
	}
	if strings.Contains(page, "style=") || strings.Contains(page, "<script>") {
		t.Error("item page has inline style or script")
	}
	if rs := re.rules(); rs[len(rs)-1] != "review_viewed" || re.audit.records()[len(rs)-1].Target != re.inputKey+"/"+fmt.Sprint(re.doc) {
		t.Errorf("opening the item was not audited with its target: %v", rs)
	}

	// Another reviewer sees it claimed, cannot decide it.
	rev2 := re.signin("kiemtra2", RoleReviewer)
	resp, page2 := rev2.get(re.item)
	wantStatus(t, "claimed item", resp, 200)
	if !strings.Contains(page2, "đang được cán bộ khác kiểm tra") || strings.Contains(page2, `id="approve"`) {
		t.Error("a claimed item opens for decision to a second reviewer")
	}
	approve := url.Values{"csrf": {csrf(t, page2)}, "action": {"approve"}, "f.procedure_code": {"1.004873"}}
	resp, _ = rev2.post(re.item, approve)
	wantStatus(t, "second reviewer's approval", resp, http.StatusConflict)
	if a, _, _ := pipeline.DocumentDecision(ctx, re.repo, re.inputKey, re.doc); a != nil {
		t.Fatal("the second reviewer's decision was recorded")
	}

	// No CSRF token: refused before anything happens.
	resp, _ = rev.post(re.item, url.Values{"action": {"approve"}, "f.procedure_code": {"1.004873"}})
	wantStatus(t, "approval without CSRF", resp, http.StatusForbidden)
	if rs := re.rules(); rs[len(rs)-1] != "csrf_missing" {
		t.Errorf("CSRF refusal not audited: %v", rs)
	}

	tok := csrf(t, page)
	post := func(form url.Values) (*http.Response, string) {
		form.Set("csrf", tok)
		return rev.post(re.item, form)
	}
	// Corrections are checked; each error is beside its field.
	resp, page = post(url.Values{"action": {"approve"}, "f.personal_id": {"12345"}, "f.date_of_birth": {"31/02/1990"}})
	wantStatus(t, "bad corrections", resp, http.StatusUnprocessableEntity)
	texts := pipeline.StaffTexts()
	for slug, want := range map[string]string{"personal_id": texts[pipeline.FieldIDFormat], "date_of_birth": texts[pipeline.FieldDateFormat],
		pipeline.FieldProcedureCode: ""} {
		block := fieldBlock(t, page, slug)
		if want != "" && !strings.Contains(block, `<p class="error" role="alert">`+want) {
			t.Errorf("field %s: error %q not beside it:\n%s", slug, want, block)
		}
	}
	if !strings.Contains(fieldBlock(t, page, "date_of_birth"), `value="31/02/1990"`) {
		t.Error("the entered value is not kept")
	}
	// The procedure code is required when none is known.
	resp, page = post(url.Values{"action": {"approve"}})
	wantStatus(t, "no procedure code", resp, http.StatusUnprocessableEntity)
	if !strings.Contains(fieldBlock(t, page, pipeline.FieldProcedureCode), texts[pipeline.FieldRequired]) {
		t.Error("missing procedure code not shown beside its field")
	}
	// An unknown field is refused.
	resp, page = post(url.Values{"action": {"approve"}, "f.bogus_field": {"x"}, "f.procedure_code": {"1.004873"}})
	wantStatus(t, "unknown field", resp, http.StatusUnprocessableEntity)
	if !strings.Contains(page, texts[pipeline.FieldUnknown]) {
		t.Error("unknown field refusal not shown")
	}
	if a, _, _ := pipeline.DocumentDecision(ctx, re.repo, re.inputKey, re.doc); a != nil {
		t.Fatal("a refused decision was recorded")
	}

	// Approve, choosing the other reading of the ID and correcting a name.
	resp, _ = post(url.Values{"action": {"approve"}, "f.personal_id": {re.id}, "f.full_name": {"NGUYỄN HỮU ĐỒNG"}, "f.procedure_code": {"1.004873"}})
	wantStatus(t, "approval", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != re.item {
		t.Errorf("after approval: Location %q", loc)
	}
	a, _, err := pipeline.DocumentDecision(ctx, re.repo, re.inputKey, re.doc)
	if err != nil || a == nil || !a.Approved || a.Fields["full_name"] != "NGUYỄN HỮU ĐỒNG" || a.Fields["procedure_code"] != "1.004873" {
		t.Fatalf("decision = %+v, %v", a, err)
	}
	if _, set := a.Fields["personal_id"]; set {
		t.Error("an unchanged value was recorded as a correction")
	}
	if rs := re.rules(); rs[len(rs)-1] != "review_approved" {
		t.Errorf("approval not audited: %v", rs)
	}
	if hs, _ := re.store.ClaimHolders(ctx, []string{claimKey(re.inputKey, re.doc)}); len(hs) != 0 {
		t.Errorf("claim not released after the decision: %v", hs)
	}
	_, page = rev.get(re.item)
	if !strings.Contains(page, `id="decision" class="decision approved" data-state="approved"`) || strings.Contains(page, `id="approve"`) {
		t.Error("approved item does not show the decision read-only")
	}
	status := func() map[string]string {
		_, body := rev.get(re.item + "/status")
		var st map[string]string
		json.Unmarshal([]byte(body), &st)
		return st
	}
	if st := status(); st["state"] != "approved" {
		t.Errorf("status before issuing = %v", st)
	}
	// The worker issues it (the task Decide queued).
	if len(re.queue.tasks) == 0 || re.queue.tasks[len(re.queue.tasks)-1].Type() != pipeline.TypeIssue {
		t.Fatal("approval queued no issue task")
	}
	if err := re.pipe.IssueDocument(ctx, re.inputKey, re.doc); err != nil {
		t.Fatal(err)
	}
	st := status()
	if st["state"] != "issued" || !strings.HasSuffix(st["result_code"], "-KQ2") && !strings.Contains(st["result_code"], "-KQ") {
		t.Errorf("status after issuing = %v", st)
	}
	_, page = rev.get(re.item)
	if !strings.Contains(page, `data-state="issued" data-result-code="`+st["result_code"]+`"`) || !strings.Contains(page, "Đã cấp kết quả điện tử") {
		t.Error("issued item does not show its result code")
	}
	if !strings.Contains(fieldBlock(t, page, "full_name"), `value="NGUYỄN HỮU ĐỒNG"`) || !strings.Contains(fieldBlock(t, page, "full_name"), "readonly") {
		t.Error("decided item does not show the decided values read-only")
	}
	re.noIDOutsideBody(page)
}

func TestReviewReject(t *testing.T) {
	re := newReviewEnv(t)
	ctx := context.Background()
	rev := re.signin("kiemtra1", RoleReviewer)
	_, page := rev.get(re.item)
	tok := csrf(t, page)
	resp, page := rev.post(re.item, url.Values{"csrf": {tok}, "action": {"reject"}})
	wantStatus(t, "rejection without reason", resp, http.StatusUnprocessableEntity)
	if !strings.Contains(page, "Hãy ghi lý do từ chối") {
		t.Error("missing reason not asked for")
	}
	resp, _ = rev.post(re.item, url.Values{"csrf": {tok}, "action": {"reject"}, "reason": {"Bản quét thiếu trang"}, "f.bogus": {"ignored on reject"}})
	wantStatus(t, "rejection", resp, http.StatusSeeOther)
	if a, _, _ := pipeline.DocumentDecision(ctx, re.repo, re.inputKey, re.doc); a == nil || a.Approved || a.Reason != "Bản quét thiếu trang" {
		t.Fatalf("decision = %+v", a)
	}
	if rs := re.rules(); rs[len(rs)-1] != "review_rejected" {
		t.Errorf("rejection not audited: %v", rs)
	}
	_, page = rev.get(re.item)
	if !strings.Contains(page, `class="decision rejected" data-state="rejected"`) || !strings.Contains(page, "Đã từ chối") ||
		strings.Contains(page, "Đã cấp") || strings.Contains(page, `class="decision issued"`) {
		t.Error("rejected item does not show as rejected")
	}
	_, body := rev.get(re.item + "/status")
	if !strings.Contains(body, `"state":"rejected"`) {
		t.Errorf("status = %s", body)
	}
	if _, page := rev.get("/review"); strings.Contains(page, re.item) {
		t.Error("decided item still in the queue")
	}
	re.noIDOutsideBody(page)
}

func TestReviewPageImage(t *testing.T) {
	re := newReviewEnv(t)
	rev := re.signin("kiemtra1", RoleReviewer)
	resp, body := rev.get(re.page)
	wantStatus(t, "page image", resp, 200)
	if resp.Header.Get("Content-Type") != "image/png" || resp.Header.Get("Cache-Control") != "no-store" || body != string(re.png) {
		t.Errorf("page image: %s, %s, %d bytes", resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), len(body))
	}
	// Page 1 is the application form, not this document.
	resp, _ = rev.get(re.item + "/page/1")
	wantStatus(t, "another document's page", resp, http.StatusNotFound)
	resp, _ = rev.get("/review/" + strings.Repeat("a", 52) + "/0/page/1")
	wantStatus(t, "unknown item", resp, http.StatusNotFound)
	anon := newBrowser(t, re.srv)
	resp, _ = anon.get(re.page)
	wantStatus(t, "signed out", resp, http.StatusSeeOther)
}

// TestUprightPage: a page recognised after a quarter turn is served
// turned, so its word boxes (in the turned page's pixels) fit.
func TestUprightPage(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 40, 20))
	img.SetGray(39, 0, color.Gray{0}) // top right
	var buf bytes.Buffer
	png.Encode(&buf, img)
	out, ctype, err := uprightPage(buf.Bytes(), ocr.Page{Number: 1, Rotation: 90})
	if err != nil || ctype != "image/jpeg" {
		t.Fatal(ctype, err)
	}
	got, _, err := image.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := got.Bounds(); b.Dx() != 20 || b.Dy() != 40 {
		t.Errorf("turned page is %v, want 20×40", b)
	}
	// Clockwise: the top right corner goes to the bottom right.
	if y, _, _, _ := got.At(19, 39).RGBA(); y > 0x8000 {
		t.Error("the page was not turned clockwise")
	}
	if _, _, err := uprightPage([]byte("not an image"), ocr.Page{Rotation: 90}); err == nil || errors.Is(err, nil) {
		t.Error("a broken image was served")
	}
}

func TestAgeText(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Second: "vừa xong", 5 * time.Minute: "5 phút trước",
		3*time.Hour + 59*time.Minute: "3 giờ trước", 50 * time.Hour: "2 ngày trước"} {
		if got := ageText(d); got != want {
			t.Errorf("ageText(%v) = %q, want %q", d, got, want)
		}
	}
}
