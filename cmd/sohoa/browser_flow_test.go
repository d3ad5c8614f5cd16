package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// TestBrowserOneDay is a day at the office in a real browser, against the
// real serve (web app and reuse API), worker, Redis, S3 and Tesseract:
//   - a counter clerk signs in, puts 9 dev-corpus scans and a hostile file
//     on the upload page and watches every file reach a final state; the
//     batch page shows them; the clerk may not open the review queue;
//   - a reviewer opens the item waiting for review, sees both readings of
//     the ID and the ID's box on the page image, corrects the ID, approves
//     and sees it issued;
//   - a supervisor finds that result, revokes it under a decision, and the
//     reuse API's metadata shows it revoked; the dashboard's counts equal
//     the run's;
//   - no citizen ID is in any address the browser opened, in the pages
//     other than the review and results pages, or in the logs; a session
//     cookie is refused once its clerk signed out.
//
// With -screenshots DIR it saves the README's screenshots.
func TestBrowserOneDay(t *testing.T) {
	local := stackTest(t, 11)
	keys := filepath.Join(local, "keys")
	intakeAddr, apiAddr := freeAddr(t), freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", apiAddr)
	serveLog := startCommand(t, "serve")
	base := "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")
	workerLog := startCommand(t, "worker", "--reconcile", "0")

	dev, bad := "../../../shared/corpus/dev/", "../../../shared/corpus/bad/"
	names := []string{"scan_0001.pdf", "scan_0002.jpg", "scan_0003.tif", "scan_0004.pdf", "scan_0005.png",
		"scan_0006.jpg", "scan_0007.tif", "scan_0009.jpg", "scan_0010.jpg"}
	var files, ids []string
	for _, n := range names {
		files = append(files, mustAbs(t, dev+n))
		// Every ID printed in the scan: none may reach an address, a log
		// line or a page other than the review and results pages.
		b, err := os.ReadFile(dev + strings.TrimSuffix(n, filepath.Ext(n)) + ".truth.json")
		if err != nil {
			t.Fatalf("corpus missing beside the checkout: %v", err)
		}
		ids = append(ids, regexp.MustCompile(`\b\d{12}\b`).FindAllString(string(b), -1)...)
	}
	files = append(files, mustAbs(t, bad+"corrupted.pdf"))
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("corpus missing beside the checkout: %v", err)
		}
	}

	ctx := newBrowser(t)
	var mu sync.Mutex
	var opened []string
	chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			opened = append(opened, e.Request.URL)
			mu.Unlock()
		}
	})
	signin := func(role, waitFor string) {
		t.Helper()
		user, password := devSignin(t, keys, role)
		step(t, ctx, "sign in as "+role, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#user")),
			chromedp.SendKeys(chromedp.CSS("#user"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(waitFor)))
	}
	signout := func() {
		t.Helper()
		step(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)), chromedp.WaitVisible(chromedp.CSS("#user")))
	}
	// noIDs checks the page shown has no citizen ID.
	noIDs := func(what string) {
		t.Helper()
		html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if strings.Contains(html, id) {
				t.Errorf("the %s shows a citizen ID", what)
				return
			}
		}
	}

	// The counter clerk drops ten files on the drop zone (as from the file
	// manager: the page's drop handler, with the files' bytes), one batch,
	// every file to a final state.
	signin("counter", "#upload-form")
	type dropFile struct {
		Name string `json:"name"`
		B64  string `json:"b64"`
	}
	var drops []dropFile
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		drops = append(drops, dropFile{filepath.Base(f), base64.StdEncoding.EncodeToString(b)})
	}
	dropData, _ := json.Marshal(drops)
	dropped, err := chromedp.Run(ctx, chromedp.Evaluate[int](`((files) => {
		const dt = new DataTransfer();
		for (const f of files) {
			const bin = atob(f.b64), bytes = new Uint8Array(bin.length);
			for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
			dt.items.add(new File([bytes], f.name));
		}
		const zone = document.getElementById("dropzone");
		for (const type of ["dragenter", "dragover", "drop"]) zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
		return dt.files.length;
	})(`+string(dropData)+`)`))
	if err != nil || dropped != len(files) {
		t.Fatalf("dropped %d files (%v), want %d", dropped, err, len(files))
	}
	step(t, ctx, "start the upload", chromedp.WaitVisible(chromedp.CSS(`#files tbody tr.file:nth-child(10)`)),
		chromedp.Click(chromedp.CSS("#start-upload")), chromedp.WaitVisible(chromedp.CSS("#batch-info")))
	shot(t, ctx, "upload-mid.png")
	wctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
	err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#all-final")))
	cancel()
	rows, rerr := chromedp.Run(ctx, chromedp.Evaluate[[]fileRow](rowsJS))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatalf("not every file reached a final state on the page: %v\n%+v\nworker log:\n%s", err, rows, workerLog.String())
	}
	if len(rows) != len(files) {
		t.Fatalf("%d rows, want %d", len(rows), len(files))
	}
	byName := map[string]fileRow{}
	for _, r := range rows {
		t.Logf("%s: %s (%s) %s", r.Name, r.State, r.Status, r.Detail)
		byName[r.Name] = r
		if strings.Contains(r.Status+r.Detail, "_") {
			t.Errorf("%s shows a raw code: %q %q", r.Name, r.Status, r.Detail)
		}
	}
	if r := byName["corrupted.pdf"]; r.State != "quarantined" || !strings.Contains(r.Status, "cách ly") {
		t.Errorf("the hostile file: %+v, want quarantined, said in Vietnamese", r)
	}
	if r := byName["scan_0003.tif"]; r.State != "review" {
		t.Fatalf("scan_0003.tif: %+v, want waiting for review", r)
	}
	noIDs("upload page")
	step(t, ctx, "open the batch page", chromedp.Click(chromedp.CSS("#batch-link")), chromedp.WaitVisible(chromedp.CSS("#batch-final")))
	shot(t, ctx, "batch-page.png")
	noIDs("batch page")
	batchID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#files").dataset.batch`))
	if err != nil || batchID == "" {
		t.Fatalf("batch ID: %q %v", batchID, err)
	}
	// The clerk may not open the review queue.
	step(t, ctx, "the clerk opens the review queue", chromedp.Navigate(base+"/review"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := text(t, ctx, "h1"); h != "Không có quyền truy cập" {
		t.Errorf("a counter clerk opening /review sees %q, want refused", h)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	clerkCookie := ""
	for _, c := range cookies.Cookies {
		if c.Name == "sohoa-session" {
			clerkCookie = c.Value
		}
	}
	step(t, ctx, "home", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#upload-form")))
	signout()
	// The signed-out session's cookie is refused.
	req, _ := http.NewRequest("GET", base+"/batches", nil)
	req.AddCookie(&http.Cookie{Name: "sohoa-session", Value: clerkCookie})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if clerkCookie == "" || resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("the session cookie after sign-out: %d %s, want sent to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}

	// The reviewer: both readings, the box, a correction, issued.
	var truth struct {
		HolderID string `json:"holder_personal_id"`
	}
	tb, _ := os.ReadFile(dev + "scan_0003.truth.json")
	if err := json.Unmarshal(tb, &truth); err != nil {
		t.Fatal(err)
	}
	signin("reviewer", "ul.tiles")
	step(t, ctx, "open the queue", chromedp.Navigate(base+"/review"), chromedp.WaitVisible(chromedp.CSS("#review-queue a.item")))
	shot(t, ctx, "review-queue.png")
	// The queue names no file (file names often carry a citizen's name):
	// the item is the one residence confirmation waiting.
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const a = document.querySelectorAll('#review-queue tr[data-doc-type="cu-tru"] a.item');
		return a.length === 1 ? a[0].getAttribute("href") : ""; })()`))
	if err != nil || href == "" {
		t.Fatalf("scan_0003.tif (cu-tru) not once in the review queue: %v\n%s", err, text(t, ctx, "#review-queue"))
	}
	step(t, ctx, "open the item", chromedp.Navigate(base+href), chromedp.WaitVisible(chromedp.CSS(`[data-field="personal_id"] input`)))
	readings, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-field="personal_id"] .id-reading')].map(b => b.dataset.value)`))
	if err != nil || len(readings) < 2 || readings[0] == readings[1] {
		t.Errorf("the item shows the ID's readings %v (%v), want two different ones", readings, err)
	}
	boxOK, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		const r = document.querySelector('svg rect.box[data-field="personal_id"]');
		if (!r) return false;
		const s = r.ownerSVGElement.getBoundingClientRect(), b = r.getBoundingClientRect();
		return b.width > 0 && b.height > 0 && b.left >= s.left && b.right <= s.right && b.top >= s.top && b.bottom <= s.bottom;
	})()`))
	if err != nil || !boxOK {
		t.Errorf("no box of the ID on the page image (%v)", err)
	}
	shot(t, ctx, "review-page.png")
	step(t, ctx, "correct the ID and approve",
		chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector('[data-field="personal_id"] input'); i.focus(); i.select(); })()`),
		chromedp.SendKeys(chromedp.CSS(`[data-field="personal_id"] input`), truth.HolderID),
		chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#decision")))
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	err = chromedp.Do(sctx, chromedp.WaitVisible(chromedp.CSS(`#decision[data-state="issued"]`)))
	cancel()
	if err != nil {
		t.Fatalf("the approved item is not shown issued: %v (%s)\nworker log:\n%s", err, text(t, ctx, "#decision"), workerLog.String())
	}
	code, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#decision").dataset.resultCode`))
	if err != nil || code == "" || !strings.Contains(text(t, ctx, "#decision"), "Đã cấp kết quả điện tử") {
		t.Fatalf("decision: %q %v", code, err)
	}
	signout()

	// The supervisor: find the result, revoke it; the reuse API agrees.
	signin("supervisor", "ul.tiles")
	step(t, ctx, "find the result", chromedp.Navigate(base+"/results"), chromedp.WaitVisible(chromedp.CSS("#search-form")),
		chromedp.SendKeys(chromedp.CSS("#q"), truth.HolderID), chromedp.Click(chromedp.CSS(`#search-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#search-results a[href="/results/`+code+`"]`)),
		chromedp.Click(chromedp.CSS(`#search-results a[href="/results/`+code+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#result-status[data-status=active]`)))
	shot(t, ctx, "result-page.png")
	// The signed PDF opens in the browser: served inline to the session.
	pdfOK, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector("a#open-pdf").href).then(async r =>
		r.status + " " + r.headers.get("Content-Type") + " " + (r.headers.get("Content-Disposition") || "") + " " +
		new TextDecoder().decode((await r.arrayBuffer()).slice(0, 5)))`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(pdfOK, "200 application/pdf inline") || !strings.HasSuffix(pdfOK, "%PDF-") {
		t.Errorf("the result's PDF in the browser: %q %v, want 200 application/pdf inline", pdfOK, err)
	}
	step(t, ctx, "revoke", chromedp.SendKeys(chromedp.CSS("#revoke-decision"), "125/QĐ-UBND"),
		chromedp.SetValue(chromedp.CSS("#revoke-reason"), "ISSUED_IN_ERROR"),
		chromedp.Click(chromedp.CSS(`#revoke button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#result-status[data-status=revoked]`)))
	hc := devClient(t, keys)
	apiBase := "https://" + apiAddr
	waitHTTPClient(t, hc, apiBase+"/healthz")
	apiCall := func(method, path, body string, v any) {
		t.Helper()
		reuseAPICall(t, hc, apiBase, method, path, body, v)
	}
	var found struct {
		Results []struct {
			ResultCode string `json:"result_code"`
			Access     string `json:"access"`
		} `json:"results"`
	}
	idType, _ := resultHolder(t, code)
	apiCall("POST", "/v1/results:search", fmt.Sprintf(`{"holder_id_type":%q,"holder_id":%q,"include_history":true}`, idType, truth.HolderID), &found)
	access := ""
	for _, r := range found.Results {
		if r.ResultCode == code {
			access = r.Access
		}
	}
	if access == "" {
		t.Fatalf("the reuse API's search does not find %s: %+v", code, found)
	}
	var meta struct {
		Validity struct {
			Valid  bool   `json:"valid"`
			Status string `json:"status"`
		} `json:"validity"`
	}
	apiCall("GET", "/v1/results/"+url.PathEscape(code)+"?access="+url.QueryEscape(access), "", &meta)
	if meta.Validity.Valid || meta.Validity.Status != storage.StatusRevoked {
		t.Errorf("the reuse API's metadata of %s: %+v, want revoked", code, meta.Validity)
	}

	// The dashboard's counts equal the run's, as the intake API tells it.
	req, _ = http.NewRequest("GET", base+"/v1/batches/"+batchID, nil)
	req.Header.Set("Authorization", "Bearer "+testIntakeToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var bs pipeline.BatchStatus
	err = json.NewDecoder(resp.Body).Decode(&bs)
	resp.Body.Close()
	if err != nil || !bs.Final || len(bs.Files) != len(files) {
		t.Fatalf("batch status: %v %+v", err, bs)
	}
	var want struct{ received, digitized, files, issued, inReview, quarantined int }
	want.received, want.digitized = 1, 1 // one batch, one dossier
	for _, f := range bs.Files {
		want.files++
		want.issued += len(f.Results)
		if f.State == "quarantined" {
			want.quarantined++
			want.digitized = 0 // a dossier with a file that could not be read is not digitised
		} else {
			want.inReview += len(f.Review)
		}
	}
	step(t, ctx, "dashboard", chromedp.Navigate(base+"/reports"), chromedp.WaitVisible(chromedp.CSS(`#dashboard [data-metric=received]`)))
	shot(t, ctx, "dashboard.png")
	for name, n := range map[string]int{"received": want.received, "digitized": want.digitized, "files": want.files,
		"issued": want.issued, "in-review": want.inReview, "quarantined": want.quarantined} {
		if got := text(t, ctx, `#dashboard [data-metric="`+name+`"]`); got != fmt.Sprint(n) {
			t.Errorf("dashboard %s = %s, the run says %d", name, got, n)
		}
	}
	noIDs("dashboard")

	// No citizen ID in an address the browser opened, nor in the logs.
	mu.Lock()
	for _, u := range opened {
		for _, id := range ids {
			if strings.Contains(u, id) {
				t.Errorf("the browser opened an address with a citizen ID: %s", u)
			}
		}
	}
	mu.Unlock()
	storagetest.CheckLog(t, serveLog.String(), ids, nil)
	storagetest.CheckLog(t, workerLog.String(), ids, nil)
}
