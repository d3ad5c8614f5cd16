package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func multipartBody(t *testing.T, fields map[string]string, files map[string][]byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		w, err := mw.CreateFormFile("files", name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestIntakeHTTP(t *testing.T) {
	h := newHarness(t)
	h.intake.Token = "counter-secret"
	srv := httptest.NewServer(h.intake.Handler())
	defer srv.Close()

	post := func(token string, fields map[string]string, files map[string][]byte) (*http.Response, BatchResponse) {
		body, ct := multipartBody(t, fields, files)
		req, _ := http.NewRequest("POST", srv.URL+"/v1/batches", body)
		req.Header.Set("Content-Type", ct)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var br BatchResponse
		json.NewDecoder(resp.Body).Decode(&br)
		return resp, br
	}

	resp, _ := post("", nil, map[string][]byte{"a.jpg": []byte("x")})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", resp.StatusCode)
	}
	resp, _ = post("counter-secret", map[string]string{"dossier_code": "../../etc"}, map[string][]byte{"a.jpg": []byte("x")})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad dossier code: status %d, want 400", resp.StatusCode)
	}
	files := map[string][]byte{"../../evil/a.jpg": []byte("scan a"), "empty.pdf": nil, "b.png": []byte("scan b")}
	resp, br := post("counter-secret", map[string]string{"dossier_code": "000.00.31.H29-250718-0042", "procedure_code": "1.004873"}, files)
	if resp.StatusCode != http.StatusCreated || len(br.Files) != 3 {
		t.Fatalf("batch: status %d, %+v", resp.StatusCode, br)
	}
	byName := map[string]Submission{}
	for _, f := range br.Files {
		byName[f.Name] = f
	}
	if s := byName["a.jpg"]; s.Status != StatusQueued || s.DossierCode != "000.00.31.H29-250718-0042" {
		t.Errorf("a.jpg (path stripped) = %+v", s)
	}
	if s := byName["empty.pdf"]; s.Status != StatusRejected || !strings.Contains(s.Error, "empty.pdf") {
		t.Errorf("empty.pdf = %+v, want rejected naming the file", s)
	}
	// Re-uploading the same scan is not a second job.
	_, br2 := post("counter-secret", nil, map[string][]byte{"b-copy.png": []byte("scan b")})
	if s := br2.Files[0]; s.Status != StatusAlreadyQueued || s.InputKey != byName["b.png"].InputKey {
		t.Errorf("re-upload = %+v, want already_queued with the same key", s)
	}

	req, _ := http.NewRequest("GET", srv.URL+"/v1/inputs/"+byName["b.png"].InputKey, nil)
	req.Header.Set("Authorization", "Bearer counter-secret")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var st InputStatus
	json.NewDecoder(r.Body).Decode(&st)
	r.Body.Close()
	if r.StatusCode != 200 || st.State != "processing" || st.File != "b.png" {
		t.Errorf("status: %d %+v", r.StatusCode, st)
	}
	page, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var pb bytes.Buffer
	pb.ReadFrom(page.Body)
	page.Body.Close()
	if !strings.Contains(pb.String(), "Tiếp nhận bản quét") || !strings.Contains(pb.String(), "/v1/batches") {
		t.Error("upload page lacks its Vietnamese title or the upload endpoint")
	}
}

func TestCleanName(t *testing.T) {
	long := strings.Repeat("Nguyễn_Thị_", 30) + ".jpg"
	tests := []struct{ in, want string }{
		{"a.jpg", "a.jpg"},
		{"../../etc/passwd", "passwd"},
		{`C:\scans\b.png`, "b.png"},
		{"bad\x00\nname.pdf", "badname.pdf"},
		{"", "unnamed"},
		{"/", "unnamed"},
	}
	for _, tt := range tests {
		if got := cleanName(tt.in); got != tt.want {
			t.Errorf("cleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := cleanName(long); len(got) > 255 || !strings.HasPrefix(got, "Nguyễn") || !utf8Valid(got) {
		t.Errorf("cleanName(long) = %d bytes %q", len(got), got)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestBackfillResumes(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	for _, n := range []string{"a/1.jpg", "a/2.png", "b/3.tif", "b/notes.txt", "c/4.pdf", ".hidden/5.jpg"} {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("scan "+n), 0o644)
	}
	cpDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	bf := &Backfill{Intake: h.intake, CheckpointDir: cpDir, Every: 1,
		// Interrupt the first run after two files, as a crash would.
		Backlog: func(context.Context) (int, error) {
			calls++
			if calls == 3 {
				cancel()
			}
			return 0, nil
		}, MaxBacklog: 1}
	rep, err := bf.Run(ctx, DirSource{Root: dir})
	if err == nil {
		t.Fatalf("interrupted run returned no error: %+v", rep)
	}
	if rep.Submitted != 2 || rep.Last != "a/2.png" {
		t.Fatalf("first run = %+v, want 2 submitted up to a/2.png", rep.Checkpoint)
	}
	bf.Backlog = nil
	rep, err = bf.Run(context.Background(), DirSource{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped != 2 || rep.Queued != 2 || !rep.Done || rep.Last != "c/4.pdf" {
		t.Errorf("resumed run = %+v, want 2 skipped, 2 queued, done at c/4.pdf", rep)
	}
	for _, task := range h.queue.ofType(TypeOCR) {
		var p OCRPayload
		json.Unmarshal(task.Payload(), &p)
		_, meta, err := h.repo.Intake(context.Background(), p.InputKey)
		if err != nil || meta.Source != SourceBackfill {
			t.Errorf("intake %s: %+v %v, want source backfill", p.InputKey, meta, err)
		}
	}
	if n := len(h.queue.ofType(TypeOCR)); n != 4 {
		t.Errorf("%d OCR tasks, want 4 (txt and hidden files skipped)", n)
	}
}

// TestUploadPageHasReasonTexts: the page gets the Vietnamese text of every
// reason code from the one table, as a script value.
func TestUploadPageHasReasonTexts(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.intake.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	page := b.String()
	for code, text := range staffTexts() {
		js, _ := json.Marshal(text)
		if !strings.Contains(page, `"`+code+`":`) || !strings.Contains(page, strings.Trim(string(js), `"`)) {
			t.Errorf("upload page lacks the text of %s (%s)", code, text)
		}
	}
	if !strings.Contains(page, "mã kết quả của hồ sơ này đã được cấp") {
		t.Errorf("upload page lacks the text of %s", ReasonResultCodeTaken)
	}
}
