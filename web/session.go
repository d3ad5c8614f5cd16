package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"sohoa/audit"
	"sohoa/pipeline"
)

// Cookies. With Secure they carry the __Host- prefix: the browser then
// keeps them only if they are Secure, for this host alone, on path /.
const (
	sessionCookie = "sohoa-session"
	signinCookie  = "sohoa-signin" // the sign-in form's anti-forgery token, before there is a session
	csrfHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// secureRequest: the browser reached us over TLS, directly or through the
// office's proxy (PublicURL https).
func (a *App) secureRequest(r *http.Request) bool { return a.secure || r.TLS != nil }

func (a *App) cookieName(r *http.Request, base string) string {
	if a.secureRequest(r) {
		return "__Host-" + base
	}
	return base
}

func (a *App) setCookie(w http.ResponseWriter, r *http.Request, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secureRequest(r), SameSite: http.SameSiteStrictMode,
	})
}

// signedIn is a valid session.
type signedIn struct {
	Session
	key string // the store's key of the session
}

// Reasons a request has no session; each is errSignedOut.
var (
	errSignedOut = errors.New("signed out")
	errNoCookie  = fmt.Errorf("%w: no session cookie", errSignedOut)
	errExpired   = fmt.Errorf("%w: session expired", errSignedOut)
	errEnded     = fmt.Errorf("%w: session ended (account changed or disabled)", errSignedOut)
)

// authenticate returns the request's session, or an error wrapping
// errSignedOut when it has none (other errors: the store or the
// repository failed). It enforces the idle timeout, the absolute lifetime
// and the account check, and records the request as activity.
func (a *App) authenticate(ctx context.Context, r *http.Request) (*signedIn, error) {
	c, err := r.Cookie(a.cookieName(r, sessionCookie))
	if err != nil || !validToken(c.Value) {
		return nil, errNoCookie
	}
	key := sessionKey(c.Value)
	s, err := a.opts.Sessions.Session(ctx, key)
	if errors.Is(err, ErrNoSession) {
		return nil, errExpired
	}
	if err != nil {
		return nil, err
	}
	now := a.now()
	if now.Sub(s.Created) >= a.opts.MaxLifetime || now.Sub(s.Seen) >= a.opts.IdleTimeout {
		if err := a.opts.Sessions.DeleteSession(ctx, key); err != nil {
			return nil, err
		}
		return nil, errExpired
	}
	dirty := false
	if now.Sub(s.Checked) >= a.opts.Recheck {
		acct, err := a.opts.Accounts.ByID(ctx, s.Account)
		if errors.Is(err, ErrNoAccount) || err == nil && (acct.Disabled || acct.Version != s.Version) {
			if err := a.opts.Sessions.DeleteSession(ctx, key); err != nil {
				return nil, err
			}
			return nil, errEnded
		}
		if err != nil {
			return nil, err
		}
		s.Checked, dirty = now, true
	}
	if now.Sub(s.Seen) >= a.touchEvery() {
		s.Seen, dirty = now, true
	}
	if dirty {
		err := a.opts.Sessions.UpdateSession(ctx, key, s, a.ttl(s, now))
		if errors.Is(err, ErrNoSession) {
			return nil, errExpired // signed out by another process meanwhile
		}
		if err != nil {
			return nil, err
		}
	}
	return &signedIn{Session: s, key: key}, nil
}

// touchEvery is how stale Seen may get before a request rewrites it: a
// tenth of the idle timeout, so polling pages do not write on every call.
func (a *App) touchEvery() time.Duration { return min(a.opts.IdleTimeout/10, time.Minute) }

// ttl is how long the store keeps a session: the idle timeout, never past
// the absolute lifetime.
func (a *App) ttl(s Session, now time.Time) time.Duration {
	return max(time.Second, min(a.opts.IdleTimeout, s.Created.Add(a.opts.MaxLifetime).Sub(now)))
}

// clearSession drops a stale session cookie.
func (a *App) clearSession(w http.ResponseWriter, r *http.Request, why error) {
	if !errors.Is(why, errNoCookie) {
		a.setCookie(w, r, sessionCookie, "", -1)
	}
}

func (a *App) signedOutNotice(why error) string {
	switch {
	case errors.Is(why, errExpired):
		return "Phiên làm việc đã hết hạn hoặc đã đăng xuất. Vui lòng đăng nhập lại."
	case errors.Is(why, errEnded):
		return "Phiên làm việc đã kết thúc do tài khoản vừa được thay đổi. Vui lòng đăng nhập lại."
	}
	return ""
}

// Authorize is pipeline.Intake's hook: it accepts a request of a signed-in
// counter clerk, and for a state-changing request only with the session's
// CSRF token in the X-CSRF-Token header and from this site; a session of
// another role, or without its token, is refused with
// pipeline.ErrForbidden (403, audited as a page would be). The caller is
// "staff:" and the account ID, with the clerk's account and office (the
// uploads and batches carry them) and an audit hook: what the intake
// allows or refuses the session is recorded as the app's own actions are.
func (a *App) Authorize(r *http.Request) (pipeline.Caller, error) {
	start := a.now()
	s, err := a.authenticate(r.Context(), r)
	if err != nil {
		if !errors.Is(err, errSignedOut) {
			a.log.Error("web: authorize", "endpoint", r.Pattern, "err", err)
		}
		return pipeline.Caller{}, err
	}
	record := func(ctx context.Context, decision string, status int, rule, target string) error {
		rec := a.record(r, start, s.Account, s.Role, s.Office)
		rec.AuthMethod = "session"
		rec.Decision, rec.Rule, rec.Status, rec.Target = decision, rule, status, target
		return a.audit(ctx, rec)
	}
	refuse := func(rule string) (pipeline.Caller, error) {
		if err := record(r.Context(), audit.Deny, http.StatusForbidden, rule, ""); err != nil {
			return pipeline.Caller{}, err // 401: nothing is done unaudited
		}
		return pipeline.Caller{}, fmt.Errorf("%s: %w", rule, pipeline.ErrForbidden)
	}
	if s.Role != RoleCounter {
		return refuse("role_forbidden")
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if a.cop.Check(r) != nil {
			return refuse("cross_origin")
		}
		if !sameToken(r.Header.Get(csrfHeader), s.CSRF) {
			return refuse("csrf_missing")
		}
	}
	return pipeline.Caller{
		ID: "staff:" + s.Account, Staff: s.Account, Office: s.Office,
		Audit: func(ctx context.Context, allowed bool, status int, rule, target string) error {
			d := audit.Deny
			if allowed {
				d = audit.Allow
			}
			return record(ctx, d, status, rule, target)
		},
	}, nil
}

// SessionRole authenticates r by its staff session cookie (for another
// listener of the same host, such as the operations listener: browsers send
// a host's cookies to all its ports) and returns the member of staff's
// role; "" when signed out. Only a failing session store is an error.
func (a *App) SessionRole(r *http.Request) (Role, error) {
	s, err := a.authenticate(r.Context(), r)
	switch {
	case errors.Is(err, errSignedOut):
		return "", nil
	case err != nil:
		return "", err
	}
	return s.Role, nil
}

// ---- sign-in and sign-out ----

func (a *App) signinPage(w http.ResponseWriter, r *http.Request) {
	s, err := a.authenticate(r.Context(), r)
	switch {
	case err == nil && s != nil:
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	case !errors.Is(err, errSignedOut):
		a.unavailable(w, r, err)
		return
	}
	a.clearSession(w, r, err)
	notice := a.signedOutNotice(err)
	if r.URL.Query().Get("out") == "1" {
		notice = "Bạn đã đăng xuất."
	}
	a.renderSignin(w, r, http.StatusOK, r.URL.Query().Get("next"), notice, false)
}

// renderSignin shows the sign-in form with its anti-forgery token: the
// browser's signin cookie when it has a valid one, else a new one.
func (a *App) renderSignin(w http.ResponseWriter, r *http.Request, status int, next, notice string, warning bool) {
	tok := ""
	if c, err := r.Cookie(a.cookieName(r, signinCookie)); err == nil && validToken(c.Value) {
		tok = c.Value
	} else {
		tok = newToken()
		a.setCookie(w, r, signinCookie, tok, int((2 * time.Hour).Seconds()))
	}
	a.render(w, status, "signin", view{Title: "Đăng nhập", CSRF: tok, Notice: notice, Warning: warning,
		Data: struct{ Next, OIDCLabel string }{safeNext(next), a.oidcLabel()}})
}

// signin checks a user name and password. Refused: a form without its
// anti-forgery token (403), an account locked after too many failures
// (429, even with the right password), a wrong user name or password
// (401, one message for both), a disabled account (403). Each attempt is
// audited before the answer; if it cannot be, the answer is 503.
func (a *App) signin(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, http.StatusBadRequest, "Yêu cầu không hợp lệ", "Biểu mẫu gửi lên không đọc được. Hãy tải lại trang và thử lại.")
		return
	}
	ctx := r.Context()
	user, next := r.PostForm.Get("user"), r.PostForm.Get("next")
	id := a.opts.Accounts.ID(user)
	rec := a.record(r, start, id, "", "")
	rec.AuthMethod = "password"
	deny := func(status int, rule string) error {
		rec.Decision, rec.Rule, rec.Status = audit.Deny, rule, status
		return a.audit(ctx, rec)
	}

	c, err := r.Cookie(a.cookieName(r, signinCookie))
	if err != nil || !validToken(c.Value) || !sameToken(r.PostForm.Get(csrfField), c.Value) {
		if err := deny(http.StatusForbidden, "csrf_missing"); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.renderSignin(w, r, http.StatusForbidden, next, "Biểu mẫu đăng nhập đã hết hạn hoặc không hợp lệ. Vui lòng nhập lại.", true)
		return
	}

	until, err := a.opts.Sessions.LockedUntil(ctx, id)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	if start.Before(until) {
		if err := deny(http.StatusTooManyRequests, "locked"); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.renderSignin(w, r, http.StatusTooManyRequests, next, lockedNotice(until.Sub(start)), true)
		return
	}

	acct, err := a.opts.Accounts.Verify(ctx, user, r.PostForm.Get("password"))
	switch {
	case errors.Is(err, ErrNoAccount), errors.Is(err, ErrBadPassword):
		rule := "bad_password"
		if errors.Is(err, ErrNoAccount) {
			rule = "unknown_account"
		}
		n, ferr := a.opts.Sessions.AddFailure(ctx, id, a.opts.Lockout)
		if ferr != nil {
			a.unavailable(w, r, ferr)
			return
		}
		if n >= int64(a.opts.MaxFailures) {
			until := start.Add(a.opts.Lockout)
			if err := a.opts.Sessions.Lock(ctx, id, until, a.opts.Lockout); err != nil {
				a.unavailable(w, r, err)
				return
			}
			if err := a.opts.Sessions.ClearFailures(ctx, id); err != nil {
				a.unavailable(w, r, err)
				return
			}
			if err := deny(http.StatusTooManyRequests, "lockout:"+rule); err != nil {
				a.unavailable(w, r, err)
				return
			}
			a.renderSignin(w, r, http.StatusTooManyRequests, next, lockedNotice(a.opts.Lockout), true)
			return
		}
		if err := deny(http.StatusUnauthorized, rule); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.renderSignin(w, r, http.StatusUnauthorized, next, "Tên đăng nhập hoặc mật khẩu không đúng.", true)
		return
	case errors.Is(err, ErrDisabled):
		rec.StaffRole, rec.Office = string(acct.Role), acct.Office
		if err := deny(http.StatusForbidden, "disabled"); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.renderSignin(w, r, http.StatusForbidden, next, "Tài khoản này đã ngừng hoạt động. Liên hệ cán bộ quản lý nếu cần mở lại.", true)
		return
	case err != nil:
		a.unavailable(w, r, err)
		return
	}

	if err := a.opts.Sessions.ClearFailures(ctx, id); err != nil {
		a.unavailable(w, r, err)
		return
	}
	rec.Status = http.StatusSeeOther
	cookie, err := a.startSession(ctx, acct, start, rec)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.setCookie(w, r, sessionCookie, cookie, 0)
	a.setCookie(w, r, signinCookie, "", -1)
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

// startSession makes the session of a member of staff who just proved who
// they are (password or single sign-on) and audits the sign-in (rec, with
// its AuthMethod and Status), and returns the session cookie's value. A
// session that cannot be audited is taken back.
func (a *App) startSession(ctx context.Context, acct Account, start time.Time, rec audit.Record) (string, error) {
	cookie := newToken()
	s := Session{Account: acct.ID, Role: acct.Role, Office: acct.Office, Version: acct.Version, CSRF: newToken(),
		Created: start, Seen: start, Checked: start}
	key := sessionKey(cookie)
	if err := a.opts.Sessions.CreateSession(ctx, key, s, a.ttl(s, start)); err != nil {
		return "", err
	}
	rec.Staff, rec.StaffRole, rec.Office = acct.ID, string(acct.Role), acct.Office
	rec.Decision, rec.Rule = audit.Allow, "signed_in"
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	if err := a.audit(ctx, rec); err != nil {
		// No unaudited session: take it back.
		a.opts.Sessions.DeleteSession(context.WithoutCancel(ctx), key)
		return "", err
	}
	return cookie, nil
}

func lockedNotice(left time.Duration) string {
	mins := int((left + time.Minute - 1) / time.Minute)
	return "Tài khoản tạm thời bị khóa do nhập sai mật khẩu nhiều lần. Vui lòng thử lại sau " + strconv.Itoa(max(mins, 1)) +
		" phút, hoặc liên hệ cán bộ quản lý."
}

// signout ends the session (in every process: it is deleted from the
// store) and clears the cookie. It needs the session's CSRF token.
func (a *App) signout(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	s, err := a.authenticate(r.Context(), r)
	switch {
	case errors.Is(err, errSignedOut):
		a.clearSession(w, r, err)
		http.Redirect(w, r, "/signin?out=1", http.StatusSeeOther)
		return
	case err != nil:
		a.unavailable(w, r, err)
		return
	}
	rec := a.record(r, start, s.Account, s.Role, s.Office)
	rec.AuthMethod = "session"
	if err := r.ParseForm(); err != nil || !sameToken(r.PostForm.Get(csrfField), s.CSRF) {
		rec.Decision, rec.Rule, rec.Status = audit.Deny, "csrf_missing", http.StatusForbidden
		if err := a.audit(r.Context(), rec); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.fail(w, r, http.StatusForbidden, "Yêu cầu không hợp lệ", "Biểu mẫu thiếu mã xác thực hoặc đã hết hạn. Hãy tải lại trang và thử lại.")
		return
	}
	if err := a.opts.Sessions.DeleteSession(r.Context(), s.key); err != nil {
		a.unavailable(w, r, err)
		return
	}
	rec.Decision, rec.Rule, rec.Status = audit.Allow, "signed_out", http.StatusSeeOther
	if err := a.audit(r.Context(), rec); err != nil {
		a.unavailable(w, r, err) // signed out all the same
		return
	}
	a.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/signin?out=1", http.StatusSeeOther)
}

// ---- audit ----

// record starts the audit record of a staff request.
func (a *App) record(r *http.Request, start time.Time, account string, role Role, office string) audit.Record {
	return audit.Record{Time: start, RequestID: newRequestID(), ClientID: "web", Method: r.Method, Endpoint: r.Pattern,
		Staff: account, StaffRole: string(role), Office: office}
}

// audit stores rec (a caller that hung up still gets its record) and logs
// one line: IDs and outcome, never a user name or a password.
func (a *App) audit(ctx context.Context, rec audit.Record) error {
	rec.LatencyUS = a.now().Sub(rec.Time).Microseconds()
	if _, err := a.opts.Audit.Append(context.WithoutCancel(ctx), rec); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	a.log.Info("staff", "request_id", rec.RequestID, "endpoint", rec.Endpoint, "staff", rec.Staff, "role", rec.StaffRole,
		"office", rec.Office, "status", rec.Status, "decision", rec.Decision, "rule", rec.Rule)
	return nil
}
