package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
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
)

// reviewScan is a dev-corpus scan whose holder ID the engine reads two
// ways (a pen stroke over the number): it waits for review with
// id_reads_disagree:personal_id and low_confidence:personal_id.
const reviewScan = "../../../shared/corpus/dev/scan_0003.tif"

// uploadOne uploads one scan as a one-file batch with the intake token and
// returns its submission (201 required).
func uploadOne(t *testing.T, base, name string, data []byte) pipeline.Submission {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("procedure_code", "1.000894")
	fw, _ := mw.CreateFormFile("files", name)
	fw.Write(data)
	mw.Close()
	status, br := postBatch(t, base, &body, mw.FormDataContentType())
	if status != http.StatusCreated || len(br.Files) != 1 {
		t.Fatalf("upload: %d %+v", status, br)
	}
	return br.Files[0]
}

// webClient is a browser-like client of the staff web app: cookies kept,
// redirects not followed.
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newWebClient(t *testing.T, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (w *webClient) do(method, path string, form url.Values) (*http.Response, string) {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.base+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func pageCSRF(t *testing.T, page string) string {
	t.Helper()
	m := csrfFieldRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page has no CSRF field:\n%.2000s", page)
	}
	return m[1]
}

func (w *webClient) get(path string) (*http.Response, string) {
	w.t.Helper()
	return w.do("GET", path, nil)
}

func (w *webClient) post(path string, form url.Values) (*http.Response, string) {
	w.t.Helper()
	return w.do("POST", path, form)
}

// signInWeb is a web client signed in with a user name and password.
func signInWeb(t *testing.T, base, user, password string) *webClient {
	t.Helper()
	w := newWebClient(t, base)
	w.signin(user, password)
	return w
}

func (w *webClient) signin(user, password string) {
	w.t.Helper()
	_, page := w.do("GET", "/signin", nil)
	resp, body := w.do("POST", "/signin", url.Values{"csrf": {pageCSRF(w.t, page)}, "user": {user}, "password": {password}, "next": {"/review"}})
	if resp.StatusCode != http.StatusSeeOther {
		w.t.Fatalf("sign-in: %d\n%.1000s", resp.StatusCode, body)
	}
}

// TestReviewWeb runs a real scan that needs review through the real
// `sohoa serve` and `sohoa worker`: the review CLI shows its reasons in
// Vietnamese with both readings of the ID and refuses an unknown field; a
// reviewer opens it from the queue in the web app, sees both readings,
// the ID's box on the page image (served straightened, at the size the
// boxes refer to), approves it with the ID corrected, and its result is
// issued.
func TestReviewWeb(t *testing.T) {
	local := stackTest(t, 13)
	scan, err := os.ReadFile(reviewScan)
	if err != nil {
		t.Fatalf("dev corpus missing beside the checkout: %v", err)
	}
	var truth struct {
		HolderID string `json:"holder_personal_id"`
	}
	tb, err := os.ReadFile(strings.TrimSuffix(reviewScan, ".tif") + ".truth.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(tb, &truth); err != nil {
		t.Fatal(err)
	}
	intakeAddr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", "")
	serveLog := startCommand(t, "serve", "--api-addr", "")
	base := "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")
	workerLog := startCommand(t, "worker", "--reconcile", "0")

	key := uploadOne(t, base, filepath.Base(reviewScan), scan).InputKey
	st, ok := awaitInput(t, base, key, time.Now().Add(4*time.Minute))
	if !ok || st.State != "review" || len(st.Review) != 1 {
		t.Fatalf("state %+v, want review\nworker log:\n%s", st, workerLog.String())
	}
	reasons := strings.Join(st.Review[0].Reasons, ",")
	if !strings.Contains(reasons, "id_reads_disagree:personal_id") {
		t.Fatalf("review reasons %s, want id_reads_disagree:personal_id", reasons)
	}
	doc := st.Review[0].Doc
	texts := pipeline.StaffTexts()
	ctx := context.Background()

	// The CLI: Vietnamese reasons, both readings, unknown fields refused.
	var out bytes.Buffer
	if rc := runCmd(ctx, []string{"review", "list"}, &out, &out); rc != 0 || !strings.Contains(out.String(), pipeline.StaffReason(texts, "id_reads_disagree:personal_id")) ||
		strings.Contains(out.String(), "id_reads_disagree:personal_id") {
		t.Errorf("review list: exit %d, want the Vietnamese reasons:\n%s", rc, out.String())
	}
	out.Reset()
	if rc := runCmd(ctx, []string{"review", "show", "--input", key, "--doc", fmt.Sprint(doc)}, &out, &out); rc != 0 ||
		!strings.Contains(out.String(), "page read: ") || !strings.Contains(out.String(), "second read: ") || !strings.Contains(out.String(), pipeline.StaffReason(texts, "id_reads_disagree:personal_id")) {
		t.Errorf("review show: exit %d, want both readings and the reasons:\n%s", rc, out.String())
	}
	out.Reset()
	if rc := runCmd(ctx, []string{"review", "approve", "--input", key, "--doc", fmt.Sprint(doc), "--by", "cb01", "--set", "bogus_field=x"}, &out, &out); rc == 0 ||
		!strings.Contains(out.String(), "bogus_field: "+texts[pipeline.FieldUnknown]) {
		t.Errorf("review approve --set bogus_field=x: exit %d, want refused:\n%s", rc, out.String())
	}

	// The web app.
	user, password := devSignin(t, filepath.Join(local, "keys"), "reviewer")
	rev := newWebClient(t, base)
	rev.signin(user, password)
	resp, queue := rev.do("GET", "/review", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("queue: %d", resp.StatusCode)
	}
	item := fmt.Sprintf("/review/%s/%d", key, doc)
	if !strings.Contains(queue, `<a class="item" href="`+item+`"`) || !strings.Contains(queue, "Xác nhận thông tin về cư trú") {
		t.Fatalf("queue does not list the item:\n%.3000s", queue)
	}
	resp, page := rev.do("GET", item, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("item: %d", resp.StatusCode)
	}
	readings := regexp.MustCompile(`class="id-reading" data-value="(\d+)"`).FindAllStringSubmatch(page, -1)
	if len(readings) < 2 {
		t.Fatalf("item page shows %d readings of the ID, want both:\n%.4000s", len(readings), page)
	}
	truthShown := false
	for _, m := range readings {
		truthShown = truthShown || m[1] == truth.HolderID
	}
	if !truthShown {
		t.Logf("neither reading is the printed ID (the reviewer types it)")
	}
	box := regexp.MustCompile(`<rect class="box [a-z]+" data-field="personal_id" x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"`).FindStringSubmatch(page)
	vb := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindStringSubmatch(page)
	src := regexp.MustCompile(`<image href="([^"]+)"`).FindStringSubmatch(page)
	if box == nil || vb == nil || src == nil {
		t.Fatalf("item page lacks the ID's box on the page image:\n%.4000s", page)
	}
	resp, img := rev.do("GET", src[1], nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("page image: %d %s", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	cfg, _, err := image.DecodeConfig(strings.NewReader(img))
	if err != nil || fmt.Sprint(cfg.Width) != vb[1] || fmt.Sprint(cfg.Height) != vb[2] {
		t.Errorf("page image %dx%d (%v), want the %sx%s the boxes refer to", cfg.Width, cfg.Height, err, vb[1], vb[2])
	}
	anon := newWebClient(t, base)
	if resp, _ := anon.do("GET", src[1], nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("page image signed out: %d, want 303 to sign in", resp.StatusCode)
	}

	// Approve with the printed ID.
	form := url.Values{"csrf": {pageCSRF(t, page)}, "action": {"approve"}, "f.personal_id": {truth.HolderID}}
	resp, answer := rev.do("POST", item, form)
	if resp.StatusCode != http.StatusSeeOther {
		errs := regexp.MustCompile(`<p class="error" role="alert">([^<]+)`).FindAllStringSubmatch(answer, -1)
		t.Fatalf("approval: %d %v\n%.3000s", resp.StatusCode, errs, answer)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var state map[string]string
	for {
		_, js := rev.do("GET", item+"/status", nil)
		state = map[string]string{}
		json.Unmarshal([]byte(js), &state)
		if state["state"] != "approved" && state["state"] != "pending" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not issued within 3 minutes: %v\nworker log:\n%s", state, workerLog.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if state["state"] != "issued" || state["result_code"] == "" {
		t.Fatalf("after approval: %v, want issued\nworker log:\n%s", state, workerLog.String())
	}
	st, _ = awaitInput(t, base, key, time.Now().Add(time.Minute))
	if st.State != "issued" || len(st.Results) != 1 || st.Results[0] != state["result_code"] {
		t.Errorf("input status %+v, want issued as %s", st, state["result_code"])
	}
	_, page = rev.do("GET", item, nil)
	if !strings.Contains(page, `data-state="issued" data-result-code="`+state["result_code"]+`"`) {
		t.Errorf("item page does not show the result issued")
	}
	for _, part := range []string{truth.HolderID, readings[0][1], readings[1][1]} {
		if strings.Contains(serveLog.String(), part) {
			t.Errorf("serve log shows a reading of the citizen ID")
		}
	}
}
