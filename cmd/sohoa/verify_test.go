package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"image"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/signing"
	"sohoa/signing/signingtest"
	"sohoa/storage"
)

// hostilePDF is the file that ended `sohoa serve` with "fatal error: stack
// overflow" in pkcs7.Parse: a signature whose CMS is 3 million nested
// indefinite-length sequences (12 MB, 24 MB as hex).
func hostilePDF() []byte {
	return signingtest.SignedShell(signingtest.NestedCMS(3_000_000))
}

// TestVerifyCommandRefusesNestedCMS: `sohoa verify` refuses the file with a
// reason instead of dying.
func TestVerifyCommandRefusesNestedCMS(t *testing.T) {
	t.Setenv("SOHOA_DEV", "1")
	t.Setenv("SOHOA_LOCAL_DIR", t.TempDir())
	file := filepath.Join(t.TempDir(), "hostile.pdf")
	if err := os.WriteFile(file, hostilePDF(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := runCmd(t.Context(), []string{"verify", file}, &out, &out); code != 1 {
		t.Fatalf("sohoa verify: exit %d, want 1 (invalid):\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "INVALID") || !strings.Contains(out.String(), "signature structure too deeply nested") {
		t.Errorf("sohoa verify output lacks the reason:\n%s", out.String())
	}
}

// TestServeSurvivesHostilePDF: the file sent to POST /v1/verify of a real
// `sohoa serve` answers 422 with the reason, leaves an audit record, and
// serve (API and intake) keeps answering.
func TestServeSurvivesHostilePDF(t *testing.T) {
	requireStack(t)
	local := isolate(t, 10)
	intake, apiAddr := freeAddr(t), freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intake)
	t.Setenv("SOHOA_API_ADDR", apiAddr)
	t.Setenv("SOHOA_LOG_LEVEL", "debug")
	serveLog := startCommand(t, "serve")
	waitHTTP(t, "http://"+intake+"/healthz")
	hc := devClient(t, filepath.Join(local, "keys"))
	api := "https://" + apiAddr
	waitHTTPClient(t, hc, api+"/healthz")

	req, err := http.NewRequest("POST", api+"/v1/verify", bytes.NewReader(hostilePDF()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/pdf")
	req.Header.Set("X-Purpose-Procedure", "1.004873")
	req.Header.Set("X-Purpose-Dossier", "000.00.31.H29-251122-0001")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST /v1/verify: %v\nserve log:\n%s", err, serveLog.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.Unmarshal(body, &e)
	if resp.StatusCode != http.StatusUnprocessableEntity || e.Error.Code != "signature_structure_refused" ||
		!strings.Contains(e.Error.Message, "too deeply nested") {
		t.Fatalf("got %d %s, want 422 signature_structure_refused saying too deeply nested", resp.StatusCode, body)
	}
	reqID := resp.Header.Get("X-Request-Id")
	if !strings.Contains(serveLog.String(), "PDF verified in a child process") {
		t.Errorf("serve did not verify the upload in a child process:\n%s", serveLog.String())
	}

	// serve still answers, on both listeners, and its verifier children
	// still verify: a genuine file (signed with the development key serve
	// trusts, never filed) has a valid signature and matches no result.
	genuine := devSignedPDF(t, filepath.Join(local, "keys", "signing"))
	req, _ = http.NewRequest("POST", api+"/v1/verify", bytes.NewReader(genuine))
	req.Header = resp.Request.Header.Clone()
	r, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !bytes.Contains(body, []byte(`"signature":{"checked":true,"valid":true,"anchor":"own_ca"`)) || !bytes.Contains(body, []byte(`"matched":false`)) {
		t.Errorf("genuine file after the hostile one: got %d %s, want 200, a valid signature, no match", r.StatusCode, body)
	}
	for _, u := range []string{api + "/healthz", api + "/v1/openapi.json"} {
		r, err := hc.Get(u)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("GET %s after the hostile file: %v %v", u, err, r)
		}
		r.Body.Close()
	}
	waitHTTP(t, "http://"+intake+"/healthz")

	// The audit log holds the refusal.
	rec, ok := findAuditRecord(t, reqID, 20*time.Second)
	if !ok {
		t.Fatalf("no audit record of request %s\nserve log:\n%s", reqID, serveLog.String())
	}
	if rec.Decision != audit.Deny || rec.Rule != "pdf_refused_limit" || rec.Status != 422 || rec.ClientID != "demo-agency" || rec.Endpoint != "POST /v1/verify" {
		t.Errorf("got audit record %+v, want deny pdf_refused_limit 422 by demo-agency on POST /v1/verify", rec)
	}
}

// devClient is an HTTP client presenting the development client
// certificate made under keysDir, trusting the development server CA.
func devClient(t *testing.T, keysDir string) *http.Client {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(keysDir, "demo-agency.pem"), filepath.Join(keysDir, "demo-agency.key"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := signing.LoadCertPool(filepath.Join(keysDir, "server-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}}
}

func waitHTTPClient(t *testing.T, hc *http.Client, url string) {
	t.Helper()
	for range 100 {
		if r, err := hc.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode < 500 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}

// findAuditRecord polls the audit batches in the test's bucket for the
// record of request id.
func findAuditRecord(t *testing.T, id string, within time.Duration) (audit.Record, bool) {
	t.Helper()
	repo, err := openRepository(context.Background(), envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		var found *audit.Record
		err := repo.Bucket().List(context.Background(), storage.AuditPrefix(), func(oi storage.ObjectInfo) error {
			b, _, err := repo.Bucket().Get(context.Background(), oi.Key)
			if err != nil {
				return err
			}
			for sc := bufio.NewScanner(bytes.NewReader(b)); sc.Scan(); {
				var r audit.Record
				if json.Unmarshal(sc.Bytes(), &r) == nil && r.RequestID == id {
					found = &r
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if found != nil {
			return *found, true
		}
	}
	return audit.Record{}, false
}

// devSignedPDF renders and signs a small e-result with the development
// signing key under dir.
func devSignedPDF(t *testing.T, dir string) []byte {
	t.Helper()
	keys, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := signing.NewRenderer(signing.RendererConfig{})
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 120, 170))
	const code = "000.00.31.H29-251122-0042-KQ1"
	unsigned, err := r.Render(t.Context(), signing.RenderInput{
		Pages: []signing.Page{{Image: img, DPI: 72}},
		Meta: signing.Metadata{Title: "Giấy khai sinh", ResultCode: code, DossierCode: strings.TrimSuffix(code, "-KQ1"),
			Agency: "UBND phường Bến Nghé", AgencyCode: "000.00.31.H29", ConvertedAt: time.Now(),
			SourceSHA256: strings.Repeat("ab", 32), VerifyURL: "https://127.0.0.1/v/" + code + "?k=abc"},
	})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signing.Sign(t.Context(), unsigned, keys, signing.SignOptions{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// reuseAPICall makes one reuse-API request as the development client
// system (hc: devClient), with a purpose, and decodes its 200 answer into v.
func reuseAPICall(t *testing.T, hc *http.Client, base, method, path, body string, v any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Purpose-Procedure", "1.004873")
	req.Header.Set("X-Purpose-Dossier", "000.00.31.H29-251122-0001")
	r, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, r.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
}
