package web

// The numbers pages (supervisors): the dashboard of a month, the printable
// monthly report and its CSV. Every figure is computed by package report
// from what the repository holds, at each request (see report.Load for the
// cost); each view is one audit record.
//
// Stable hooks for browser tests:
//   - #dashboard[data-month=YYYY-MM] holds one [data-metric=NAME] per
//     figure, its number as text (no thousands separator): received,
//     digitized, files, files-digitized, result-docs, issued, in-review,
//     rejected, quarantined, reuses, reuse-requests, backfill-stored,
//     backfill-processed, backfill-pending, kho-pending, kho-dead,
//     kho-delivered (the outbox to the citizen's data store, all time;
//     #kho-unconfigured shows when SOHOA_KHO_URL is unset); durations (issue-median,
//     issue-p90, review-oldest, review-median) carry data-seconds;
//   - #by-office and #by-procedure tables, one tr[data-key] per group
//     (data-key "" for the group without a code), cells td[data-metric];
//   - #month-form (GET, field month), a#monthly (printable), a#monthly-csv.

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"sohoa/report"
	"sohoa/storage"
)

// reportRoutes registers the report pages.
func (a *App) reportRoutes(mux *http.ServeMux) {
	sup := []Role{RoleSupervisor}
	mux.HandleFunc("GET /reports", a.staff(sup, a.reportPage("reports")))
	mux.HandleFunc("GET /reports/monthly", a.staff(sup, a.reportPage("monthly")))
	mux.HandleFunc("GET /reports/monthly.csv", a.staff(sup, a.reportCSV))
}

// reportFuncs are the template functions of the report pages.
func reportFuncs() template.FuncMap {
	return template.FuncMap{
		// reportPct is n of all in percent ("—" when all is 0).
		"reportPct": func(n, all int) string {
			if all == 0 {
				return "—"
			}
			return reportDecimal(float64(n)*100/float64(all)) + " %"
		},
		"reportDuration": reportDuration,
		"reportSeconds":  func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) },
		"reportGroups": func(id, label string, rows []report.Row) any {
			return struct {
				ID, Label string
				Rows      []report.Row
			}{id, label, rows}
		},
		"reportTime": func(t time.Time) string {
			return t.In(storage.Vietnam()).Format("15:04 ngày 02/01/2006")
		},
	}
}

// reportDuration says a duration in words a clerk reads at a glance.
func reportDuration(d time.Duration, n int) string {
	switch {
	case n == 0:
		return "—"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " giây"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " phút"
	case d < 48*time.Hour:
		h := int(d / time.Hour)
		if m := int(d % time.Hour / time.Minute); m > 0 {
			return fmt.Sprintf("%d giờ %d phút", h, m)
		}
		return strconv.Itoa(h) + " giờ"
	}
	days := int(d / (24 * time.Hour))
	if h := int(d % (24 * time.Hour) / time.Hour); h > 0 {
		return fmt.Sprintf("%d ngày %d giờ", days, h)
	}
	return strconv.Itoa(days) + " ngày"
}

// reportDecimal writes one decimal with a Vietnamese decimal comma.
func reportDecimal(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	if i := len(s) - 2; i > 0 && s[i] == '.' {
		s = s[:i] + "," + s[i+1:]
	}
	return s
}

type reportView struct {
	report.Report
	Prev, Next string
	Current    bool
	Agency     string
	AgencyCode string
	// KhoConfigured: SOHOA_KHO_URL is set.
	KhoConfigured bool
}

// reportOf computes the report of the request's month (?month=YYYY-MM,
// default this month). On false the answer is sent.
func (a *App) reportOf(w http.ResponseWriter, r *http.Request) (report.Report, bool) {
	if a.opts.Repo == nil {
		a.unavailable(w, r, errors.New("web: report pages need Options.Repo"))
		return report.Report{}, false
	}
	now := a.now()
	m := report.MonthOf(now)
	if s := r.URL.Query().Get("month"); s != "" {
		pm, err := report.ParseMonth(s)
		if err != nil {
			a.fail(w, r, http.StatusBadRequest, "Tháng không hợp lệ", "Hãy chọn tháng theo dạng năm-tháng, ví dụ 2026-03.")
			return report.Report{}, false
		}
		m = pm
	}
	snap, err := report.Load(r.Context(), a.opts.Repo, m, report.LoadOptions{Procedures: a.opts.Procedures})
	if errors.Is(err, report.ErrTooLarge) {
		a.log.Error("web: report too large to compute", "month", m.String(), "err", err)
		a.fail(w, r, http.StatusServiceUnavailable, "Chưa tính được báo cáo", "Kho dữ liệu quá lớn để tính báo cáo trực tiếp. Hãy báo cho cán bộ quản trị.")
		return report.Report{}, false
	}
	if err != nil {
		a.unavailable(w, r, err)
		return report.Report{}, false
	}
	return report.Compute(snap, now), true
}

func (a *App) reportPage(page string) staffHandler {
	return func(w http.ResponseWriter, r *http.Request, s *signedIn) {
		rep, ok := a.reportOf(w, r)
		if !ok {
			return
		}
		if err := a.auditAction(r, s, http.StatusOK, "report_viewed", "month:"+rep.Month.String()); err != nil {
			a.unavailable(w, r, err)
			return
		}
		v := reportView{Report: rep, Prev: rep.Month.Prev().String(), Next: rep.Month.Next().String(),
			Current: rep.Month == report.MonthOf(a.now()), Agency: a.opts.AgencyName, AgencyCode: a.opts.AgencyCode,
			KhoConfigured: a.opts.KhoConfigured}
		title := "Báo cáo, thống kê " + rep.Month.Label()
		if page == "monthly" {
			title = "Báo cáo " + rep.Month.Label()
		}
		a.render(w, http.StatusOK, page, view{Title: title, CSRF: s.CSRF, Staff: a.staffView(s), Data: v})
	}
}

func (a *App) reportCSV(w http.ResponseWriter, r *http.Request, s *signedIn) {
	rep, ok := a.reportOf(w, r)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, rep); err != nil {
		a.unavailable(w, r, err)
		return
	}
	if err := a.auditAction(r, s, http.StatusOK, "report_downloaded", "month:"+rep.Month.String()); err != nil {
		a.unavailable(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="bao-cao-so-hoa-`+rep.Month.String()+`.csv"`)
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}
