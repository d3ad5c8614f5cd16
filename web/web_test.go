package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/internal/testenv"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// env is one deployment under test: a repository, a shared session store,
// an audit log and a clock; app makes a serve process's web app on them.
type env struct {
	t     *testing.T
	clk   *clock
	repo  *storage.Repository
	store *memStore
	audit *memAudit
	logs  *testenv.Buffer
	accts *Accounts
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := newClock()
	repo, _ := newRepo(t)
	e := &env{t: t, clk: clk, repo: repo, store: newMemStore(clk.Now), audit: &memAudit{}, logs: &testenv.Buffer{}}
	e.accts = newAccounts(t, repo, e.store, clk.Now)
	return e
}

// user makes an account; its password is the user name doubled.
func (e *env) user(name string, role Role) string {
	e.t.Helper()
	pw := name + "-" + name + "-pw"
	if _, err := e.accts.Create(context.Background(), name, "Cán bộ "+name, role, "000.00.31.H29", pw, "cli"); err != nil {
		e.t.Fatal(err)
	}
	return pw
}

func (e *env) app(mod func(*Options)) *httptest.Server {
	e.t.Helper()
	opts := Options{Accounts: e.accts, Sessions: e.store, Audit: e.audit, Now: e.clk.Now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), AgencyName: "UBND phường thử nghiệm",
		ReasonTexts: map[string]string{"dossier_code_taken": "mã hồ sơ đã được dùng cho hồ sơ khác"}}
	if mod != nil {
		mod(&opts)
	}
	app, err := New(opts)
	if err != nil {
		e.t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	e.t.Cleanup(srv.Close)
	return srv
}

// rules lists the audit records' rules, in order.
func (e *env) rules() []string {
	var rs []string
	for _, r := range e.audit.records() {
		rs = append(rs, r.Rule)
	}
	return rs
}

// browser keeps cookies the way a browser does for one site, follows no
// redirect, and marks its requests same-origin (Sec-Fetch-Site).
type browser struct {
	t       *testing.T
	base    string
	client  *http.Client
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, base: srv.URL, client: c, cookies: map[string]*http.Cookie{}}
}

// on points the browser (and its cookies) at another server of the same
// deployment: another serve process behind the same address.
func (b *browser) on(srv *httptest.Server) *browser {
	nb := newBrowser(b.t, srv)
	nb.cookies = b.cookies
	return nb
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	if _, set := req.Header["Sec-Fetch-Site"]; !set && req.Method != "GET" {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	} else if req.Header.Get("Sec-Fetch-Site") == "" {
		req.Header.Del("Sec-Fetch-Site") // an older browser: Origin only
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the anti-forgery token of the page body.
func csrf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no csrf field:\n%s", body)
	}
	return m[1]
}

// signin opens the sign-in page and submits it.
func (b *browser) signin(user, pw string) (*http.Response, string) {
	b.t.Helper()
	_, page := b.get("/signin")
	return b.post("/signin", url.Values{"csrf": {csrf(b.t, page)}, "user": {user}, "password": {pw}, "next": {"/"}})
}

func wantStatus(t *testing.T, what string, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d", what, resp.StatusCode, want)
	}
}

func TestSignedOutVisitorGetsTheSigninPage(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e.app(nil))
	resp, body := b.get("/")
	wantStatus(t, "GET /", resp, 200)
	for _, want := range []string{`<html lang="vi">`, "<h1>Đăng nhập</h1>", "Tên đăng nhập", "Mật khẩu", `action="/signin"`, `name="csrf"`} {
		if !strings.Contains(body, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	for h, want := range map[string]string{"Content-Type": "text/html; charset=utf-8", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q: want scripts from self only", csp)
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Error("sign-in page has inline script or style, which the CSP refuses")
	}
	resp, _ = b.get("/review")
	wantStatus(t, "GET /review signed out", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/signin?next=%2Freview" {
		t.Errorf("redirect to %q", loc)
	}
	resp, body = b.get("/nope")
	if resp.StatusCode != 404 || !strings.Contains(body, "Không tìm thấy trang") {
		t.Errorf("unknown page: %d", resp.StatusCode)
	}
	resp, body = b.get("/static/app.css")
	if resp.StatusCode != 200 || !strings.Contains(body, "font-family") {
		t.Errorf("static css: %d", resp.StatusCode)
	}
	if resp, _ := b.get("/static/"); resp.StatusCode != 404 {
		t.Errorf("static folder listing: %d, want 404", resp.StatusCode)
	}
}

// TestFormsWithoutCSRFToken: every form POST needs its anti-forgery
// token (403 without), and a POST from another site is refused whatever
// it carries.
func TestFormsWithoutCSRFToken(t *testing.T) {
	e := newEnv(t)
	pw := e.user("quay1", RoleCounter)
	srv := e.app(nil)
	b := newBrowser(t, srv)
	_, page := b.get("/signin")
	tok := csrf(t, page)
	creds := url.Values{"user": {"quay1"}, "password": {pw}}

	resp, body := b.post("/signin", creds)
	wantStatus(t, "sign-in without its token", resp, http.StatusForbidden)
	if !strings.Contains(body, "Biểu mẫu đăng nhập đã hết hạn hoặc không hợp lệ") {
		t.Error("no Vietnamese explanation of the refused form")
	}
	resp, _ = b.post("/signin", url.Values{"csrf": {otherToken(tok)}, "user": {"quay1"}, "password": {pw}})
	wantStatus(t, "sign-in with a wrong token", resp, http.StatusForbidden)
	fresh := newBrowser(t, srv) // has the token but not its cookie
	resp, _ = fresh.post("/signin", url.Values{"csrf": {tok}, "user": {"quay1"}, "password": {pw}})
	wantStatus(t, "sign-in token without its cookie", resp, http.StatusForbidden)
	resp, _ = b.post("/signin", url.Values{"csrf": {tok}, "user": {"quay1"}, "password": {pw}}, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, "sign-in from another site", resp, http.StatusForbidden)
	resp, _ = b.post("/signin", url.Values{"csrf": {tok}, "user": {"quay1"}, "password": {pw}}, "Sec-Fetch-Site", "", "Origin", "http://evil.example")
	wantStatus(t, "sign-in with a foreign Origin", resp, http.StatusForbidden)

	resp, page = b.post("/signin", url.Values{"csrf": {tok}, "user": {"quay1"}, "password": {pw}})
	wantStatus(t, "sign-in", resp, http.StatusSeeOther)
	_, page = b.get("/")
	resp, _ = b.post("/signout", nil)
	wantStatus(t, "sign-out without its token", resp, http.StatusForbidden)
	if resp, _ := b.get("/"); resp.StatusCode != 200 {
		t.Fatal("signed out by a forged sign-out")
	}
	if _, body := b.get("/"); !strings.Contains(body, "Tiếp nhận bản quét") {
		t.Error("a sign-out without its token signed the clerk out")
	}
	resp, _ = b.post("/signout", url.Values{"csrf": {tok}}) // the sign-in form's token is not the session's
	wantStatus(t, "sign-out with the sign-in token", resp, http.StatusForbidden)
	resp, _ = b.post("/signout", url.Values{"csrf": {csrf(t, page)}})
	wantStatus(t, "sign-out", resp, http.StatusSeeOther)

	want := []string{"csrf_missing", "csrf_missing", "csrf_missing", "signed_in", "csrf_missing", "csrf_missing", "signed_out"}
	if got := e.rules(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("audit rules %v, want %v (the cross-site posts never reach the handler)", got, want)
	}
}

func TestRolesAndPages(t *testing.T) {
	e := newEnv(t)
	pws := map[Role]string{RoleCounter: e.user("quay1", RoleCounter), RoleReviewer: e.user("kiemtra1", RoleReviewer), RoleSupervisor: e.user("quanly1", RoleSupervisor)}
	users := map[Role]string{RoleCounter: "quay1", RoleReviewer: "kiemtra1", RoleSupervisor: "quanly1"}
	srv := e.app(func(o *Options) { o.Repo = e.repo }) // the reports read it
	pages := []struct {
		path string
		ok   map[Role]bool
	}{
		{"/review", map[Role]bool{RoleReviewer: true, RoleSupervisor: true}},
		{"/results", map[Role]bool{RoleSupervisor: true}},
		{"/reports", map[Role]bool{RoleSupervisor: true}},
		{"/users", map[Role]bool{RoleSupervisor: true}},
	}
	for _, role := range Roles() {
		t.Run(string(role), func(t *testing.T) {
			b := newBrowser(t, srv)
			resp, _ := b.signin(users[role], pws[role])
			wantStatus(t, "sign-in", resp, http.StatusSeeOther)
			resp, home := b.get("/")
			wantStatus(t, "home", resp, 200)
			if !strings.Contains(home, role.Label()) || !strings.Contains(home, "Đăng xuất") || !strings.Contains(home, "000.00.31.H29") {
				t.Errorf("home page does not name the role %q, the office and sign-out", role.Label())
			}
			if role == RoleCounter {
				if !strings.Contains(home, "Tiếp nhận bản quét hồ sơ") || !strings.Contains(home, `<meta name="csrf-token" content="`) ||
					!strings.Contains(home, "/static/upload.js") || strings.Contains(home, "Mã truy cập") {
					t.Error("counter home is not the upload page with the session's CSRF token (and no access-token field)")
				}
				if !strings.Contains(home, `"dossier_code_taken":"mã hồ sơ đã được dùng cho hồ sơ khác"`) {
					t.Error("upload page lacks the reason texts it was given")
				}
			} else if !strings.Contains(home, "Xin chào, Cán bộ "+users[role]) {
				t.Error("home page does not greet by name")
			}
			for _, p := range pages {
				resp, body := b.get(p.path)
				want := http.StatusForbidden
				if p.ok[role] {
					want = 200
				}
				if resp.StatusCode != want {
					t.Errorf("%s as %s: %d, want %d", p.path, role, resp.StatusCode, want)
				}
				if want == 403 && !strings.Contains(body, "Không có quyền truy cập") {
					t.Errorf("%s as %s: 403 page not in Vietnamese", p.path, role)
				}
				if want == 200 && !strings.Contains(home, `href="`+p.path+`"`) {
					t.Errorf("%s's home does not link %s", role, p.path)
				}
				if want == 403 && strings.Contains(home, `href="`+p.path+`"`) {
					t.Errorf("%s's home links %s, which it may not open", role, p.path)
				}
			}
		})
	}
	// Refusals are audited under the account, with role and office.
	n := 0
	for _, r := range e.audit.records() {
		if r.Rule == "role_forbidden" {
			n++
			if r.Staff == "" || r.StaffRole == "" || r.Office != "000.00.31.H29" || r.Decision != audit.Deny || r.Endpoint == "" {
				t.Errorf("refusal record %+v", r)
			}
		}
		if r.Rule == "signed_in" && (r.Staff != e.accts.ID(users[Role(r.StaffRole)]) || r.Status != 303 || r.AuthMethod != "password") {
			t.Errorf("sign-in record %+v", r)
		}
	}
	if n != 4+3 {
		t.Errorf("%d refusals audited, want 7", n)
	}
}

func TestSigninNextStaysOnSite(t *testing.T) {
	e := newEnv(t)
	pw := e.user("kiemtra1", RoleReviewer)
	b := newBrowser(t, e.app(nil))
	_, page := b.get("/signin?next=/review")
	resp, _ := b.post("/signin", url.Values{"csrf": {csrf(t, page)}, "user": {"kiemtra1"}, "password": {pw}, "next": {"/review"}})
	if loc := resp.Header.Get("Location"); loc != "/review" {
		t.Errorf("after sign-in to /review: Location %q", loc)
	}
	for next, want := range map[string]string{"": "/", "/review": "/review", "//evil.example/x": "/", "https://evil.example/": "/",
		"/\\evil.example": "/", "review": "/", "/a\nb": "/", "/results?x=1": "/results?x=1"} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestWrongPasswordsLockTheAccount(t *testing.T) {
	e := newEnv(t)
	pw := e.user("quay1", RoleCounter)
	srv := e.app(nil)
	b := newBrowser(t, srv)
	resp, body := b.signin("quay1", "sai-mat-khau-roi")
	wantStatus(t, "wrong password", resp, http.StatusUnauthorized)
	if !strings.Contains(body, "Tên đăng nhập hoặc mật khẩu không đúng.") {
		t.Error("no Vietnamese message for a wrong password")
	}
	resp, body2 := b.signin("khong.co.ai", pw)
	wantStatus(t, "unknown user", resp, http.StatusUnauthorized)
	if strings.Count(body, "không đúng") != strings.Count(body2, "không đúng") {
		t.Error("an unknown user and a wrong password answer differently")
	}
	// Failures are counted per account across processes: the next eight
	// go to a second process.
	other := b.on(e.app(nil))
	for i := 2; i <= 9; i++ {
		resp, _ := other.signin("QUAY1", "sai-mat-khau-roi")
		wantStatus(t, "wrong password", resp, http.StatusUnauthorized)
	}
	resp, body = b.signin("quay1", "sai-mat-khau-roi")
	wantStatus(t, "10th wrong password", resp, http.StatusTooManyRequests)
	if !strings.Contains(body, "Tài khoản tạm thời bị khóa do nhập sai mật khẩu nhiều lần. Vui lòng thử lại sau 15 phút") {
		t.Errorf("no Vietnamese lockout message:\n%s", body)
	}
	e.clk.Add(14 * time.Minute)
	resp, body = other.signin("quay1", pw)
	wantStatus(t, "right password while locked", resp, http.StatusTooManyRequests)
	if !strings.Contains(body, "thử lại sau 1 phút") {
		t.Error("lockout message does not count down")
	}
	e.clk.Add(time.Minute + time.Second)
	resp, _ = b.signin("quay1", pw)
	wantStatus(t, "right password after the lockout", resp, http.StatusSeeOther)
	// A success clears the count: nine more failures do not lock.
	b2 := newBrowser(t, srv)
	for range 9 {
		b2.signin("quay1", "sai-mat-khau-roi")
	}
	resp, _ = b2.signin("quay1", pw)
	wantStatus(t, "after nine new failures", resp, http.StatusSeeOther)

	rules := strings.Join(e.rules(), " ")
	want := "bad_password unknown_account " + strings.Repeat("bad_password ", 8) + "lockout:bad_password locked signed_in " +
		strings.Repeat("bad_password ", 9) + "signed_in"
	if rules != want {
		t.Errorf("audit rules\n%s\nwant\n%s", rules, want)
	}
	for _, r := range e.audit.records() {
		if r.Rule == "unknown_account" {
			if r.Staff != e.accts.ID("khong.co.ai") || r.StaffRole != "" {
				t.Errorf("unknown-account record %+v: want the keyed ID of the name typed, no role", r)
			}
		} else if r.Staff != e.accts.ID("quay1") {
			t.Errorf("record %s names staff %s, want %s", r.Rule, r.Staff, e.accts.ID("quay1"))
		}
	}
}

// TestSignoutEndsTheSessionEverywhere: a cookie used after sign-out is
// refused, also by another serve process on the same store.
func TestSignoutEndsTheSessionEverywhere(t *testing.T) {
	e := newEnv(t)
	pw := e.user("quay1", RoleCounter)
	one, two := e.app(nil), e.app(nil)
	b := newBrowser(t, one)
	b.signin("quay1", pw)
	stolen := map[string]*http.Cookie{}
	for k, v := range b.cookies {
		stolen[k] = v
	}
	b2 := b.on(two)
	if _, body := b2.get("/"); !strings.Contains(body, "Tiếp nhận bản quét") {
		t.Fatal("the session does not work in the second process")
	}
	_, page := b.get("/")
	resp, _ := b.post("/signout", url.Values{"csrf": {csrf(t, page)}})
	wantStatus(t, "sign-out", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/signin?out=1" {
		t.Errorf("sign-out goes to %q", loc)
	}
	if _, ok := b.cookies[sessionCookie]; ok {
		t.Error("sign-out did not clear the cookie")
	}
	replay := newBrowser(t, two)
	replay.cookies = stolen
	resp, body := replay.get("/")
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>Đăng nhập</h1>") || !strings.Contains(body, "Phiên làm việc đã hết hạn hoặc đã đăng xuất") {
		t.Errorf("old cookie at the second process: %d, want the sign-in page", resp.StatusCode)
	}
	replay.cookies = stolen
	if resp, _ := replay.get("/review"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("old cookie on a page: %d, want 303 to sign in", resp.StatusCode)
	}
}

func TestDisabledAccountsSessionEnds(t *testing.T) {
	t.Run("at once", func(t *testing.T) {
		e := newEnv(t)
		pw := e.user("kiemtra1", RoleReviewer)
		b := newBrowser(t, e.app(nil))
		b.signin("kiemtra1", pw)
		b2 := b.on(e.app(nil))
		if resp, _ := b2.get("/review"); resp.StatusCode != 200 {
			t.Fatal("not signed in")
		}
		if _, err := e.accts.Disable(context.Background(), "kiemtra1", "cli"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := b2.get("/review"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("disabled account's session: %d, want 303 to sign in", resp.StatusCode)
		}
		resp, body := b.signin("kiemtra1", pw)
		wantStatus(t, "disabled account signs in", resp, http.StatusForbidden)
		if !strings.Contains(body, "Tài khoản này đã ngừng hoạt động") {
			t.Error("no Vietnamese message for a disabled account")
		}
	})
	// Without the session store (Redis down when the account changed),
	// the session ends at its next account check.
	t.Run("at the next check", func(t *testing.T) {
		e := newEnv(t)
		pw := e.user("kiemtra1", RoleReviewer)
		b := newBrowser(t, e.app(nil))
		b.signin("kiemtra1", pw)
		cli := newAccounts(t, e.repo, nil, e.clk.Now)
		if _, err := cli.Disable(context.Background(), "kiemtra1", "cli"); err != nil {
			t.Fatal(err)
		}
		if resp, _ := b.get("/review"); resp.StatusCode != 200 {
			t.Fatal("session ended before its check")
		}
		e.clk.Add(time.Minute)
		resp, _ := b.get("/review")
		wantStatus(t, "after the check", resp, http.StatusSeeOther)
		resp, body := b.get("/")
		if !strings.Contains(body, "<h1>Đăng nhập</h1>") {
			t.Errorf("after the check: %d, want the sign-in page", resp.StatusCode)
		}
	})
	t.Run("password reset and role change", func(t *testing.T) {
		e := newEnv(t)
		pw := e.user("quay1", RoleCounter)
		b := newBrowser(t, e.app(nil))
		b.signin("quay1", pw)
		e.accts.SetRole(context.Background(), "quay1", RoleReviewer, "", "cli")
		if resp, _ := b.get("/review"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("session after a role change: %d, want it ended", resp.StatusCode)
		}
		b.signin("quay1", pw)
		if resp, _ := b.get("/review"); resp.StatusCode != 200 {
			t.Errorf("new role after signing in again: %d", resp.StatusCode)
		}
		e.accts.ResetPassword(context.Background(), "quay1", "mật khẩu mới hoàn toàn", "cli")
		if resp, _ := b.get("/review"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("session after a password reset: %d, want it ended", resp.StatusCode)
		}
	})
}

func TestIdleTimeoutAndLifetime(t *testing.T) {
	e := newEnv(t)
	pw := e.user("quay1", RoleCounter)
	b := newBrowser(t, e.app(func(o *Options) { o.IdleTimeout, o.MaxLifetime = 30*time.Minute, 2*time.Hour }))
	b.signin("quay1", pw)
	e.clk.Add(29 * time.Minute)
	if _, body := b.get("/"); !strings.Contains(body, "Tiếp nhận bản quét") {
		t.Fatal("signed out before the idle timeout")
	}
	e.clk.Add(29 * time.Minute) // 29 minutes after the last request
	if _, body := b.get("/"); !strings.Contains(body, "Tiếp nhận bản quét") {
		t.Fatal("a request did not count as activity")
	}
	e.clk.Add(30 * time.Minute)
	if _, body := b.get("/"); !strings.Contains(body, "Phiên làm việc đã hết hạn") {
		t.Error("session outlived the idle timeout")
	}
	b.signin("quay1", pw)
	for range 7 {
		e.clk.Add(15 * time.Minute)
		if _, body := b.get("/"); !strings.Contains(body, "Tiếp nhận bản quét") {
			t.Fatal("an active session ended before its lifetime")
		}
	}
	e.clk.Add(15 * time.Minute) // two hours after sign-in
	if _, body := b.get("/"); !strings.Contains(body, "<h1>Đăng nhập</h1>") {
		t.Error("session outlived its absolute lifetime")
	}
}

func TestCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		publicURL string
		tls       bool
		cookie    string
		secure    bool
	}{
		{"plain HTTP on loopback", "", false, "sohoa-session", false},
		{"behind the office's TLS proxy", "https://sohoa.example.gov.vn", false, "__Host-sohoa-session", true},
		{"TLS", "", true, "__Host-sohoa-session", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			pw := e.user("quay1", RoleCounter)
			app, err := New(Options{Accounts: e.accts, Sessions: e.store, Audit: e.audit, Now: e.clk.Now, PublicURL: tc.publicURL})
			if err != nil {
				t.Fatal(err)
			}
			var srv *httptest.Server
			if tc.tls {
				srv = httptest.NewTLSServer(app.Handler())
			} else {
				srv = httptest.NewServer(app.Handler())
			}
			defer srv.Close()
			b := newBrowser(t, srv)
			resp, _ := b.get("/signin")
			check := func(c *http.Cookie, base string) {
				t.Helper()
				wantName := strings.Replace(tc.cookie, "sohoa-session", base, 1)
				if c.Name != wantName || c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
					t.Errorf("cookie %+v: want %s, Secure %v, HttpOnly, SameSite=Strict, Path=/, no Domain", c, wantName, tc.secure)
				}
			}
			if cs := resp.Cookies(); len(cs) != 1 {
				t.Fatalf("sign-in page sets %d cookies, want the form's token", len(cs))
			} else {
				check(cs[0], "sohoa-signin")
			}
			resp, _ = b.signin("quay1", pw)
			var session *http.Cookie
			for _, c := range resp.Cookies() {
				if strings.HasSuffix(c.Name, "sohoa-session") {
					session = c
				}
			}
			if session == nil {
				t.Fatal("sign-in set no session cookie")
			}
			check(session, "sohoa-session")
			if session.MaxAge != 0 || !session.Expires.IsZero() {
				t.Errorf("session cookie persists (MaxAge %d, Expires %v): want it gone with the browser", session.MaxAge, session.Expires)
			}
			if !validToken(session.Value) || len(session.Value) != 43 {
				t.Errorf("session ID %q is not 256 random bits", session.Value)
			}
			for k := range e.store.sessions {
				if strings.Contains(k, session.Value) {
					t.Error("the store keeps the cookie value")
				}
			}
			if _, body := b.get("/"); !strings.Contains(body, "Tiếp nhận bản quét") {
				t.Error("the session cookie does not sign in")
			}
			if tc.secure {
				// The same value without the prefix is not a session.
				plain := newBrowser(t, srv)
				plain.cookies["sohoa-session"] = &http.Cookie{Name: "sohoa-session", Value: session.Value}
				if _, body := plain.get("/"); !strings.Contains(body, "<h1>Đăng nhập</h1>") {
					t.Error("an unprefixed cookie is accepted where the __Host- one is expected")
				}
			}
		})
	}
}

// TestAuditOutageRefusesSignin: no sign-in without its audit record.
func TestAuditOutageRefusesSignin(t *testing.T) {
	e := newEnv(t)
	pw := e.user("quay1", RoleCounter)
	b := newBrowser(t, e.app(nil))
	_, page := b.get("/signin")
	e.audit.fail = true
	resp, body := b.post("/signin", url.Values{"csrf": {csrf(t, page)}, "user": {"quay1"}, "password": {pw}})
	wantStatus(t, "sign-in with the audit log down", resp, http.StatusServiceUnavailable)
	if !strings.Contains(body, "Hệ thống tạm thời gián đoạn") {
		t.Error("no Vietnamese explanation")
	}
	if _, ok := b.cookies[sessionCookie]; ok || len(e.store.sessions) != 0 {
		t.Error("a session exists although its sign-in was not audited")
	}
	resp, _ = b.signin("quay1", "sai-mat-khau-roi")
	wantStatus(t, "failed sign-in with the audit log down", resp, http.StatusServiceUnavailable)
}

// TestNoPersonalDataInLogsOrAudit: user names, passwords and a citizen ID
// typed into the sign-in form appear in no log line and no audit record.
func TestNoPersonalDataInLogsOrAudit(t *testing.T) {
	e := newEnv(t)
	pw := e.user("nguyen.thi.hoa", RoleCounter)
	b := newBrowser(t, e.app(nil))
	const citizenID = "001199012345"
	b.signin(citizenID, "001099872198") // an ID typed as the user, another as the password
	b.signin("nguyen.thi.hoa", "mat-khau-sai-001199")
	b.signin("nguyen.thi.hoa", pw)
	_, page := b.get("/")
	b.get("/review")
	b.post("/signout", url.Values{"csrf": {csrf(t, page)}})

	var lines []string
	for _, r := range e.audit.records() {
		j, _ := json.Marshal(r)
		lines = append(lines, string(j))
	}
	if len(lines) != 5 {
		t.Errorf("%d audit records, want 5", len(lines))
	}
	logs := e.logs.String()
	all := strings.Join(lines, "\n") + "\n" + logs
	for _, secret := range []string{pw, "mat-khau-sai", "nguyen.thi.hoa", "nguyen", "001099872198", "1199012345"} {
		if strings.Contains(all, secret) {
			t.Errorf("logs or audit records show %q", secret)
		}
	}
	storagetest.CheckLog(t, strings.Join(lines, "\n"), []string{citizenID}, []string{"Nguyễn Thị Hoa"})
	storagetest.CheckLog(t, logs, []string{citizenID}, []string{"Nguyễn Thị Hoa"})
	if !bytes.Contains([]byte(logs), []byte(e.accts.ID("nguyen.thi.hoa"))) {
		t.Error("log lines do not name the account by its ID")
	}
}

// TestSessionsOnRedis: the same rules on the real store, two processes,
// the real clock.
func TestSessionsOnRedis(t *testing.T) {
	rdb, prefix := redisForTest(t)
	e := newEnv(t)
	st := NewRedisStore(rdb, prefix)
	e.accts = newAccounts(t, e.repo, st, nil)
	pw := e.user("quay1", RoleCounter)
	kpw := e.user("kiemtra1", RoleReviewer)
	app := func() *httptest.Server {
		return e.app(func(o *Options) { o.Sessions, o.Now = st, nil })
	}
	one, two := app(), app()

	b := newBrowser(t, one)
	b.signin("quay1", pw)
	stolen := b.cookies[sessionCookie]
	_, page := b.on(two).get("/")
	if !strings.Contains(page, "Tiếp nhận bản quét") {
		t.Fatal("session not shared through Redis")
	}
	b.post("/signout", url.Values{"csrf": {csrf(t, page)}})
	replay := newBrowser(t, two)
	replay.cookies[sessionCookie] = stolen
	if _, body := replay.get("/"); !strings.Contains(body, "<h1>Đăng nhập</h1>") {
		t.Error("cookie still signs in after sign-out")
	}

	k := newBrowser(t, one)
	k.signin("kiemtra1", kpw)
	if resp, _ := k.on(two).get("/review"); resp.StatusCode != 200 {
		t.Fatal("reviewer not signed in")
	}
	if _, err := e.accts.Disable(context.Background(), "kiemtra1", "cli"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := k.on(two).get("/review"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("disabled reviewer's session on Redis: %d, want ended", resp.StatusCode)
	}

	for range 10 {
		newBrowser(t, two).signin("quay1", "sai-mat-khau-roi")
	}
	if resp, _ := newBrowser(t, one).signin("quay1", pw); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("locked on Redis: %d, want 429", resp.StatusCode)
	}
}
