package web

import (
	"errors"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"

	"sohoa/audit"
)

// staffHandler serves a signed-in member of staff whose role may open the
// page.
type staffHandler func(w http.ResponseWriter, r *http.Request, s *signedIn)

// staff wraps a page or action for the given roles:
//   - signed out: a GET goes to sign in first (and comes back), anything
//     else answers 401 with the sign-in page;
//   - a role not listed: 403, audited;
//   - a state-changing request without the session's CSRF token (form
//     field csrf, or the X-CSRF-Token header for scripts of the page):
//     403, audited. Cross-site requests were refused before (the
//     CrossOriginProtection in Handler).
//
// The wrapped handler audits what it does itself (a.auditAction).
func (a *App) staff(roles []Role, h staffHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := a.now()
		s, err := a.authenticate(r.Context(), r)
		switch {
		case errors.Is(err, errSignedOut):
			a.clearSession(w, r, err)
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			a.renderSignin(w, r, http.StatusUnauthorized, "", a.signedOutNotice(err), true)
			return
		case err != nil:
			a.unavailable(w, r, err)
			return
		}
		deny := func(status int, rule, title, text string) {
			rec := a.record(r, start, s.Account, s.Role, s.Office)
			rec.AuthMethod = "session"
			rec.Decision, rec.Rule, rec.Status = audit.Deny, rule, status
			if err := a.audit(r.Context(), rec); err != nil {
				a.unavailable(w, r, err)
				return
			}
			a.fail(w, r, status, title, text)
		}
		if !slices.Contains(roles, s.Role) {
			deny(http.StatusForbidden, "role_forbidden", "Không có quyền truy cập",
				"Vai trò "+s.Role.Label()+" không được mở trang này. Nếu cần, hãy đề nghị cán bộ quản lý cấp quyền.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get(csrfHeader)
			if tok == "" {
				r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
				if err := r.ParseForm(); err == nil {
					tok = r.PostForm.Get(csrfField)
				}
			}
			if !sameToken(tok, s.CSRF) {
				deny(http.StatusForbidden, "csrf_missing", "Yêu cầu không hợp lệ",
					"Biểu mẫu thiếu mã xác thực hoặc đã hết hạn. Hãy tải lại trang và thử lại.")
				return
			}
		}
		h(w, r, s)
	}
}

// maxFormBytes bounds a form a page posts.
const maxFormBytes = 64 << 10

// auditAction records what a member of staff did (rule names the action,
// e.g. "review_approved"), before the answer: an action that cannot be
// audited is not answered as done. target is an ID of what was acted on
// that is not personal data (an input key, a result code).
func (a *App) auditAction(r *http.Request, s *signedIn, status int, rule, target string) error {
	rec := a.record(r, a.now(), s.Account, s.Role, s.Office)
	rec.AuthMethod = "session"
	rec.Decision, rec.Rule, rec.Status = audit.Allow, rule, status
	rec.Target = target
	return a.audit(r.Context(), rec)
}

// templateFuncs are the functions every page template may use: each part
// of the app brings its own.
func templateFuncs() template.FuncMap {
	m := template.FuncMap{}
	for _, f := range []template.FuncMap{intakeFuncs(), reviewFuncs(), resultFuncs(), reportFuncs()} {
		maps.Copy(m, f)
	}
	return m
}
