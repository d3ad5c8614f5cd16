// Package web is the staff web app on the intake listener: sign-in and
// roles, and the pages counter staff, reviewers and supervisors work in.
// The intake API (/v1/…, pipeline.Intake) stays beside it for scripts with
// their bearer token; a signed-in counter's page uses it with its session
// (App.Authorize).
//
// Accounts are stored in the repository (Accounts: sealed, append-only
// events under a keyed hash of the user name; argon2id passwords).
// Sessions and failed sign-ins are kept in a Store every serve process
// shares (RedisStore), so signing out, disabling an account or a lockout
// holds in every process at once. Every sign-in, failed or not, every
// sign-out and every refused page is one audit record.
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"sohoa/audit"
	"sohoa/pipeline"
	"sohoa/storage"
)

// Auditor stores audit records; *audit.Log implements it. Append must make
// the record durable before it returns.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
}

// Options configure the app. Accounts, Sessions and Audit are required;
// the rest have useful zero values.
type Options struct {
	Accounts *Accounts
	Sessions Store
	Audit    Auditor
	Logger   *slog.Logger
	Now      func() time.Time
	// PublicURL is the address staff open (the office's TLS proxy in front
	// of the intake listener). An https URL makes cookies Secure (and
	// __Host- prefixed) even though the proxy speaks plain HTTP to serve,
	// and its origin is trusted for state-changing requests.
	PublicURL string
	// IdleTimeout ends a session unused this long (default 30 minutes);
	// MaxLifetime ends any session this long after sign-in (default 12 h).
	IdleTimeout time.Duration
	MaxLifetime time.Duration
	// MaxFailures failed sign-ins of one account within Lockout lock it
	// for Lockout (defaults 10 and 15 minutes), counted across processes.
	MaxFailures int
	Lockout     time.Duration
	// Recheck is how often a session re-reads its account from the
	// repository (default 1 minute): a disabled account, a password reset
	// or a role change ends the session then at the latest, even if
	// Accounts could not end it at once.
	Recheck time.Duration
	// MaxFileMB is the upload limit shown on the upload page.
	MaxFileMB int64
	// ReasonTexts are the Vietnamese texts of the intake's reason codes
	// (pipeline.StaffTexts), shown on the upload page.
	ReasonTexts map[string]string
	// AgencyName is shown in the page header; AgencyCode is the agency's
	// code (dossier and result codes begin with it).
	AgencyName string
	AgencyCode string

	// The pipeline the pages work on. Repo is the repository (intake,
	// records, review items, results, audit); Pipeline records review
	// decisions; Intake stores uploads. Pages that need one answer 503
	// when it is nil (tests of sign-in alone leave them out).
	Repo     *storage.Repository
	Pipeline *pipeline.Pipeline
	Intake   *pipeline.Intake
	// Procedures maps a document type to the procedure code its results
	// are issued under (the configured SOHOA_PROCEDURES).
	Procedures map[string]string
	// KhoConfigured says whether the outbox is delivered to the citizen's
	// data store (SOHOA_KHO_URL is set); the dashboard says so when not.
	KhoConfigured bool
	// OIDC, when set, adds single sign-on through the agency's OpenID
	// provider beside password sign-in (oidc.go).
	OIDC *OIDC
	// AuditKey is K_audit, keying the citizen hash of audit records (the
	// reuse API's key: one "who read this citizen's results" query finds
	// both). The results pages answer 503 without it.
	AuditKey []byte
}

// App is the staff web app.
type App struct {
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	secure bool // PublicURL is https
	cop    *http.CrossOriginProtection
	pages  map[string]*template.Template
	static fs.FS
	oidc   *oidcClient // nil without single sign-on
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the app.
func New(opts Options) (*App, error) {
	switch {
	case opts.Accounts == nil:
		return nil, errors.New("web: Options.Accounts is nil")
	case opts.Sessions == nil:
		return nil, errors.New("web: Options.Sessions is nil")
	case opts.Audit == nil:
		return nil, errors.New("web: Options.Audit is nil")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.IdleTimeout, 30*time.Minute)
	def(&opts.MaxLifetime, 12*time.Hour)
	def(&opts.Lockout, 15*time.Minute)
	def(&opts.Recheck, time.Minute)
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 10
	}
	if opts.MaxFileMB <= 0 {
		opts.MaxFileMB = 64
	}
	a := &App{opts: opts, log: opts.Logger, now: opts.Now, cop: http.NewCrossOriginProtection(), pages: map[string]*template.Template{}}
	if opts.PublicURL != "" {
		u, err := url.Parse(opts.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("web: PublicURL %q: want http(s)://host[:port]", opts.PublicURL)
		}
		a.secure = u.Scheme == "https"
		if err := a.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			return nil, fmt.Errorf("web: PublicURL: %w", err)
		}
	}
	if opts.OIDC != nil {
		o, err := newOIDCClient(*opts.OIDC)
		if err != nil {
			return nil, err
		}
		a.oidc = o
	}
	a.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, http.StatusForbidden, "Yêu cầu bị từ chối", "Yêu cầu được gửi từ một trang khác. Hãy mở lại hệ thống từ địa chỉ chính thức và thử lại.")
	}))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := templateFuncs()
	for _, file := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", file)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		a.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	a.static = static
	return a, nil
}

// A section is one part of the app, for the roles that may open it (the
// header links to the sections of the signed-in role).
type section struct {
	Path, Label, About string
	roles              []Role
}

func sections() []section {
	return []section{
		{"/batches", "Các lô đã tiếp nhận", "Các lô hồ sơ đơn vị đã tiếp nhận, mới nhất trước, với trạng thái từng tệp và giấy tiếp nhận.", []Role{RoleCounter, RoleSupervisor}},
		{"/review", "Hàng đợi kiểm tra", "Kiểm tra, đối chiếu các tài liệu hệ thống chưa chắc chắn bên cạnh bản quét, rồi duyệt hoặc từ chối.", []Role{RoleReviewer, RoleSupervisor}},
		{"/results", "Tra cứu kết quả", "Tìm kết quả điện tử theo mã kết quả, mã hồ sơ hoặc số định danh; thu hồi, tạm dừng hiệu lực hoặc thay thế kết quả.", []Role{RoleSupervisor}},
		{"/reports", "Báo cáo, thống kê", "Số hồ sơ tiếp nhận, đã số hóa, kết quả điện tử, đang chờ kiểm tra, thời gian xử lý và số lần tái sử dụng, theo đơn vị và thủ tục.", []Role{RoleSupervisor}},
		{"/users", "Tài khoản cán bộ", "Tạo tài khoản, khóa, mở khóa, đổi vai trò và đặt lại mật khẩu cho cán bộ.", []Role{RoleSupervisor}},
	}
}

func (s section) allows(r Role) bool { return slices.Contains(s.roles, r) }

// Handler serves the app: / (the sign-in page signed out; the upload page
// for counter staff; a home page naming the role otherwise), /signin,
// /signout, the sections, and /static/. Mount it at / beside the intake API.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /signin", a.signinPage)
	mux.HandleFunc("POST /signin", a.signin)
	mux.HandleFunc("POST /signout", a.signout)
	mux.Handle("GET /static/", http.StripPrefix("/static/", a.staticHandler()))
	a.intakeRoutes(mux)
	a.reviewRoutes(mux)
	a.resultRoutes(mux)
	a.reportRoutes(mux)
	a.oidcRoutes(mux)
	a.userRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy trang", "Địa chỉ này không có trong hệ thống.")
	})
	return securityHeaders(a.cop.Handler(mux))
}

func (a *App) staticHandler() http.Handler {
	files := http.FileServerFS(a.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no folder listings
			return
		}
		w.Header().Set("Cache-Control", "private, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// securityHeaders: no framing, no sniffing, no referrer, nothing cached
// but static files, and scripts and styles only from /static/.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
		next.ServeHTTP(w, r)
	})
}

// ---- pages ----

// view is what every page template gets.
type view struct {
	Title   string
	Agency  string
	CSRF    string
	Staff   *staffView // nil when signed out
	Notice  string     // a message at the top of the page
	Warning bool       // Notice is a warning, not information
	Data    any
}

type staffView struct {
	Role      Role
	RoleLabel string
	Office    string
	Nav       []section
}

func (a *App) render(w http.ResponseWriter, status int, page string, v view) {
	v.Agency = a.opts.AgencyName
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.pages[page].ExecuteTemplate(w, "layout", v); err != nil {
		a.log.Error("render page", "page", page, "err", err)
	}
}

func (a *App) staffView(s *signedIn) *staffView {
	sv := &staffView{Role: s.Role, RoleLabel: s.Role.Label(), Office: s.Office}
	if s.Role == RoleCounter {
		sv.Nav = append(sv.Nav, section{Path: "/", Label: "Tiếp nhận hồ sơ"})
	}
	for _, sec := range sections() {
		if sec.allows(s.Role) {
			sv.Nav = append(sv.Nav, sec)
		}
	}
	return sv
}

// fail answers with a page that says what went wrong, signed in or not.
func (a *App) fail(w http.ResponseWriter, r *http.Request, status int, title, text string) {
	v := view{Title: title, Data: text}
	if s, err := a.authenticate(r.Context(), r); err == nil {
		v.Staff, v.CSRF = a.staffView(s), s.CSRF
	}
	a.render(w, status, "message", v)
}

func (a *App) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Error("web: unavailable", "endpoint", r.Pattern, "err", err)
	a.render(w, http.StatusServiceUnavailable, "message", view{Title: "Hệ thống tạm thời gián đoạn",
		Data: "Hệ thống tạm thời không phục vụ được yêu cầu này. Vui lòng thử lại sau ít phút; nếu vẫn lỗi, báo cho cán bộ quản trị."})
}

// home is /: the sign-in page signed out, the upload page for counter
// staff, a home page naming the role for the others.
func (a *App) home(w http.ResponseWriter, r *http.Request) {
	s, err := a.authenticate(r.Context(), r)
	switch {
	case errors.Is(err, errSignedOut):
		a.clearSession(w, r, err)
		a.renderSignin(w, r, http.StatusOK, "/", a.signedOutNotice(err), false)
		return
	case err != nil:
		a.unavailable(w, r, err)
		return
	}
	v := view{CSRF: s.CSRF, Staff: a.staffView(s)}
	if s.Role == RoleCounter {
		a.uploadPage(w, r, s) // intake.go
		return
	}
	name := ""
	if acct, err := a.opts.Accounts.ByID(r.Context(), s.Account); err == nil {
		name = acct.Name
		if name == "" {
			name = acct.User
		}
	}
	v.Title = "Trang làm việc"
	v.Data = struct{ Name string }{name}
	a.render(w, http.StatusOK, "home", v)
}

// ---- helpers ----

// newToken returns 32 random bytes, base64url: session IDs and CSRF
// tokens.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validToken(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// sameToken compares tokens in constant time; an empty token never
// matches.
func sameToken(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sessionKey is what the store knows a session by: the SHA-256 of its
// cookie, so reading the store gives no usable cookie.
func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte("sohoa-session\x00" + cookie))
	return hex.EncodeToString(sum[:])
}

// safeNext keeps a post-sign-in destination only if it is a path of this
// site.
func safeNext(next string) string {
	if next == "" || len(next) > 200 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return "/"
	}
	return next
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
