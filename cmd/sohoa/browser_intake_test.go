package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// fileRow is one row of the upload or batch page's file table.
type fileRow struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Dossier string `json:"dossier"`
	Status  string `json:"status"`
	Detail  string `json:"detail"`
}

// rowsJS reads the file rows of #files.
const rowsJS = `[...document.querySelectorAll("#files tbody tr.file")].map(tr => ({
  name: tr.querySelector("td.name").textContent, state: tr.dataset.state,
  dossier: (tr.querySelector("td.dossier") || {}).textContent || "",
  status: tr.querySelector("td.state").textContent, detail: tr.querySelector("td.detail").textContent}))`

// dropJS drops files made in the page on the drop zone, as a clerk's drag
// from the file manager would.
const dropJS = `(() => {
  const dt = new DataTransfer();
  dt.items.add(new File(["not a scan at all"], "keo-tha-hong.jpg", {type: "image/jpeg"}));
  const zone = document.getElementById("dropzone");
  for (const type of ["dragenter", "dragover", "drop"]) zone.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
  return dt.files.length;
})()`

// TestBrowserIntake drives the upload page in headless Chromium against the
// real serve + worker: a clerk picks scans (and a hostile, empty file),
// drops one more on the drop zone, starts the upload, and watches every
// row reach a final state; the stored files share one dossier code; the
// batch page then shows each file final, and the receipt prints.
func TestBrowserIntake(t *testing.T) {
	local := stackTest(t, 12)
	base, _ := startIntakeAndWorker(t)
	user, password := devSignin(t, filepath.Join(local, "keys"), "counter")
	ctx := newBrowser(t)

	step(t, ctx, "sign in",
		chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")))

	dev := "../../../shared/corpus/dev"
	var files []string
	for _, n := range []string{"scan_0002.jpg", "scan_0005.png", "scan_0009.jpg", "scan_0010.jpg"} {
		files = append(files, mustAbs(t, filepath.Join(dev, n)))
	}
	files = append(files, mustAbs(t, "../../../shared/corpus/bad/empty.pdf"), mustAbs(t, "../../../shared/corpus/bad/text_renamed.jpg"))
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("corpus missing beside the checkout: %v", err)
		}
	}
	// A malformed procedure code is refused on the page, in Vietnamese.
	step(t, ctx, "type a malformed procedure",
		chromedp.SetValue(chromedp.CSS("#procedure-select"), "other"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("procedure-select").dispatchEvent(new Event("change"))`),
		chromedp.SendKeys(chromedp.CSS("#procedure-code"), "thu-tuc-1"),
		chromedp.SetUploadFiles(chromedp.CSS("#file-input"), files),
		chromedp.Click(chromedp.CSS("#start-upload")),
		chromedp.WaitVisible(chromedp.CSS("#form-error")))
	if e := text(t, ctx, "#form-error"); !strings.Contains(e, "Mã thủ tục hành chính không đúng định dạng") {
		t.Errorf("malformed procedure: %q", e)
	}
	dropped, err := chromedp.Run(ctx, chromedp.Evaluate[int](dropJS))
	if err != nil || dropped != 1 {
		t.Fatalf("dropped %d files: %v", dropped, err)
	}
	step(t, ctx, "upload",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("procedure-select"); s.selectedIndex = 0; s.dispatchEvent(new Event("change")); })()`),
		chromedp.WaitVisible(chromedp.CSS(`#files tbody tr.file:nth-child(7)`)),
		chromedp.Click(chromedp.CSS("#start-upload")),
		chromedp.WaitVisible(chromedp.CSS("#batch-info")))
	if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil && *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "upload-mid.png"), shot, 0o644)
	}
	wctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	err = chromedp.Do(wctx, chromedp.WaitVisible(chromedp.CSS("#all-final")))
	cancel()
	rows, rerr := chromedp.Run(ctx, chromedp.Evaluate[[]fileRow](rowsJS))
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, r := range rows {
		t.Logf("%s: %s (%s) %s %s", r.Name, r.State, r.Status, r.Dossier, r.Detail)
	}
	if err != nil {
		t.Fatalf("not every file reached a final state: %v", err)
	}
	if len(rows) != 7 {
		t.Fatalf("%d rows, want 7", len(rows))
	}
	dossier := ""
	states := map[string]int{}
	for _, r := range rows {
		states[r.State]++
		switch {
		case r.Name == "empty.pdf":
			if r.State != "refused" || !strings.Contains(r.Detail, "Tệp rỗng") {
				t.Errorf("empty.pdf: %+v, want refused as empty", r)
			}
			continue
		case r.State == "refused":
			t.Errorf("%s refused: %s", r.Name, r.Detail)
		}
		if dossier == "" {
			dossier = r.Dossier
		}
		if r.Dossier == "" || r.Dossier != dossier {
			t.Errorf("%s under dossier %q, want the batch's %q", r.Name, r.Dossier, dossier)
		}
		if strings.Contains(r.Status+r.Detail, "_") {
			t.Errorf("%s shows a raw code: %q %q", r.Name, r.Status, r.Detail)
		}
	}
	if states["issued"] == 0 || states["quarantined"] == 0 {
		t.Errorf("states %v: want some issued and the broken files quarantined", states)
	}
	if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil && *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "upload-done.png"), shot, 0o644)
	}

	step(t, ctx, "open the batch page", chromedp.Click(chromedp.CSS("#batch-link")), chromedp.WaitVisible(chromedp.CSS("#batch-final")))
	batchRows, err := chromedp.Run(ctx, chromedp.Evaluate[[]fileRow](rowsJS))
	if err != nil {
		t.Fatal(err)
	}
	if len(batchRows) != 6 { // all but the refused empty file
		t.Errorf("batch page has %d rows, want 6", len(batchRows))
	}
	for _, r := range batchRows {
		if r.State == "processing" || r.State == "" {
			t.Errorf("batch page: %+v not final", r)
		}
		if r.State == "quarantined" && !strings.Contains(r.Status, "cách ly") {
			t.Errorf("quarantined row reads %q", r.Status)
		}
	}
	if d := text(t, ctx, "#batch-dossier"); d != dossier {
		t.Errorf("batch page's dossier %q, want %q", d, dossier)
	}
	if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil && *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "batch-page.png"), shot, 0o644)
	}
	batchURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil {
		t.Fatal(err)
	}
	// On a tablet held upright the page still fits its width.
	step(t, ctx, "tablet", chromedp.EmulateViewport(768, 1024), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#dropzone")))
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 768 {
		t.Errorf("upload page on a tablet is %d px wide (%v), want at most 768", w, err)
	}
	if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil && *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "upload-tablet.png"), shot, 0o644)
	}
	step(t, ctx, "back to the batch", chromedp.EmulateViewport(1366, 768), chromedp.Navigate(batchURL), chromedp.WaitVisible(chromedp.CSS("#batch-final")))
	step(t, ctx, "open the receipt", chromedp.Click(chromedp.CSS("#receipt-link")), chromedp.WaitVisible(chromedp.CSS("#receipt")))
	if shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil && *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "receipt.png"), shot, 0o644)
	}
	if r := text(t, ctx, "#receipt"); !strings.Contains(r, "GIẤY TIẾP NHẬN HỒ SƠ") || !strings.Contains(r, dossier) || !strings.Contains(r, "scan_0009.jpg") {
		t.Errorf("receipt: %.300q", r)
	}
}
