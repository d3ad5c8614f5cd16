package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"sohoa/audit"
	"sohoa/ocr"
	"sohoa/pipeline"
	"sohoa/storage"
)

// The counter's pages: the upload page (/, served by home for counter
// staff), a batch's live page, the office's history and a batch's
// receipt. Uploads go to the intake API (/v1/batches…) with the session
// (App.Authorize); the pages read batches from the repository, never from
// Redis, so they survive any restart.

// batchRoles may open the batch pages: counter clerks, and supervisors
// (their office's batches).
var batchRoles = []Role{RoleCounter, RoleSupervisor}

// intakeRoutes registers the intake pages.
func (a *App) intakeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /batches", a.staff(batchRoles, a.batchHistory))
	mux.HandleFunc("GET /batches/{id}", a.staff(batchRoles, a.batchPage))
	mux.HandleFunc("GET /batches/{id}/status", a.staff(batchRoles, a.batchStatusJSON))
	mux.HandleFunc("GET /batches/{id}/receipt", a.staff(batchRoles, a.batchReceipt))
}

// intakeFuncs are the template functions of the intake pages.
func intakeFuncs() template.FuncMap {
	return template.FuncMap{"fileSize": fileSize, "inc": func(i int) int { return i + 1 }}
}

// fileSize says a size in bytes as a clerk reads it.
func fileSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strings.Replace(fmt.Sprintf("%.1f MB", float64(n)/(1<<20)), ".", ",", 1)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", (n+512)>>10)
	}
	return fmt.Sprintf("%d byte", n)
}

// vnTime says a time in Vietnam, as on a paper form.
func vnTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(storage.Vietnam()).Format("15:04 ngày 02/01/2006")
}

// longDigits are runs of digits long enough to be a personal ID (CMND has
// 9, CCCD 12): file names may hold one, and these pages show none.
var longDigits = regexp.MustCompile(`[0-9]{9,}`)

// safeName is a file name as the batch pages show it: any run of nine or
// more digits masked.
func safeName(name string) string {
	return longDigits.ReplaceAllStringFunc(name, func(d string) string {
		return d[:2] + strings.Repeat("•", len(d)-4) + d[len(d)-2:]
	})
}

// ---- upload page ----

// procedureOption is one entry of the upload page's procedure list.
type procedureOption struct{ Code, Name string }

// procedureOptions lists the configured procedures with the Vietnamese
// name of their document type (from the OCR layouts), by name.
func (a *App) procedureOptions() []procedureOption {
	names := docTypeNames()
	var out []procedureOption
	seen := map[string]bool{}
	for dt, code := range a.opts.Procedures {
		if code == "" || seen[code] {
			continue
		}
		seen[code] = true
		name := names[dt]
		if name == "" {
			name = dt
		}
		out = append(out, procedureOption{Code: code, Name: name})
	}
	slices.SortFunc(out, func(x, y procedureOption) int { return strings.Compare(x.Name+x.Code, y.Name+y.Code) })
	return out
}

// procedureName names a procedure code by its document type, or "".
func (a *App) procedureName(code string) string {
	for _, p := range a.procedureOptions() {
		if p.Code == code {
			return p.Name
		}
	}
	return ""
}

// docTypeNames are the Vietnamese names of the document types the OCR
// knows (layout "name").
func docTypeNames() map[string]string {
	m := map[string]string{}
	ls, err := ocr.DefaultLayouts()
	if err != nil {
		return m
	}
	for _, t := range ls.Types() {
		if l, ok := ls.Layout(t); ok && l.Name != "" {
			m[t] = l.Name
		}
	}
	return m
}

// uploadData is what the upload page gets.
type uploadData struct {
	MaxMB      int64
	Procedures []procedureOption
	Agency     string
	// Config is the page script's data island (JSON): the reason texts,
	// the configured procedure codes and the limits.
	Config uploadConfig
}

type uploadConfig struct {
	Texts      map[string]string `json:"texts"`
	Procedures []string          `json:"procedures"`
	MaxBytes   int64             `json:"max_bytes"`
	Agency     string            `json:"agency"`
}

// uploadPage is the counter's / : the upload page.
func (a *App) uploadPage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	procs := a.procedureOptions()
	codes := make([]string, len(procs))
	for i, p := range procs {
		codes[i] = p.Code
	}
	cfg := uploadConfig{a.opts.ReasonTexts, codes, a.opts.MaxFileMB << 20, a.opts.AgencyCode}
	a.render(w, http.StatusOK, "upload", view{Title: "Tiếp nhận hồ sơ", CSRF: s.CSRF, Staff: a.staffView(s),
		Data: uploadData{MaxMB: a.opts.MaxFileMB, Procedures: procs, Agency: a.opts.AgencyCode, Config: cfg}})
}

// ---- batches ----

// fileView is one file of a batch as the pages show it (and the status
// JSON carries): names masked, states and reasons in Vietnamese.
type fileView struct {
	Key         string   `json:"key"`
	Name        string   `json:"name"`
	Size        int64    `json:"size"`
	SizeText    string   `json:"size_text"`
	Pages       int      `json:"pages,omitempty"`
	DossierCode string   `json:"dossier_code,omitempty"`
	State       string   `json:"state"`
	StateText   string   `json:"state_text"`
	Tone        string   `json:"tone"` // ok, warn, bad, busy
	Detail      string   `json:"detail,omitempty"`
	Results     []string `json:"results,omitempty"`
	Final       bool     `json:"final"`
}

// stateCount is one state's count in a batch.
type stateCount struct {
	State string `json:"state"`
	Text  string `json:"text"`
	Tone  string `json:"tone"`
	N     int    `json:"n"`
}

// batchView is a batch as the pages show it.
type batchView struct {
	ID            string       `json:"id"`
	DossierCode   string       `json:"dossier_code,omitempty"`
	PerFile       bool         `json:"dossier_per_file,omitempty"`
	ProcedureCode string       `json:"procedure_code,omitempty"`
	ProcedureName string       `json:"procedure_name,omitempty"`
	Office        string       `json:"office,omitempty"`
	Received      string       `json:"received"`
	Files         []fileView   `json:"files"`
	Counts        []stateCount `json:"counts"`
	Total         int          `json:"total"`
	Final         bool         `json:"final"`
}

// states: each pipeline state as a clerk reads it, in the order counts
// are shown. A rejected document is never shown as a success.
var states = []struct{ state, text, tone string }{
	{pipeline.StateProcessing, "Đang xử lý", "busy"},
	{pipeline.StateIssued, "Đã cấp kết quả điện tử", "ok"},
	{pipeline.StatePartlyIssued, "Đã cấp một phần, phần còn lại chờ kiểm tra", "warn"},
	{pipeline.StateKept, "Đã số hóa (thành phần hồ sơ, không cấp kết quả)", "ok"},
	{pipeline.StateReview, "Chờ cán bộ kiểm tra", "warn"},
	{pipeline.StateRejected, "Bị từ chối khi kiểm tra, không cấp kết quả", "bad"},
	{pipeline.StateQuarantined, "Tệp lỗi, đã cách ly", "bad"},
}

func stateText(state string) (text, tone string) {
	for _, s := range states {
		if s.state == state {
			return s.text, s.tone
		}
	}
	return "Chưa rõ trạng thái", "warn"
}

// reasons says reason codes in Vietnamese, each once.
func (a *App) reasons(codes []string) string {
	var out []string
	for _, c := range codes {
		if t := pipeline.StaffReason(a.opts.ReasonTexts, c); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return capitalize(strings.Join(out, "; "))
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	for i, r := range s {
		return strings.ToUpper(string(r)) + s[i+len(string(r)):]
	}
	return s
}

func (a *App) fileView(f pipeline.FileStatus) fileView {
	v := fileView{Key: f.InputKey, Name: safeName(f.Name), Size: f.Size, SizeText: fileSize(f.Size), Pages: f.Pages,
		DossierCode: f.DossierCode, State: f.State, Results: f.Results, Final: pipeline.FinalState(f.State)}
	v.StateText, v.Tone = stateText(f.State)
	switch f.State {
	case pipeline.StateReview, pipeline.StatePartlyIssued:
		var codes []string
		for _, d := range f.Review {
			codes = append(codes, d.Reasons...)
		}
		if len(codes) > 0 {
			v.Detail = "Lý do: " + a.reasons(codes)
		}
	case pipeline.StateQuarantined:
		if f.Quarantine != nil {
			v.Detail = a.reasons([]string{f.Quarantine.Code})
		}
	case pipeline.StateRejected:
		v.Detail = "Cán bộ kiểm tra đã từ chối tài liệu này."
	case pipeline.StateProcessing:
		v.Detail = "Đang nhận dạng nội dung bản quét."
	}
	return v
}

func (a *App) batchView(st pipeline.BatchStatus) batchView {
	b := st.Batch
	v := batchView{ID: b.ID, DossierCode: b.DossierCode, PerFile: b.PerFile, ProcedureCode: b.ProcedureCode,
		ProcedureName: a.procedureName(b.ProcedureCode), Office: b.Office, Received: vnTime(b.CreatedAt),
		Files: make([]fileView, 0, len(st.Files)), Total: len(st.Files), Final: st.Final}
	for _, f := range st.Files {
		v.Files = append(v.Files, a.fileView(f))
	}
	for _, s := range states {
		if n := st.Counts[s.state]; n > 0 {
			v.Counts = append(v.Counts, stateCount{s.state, s.text, s.tone, n})
		}
	}
	return v
}

// caller is the session as the intake sees it.
func (a *App) caller(s *signedIn) pipeline.Caller {
	return pipeline.Caller{ID: "staff:" + s.Account, Staff: s.Account, Office: s.Office}
}

// openBatch reads the batch of the path for s: 404 when there is none,
// 403 (audited) when it is another office's.
func (a *App) openBatch(w http.ResponseWriter, r *http.Request, s *signedIn) (storage.Batch, bool) {
	in := a.opts.Intake
	if in == nil {
		a.unavailable(w, r, errors.New("web: no intake configured"))
		return storage.Batch{}, false
	}
	b, err := in.Batch(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy lô hồ sơ", "Không có lô hồ sơ nào với mã này. Hãy mở lại từ danh sách các lô đã tiếp nhận.")
		return b, false
	case err != nil:
		a.unavailable(w, r, err)
		return b, false
	}
	if !a.caller(s).MayRead(b) {
		a.deny(w, r, s, "batch_other_office", b.ID, "Không có quyền xem lô hồ sơ này",
			"Lô hồ sơ này do đơn vị khác tiếp nhận. Cán bộ chỉ xem được các lô của đơn vị mình.")
		return b, false
	}
	return b, true
}

// deny answers 403 with a page, audited as refused.
func (a *App) deny(w http.ResponseWriter, r *http.Request, s *signedIn, rule, target, title, text string) {
	rec := a.record(r, a.now(), s.Account, s.Role, s.Office)
	rec.AuthMethod = "session"
	rec.Decision, rec.Rule, rec.Status, rec.Target = audit.Deny, rule, http.StatusForbidden, target
	if err := a.audit(r.Context(), rec); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.fail(w, r, http.StatusForbidden, title, text)
}

func (a *App) batchStatus(ctx context.Context, b storage.Batch) (batchView, error) {
	st, err := a.opts.Intake.BatchStatus(ctx, b)
	if err != nil {
		return batchView{}, err
	}
	return a.batchView(st), nil
}

// openBatchPage opens the batch of a page and its files' states, or
// answers why not.
func (a *App) openBatchPage(w http.ResponseWriter, r *http.Request, s *signedIn) (storage.Batch, batchView, bool) {
	b, ok := a.openBatch(w, r, s)
	if !ok {
		return b, batchView{}, false
	}
	v, err := a.batchStatus(r.Context(), b)
	if err != nil {
		a.unavailable(w, r, err)
		return b, batchView{}, false
	}
	return b, v, true
}

// batchPage is /batches/{id}: every file's state, followed live by
// batch.js until each is final.
func (a *App) batchPage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	b, v, ok := a.openBatchPage(w, r, s)
	if !ok {
		return
	}
	a.render(w, http.StatusOK, "batch", view{Title: "Lô hồ sơ " + b.ID, CSRF: s.CSRF, Staff: a.staffView(s), Data: v})
}

// batchStatusJSON is /batches/{id}/status: the batch page's (and the
// upload page's) view as JSON.
func (a *App) batchStatusJSON(w http.ResponseWriter, r *http.Request, s *signedIn) {
	b, ok := a.openBatch(w, r, s)
	if !ok {
		return
	}
	v, err := a.batchStatus(r.Context(), b)
	if err != nil {
		a.log.Error("web: batch status", "batch_id", b.ID, "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"unavailable"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// historyRow is one batch of the history page.
type historyRow struct {
	batchView
	Error bool // its files could not be read just now
}

// batchHistory is /batches: the office's batches of a month, newest
// first, with their files' states (read from the repository).
func (a *App) batchHistory(w http.ResponseWriter, r *http.Request, s *signedIn) {
	in := a.opts.Intake
	if in == nil {
		a.unavailable(w, r, errors.New("web: no intake configured"))
		return
	}
	now := a.now().In(storage.Vietnam())
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, storage.Vietnam())
	if m, err := time.ParseInLocation("2006-01", r.URL.Query().Get("month"), storage.Vietnam()); err == nil && !m.After(month) {
		month = m
	}
	data := struct {
		Office     string
		Month      string
		Prev, Next string
		Rows       []historyRow
	}{Office: s.Office, Month: month.Format("01/2006"), Prev: month.AddDate(0, -1, 0).Format("2006-01")}
	if next := month.AddDate(0, 1, 0); !next.After(now) {
		data.Next = next.Format("2006-01")
	}
	if s.Office != "" {
		batches, err := in.OfficeBatches(r.Context(), s.Office, month)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		for _, b := range batches {
			v, err := a.batchStatus(r.Context(), b)
			if err != nil {
				a.log.Error("web: batch history", "batch_id", b.ID, "err", err)
				data.Rows = append(data.Rows, historyRow{batchView: batchView{ID: b.ID, DossierCode: b.DossierCode,
					Received: vnTime(b.CreatedAt)}, Error: true})
				continue
			}
			data.Rows = append(data.Rows, historyRow{batchView: v})
		}
	}
	a.render(w, http.StatusOK, "batches", view{Title: "Các lô hồ sơ đã tiếp nhận", CSRF: s.CSRF, Staff: a.staffView(s), Data: data})
}

// batchReceipt is /batches/{id}/receipt: the printable receipt of what
// the counter received.
func (a *App) batchReceipt(w http.ResponseWriter, r *http.Request, s *signedIn) {
	b, v, ok := a.openBatchPage(w, r, s)
	if !ok {
		return
	}
	clerk := ""
	if b.Staff != "" {
		if acct, err := a.opts.Accounts.ByID(r.Context(), b.Staff); err == nil {
			clerk = acct.Name
			if clerk == "" {
				clerk = acct.User
			}
		}
	}
	var codes []string
	var size int64
	pages := 0
	for _, f := range v.Files {
		if f.DossierCode != "" && !slices.Contains(codes, f.DossierCode) {
			codes = append(codes, f.DossierCode)
		}
		size += f.Size
		pages += f.Pages
	}
	if b.DossierCode != "" && !slices.Contains(codes, b.DossierCode) {
		codes = append([]string{b.DossierCode}, codes...)
	}
	now := a.now().In(storage.Vietnam())
	received := b.CreatedAt.In(storage.Vietnam())
	a.render(w, http.StatusOK, "receipt", view{Title: "Giấy tiếp nhận hồ sơ", CSRF: s.CSRF, Staff: a.staffView(s), Data: struct {
		batchView
		AgencyName, AgencyCode, Clerk string
		Codes                         []string
		Size                          string
		Pages                         int
		Printed                       string
		Day, Month, Year              string
	}{v, a.opts.AgencyName, a.opts.AgencyCode, clerk, codes, fileSize(size), pages, vnTime(now),
		received.Format("02"), received.Format("01"), received.Format("2006")}})
}
