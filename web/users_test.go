package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"sohoa/audit"
)

const otherOffice = "000.00.32.H29"

var newPasswordRe = regexp.MustCompile(`<code id="new-password" class="password" data-account="([^"]+)">([^<]+)</code>`)

// newPassword is the generated password of an answer page and its account.
func newPassword(t *testing.T, body string) (account, pw string) {
	t.Helper()
	m := newPasswordRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("answer page shows no generated password:\n%s", body)
	}
	return m[1], m[2]
}

// supervisorOn signs in the supervisor quanly1 and opens /users.
func supervisorOn(t *testing.T, e *env, pw string) (*browser, string) {
	t.Helper()
	b := newBrowser(t, e.app(nil))
	resp, _ := b.signin("quanly1", pw)
	wantStatus(t, "supervisor sign-in", resp, http.StatusSeeOther)
	resp, page := b.get("/users")
	wantStatus(t, "GET /users", resp, 200)
	return b, page
}

// noSecret fails when s appears in any log line or audit record.
func noSecret(t *testing.T, e *env, what, s string) {
	t.Helper()
	if strings.Contains(e.logs.String(), s) {
		t.Errorf("%s appears in the log", what)
	}
	for _, r := range e.audit.records() {
		j, _ := json.Marshal(r)
		if strings.Contains(string(j), s) {
			t.Errorf("%s appears in audit record %s", what, j)
		}
	}
}

func (e *env) auditedAs(rule string) []audit.Record {
	var out []audit.Record
	for _, r := range e.audit.records() {
		if r.Rule == rule {
			out = append(out, r)
		}
	}
	return out
}

func TestUsersSupervisorManagesAccounts(t *testing.T) {
	e := newEnv(t)
	supPW := e.user("quanly1", RoleSupervisor)
	if _, err := e.accts.Create(context.Background(), "xa.khac", "Cán bộ xã khác", RoleCounter, otherOffice, "other-office-pw-123", "cli"); err != nil {
		t.Fatal(err)
	}
	b, page := supervisorOn(t, e, supPW)
	for _, want := range []string{`<table id="users">`, `data-user="quanly1"`, `data-role="supervisor"`, `data-state="active"`, "Cán bộ quản lý",
		`id="add-user"`, `value="000.00.31.H29"`, `id="hidden-accounts" data-count="1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("/users lacks %q", want)
		}
	}
	if strings.Contains(page, "xa.khac") || strings.Contains(page, "Cán bộ xã khác") {
		t.Error("/users lists an account of another office")
	}
	tok := csrf(t, page)

	// Add: the generated password is shown once and signs in.
	resp, body := b.post("/users", url.Values{"csrf": {tok}, "user": {" Quay.Moi "}, "name": {"  Nguyễn   Văn Mới "}, "role": {"counter"}, "office": {""}})
	wantStatus(t, "add", resp, 200)
	id, pw := newPassword(t, body)
	if !strings.Contains(body, "Mật khẩu chỉ hiển thị một lần này") || !strings.Contains(body, "quay.moi") {
		t.Error("answer page lacks the once-only note or the user name")
	}
	if strings.Contains(resp.Request.URL.String(), pw) {
		t.Error("password in the URL")
	}
	acct, err := e.accts.ByID(context.Background(), id)
	if err != nil || acct.User != "quay.moi" || acct.Name != "Nguyễn Văn Mới" || acct.Role != RoleCounter || acct.Office != "000.00.31.H29" {
		t.Fatalf("created %+v (%v)", acct, err)
	}
	clerk := newBrowser(t, e.app(nil))
	resp, _ = clerk.signin("quay.moi", pw)
	wantStatus(t, "sign-in with the generated password", resp, http.StatusSeeOther)
	if resp, _ := clerk.get("/"); resp.StatusCode != 200 {
		t.Fatalf("new clerk home: %d", resp.StatusCode)
	}
	_, page = b.get("/users")
	if !strings.Contains(page, `data-user="quay.moi" data-account="`+id+`" data-role="counter" data-state="active"`) {
		t.Error("the new account is not listed")
	}

	// Reset: needs the confirmation; a new password, the old one no longer works.
	resp, body = b.post("/users/"+id+"/reset", url.Values{"csrf": {tok}})
	wantStatus(t, "reset unconfirmed", resp, http.StatusBadRequest)
	if !strings.Contains(body, `id="user-error"`) || !strings.Contains(body, "ô xác nhận") {
		t.Error("unconfirmed reset not explained")
	}
	resp, body = b.post("/users/"+id+"/reset", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	wantStatus(t, "reset", resp, 200)
	id2, pw2 := newPassword(t, body)
	if id2 != id || pw2 == pw {
		t.Fatal("reset did not show a new password for the account")
	}
	if resp, _ := clerk.get("/batches"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the reset did not end the clerk's session: %d", resp.StatusCode)
	}
	c2 := newBrowser(t, e.app(nil))
	if resp, _ := c2.signin("quay.moi", pw); resp.StatusCode == http.StatusSeeOther {
		t.Error("the old password still signs in")
	}
	if resp, _ := c2.signin("quay.moi", pw2); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the reset password does not sign in: %d", resp.StatusCode)
	}

	// Disable ends the session; enable; role.
	resp, _ = b.post("/users/"+id+"/disable", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	wantStatus(t, "disable", resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/users/"+id+"?done=disabled" {
		t.Errorf("disable went to %q", loc)
	}
	resp, body = c2.get("/batches")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("the disabled clerk's session still opens pages: %d", resp.StatusCode)
	}
	if resp, _ := newBrowser(t, e.app(nil)).signin("quay.moi", pw2); resp.StatusCode == http.StatusSeeOther {
		t.Error("a disabled account signs in")
	}
	_, body = b.get("/users/" + id + "?done=disabled")
	if !strings.Contains(body, `data-state="disabled"`) || !strings.Contains(body, `id="user-done"`) || !strings.Contains(body, "Đã khóa tài khoản") ||
		!strings.Contains(body, `id="enable"`) {
		t.Error("account page does not confirm the disabling")
	}
	resp, _ = b.post("/users/"+id+"/enable", url.Values{"csrf": {tok}})
	wantStatus(t, "enable", resp, http.StatusSeeOther)
	resp, _ = b.post("/users/"+id+"/role", url.Values{"csrf": {tok}, "role": {"reviewer"}})
	wantStatus(t, "role", resp, http.StatusSeeOther)
	resp, _ = b.post("/users/"+id+"/role", url.Values{"csrf": {tok}, "role": {"admin"}})
	wantStatus(t, "bad role", resp, http.StatusBadRequest)
	acct, _ = e.accts.ByID(context.Background(), id)
	if acct.Disabled || acct.Role != RoleReviewer {
		t.Errorf("after enable and role: %+v", acct)
	}
	_, body = b.get("/users/" + id + "?done=role")
	if !strings.Contains(body, "Đã đổi vai trò") || !strings.Contains(body, `data-role="reviewer"`) {
		t.Error("role change not confirmed")
	}
	// Same role again: stored nothing, says so.
	resp, _ = b.post("/users/"+id+"/role", url.Values{"csrf": {tok}, "role": {"reviewer"}})
	if loc := resp.Header.Get("Location"); !strings.HasSuffix(loc, "?done=unchanged") {
		t.Errorf("unchanged role went to %q", loc)
	}

	for _, rule := range []string{"users_viewed", "user_created", "user_password_reset", "user_disabled", "user_enabled", "user_role_changed", "user_viewed"} {
		recs := e.auditedAs(rule)
		if len(recs) == 0 {
			t.Errorf("no audit record %s", rule)
		}
		for _, r := range recs {
			if r.Staff == "" || r.StaffRole != "supervisor" || r.Decision != audit.Allow {
				t.Errorf("%s record %+v", rule, r)
			}
			if rule != "users_viewed" && r.Target != id {
				t.Errorf("%s target %q, want the account ID", rule, r.Target)
			}
		}
	}
	noSecret(t, e, "the generated password", pw)
	noSecret(t, e, "the reset password", pw2)
	noSecret(t, e, "the user name", "quay.moi")
	noSecret(t, e, "the full name", "Nguyễn Văn Mới")
}

func TestUsersAddValidation(t *testing.T) {
	e := newEnv(t)
	supPW := e.user("quanly1", RoleSupervisor)
	e.user("quay1", RoleCounter)
	b, page := supervisorOn(t, e, supPW)
	tok := csrf(t, page)
	cases := []struct {
		name   string
		form   url.Values
		status int
		field  string
		text   string
	}{
		{"bad user name", url.Values{"user": {"Nguyễn A"}, "role": {"counter"}}, 400, "user", "Tên đăng nhập dài 2–64 ký tự"},
		{"taken", url.Values{"user": {"QUAY1"}, "role": {"counter"}}, 409, "user", "đã có người dùng"},
		{"bad role", url.Values{"user": {"moi1"}, "role": {"admin"}}, 400, "role", "Hãy chọn vai trò"},
		{"bad office", url.Values{"user": {"moi1"}, "role": {"counter"}, "office": {"H29"}}, 400, "office", "13 ký tự"},
		{"citizen ID in name", url.Values{"user": {"moi1"}, "name": {"Nguyễn A 001203004567"}, "role": {"counter"}}, 400, "name", "9 chữ số"},
		{"other office", url.Values{"user": {"moi1"}, "role": {"counter"}, "office": {otherOffice}}, 403, "office", "đơn vị của mình"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.form.Set("csrf", tok)
			resp, body := b.post("/users", c.form)
			wantStatus(t, c.name, resp, c.status)
			if !strings.Contains(body, `class="field-error" id="err-`+c.field+`" data-field="`+c.field+`">`) || !strings.Contains(body, c.text) {
				t.Errorf("no Vietnamese error beside %s:\n%s", c.field, body)
			}
			if !strings.Contains(body, `id="add-user"`) || strings.Contains(body, `id="new-password"`) {
				t.Error("the form is not shown again, or a password is")
			}
		})
	}
	if n := len(e.auditedAs("user_other_office")); n != 1 {
		t.Errorf("%d user_other_office records, want 1", n)
	}
	for _, r := range e.audit.records() {
		if strings.HasPrefix(r.Rule, "user_create") || r.Rule == "user_exists" || r.Rule == "user_other_office" {
			if r.Decision != audit.Deny || r.Target == "" || strings.Contains(r.Target, "moi1") {
				t.Errorf("refusal record %+v", r)
			}
		}
	}
	if list, _ := e.accts.List(context.Background()); len(list) != 2 {
		t.Errorf("%d accounts after refusals, want 2", len(list))
	}
}

func TestUsersOtherOfficeRefused(t *testing.T) {
	e := newEnv(t)
	supPW := e.user("quanly1", RoleSupervisor)
	other, err := e.accts.Create(context.Background(), "xa.khac", "", RoleCounter, otherOffice, "other-office-pw-123", "cli")
	if err != nil {
		t.Fatal(err)
	}
	b, page := supervisorOn(t, e, supPW)
	tok := csrf(t, page)
	resp, body := b.get("/users/" + other.ID)
	wantStatus(t, "open another office's account", resp, http.StatusForbidden)
	if !strings.Contains(body, "thuộc đơn vị khác") || strings.Contains(body, "xa.khac") {
		t.Error("refusal not explained, or names the account")
	}
	for _, action := range []string{"reset", "disable", "enable", "role"} {
		resp, body := b.post("/users/"+other.ID+"/"+action, url.Values{"csrf": {tok}, "confirm": {"yes"}, "role": {"supervisor"}})
		wantStatus(t, action+" another office's account", resp, http.StatusForbidden)
		if strings.Contains(body, `id="new-password"`) {
			t.Error("a password was shown")
		}
	}
	if got, _ := e.accts.ByID(context.Background(), other.ID); got.Version != 1 {
		t.Errorf("another office's account was changed: %+v", got)
	}
	recs := e.auditedAs("user_other_office")
	if len(recs) != 5 {
		t.Fatalf("%d user_other_office records, want 5", len(recs))
	}
	for _, r := range recs {
		if r.Decision != audit.Deny || r.Status != 403 || r.Target != other.ID {
			t.Errorf("record %+v", r)
		}
	}
	resp, _ = b.get("/users/nope")
	wantStatus(t, "no such account", resp, http.StatusNotFound)
}

func TestUsersSelfChangesRefused(t *testing.T) {
	e := newEnv(t)
	supPW := e.user("quanly1", RoleSupervisor)
	me := e.accts.ID("quanly1")
	b, page := supervisorOn(t, e, supPW)
	tok := csrf(t, page)
	_, body := b.get("/users/" + me)
	if strings.Contains(body, `id="disable"`) || strings.Contains(body, `id="set-role"`) || !strings.Contains(body, `id="self-note"`) {
		t.Error("own account page offers disabling or a role change")
	}
	resp, body := b.post("/users/"+me+"/disable", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	wantStatus(t, "self-disable", resp, http.StatusConflict)
	if !strings.Contains(body, "không thể tự khóa") {
		t.Error("self-disable not explained")
	}
	resp, body = b.post("/users/"+me+"/role", url.Values{"csrf": {tok}, "role": {"counter"}})
	wantStatus(t, "self-demotion", resp, http.StatusConflict)
	if !strings.Contains(body, "không thể tự đổi vai trò") {
		t.Error("self-demotion not explained")
	}
	if acct, _ := e.accts.ByID(context.Background(), me); acct.Disabled || acct.Role != RoleSupervisor || acct.Version != 1 {
		t.Errorf("own account changed: %+v", acct)
	}
	if resp, _ := b.get("/users"); resp.StatusCode != 200 {
		t.Error("supervisor signed out by refused self-changes")
	}
	for _, rule := range []string{"user_disable_refused_self", "user_role_refused_self"} {
		if len(e.auditedAs(rule)) != 1 {
			t.Errorf("no audit record %s", rule)
		}
	}
}

func TestUsersRolesAndCSRF(t *testing.T) {
	e := newEnv(t)
	supPW := e.user("quanly1", RoleSupervisor)
	pws := map[string]string{"quay1": e.user("quay1", RoleCounter), "kiemtra1": e.user("kiemtra1", RoleReviewer)}
	target := e.accts.ID("quay1")
	srv := e.app(nil)
	for user, pw := range pws {
		b := newBrowser(t, srv)
		b.signin(user, pw)
		_, home := b.get("/")
		tok := csrf(t, home)
		if resp, _ := b.get("/users"); resp.StatusCode != 403 {
			t.Errorf("%s GET /users: %d", user, resp.StatusCode)
		}
		if resp, _ := b.get("/users/" + target); resp.StatusCode != 403 {
			t.Errorf("%s GET /users/ID: %d", user, resp.StatusCode)
		}
		if resp, _ := b.post("/users", url.Values{"csrf": {tok}, "user": {"moi"}, "role": {"supervisor"}}); resp.StatusCode != 403 {
			t.Errorf("%s POST /users: %d", user, resp.StatusCode)
		}
		if resp, _ := b.post("/users/"+target+"/disable", url.Values{"csrf": {tok}, "confirm": {"yes"}}); resp.StatusCode != 403 {
			t.Errorf("%s disable: %d", user, resp.StatusCode)
		}
	}
	b := newBrowser(t, srv)
	b.signin("quanly1", supPW)
	for _, p := range []string{"/users", "/users/" + target + "/disable", "/users/" + target + "/reset"} {
		resp, body := b.post(p, url.Values{"user": {"moi"}, "role": {"counter"}, "confirm": {"yes"}})
		wantStatus(t, "POST "+p+" without CSRF", resp, http.StatusForbidden)
		if strings.Contains(body, `id="new-password"`) {
			t.Error("a password was shown")
		}
	}
	if list, _ := e.accts.List(context.Background()); len(list) != 3 {
		t.Errorf("%d accounts, want 3", len(list))
	}
	if acct, _ := e.accts.ByID(context.Background(), target); acct.Version != 1 {
		t.Errorf("the clerk's account changed: %+v", acct)
	}
	if n := len(e.auditedAs("csrf_missing")); n != 3 {
		t.Errorf("%d csrf_missing records, want 3", n)
	}
	if n := len(e.auditedAs("role_forbidden")); n != 8 {
		t.Errorf("%d role_forbidden records, want 8", n)
	}
}

func TestUsersSelfReset(t *testing.T) {
	e := newEnv(t)
	supPW := e.user("quanly1", RoleSupervisor)
	me := e.accts.ID("quanly1")
	b, page := supervisorOn(t, e, supPW)
	resp, body := b.post("/users/"+me+"/reset", url.Values{"csrf": {csrf(t, page)}, "confirm": {"yes"}})
	wantStatus(t, "own reset", resp, 200)
	_, pw := newPassword(t, body)
	if !strings.Contains(body, "hãy đăng nhập lại bằng mật khẩu mới") {
		t.Error("own reset does not say to sign in again")
	}
	if resp, _ := b.get("/users"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("own session after own reset: %d, want ended", resp.StatusCode)
	}
	if resp, _ := newBrowser(t, e.app(nil)).signin("quanly1", pw); resp.StatusCode != http.StatusSeeOther {
		t.Error("the new own password does not sign in")
	}
	noSecret(t, e, "the new password", pw)
}
