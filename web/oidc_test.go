package web

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"sohoa/audit"
)

// fakeOP is an OpenID provider in the test: discovery, keys, a token
// endpoint that checks the client, the redirect URI and the PKCE verifier,
// and userinfo. login stands for the person signing in at the provider.
type fakeOP struct {
	t     *testing.T
	srv   *httptest.Server
	key   *rsa.PrivateKey
	now   func() time.Time
	mu    sync.Mutex
	down  bool // discovery answers 503
	codes map[string]fakeGrant
	// claimsInUserinfo keeps profile claims out of the ID token (as many
	// providers do): only userinfo has them.
	claimsInUserinfo bool
	tokens           map[string]map[string]any // access token -> userinfo claims
}

type fakeGrant struct {
	challenge, redirect string
	claims              map[string]any
}

const (
	fakeClientID     = "sohoa-test"
	fakeClientSecret = "fake-client-secret"
)

func newFakeOP(t *testing.T, now func() time.Time) *fakeOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &fakeOP{t: t, key: key, now: now, codes: map[string]fakeGrant{}, tokens: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		down := op.down
		op.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		u := op.srv.URL
		json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/auth", "token_endpoint": u + "/token",
			"jwks_uri": u + "/keys", "userinfo_endpoint": u + "/userinfo", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		pub := op.key.PublicKey
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}}})
	})
	mux.HandleFunc("POST /token", op.token)
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		claims, ok := op.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		op.mu.Unlock()
		if !ok {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(claims)
	})
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, _ := r.BasicAuth()
	if id == "" { // client_secret_post
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != fakeClientID || secret != fakeClientSecret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	op.mu.Lock()
	g, ok := op.codes[r.PostFormValue("code")]
	delete(op.codes, r.PostFormValue("code"))
	op.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !ok || r.PostFormValue("grant_type") != "authorization_code" || r.PostFormValue("redirect_uri") != g.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	access := newToken()
	idClaims := map[string]any{}
	profile := map[string]any{}
	for k, v := range g.claims {
		switch k {
		case "preferred_username", "email", "email_verified", "name":
			profile[k] = v
			if !op.claimsInUserinfo {
				idClaims[k] = v
			}
		default:
			idClaims[k] = v
		}
	}
	profile["sub"] = g.claims["sub"]
	op.mu.Lock()
	op.tokens[access] = profile
	op.mu.Unlock()
	body, _ := json.Marshal(idClaims)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300,
		"id_token": oidctest.SignIDToken(op.key, "k1", "RS256", string(body))})
}

// login is the person signing in at the provider for the authorization
// request at authURL: it returns the callback URL (path and query) the
// provider sends the browser to. edit changes the ID token's claims
// (issuer, audience, times and nonce from the request by default).
func (op *fakeOP) login(authURL, user string, edit func(map[string]any)) string {
	op.t.Helper()
	u, err := url.Parse(authURL)
	if err != nil || !strings.HasPrefix(authURL, op.srv.URL+"/auth?") {
		op.t.Fatalf("sign-in went to %q, want the provider's authorization endpoint", authURL)
	}
	q := u.Query()
	for k, want := range map[string]string{"client_id": fakeClientID, "response_type": "code", "code_challenge_method": "S256"} {
		if q.Get(k) != want {
			op.t.Errorf("authorization request %s=%q, want %q", k, q.Get(k), want)
		}
	}
	if scope := q.Get("scope"); !strings.Contains(scope, "openid") {
		op.t.Errorf("scope %q lacks openid", scope)
	}
	for _, k := range []string{"state", "nonce", "code_challenge", "redirect_uri"} {
		if q.Get(k) == "" {
			op.t.Errorf("authorization request has no %s", k)
		}
	}
	now := op.now()
	claims := map[string]any{"iss": op.srv.URL, "aud": fakeClientID, "sub": "sub-" + user, "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "nonce": q.Get("nonce"), "preferred_username": user, "name": "Người dùng " + user}
	if edit != nil {
		edit(claims)
	}
	code := newToken()
	op.mu.Lock()
	op.codes[code] = fakeGrant{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), claims: claims}
	op.mu.Unlock()
	cb, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		op.t.Fatal(err)
	}
	v := url.Values{"code": {code}, "state": {q.Get("state")}}
	return cb.Path + "?" + v.Encode()
}

// oidcApp is the app with single sign-on through op.
func (e *env) oidcApp(op *fakeOP, mod func(*OIDC)) *httptest.Server {
	e.t.Helper()
	return e.app(func(o *Options) {
		cfg := &OIDC{Issuer: op.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret,
			RedirectURL: "http://sohoa.invalid/signin/oidc/callback", Label: "Đăng nhập bằng tài khoản một cửa của tỉnh",
			Now: e.clk.Now, HTTPClient: op.srv.Client()}
		if mod != nil {
			mod(cfg)
		}
		o.OIDC = cfg
	})
}

// ssoStart clicks the sign-in page's single sign-on button: it returns the
// provider's authorization URL.
func (b *browser) ssoStart(next string) string {
	b.t.Helper()
	resp, _ := b.get("/signin/oidc?next=" + url.QueryEscape(next))
	wantStatus(b.t, "GET /signin/oidc", resp, http.StatusFound)
	return resp.Header.Get("Location")
}

func (e *env) lastRecord() audit.Record {
	e.t.Helper()
	recs := e.audit.records()
	if len(recs) == 0 {
		e.t.Fatal("no audit record")
	}
	return recs[len(recs)-1]
}

// TestOIDCSignIn: the sign-in page offers single sign-on; the browser goes
// to the provider with PKCE (S256), state and nonce in a Lax flow cookie;
// back at the callback the account named by the provider gets a session
// of its own role and office (Strict cookie), through a same-site page
// that moves on to the destination; the sign-in is audited as "oidc"; the
// spent callback cannot be used again.
func TestOIDCSignIn(t *testing.T) {
	for _, inUserinfo := range []bool{false, true} {
		name := "claims in the ID token"
		if inUserinfo {
			name = "claims from userinfo"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.user("ana.kiemtra", RoleReviewer)
			op := newFakeOP(t, e.clk.Now)
			op.claimsInUserinfo = inUserinfo
			srv := e.oidcApp(op, nil)
			b := newBrowser(t, srv)

			_, page := b.get("/signin")
			if !strings.Contains(page, `href="/signin/oidc?next=%2f"`) || !strings.Contains(page, "Đăng nhập bằng tài khoản một cửa của tỉnh") ||
				!strings.Contains(page, `action="/signin"`) {
				t.Fatalf("sign-in page lacks the single sign-on button beside the password form:\n%s", page)
			}
			resp, _ := b.get("/signin/oidc?next=%2Freview")
			wantStatus(t, "start", resp, http.StatusFound)
			var flow *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == oidcCookie {
					flow = c
				}
			}
			if flow == nil || !flow.HttpOnly || flow.SameSite != http.SameSiteLaxMode || flow.MaxAge <= 0 || flow.MaxAge > 600 || flow.Path != "/" {
				t.Fatalf("flow cookie %+v: want HttpOnly, SameSite=Lax, at most 10 minutes", flow)
			}
			callback := op.login(resp.Header.Get("Location"), "ana.kiemtra", nil)
			if !strings.HasPrefix(callback, "/signin/oidc/callback?") {
				t.Fatalf("callback %q", callback)
			}
			resp, body := b.get(callback)
			wantStatus(t, "callback", resp, http.StatusOK)
			var sess *http.Cookie
			for _, c := range resp.Cookies() {
				if c.Name == sessionCookie {
					sess = c
				}
			}
			if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode {
				t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict", sess)
			}
			if !strings.Contains(body, `<a id="continue" href="/review">`) || !strings.Contains(body, `src="/static/oidc.js"`) {
				t.Errorf("callback page does not move on to /review:\n%s", body)
			}
			if _, ok := b.cookies[oidcCookie]; ok {
				t.Error("the flow cookie outlives its callback")
			}
			resp, body = b.get("/review")
			wantStatus(t, "GET /review with the session", resp, http.StatusOK)
			if !strings.Contains(body, "Cán bộ kiểm tra") {
				t.Errorf("signed in as %q, want the account's role (reviewer)", body)
			}
			rec := e.lastRecord()
			acct, _ := e.accts.Get(context.Background(), "ana.kiemtra")
			if rec.AuthMethod != "oidc" || rec.Rule != "signed_in" || rec.Decision != audit.Allow || rec.Staff != acct.ID ||
				rec.StaffRole != "reviewer" || rec.Office != acct.Office || rec.Endpoint != "GET /signin/oidc/callback" {
				t.Errorf("audit record %+v", rec)
			}

			// The same callback again: the flow is spent.
			resp, _ = b.get(callback)
			wantStatus(t, "callback replayed", resp, http.StatusForbidden)
			if r := e.lastRecord(); r.Rule != "oidc_state" || r.Decision != audit.Deny {
				t.Errorf("replay audited as %+v", r)
			}
			// Signing out ends the single sign-on session like any other.
			_, page = b.get("/")
			resp, _ = b.post("/signout", url.Values{"csrf": {csrf(t, page)}})
			wantStatus(t, "sign out", resp, http.StatusSeeOther)
			resp, _ = b.get("/review")
			wantStatus(t, "after sign-out", resp, http.StatusSeeOther)
			if logs := e.logs.String(); strings.Contains(logs, "ana.kiemtra") {
				t.Error("the log shows the user name")
			}
		})
	}
}

// TestOIDCRefusals: each way a single sign-on can go wrong is refused with
// a Vietnamese page, no session, and one audit record naming why.
func TestOIDCRefusals(t *testing.T) {
	tests := []struct {
		name   string
		user   string
		edit   func(map[string]any)
		tamper func(callback string) string // what reaches the callback
		mod    func(*OIDC)
		status int
		rule   string
		text   string
	}{
		{name: "another state", user: "ana.kiemtra", status: 403, rule: "oidc_state", text: "Phiên đăng nhập một cửa đã hết hạn",
			tamper: func(cb string) string { return replaceParam(cb, "state", newToken()) }},
		{name: "no state", user: "ana.kiemtra", status: 403, rule: "oidc_state", text: "Phiên đăng nhập một cửa đã hết hạn",
			tamper: func(cb string) string { return replaceParam(cb, "state", "") }},
		{name: "another nonce", user: "ana.kiemtra", status: 403, rule: "oidc_nonce", text: "Không xác nhận được đăng nhập một cửa",
			edit: func(c map[string]any) { c["nonce"] = newToken() }},
		{name: "no nonce", user: "ana.kiemtra", status: 403, rule: "oidc_nonce",
			edit: func(c map[string]any) { delete(c, "nonce") }},
		{name: "expired ID token", user: "ana.kiemtra", status: 403, rule: "oidc_id_token",
			edit: func(c map[string]any) { c["exp"] = c["iat"].(int64) - 60 }},
		{name: "another audience", user: "ana.kiemtra", status: 403, rule: "oidc_id_token",
			edit: func(c map[string]any) { c["aud"] = "another-client" }},
		{name: "issued to another client", user: "ana.kiemtra", status: 403, rule: "oidc_id_token",
			edit: func(c map[string]any) {
				c["aud"] = []string{fakeClientID, "another-client"}
				c["azp"] = "another-client"
			}},
		{name: "several audiences, no azp", user: "ana.kiemtra", status: 403, rule: "oidc_id_token",
			edit: func(c map[string]any) { c["aud"] = []string{fakeClientID, "another-client"} }},
		{name: "another issuer", user: "ana.kiemtra", status: 403, rule: "oidc_id_token",
			edit: func(c map[string]any) { c["iss"] = "https://idp.invalid" }},
		{name: "a code the provider does not know", user: "ana.kiemtra", status: 502, rule: "oidc_exchange",
			tamper: func(cb string) string { return replaceParam(cb, "code", newToken()) }},
		{name: "the provider refused", user: "ana.kiemtra", status: 401, rule: "oidc_error:access_denied", text: "chưa xác nhận đăng nhập",
			tamper: func(cb string) string { return replaceParam(replaceParam(cb, "code", ""), "error", "access_denied") }},
		{name: "unknown account", user: "khach.la", status: 403, rule: "unknown_account", text: "«khach.la» chưa được cấp quyền"},
		{name: "disabled account", user: "ba.nghi", status: 403, rule: "disabled", text: "đã ngừng hoạt động"},
		{name: "no user name claim", user: "ana.kiemtra", status: 403, rule: "oidc_claim", text: "không cho biết tên đăng nhập",
			edit: func(c map[string]any) { delete(c, "preferred_username") }},
		{name: "a user name sohoa cannot have", user: "Ana Kiểm Tra", status: 403, rule: "oidc_claim"},
		{name: "email not verified", user: "ana.kiemtra", status: 403, rule: "oidc_claim", mod: func(o *OIDC) { o.UserClaim = "email" },
			edit: func(c map[string]any) { c["email"] = "ana.kiemtra"; c["email_verified"] = false }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("ana.kiemtra", RoleReviewer)
			e.user("ba.nghi", RoleCounter)
			if _, err := e.accts.Disable(context.Background(), "ba.nghi", "cli"); err != nil {
				t.Fatal(err)
			}
			op := newFakeOP(t, e.clk.Now)
			b := newBrowser(t, e.oidcApp(op, tc.mod))
			callback := op.login(b.ssoStart("/"), tc.user, tc.edit)
			if tc.tamper != nil {
				callback = tc.tamper(callback)
			}
			n := len(e.audit.records())
			resp, body := b.get(callback)
			wantStatus(t, "callback", resp, tc.status)
			if !strings.Contains(body, `<html lang="vi">`) || !strings.Contains(body, tc.text) || !strings.Contains(body, `id="sso"`) {
				t.Errorf("refusal page lacks %q and a way to try again:\n%s", tc.text, body)
			}
			for _, c := range resp.Cookies() {
				if c.Name == sessionCookie && c.MaxAge >= 0 {
					t.Errorf("refused, yet a session cookie: %+v", c)
				}
			}
			recs := e.audit.records()
			if len(recs) != n+1 {
				t.Fatalf("%d audit records for one callback, want 1", len(recs)-n)
			}
			if r := recs[n]; r.Rule != tc.rule || r.Decision != audit.Deny || r.AuthMethod != "oidc" || r.Status != tc.status {
				t.Errorf("audited %+v, want rule %s", r, tc.rule)
			}
			resp, _ = b.get("/review")
			wantStatus(t, "GET /review after a refusal", resp, http.StatusSeeOther)
		})
	}
}

func replaceParam(pathQuery, k, v string) string {
	p, q, _ := strings.Cut(pathQuery, "?")
	vals, _ := url.ParseQuery(q)
	if v == "" {
		vals.Del(k)
	} else {
		vals.Set(k, v)
	}
	return p + "?" + vals.Encode()
}

// TestOIDCProviderDown: a provider that does not answer does not stop the
// app: password sign-in works, the button answers 503 in Vietnamese, and
// the next try after the provider is back succeeds.
func TestOIDCProviderDown(t *testing.T) {
	e := newEnv(t)
	pw := e.user("ana.kiemtra", RoleReviewer)
	op := newFakeOP(t, e.clk.Now)
	op.down = true
	srv := e.oidcApp(op, nil)
	b := newBrowser(t, srv)
	resp, body := b.get("/signin/oidc")
	wantStatus(t, "start while the provider is down", resp, http.StatusServiceUnavailable)
	if !strings.Contains(body, "không kết nối được hệ thống đăng nhập một cửa") || !strings.Contains(body, `action="/signin"`) {
		t.Errorf("provider down: %s", body)
	}
	resp, _ = b.signin("ana.kiemtra", pw)
	wantStatus(t, "password sign-in while the provider is down", resp, http.StatusSeeOther)
	b2 := newBrowser(t, srv)
	op.mu.Lock()
	op.down = false
	op.mu.Unlock()
	resp, _ = b2.get(op.login(b2.ssoStart("/"), "ana.kiemtra", nil))
	wantStatus(t, "callback once the provider is back", resp, http.StatusOK)
}

// TestOIDCOff: without OIDC there is no button and no route.
func TestOIDCOff(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e.app(nil))
	if _, page := b.get("/signin"); strings.Contains(page, "/signin/oidc") || strings.Contains(page, "oidc.css") {
		t.Error("the sign-in page offers single sign-on that is not configured")
	}
	resp, _ := b.get("/signin/oidc")
	wantStatus(t, "GET /signin/oidc without OIDC", resp, http.StatusNotFound)
}

func TestOIDCOptions(t *testing.T) {
	good := OIDC{Issuer: "https://idp.example.gov.vn/realms/tinh", ClientID: "sohoa", RedirectURL: "https://sohoa.example.gov.vn/signin/oidc/callback"}
	for name, mod := range map[string]func(*OIDC){
		"no issuer":       func(o *OIDC) { o.Issuer = "" },
		"issuer not http": func(o *OIDC) { o.Issuer = "idp.example" },
		"no client":       func(o *OIDC) { o.ClientID = "" },
		"no redirect":     func(o *OIDC) { o.RedirectURL = "" },
		"bad claim":       func(o *OIDC) { o.UserClaim = "a b" },
	} {
		o := good
		mod(&o)
		if _, err := newOIDCClient(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := newOIDCClient(good)
	if err != nil || c.cfg.UserClaim != "preferred_username" || c.cfg.Label == "" {
		t.Errorf("defaults: %+v, %v", c, err)
	}
}

// TestOIDCSecureCookies: behind an https public URL the flow cookie is
// Secure with the __Host- prefix (no other site or subdomain can plant
// one), like the session cookie.
func TestOIDCSecureCookies(t *testing.T) {
	e := newEnv(t)
	e.user("ana.kiemtra", RoleReviewer)
	op := newFakeOP(t, e.clk.Now)
	srv := e.app(func(o *Options) {
		o.PublicURL = "https://sohoa.example.gov.vn"
		o.OIDC = &OIDC{Issuer: op.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret,
			RedirectURL: "https://sohoa.example.gov.vn/signin/oidc/callback", Now: e.clk.Now, HTTPClient: op.srv.Client()}
	})
	b := newBrowser(t, srv)
	resp, _ := b.get("/signin/oidc")
	wantStatus(t, "start", resp, http.StatusFound)
	var names []string
	for _, c := range resp.Cookies() {
		names = append(names, c.Name)
		if c.Name == "__Host-"+oidcCookie && (!c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "") {
			t.Errorf("flow cookie %+v", c)
		}
	}
	if !slices.Contains(names, "__Host-"+oidcCookie) {
		t.Fatalf("cookies %v, want __Host-%s", names, oidcCookie)
	}
	resp, _ = b.get(op.login(resp.Header.Get("Location"), "ana.kiemtra", nil))
	wantStatus(t, "callback", resp, http.StatusOK)
	ok := false
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-"+sessionCookie && c.Secure && c.SameSite == http.SameSiteStrictMode && c.MaxAge >= 0 {
			ok = true
		}
	}
	if !ok {
		t.Errorf("callback cookies %v: want a Secure, Strict __Host- session cookie", resp.Cookies())
	}
}
