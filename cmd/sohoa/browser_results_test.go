package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// TestBrowserResultsAndReports drives the supervisor's pages in Chromium
// against a real serve: find a filed result by its code, see it active,
// revoke it with a decision and see it revoked; the dashboard shows it
// issued. The search by citizen ID goes through the form, so the ID is in
// no address the browser opened.
func TestBrowserResultsAndReports(t *testing.T) {
	local := stackTest(t, 14)
	addr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", addr)
	t.Setenv("SOHOA_API_ADDR", "")
	t.Setenv("SOHOA_AGENCY_CODE", storagetest.Agency)
	serveLog := startCommand(t, "serve")
	base := "http://" + addr
	waitHTTP(t, base+"/healthz")

	// One signed result in the repository, filed as the issue stage does.
	repo, err := openRepository(context.Background(), envConfig(t), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	res := storagetest.Result(1, 1, time.Now())
	res.PDF = devSignedPDF(t, filepath.Join(t.TempDir(), "signing"))
	m, err := repo.File(context.Background(), res)
	if err != nil {
		t.Fatal(err)
	}

	user, password := devSignin(t, filepath.Join(local, "keys"), "supervisor")
	ctx := newBrowser(t)
	step(t, ctx, "sign in", chromedp.Navigate(base+"/results"), chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("#search-form")))

	// By citizen ID: a list, linked by result code.
	step(t, ctx, "search by citizen ID", chromedp.SendKeys(chromedp.CSS("#q"), storagetest.HolderID(1)),
		chromedp.Click(chromedp.CSS(`#search-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#search-results tr[data-code="`+m.ResultCode+`"]`)))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, storagetest.HolderID(1)) || strings.Contains(loc, "1199") {
		t.Errorf("the citizen search put the ID in the address %s", loc)
	}
	step(t, ctx, "open the result", chromedp.Click(chromedp.CSS(`#search-results a[href="/results/`+m.ResultCode+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#result-status[data-status=active]`)))
	if s := text(t, ctx, "#result-status"); !strings.Contains(s, "Còn hiệu lực") {
		t.Errorf("status %q", s)
	}
	if h := text(t, ctx, "#holder-name"); h != storagetest.HolderName(1) {
		t.Errorf("holder %q", h)
	}
	shot(t, ctx, "result-page.png")

	// Revoke under a decision.
	step(t, ctx, "revoke",
		chromedp.SendKeys(chromedp.CSS("#revoke-decision"), "125/QĐ-UBND"),
		chromedp.SetValue(chromedp.CSS("#revoke-reason"), "ISSUED_IN_ERROR"),
		chromedp.Click(chromedp.CSS(`#revoke button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#result-status[data-status=revoked]`)))
	if n := text(t, ctx, ".notice"); !strings.Contains(n, "Đã thu hồi kết quả") {
		t.Errorf("after revoking: %q", n)
	}
	if row := text(t, ctx, `#events tr[data-status=revoked]`); !strings.Contains(row, "125/QĐ-UBND") || !strings.Contains(row, "Kết quả được cấp sai") {
		t.Errorf("event row %q", row)
	}
	if v, err := repo.Validity(context.Background(), m.ResultCode, time.Now()); err != nil || v.Status != storage.StatusRevoked {
		t.Errorf("stored validity %+v %v", v, err)
	}

	// The dashboard: the result was filed without an intake, so no dossier
	// of this month; the page renders its figures.
	step(t, ctx, "dashboard", chromedp.Navigate(base+"/reports"), chromedp.WaitVisible(chromedp.CSS(`#dashboard [data-metric=received]`)))
	if n := text(t, ctx, `#dashboard [data-metric=received]`); n != "0" {
		t.Errorf("received %q", n)
	}
	shot(t, ctx, "dashboard.png")
	step(t, ctx, "monthly report", chromedp.Click(chromedp.CSS("#monthly")), chromedp.WaitVisible(chromedp.CSS("#monthly-report")))
	if h := text(t, ctx, ".paper-title"); !strings.Contains(h, "BÁO CÁO") {
		t.Errorf("monthly report title %q", h)
	}
	storagetest.CheckLog(t, serveLog.String(), []string{storagetest.HolderID(1)}, []string{storagetest.HolderName(1)})
}

// shot saves a screenshot when -screenshots names a folder.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if *screenshots != "" {
		if err := os.WriteFile(filepath.Join(*screenshots, name), b, 0o644); err != nil {
			t.Error(err)
		}
	}
}
