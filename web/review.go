// This file owns the review pages: the queue of documents waiting for a
// person, and the item page where a reviewer checks a document's fields
// beside its scan, corrects them and approves or rejects it.
//
// Two reviewers never work on one item: opening an item claims it in the
// session store for claimTTL (the page renews the claim while it is open),
// a decision releases it, and a decision posted by anyone but the holder is
// refused. The citizen ID appears only in the page body and in POST
// bodies: URLs name an item by its input key and document number, and the
// audit records and logs carry the same.

package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"image"
	"image/jpeg"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "image/png" // stored PNG pages

	"sohoa/audit"
	"sohoa/ocr"
	"sohoa/pipeline"
	"sohoa/storage"
)

// claimTTL is how long an opened item stays claimed without a renewal;
// the item page renews it every claimRenew.
const (
	claimTTL   = 15 * time.Minute
	claimRenew = 4 * time.Minute
)

var reviewRoles = []Role{RoleReviewer, RoleSupervisor}

// reviewRoutes registers the review pages.
func (a *App) reviewRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /review", a.staff(reviewRoles, a.reviewQueue))
	mux.HandleFunc("GET /review/{input}/{doc}", a.staff(reviewRoles, a.reviewItem))
	mux.HandleFunc("POST /review/{input}/{doc}", a.staff(reviewRoles, a.reviewDecide))
	mux.HandleFunc("POST /review/{input}/{doc}/claim", a.staff(reviewRoles, a.reviewClaim))
	mux.HandleFunc("POST /review/{input}/{doc}/release", a.staff(reviewRoles, a.reviewRelease))
	mux.HandleFunc("GET /review/{input}/{doc}/status", a.staff(reviewRoles, a.reviewStatus))
	mux.HandleFunc("GET /review/{input}/{doc}/page/{n}", a.staff(reviewRoles, a.reviewPageImage))
}

// reviewFuncs are the template functions of the review pages.
func reviewFuncs() template.FuncMap {
	return template.FuncMap{
		// fieldArgs passes a field and whether the page is read-only to
		// the "field" template.
		"fieldArgs": func(f fieldView, locked bool) map[string]any {
			return map[string]any{"F": f, "Locked": locked}
		},
	}
}

// ---- the queue ----

type queueRow struct {
	Href, DocType, TypeName, Office, Age, Since string
	Reasons                                     []string
	Claim                                       string // "" | "mine" | "other"
}

type queueOption struct {
	Value, Label string
	Selected     bool
}

type queueView struct {
	Rows                   []queueRow
	Total                  int
	Reasons, Types, Office []queueOption
	Filtered               bool
}

func (a *App) reviewQueue(w http.ResponseWriter, r *http.Request, s *signedIn) {
	v := view{Title: "Hàng đợi kiểm tra", CSRF: s.CSRF, Staff: a.staffView(s)}
	if a.opts.Repo == nil {
		v.Notice, v.Warning = "Hệ thống chưa được kết nối kho dữ liệu, nên chưa có tài liệu nào để kiểm tra.", true
		v.Data = queueView{}
		a.render(w, http.StatusOK, "review_queue", v)
		return
	}
	ctx := r.Context()
	pending, err := pipeline.PendingReviews(ctx, a.opts.Repo)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	q := r.URL.Query()
	fReason, fType, fOffice := q.Get("reason"), q.Get("type"), q.Get("office")
	layouts := a.layouts()
	texts := a.opts.ReasonTexts
	reasons, types, offices := map[string]bool{}, map[string]bool{}, map[string]bool{}
	keys := make([]string, len(pending))
	for i, e := range pending {
		keys[i] = claimKey(e.InputKey, e.Doc)
	}
	holders, err := a.opts.Sessions.ClaimHolders(ctx, keys)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	qv := queueView{Total: len(pending), Filtered: fReason != "" || fType != "" || fOffice != ""}
	for i, e := range pending {
		classes := map[string]bool{}
		for _, c := range e.Reasons {
			classes[reasonClass(c)] = true
			reasons[reasonClass(c)] = true
		}
		types[e.DocType] = true
		if e.Office != "" {
			offices[e.Office] = true
		}
		if (fReason != "" && !classes[fReason]) || (fType != "" && e.DocType != fType) || (fOffice != "" && e.Office != fOffice) {
			continue
		}
		row := queueRow{Href: itemPath(e.InputKey, e.Doc), DocType: e.DocType, TypeName: typeName(layouts, e.DocType),
			Office: e.Office, Age: ageText(a.now().Sub(e.Since)), Since: e.Since.UTC().Format(time.RFC3339)}
		label := fieldLabeler(layouts, e.DocType)
		for _, c := range e.Reasons {
			row.Reasons = append(row.Reasons, pipeline.ReasonText(texts, c, label))
		}
		switch h := holders[keys[i]]; {
		case h == s.Account:
			row.Claim = "mine"
		case h != "":
			row.Claim = "other"
		}
		qv.Rows = append(qv.Rows, row)
	}
	for _, c := range sortedKeys(reasons) {
		qv.Reasons = append(qv.Reasons, queueOption{c, classText(texts, c), c == fReason})
	}
	for _, t := range sortedKeys(types) {
		qv.Types = append(qv.Types, queueOption{t, typeName(layouts, t), t == fType})
	}
	for _, o := range sortedKeys(offices) {
		qv.Office = append(qv.Office, queueOption{o, o, o == fOffice})
	}
	v.Data = qv
	a.render(w, http.StatusOK, "review_queue", v)
}

// reasonClass is what the queue filters a reason by: its code without the
// field (low_confidence:personal_id → low_confidence), page reasons as one.
func reasonClass(code string) string {
	if strings.HasPrefix(code, "page_") {
		return "page_flagged"
	}
	c, _, _ := strings.Cut(code, ":")
	return c
}

func classText(texts map[string]string, class string) string {
	if t, ok := texts[class+":"]; ok {
		return t
	}
	if t, ok := texts[class]; ok {
		return t
	}
	return class
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ageText says how long ago t was, the way staff say it.
func ageText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "vừa xong"
	case d < time.Hour:
		return fmt.Sprintf("%d phút trước", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d giờ trước", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d ngày trước", int(d/(24*time.Hour)))
	}
}

func itemPath(inputKey string, doc int) string {
	return "/review/" + inputKey + "/" + strconv.Itoa(doc)
}

func claimKey(inputKey string, doc int) string { return "review:" + inputKey + ":" + strconv.Itoa(doc) }

func (a *App) layouts() *ocr.Layouts {
	if a.opts.Pipeline != nil {
		if ls := a.opts.Pipeline.Layouts(); ls != nil {
			return ls
		}
	}
	return nil
}

func typeName(ls *ocr.Layouts, docType string) string {
	if ls != nil {
		if l, ok := ls.Layout(docType); ok && l.Name != "" {
			return l.Name
		}
	}
	if docType == ocr.DocTypeUnknown || docType == "" {
		return "Chưa rõ loại giấy tờ"
	}
	return docType
}

// fieldNames name the fields a layout reads without a printed label, and
// the review's own keys.
var fieldNames = map[string]string{
	"issue_date":                "Ngày cấp",
	"submission_date":           "Ngày làm đơn",
	"issuing_authority":         "Cơ quan cấp",
	"signer_name":               "Người ký",
	"signer_title":              "Chức vụ người ký",
	pipeline.FieldHolderID:      "Số định danh cá nhân của người được cấp",
	pipeline.FieldProcedureCode: "Mã thủ tục hành chính",
	pipeline.FieldValidUntil:    "Có giá trị đến (ngày/tháng/năm, hoặc none nếu không thời hạn)",
	"reason":                    "Lý do từ chối",
}

// fieldLabeler names the fields of docType: the printed label of the
// layout, the spouse's marked as such.
func fieldLabeler(ls *ocr.Layouts, docType string) func(string) string {
	var l *ocr.Layout
	if ls != nil {
		l, _ = ls.Layout(docType)
	}
	return func(slug string) string {
		if n, ok := fieldNames[slug]; ok {
			return n
		}
		if l != nil {
			if f, ok := l.Field(slug); ok && len(f.Labels) > 0 {
				if strings.HasPrefix(slug, "spouse_") {
					return f.Labels[0] + " (vợ/chồng)"
				}
				return f.Labels[0]
			}
		}
		if slug == "personal_id" {
			return "Số định danh cá nhân"
		}
		return slug
	}
}

// ---- one item ----

// reviewTarget is an item read from the request: its record, layout and
// recorded decision.
type reviewTarget struct {
	inputKey string
	doc      int
	rec      pipeline.Record
	d        ocr.Document
	layout   *ocr.Layout // nil for a type without one
	decision *pipeline.Approval
	result   string // result code, once issued
}

func (t *reviewTarget) id() string { return t.inputKey + "/" + strconv.Itoa(t.doc) }

// loadTarget reads the item named by the path, answering (and returning
// false) when there is none.
func (a *App) loadTarget(w http.ResponseWriter, r *http.Request) (*reviewTarget, bool) {
	if a.opts.Repo == nil || a.opts.Pipeline == nil {
		a.unavailable(w, r, errors.New("review: no repository or pipeline configured"))
		return nil, false
	}
	notFound := func() (*reviewTarget, bool) {
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy tài liệu", "Tài liệu này không có trong hàng đợi kiểm tra. Hãy mở lại hàng đợi.")
		return nil, false
	}
	t := &reviewTarget{inputKey: r.PathValue("input")}
	doc, err := strconv.Atoi(r.PathValue("doc"))
	if err != nil || doc < 0 || !storage.ValidInputKey(t.inputKey) {
		return notFound()
	}
	t.doc = doc
	ctx := r.Context()
	switch err := a.opts.Repo.GetSealedJSON(ctx, storage.RecordKey(t.inputKey), &t.rec); {
	case errors.Is(err, storage.ErrNotFound):
		return notFound()
	case err != nil:
		a.unavailable(w, r, err)
		return nil, false
	}
	if doc >= len(t.rec.Result.Documents) || doc >= len(t.rec.Decisions) {
		return notFound()
	}
	if t.rec.Decisions[doc].Action != pipeline.ActionReview {
		later, err := a.opts.Repo.Exists(ctx, storage.ReviewDocKey(t.inputKey, doc))
		if err != nil {
			a.unavailable(w, r, err)
			return nil, false
		}
		if !later {
			return notFound()
		}
	}
	t.d = t.rec.Result.Documents[doc]
	if ls := a.layouts(); ls != nil {
		t.layout, _ = ls.Layout(t.d.DocType)
	}
	t.decision, t.result, err = pipeline.DocumentDecision(ctx, a.opts.Repo, t.inputKey, doc)
	if err != nil {
		a.unavailable(w, r, err)
		return nil, false
	}
	return t, true
}

type boxView struct {
	Field, Label, Class string
	X, Y, W, H          int
}

type pageView struct {
	Number        int
	Src           string
	Width, Height int
	Boxes         []boxView
}

type fieldView struct {
	Slug, Label, Value, Conf string
	// State: ok, low (low confidence), failing (a check fails), missing
	// (required, not read), entered (a person's value).
	State    string
	Reasons  []string
	Readings []string
	Error    string
	Required bool
	Date     bool // a dd/mm/yyyy value
	Page     int
	Boxed    bool
}

type decisionView struct {
	State      string // approved (issuing) | issued | rejected | failed
	ResultCode string
	Reason     string
	ByMe       bool
	At         string
}

type itemView struct {
	Base, TypeName, DocType, File, Dossier, Office, Age string
	Reasons                                             []string // about the document as a whole
	Pages                                               []pageView
	Fields                                              []fieldView // read, or required
	Others                                              []fieldView // not read, optional
	Missing                                             []string    // labels of required fields not read
	Errors                                              []string    // refusals not about a shown field
	Override                                            string      // ID check codes the reviewer may accept as printed
	OverrideText                                        string
	Approvable                                          bool // a result type: approve is possible
	ClaimedByOther                                      bool
	Locked                                              bool // decided, or another reviewer's: read-only
	RenewMS                                             int64
	RejectReason                                        string
	Decision                                            *decisionView
}

// fieldOf names the field a reason is about, "" for the whole document.
func fieldOf(code string, l *ocr.Layout) string {
	if _, f, ok := strings.Cut(code, ":"); ok && !strings.HasPrefix(code, "page_") {
		return f
	}
	holder := "personal_id"
	if l != nil && l.HolderIDField != "" {
		holder = l.HolderIDField
	}
	switch {
	case strings.HasPrefix(code, "id_") || code == "holder_id_missing" || code == "holder_id_from_form":
		return holder
	case code == "procedure_code_unknown":
		return pipeline.FieldProcedureCode
	case code == "valid_until_missing":
		return pipeline.FieldValidUntil
	case code == "issue_date_in_future" || code == "birth_after_issue":
		return "issue_date"
	}
	return ""
}

// failing reasons: the value is wrong or unsure, not merely unclear.
func failingReason(code string) bool {
	return !strings.HasPrefix(code, "low_confidence:")
}

// buildItem makes the item page's view. entered are values a person
// posted (shown instead of the read ones), errs the refusals by field.
func (a *App) buildItem(t *reviewTarget, s *signedIn, entered map[string]string, errs *pipeline.ValidationError) itemView {
	texts := a.opts.ReasonTexts
	label := fieldLabeler(a.layouts(), t.d.DocType)
	iv := itemView{Base: itemPath(t.inputKey, t.doc), TypeName: typeName(a.layouts(), t.d.DocType), DocType: t.d.DocType,
		File: t.rec.File, Dossier: t.rec.Intake.DossierCode, Office: t.rec.Intake.Office,
		Age: ageText(a.now().Sub(t.rec.CreatedAt)), RenewMS: claimRenew.Milliseconds(),
		Approvable: t.layout != nil && !t.layout.Application}
	byField := map[string][]string{}
	failing := map[string]bool{}
	for _, c := range t.rec.Decisions[t.doc].Reasons {
		f := fieldOf(c, t.layout)
		txt := pipeline.ReasonText(texts, c, label)
		if f == "" {
			iv.Reasons = append(iv.Reasons, txt)
			continue
		}
		byField[f] = append(byField[f], txt)
		if failingReason(c) {
			failing[f] = true
		}
	}
	var errBy map[string]pipeline.FieldError
	if errs != nil {
		errBy = errs.ByField()
	}
	errText := func(fe pipeline.FieldError) string {
		txt := pipeline.ReasonText(texts, fe.Code, label)
		if len(fe.Checks) > 0 {
			var cs []string
			for _, c := range fe.Checks {
				cs = append(cs, pipeline.ReasonText(texts, c, label))
			}
			txt += ": " + strings.Join(cs, "; ")
		}
		return txt
	}
	shown := map[string]bool{}
	mk := func(slug string, f ocr.Field, read bool, spec *ocr.FieldSpec) fieldView {
		fv := fieldView{Slug: slug, Label: label(slug), Value: f.Value, Reasons: byField[slug], Page: f.Page, Boxed: !f.Box.Empty()}
		if read {
			fv.Conf = strconv.Itoa(int(f.Confidence*100+0.5)) + "%"
		}
		if spec != nil {
			fv.Required, fv.Date = spec.Required, spec.Kind == ocr.KindDate
		}
		if len(f.Reads) > 1 {
			fv.Readings = f.Reads
		}
		switch {
		case !read && fv.Required:
			fv.State = "missing"
		case failing[slug]:
			fv.State = "failing"
		case len(byField[slug]) > 0:
			fv.State = "low"
		default:
			fv.State = "ok"
		}
		if v, ok := entered[slug]; ok && v != f.Value {
			fv.Value, fv.State = v, "entered"
		}
		if fe, ok := errBy[slug]; ok {
			fv.Error = errText(fe)
			fv.State = "failing"
			if fe.Code == pipeline.FieldIDChecks {
				iv.Override = strings.Join(fe.Checks, ",")
			}
		}
		shown[slug] = true
		return fv
	}
	if t.layout != nil {
		for i := range t.layout.Fields {
			spec := &t.layout.Fields[i]
			f, read := t.d.Fields[spec.Slug]
			fv := mk(spec.Slug, f, read, spec)
			switch {
			case read || spec.Required || fv.Error != "" || len(fv.Reasons) > 0:
				iv.Fields = append(iv.Fields, fv)
				if !read && spec.Required {
					iv.Missing = append(iv.Missing, fv.Label)
				}
			default:
				iv.Others = append(iv.Others, fv)
			}
		}
	}
	var extra []string
	for slug := range t.d.Fields {
		if !shown[slug] {
			extra = append(extra, slug)
		}
	}
	sort.Strings(extra)
	for _, slug := range extra {
		iv.Fields = append(iv.Fields, mk(slug, t.d.Fields[slug], true, nil))
	}
	if iv.Approvable {
		proc := ocr.Field{Value: a.defaultProcedure(t)}
		iv.Fields = append(iv.Fields, mk(pipeline.FieldProcedureCode, proc, proc.Value != "", nil))
		if t.layout.Validity != nil || t.d.ValidUntil != nil {
			vu := ocr.Field{}
			if t.d.ValidUntil != nil {
				vu.Value = *t.d.ValidUntil
			}
			fv := mk(pipeline.FieldValidUntil, vu, vu.Value != "", nil)
			fv.Date = true
			iv.Fields = append(iv.Fields, fv)
		}
	}
	if errs != nil {
		for _, fe := range errs.Fields {
			if !shown[fe.Field] {
				name := fe.Field
				if name != "" {
					name = label(fe.Field) + ": "
				}
				iv.Errors = append(iv.Errors, name+errText(fe))
			}
		}
	}
	if iv.Override != "" {
		iv.OverrideText = "Tôi đã đối chiếu: số định danh in trên bản gốc đúng như vậy (ghi nhận ngoại lệ " + iv.Override + ")"
	}
	// The pages, with the box of every field read on each.
	for _, n := range t.d.Pages {
		pv := pageView{Number: n, Src: iv.Base + "/page/" + strconv.Itoa(n)}
		for _, p := range t.rec.Result.Pages {
			if p.Number == n {
				pv.Width, pv.Height = p.Width, p.Height
			}
		}
		if pv.Width <= 0 || pv.Height <= 0 {
			continue
		}
		for _, fv := range iv.Fields {
			f, ok := t.d.Fields[fv.Slug]
			if !ok || f.Page != n || f.Box.Empty() {
				continue
			}
			b := f.Box.Inset(-4) // a margin, so the box does not hide the ink
			pv.Boxes = append(pv.Boxes, boxView{Field: fv.Slug, Label: fv.Label, Class: fv.State,
				X: b.Min.X, Y: b.Min.Y, W: b.Dx(), H: b.Dy()})
		}
		iv.Pages = append(iv.Pages, pv)
	}
	return iv
}

// defaultProcedure is the procedure code a result of t is issued under
// when the reviewer gives none: the intake's, else the configured one.
func (a *App) defaultProcedure(t *reviewTarget) string {
	if t.rec.Intake.ProcedureCode != "" {
		return t.rec.Intake.ProcedureCode
	}
	return a.opts.Procedures[t.d.DocType]
}

func (a *App) decisionView(t *reviewTarget, s *signedIn) *decisionView {
	if t.decision == nil {
		return nil
	}
	dv := &decisionView{ByMe: t.decision.By == s.Account, At: t.decision.At.In(vietnam).Format("15:04 02/01/2006")}
	switch {
	case !t.decision.Approved:
		dv.State, dv.Reason = "rejected", t.decision.Reason
	case t.result != "":
		dv.State, dv.ResultCode = "issued", t.result
	default:
		dv.State = "approved"
	}
	return dv
}

// vietnam is the offices' time zone (UTC+7, no daylight saving).
var vietnam = time.FixedZone("ICT", 7*3600)

func (a *App) renderItem(w http.ResponseWriter, status int, t *reviewTarget, s *signedIn, iv itemView, notice string, warn bool) {
	iv.Locked = iv.Decision != nil || iv.ClaimedByOther
	a.render(w, status, "review_item", view{Title: "Kiểm tra: " + iv.TypeName, CSRF: s.CSRF, Staff: a.staffView(s),
		Notice: notice, Warning: warn, Data: iv})
}

// reviewItem is the item page: the scan beside the fields. Opening it
// claims the item (or shows who holds it) and is audited: it shows
// personal data.
func (a *App) reviewItem(w http.ResponseWriter, r *http.Request, s *signedIn) {
	t, ok := a.loadTarget(w, r)
	if !ok {
		return
	}
	var shown map[string]string
	if t.decision != nil {
		shown = t.decision.Fields // the values as decided
	}
	iv := a.buildItem(t, s, shown, nil)
	iv.Decision = a.decisionView(t, s)
	notice := ""
	if iv.Decision == nil {
		holder, err := a.opts.Sessions.Claim(r.Context(), claimKey(t.inputKey, t.doc), s.Account, claimTTL)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
		if holder != s.Account {
			iv.ClaimedByOther = true
			notice = "Tài liệu này đang được cán bộ khác kiểm tra. Bạn chỉ xem được, không duyệt hoặc từ chối được; hãy chọn tài liệu khác trong hàng đợi."
		}
	}
	if err := a.auditAction(r, s, http.StatusOK, "review_viewed", t.id()); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.renderItem(w, http.StatusOK, t, s, iv, notice, iv.ClaimedByOther)
}

// reviewDecide records an approval (with corrections) or a rejection.
// Only the claim's holder may decide; corrections are checked by the
// pipeline (Pipeline.Decide) and each refusal is shown beside its field.
func (a *App) reviewDecide(w http.ResponseWriter, r *http.Request, s *signedIn) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, http.StatusBadRequest, "Yêu cầu không hợp lệ", "Biểu mẫu gửi lên không đọc được. Hãy tải lại trang và thử lại.")
		return
	}
	t, ok := a.loadTarget(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if t.decision != nil {
		http.Redirect(w, r, itemPath(t.inputKey, t.doc), http.StatusSeeOther)
		return
	}
	ck := claimKey(t.inputKey, t.doc)
	holder, err := a.opts.Sessions.Claim(ctx, ck, s.Account, claimTTL)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	if holder != s.Account {
		rec := a.record(r, a.now(), s.Account, s.Role, s.Office)
		rec.AuthMethod, rec.Decision, rec.Rule, rec.Status, rec.Target = "session", audit.Deny, "review_claimed", http.StatusConflict, t.id()
		if err := a.audit(ctx, rec); err != nil {
			a.unavailable(w, r, err)
			return
		}
		iv := a.buildItem(t, s, nil, nil)
		iv.ClaimedByOther = true
		a.renderItem(w, http.StatusConflict, t, s, iv, "Tài liệu này đang được cán bộ khác kiểm tra: quyết định của bạn chưa được ghi nhận.", true)
		return
	}
	approve := r.PostForm.Get("action") == "approve"
	if !approve && r.PostForm.Get("action") != "reject" {
		a.fail(w, r, http.StatusBadRequest, "Yêu cầu không hợp lệ", "Hãy chọn Duyệt hoặc Từ chối.")
		return
	}
	entered := map[string]string{}
	for k, vs := range r.PostForm {
		if slug, ok := strings.CutPrefix(k, "f."); ok && len(vs) > 0 {
			entered[slug] = strings.TrimSpace(vs[0])
		}
	}
	ap := pipeline.Approval{InputKey: t.inputKey, Doc: t.doc, Approved: approve, By: s.Account,
		Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
	if approve {
		ap.Fields = a.corrections(t, entered)
		if o := strings.TrimSpace(r.PostForm.Get("override")); o != "" {
			ap.Override = strings.Split(o, ",")
		}
	}
	if !approve && ap.Reason == "" {
		iv := a.buildItem(t, s, entered, nil)
		iv.Errors = append(iv.Errors, "Hãy ghi lý do từ chối (người nộp hồ sơ và cán bộ quản lý sẽ đọc lý do này).")
		a.renderItem(w, http.StatusUnprocessableEntity, t, s, iv, "", false)
		return
	}
	err = a.opts.Pipeline.Decide(ctx, ap)
	var ve *pipeline.ValidationError
	switch {
	case errors.As(err, &ve):
		iv := a.buildItem(t, s, entered, ve)
		iv.RejectReason = ap.Reason
		a.renderItem(w, http.StatusUnprocessableEntity, t, s, iv, "Chưa duyệt được: hãy sửa các thông tin được đánh dấu rồi duyệt lại.", true)
		return
	case errors.Is(err, pipeline.ErrDecided):
		http.Redirect(w, r, itemPath(t.inputKey, t.doc), http.StatusSeeOther)
		return
	case errors.Is(err, pipeline.ErrNotForReview):
		iv := a.buildItem(t, s, entered, nil)
		iv.Errors = append(iv.Errors, "Tài liệu này không phải kết quả để cấp (ví dụ tờ khai, hoặc chưa rõ loại giấy tờ): chỉ có thể từ chối, kèm lý do.")
		a.renderItem(w, http.StatusUnprocessableEntity, t, s, iv, "", false)
		return
	case err != nil:
		a.unavailable(w, r, err)
		return
	}
	rule := "review_rejected"
	if approve {
		rule = "review_approved"
	}
	if err := a.auditAction(r, s, http.StatusSeeOther, rule, t.id()); err != nil {
		a.unavailable(w, r, err)
		return
	}
	if err := a.opts.Sessions.ReleaseClaim(ctx, ck, s.Account); err != nil {
		a.log.Warn("review: release claim", "target", t.id(), "err", err) // it lapses by itself
	}
	http.Redirect(w, r, itemPath(t.inputKey, t.doc), http.StatusSeeOther)
}

// corrections are the posted values that differ from what was read (or,
// for the procedure code and validity, from what would be used): only
// those are a person's corrections; the rest is confirmed as read.
func (a *App) corrections(t *reviewTarget, entered map[string]string) map[string]string {
	out := map[string]string{}
	for slug, v := range entered {
		var was string
		switch slug {
		case pipeline.FieldProcedureCode:
			was = a.defaultProcedure(t)
		case pipeline.FieldValidUntil:
			if t.d.ValidUntil != nil {
				was = *t.d.ValidUntil
			}
		case pipeline.FieldHolderID:
			was = t.d.HolderPersonalID
		default:
			f, read := t.d.Fields[slug]
			if !read && v == "" {
				continue // left empty: not given
			}
			was = f.Value
		}
		if v != was {
			out[slug] = v
		}
	}
	return out
}

// reviewClaim renews the caller's claim while the item page is open; it
// answers {"held": false} when another reviewer holds the item.
func (a *App) reviewClaim(w http.ResponseWriter, r *http.Request, s *signedIn) {
	input, doc, ok := itemOf(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	holder, err := a.opts.Sessions.Claim(r.Context(), claimKey(input, doc), s.Account, claimTTL)
	if err != nil {
		a.log.Error("review: claim", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"held": holder == s.Account})
}

// reviewRelease gives the item back to the queue (the reviewer left it).
func (a *App) reviewRelease(w http.ResponseWriter, r *http.Request, s *signedIn) {
	input, doc, ok := itemOf(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	r.ParseForm()
	if err := a.opts.Sessions.ReleaseClaim(r.Context(), claimKey(input, doc), s.Account); err != nil {
		a.log.Error("review: release claim", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "unavailable"})
		return
	}
	if r.PostForm.Get("next") == "queue" {
		http.Redirect(w, r, "/review", http.StatusSeeOther)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// reviewStatus is the decided item's state, polled by its page until the
// result is issued: {"state": "approved"|"issued"|"rejected"|"failed"|
// "pending", "result_code": …, "text": …}.
func (a *App) reviewStatus(w http.ResponseWriter, r *http.Request, s *signedIn) {
	if a.opts.Repo == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "unavailable"})
		return
	}
	input, doc, ok := itemOf(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	ap, code, err := pipeline.DocumentDecision(ctx, a.opts.Repo, input, doc)
	if err != nil {
		a.log.Error("review: status", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "unavailable"})
		return
	}
	out := map[string]any{"state": "pending"}
	switch {
	case ap == nil:
	case !ap.Approved:
		out["state"], out["text"] = "rejected", "Đã từ chối: không cấp kết quả điện tử."
	case code != "":
		out["state"], out["result_code"], out["text"] = "issued", code, "Đã cấp kết quả điện tử "+code+"."
	default:
		out["state"], out["text"] = "approved", "Đã duyệt, đang cấp kết quả điện tử…"
		if a.opts.Intake != nil {
			if st, err := a.opts.Intake.Status(ctx, input); err == nil && st.State == "quarantined" {
				out["state"], out["text"] = "failed", "Không cấp được kết quả điện tử cho tệp này; hãy báo cán bộ quản trị."
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func itemOf(r *http.Request) (string, int, bool) {
	input := r.PathValue("input")
	doc, err := strconv.Atoi(r.PathValue("doc"))
	return input, doc, err == nil && doc >= 0 && storage.ValidInputKey(input)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// reviewPageImage serves a page of an item's document as the recogniser
// saw it (straightened and turned upright), so the word boxes of the
// record fall on the words: the stored image as it is when the page
// needed no turning, else the stored image turned the same way. It is
// personal data: never cached.
func (a *App) reviewPageImage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	t, ok := a.loadTarget(w, r)
	if !ok {
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || !slices.Contains(t.d.Pages, n) {
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy trang", "Trang này không thuộc tài liệu đang kiểm tra.")
		return
	}
	var ref *pipeline.ImageRef
	for i := range t.rec.Images {
		if t.rec.Images[i].Page == n {
			ref = &t.rec.Images[i]
		}
	}
	var page *ocr.Page
	for i := range t.rec.Result.Pages {
		if t.rec.Result.Pages[i].Number == n {
			page = &t.rec.Result.Pages[i]
		}
	}
	if ref == nil || page == nil {
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy trang", "Hệ thống không lưu ảnh của trang này.")
		return
	}
	data, err := a.opts.Repo.Page(r.Context(), ref.Key)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	ctype := "image/png"
	if ref.Format == "jpeg" {
		ctype = "image/jpeg"
	}
	if page.Rotation != 0 || page.Skew != 0 {
		data, ctype, err = uprightPage(data, *page)
		if err != nil {
			a.unavailable(w, r, err)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", "inline")
	w.Write(data)
}

// uprightPage turns a stored page image the way the recogniser did
// (ocr/tesseract: deskew by page.Skew, then a quarter turn by
// page.Rotation), in grey.
func uprightPage(data []byte, page ocr.Page) ([]byte, string, error) {
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("decode page %d: %w", page.Number, err)
	}
	g := ocr.Grayscale(img)
	if page.Skew != 0 {
		g = ocr.Rotate(g, page.Skew)
	}
	g = ocr.RotateQuarter(g, page.Rotation)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: 85}); err != nil {
		return nil, "", fmt.Errorf("encode page %d: %w", page.Number, err)
	}
	return buf.Bytes(), "image/jpeg", nil
}
