package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"sohoa/audit"
	"sohoa/pipeline"
	"sohoa/storage"
)

const (
	officeA = "000.00.31.H29"
	officeB = "000.00.32.H29"
)

// intakeEnv is the app beside the intake API on a mem repository, as
// serve mounts them.
type intakeEnv struct {
	*env
	srv *httptest.Server
	in  *pipeline.Intake
}

func newIntakeEnv(t *testing.T) *intakeEnv { return serveIntake(t, newEnv(t)) }

// serveIntake starts another serve process on e's bucket and stores.
func serveIntake(t *testing.T, e *env) *intakeEnv {
	t.Helper()
	in := pipeline.NewIntake(e.repo, nopQueue{}, officeA, nil)
	in.Now = e.clk.Now
	app, err := New(Options{Accounts: e.accts, Sessions: e.store, Audit: e.audit, Now: e.clk.Now,
		AgencyName: "UBND phường Thử Nghiệm", AgencyCode: officeA, ReasonTexts: pipeline.StaffTexts(),
		Repo: e.repo, Intake: in, Procedures: map[string]string{"khai-sinh": "1.001193", "ket-hon": "1.000894"}})
	if err != nil {
		t.Fatal(err)
	}
	in.Authorize = app.Authorize
	mux := http.NewServeMux()
	mux.Handle("/v1/", in.Handler())
	mux.Handle("/", app.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &intakeEnv{env: e, srv: srv, in: in}
}

// clerk signs in a new counter clerk of office and returns its browser
// and the page's CSRF token.
func (ie *intakeEnv) clerk(name, office string, role Role) (*browser, string) {
	ie.t.Helper()
	pw := name + "-" + name + "-pw"
	if _, err := ie.accts.Create(context.Background(), name, "Cán bộ "+name, role, office, pw, "cli"); err != nil {
		ie.t.Fatal(err)
	}
	b := newBrowser(ie.t, ie.srv)
	b.signin(name, pw)
	_, page := b.get("/")
	m := regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		ie.t.Fatalf("no CSRF token on the page of %s", name)
	}
	return b, m[1]
}

func openBatch(t *testing.T, b *browser, tok string, req pipeline.BatchRequest) (int, pipeline.BatchResponse, string) {
	t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", b.base+"/v1/batches", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if tok != "" {
		r.Header.Set("X-CSRF-Token", tok)
	}
	resp, text := b.do(r)
	var br pipeline.BatchResponse
	json.Unmarshal([]byte(text), &br)
	return resp.StatusCode, br, text
}

func addFile(t *testing.T, b *browser, tok, batch, name string, data []byte) (int, pipeline.BatchResponse) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("files", name)
	fw.Write(data)
	mw.Close()
	r, _ := http.NewRequest("POST", b.base+"/v1/batches/"+batch+"/files", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	if tok != "" {
		r.Header.Set("X-CSRF-Token", tok)
	}
	resp, text := b.do(r)
	var br pipeline.BatchResponse
	json.Unmarshal([]byte(text), &br)
	return resp.StatusCode, br
}

func batchJSON(t *testing.T, b *browser, id string) (int, batchView) {
	t.Helper()
	resp, text := b.get("/batches/" + id + "/status")
	var v batchView
	json.Unmarshal([]byte(text), &v)
	return resp.StatusCode, v
}

// rawCode: a reason or state code as it would leak into a page.
var rawCode = regexp.MustCompile(`\b(?:missing_field|low_confidence|id_reads_disagree|quarantined|partly_issued|stored_object_corrupt|unreadable|dossier_code_\w+|procedure_code_\w+)\b`)

// TestBatchOfTenFilesSharesOneDossierCode: the upload page's flow — open
// a batch, send ten files one request each with the session — gives the
// ten files one dossier code; the batch page, its JSON, the history and
// the receipt show them, read from the bucket, in Vietnamese.
func TestBatchOfTenFilesSharesOneDossierCode(t *testing.T) {
	ie := newIntakeEnv(t)
	b, tok := ie.clerk("quay1", officeA, RoleCounter)
	_, page := b.get("/")
	for _, want := range []string{`id="dropzone"`, `id="file-input"`, `id="folder-input"`, "webkitdirectory", `id="per-file"`,
		`id="procedure-select"`, "Trích lục khai sinh (1.001193)", `id="start-upload"`, "/static/upload.js", "/static/intake.css"} {
		if !strings.Contains(page, want) {
			t.Errorf("upload page lacks %s", want)
		}
	}
	status, br, text := openBatch(t, b, tok, pipeline.BatchRequest{ProcedureCode: "1.001193"})
	if status != http.StatusCreated || br.DossierCode == "" {
		t.Fatalf("open batch: %d %s", status, text)
	}
	for i := range 10 {
		status, got := addFile(t, b, tok, br.BatchID, fmt.Sprintf("ho-so-%02d.jpg", i), []byte(fmt.Sprint("scan ", i)))
		if status != http.StatusCreated || got.Files[0].DossierCode != br.DossierCode {
			t.Fatalf("file %d: %d %+v", i, status, got)
		}
	}
	status, v := batchJSON(t, b, br.BatchID)
	if status != 200 || len(v.Files) != 10 || v.Final || v.DossierCode != br.DossierCode {
		t.Fatalf("status JSON: %d %+v", status, v)
	}
	for _, f := range v.Files {
		if f.DossierCode != br.DossierCode || f.State != pipeline.StateProcessing || f.StateText == "" || f.Final {
			t.Errorf("file %+v, want processing under %s", f, br.DossierCode)
		}
	}
	resp, page := b.get("/batches/" + br.BatchID)
	wantStatus(t, "batch page", resp, 200)
	if n := strings.Count(page, `data-state="processing"><td`); n != 10 {
		t.Errorf("batch page has %d processing rows, want 10", n)
	}
	for _, want := range []string{br.DossierCode, "ho-so-09.jpg", "Trích lục khai sinh", "/static/batch.js", "Đang xử lý"} {
		if !strings.Contains(page, want) {
			t.Errorf("batch page lacks %q", want)
		}
	}
	resp, page = b.get("/batches")
	wantStatus(t, "history", resp, 200)
	if !strings.Contains(page, br.BatchID) || !strings.Contains(page, "Đang xử lý: 10") {
		t.Errorf("history lacks the batch and its counts:\n%s", page)
	}
	resp, page = b.get("/batches/" + br.BatchID + "/receipt")
	wantStatus(t, "receipt", resp, 200)
	for _, want := range []string{"GIẤY TIẾP NHẬN HỒ SƠ", br.DossierCode, "UBND phường Thử Nghiệm", officeA, "ho-so-00.jpg",
		"Cán bộ quay1", "15:00 ngày 02/03/2026", "10 tệp", "/static/receipt.css", "1.001193"} {
		if !strings.Contains(page, want) {
			t.Errorf("receipt lacks %q", want)
		}
	}
	// Read from the bucket: another serve process (nothing cached)
	// shows the same.
	b2 := b.on(serveIntake(t, ie.env).srv)
	for _, p := range []string{"/batches", "/batches/" + br.BatchID, "/batches/" + br.BatchID + "/receipt"} {
		resp, body := b2.get(p)
		if resp.StatusCode != 200 || !strings.Contains(body, br.DossierCode) {
			t.Errorf("%s after a restart: %d, without the dossier code", p, resp.StatusCode)
		}
		if m := rawCode.FindString(body); m != "" {
			t.Errorf("%s shows the raw code %q", p, m)
		}
	}
}

// TestBatchPerFileOption: with the per-file box ticked each file gets its
// own dossier code; a typed code with it is refused in Vietnamese.
func TestBatchPerFileOption(t *testing.T) {
	ie := newIntakeEnv(t)
	b, tok := ie.clerk("quay1", officeA, RoleCounter)
	status, br, _ := openBatch(t, b, tok, pipeline.BatchRequest{PerFile: true})
	if status != http.StatusCreated || !br.PerFile {
		t.Fatalf("open: %d %+v", status, br)
	}
	codes := map[string]bool{}
	for i := range 4 {
		_, got := addFile(t, b, tok, br.BatchID, fmt.Sprintf("%d.pdf", i), []byte(fmt.Sprint("dossier ", i)))
		codes[got.Files[0].DossierCode] = true
	}
	if len(codes) != 4 {
		t.Errorf("codes %v, want 4 different", codes)
	}
	_, page := b.get("/batches/" + br.BatchID)
	if !strings.Contains(page, "Mỗi tệp một mã hồ sơ") {
		t.Error("batch page does not say each file has its own code")
	}
	status, _, text := openBatch(t, b, tok, pipeline.BatchRequest{PerFile: true, DossierCode: storage.FormatDossierCode(officeA, ie.clk.Now(), 5)})
	if status != http.StatusUnprocessableEntity || !strings.Contains(text, pipeline.RefusedDossierPerFile) {
		t.Errorf("per file with a code: %d %s", status, text)
	}
	if got := pipeline.StaffTexts()[pipeline.RefusedDossierPerFile]; got == "" {
		t.Error("no Vietnamese text for the refusal")
	}
}

// TestBatchOfAnotherOffice: a clerk of another office gets 403 (audited)
// on the batch's pages and API; a reviewer cannot open batches; a POST
// without the CSRF token is 403; the batch's own office may.
func TestBatchOfAnotherOffice(t *testing.T) {
	ie := newIntakeEnv(t)
	a, tokA := ie.clerk("quay1", officeA, RoleCounter)
	_, br, _ := openBatch(t, a, tokA, pipeline.BatchRequest{})
	addFile(t, a, tokA, br.BatchID, "a.jpg", []byte("scan a"))
	other, tokB := ie.clerk("quay2", officeB, RoleCounter)
	for _, p := range []string{"/batches/" + br.BatchID, "/batches/" + br.BatchID + "/status", "/batches/" + br.BatchID + "/receipt"} {
		resp, body := other.get(p)
		wantStatus(t, "another office's "+p, resp, http.StatusForbidden)
		if strings.Contains(body, "a.jpg") || strings.Contains(body, br.DossierCode) {
			t.Errorf("%s shows the batch to another office", p)
		}
	}
	if status, _ := addFile(t, other, tokB, br.BatchID, "b.jpg", []byte("scan b")); status != http.StatusForbidden {
		t.Errorf("another office adds a file: %d, want 403", status)
	}
	denied := 0
	for _, r := range ie.audit.records() {
		if r.Decision == audit.Deny && r.Rule == "batch_other_office" && r.Target == br.BatchID && r.Office == officeB {
			denied++
		}
	}
	if denied != 4 {
		t.Errorf("%d audited refusals of the other office, want 4", denied)
	}
	_, page := other.get("/batches")
	if strings.Contains(page, br.BatchID) {
		t.Error("another office's history lists the batch")
	}
	// No CSRF token: 403, nothing opened or added.
	if status, _, _ := openBatch(t, a, "", pipeline.BatchRequest{}); status != http.StatusForbidden {
		t.Errorf("open without the CSRF token: %d, want 403", status)
	}
	if status, _ := addFile(t, a, "", br.BatchID, "c.jpg", []byte("scan c")); status != http.StatusForbidden {
		t.Errorf("add without the CSRF token: %d, want 403", status)
	}
	if _, v := batchJSON(t, a, br.BatchID); len(v.Files) != 1 {
		t.Errorf("the batch holds %d files, want 1", len(v.Files))
	}
	rev, _ := ie.clerk("kiemtra1", officeA, RoleReviewer)
	if resp, _ := rev.get("/batches/" + br.BatchID); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a reviewer opens a batch: %d, want 403", resp.StatusCode)
	}
	sup, _ := ie.clerk("giamsat1", officeA, RoleSupervisor)
	if resp, _ := sup.get("/batches/" + br.BatchID); resp.StatusCode != 200 {
		t.Errorf("the office's supervisor opens its batch: %d, want 200", resp.StatusCode)
	}
	if resp, _ := a.get("/batches/20260302-080000-k3xq7mbn2v"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown batch: %d, want 404", resp.StatusCode)
	}
}

// TestBatchStatesInWords: every state and reason reads in Vietnamese; a
// rejected document is red (bad), never a success; a file name's personal
// ID is masked.
func TestBatchStatesInWords(t *testing.T) {
	app := &App{opts: Options{ReasonTexts: pipeline.StaffTexts()}}
	for _, tc := range []struct {
		st   pipeline.FileStatus
		tone string
		want string
	}{
		{pipeline.FileStatus{Name: "a.jpg", InputStatus: pipeline.InputStatus{State: pipeline.StateRejected}}, "bad", "từ chối"},
		{pipeline.FileStatus{Name: "a.jpg", InputStatus: pipeline.InputStatus{State: pipeline.StateQuarantined,
			Quarantine: &pipeline.QuarantineItem{Code: pipeline.CodeUnreadable, Error: "decode: image: unknown format"}}}, "bad", "không đọc được"},
		{pipeline.FileStatus{Name: "a.jpg", InputStatus: pipeline.InputStatus{State: pipeline.StateReview,
			Review: []pipeline.Decision{{Reasons: []string{"id_reads_disagree:personal_id", "low_confidence:personal_id"}}}}}, "warn", "«Số định danh cá nhân»"},
		{pipeline.FileStatus{Name: "a.jpg", InputStatus: pipeline.InputStatus{State: pipeline.StateIssued, Results: []string{"X-KQ1"}}}, "ok", "kết quả điện tử"},
	} {
		v := app.fileView(tc.st)
		all := v.StateText + " " + v.Detail
		if v.Tone != tc.tone || !strings.Contains(all, tc.want) || rawCode.MatchString(all) || strings.Contains(all, "decode") {
			t.Errorf("%s: %q (%s), want %s with %q", tc.st.State, all, v.Tone, tc.tone, tc.want)
		}
	}
	if got := safeName("CCCD_001199012345_to-khai.jpg"); strings.Contains(got, "001199012345") || !strings.HasPrefix(got, "CCCD_00") {
		t.Errorf("safeName = %q", got)
	}
}
