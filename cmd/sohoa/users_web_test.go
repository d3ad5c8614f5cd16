package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"sohoa/audit"
)

// TestUsersWeb: on the real `sohoa serve` + Redis + S3, a supervisor made
// with `sohoa user add` adds a counter clerk on the /users page; the
// generated password shown once signs in; disabling the clerk on the page
// ends the clerk's session at once (in Redis, not at the next account
// check); `sohoa user list` sees the account the page made and `sohoa user
// enable` acts on it; the audit chain holds every change by account ID,
// never the user name or the password, and neither is in serve's log.
func TestUsersWeb(t *testing.T) {
	stackTest(t, 12)
	const office = "000.00.31.H29"
	const supPW = "mật khẩu của trưởng phòng"
	if code, out := userCmd(t, supPW+"\n", "add", "--role", "supervisor", "--office", office, "--password-stdin", "web.quanly"); code != 0 {
		t.Fatalf("user add: exit %d:\n%s", code, out)
	}
	intakeAddr := freeAddr(t)
	t.Setenv("SOHOA_INTAKE_ADDR", intakeAddr)
	t.Setenv("SOHOA_API_ADDR", "")
	serveLog := startCommand(t, "serve", "--api-addr", "")
	base := "http://" + intakeAddr
	waitHTTP(t, base+"/healthz")

	sup := newWebClient(t, base)
	sup.signin("web.quanly", supPW)
	resp, page := sup.do("GET", "/users", nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `data-user="web.quanly"`) || !strings.Contains(page, `id="add-user"`) {
		t.Fatalf("/users: %d\n%.2000s", resp.StatusCode, page)
	}
	tok := pageCSRF(t, page)
	resp, body := sup.do("POST", "/users", url.Values{"csrf": {tok}, "user": {"quay.web"}, "name": {"Lê Thị Quầy"}, "role": {"counter"}})
	m := regexp.MustCompile(`<code id="new-password" class="password" data-account="([^"]+)">([^<]+)</code>`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("add: %d\n%.2000s", resp.StatusCode, body)
	}
	id, pw := m[1], m[2]

	clerk := newWebClient(t, base)
	clerk.signin("quay.web", pw)
	if resp, _ := clerk.do("GET", "/batches", nil); resp.StatusCode != 200 {
		t.Fatalf("the new clerk's /batches: %d", resp.StatusCode)
	}
	resp, _ = sup.do("POST", "/users/"+id+"/disable", url.Values{"csrf": {tok}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if resp, _ := clerk.do("GET", "/batches", nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("the disabled clerk's session still opens /batches: %d", resp.StatusCode)
	}

	code, out := userCmd(t, "", "list")
	if code != 0 || !regexp.MustCompile(`(?m)^quay\.web\s+counter\s+000\.00\.31\.H29\s+disabled\s+Lê Thị Quầy\s`).MatchString(out) {
		t.Errorf("user list does not show the page's account disabled: exit %d\n%s", code, out)
	}
	if code, out := userCmd(t, "", "enable", "quay.web"); code != 0 {
		t.Fatalf("user enable: exit %d\n%s", code, out)
	}
	_, body = sup.do("GET", "/users/"+id, nil)
	if !strings.Contains(body, `data-state="active"`) || !strings.Contains(body, `id="disable"`) {
		t.Error("the page does not see the CLI's enable")
	}
	clerk = newWebClient(t, base)
	clerk.signin("quay.web", pw)

	cfg := envConfig(t)
	repo, err := openRepository(context.Background(), cfg, cfg.logger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	// serve's records reach the bucket in batches: poll for them.
	var count map[string]int
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		count = map[string]int{}
		var bad []string
		if err := audit.Scan(context.Background(), repo.Bucket(), func(_ string, recs []audit.Record) error {
			for _, r := range recs {
				b, _ := json.Marshal(r)
				for _, secret := range []string{pw, "quay.web", "web.quanly", "Lê Thị Quầy", supPW} {
					if strings.Contains(string(b), secret) {
						bad = append(bad, fmt.Sprintf("audit record %s holds %q", b, secret))
					}
				}
				if strings.HasPrefix(r.Rule, "user_") && r.ClientID == "web" {
					count[r.Rule]++
					if r.Target != id {
						bad = append(bad, fmt.Sprintf("record %s: target %q, want the account ID", r.Rule, r.Target))
					}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if (count["user_created"] == 1 && count["user_disabled"] == 1) || time.Now().After(end) {
			for _, e := range bad {
				t.Error(e)
			}
			break
		}
	}
	if count["user_created"] != 1 || count["user_disabled"] != 1 {
		t.Errorf("web account records %v, want user_created and user_disabled", count)
	}
	for _, secret := range []string{pw, "quay.web", "Lê Thị Quầy"} {
		if strings.Contains(serveLog.String(), secret) {
			t.Errorf("serve's log holds %q", secret)
		}
	}
}
