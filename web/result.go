package web

// The results pages (supervisors): find a filed e-result by result code,
// dossier code or citizen ID, read its metadata and status history, open
// its signed PDF, and change its validity (revoke, suspend, reinstate,
// supersede) under a decision. The citizen ID is typed into a POST form
// only: it never reaches a URL, a log line or an audit record (audit
// records carry audit.CitizenHash under K_audit, as the reuse API's do).
// Every read and every action is one audit record naming the result.
//
// Stable hooks for browser tests:
//   - #search-form (POST /results; fields q, kind), #search-results with one
//     tr[data-code] per result, each linking /results/{code};
//   - #result[data-code] on the detail page; #result-status with
//     data-status (active, suspended, revoked, superseded) and data-valid
//     (true, false); #events with one tr per status event; a#open-pdf;
//   - the action forms #revoke, #suspend, #reinstate, #supersede (fields
//     decision, reason, and new_code for #supersede; each with its csrf),
//     shown only when the change is allowed; .notice after an action.

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"sohoa/audit"
	"sohoa/storage"
)

// resultRoutes registers the result pages.
func (a *App) resultRoutes(mux *http.ServeMux) {
	sup := []Role{RoleSupervisor}
	mux.HandleFunc("GET /results", a.staff(sup, a.resultsPage))
	mux.HandleFunc("POST /results", a.staff(sup, a.resultsSearch))
	mux.HandleFunc("GET /results/{code}", a.staff(sup, a.resultPage))
	mux.HandleFunc("GET /results/{code}/pdf", a.staff(sup, a.resultPDF))
	mux.HandleFunc("POST /results/{code}/{action}", a.staff(sup, a.resultAction))
}

// resultFuncs are the template functions of the result pages.
func resultFuncs() template.FuncMap {
	return template.FuncMap{
		"resultTime": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(storage.Vietnam()).Format("15:04 02/01/2006")
		},
		"resultDate": func(d storage.Date) string {
			if d.IsZero() {
				return ""
			}
			return d.Start().Format("02/01/2006")
		},
		"resultValidity": resultValidityText,
		"resultValidityClass": func(v storage.Validity) string {
			switch {
			case v.Valid:
				return "ok"
			case v.Status == storage.StatusSuspended || v.Reason == storage.ReasonNotYetEffective:
				return "warn"
			}
			return "bad"
		},
		"resultStatus": func(s string) string {
			if t, ok := resultStatusTexts[s]; ok {
				return t
			}
			return s
		},
		"resultReason": func(code string) string {
			if t, ok := resultReasonTexts[code]; ok {
				return t
			}
			return code
		},
		"resultOrigin": func(o string) string {
			switch o {
			case storage.OriginBornDigital:
				return "Bản điện tử gốc"
			case storage.OriginDigitizedOnReceipt:
				return "Số hóa khi tiếp nhận"
			case storage.OriginDigitizedBackfill:
				return "Số hóa hồ sơ cũ"
			}
			return o
		},
		"resultIDType": func(t string) string {
			if l, ok := resultIDTypes[t]; ok {
				return l
			}
			return t
		},
	}
}

var resultStatusTexts = map[string]string{
	storage.StatusActive:     "Có hiệu lực",
	storage.StatusSuspended:  "Tạm dừng hiệu lực",
	storage.StatusRevoked:    "Đã thu hồi",
	storage.StatusSuperseded: "Đã được thay thế",
}

// resultValidityText says in Vietnamese whether a result is valid, and why not.
func resultValidityText(v storage.Validity) string {
	switch v.Reason {
	case "":
		return "Còn hiệu lực"
	case storage.ReasonExpired:
		return "Hết hiệu lực (đã hết thời hạn)"
	case storage.ReasonNotYetEffective:
		return "Chưa đến ngày có hiệu lực"
	case storage.ReasonSignatureInvalid:
		return "Không còn hiệu lực: chữ ký số không hợp lệ"
	case storage.ReasonSuspended:
		return "Tạm dừng hiệu lực"
	case storage.ReasonSuperseded:
		return "Đã được thay thế bằng kết quả khác"
	}
	return "Đã thu hồi"
}

var resultIDTypes = map[string]string{
	storage.IDTypeCCCD:     "Số định danh cá nhân (CCCD)",
	storage.IDTypePassport: "Hộ chiếu",
	storage.IDTypeMST:      "Mã số thuế",
	storage.IDTypeMSDN:     "Mã số doanh nghiệp",
}

// Reasons a supervisor may give for a validity change: fixed codes, so an
// event (stored in clear, read by the reuse API) never holds free text
// that could name a person. The decision itself says the rest.
var resultReasonTexts = map[string]string{
	"ISSUED_IN_ERROR":              "Kết quả được cấp sai hoặc nhầm lẫn",
	"WRONG_DATA":                   "Thông tin trên kết quả không chính xác",
	"DECISION_ANNULLED":            "Quyết định cấp kết quả bị hủy bỏ",
	storage.ReasonSignatureInvalid: "Chữ ký số không hợp lệ",
	"AUTHORITY_REQUEST":            "Theo yêu cầu của cơ quan có thẩm quyền",
	"UNDER_VERIFICATION":           "Đang xác minh lại hồ sơ, kết quả",
	"VERIFIED":                     "Đã xác minh: kết quả đúng, khôi phục hiệu lực",
	"REPLACED":                     "Cấp kết quả mới thay thế",
	"OTHER":                        "Lý do khác (ghi trong quyết định)",
	storage.ReasonCodeIssued:       "Cấp kết quả",
	storage.ReasonSuperseded:       "Được thay thế bằng kết quả mới",
	"SUPERSEDES":                   "Thay thế kết quả cũ",
}

// A resultAction is one validity change a supervisor may make.
type resultAction struct {
	Name    string // the path segment and the form's id
	Label   string // the button
	Status  string // the status it records
	Reasons []string
	Done    string // the notice after it
	Rule    string // the audit rule
}

var resultActions = []resultAction{
	{"revoke", "Thu hồi kết quả", storage.StatusRevoked,
		[]string{"ISSUED_IN_ERROR", "WRONG_DATA", "DECISION_ANNULLED", storage.ReasonSignatureInvalid, "AUTHORITY_REQUEST", "OTHER"},
		"Đã thu hồi kết quả. Các hệ thống khai thác thấy ngay kết quả không còn hiệu lực.", "result_revoked"},
	{"suspend", "Tạm dừng hiệu lực", storage.StatusSuspended,
		[]string{"UNDER_VERIFICATION", "AUTHORITY_REQUEST", "WRONG_DATA", "OTHER"},
		"Đã tạm dừng hiệu lực của kết quả.", "result_suspended"},
	{"reinstate", "Khôi phục hiệu lực", storage.StatusActive,
		[]string{"VERIFIED", "AUTHORITY_REQUEST", "OTHER"},
		"Đã khôi phục hiệu lực của kết quả.", "result_reinstated"},
	{"supersede", "Thay thế bằng kết quả mới", storage.StatusSuperseded,
		[]string{"REPLACED"},
		"Đã ghi nhận kết quả được thay thế bằng kết quả mới.", "result_superseded"},
}

func resultActionNamed(name string) (resultAction, bool) {
	for _, ra := range resultActions {
		if ra.Name == name {
			return ra, true
		}
	}
	return resultAction{}, false
}

// resultActionsFrom lists the actions the rules allow from a status in force
// (storage's transitionAllowed: revoked and superseded are final).
func resultActionsFrom(status string) []resultAction {
	var out []resultAction
	for _, ra := range resultActions {
		switch {
		case status == storage.StatusActive && ra.Name != "reinstate",
			status == storage.StatusSuspended && ra.Name != "suspend":
			out = append(out, ra)
		}
	}
	return out
}

// ---- audit ----

// resultAudit is the audit record of a read of, or an action on, results.
type resultAudit struct {
	status   int
	deny     bool
	rule     string
	code     string // the result, when one
	citizen  string // audit.CitizenHash, never the ID
	target   string // what was searched for, when not personal data
	returned []storage.Manifest
}

func (a *App) auditResult(r *http.Request, s *signedIn, ra resultAudit) error {
	rec := a.record(r, a.now(), s.Account, s.Role, s.Office)
	rec.AuthMethod = "session"
	rec.Decision, rec.Rule, rec.Status = audit.Allow, ra.rule, ra.status
	if ra.deny {
		rec.Decision = audit.Deny
	}
	rec.ResultCode, rec.CitizenHash, rec.Target = ra.code, ra.citizen, ra.target
	for _, m := range ra.returned {
		rec.Returned = append(rec.Returned, audit.Returned{ResultCode: m.ResultCode, SHA256: m.File.SHA256})
	}
	return a.audit(r.Context(), rec)
}

// citizenHash is the holder's audit hash, "" without an audit key.
func (a *App) resultCitizenHash(idType, id string) string {
	if len(a.opts.AuditKey) == 0 {
		return ""
	}
	return audit.CitizenHash(a.opts.AuditKey, idType, id)
}

// resultHolderHash unseals a result's holder ID to hash it for the audit record.
func (a *App) resultHolderHash(ctx context.Context, m storage.Manifest) (string, error) {
	idType, id, err := a.opts.Repo.HolderID(ctx, m)
	if err != nil {
		return "", err
	}
	return a.resultCitizenHash(idType, id), nil
}

// ---- search ----

type resultRow struct {
	storage.Manifest
	Validity storage.Validity
	Holder   string
}

type resultsView struct {
	Kinds    []resultSearchKind
	Kind     string
	Query    string // echoed in the form: never a citizen ID
	Heading  string
	Rows     []resultRow
	Searched bool
}

type resultSearchKind struct{ Value, Label string }

var resultSearchKinds = []resultSearchKind{
	{"auto", "Tự nhận biết"},
	{"result", "Mã kết quả"},
	{"dossier", "Mã hồ sơ"},
	{storage.IDTypeCCCD, "Số định danh cá nhân (CCCD)"},
	{storage.IDTypePassport, "Số hộ chiếu"},
	{storage.IDTypeMST, "Mã số thuế"},
	{storage.IDTypeMSDN, "Mã số doanh nghiệp"},
}

func (a *App) resultsReady(w http.ResponseWriter, r *http.Request) bool {
	if a.opts.Repo == nil || len(a.opts.AuditKey) == 0 {
		a.unavailable(w, r, errors.New("web: results pages need Options.Repo and Options.AuditKey"))
		return false
	}
	return true
}

func (a *App) renderResults(w http.ResponseWriter, status int, s *signedIn, v resultsView, notice string, warn bool) {
	v.Kinds = resultSearchKinds
	if v.Kind == "" {
		v.Kind = "auto"
	}
	a.render(w, status, "results", view{Title: "Tra cứu kết quả", CSRF: s.CSRF, Staff: a.staffView(s),
		Notice: notice, Warning: warn, Data: v})
}

func (a *App) resultsPage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	a.renderResults(w, http.StatusOK, s, resultsView{}, "", false)
}

// resultsSearch answers the search form: a result code opens the result,
// a dossier code or a holder's ID lists results.
func (a *App) resultsSearch(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if !a.resultsReady(w, r) {
		return
	}
	ctx := r.Context()
	r.ParseForm() // parsed already unless the token came in the header
	q := strings.TrimSpace(r.PostForm.Get("q"))
	kind := r.PostForm.Get("kind")
	if kind == "" {
		kind = "auto"
	}
	v := resultsView{Kind: kind, Searched: true}
	if len(q) > 200 || !resultPrintable(q) {
		q = ""
	}
	if kind == "auto" {
		switch {
		case q == "":
		case looksLikeResultCode(q):
			kind = "result"
		case storage.ValidDossierCode(strings.ToUpper(q)):
			kind = "dossier"
		default:
			kind = storage.IDTypeCCCD
		}
	}
	switch kind {
	case "result":
		code, _, _, err := storage.ParseResultCode(strings.ToUpper(q))
		if err != nil {
			v.Query = ""
			a.renderResults(w, http.StatusBadRequest, s, v, "Mã kết quả phải có dạng mã hồ sơ, dấu gạch ngang, KQ và số thứ tự, ví dụ 000.00.31.H29-250718-0042-KQ1.", true)
			return
		}
		v.Query = code
		m, err := a.opts.Repo.Get(ctx, code)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			if err := a.auditResult(r, s, resultAudit{status: http.StatusNotFound, rule: "results_searched", target: "result:" + code}); err != nil {
				a.unavailable(w, r, err)
				return
			}
			a.renderResults(w, http.StatusNotFound, s, v, "Không có kết quả nào mang mã "+code+".", true)
			return
		case err != nil:
			a.unavailable(w, r, err)
			return
		}
		// The detail page audits the read.
		http.Redirect(w, r, resultPath(m.ResultCode), http.StatusSeeOther)
		return
	case "dossier":
		code := strings.ToUpper(q)
		if !storage.ValidDossierCode(code) {
			a.renderResults(w, http.StatusBadRequest, s, v, "Mã hồ sơ phải có dạng mã cơ quan, ngày tiếp nhận (YYMMDD) và số thứ tự, ví dụ 000.00.31.H29-250718-0042.", true)
			return
		}
		v.Query = code
		ms, err := a.opts.Repo.ByDossierCode(ctx, code)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		v.Heading = "Kết quả của hồ sơ " + code
		a.listResults(w, r, s, v, ms, resultAudit{rule: "results_searched", target: "dossier:" + code},
			"Hồ sơ "+code+" chưa có kết quả điện tử nào.")
		return
	}
	idType, id, err := storage.NormalizeHolderID(kind, q)
	if err != nil {
		a.renderResults(w, http.StatusBadRequest, s, v, "Không nhận ra nội dung cần tìm. Hãy nhập mã kết quả, mã hồ sơ, hoặc số định danh cá nhân đủ 12 chữ số (chọn loại giấy tờ nếu là hộ chiếu, mã số thuế, mã số doanh nghiệp).", true)
		return
	}
	hits, err := a.opts.Repo.Search(ctx, storage.Query{IDType: idType, ID: id, IncludeHistory: true, ValidAt: a.now()})
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	v.Kind = idType
	v.Heading = "Kết quả của người có " + strings.ToLower(resultIDTypes[idType]) + " " + resultMaskID(id)
	ms := make([]storage.Manifest, len(hits))
	for i, h := range hits {
		ms[i] = h.Manifest
	}
	a.listResults(w, r, s, v, ms, resultAudit{rule: "results_searched", citizen: a.resultCitizenHash(idType, id), target: "holder:" + idType},
		"Không tìm thấy kết quả điện tử nào của người này.")
}

// listResults shows a list of results, after auditing what it shows.
func (a *App) listResults(w http.ResponseWriter, r *http.Request, s *signedIn, v resultsView, ms []storage.Manifest, ra resultAudit, none string) {
	ctx := r.Context()
	now := a.now()
	for _, m := range ms {
		evs, err := a.opts.Repo.Events(ctx, m.ResultCode)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		sealed, err := a.opts.Repo.Sealed(ctx, m)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		v.Rows = append(v.Rows, resultRow{Manifest: m, Validity: storage.ValidAt(m, evs, now), Holder: sealed.Name})
	}
	ra.status, ra.returned = http.StatusOK, ms
	if err := a.auditResult(r, s, ra); err != nil {
		a.unavailable(w, r, err)
		return
	}
	notice := ""
	if len(ms) == 0 {
		notice = none
	}
	a.renderResults(w, http.StatusOK, s, v, notice, false)
}

func looksLikeResultCode(q string) bool {
	_, _, _, err := storage.ParseResultCode(strings.ToUpper(q))
	return err == nil
}

// resultMaskID shows the last 4 characters of an ID.
func resultMaskID(id string) string {
	if len(id) <= 4 {
		return strings.Repeat("*", len(id))
	}
	return strings.Repeat("*", len(id)-4) + id[len(id)-4:]
}

func resultPrintable(s string) bool {
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

func resultPath(code string) string { return "/results/" + url.PathEscape(code) }

// ---- the result ----

type resultView struct {
	M        storage.Manifest
	Validity storage.Validity
	Holder   storage.Sealed
	Events   []resultEventRow
	Actions  []resultAction
	// Foreign: another agency's result, whose validity this office may
	// not change.
	Foreign  bool
	Final    bool
	Reasons  map[string]string
	PDFPath  string
	Decision string // the decision typed, kept after a refusal
}

type resultEventRow struct {
	storage.StatusEvent
	By string
}

// resultNamed reads the result of the path; on false the answer is sent.
func (a *App) resultNamed(w http.ResponseWriter, r *http.Request) (storage.Manifest, bool) {
	if !a.resultsReady(w, r) {
		return storage.Manifest{}, false
	}
	m, err := a.opts.Repo.Get(r.Context(), r.PathValue("code"))
	switch {
	case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid):
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy kết quả", "Không có kết quả điện tử nào mang mã này. Hãy kiểm tra lại mã, hoặc tìm theo mã hồ sơ.")
		return m, false
	case err != nil:
		a.unavailable(w, r, err)
		return m, false
	}
	return m, true
}

func (a *App) resultPage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	m, ok := a.resultNamed(w, r)
	if !ok {
		return
	}
	notice := ""
	if ra, ok := resultActionNamed(r.URL.Query().Get("done")); ok {
		notice = ra.Done
	}
	a.showResult(w, r, s, m, http.StatusOK, notice, false, "")
}

// showResult renders a result's page after auditing the read.
func (a *App) showResult(w http.ResponseWriter, r *http.Request, s *signedIn, m storage.Manifest, status int, notice string, warn bool, decision string) {
	ctx := r.Context()
	sealed, err := a.opts.Repo.Sealed(ctx, m)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	evs, err := a.opts.Repo.Events(ctx, m.ResultCode)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	v := resultView{M: m, Validity: storage.ValidAt(m, evs, a.now()), Holder: sealed, Reasons: resultReasonTexts,
		PDFPath: resultPath(m.ResultCode) + "/pdf", Decision: decision,
		Foreign: a.opts.AgencyCode != "" && m.ConvertingAgency.Code != a.opts.AgencyCode}
	for _, e := range evs {
		v.Events = append(v.Events, resultEventRow{StatusEvent: e, By: a.resultActor(ctx, e.Actor)})
	}
	if !v.Foreign {
		v.Actions = resultActionsFrom(v.Validity.Status)
	}
	v.Final = v.Validity.Status == storage.StatusRevoked || v.Validity.Status == storage.StatusSuperseded
	if status < 400 {
		if err := a.auditResult(r, s, resultAudit{status: status, rule: "result_viewed", code: m.ResultCode,
			citizen: a.resultCitizenHash(sealed.IDType, sealed.ID), returned: []storage.Manifest{m}}); err != nil {
			a.unavailable(w, r, err)
			return
		}
	}
	a.render(w, status, "result", view{Title: "Kết quả " + m.ResultCode, CSRF: s.CSRF, Staff: a.staffView(s),
		Notice: notice, Warning: warn, Data: v})
}

// resultActor names who recorded a status event, in words.
func (a *App) resultActor(ctx context.Context, actor string) string {
	if id, ok := strings.CutPrefix(actor, "staff:"); ok {
		if acct, err := a.opts.Accounts.ByID(ctx, id); err == nil {
			if acct.Name != "" {
				return acct.Name
			}
			return "Cán bộ " + acct.Role.Label()
		}
		return "Cán bộ (tài khoản " + resultShortID(id) + ")"
	}
	if c, ok := strings.CutPrefix(actor, "client:"); ok {
		return "Hệ thống khai thác " + c
	}
	if actor == "" {
		return "Hệ thống"
	}
	return actor
}

func resultShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// resultPDF sends the signed PDF to open in the browser's viewer.
func (a *App) resultPDF(w http.ResponseWriter, r *http.Request, s *signedIn) {
	m, ok := a.resultNamed(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	rc, m, err := a.opts.Repo.OpenPDF(ctx, m.ResultCode)
	if err != nil {
		if errors.Is(err, storage.ErrCorrupt) {
			a.log.Error("web: stored pdf fails its checksum", "result_code", m.ResultCode, "err", err)
			a.fail(w, r, http.StatusBadGateway, "Tệp kết quả bị hỏng", "Tệp PDF đã lưu không khớp mã kiểm tra của nó nên không được mở. Hãy báo cho cán bộ quản trị.")
			return
		}
		a.unavailable(w, r, err)
		return
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	hash, err := a.resultHolderHash(ctx, m)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	if err := a.auditResult(r, s, resultAudit{status: http.StatusOK, rule: "result_pdf_opened", code: m.ResultCode,
		citizen: hash, returned: []storage.Manifest{m}}); err != nil {
		a.unavailable(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": m.ResultCode + ".pdf"}))
	h.Set("Cache-Control", "no-store")
	// The browser's own PDF viewer must run: the pages' policy (no
	// plugins, no objects) would block it. Nothing of this site runs in
	// a PDF, and it may still not be framed.
	h.Set("Content-Security-Policy", "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	w.WriteHeader(http.StatusOK)
	io.Copy(w, bytes.NewReader(data))
}

// resultDecisionRe is a decision number as offices write them
// ("125/QĐ-UBND", "QĐ 12/2026"): letters, digits, spaces and / . - ( ).
var resultDecisionRe = regexp.MustCompile(`^[\p{L}\p{N} ./()_,:-]{1,128}$`)

// resultLongDigits is a run of digits that could be a citizen ID.
var resultLongDigits = regexp.MustCompile(`[0-9]{9,}`)

// resultAction changes a result's validity under a decision.
func (a *App) resultAction(w http.ResponseWriter, r *http.Request, s *signedIn) {
	ra, ok := resultActionNamed(r.PathValue("action"))
	if !ok {
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy trang", "Địa chỉ này không có trong hệ thống.")
		return
	}
	m, ok := a.resultNamed(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	r.ParseForm() // parsed already unless the token came in the header
	decision := strings.Join(strings.Fields(r.PostForm.Get("decision")), " ")
	reason := r.PostForm.Get("reason")
	hash, err := a.resultHolderHash(ctx, m)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	refuse := func(status int, rule, text string) {
		if err := a.auditResult(r, s, resultAudit{status: status, deny: true, rule: rule, code: m.ResultCode, citizen: hash}); err != nil {
			a.unavailable(w, r, err)
			return
		}
		keep := decision
		if !resultDecisionRe.MatchString(keep) || resultLongDigits.MatchString(keep) {
			keep = ""
		}
		a.showResult(w, r, s, m, status, text, true, keep)
	}
	switch {
	case a.opts.AgencyCode != "" && m.ConvertingAgency.Code != a.opts.AgencyCode:
		refuse(http.StatusForbidden, "not_issuing_agency", "Kết quả này do cơ quan khác ("+m.ConvertingAgency.Code+") cấp: chỉ cơ quan cấp mới được thay đổi hiệu lực của nó.")
		return
	case decision == "":
		refuse(http.StatusBadRequest, "decision_ref_required", "Hãy nhập số quyết định (ví dụ 125/QĐ-UBND): mọi thay đổi hiệu lực phải theo một quyết định.")
		return
	case resultLongDigits.MatchString(decision):
		refuse(http.StatusBadRequest, "decision_ref_invalid", "Số quyết định không được chứa dãy từ 9 chữ số liền nhau trở lên (có thể là số định danh của công dân). Hãy nhập đúng số, ký hiệu của quyết định.")
		return
	case !resultDecisionRe.MatchString(decision):
		refuse(http.StatusBadRequest, "decision_ref_invalid", "Số quyết định chỉ gồm chữ, số, dấu cách và các dấu / . - ( ), tối đa 128 ký tự.")
		return
	case !slices.Contains(ra.Reasons, reason):
		refuse(http.StatusBadRequest, "reason_required", "Hãy chọn lý do trong danh sách.")
		return
	}
	actor := "staff:" + s.Account
	if ra.Name == "supersede" {
		newCode, _, _, err := storage.ParseResultCode(strings.ToUpper(strings.TrimSpace(r.PostForm.Get("new_code"))))
		if err != nil {
			refuse(http.StatusBadRequest, "new_code_invalid", "Hãy nhập mã của kết quả mới thay thế, ví dụ 000.00.31.H29-250718-0042-KQ2.")
			return
		}
		nm, err := a.opts.Repo.Get(ctx, newCode)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			refuse(http.StatusBadRequest, "new_code_unknown", "Không có kết quả nào mang mã "+newCode+". Kết quả mới phải được cấp trước khi thay thế kết quả cũ.")
			return
		case err != nil:
			a.unavailable(w, r, err)
			return
		case nm.ID == m.ID:
			refuse(http.StatusBadRequest, "new_code_invalid", "Một kết quả không thể thay thế chính nó.")
			return
		case a.opts.AgencyCode != "" && nm.ConvertingAgency.Code != a.opts.AgencyCode:
			refuse(http.StatusForbidden, "not_issuing_agency", "Kết quả mới "+newCode+" do cơ quan khác cấp.")
			return
		}
		err = a.opts.Repo.SupersedeUnder(ctx, m.ResultCode, nm.ResultCode, actor, decision)
		if a.resultRefused(err, refuse, ra, m) {
			return
		}
	} else {
		err := a.opts.Repo.AppendStatus(ctx, m.ResultCode, storage.StatusEvent{Status: ra.Status, ReasonCode: reason,
			DecisionRef: decision, Actor: actor})
		if a.resultRefused(err, refuse, ra, m) {
			return
		}
	}
	if err := a.auditResult(r, s, resultAudit{status: http.StatusSeeOther, rule: ra.Rule, code: m.ResultCode, citizen: hash,
		returned: []storage.Manifest{m}}); err != nil {
		a.unavailable(w, r, err)
		return
	}
	http.Redirect(w, r, resultPath(m.ResultCode)+"?done="+ra.Name, http.StatusSeeOther)
}

// refused answers a refused change in Vietnamese; false when err is nil.
func (a *App) resultRefused(err error, refuse func(int, string, string), ra resultAction, m storage.Manifest) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, storage.ErrExists):
		refuse(http.StatusConflict, "already_recorded", "Thay đổi này đã được ghi nhận trước đó theo cùng quyết định; không ghi lại lần nữa.")
	case errors.Is(err, storage.ErrConflict):
		refuse(http.StatusConflict, "invalid_transition", a.resultTransitionText(m, ra))
	case errors.Is(err, storage.ErrInvalid):
		refuse(http.StatusBadRequest, "invalid_change", "Không ghi nhận được thay đổi: thời điểm có hiệu lực phải từ ngày cấp kết quả trở đi. Hãy kiểm tra lại kết quả và quyết định.")
	default:
		a.log.Error("web: validity change failed", "result_code", m.ResultCode, "action", ra.Name, "err", err)
		refuse(http.StatusServiceUnavailable, "repository_error", "Hệ thống tạm thời không ghi được thay đổi. Vui lòng thử lại sau ít phút.")
	}
	return true
}

// resultTransitionText explains why the rules refuse a change.
func (a *App) resultTransitionText(m storage.Manifest, ra resultAction) string {
	v, err := a.opts.Repo.Validity(context.Background(), m.ResultCode, a.now())
	if err == nil {
		switch v.Status {
		case storage.StatusRevoked:
			return "Kết quả đã bị thu hồi. Thu hồi là quyết định cuối cùng: không thể thay đổi hiệu lực nữa."
		case storage.StatusSuperseded:
			return "Kết quả đã được thay thế bằng kết quả khác: không thể thay đổi hiệu lực nữa."
		case storage.StatusActive:
			if ra.Name == "reinstate" {
				return "Kết quả đang có hiệu lực: chỉ khôi phục được kết quả đang bị tạm dừng."
			}
		}
	}
	return "Thay đổi này không được phép với trạng thái hiện tại của kết quả (hoặc của kết quả mới thay thế)."
}
