package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sohoa/pipeline"
)

// TestBrowserReview drives the review page in a real browser against the
// real serve + worker: a reviewer opens the waiting item from the queue,
// sees both readings of the ID and the ID's box on the page image, types
// the printed ID, approves with Ctrl+Enter and sees the result issued.
func TestBrowserReview(t *testing.T) {
	local := stackTest(t, 13)
	scan, err := os.ReadFile(reviewScan)
	if err != nil {
		t.Fatalf("dev corpus missing beside the checkout: %v", err)
	}
	var truth struct {
		HolderID string `json:"holder_personal_id"`
	}
	tb, _ := os.ReadFile(strings.TrimSuffix(reviewScan, ".tif") + ".truth.json")
	if err := json.Unmarshal(tb, &truth); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", addr)
	t.Setenv("SOHOA_API_ADDR", "")
	startCommand(t, "serve", "--api-addr", "")
	base := "http://" + addr
	waitHTTP(t, base+"/healthz")
	workerLog := startCommand(t, "worker", "--reconcile", "0")
	if st, ok := awaitInput(t, base, uploadOne(t, base, filepath.Base(reviewScan), scan).InputKey, time.Now().Add(4*time.Minute)); !ok || st.State != "review" {
		t.Fatalf("state %+v, want review\n%s", st, workerLog.String())
	}

	user, password := devSignin(t, filepath.Join(local, "keys"), "reviewer")
	ctx := newBrowser(t)
	step(t, ctx, "sign in",
		chromedp.Navigate(base+"/signin?next=/review"),
		chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#review-queue a.item")))
	if q := text(t, ctx, "#review-queue"); !strings.Contains(q, pipeline.StaffReason(pipeline.StaffTexts(), "id_reads_disagree:personal_id")) || strings.Contains(q, "id_reads_disagree") {
		t.Errorf("queue row %q: want the reasons in Vietnamese", q)
	}
	step(t, ctx, "open the item", chromedp.Click(chromedp.CSS("#review-queue a.item")),
		chromedp.WaitVisible(chromedp.CSS(`[data-field="personal_id"] input`)))

	eval := func(what, js string) bool {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		ok, err := chromedp.Run(sctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return ok
	}
	if !eval("readings", `document.querySelectorAll('[data-field="personal_id"] .id-reading').length >= 2`) {
		t.Error("the item page does not show both readings of the ID")
	}
	// The ID's box lies on the page image, and the image is loaded.
	if !eval("box", `(function(){
		var r = document.querySelector('svg rect.box[data-field="personal_id"]');
		var s = r && r.ownerSVGElement.getBoundingClientRect(), b = r && r.getBoundingClientRect();
		return !!r && b.width > 0 && b.height > 0 && b.left >= s.left && b.right <= s.right && b.top >= s.top && b.bottom <= s.bottom;
	})()`) {
		t.Error("no box of the ID on the page image")
	}
	// The page image the SVG shows is served to the signed-in browser.
	sctx0, cancel0 := context.WithTimeout(ctx, 30*time.Second)
	imgOK, err := chromedp.Run(sctx0, chromedp.Evaluate[bool](`fetch(document.querySelector('svg image').getAttribute('href')).then(function (r) {
		return r.ok && r.headers.get('Content-Type').indexOf('image/') === 0; })`, chromedp.EvalAwaitPromise))
	cancel0()
	if err != nil || !imgOK {
		t.Errorf("page image not served to the browser: %v", err)
	}
	if !eval("highlight", `document.querySelector('svg rect.box.active') !== null`) {
		t.Error("the selected field's box is not highlighted")
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil && *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "review-page.png"), shot, 0o644)
	}

	// Correct the ID by typing it, approve with the keyboard.
	step(t, ctx, "correct and approve",
		chromedp.Evaluate[chromedp.Void](`(function(){ var i = document.querySelector('[data-field="personal_id"] input'); i.focus(); i.select(); })()`),
		chromedp.SendKeys(chromedp.CSS(`[data-field="personal_id"] input`), truth.HolderID),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.WaitVisible(chromedp.CSS("#decision")))
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(sctx, chromedp.WaitVisible(chromedp.CSS(`#decision[data-state="issued"]`))); err != nil {
		errs := ""
		if e, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`)); err == nil {
			errs = e
		}
		t.Fatalf("not shown issued: %v\n%.2000s\nworker log:\n%s", err, errs, workerLog.String())
	}
	d := text(t, ctx, "#decision")
	code, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#decision').dataset.resultCode`))
	if code == "" || !strings.Contains(d, code) || !strings.Contains(d, "Đã cấp kết quả điện tử") {
		t.Errorf("decision %q (code %q): want the result code issued", d, code)
	}
	if green, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#decision')).color`)); green != "rgb(5, 100, 14)" {
		t.Errorf("issued decision is shown in %s, want green", green)
	}
	if url, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)); strings.Contains(url, truth.HolderID) {
		t.Error("the citizen ID is in the URL")
	}
	t.Log(fmt.Sprintf("issued %s from the review page", code))
}
