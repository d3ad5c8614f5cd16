package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/ocr"
	"sohoa/pipeline"
	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var vn = storage.Vietnam()

func at(month time.Month, day, hour, minute int) time.Time {
	return time.Date(2026, month, day, hour, minute, 0, 0, vn)
}

const (
	office1 = "000.00.31.H29"
	office2 = "000.00.32.H29"
)

// fixture builds a repository whose counts are known.
type fixture struct {
	t    *testing.T
	clk  *clock
	repo *storage.Repository
	b    *mem.Bucket
	n    int
}

func newFixture(t *testing.T) *fixture {
	clk := &clock{t: at(3, 1, 0, 0)}
	b := mem.New()
	repo, err := storage.New(b, storage.Options{Keys: storagetest.Keys(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, clk: clk, repo: repo, b: b}
}

type doc struct {
	action   string
	docType  string
	review   time.Time // sent to review then (zero: not)
	decided  bool
	approved bool
	filed    time.Time // a result filed then (zero: none)
}

// intake stores one file of dossier seq with the given outcome and
// returns its result codes.
func (f *fixture) intake(source, office, procedure string, dossier int, uploaded time.Time, quarantined bool, processed bool, docs ...doc) []string {
	t, ctx := f.t, context.Background()
	t.Helper()
	f.n++
	code := storage.FormatDossierCode(storagetest.Agency, uploaded, dossier)
	key, err := f.repo.PutIntake(ctx, []byte(fmt.Sprintf("scan %d", f.n)), storage.IntakeMeta{Name: fmt.Sprintf("scan-%d.jpg", f.n),
		BatchID: "b", Source: source, Office: office, DossierCode: code, ProcedureCode: procedure, UploadedAt: uploaded})
	if err != nil {
		t.Fatal(err)
	}
	if quarantined {
		if err := f.repo.PutSealedJSON(ctx, storage.QuarantineKey(key), pipeline.QuarantineItem{InputKey: key, Code: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if !processed {
		return nil
	}
	rec := pipeline.Record{InputKey: key, Intake: pipeline.IntakeSummary{DossierCode: code, Source: source}}
	var codes []string
	for i, d := range docs {
		rec.Decisions = append(rec.Decisions, pipeline.Decision{Doc: i, Action: d.action})
		rec.Result.Documents = append(rec.Result.Documents, ocr.Document{DocType: d.docType})
	}
	if err := f.repo.PutSealedJSON(ctx, storage.RecordKey(key), rec); err != nil {
		t.Fatal(err)
	}
	for i, d := range docs {
		if !d.review.IsZero() {
			k := storage.ReviewKey(key)
			if i > 0 {
				k = storage.ReviewDocKey(key, i)
			}
			if err := f.repo.PutSealedJSON(ctx, k, pipeline.ReviewItem{InputKey: key, Documents: []pipeline.Decision{{Doc: i, Action: pipeline.ActionReview}}, CreatedAt: d.review}); err != nil {
				t.Fatal(err)
			}
		}
		if d.decided {
			if err := f.repo.PutSealedJSON(ctx, storage.ApprovalKey(key, i), pipeline.Approval{InputKey: key, Doc: i, Approved: d.approved, By: "r"}); err != nil {
				t.Fatal(err)
			}
		}
		if !d.filed.IsZero() {
			f.clk.Set(d.filed)
			res := storagetest.Result(f.n, f.n, uploaded)
			m := &res.Manifest
			m.DossierCode, m.ResultSeq = code, len(codes)+1
			m.ResultCode = fmt.Sprintf("%s-KQ%d", code, m.ResultSeq)
			m.InputKey = key
			res.PDF = []byte(fmt.Sprintf("%%PDF-1.7\n%% %d %d\n", f.n, i))
			if _, err := f.repo.File(ctx, res); err != nil {
				t.Fatal(err)
			}
			codes = append(codes, m.ResultCode)
		}
	}
	return codes
}

// TestReportOfAKnownRun checks every figure against a repository built by
// hand: known counts, known durations, so exact medians and percentiles.
func TestReportOfAKnownRun(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	up := at(3, 2, 8, 0)
	counter := storage.SourceCounter
	// Dossier 1 (office 1, procedure 1.001234): a result issued after 1 h
	// and an application form kept; a second file waiting for review.
	a := f.intake(counter, office1, "1.001234", 1, up, false, true,
		doc{action: "issue", docType: "GKS", filed: up.Add(time.Hour)}, doc{action: "keep", docType: "TK"})
	f.intake(counter, office1, "1.001234", 1, up.Add(2*time.Minute), false, true,
		doc{action: "review", docType: "GKS", review: up.Add(5 * time.Minute)})
	// Dossier 2 (office 2): reviewed, approved, issued after 3 h.
	b := f.intake(counter, office2, "1.002000", 2, up, false, true,
		doc{action: "review", docType: "GKS", review: up.Add(time.Minute), decided: true, approved: true, filed: up.Add(3 * time.Hour)})
	// Dossier 3 (a script: no office, no procedure named): issued after
	// 2 h; the procedure comes from its result.
	c := f.intake(counter, "", "", 3, up, false, true, doc{action: "issue", docType: "GKS", filed: up.Add(2 * time.Hour)})
	// Dossier 4 (office 1): quarantined before its record.
	f.intake(counter, office1, "1.001234", 4, up, true, false)
	// Dossier 5 (office 1): rejected in review; the procedure comes from
	// the configured procedures by document type.
	f.intake(counter, office1, "", 5, up, false, true, doc{action: "review", docType: "KH", review: up.Add(time.Minute), decided: true})
	// February's dossier: not this month's.
	feb := f.intake(counter, office1, "1.001234", 1, at(2, 27, 9, 0), false, true, doc{action: "issue", docType: "GKS", filed: at(2, 27, 10, 0)})
	// Backfill: processed and issued, quarantined, not processed yet (one
	// stored in February).
	bf := f.intake(storage.SourceBackfill, "", "", 6, up, false, true, doc{action: "issue", docType: "GKS", filed: up.Add(time.Hour)})
	f.intake(storage.SourceBackfill, "", "", 7, up, true, false)
	f.intake(storage.SourceBackfill, "", "", 8, at(2, 10, 9, 0), false, false)

	// The audit chain: reuses of results by another system, and records
	// that are not reuses.
	alog, err := audit.Open(ctx, audit.Options{Store: f.b, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ret := func(codes ...string) []audit.Returned {
		var r []audit.Returned
		for _, c := range codes {
			r = append(r, audit.Returned{ResultCode: c})
		}
		return r
	}
	for _, r := range []audit.Record{
		{Time: at(3, 5, 9, 0), ClientID: "demo-agency", AuthMethod: "mtls", Endpoint: "POST /v1/results:search", Decision: audit.Allow, Returned: ret(a[0], c[0])},
		{Time: at(3, 6, 9, 0), ClientID: "bhxh", AuthMethod: "jwt", Endpoint: "GET /v1/results/{code}", Decision: audit.Allow, Returned: ret(b[0])},
		{Time: at(3, 6, 9, 0), ClientID: "bhxh", AuthMethod: "jwt", Endpoint: "GET /v1/results/{code}/pdf", Decision: audit.Allow, Returned: ret(bf[0])},
		{Time: at(2, 28, 9, 0), ClientID: "bhxh", AuthMethod: "jwt", Endpoint: "GET /v1/results/{code}", Decision: audit.Allow, Returned: ret(feb[0])},
		{Time: at(3, 6, 9, 0), ClientID: "demo-agency", AuthMethod: "mtls", Endpoint: "POST /v1/results:search", Decision: audit.Allow},
		{Time: at(3, 6, 9, 0), ClientID: "demo-agency", AuthMethod: "mtls", Endpoint: "GET /v1/results/{code}", Decision: audit.Deny, Returned: ret(a[0])},
		{Time: at(3, 6, 9, 0), ClientID: "demo-agency", AuthMethod: "mtls", Endpoint: "POST /v1/results/{code}/revoke", Decision: audit.Allow, Returned: ret(a[0])},
		{Time: at(3, 6, 9, 0), ClientID: "web", Staff: "acct", AuthMethod: "session", Endpoint: "GET /results/{code}", Decision: audit.Allow, Returned: ret(a[0])},
	} {
		if _, err := alog.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := alog.Close(ctx); err != nil {
		t.Fatal(err)
	}

	snap, err := Load(ctx, f.repo, Month{2026, time.March}, LoadOptions{Procedures: map[string]string{"KH": "1.003000"}})
	if err != nil {
		t.Fatal(err)
	}
	now := at(3, 10, 8, 5)
	rep := Compute(snap, now)

	want := Figures{Received: 5, Digitized: 4, Files: 6, FilesDigitized: 5, ResultDocs: 5, Issued: 3, InReview: 1, Rejected: 1,
		Quarantined: 1, ReviewOldest: 8 * 24 * time.Hour, ReviewMedian: 8 * 24 * time.Hour,
		IssueTimes: 3, IssueMedian: 2 * time.Hour, IssueP90: 3 * time.Hour, Reuses: 4, ReuseRequests: 3}
	checkFigures(t, "total", rep.Total, want)
	if r, ok := rep.Total.DigitizedRate(); !ok || r != 0.8 {
		t.Errorf("digitized rate %v %v, want 0.8", r, ok)
	}
	if r, ok := rep.Total.IssuedRate(); !ok || r != 0.6 {
		t.Errorf("issued rate %v %v, want 0.6", r, ok)
	}

	offices := map[string]Figures{}
	var officeOrder []string
	for _, r := range rep.Offices {
		offices[r.Label] = r.Figures
		officeOrder = append(officeOrder, r.Label)
	}
	if got := strings.Join(officeOrder, "|"); got != office1+"|"+office2+"|"+NoOffice {
		t.Errorf("offices %s", got)
	}
	checkFigures(t, "office 1", offices[office1], Figures{Received: 3, Digitized: 2, Files: 4, FilesDigitized: 3, ResultDocs: 3, Issued: 1,
		InReview: 1, Rejected: 1, Quarantined: 1, ReviewOldest: 8 * 24 * time.Hour, ReviewMedian: 8 * 24 * time.Hour,
		IssueTimes: 1, IssueMedian: time.Hour, IssueP90: time.Hour, Reuses: 1, ReuseRequests: 1})
	checkFigures(t, "office 2", offices[office2], Figures{Received: 1, Digitized: 1, Files: 1, FilesDigitized: 1, ResultDocs: 1, Issued: 1,
		IssueTimes: 1, IssueMedian: 3 * time.Hour, IssueP90: 3 * time.Hour, Reuses: 1, ReuseRequests: 1})
	// The script's dossier, and the backfill result reused.
	checkFigures(t, "no office", offices[NoOffice], Figures{Received: 1, Digitized: 1, Files: 1, FilesDigitized: 1, ResultDocs: 1, Issued: 1,
		IssueTimes: 1, IssueMedian: 2 * time.Hour, IssueP90: 2 * time.Hour, Reuses: 2, ReuseRequests: 2})

	procs := map[string]Figures{}
	for _, r := range rep.Procedures {
		procs[r.Label] = r.Figures
	}
	if len(procs) != 3 {
		t.Errorf("procedures %v", rep.Procedures)
	}
	if p := procs["1.001234"]; p.Received != 3 || p.Issued != 2 || p.Quarantined != 1 || p.IssueMedian != 90*time.Minute || p.IssueP90 != 2*time.Hour || p.Reuses != 3 {
		t.Errorf("procedure 1.001234: %+v", p)
	}
	if p := procs["1.003000"]; p.Received != 1 || p.Rejected != 1 || p.ResultDocs != 1 {
		t.Errorf("procedure 1.003000 (from the document type): %+v", p)
	}

	if got, want := rep.Backfill, (Backfill{Stored: 3, Processed: 2, Quarantined: 1, Issued: 1, StoredMonth: 2}); got != want {
		t.Errorf("backfill %+v, want %+v", got, want)
	}
	if len(rep.Clients) != 2 || rep.Clients[0] != (ClientRow{"bhxh", 2, 2}) || rep.Clients[1] != (ClientRow{"demo-agency", 1, 2}) {
		t.Errorf("clients %+v", rep.Clients)
	}

	// February has one dossier, issued after an hour, reused once.
	feb2, err := Load(ctx, f.repo, Month{2026, time.February}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fr := Compute(feb2, now)
	if fr.Total.Received != 1 || fr.Total.Issued != 1 || fr.Total.IssueMedian != time.Hour || fr.Total.Reuses != 1 || fr.Backfill.StoredMonth != 1 {
		t.Errorf("February: %+v", fr.Total)
	}

	// A listing past the bound fails rather than running on.
	if _, err := Load(ctx, f.repo, Month{2026, time.March}, LoadOptions{MaxObjects: 5}); err == nil || !strings.Contains(err.Error(), "too many") {
		t.Errorf("bounded load: %v", err)
	}

	// The CSV has the same figures.
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\uFEFF")) {
		t.Error("CSV lacks the UTF-8 byte order mark")
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(buf.Bytes(), []byte("\uFEFF"))))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if len(r) > 3 && r[0] == "Tổng cộng" {
			found = true
			if r[2] != "5" || r[3] != "4" {
				t.Errorf("CSV total row %q", r)
			}
		}
	}
	if !found || recs[2][0] != "Nhóm" {
		t.Errorf("CSV header %q, no total row", recs[2])
	}
}

func checkFigures(t *testing.T, what string, got, want Figures) {
	t.Helper()
	got.reviewAges, got.issueTimes = nil, nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestMedianAndPercentile(t *testing.T) {
	m := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Minute)
		}
		return ds
	}
	for _, tc := range []struct {
		in          []time.Duration
		median, p90 time.Duration
	}{
		{nil, 0, 0},
		{m(7), 7 * time.Minute, 7 * time.Minute},
		{m(10, 20), 15 * time.Minute, 20 * time.Minute},
		{m(5, 1, 3), 3 * time.Minute, 5 * time.Minute},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 330 * time.Second, 9 * time.Minute},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 6 * time.Minute, 10 * time.Minute},
		{m(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 630 * time.Second, 18 * time.Minute},
	} {
		if got := Median(tc.in); got != tc.median {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.median)
		}
		if got := Percentile(tc.in, 0.9); got != tc.p90 {
			t.Errorf("Percentile(%v, 0.9) = %v, want %v", tc.in, got, tc.p90)
		}
	}
}

func TestMonths(t *testing.T) {
	m, err := ParseMonth("2026-01")
	if err != nil {
		t.Fatal(err)
	}
	// 31 Jan 17:00 UTC is 1 Feb in Vietnam.
	if MonthOf(time.Date(2026, 1, 31, 17, 0, 0, 0, time.UTC)) != (Month{2026, time.February}) || m.Prev() != (Month{2025, time.December}) ||
		m.Contains(time.Date(2026, 1, 31, 17, 0, 0, 0, time.UTC)) || !m.Contains(time.Date(2025, 12, 31, 17, 0, 0, 0, time.UTC)) {
		t.Error("month boundaries are not in Vietnam time")
	}
	for _, bad := range []string{"", "2026-13", "2026-1-01", "26-01", "2026/01"} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		}
	}
}

func TestCSVCellsCannotBeFormulas(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+84": "'+84", "-3": "'-3", "@x": "'@x", "\t=x": "'\t=x", "\r=x": "'\r=x",
		"1.001234": "1.001234", "Tổng": "Tổng", "": ""} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
}
