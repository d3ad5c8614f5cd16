package web

import (
	"context"
	"encoding/csv"
	"regexp"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// metric reads the number of a [data-metric] element of a page.
func metric(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`data-metric="` + regexp.QuoteMeta(name) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page has no metric %s", name)
	}
	return m[1]
}

func TestReportPages(t *testing.T) {
	e, b := newRepoEnv(t)
	ctx := context.Background()
	now := e.clk.Now()
	// Two dossiers this month: one issued after 90 minutes, one
	// quarantined; the first received at an office whose code looks like a
	// formula to a spreadsheet.
	k1, err := e.repo.PutIntake(ctx, []byte("scan one"), storage.IntakeMeta{Name: "a.jpg", Source: storage.SourceCounter,
		Office: "=HYPERLINK(\"x\")", DossierCode: storage.FormatDossierCode(storagetest.Agency, now, 1), UploadedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.repo.PutSealedJSON(ctx, storage.RecordKey(k1), pipeline.Record{InputKey: k1,
		Decisions: []pipeline.Decision{{Doc: 0, Action: pipeline.ActionIssue}}}); err != nil {
		t.Fatal(err)
	}
	e.clk.Add(90 * time.Minute)
	m := e.file(1, 1, func(n *storage.NewResult) { n.Manifest.InputKey = k1 })
	k2, err := e.repo.PutIntake(ctx, []byte("scan two"), storage.IntakeMeta{Name: "b.jpg", Source: storage.SourceCounter,
		DossierCode: storage.FormatDossierCode(storagetest.Agency, now, 2), UploadedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.repo.PutSealedJSON(ctx, storage.QuarantineKey(k2), pipeline.QuarantineItem{InputKey: k2}); err != nil {
		t.Fatal(err)
	}
	// Another system read the result twice.
	alog, err := audit.Open(ctx, audit.Options{Store: b, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		alog.Append(ctx, audit.Record{ClientID: "bhxh", AuthMethod: "mtls", Endpoint: "GET /v1/results/{code}", Decision: audit.Allow,
			Returned: []audit.Returned{{ResultCode: m.ResultCode}}})
	}
	if err := alog.Close(ctx); err != nil {
		t.Fatal(err)
	}

	srv := e.repoApp()
	br, _ := e.signedIn(srv, "quanly1", RoleSupervisor)
	resp, page := br.get("/reports")
	wantStatus(t, "dashboard", resp, 200)
	if !strings.Contains(page, `id="dashboard" data-month="2026-03"`) || !strings.Contains(page, "tháng 03/2026") {
		t.Error("the dashboard is not of this month (in Vietnam time)")
	}
	for name, want := range map[string]string{"received": "2", "digitized": "1", "files": "2", "issued": "1", "result-docs": "1",
		"in-review": "0", "quarantined": "1", "reuses": "2", "reuse-requests": "2", "digitized-rate": "50,0 %", "issued-rate": "100,0 %",
		"issue-median": "1 giờ 30 phút", "backfill-stored": "0", "kho-pending": "1", "kho-dead": "0", "kho-delivered": "0"} {
		if got := metric(t, page, name); got != want {
			t.Errorf("metric %s = %q, want %q", name, got, want)
		}
	}
	if !strings.Contains(page, `id="kho-unconfigured"`) {
		t.Error("the dashboard does not say that SOHOA_KHO_URL is unset (events wait)")
	}
	// The result's issued event given up after the dead-letter age.
	if err := e.repo.MarkKhoDead(ctx, m.ID, 0, storage.KhoDead{At: e.clk.Now(), Reason: storage.DeadAfterAge, Tries: 40}); err != nil {
		t.Fatal(err)
	}
	_, page = br.get("/reports")
	if metric(t, page, "kho-dead") != "1" || metric(t, page, "kho-pending") != "0" {
		t.Errorf("after a dead letter: kho-dead %s, kho-pending %s; want 1, 0", metric(t, page, "kho-dead"), metric(t, page, "kho-pending"))
	}
	if !strings.Contains(page, `data-metric="issue-p90" data-seconds="5400"`) || !strings.Contains(page, `id="by-office"`) ||
		!strings.Contains(page, `id="by-procedure"`) || !strings.Contains(page, "(không qua bộ phận một cửa)") {
		t.Error("dashboard tables")
	}
	resp, page = br.get("/reports?month=2026-02")
	if resp.StatusCode != 200 || metric(t, page, "received") != "0" {
		t.Error("February's dashboard")
	}
	if resp, _ := br.get("/reports?month=2026-13"); resp.StatusCode != 400 {
		t.Errorf("a bad month: %d", resp.StatusCode)
	}
	resp, page = br.get("/reports/monthly?month=2026-03")
	if resp.StatusCode != 200 || !strings.Contains(page, "BÁO CÁO") || !strings.Contains(page, "/static/reports-print.css") || metric(t, page, "received") != "2" {
		t.Error("printable monthly report")
	}
	resp, body := br.get("/reports/monthly.csv?month=2026-03")
	wantStatus(t, "csv", resp, 200)
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("csv headers %v", resp.Header)
	}
	if !strings.HasPrefix(body, "\uFEFF") {
		t.Fatal("the CSV has no byte order mark")
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\uFEFF")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, row := range rows {
		if len(row) > 1 && strings.Contains(row[1], "HYPERLINK") {
			found = true
			if !strings.HasPrefix(row[1], "'=") {
				t.Errorf("a formula cell is not defused: %q", row[1])
			}
		}
	}
	if !found || rows[2][0] != "Nhóm" || rows[2][2] != "Hồ sơ tiếp nhận" {
		t.Errorf("csv rows %q", rows)
	}
	var rules []string
	for _, rec := range e.audit.records() {
		if strings.HasPrefix(rec.Rule, "report_") {
			rules = append(rules, rec.Rule+":"+rec.Target)
		}
	}
	if got := strings.Join(rules, " "); got != "report_viewed:month:2026-03 report_viewed:month:2026-03 report_viewed:month:2026-02 report_viewed:month:2026-03 report_downloaded:month:2026-03" {
		t.Errorf("report audit %s", got)
	}
}

func TestReportDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		n    int
		want string
	}{
		{0, 0, "—"}, {42 * time.Second, 1, "42 giây"}, {5 * time.Minute, 1, "5 phút"}, {2 * time.Hour, 1, "2 giờ"},
		{90 * time.Minute, 1, "1 giờ 30 phút"}, {50 * time.Hour, 1, "2 ngày 2 giờ"}, {72 * time.Hour, 1, "3 ngày"},
	} {
		if got := reportDuration(tc.d, tc.n); got != tc.want {
			t.Errorf("reportDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
