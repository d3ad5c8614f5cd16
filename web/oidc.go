package web

// Single sign-on through the agency's OpenID provider (OpenID Connect,
// authorization code flow with PKCE). The provider only proves who the
// person is; sohoa decides what they may do: the identity must name an
// existing, enabled staff account (by the configured claim, which must
// equal the account's user name), and the session gets that account's
// role and office, exactly as a password sign-in does.
//
//   GET /signin/oidc           starts: state, nonce and the PKCE verifier go
//                              in a short-lived SameSite=Lax cookie (the
//                              provider's redirect back is a cross-site
//                              navigation, which a Strict cookie misses),
//                              then the browser goes to the provider.
//   GET /signin/oidc/callback  checks state, exchanges the code (with the
//                              verifier), verifies the ID token (signature,
//                              issuer, audience, expiry, nonce), finds the
//                              account, makes the session and answers a
//                              small same-site page that moves on to the
//                              destination: the session cookie is Strict,
//                              and a browser does not send it on the
//                              cross-site redirect chain that brought the
//                              callback, only on a navigation this site
//                              starts.
//
// Every callback is one audit record (AuthMethod "oidc"), allowed or not.
// The provider's discovery document is read lazily, with a bounded
// timeout, and retried on the next sign-in when it failed: a provider that
// is down never stops serve, and password sign-in keeps working.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"sohoa/audit"
)

// OIDC configures sign-in through the agency's OpenID provider. Issuer,
// ClientID and RedirectURL are required.
type OIDC struct {
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document (Issuer + "/.well-known/openid-configuration") states it.
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this app's callback as registered at the provider:
	// the public URL + "/signin/oidc/callback".
	RedirectURL string
	// UserClaim is the claim whose value is the staff account's user name
	// (default "preferred_username"). With "email" the provider must also
	// say email_verified. The claim is read from the ID token, else from
	// the provider's userinfo endpoint (for the same subject).
	UserClaim string
	// Label is the sign-in button's text (default "Đăng nhập bằng tài
	// khoản một cửa").
	Label string
	// HTTPClient talks to the provider (default: a client with a 15 s
	// timeout).
	HTTPClient *http.Client
	// Timeout bounds discovery and each exchange with the provider
	// (default 10 s).
	Timeout time.Duration
	// Now is the clock ID tokens are checked against (default time.Now):
	// the provider's clock is the real one, whatever Options.Now says.
	Now func() time.Time
}

// oidcCookie carries one sign-in's state, nonce, PKCE verifier and
// destination from /signin/oidc to its callback.
const (
	oidcCookie  = "sohoa-oidc"
	oidcFlowTTL = 10 * time.Minute
)

// oidcClient is the app's side of the provider: its configuration, and
// what discovery found once it succeeded.
type oidcClient struct {
	cfg OIDC

	mu       sync.Mutex // held during discovery: one attempt at a time
	ready    bool
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	provider *oidc.Provider
}

var claimNameRe = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

func newOIDCClient(cfg OIDC) (*oidcClient, error) {
	for _, f := range []struct{ name, v string }{{"Issuer", cfg.Issuer}, {"RedirectURL", cfg.RedirectURL}} {
		u, err := url.Parse(f.v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("web: OIDC.%s %q: want an http(s) URL", f.name, f.v)
		}
	}
	if cfg.ClientID == "" {
		return nil, errors.New("web: OIDC.ClientID is empty")
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = "preferred_username"
	}
	if !claimNameRe.MatchString(cfg.UserClaim) {
		return nil, fmt.Errorf("web: OIDC.UserClaim %q is not a claim name", cfg.UserClaim)
	}
	if cfg.Label == "" {
		cfg.Label = "Đăng nhập bằng tài khoản một cửa"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &oidcClient{cfg: cfg}, nil
}

// errProviderDown: discovery failed; the next sign-in tries again.
var errProviderDown = errors.New("oidc: provider unavailable")

// discover reads the provider's discovery document once it can: until it
// succeeds, each call tries again (bounded by the timeout).
func (o *oidcClient) discover(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ready {
		return nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.cfg.HTTPClient), o.cfg.Timeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errProviderDown, o.cfg.Issuer, err)
	}
	o.provider = p
	o.oauth = oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	// The key set is fetched (and refetched for an unknown key ID) with
	// the provider's client, never bound to one request.
	o.verifier = p.VerifierContext(oidc.ClientContext(context.Background(), o.cfg.HTTPClient),
		&oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now})
	o.ready = true
	return nil
}

// CheckOIDC reads the provider's discovery document now (serve calls it at
// start, in the background, to log whether the provider answers). Without
// OIDC it does nothing.
func (a *App) CheckOIDC(ctx context.Context) error {
	if a.oidc == nil {
		return nil
	}
	return a.oidc.discover(ctx)
}

// OIDCEnabled says whether single sign-on is configured.
func (a *App) OIDCEnabled() bool { return a.oidc != nil }

// oidcLabel is the sign-in page's button text, "" without OIDC.
func (a *App) oidcLabel() string {
	if a.oidc == nil {
		return ""
	}
	return a.oidc.cfg.Label
}

// oidcRoutes registers the single sign-on pages (only when configured).
func (a *App) oidcRoutes(mux *http.ServeMux) {
	if a.oidc == nil {
		return
	}
	mux.HandleFunc("GET /signin/oidc", a.oidcStart)
	mux.HandleFunc("GET /signin/oidc/callback", a.oidcCallback)
}

// oidcFlow is the flow cookie's content. The values are random and the
// cookie HttpOnly: a page cannot read them, another site cannot set them
// (with Secure, the __Host- prefix), so a callback whose state matches
// came back to the browser that started it.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Started  int64  `json:"t"` // unix seconds, the app's clock
}

func (f oidcFlow) encode() string {
	b, _ := json.Marshal(f)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeFlow(s string) (oidcFlow, bool) {
	var f oidcFlow
	if len(s) > 1024 {
		return f, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &f) != nil || !validToken(f.State) || !validToken(f.Nonce) || !validToken(f.Verifier) {
		return oidcFlow{}, false
	}
	return f, true
}

// setFlowCookie sets (or, with maxAge < 0, clears) the flow cookie. It is
// SameSite=Lax, unlike every other cookie of the app: the provider sends
// the browser back with a cross-site top-level GET, on which a Lax cookie
// is sent and a Strict one is not. It holds nothing that signs anyone in.
func (a *App) setFlowCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: a.cookieName(r, oidcCookie), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: a.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// oidcStart sends the browser to the provider.
func (a *App) oidcStart(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, err := a.authenticate(r.Context(), r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther) // signed in already
		return
	}
	if err := a.oidc.discover(r.Context()); err != nil {
		a.log.Warn("web: oidc discovery", "err", err)
		a.renderSignin(w, r, http.StatusServiceUnavailable, next, "Hiện không kết nối được hệ thống đăng nhập một cửa. "+
			"Vui lòng thử lại sau ít phút, hoặc đăng nhập bằng tên đăng nhập và mật khẩu.", true)
		return
	}
	f := oidcFlow{State: newToken(), Nonce: newToken(), Verifier: newToken(), Next: next, Started: a.now().Unix()}
	a.setFlowCookie(w, r, f.encode(), int(oidcFlowTTL.Seconds()))
	u := a.oidc.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier))
	http.Redirect(w, r, u, http.StatusFound)
}

// oidcErrorRe is what an OAuth error code may look like (RFC 6749 §4.1.2.1).
var oidcErrorRe = regexp.MustCompile(`^[a-z_]{1,40}$`)

// oidcCallback finishes a sign-in. Refused, each audited before the answer
// (and 503 when it cannot be): no flow cookie or another state (403,
// oidc_state); the provider's own refusal (401, oidc_error:CODE); a code
// the provider will not exchange or an answer without an ID token (502,
// oidc_exchange); an ID token that does not verify (403, oidc_id_token) or
// carries another nonce (403, oidc_nonce); an identity without a usable
// user name (403, oidc_claim); no such account (403, unknown_account); a
// disabled one (403, disabled).
func (a *App) oidcCallback(w http.ResponseWriter, r *http.Request) {
	start := a.now()
	ctx := r.Context()
	rec := a.record(r, start, "", "", "")
	rec.AuthMethod = "oidc"
	q := r.URL.Query()

	var f oidcFlow
	c, err := r.Cookie(a.cookieName(r, oidcCookie))
	ok := err == nil
	if ok {
		f, ok = decodeFlow(c.Value)
	}
	a.setFlowCookie(w, r, "", -1) // one use, whatever happens
	next := f.Next
	refuse := func(status int, rule, notice string) {
		rec.Decision, rec.Rule, rec.Status = audit.Deny, rule, status
		if err := a.audit(ctx, rec); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.renderSignin(w, r, status, next, notice, true)
	}
	age := start.Sub(time.Unix(f.Started, 0))
	if !ok || !sameToken(q.Get("state"), f.State) || age < -time.Minute || age > oidcFlowTTL {
		refuse(http.StatusForbidden, "oidc_state", "Phiên đăng nhập một cửa đã hết hạn hoặc không hợp lệ. Vui lòng bấm đăng nhập một cửa lại.")
		return
	}
	if e := q.Get("error"); e != "" {
		if !oidcErrorRe.MatchString(e) {
			e = "other"
		}
		refuse(http.StatusUnauthorized, "oidc_error:"+e, "Hệ thống đăng nhập một cửa chưa xác nhận đăng nhập (đã hủy hoặc bị từ chối). Vui lòng thử lại.")
		return
	}
	if err := a.oidc.discover(ctx); err != nil { // a serve restarted since the start
		a.log.Warn("web: oidc discovery", "err", err)
		refuse(http.StatusServiceUnavailable, "oidc_unavailable", "Hiện không kết nối được hệ thống đăng nhập một cửa. Vui lòng thử lại sau ít phút, hoặc đăng nhập bằng tên đăng nhập và mật khẩu.")
		return
	}
	id, err := a.oidcIdentity(ctx, q.Get("code"), f)
	if err != nil {
		var ie *identityError
		if !errors.As(err, &ie) {
			ie = &identityError{status: http.StatusBadGateway, rule: "oidc_exchange"}
		}
		a.log.Warn("web: oidc sign-in refused", "rule", ie.rule, "err", err)
		notice := "Không xác nhận được đăng nhập một cửa. Vui lòng thử lại; nếu vẫn lỗi, báo cho cán bộ quản trị."
		if ie.rule == "oidc_claim" {
			notice = "Tài khoản một cửa này không cho biết tên đăng nhập dùng được trong hệ thống số hóa. Liên hệ cán bộ quản lý."
		}
		refuse(ie.status, ie.rule, notice)
		return
	}

	// The provider proved who it is; sohoa decides what they may do.
	rec.Staff = a.opts.Accounts.ID(id)
	acct, err := a.opts.Accounts.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNoAccount):
		refuse(http.StatusForbidden, "unknown_account", "Tài khoản một cửa «"+id+"» chưa được cấp quyền vào hệ thống số hóa. "+
			"Đề nghị cán bộ quản lý của đơn vị tạo tài khoản cán bộ với đúng tên đăng nhập này.")
		return
	case err != nil:
		a.unavailable(w, r, err)
		return
	case acct.Disabled:
		rec.StaffRole, rec.Office = string(acct.Role), acct.Office
		refuse(http.StatusForbidden, "disabled", "Tài khoản này đã ngừng hoạt động. Liên hệ cán bộ quản lý nếu cần mở lại.")
		return
	}
	cookie, err := a.startSession(ctx, acct, start, rec)
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.setCookie(w, r, sessionCookie, cookie, 0)
	// The browser came here from the provider's site: it stores the
	// Strict session cookie now but sends it only on a navigation this
	// site starts, so this page starts it (oidc.js; the link without
	// scripts).
	a.render(w, http.StatusOK, "signin-oidc", view{Title: "Đăng nhập thành công", Data: struct{ Next string }{safeNext(next)}})
}

// identityError is a refusal of the provider's answer: its status and
// audit rule.
type identityError struct {
	status int
	rule   string
	err    error
}

func (e *identityError) Error() string { return e.rule + ": " + e.err.Error() }
func (e *identityError) Unwrap() error { return e.err }

func refused(status int, rule string, err error) error {
	return &identityError{status: status, rule: rule, err: err}
}

// oidcIdentity exchanges the code and returns the verified identity's user
// name (normalized as account user names are).
func (a *App) oidcIdentity(ctx context.Context, code string, f oidcFlow) (string, error) {
	o := a.oidc
	if code == "" || len(code) > 2048 {
		return "", refused(http.StatusBadRequest, "oidc_exchange", errors.New("no code"))
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, o.cfg.HTTPClient), o.cfg.Timeout)
	defer cancel()
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return "", refused(http.StatusBadGateway, "oidc_exchange", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", refused(http.StatusBadGateway, "oidc_exchange", errors.New("no id_token in the token response"))
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return "", refused(http.StatusForbidden, "oidc_id_token", err)
	}
	if !sameToken(idt.Nonce, f.Nonce) {
		return "", refused(http.StatusForbidden, "oidc_nonce", errors.New("the ID token's nonce is not this sign-in's"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return "", refused(http.StatusForbidden, "oidc_id_token", err)
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return "", refused(http.StatusForbidden, "oidc_id_token", err)
	}
	// go-oidc checks that the audience holds the client ID; a token for
	// several audiences must also have been issued to this client (OpenID
	// Connect Core 3.1.3.7).
	if azp, _ := claims["azp"].(string); (len(idt.Audience) > 1 || azp != "") && azp != o.cfg.ClientID {
		return "", refused(http.StatusForbidden, "oidc_id_token", fmt.Errorf("issued to %q, not this client", azp))
	}
	if _, ok := claims[o.cfg.UserClaim]; !ok && o.provider.UserInfoEndpoint() != "" {
		// Many providers put profile claims in userinfo only.
		ui, err := o.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return "", refused(http.StatusBadGateway, "oidc_exchange", fmt.Errorf("userinfo: %w", err))
		}
		if ui.Subject != idt.Subject {
			return "", refused(http.StatusForbidden, "oidc_claim", errors.New("userinfo is about another subject"))
		}
		claims = map[string]any{}
		if err := ui.Claims(&claims); err != nil {
			return "", refused(http.StatusBadGateway, "oidc_exchange", fmt.Errorf("userinfo: %w", err))
		}
	}
	v, _ := claims[o.cfg.UserClaim].(string)
	if o.cfg.UserClaim == "email" && !truthy(claims["email_verified"]) {
		return "", refused(http.StatusForbidden, "oidc_claim", errors.New("email not verified"))
	}
	user, err := NormalizeUserName(v)
	if err != nil {
		return "", refused(http.StatusForbidden, "oidc_claim", fmt.Errorf("claim %s: %w", o.cfg.UserClaim, err))
	}
	return user, nil
}

// truthy reads a boolean claim, which some providers send as a string.
func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}
