package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pdfsign/verify"
	"github.com/redis/go-redis/v9"

	"sohoa/internal/testenv"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// requireStack skips (or, when strict, fails) when the local stack is not up.
func requireStack(t *testing.T) {
	t.Helper()
	testenv.MustHaveEnv(t, "SOHOA_S3_ENDPOINT", "SOHOA_S3_ACCESS_KEY", "SOHOA_S3_SECRET_KEY", "SOHOA_REDIS_ADDR")
}

// stackTest starts an integration test: skipped with -short, it needs the
// local stack (a failure when strict) and runs isolated on Redis DB db; it
// returns the test's local folder.
func stackTest(t *testing.T, db int) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	requireStack(t)
	return isolate(t, db)
}

// isolate points this test at its own bucket, Redis DB and local folder.
func isolate(t *testing.T, db int) string {
	t.Helper()
	local := t.TempDir()
	t.Setenv("SOHOA_DEV", "1")
	t.Setenv("SOHOA_INTAKE_TOKEN", testIntakeToken)
	t.Setenv("SOHOA_LOCAL_DIR", local)
	t.Setenv("SOHOA_S3_BUCKET", fmt.Sprintf("e2e-%d-%d", db, time.Now().UnixNano()))
	t.Setenv("SOHOA_REDIS_DB", fmt.Sprint(db))
	t.Setenv("SOHOA_OCR_CHILDREN", "2")
	// Operations listeners off: tests run several serves and workers at
	// once; TestOperations turns them on, on free ports.
	t.Setenv("SOHOA_OPS_ADDR", "0")
	t.Setenv("SOHOA_WORKER_OPS_ADDR", "0")
	rdb := redis.NewClient(&redis.Options{Addr: processEnv()["SOHOA_REDIS_ADDR"], DB: db})
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush redis db %d: %v", db, err)
	}
	return local
}

// openPDF reads a result's signed PDF through the repository (decrypted,
// checked against its manifest).
func openPDF(t *testing.T, repo *storage.Repository, code string) []byte {
	t.Helper()
	rc, _, err := repo.OpenPDF(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertEncryptedAtRest reads every scan, page image and result PDF as the
// bucket holds it: each must be an encrypted blob that holds no 32-byte
// piece of its plaintext, no "%PDF-" and not the holder's ID. (Short
// magic numbers are not searched for: random ciphertext holds a 3-byte
// JPEG marker by chance often enough to make the test flaky.)
func assertEncryptedAtRest(t *testing.T, repo *storage.Repository, holderID string) {
	t.Helper()
	ctx := context.Background()
	n := 0
	err := repo.Bucket().List(ctx, "", func(oi storage.ObjectInfo) error {
		k := oi.Key
		var plain []byte
		var err error
		switch {
		case strings.HasPrefix(k, "pages/"):
			plain, err = repo.Page(ctx, k)
		case strings.HasPrefix(k, "intake/") && !strings.HasSuffix(k, ".json"):
			plain, _, err = repo.Intake(ctx, strings.TrimPrefix(k, "intake/"))
		case strings.HasPrefix(k, "results/") && strings.HasSuffix(k, ".pdf"):
		default:
			return nil
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", k, err)
		}
		n++
		body, _, err := repo.Bucket().Get(ctx, k)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(body, []byte("sohoa-blob-1\n")) {
			t.Errorf("%s is not encrypted at rest", k)
		}
		for _, clear := range []string{"%PDF-", holderID} {
			if bytes.Contains(body, []byte(clear)) {
				t.Errorf("%s shows %q in clear", k, clear)
			}
		}
		for i := 0; i+32 <= len(plain); i += max(len(plain)/16, 32) {
			if bytes.Contains(body, plain[i:i+32]) {
				t.Errorf("%s holds its plaintext at offset %d", k, i)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("checked %d encrypted objects, want at least a scan, a page and a PDF", n)
	}
}

// startIntakeAndWorker runs `sohoa serve` with the intake only (no reuse
// API) and a `sohoa worker` until the test ends; it returns the intake's
// base URL and the worker's log.
func startIntakeAndWorker(t *testing.T) (base string, workerLog *testenv.Buffer) {
	t.Helper()
	intakeAddr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", "")
	startCommand(t, "serve", "--api-addr", "")
	base = "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")
	return base, startCommand(t, "worker", "--reconcile", "0")
}

// testIntakeToken is the intake's bearer token in these tests.
const testIntakeToken = "test-intake-token"

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startCommand runs a long-lived subcommand until the test ends.
func startCommand(t *testing.T, args ...string) *testenv.Buffer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testenv.Buffer{}
	done := make(chan int, 1)
	go func() { done <- runCmd(ctx, args, logs, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("sohoa %s exited %d: %s", args[0], code, logs.String())
			}
		case <-time.After(45 * time.Second):
			t.Errorf("sohoa %s did not stop within 45s of cancellation", args[0])
		}
	})
	return logs
}

// TestEndToEnd drives the skeleton path on the real stack: upload through
// `sohoa serve`, OCR and issue in `sohoa worker` (real Tesseract, real
// signing), filing in S3, then `sohoa get` lists and downloads the result.
func TestEndToEnd(t *testing.T) {
	local := stackTest(t, 2)
	scanPath := "../../../shared/corpus/dev/scan_0002.jpg"
	truthPath := "../../../shared/corpus/dev/scan_0002.truth.json"
	scan, err := os.ReadFile(scanPath)
	if err != nil {
		t.Fatalf("dev corpus missing beside the checkout: %v", err)
	}
	var truth struct {
		HolderID  string `json:"holder_personal_id"`
		Documents []struct {
			Fields map[string]string `json:"fields"`
		} `json:"documents"`
	}
	tb, err := os.ReadFile(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(tb, &truth); err != nil || truth.HolderID == "" || len(truth.Documents) == 0 {
		t.Fatalf("truth %s: %v", truthPath, err)
	}
	holderName := truth.Documents[0].Fields["full_name"]

	intakeAddr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", freeAddr(t))
	serveLog := startCommand(t, "serve")
	base := "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")
	workerLog := startCommand(t, "worker", "--reconcile", "0")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("procedure_code", "1.004873")
	fw, _ := mw.CreateFormFile("files", filepath.Base(scanPath))
	fw.Write(scan)
	mw.Close()
	status, br := postBatch(t, base, &body, mw.FormDataContentType())
	if status != http.StatusCreated || len(br.Files) != 1 || br.Files[0].Status != pipeline.StatusQueued {
		t.Fatalf("upload: %d %+v", status, br)
	}
	st, _ := awaitInput(t, base, br.Files[0].InputKey, time.Now().Add(4*time.Minute))
	if st.State != "issued" || len(st.Results) != 1 {
		t.Fatalf("input state = %+v\nworker log:\n%s", st, workerLog.String())
	}
	code := st.Results[0]

	// The CLI lists the holder's results and downloads them.
	var out bytes.Buffer
	dl := t.TempDir()
	if rc := runCmd(context.Background(), []string{"get", "--citizen-id", truth.HolderID, "--download", dl}, &out, &out); rc != 0 {
		t.Fatalf("sohoa get: exit %d: %s", rc, out.String())
	}
	if !strings.Contains(out.String(), code) || strings.Contains(out.String(), truth.HolderID) {
		t.Fatalf("sohoa get output lacks %s or shows the ID:\n%s", code, out.String())
	}
	pdf, err := os.ReadFile(filepath.Join(dl, code+".pdf"))
	if err != nil {
		t.Fatal(err)
	}

	// pdfsign's verifier accepts the signature.
	f, err := os.Open(filepath.Join(dl, code+".pdf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := verify.VerifyFile(f)
	if err != nil {
		t.Fatalf("pdfsign verify: %v", err)
	}
	if len(res.Signers) != 1 || !res.Signers[0].ValidSignature {
		t.Fatalf("pdfsign verify: %+v", res.Signers)
	}

	// The bytes are those stored in S3.
	repo, err := openRepository(context.Background(), envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if stored := openPDF(t, repo, code); !bytes.Equal(stored, pdf) {
		t.Fatalf("downloaded %d bytes differ from the %d stored", len(pdf), len(stored))
	}
	assertEncryptedAtRest(t, repo, truth.HolderID)

	// Every object key has the layout of storage/keys.go; no key or log line
	// names the holder (ID or name) outside a hash.
	ids, names := []string{truth.HolderID}, []string{holderName}
	storagetest.CheckKeys(t, repo.Bucket(), ids, names)
	storagetest.CheckLog(t, serveLog.String(), ids, names)
	storagetest.CheckLog(t, workerLog.String(), ids, names)

	// The README's curl examples work as written against this stack.
	runReadmeExamples(t, local, code, truth.HolderID)
}

// runReadmeExamples extracts the README's curl block and runs it with bash
// from the repository root, against the API this test's `sohoa serve` runs.
func runReadmeExamples(t *testing.T, local, code, citizenID string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- curl-examples:begin")
	block, _, ok2 := strings.Cut(rest, "<!-- curl-examples:end -->")
	_, script, ok3 := strings.Cut(block, "```sh\n")
	script, _, ok4 := strings.Cut(script, "```")
	if !ok || !ok2 || !ok3 || !ok4 {
		t.Fatal("README.md has no curl-examples block")
	}
	// The README calls bin/sohoa: build it from this tree (cached, fast).
	build := exec.Command("go", "build", "-o", "bin/sohoa", "./cmd/sohoa")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build bin/sohoa: %v\n%s", err, out)
	}
	work := t.TempDir()
	cmd := exec.Command("bash", "-c", "set -euo pipefail; cd \"$ROOT\"; "+script)
	cmd.Env = append(os.Environ(),
		"ROOT="+mustAbs(t, "../.."),
		"API=https://"+processEnv()["SOHOA_API_ADDR"],
		"K="+filepath.Join(local, "keys"),
		"CODE="+code,
		"CITIZEN_ID="+citizenID,
	)
	cmd.Dir = work
	out, err := cmd.CombinedOutput()
	os.Remove(filepath.Join(mustAbs(t, "../.."), code+".pdf"))
	if err != nil {
		t.Fatalf("README curl examples failed: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), `"result_code":"`+code+`"`); n < 3 {
		t.Errorf("README examples found the result %d times, want 3 (search, metadata, JWT search):\n%s", n, out)
	}
	// The pre-fill answers the name from this result, and the development
	// client's scope withholds the ethnicity; the data document is the
	// PDF's signed attachment (README: Data beside the PDF).
	for _, want := range []string{`"valid":true`, "valid", "HTTP 401",
		`"full_name":{"values":[{"value":"`, `"sources":[{"result_code":"` + code + `"`, `"withheld":["ethnicity"]`,
		`"vocabulary_version":"`, `"procedure":"1.900001"`, `"embedded":true`, "attached.json: OK"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("README examples output lacks %q:\n%s", want, out)
		}
	}
	// The dossier check finds this result on file for procedure 1.900001.
	if !regexp.MustCompile(`"on_file":\[[^\]]*"result_code":"` + regexp.QuoteMeta(code) + `"`).Match(out) {
		t.Errorf("README dossier check does not list %s on file:\n%s", code, out)
	}
	if strings.Contains(string(out), citizenID) {
		t.Errorf("README examples output shows the citizen ID:\n%s", out)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// postBatch uploads a multipart batch to the intake and decodes the answer.
func postBatch(t *testing.T, base string, body io.Reader, contentType string) (int, pipeline.BatchResponse) {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/v1/batches", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+testIntakeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var br pipeline.BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil {
		t.Fatalf("batch answer: %v", err)
	}
	return resp.StatusCode, br
}

// awaitInput polls an input's status until it leaves "processing" or the
// deadline passes; ok is false on the deadline.
func awaitInput(t *testing.T, base, key string, deadline time.Time) (st pipeline.InputStatus, ok bool) {
	t.Helper()
	for {
		req, err := http.NewRequest("GET", base+"/v1/inputs/"+key, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testIntakeToken)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		st = pipeline.InputStatus{}
		json.NewDecoder(r.Body).Decode(&st)
		r.Body.Close()
		if st.State != "processing" {
			return st, true
		}
		if time.Now().After(deadline) {
			return st, false
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode < 500 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}
