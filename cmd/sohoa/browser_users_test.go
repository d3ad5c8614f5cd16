package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserUsers: in a real browser, a supervisor adds a counter clerk
// on /users, reads the generated password off the answer page, and locks
// the account after ticking the confirmation; the clerk's sign-in with
// that password is then refused. The pages' own stylesheet applies (no
// inline style: the CSP refuses it).
func TestBrowserUsers(t *testing.T) {
	local := stackTest(t, 12)
	addr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", addr)
	t.Setenv("SOHOA_API_ADDR", "")
	serveLog := startCommand(t, "serve")
	base := "http://" + addr
	waitHTTP(t, base+"/healthz")
	user, password := devSignin(t, filepath.Join(local, "keys"), "supervisor")

	ctx := newBrowser(t)
	step(t, ctx, "sign in", chromedp.Navigate(base+"/users"), chromedp.WaitVisible(chromedp.CSS("#user")),
		chromedp.SendKeys(chromedp.CSS("#user"), user), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#users tr[data-user="`+user+`"]`)))
	if h := text(t, ctx, "h1"); h != "Tài khoản cán bộ" {
		t.Errorf("/users heading %q", h)
	}
	if row := text(t, ctx, `#users tr[data-user="`+user+`"]`); !strings.Contains(row, "Cán bộ quản lý") || !strings.Contains(row, "Đang hoạt động") {
		t.Errorf("own row %q", row)
	}

	// A malformed user name is explained beside the field.
	step(t, ctx, "add with a bad name",
		chromedp.SendKeys(chromedp.CSS("#add-user-name"), "Lê Quầy"),
		chromedp.Click(chromedp.CSS(`#add-user button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#add-user .field-error[data-field=user]`)))
	if e := text(t, ctx, `#add-user .field-error[data-field=user]`); !strings.Contains(e, "chữ thường không dấu") {
		t.Errorf("user name error %q", e)
	}
	step(t, ctx, "add",
		chromedp.SetValue(chromedp.CSS("#add-user-name"), "le.quay"),
		chromedp.SendKeys(chromedp.CSS("#add-full-name"), "Lê Thị Quầy"),
		chromedp.SetValue(chromedp.CSS("#add-role"), "counter"),
		chromedp.Click(chromedp.CSS(`#add-user button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#new-password")))
	pw := text(t, ctx, "#new-password")
	if len(pw) != 23 {
		t.Fatalf("generated password %q", pw)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(loc, pw) || !strings.HasSuffix(loc, "/users") {
		t.Errorf("answer page at %s", loc)
	}
	size, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("#new-password")).fontSize`))
	if err != nil || size != "24px" {
		t.Errorf("users.css not applied: font-size %q %v", size, err)
	}
	shot(t, ctx, "users-password.png")

	step(t, ctx, "open the account", chromedp.Navigate(base+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`#users tr[data-user="le.quay"][data-state=active]`)),
		chromedp.Click(chromedp.CSS(`#users tr[data-user="le.quay"] a[data-manage]`)),
		chromedp.WaitVisible(chromedp.CSS(`#account[data-state=active] #disable`)))
	step(t, ctx, "lock", chromedp.Click(chromedp.CSS(`#disable input[name=confirm]`)),
		chromedp.Click(chromedp.CSS(`#disable button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#account[data-state=disabled] #user-done`)))
	if n := text(t, ctx, "#user-done"); !strings.Contains(n, "Đã khóa tài khoản") {
		t.Errorf("after locking: %q", n)
	}
	shot(t, ctx, "users-account.png")
	step(t, ctx, "list", chromedp.Navigate(base+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`#users tr[data-user="le.quay"][data-state=disabled]`)))
	shot(t, ctx, "users.png")

	// The locked clerk cannot sign in with the password.
	c := newWebClient(t, base)
	_, page := c.do("GET", "/signin", nil)
	resp, _ := c.do("POST", "/signin", map[string][]string{"csrf": {pageCSRF(t, page)}, "user": {"le.quay"}, "password": {pw}, "next": {"/"}})
	if resp.StatusCode == 303 {
		t.Error("a locked account signed in")
	}
	if strings.Contains(serveLog.String(), pw) || strings.Contains(serveLog.String(), "le.quay") {
		t.Error("serve's log holds the password or the user name")
	}
}
