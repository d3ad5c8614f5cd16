package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// staffClient is a signed-in member of staff talking to serve over HTTP,
// as the upload page does: the session cookie and the page's CSRF token.
type staffClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var (
	csrfFieldRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	csrfMetaRe  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
)

func signinStaff(t *testing.T, base, user, password string) *staffClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	sc := &staffClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	_, page := sc.get("/signin")
	m := csrfFieldRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("sign-in page has no form token")
	}
	resp, err := sc.c.PostForm(base+"/signin", url.Values{"csrf": {m[1]}, "user": {user}, "password": {password}, "next": {"/"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mm := csrfMetaRe.FindStringSubmatch(string(body))
	if mm == nil {
		t.Fatalf("after sign-in (%d) no page with a CSRF token", resp.StatusCode)
	}
	sc.csrf = mm[1]
	return sc
}

func (sc *staffClient) do(req *http.Request) (int, []byte) {
	sc.t.Helper()
	if req.Method != "GET" {
		req.Header.Set("X-CSRF-Token", sc.csrf)
	}
	resp, err := sc.c.Do(req)
	if err != nil {
		sc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (sc *staffClient) get(path string) (int, string) {
	sc.t.Helper()
	req, _ := http.NewRequest("GET", sc.base+path, nil)
	status, b := sc.do(req)
	return status, string(b)
}

// openBatch opens an empty batch, as the upload page does first.
func (sc *staffClient) openBatch(req pipeline.BatchRequest) pipeline.BatchResponse {
	sc.t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest("POST", sc.base+"/v1/batches", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	status, b := sc.do(r)
	var br pipeline.BatchResponse
	if err := json.Unmarshal(b, &br); err != nil || status != http.StatusCreated {
		sc.t.Fatalf("open batch: %d %s", status, b)
	}
	return br
}

// addFile sends one file into a batch, as the upload page does per file.
func (sc *staffClient) addFile(batch, name string, data []byte) (int, pipeline.BatchResponse) {
	sc.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("files", name)
	fw.Write(data)
	mw.Close()
	r, _ := http.NewRequest("POST", sc.base+"/v1/batches/"+batch+"/files", &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	status, b := sc.do(r)
	var br pipeline.BatchResponse
	json.Unmarshal(b, &br)
	return status, br
}

// batchView is the batch pages' JSON (web: /batches/{id}/status).
type batchView struct {
	ID          string `json:"id"`
	DossierCode string `json:"dossier_code"`
	Final       bool   `json:"final"`
	Files       []struct {
		Key         string   `json:"key"`
		Name        string   `json:"name"`
		DossierCode string   `json:"dossier_code"`
		State       string   `json:"state"`
		StateText   string   `json:"state_text"`
		Tone        string   `json:"tone"`
		Detail      string   `json:"detail"`
		Results     []string `json:"results"`
		Final       bool     `json:"final"`
	} `json:"files"`
}

// awaitBatch follows a batch's page JSON until every file is final.
func (sc *staffClient) awaitBatch(id string, files int, deadline time.Time) batchView {
	sc.t.Helper()
	for {
		status, body := sc.get("/batches/" + id + "/status")
		var v batchView
		if status == 200 {
			json.Unmarshal([]byte(body), &v)
		}
		if v.Final && len(v.Files) == files {
			return v
		}
		if time.Now().After(deadline) {
			sc.t.Fatalf("batch %s not final by the deadline: %d %s", id, status, body)
		}
		time.Sleep(time.Second)
	}
}

// TestBatchOnStack: on the real serve + worker + Redis + S3 + Tesseract, a
// counter clerk's session opens a batch and uploads dev-corpus scans into
// it one request each (as the upload page does); every file gets the
// batch's one dossier code, reaches a final state shown in Vietnamese,
// and results are numbered in the dossier. The batch is in the office's
// history and its receipt, read back from S3, and another request without
// the CSRF token is refused.
func TestBatchOnStack(t *testing.T) {
	local := stackTest(t, 12)
	base, workerLog := startIntakeAndWorker(t)
	user, password := devSignin(t, filepath.Join(local, "keys"), "counter")
	clerk := signinStaff(t, base, user, password)

	br := clerk.openBatch(pipeline.BatchRequest{})
	if !storage.ValidBatchID(br.BatchID) || !storage.ValidDossierCode(br.DossierCode) {
		t.Fatalf("opened batch %+v", br)
	}
	names := []string{"scan_0002.jpg", "scan_0005.png", "scan_0006.jpg"}
	var holders []string
	for _, n := range names {
		var truth struct {
			HolderID string `json:"holder_personal_id"`
		}
		if b, err := os.ReadFile(filepath.Join("../../../shared/corpus/dev", strings.TrimSuffix(n, filepath.Ext(n))+".truth.json")); err == nil && json.Unmarshal(b, &truth) == nil && truth.HolderID != "" {
			holders = append(holders, truth.HolderID)
		}
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("../../../shared/corpus/dev", n))
		if err != nil {
			t.Fatalf("dev corpus missing beside the checkout: %v", err)
		}
		status, got := clerk.addFile(br.BatchID, n, data)
		if status != http.StatusCreated || len(got.Files) != 1 || got.Files[0].DossierCode != br.DossierCode {
			t.Fatalf("%s: %d %+v, want it under %s", n, status, got, br.DossierCode)
		}
	}
	empty := []byte{}
	if _, got := clerk.addFile(br.BatchID, "trong.pdf", empty); got.Files[0].Status != pipeline.StatusRejected || got.Files[0].Reason != pipeline.RefusedEmpty {
		t.Errorf("an empty file: %+v, want refused as empty", got.Files)
	}
	// Without the page's token: refused, nothing added.
	req, _ := http.NewRequest("POST", base+"/v1/batches/"+br.BatchID+"/files", strings.NewReader(""))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if resp, err := clerk.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a post without the CSRF token: %v %v, want 403", resp.StatusCode, err)
	}

	v := clerk.awaitBatch(br.BatchID, len(names), time.Now().Add(6*time.Minute))
	results := 0
	for _, f := range v.Files {
		t.Logf("%s: %s (%s) %s %v", f.Name, f.State, f.StateText, f.Detail, f.Results)
		if f.DossierCode != br.DossierCode || !f.Final || f.StateText == "" {
			t.Errorf("%s: %+v, want final under %s", f.Name, f, br.DossierCode)
		}
		if f.State == pipeline.StateRejected && f.Tone != "bad" {
			t.Errorf("%s rejected but shown as %s", f.Name, f.Tone)
		}
		for _, r := range f.Results {
			results++
			if !strings.HasPrefix(r, br.DossierCode+"-KQ") {
				t.Errorf("%s: result %s is not of the batch's dossier %s", f.Name, r, br.DossierCode)
			}
		}
	}
	if results == 0 {
		t.Errorf("no file of the batch was issued; worker log:\n%s", workerLog.String())
	}
	for _, p := range []string{"/batches", "/batches/" + br.BatchID, "/batches/" + br.BatchID + "/receipt"} {
		status, page := clerk.get(p)
		if status != 200 || !strings.Contains(page, br.DossierCode) || !strings.Contains(page, br.BatchID) {
			t.Errorf("%s: %d, without the batch and its dossier code", p, status)
		}
		storagetest.CheckLog(t, page, holders, nil) // no citizen ID on the counter's pages
	}
	if _, page := clerk.get("/batches/" + br.BatchID + "/receipt"); !strings.Contains(page, "GIẤY TIẾP NHẬN HỒ SƠ") || !strings.Contains(page, "scan_0005.png") {
		t.Error("receipt lacks its title or a file")
	}
}
