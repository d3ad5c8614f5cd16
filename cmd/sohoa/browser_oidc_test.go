package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"sohoa/internal/testenv"
	"sohoa/storage/storagetest"
)

// opUser is a user of the test's OpenID provider (zitadel's example OP
// reads them from USERS_FILE: its storage.User, by ID).
type opUser struct {
	ID                string
	Username          string
	Password          string
	FirstName         string
	LastName          string
	Email             string
	EmailVerified     bool
	PreferredLanguage string
}

// startOpenIDProvider runs zitadel's example OpenID provider
// (bin/zitadel-oidc-op, from deploy/local/deps.sh) until the test ends,
// with its client "web" (secret "secret") allowed to send staff back to
// redirectURI and the given users. It returns the issuer,
// http://localhost:PORT/ (the OP names itself so).
func startOpenIDProvider(t *testing.T, redirectURI string, users []opUser) string {
	t.Helper()
	bin := testenv.MustHaveFile(t, mustAbs(t, "../../bin/zitadel-oidc-op"), "make deps builds it (deploy/local/deps.sh)")
	byID := map[string]opUser{}
	for _, u := range users {
		byID[u.ID] = u
	}
	b, _ := json.Marshal(byID)
	usersFile := filepath.Join(t.TempDir(), "op-users.json")
	if err := os.WriteFile(usersFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(freeAddr(t), ":")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+port, "REDIRECT_URI="+redirectURI, "USERS_FILE="+usersFile)
	logs := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the OpenID provider: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("OpenID provider log:\n%s", logs.String())
		}
	})
	issuer := "http://localhost:" + port + "/"
	waitHTTP(t, issuer+".well-known/openid-configuration")
	return issuer
}

// TestBrowserOIDCSignIn signs in through single sign-on in a real browser
// against a real OpenID provider (zitadel's example OP) and a real `sohoa
// serve`: a signed-out reviewer opening /review gets the sign-in page with
// the single sign-on button, signs in on the provider's own form, and
// lands signed in on /review with the account's role (sohoa's, not the
// provider's), a Strict session cookie and no flow cookie left; the
// sign-in is audited with auth method "oidc". Someone the provider knows
// but sohoa has no account for is refused (403, in Vietnamese).
//
// sohoa runs at 127.0.0.1 and the provider at localhost: two sites, so
// the return from the provider is a cross-site navigation, as with a real
// provider.
func TestBrowserOIDCSignIn(t *testing.T) {
	stackTest(t, 15)
	addr := freeAddr(t)
	base := "http://" + addr
	const opPassword = "mat-khau-mot-cua-1"
	issuer := startOpenIDProvider(t, base+"/signin/oidc/callback", []opUser{
		{ID: "u1", Username: "dev-reviewer", Password: opPassword, FirstName: "Kiểm", LastName: "Tra", Email: "kiemtra@example.invalid", EmailVerified: true, PreferredLanguage: "vi"},
		{ID: "u2", Username: "nguoi.la", Password: opPassword, FirstName: "Người", LastName: "Lạ", Email: "nguoila@example.invalid", EmailVerified: true, PreferredLanguage: "vi"},
	})
	for k, v := range map[string]string{
		"SOHOA_INTAKE_ADDR": addr, "SOHOA_API_ADDR": "", "SOHOA_PUBLIC_URL": base,
		"SOHOA_OIDC_ISSUER": issuer, "SOHOA_OIDC_CLIENT_ID": "web", "SOHOA_OIDC_CLIENT_SECRET": "secret",
		"SOHOA_OIDC_LABEL": "Đăng nhập bằng tài khoản một cửa của tỉnh",
	} {
		t.Setenv(k, v)
	}
	serveLog := startCommand(t, "serve")
	waitHTTP(t, base+"/healthz")
	ctx := newBrowser(t)

	step(t, ctx, "open /review signed out", chromedp.Navigate(base+"/review"), chromedp.WaitVisible(chromedp.CSS("#sso")))
	if sso := text(t, ctx, "#sso"); sso != "Đăng nhập bằng tài khoản một cửa của tỉnh" {
		t.Errorf("single sign-on button %q", sso)
	}
	if *screenshots != "" {
		if shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(*screenshots, "oidc-signin.png"), shot, 0o644)
		}
	}
	step(t, ctx, "single sign-on", chromedp.Click(chromedp.CSS("#sso")), chromedp.WaitVisible(chromedp.CSS("#username")))
	if loc := location(t, ctx); !strings.HasPrefix(loc, issuer) {
		t.Fatalf("the button led to %q, want the provider %s", loc, issuer)
	}
	step(t, ctx, "sign in at the provider",
		chromedp.SendKeys(chromedp.CSS("#username"), "dev-reviewer"),
		chromedp.SendKeys(chromedp.CSS("#password"), opPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".who")))
	if loc := location(t, ctx); loc != base+"/review" {
		t.Errorf("after single sign-on the browser is at %q, want %s/review", loc, base)
	}
	if who := text(t, ctx, ".who"); !strings.Contains(who, "Cán bộ kiểm tra") || !strings.Contains(who, "Đăng xuất") {
		t.Errorf("header %q: want the account's role (reviewer) and sign-out", who)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var session bool
	for _, c := range cookies.Cookies {
		switch c.Name {
		case "sohoa-session":
			session = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict", c)
			}
		case "sohoa-oidc":
			t.Errorf("the single sign-on flow cookie outlived its callback: %+v", c)
		}
	}
	if !session {
		t.Error("no session cookie after single sign-on")
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || len(shot) == 0 {
		t.Fatalf("screenshot: %v", err)
	}
	if *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "oidc-signed-in.png"), shot, 0o644)
	}

	// Signing out works as for any session; then someone without an
	// account is refused.
	step(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)), chromedp.WaitVisible(chromedp.CSS("#sso")))
	step(t, ctx, "single sign-on again", chromedp.Click(chromedp.CSS("#sso")), chromedp.WaitVisible(chromedp.CSS("#username")))
	step(t, ctx, "sign in at the provider as someone sohoa does not know",
		chromedp.SendKeys(chromedp.CSS("#username"), "nguoi.la"),
		chromedp.SendKeys(chromedp.CSS("#password"), opPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice")))
	if n := text(t, ctx, ".notice"); !strings.Contains(n, "chưa được cấp quyền vào hệ thống số hóa") {
		t.Errorf("unknown account: notice %q", n)
	}
	if status := lastStatus(t, base+"/signin/oidc/callback", serveLog.String()); status != http.StatusForbidden {
		t.Errorf("unknown account answered %d, want 403", status)
	}

	// The audit log holds both attempts as single sign-on.
	var ids []string
	for _, line := range strings.Split(serveLog.String(), "\n") {
		var l struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			Endpoint  string `json:"endpoint"`
			Rule      string `json:"rule"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "staff" && l.Endpoint == "GET /signin/oidc/callback" {
			ids = append(ids, l.RequestID+" "+l.Rule)
		}
	}
	if len(ids) != 2 || !strings.HasSuffix(ids[0], " signed_in") || !strings.HasSuffix(ids[1], " unknown_account") {
		t.Fatalf("callbacks in the serve log: %v, want signed_in then unknown_account", ids)
	}
	for _, id := range ids {
		reqID, _, _ := strings.Cut(id, " ")
		rec, ok := findAuditRecord(t, reqID, 30*time.Second)
		if !ok || rec.AuthMethod != "oidc" || rec.Staff == "" {
			t.Errorf("audit record of %s: %+v (found %v), want auth method oidc and the account ID", id, rec, ok)
		}
	}
	logs := serveLog.String()
	if !strings.Contains(logs, "single sign-on ready") {
		t.Error("serve did not log that the provider answers")
	}
	for _, secret := range []string{"dev-reviewer", "nguoi.la", opPassword, "kiemtra@"} {
		if strings.Contains(logs, secret) {
			t.Errorf("serve log shows %q", secret)
		}
	}
	storagetest.CheckLog(t, logs, nil, nil)
}

// location is the browser's current URL.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	loc, err := chromedp.Run(sctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// lastStatus is the status of the last staff request to endpoint's path
// in the serve log.
func lastStatus(t *testing.T, endpoint, logs string) int {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	status := 0
	for _, line := range strings.Split(logs, "\n") {
		var l struct {
			Msg, Endpoint string
			Status        int
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "staff" && l.Endpoint == fmt.Sprintf("GET %s", u.Path) {
			status = l.Status
		}
	}
	return status
}
