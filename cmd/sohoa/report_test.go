package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// dashboardMetric reads a number of the dashboard (#dashboard [data-metric]).
func dashboardMetric(t *testing.T, page, name string) int {
	t.Helper()
	i := strings.Index(page, `id="dashboard"`)
	if i < 0 {
		t.Fatalf("no dashboard in the page:\n%.500s", page)
	}
	m := regexp.MustCompile(`data-metric="` + name + `"[^>]*>(\d+)<`).FindStringSubmatch(page[i:])
	if m == nil {
		t.Fatalf("dashboard has no metric %s", name)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestReportOnStack runs dev-corpus files and a hostile one through the
// real serve, worker, Redis, S3 and Tesseract, and checks that the
// dashboard's figures equal what the intake API said became of each file;
// then a supervisor revokes a result in the web app, the reuse API shows
// it revoked, and its reads count as reuses on the dashboard. The citizen
// ID searched for in the web app reaches no log line and no audit record.
func TestReportOnStack(t *testing.T) {
	local := stackTest(t, 14)
	intakeAddr, apiAddr := freeAddr(t), freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", apiAddr)
	serveLog := startCommand(t, "serve")
	base := "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")
	workerLog := startCommand(t, "worker", "--reconcile", "0")
	keys := filepath.Join(local, "keys")

	// Two batches: three dev-corpus scans (a dossier code each), and a
	// hostile file with one more scan.
	batch := func(files ...string) pipeline.BatchResponse {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("procedure_code", "1.000894")
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatalf("corpus missing beside the checkout: %v", err)
			}
			fw, _ := mw.CreateFormFile("files", filepath.Base(f))
			fw.Write(data)
		}
		mw.Close()
		status, br := postBatch(t, base, &body, mw.FormDataContentType())
		if status != http.StatusCreated {
			t.Fatalf("batch upload: %d %+v", status, br)
		}
		return br
	}
	dev, bad := "../../../shared/corpus/dev/", "../../../shared/corpus/bad/"
	var subs []pipeline.Submission
	subs = append(subs, batch(dev+"scan_0002.jpg", dev+"scan_0003.tif", dev+"scan_0005.png").Files...)
	subs = append(subs, batch(bad+"corrupted.pdf", dev+"scan_0006.jpg").Files...)

	// What the run reported, from the intake API's answers.
	deadline := time.Now().Add(8 * time.Minute)
	var want struct{ received, digitized, files, issued, inReview, quarantined int }
	dossierOK := map[string]bool{}
	var codes []string
	for _, s := range subs {
		if s.InputKey == "" {
			continue // refused at the door: nothing stored, nothing received
		}
		st, ok := awaitInput(t, base, s.InputKey, deadline)
		if !ok {
			t.Fatalf("%s still processing\nworker log:\n%s", s.Name, workerLog.String())
		}
		t.Logf("%s: %s, %d results, %d in review", s.Name, st.State, len(st.Results), len(st.Review))
		want.files++
		if _, seen := dossierOK[st.DossierCode]; !seen {
			dossierOK[st.DossierCode] = true
		}
		if st.State == "quarantined" {
			want.quarantined++
			dossierOK[st.DossierCode] = false
		}
		want.issued += len(st.Results)
		if st.State != "quarantined" {
			want.inReview += len(st.Review)
		}
		codes = append(codes, st.Results...)
	}
	for _, ok := range dossierOK {
		want.received++
		if ok {
			want.digitized++
		}
	}
	if want.quarantined == 0 || want.issued == 0 {
		t.Fatalf("the run quarantined %d files and issued %d results; the test needs both", want.quarantined, want.issued)
	}

	user, password := devSignin(t, keys, "supervisor")
	sup := signInWeb(t, base, user, password)
	resp, page := sup.get("/reports")
	if resp.StatusCode != 200 {
		t.Fatalf("dashboard: %d\n%s", resp.StatusCode, serveLog.String())
	}
	for name, n := range map[string]int{"received": want.received, "digitized": want.digitized, "files": want.files,
		"issued": want.issued, "in-review": want.inReview, "quarantined": want.quarantined, "reuses": 0} {
		if got := dashboardMetric(t, page, name); got != n {
			t.Errorf("dashboard %s = %d, the run says %d", name, got, n)
		}
	}

	// Revoke one result in the web app.
	code := codes[0]
	idType, holderID := resultHolder(t, code)
	resp, page = sup.post("/results", url.Values{"csrf": {pageCSRF(t, page)}, "q": {holderID}, "kind": {idType}})
	if resp.StatusCode != 200 || !strings.Contains(page, `data-code="`+code+`"`) {
		t.Fatalf("web search by the holder's ID: %d", resp.StatusCode)
	}
	_, page = sup.get("/results/" + code)
	resp, _ = sup.post("/results/"+code+"/revoke", url.Values{"csrf": {pageCSRF(t, page)}, "decision": {"125/QĐ-UBND"}, "reason": {"ISSUED_IN_ERROR"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, page = sup.get("/results/" + code); !strings.Contains(page, `data-status="revoked"`) {
		t.Error("the result page does not show the result revoked")
	}

	// The reuse API reads the same status events.
	hc := devClient(t, keys)
	api := "https://" + apiAddr
	waitHTTPClient(t, hc, api+"/healthz")
	apiCall := func(method, path, body string, v any) { t.Helper(); reuseAPICall(t, hc, api, method, path, body, v) }
	type validity struct {
		Valid  bool   `json:"valid"`
		Status string `json:"status"`
		Reason string `json:"reason"`
	}
	var found struct {
		Results []struct {
			ResultCode string   `json:"result_code"`
			Access     string   `json:"access"`
			Validity   validity `json:"validity"`
		} `json:"results"`
	}
	apiCall("POST", "/v1/results:search", fmt.Sprintf(`{"holder_id_type":%q,"holder_id":%q,"include_history":true}`, idType, holderID), &found)
	access := ""
	for _, r := range found.Results {
		if r.ResultCode == code {
			access = r.Access
			if r.Validity.Valid || r.Validity.Status != storage.StatusRevoked {
				t.Errorf("the API's search shows %s as %+v, want revoked", code, r.Validity)
			}
		}
	}
	if access == "" {
		t.Fatalf("the API's search does not return %s", code)
	}
	var meta struct {
		ResultCode string   `json:"result_code"`
		Validity   validity `json:"validity"`
	}
	apiCall("GET", "/v1/results/"+url.PathEscape(code)+"?access="+url.QueryEscape(access), "", &meta)
	if meta.Validity.Valid || meta.Validity.Status != storage.StatusRevoked || meta.Validity.Reason != storage.ReasonRevoked {
		t.Errorf("the API's metadata of %s: %+v, want revoked", code, meta.Validity)
	}

	// Both reads are reuses, counted from the audit log once stored.
	wantReuses := len(found.Results) + 1
	var reuses, requests int
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		_, page = sup.get("/reports")
		reuses, requests = dashboardMetric(t, page, "reuses"), dashboardMetric(t, page, "reuse-requests")
		if reuses == wantReuses && requests == 2 {
			break
		}
	}
	if reuses != wantReuses || requests != 2 {
		t.Errorf("dashboard reuses %d in %d requests, want %d in 2", reuses, requests, wantReuses)
	}
	if got := dashboardMetric(t, page, "issued"); got != want.issued {
		t.Errorf("issued %d after the revocation, want %d (a revoked result was still issued)", got, want.issued)
	}

	// The citizen ID is in no log line and no audit record.
	storagetest.CheckLog(t, serveLog.String(), []string{holderID}, nil)
	var recs bytes.Buffer
	repo, err := openRepository(context.Background(), envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	err = audit.Scan(context.Background(), repo.Bucket(), func(_ string, rs []audit.Record) error {
		for _, r := range rs {
			b, _ := json.Marshal(r)
			recs.Write(append(b, '\n'))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	storagetest.CheckLog(t, recs.String(), []string{holderID}, nil)
	for _, rule := range []string{`"rule":"results_searched"`, `"rule":"result_viewed"`, `"rule":"result_revoked"`, `"rule":"report_viewed"`} {
		if !strings.Contains(recs.String(), rule) {
			t.Errorf("no audit record %s", rule)
		}
	}
	if strings.Contains(serveLog.String(), holderID) || strings.Contains(recs.String(), holderID) {
		t.Error("the citizen ID reached the serve log or the audit log")
	}
}

// resultHolder is the holder ID type and ID of a filed result, read from
// the repository (the tests search by them).
func resultHolder(t *testing.T, code string) (idType, id string) {
	t.Helper()
	repo, err := openRepository(context.Background(), envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m, err := repo.Get(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	idType, id, err = repo.HolderID(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return idType, id
}
