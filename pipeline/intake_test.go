package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sohoa/api"
	"sohoa/internal/openapicheck"
	"sohoa/storage"
	"sohoa/storage/mem"
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
	srv := newIntakeServer(t, h.intake.Handler())
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
	resp, bad := post("counter-secret", map[string]string{"dossier_code": "../../etc"}, map[string][]byte{"a.jpg": []byte("x")})
	if resp.StatusCode != http.StatusUnprocessableEntity || len(bad.Files) != 1 || bad.Files[0].Reason != RefusedDossierFormat {
		t.Errorf("bad dossier code: status %d, %+v; want 422, the file refused as %s", resp.StatusCode, bad, RefusedDossierFormat)
	}
	dossier := storage.FormatDossierCode("000.00.31.H29", time.Now(), 42)
	files := map[string][]byte{"../../evil/a.jpg": []byte("scan a"), "empty.pdf": nil, "b.png": []byte("scan b")}
	resp, br := post("counter-secret", map[string]string{"dossier_code": dossier, "procedure_code": "1.004873"}, files)
	// An empty file among them: some stored, one refused (207).
	if resp.StatusCode != http.StatusMultiStatus || len(br.Files) != 3 {
		t.Fatalf("batch: status %d, %+v; want 207", resp.StatusCode, br)
	}
	byName := map[string]Submission{}
	for _, f := range br.Files {
		byName[f.Name] = f
	}
	if s := byName["a.jpg"]; s.Status != StatusQueued || s.DossierCode != dossier {
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
	// The pages are the web app's: the intake serves none.
	if page, err := http.Get(srv.URL + "/"); err != nil || page.StatusCode != http.StatusNotFound {
		t.Errorf("GET / on the intake: %v %v, want 404", page.StatusCode, err)
	}
}

// TestIntakeAuthorizeHook: with Authorize set, a request without a bearer
// token is admitted when the hook says so; a wrong token is refused
// whatever the hook would say; without either, everything is refused.
func TestIntakeAuthorizeHook(t *testing.T) {
	h := newHarness(t)
	h.intake.Token = "counter-secret"
	var asked int
	h.intake.Authorize = func(r *http.Request) (Caller, error) {
		asked++
		switch r.Header.Get("X-Test-Session") {
		case "valid":
			return Caller{ID: "staff:test"}, nil
		case "no-csrf":
			return Caller{}, fmt.Errorf("no CSRF token: %w", ErrForbidden)
		}
		return Caller{}, errors.New("signed out")
	}
	srv := newIntakeServer(t, h.intake.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		name, auth, session string
		want                int
		asks                int
	}{
		{"session", "", "valid", http.StatusCreated, 1},
		{"no session", "", "", http.StatusUnauthorized, 1},
		{"session without its CSRF token", "", "no-csrf", http.StatusForbidden, 1},
		{"token", "Bearer counter-secret", "", http.StatusCreated, 0},
		{"wrong token, valid session", "Bearer wrong", "valid", http.StatusUnauthorized, 0},
	} {
		asked = 0
		body, ct := multipartBody(t, nil, map[string][]byte{"a.jpg": []byte("scan " + tc.name)})
		req, _ := http.NewRequest("POST", srv.URL+"/v1/batches", body)
		req.Header.Set("Content-Type", ct)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		req.Header.Set("X-Test-Session", tc.session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || asked != tc.asks {
			t.Errorf("%s: status %d, hook asked %d times; want %d, %d", tc.name, resp.StatusCode, asked, tc.want, tc.asks)
		}
	}
	h.intake.Token, h.intake.Authorize = "", nil
	req, _ := http.NewRequest("GET", srv.URL+"/v1/inputs/"+storage.InputKeyOf([]byte("x")), nil)
	req.Header.Set("Authorization", "Bearer ")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token and no hook: %v %v, want 401", resp.StatusCode, err)
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
	// The report is the pass's: the same as an uninterrupted run's.
	if rep.Skipped != 2 || rep.Queued != 4 || rep.Submitted != 4 || rep.Duplicates != 0 || !rep.Done || rep.Last != "c/4.pdf" || rep.UpdatedAt.IsZero() {
		t.Errorf("resumed run = %+v, want 2 skipped, 4 queued in the pass, done at c/4.pdf", rep)
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

// TestIntakeLimits: one request carries at most MaxFiles files and one
// caller uploads at most CallerRate; files past either are refused one by
// one, unstored, so no dossier code is spent on them.
func TestIntakeLimits(t *testing.T) {
	h := newHarness(t)
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, storage.Vietnam())
	h.intake.Now = func() time.Time { return clock }
	h.intake.MaxFiles = 3
	h.intake.CallerRate = api.RateLimit{RPS: 1.0 / 60, Burst: 4}
	srv := newIntakeServer(t, h.intake.Handler())
	defer srv.Close()
	files := func(from, n int) map[string][]byte {
		m := map[string][]byte{}
		for i := from; i < from+n; i++ {
			m[fmt.Sprintf("s%02d.jpg", i)] = []byte(fmt.Sprint("scan ", i))
		}
		return m
	}
	count := func(br BatchResponse) map[string]int {
		c := map[string]int{}
		for _, f := range br.Files {
			c[f.Status+"/"+f.Reason]++
			if f.Status == StatusRejected && f.InputKey != "" {
				t.Errorf("refused file %s was stored", f.Name)
			}
		}
		return c
	}
	status, br := postBatch(t, srv.URL, "", files(0, 5))
	if c := count(br); status != http.StatusMultiStatus || c["queued/"] != 3 || c["rejected/"+RefusedTooManyFiles] != 2 {
		t.Errorf("5 files in one request: %d %v; want 207, 3 queued and 2 refused as %s", status, c, RefusedTooManyFiles)
	}
	status, br = postBatch(t, srv.URL, "", files(10, 2))
	if c := count(br); status != http.StatusMultiStatus || c["queued/"] != 1 || c["rejected/"+RefusedRateLimited] != 1 {
		t.Errorf("2 more files: %d %v; want 207, 1 queued and 1 refused as %s", status, c, RefusedRateLimited)
	}
	body, ct := multipartBody(t, nil, files(20, 2))
	req, _ := http.NewRequest("POST", srv.URL+"/v1/batches", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer counter-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the rate: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	clock = clock.Add(time.Minute)
	if status, br = postBatch(t, srv.URL, "", files(30, 1)); status != http.StatusCreated || br.Files[0].Status != StatusQueued {
		t.Errorf("a minute later: %d %+v, want the file queued", status, br.Files)
	}
	n := 0
	h.bucket.List(context.Background(), storage.DossierDayPrefix("000.00.31.H29", clock), func(storage.ObjectInfo) error { n++; return nil })
	if n != 3 {
		t.Errorf("%d dossier codes spent, want 3 (one per batch that stored a file)", n)
	}
}

// TestIntakeRefusesWithoutAuthOrFromAnotherOrigin: every data route needs
// the token (none configured: refused), the status of an input is not
// readable without it, and a browser post from another site is refused
// even with a token.
func TestIntakeRefusesWithoutAuthOrFromAnotherOrigin(t *testing.T) {
	h := newHarness(t)
	h.intake.Token = ""
	srv := newIntakeServer(t, h.intake.Handler())
	defer srv.Close()
	do := func(method, path, token string, hdr map[string]string, fields map[string]string) *http.Response {
		t.Helper()
		var body io.Reader
		ct := ""
		if method == "POST" {
			body, ct = multipartBody(t, fields, map[string][]byte{"a.jpg": []byte("scan " + path)})
		}
		req, _ := http.NewRequest(method, srv.URL+path, body)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	key := storage.InputKeyOf([]byte("anything"))
	// No token configured: fail closed, whatever the caller sends.
	for _, tc := range []struct{ method, path, token string }{
		{"POST", "/v1/batches", ""}, {"POST", "/v1/batches", "guess"}, {"GET", "/v1/inputs/" + key, ""},
	} {
		if r := do(tc.method, tc.path, tc.token, nil, nil); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("no token configured: %s %s with %q = %d, want 401", tc.method, tc.path, tc.token, r.StatusCode)
		}
	}
	h.intake.Token = "counter-secret"
	if r := do("GET", "/v1/inputs/"+key, "", nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("status without token = %d, want 401", r.StatusCode)
	}
	if r := do("GET", "/v1/inputs/"+key, "wrong", nil, nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("status with a wrong token = %d, want 401", r.StatusCode)
	}
	for name, hdr := range map[string]map[string]string{
		"foreign Origin":       {"Origin": "https://evil.example"},
		"cross-site fetch":     {"Sec-Fetch-Site": "cross-site"},
		"malformed Origin":     {"Origin": "%zz"},
		"same host other port": {"Origin": "http://127.0.0.1:1"},
	} {
		if r := do("POST", "/v1/batches", "counter-secret", hdr, nil); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: POST = %d, want 403", name, r.StatusCode)
		}
	}
	r := do("POST", "/v1/batches", "counter-secret", map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}, nil)
	if r.StatusCode != http.StatusCreated {
		t.Errorf("same-origin POST with the token = %d, want 201", r.StatusCode)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
}

// TestIntakeCutsOffSlowUploads: a body that stalls, or crawls below the
// minimum rate, ends with 408 within a few idle periods, instead of holding
// the connection for the server's whole read timeout.
func TestIntakeCutsOffSlowUploads(t *testing.T) {
	h := newHarness(t)
	h.intake.Token = "counter-secret"
	h.intake.UploadIdle, h.intake.MinUploadRate = 300*time.Millisecond, 64<<10
	srv := newIntakeServer(t, h.intake.Handler())
	defer srv.Close()
	for name, dribble := range map[string]time.Duration{"stalls": 0, "crawls": 100 * time.Millisecond} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			fmt.Fprintf(conn, "POST /v1/batches HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer counter-secret\r\n"+
				"Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 10000000\r\n\r\n"+
				"--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.jpg\"\r\n\r\n", srv.Listener.Addr())
			done := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(conn).ReadString('\n')
				done <- line
			}()
			for {
				select {
				case line := <-done:
					if !strings.Contains(line, "408") || time.Since(start) > 30*time.Second {
						t.Errorf("got %q after %v, want 408 within a few idle periods", line, time.Since(start))
					}
					return
				case <-time.After(max(dribble, 10*time.Millisecond)):
					if dribble > 0 {
						conn.Write([]byte("x"))
					}
					if time.Since(start) > time.Minute {
						t.Fatal("slow upload still open after a minute")
					}
				}
			}
		})
	}
}

// TestBackfillReportSurvivesACrash: a pass killed between storing a file
// and journalling it, then resumed, reports what an uninterrupted pass
// reports; files with the same bytes count as duplicates; progress counts
// every file; a torn journal line is ignored.
func TestBackfillReportSurvivesACrash(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := t.TempDir()
		for n, body := range map[string]string{"a/1.jpg": "one", "a/2.png": "two", "b/3.tif": "three", "b/3-copy.tif": "three"} {
			p := filepath.Join(dir, n)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte("scan "+body), 0o644)
		}
		return dir
	}
	// Uninterrupted.
	h := newHarness(t)
	dir := mk(t)
	var seen []BackfillProgress
	bf := &Backfill{Intake: h.intake, CheckpointDir: t.TempDir(), Progress: func(p BackfillProgress) { seen = append(seen, p) }}
	want, err := bf.Run(context.Background(), DirSource{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if want.Queued != 3 || want.Duplicates != 1 || want.Submitted != 4 {
		t.Fatalf("uninterrupted = %+v, want 3 queued, 1 duplicate", want)
	}
	if len(seen) != 5 || seen[0].Total != 4 || seen[4].Done != 4 || seen[4].Bytes == 0 {
		t.Errorf("progress = %+v, want the total first, then one call a file", seen)
	}

	// Killed after storing a/2.png, before journalling it as done.
	h = newHarness(t)
	dir = mk(t)
	cpDir := t.TempDir()
	src := DirSource{Root: dir}
	bf = &Backfill{Intake: h.intake, CheckpointDir: cpDir}
	jPath := filepath.Join(cpDir, checkpointName(src.ID())+".journal")
	data1, _ := os.ReadFile(filepath.Join(dir, "a/1.jpg"))
	data2, _ := os.ReadFile(filepath.Join(dir, "a/2.png"))
	s1, err := h.intake.Submit(context.Background(), data1, storage.IntakeMeta{Name: "a/1.jpg", Source: SourceBackfill, BatchID: "backfill"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.intake.Submit(context.Background(), data2, storage.IntakeMeta{Name: "a/2.png", Source: SourceBackfill, BatchID: "backfill"}); err != nil {
		t.Fatal(err)
	}
	j, err := openJournal(jPath)
	if err != nil {
		t.Fatal(err)
	}
	j.add(journalEntry{Op: "begin", Name: "a/1.jpg"})
	j.add(journalEntry{Op: "done", Name: "a/1.jpg", InputKey: s1.InputKey, Status: s1.Status})
	j.add(journalEntry{Op: "begin", Name: "a/2.png"})
	j.f.WriteString(`{"op":"done","na`) // torn by the kill
	j.Close()
	saveCheckpoint(filepath.Join(cpDir, checkpointName(src.ID())+".json"), Checkpoint{Source: src.ID(), Last: "a/1.jpg", Submitted: 1})
	got, err := bf.Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Queued != want.Queued || got.Duplicates != want.Duplicates || got.Submitted != want.Submitted || got.Skipped != 1 || !got.Done {
		t.Errorf("resumed after a crash = %+v, want the uninterrupted %+v with 1 skipped", got, want)
	}
}

// TestStatusBetweenRecordAndReviewItem: the OCR stage writes the record,
// then the review item; an input polled between the two is waiting for
// review, never final ("kept").
func TestStatusBetweenRecordAndReviewItem(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	key, err := h.repo.PutIntake(ctx, []byte("a scan"), storage.IntakeMeta{Name: "a.jpg", BatchID: "b"})
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{SchemaVersion: 1, InputKey: key, Decisions: []Decision{{Doc: 0, Action: ActionReview, Reasons: []string{"page_flagged:degenerate"}}}}
	if err := h.repo.PutSealedJSON(ctx, storage.RecordKey(key), rec); err != nil {
		t.Fatal(err)
	}
	st, err := h.intake.Status(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "review" || len(st.Review) != 1 || st.Review[0].Reasons[0] != "page_flagged:degenerate" {
		t.Errorf("status between the record and its review item = %+v, want review", st)
	}
}

// downBucket is a bucket whose writes fail while down is set: an S3
// outage.
type downBucket struct {
	storage.Bucket
	down atomic.Bool
}

func (b *downBucket) Upload(ctx context.Context, key string, body io.Reader, size int64, sum string) error {
	if b.down.Load() {
		return errors.New("connection refused")
	}
	return b.Bucket.Upload(ctx, key, body, size, sum)
}

// TestIntakeAnswersHonestly: a batch that stored nothing because S3 is down
// answers 503 with every file's status (never 201); a batch of which some
// files are refused answers 207; and concurrent uploads of the same bytes
// are all told the one dossier code the file is filed under.
func TestIntakeAnswersHonestly(t *testing.T) {
	b := &downBucket{Bucket: mem.New()}
	repo, err := storage.New(b, storage.Options{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	q := &fakeQueue{}
	in := NewIntake(repo, q, "000.00.31.H29", nil)
	in.Token = "counter-secret"
	srv := newIntakeServer(t, in.Handler())
	defer srv.Close()

	b.down.Store(true)
	status, br := postBatch(t, srv.URL, "", map[string][]byte{"a.jpg": []byte("scan a"), "b.jpg": []byte("scan b")})
	if status != http.StatusServiceUnavailable || len(br.Files) != 2 {
		t.Fatalf("S3 down: %d %+v, want 503 with both files", status, br)
	}
	for _, f := range br.Files {
		if f.Status != StatusRejected || f.Reason != RefusedUnavailable {
			t.Errorf("S3 down: %+v, want refused as unavailable", f)
		}
	}
	b.down.Store(false)

	// Ten clerks upload one file at once, each in its own batch.
	data := []byte("one scan, ten clerks")
	codes := make([]string, 10)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub, err := in.Submit(context.Background(), data, storage.IntakeMeta{Name: "scan.jpg"})
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = sub.DossierCode
		}()
	}
	wg.Wait()
	_, meta, err := repo.Intake(context.Background(), storage.InputKeyOf(data))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range codes {
		if c != meta.DossierCode {
			t.Errorf("clerk %d was told dossier code %q; the file is filed under %q", i, c, meta.DossierCode)
		}
	}
}

// countingBucket counts the reads of scans (intake objects).
type countingBucket struct {
	storage.Bucket
	scanReads atomic.Int64
}

func (b *countingBucket) Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error) {
	if strings.HasPrefix(key, storage.IntakeKey("")) && storage.ValidInputKey(strings.TrimPrefix(key, storage.IntakeKey(""))) {
		b.scanReads.Add(1)
	}
	return b.Bucket.Get(ctx, key)
}

func (b *countingBucket) Open(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	if strings.HasPrefix(key, storage.IntakeKey("")) && storage.ValidInputKey(strings.TrimPrefix(key, storage.IntakeKey(""))) {
		b.scanReads.Add(1)
	}
	return b.Bucket.Open(ctx, key)
}

// TestStatusReadsNoScan: following an upload's status never downloads the
// scan (a batch polled every 2 s read every scan again each time).
func TestStatusReadsNoScan(t *testing.T) {
	b := &countingBucket{Bucket: mem.New()}
	repo, err := storage.New(b, storage.Options{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	in := NewIntake(repo, &fakeQueue{}, "000.00.31.H29", nil)
	sub, err := in.Submit(context.Background(), bytes.Repeat([]byte("a large scan "), 1<<16), storage.IntakeMeta{Name: "scan.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if st, err := in.Status(context.Background(), sub.InputKey); err != nil || st.File != "scan.jpg" {
			t.Fatalf("status: %+v %v", st, err)
		}
	}
	if n := b.scanReads.Load(); n != 0 {
		t.Errorf("5 status reads downloaded the scan %d times, want 0", n)
	}
}

// newIntakeServer serves the intake handler h for a test, checking every
// answer against the intake operations of api/openapi.json.
func newIntakeServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	return httptest.NewServer(openapicheck.Handler(t, openapicheck.MustParse(t, api.OpenAPI()), "intake", h))
}
