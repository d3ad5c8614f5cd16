package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/kho"
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
	// The citizen's data store: a receiver of this test (plain HTTP is
	// allowed in development mode only), quick retries and sweeps.
	kho := newKhoReceiver(t)
	t.Setenv("SOHOA_KHO_URL", kho.url)
	t.Setenv("SOHOA_KHO_TOKEN", "kho-test-token")
	t.Setenv("SOHOA_KHO_BACKOFF", "100ms")
	t.Setenv("SOHOA_KHO_BACKOFF_MAX", "1s")
	t.Setenv("SOHOA_KHO_SWEEP_EVERY", "1s")
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

	// Every result's issue and the revocation reached the Kho once, in
	// order, with the holder's ID in the body only; the metadata and the
	// dashboard say so.
	type kinds = []string
	var got map[string]kinds
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if got = kho.kinds(); len(got) == want.issued && len(got[code]) == 2 {
			break
		}
	}
	for _, c := range codes {
		w := kinds{storage.KindIssued}
		if c == code {
			w = append(w, storage.KindRevoked)
		}
		if !slices.Equal(got[c], w) {
			t.Errorf("the Kho received %v for %s, want %v", got[c], c, w)
		}
	}
	kho.check(t, code, holderID)
	var synced struct {
		SyncState storage.SyncState `json:"sync_state"`
	}
	polls := 0 // each metadata read is a reuse too
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		polls++
		apiCall("GET", "/v1/results/"+url.PathEscape(code)+"?access="+url.QueryEscape(access), "", &synced)
		if synced.SyncState.State == storage.SyncDelivered {
			break
		}
	}
	if s := synced.SyncState; s.State != storage.SyncDelivered || s.Events != 2 || s.Delivered != 2 || s.SyncedAt == nil {
		t.Errorf("sync_state of %s = %+v, want delivered, 2 of 2 events", code, s)
	}
	_, page = sup.get("/reports")
	if d, p, k := dashboardMetric(t, page, "kho-delivered"), dashboardMetric(t, page, "kho-pending"), dashboardMetric(t, page, "kho-dead"); d != want.issued+1 || p != 0 || k != 0 {
		t.Errorf("dashboard kho delivered %d pending %d dead %d, want %d, 0, 0", d, p, k, want.issued+1)
	}

	// Both reads are reuses, counted from the audit log once stored.
	wantReuses := len(found.Results) + 1 + polls
	var reuses, requests int
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		_, page = sup.get("/reports")
		reuses, requests = dashboardMetric(t, page, "reuses"), dashboardMetric(t, page, "reuse-requests")
		if reuses == wantReuses && requests == 2+polls {
			break
		}
	}
	if reuses != wantReuses || requests != 2+polls {
		t.Errorf("dashboard reuses %d in %d requests, want %d in %d", reuses, requests, wantReuses, 2+polls)
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

// khoReceiver is the citizen's data store of a stack test: it stores each
// event once by Idempotency-Key and remembers what it was sent.
type khoReceiver struct {
	url      string
	mu       sync.Mutex
	byCode   map[string][]string
	keys     map[string]bool
	payloads []kho.Payload
	problems []string
}

func newKhoReceiver(t *testing.T) *khoReceiver {
	t.Helper()
	k := &khoReceiver{byCode: map[string][]string{}, keys: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p kho.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		key := r.Header.Get("Idempotency-Key")
		if key != p.EventID || r.Header.Get("Authorization") != "Bearer kho-test-token" {
			k.problems = append(k.problems, "headers of "+p.EventID)
		}
		if !k.keys[key] {
			k.keys[key] = true
			k.byCode[p.ResultCode] = append(k.byCode[p.ResultCode], p.EventKind)
			k.payloads = append(k.payloads, p)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"portal_ref":"KHO-%d"}`, len(k.payloads))
	}))
	t.Cleanup(srv.Close)
	k.url = srv.URL + "/kho/events"
	return k
}

func (k *khoReceiver) kinds() map[string][]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string][]string{}
	for c, v := range k.byCode {
		out[c] = slices.Clone(v)
	}
	return out
}

// check: the revoked result's payloads name its holder and link its
// verification page; nothing odd arrived.
func (k *khoReceiver) check(t *testing.T, code, holderID string) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, p := range k.problems {
		t.Error("kho receiver: " + p)
	}
	for _, p := range k.payloads {
		if p.ResultCode == code && (p.Holder.ID != holderID || !strings.Contains(p.EResult.VerifyURL, "/v/"+code+"?k=")) {
			t.Errorf("payload %s: holder %s, verify URL %s", p.EventID, p.Holder.IDType, p.EResult.VerifyURL)
		}
	}
}
