package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sohoa/internal/testenv"
	"sohoa/pipeline"
)

// TestOperations runs serve (in this process) and a worker (a real process,
// so its stderr is what an operator's journal gets) on the real stack, OCRs
// and issues one scan, then checks the operations listeners: the metric
// families and a few non-zero values on both /metrics, /readyz on every
// listener, the queue monitor's access rules, and that the worker's stderr
// holds only JSON lines with a level.
func TestOperations(t *testing.T) {
	local := stackTest(t, 7)
	scan, err := os.ReadFile("../../../shared/corpus/dev/scan_0002.jpg")
	if err != nil {
		t.Fatalf("dev corpus missing beside the checkout: %v", err)
	}
	intakeAddr, apiAddr, opsAddr, workerOps := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	const opsToken = "test-ops-token"
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", apiAddr)
	t.Setenv("SOHOA_OPS_ADDR", opsAddr)
	t.Setenv("SOHOA_OPS_TOKEN", opsToken)
	t.Setenv("SOHOA_WORKER_OPS_ADDR", workerOps)
	serveLog := startCommand(t, "serve")
	base := "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")
	waitHTTP(t, "http://"+opsAddr+"/healthz")

	worker := startWorkerProc(t)
	waitHTTP(t, "http://"+workerOps+"/healthz")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("procedure_code", "1.004873")
	fw, _ := mw.CreateFormFile("files", "scan_0002.jpg")
	fw.Write(scan)
	mw.Close()
	status, br := postBatch(t, base, &body, mw.FormDataContentType())
	if status != http.StatusCreated || len(br.Files) != 1 || br.Files[0].Status != pipeline.StatusQueued {
		t.Fatalf("upload: %d %+v", status, br)
	}
	st, _ := awaitInput(t, base, br.Files[0].InputKey, time.Now().Add(4*time.Minute))
	if st.State != "issued" {
		t.Fatalf("input state = %+v\nworker log:\n%s", st, worker.stderr.String())
	}
	// One reuse API request (unauthenticated: the probe endpoint).
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if r, err := insecure.Get("https://" + apiAddr + "/healthz"); err != nil {
		t.Fatalf("reuse API: %v", err)
	} else {
		r.Body.Close()
	}

	// The worker's metrics.
	wm := scrape(t, "http://"+workerOps+"/metrics")
	for _, fam := range []string{"sohoa_pages_total", "sohoa_documents_total", "sohoa_stage_duration_seconds",
		"sohoa_ocr_child_restarts_total", "sohoa_ocr_child_kills_total", "sohoa_queue_depth", "sohoa_queue_tasks",
		"sohoa_queue_latency_seconds"} {
		if !strings.Contains(wm, "# TYPE "+fam+" ") {
			t.Errorf("worker /metrics lacks family %s", fam)
		}
	}
	for _, nz := range []struct{ name, labels string }{
		{"sohoa_pages_total", ``},
		{"sohoa_documents_total", `outcome="issued"`},
		{"sohoa_stage_duration_seconds_count", `stage="ocr_page"`},
		{"sohoa_stage_duration_seconds_count", `stage="extraction"`},
		{"sohoa_stage_duration_seconds_count", `stage="signing"`},
		{"sohoa_stage_duration_seconds_count", `stage="storage"`},
	} {
		if v := metricSum(wm, nz.name, nz.labels); v <= 0 {
			t.Errorf("worker %s{%s} = %v, want > 0", nz.name, nz.labels, v)
		}
	}
	// serve's metrics.
	sm := scrape(t, "http://"+opsAddr+"/metrics")
	for _, fam := range []string{"sohoa_api_requests_total", "sohoa_api_request_duration_seconds", "sohoa_queue_depth",
		"sohoa_queue_latency_seconds", "sohoa_review_backlog", "sohoa_review_oldest_age_seconds",
		"sohoa_audit_batch_lag_seconds", "sohoa_audit_pending_records"} {
		if !strings.Contains(sm, "# TYPE "+fam+" ") {
			t.Errorf("serve /metrics lacks family %s", fam)
		}
	}
	if v := metricSum(sm, "sohoa_api_requests_total", `client="none",route="GET /healthz",status="200"`); v < 1 {
		t.Errorf("sohoa_api_requests_total for the probe = %v, want ≥ 1:\n%s", v, grepLines(sm, "sohoa_api"))
	}
	// No citizen data in any label: no run of 12 digits anywhere.
	if m := regexp.MustCompile(`\{[^}]*[0-9]{12}[^}]*\}`).FindString(wm + sm); m != "" {
		t.Errorf("a label holds a 12-digit run: %s", m)
	}

	// Readiness on every listener.
	for _, u := range []string{base + "/readyz", "http://" + opsAddr + "/readyz", "http://" + workerOps + "/readyz"} {
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var ready struct {
			Ready  bool              `json:"ready"`
			Checks map[string]string `json:"checks"`
		}
		json.NewDecoder(r.Body).Decode(&ready)
		r.Body.Close()
		want := []string{"redis", "bucket", "keys"}
		if strings.Contains(u, workerOps) {
			want = append(want, "ocr")
		}
		if r.StatusCode != http.StatusOK || !ready.Ready {
			t.Errorf("%s: %d %+v", u, r.StatusCode, ready)
		}
		for _, c := range want {
			if ready.Checks[c] != "ok" {
				t.Errorf("%s: check %s = %q", u, c, ready.Checks[c])
			}
		}
	}

	// The queue monitor: token or supervisor session; nothing else.
	ops := "http://" + opsAddr
	get := func(c *http.Client, path, token string) int {
		req, _ := http.NewRequest("GET", ops+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode
	}
	keys := filepath.Join(local, "keys")
	supUser, supPass := devSignin(t, keys, "supervisor")
	cntUser, cntPass := devSignin(t, keys, "counter")
	supervisor := signinStaff(t, base, supUser, supPass).c
	counter := signinStaff(t, base, cntUser, cntPass).c
	for _, path := range []string{"/ops/queues/", "/ops/queues/api/queues"} {
		for _, c := range []struct {
			who    string
			client *http.Client
			token  string
			want   int
		}{
			{"nobody", http.DefaultClient, "", http.StatusUnauthorized},
			{"wrong token", http.DefaultClient, "not-the-token", http.StatusUnauthorized},
			{"counter", counter, "", http.StatusForbidden},
			{"ops token", http.DefaultClient, opsToken, http.StatusOK},
			{"supervisor", supervisor, "", http.StatusOK},
		} {
			if got := get(c.client, path, c.token); got != c.want {
				t.Errorf("GET %s as %s = %d, want %d", path, c.who, got, c.want)
			}
		}
	}
	// Read-only by default: asynqmon refuses a change.
	req, _ := http.NewRequest("DELETE", ops+"/ops/queues/api/queues/counter", nil)
	req.Header.Set("Authorization", "Bearer "+opsToken)
	if r, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		r.Body.Close()
		if r.StatusCode < 400 {
			t.Errorf("DELETE of a queue in read-only mode = %d, want refused", r.StatusCode)
		}
	}

	// The worker's stderr: JSON lines only, each with a level.
	worker.stop(t)
	sc := bufio.NewScanner(strings.NewReader(worker.stderr.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["level"] == nil {
			t.Errorf("worker stderr line is not JSON with a level: %q", sc.Text())
		}
		lines++
	}
	if lines < 2 {
		t.Errorf("worker wrote %d log lines", lines)
	}
	_ = serveLog
}

// workerProc is `sohoa worker` as its own process (the test binary as main).
type workerProc struct {
	cmd            *exec.Cmd
	stdout, stderr *testenv.Buffer
	done           chan error
}

func startWorkerProc(t *testing.T) *workerProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &workerProc{stdout: &testenv.Buffer{}, stderr: &testenv.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(exe, "worker", "--reconcile", "0")
	p.cmd.Env = append(os.Environ(), testMainEnv+"=1")
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *workerProc) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("worker exited: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(45 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("worker did not stop within 45s of SIGTERM")
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, r.StatusCode, b)
	}
	return string(b)
}

// metricSum adds the values of the samples of name whose labels contain
// labels (a substring such as `stage="ocr_page"`; "" matches all).
func metricSum(text, name, labels string) float64 {
	sum := 0.0
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') || !strings.Contains(rest, labels) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexAny(rest, "} ")+1:])
		if len(f) == 0 {
			f = strings.Fields(rest)
		}
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
