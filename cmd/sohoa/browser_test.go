package main

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"sohoa/internal/testenv"
	"sohoa/storage/storagetest"
)

var screenshots = flag.String("screenshots", "", "also save the browser tests' screenshots in this folder (the README's images)")

// devSignin reads one development sign-in of a serve in development mode.
func devSignin(t *testing.T, keysDir, role string) (user, password string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(keysDir, "dev-users.txt"))
	if err != nil {
		t.Fatalf("development sign-ins: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(keysDir, "dev-users.txt")); st.Mode().Perm() != 0o600 {
		t.Errorf("dev-users.txt has mode %v, want 0600", st.Mode().Perm())
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == role {
			return f[1], f[2]
		}
	}
	t.Fatalf("no %s in dev-users.txt", role)
	return "", ""
}

// newBrowser starts headless Chromium (Debian's, from deploy/local/deps.sh)
// at the size of an office screen.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := testenv.MustHaveExecPath(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1366, 768),
		chromedp.Flag("lang", "vi-VN"))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses its sandbox as root
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser without a deadline
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// step runs browser actions with a deadline.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// TestBrowserSignIn drives a real browser against a real `sohoa serve`: a
// signed-out visitor gets the Vietnamese sign-in page, a counter clerk
// signs in with a development sign-in and gets the upload page, a file
// uploaded from it is accepted with the session (cookie + CSRF header, no
// access token), and after signing out a supervisor gets the home page of
// the role.
func TestBrowserSignIn(t *testing.T) {
	local := stackTest(t, 11)
	addr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", addr)
	t.Setenv("SOHOA_API_ADDR", "")
	serveLog := startCommand(t, "serve")
	base := "http://" + addr
	waitHTTP(t, base+"/healthz")
	user, password := devSignin(t, filepath.Join(local, "keys"), "counter")
	ctx := newBrowser(t)

	step(t, ctx, "open /", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#user")))
	if h := text(t, ctx, "h1"); h != "Đăng nhập" {
		t.Fatalf("signed out, / shows %q, want the sign-in page", h)
	}
	step(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.CSS("#user"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")))
	if h := text(t, ctx, "h1"); !strings.Contains(h, "Tiếp nhận bản quét hồ sơ") {
		t.Fatalf("after sign-in: %q, want the upload page", h)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	texts, err := chromedp.Run(sctx, chromedp.TextContent(chromedp.CSS("#upload-config")))
	cancel()
	if err != nil {
		t.Fatalf("reason texts: %v", err)
	}
	if !strings.Contains(texts, "mã hồ sơ đã được dùng cho hồ sơ khác") {
		t.Errorf("the upload page lacks the Vietnamese text of dossier_code_taken: %.200s", texts)
	}
	if who := text(t, ctx, ".who"); !strings.Contains(who, "Cán bộ tiếp nhận") || !strings.Contains(who, "Đăng xuất") {
		t.Errorf("header %q does not name the role and offer sign-out", who)
	}
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cookies.Cookies {
		if c.Name == "sohoa-session" {
			found = true
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || !c.Session {
				t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, gone with the browser", c)
			}
		}
	}
	if !found {
		t.Error("no session cookie in the browser")
	}
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "upload-page.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if st, serr := os.Stat(path); serr != nil || st.Size() == 0 || err != nil || img.Bounds().Dx() < 1000 {
		t.Fatalf("screenshot %s: %v %v", path, serr, err)
	}
	t.Logf("screenshot of the upload page: %s (%d bytes)", path, len(shot))
	if *screenshots != "" {
		if err := os.WriteFile(filepath.Join(*screenshots, "upload-page.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}

	// Upload one file from the page: the session and its CSRF token are
	// enough (no worker runs, so it stays queued).
	scan := filepath.Join(t.TempDir(), "to-khai.jpg")
	os.WriteFile(scan, []byte("not really a scan, but bytes to store"), 0o600)
	step(t, ctx, "upload",
		chromedp.SetUploadFiles(chromedp.CSS("#file-input"), []string{scan}),
		chromedp.Click(chromedp.CSS("#start-upload")),
		chromedp.WaitVisible(chromedp.CSS(`#files tbody tr.file[data-state="processing"]`)))
	if row := text(t, ctx, "#files tbody tr.file"); !strings.Contains(row, "to-khai.jpg") ||
		!(strings.Contains(row, "Đã tiếp nhận") || strings.Contains(row, "Đang nhận dạng")) {
		t.Errorf("upload row %q: want the file accepted", row)
	}

	// Sign out: back to the sign-in page.
	step(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`form[action="/signout"] button`)), chromedp.WaitVisible(chromedp.CSS("#user")))
	if n := text(t, ctx, ".notice"); !strings.Contains(n, "Bạn đã đăng xuất") {
		t.Errorf("after sign-out: %q", n)
	}

	// A supervisor gets the home page of the role, with its sections.
	suser, spassword := devSignin(t, filepath.Join(local, "keys"), "supervisor")
	step(t, ctx, "sign in as supervisor",
		chromedp.SendKeys(chromedp.CSS("#user"), suser),
		chromedp.SendKeys(chromedp.CSS("#password"), spassword),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("ul.tiles")))
	if who, tiles := text(t, ctx, ".who"), text(t, ctx, "ul.tiles"); !strings.Contains(who, "Cán bộ quản lý") ||
		!strings.Contains(tiles, "Hàng đợi kiểm tra") || !strings.Contains(tiles, "Tài khoản cán bộ") {
		t.Errorf("supervisor home: header %q, sections %q", who, tiles)
	}
	shot, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil || len(shot) == 0 {
		t.Fatalf("screenshot: %v", err)
	}
	if *screenshots != "" {
		os.WriteFile(filepath.Join(*screenshots, "supervisor-home.png"), shot, 0o644)
	}

	logs := serveLog.String()
	for _, want := range []string{`"rule":"signed_in"`, `"rule":"signed_out"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("serve log lacks %s", want)
		}
	}
	for _, secret := range []string{password, user, spassword, suser} {
		if strings.Contains(logs, secret) {
			t.Error("serve log shows a password or a user name")
		}
	}
	storagetest.CheckLog(t, logs, nil, nil)
}
