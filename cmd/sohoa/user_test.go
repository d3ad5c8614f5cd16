package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"sohoa/audit"
	"sohoa/web"
)

// userCmd runs `sohoa user ARGS` with stdin and returns its exit code and
// output.
func userCmd(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	fs := newFlagSet("user", commands()["user"].synopsis, processEnv(), &errOut, commands()["user"].groups)
	err := runUserCmd(context.Background(), fs, args, strings.NewReader(stdin), &out)
	code := 0
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		code = 1
	}
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return code, out.String() + errOut.String()
}

// TestUserCommand: `sohoa user` makes the first supervisor and manages
// accounts; passwords come from stdin or are generated and shown once.
func TestUserCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	requireStack(t)
	isolate(t, 7)
	code, out := userCmd(t, "", "add", "--role", "supervisor", "--office", "000.00.00.H00", "--name", "Trần Thị Quản Lý", "Truong.Phong")
	pwRe := regexp.MustCompile(`(?m)^password: (\S+)$`)
	m := pwRe.FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(out, "created truong.phong (supervisor, office 000.00.00.H00)") {
		t.Fatalf("user add: exit %d:\n%s", code, out)
	}
	generated := m[1]

	cfg := envConfig(t)
	repo, err := openRepository(context.Background(), cfg, cfg.logger(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	accts, err := newStaffAccounts(cfg, repo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := accts.Verify(context.Background(), "truong.phong", generated); err != nil || a.Role != web.RoleSupervisor || a.Name != "Trần Thị Quản Lý" {
		t.Fatalf("the generated password does not sign in: %+v %v", a, err)
	}

	for _, tc := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"mật khẩu quầy số một\n", []string{"add", "--role", "counter", "--office", "000.00.31.H29", "--password-stdin", "quay1"}, 0, "created quay1 (counter, office 000.00.31.H29)"},
		{"", []string{"add", "--role", "counter", "--office", "000.00.31.H29", "quay1"}, 2, "already exists"},
		{"", []string{"add", "--role", "counter", "quay2"}, 2, "add needs --office"},
		{"ngắn\n", []string{"add", "--role", "counter", "--office", "000.00.31.H29", "--password-stdin", "quay2"}, 2, "password needs"},
		{"", []string{"add", "--role", "admin", "--office", "000.00.31.H29", "quay2"}, 2, "--role counter, reviewer or supervisor"},
		{"", []string{"add", "--role", "counter", "--office", "H29", "quay2"}, 2, "agency code"},
		{"", []string{"add", "--role", "counter", "--office", "000.00.31.H29"}, 2, "exactly one USER"},
		{"", []string{"disable", "khong.co"}, 2, "no such staff account"},
		{"", []string{"disable", "quay1"}, 0, "quay1 is disabled\nits sessions are ended in every serve"},
		{"", []string{"enable", "quay1"}, 0, "quay1 is enabled"},
		{"mật khẩu mới của quầy\n", []string{"reset", "--password-stdin", "quay1"}, 0, "new password set for quay1"},
		{"", []string{"role", "--role", "reviewer", "quay1"}, 0, "quay1 is reviewer, office 000.00.31.H29"},
		{"", []string{"disable", "quay1"}, 0, "disabled"},
		{"", []string{"frobnicate", "quay1"}, 2, "unknown action"},
	} {
		code, out := userCmd(t, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("user %v: exit %d, want %d with %q:\n%s", tc.args, code, tc.code, tc.want, out)
		}
		if strings.Contains(out, "password:") && strings.Contains(strings.Join(tc.args, " "), "--password-stdin") {
			t.Errorf("user %v printed a password it was given", tc.args)
		}
		if tc.stdin != "" && strings.Contains(out, strings.TrimSpace(tc.stdin)) {
			t.Errorf("user %v echoes the password", tc.args)
		}
	}
	if _, err := accts.Verify(context.Background(), "quay1", "mật khẩu mới của quầy"); !errors.Is(err, web.ErrDisabled) {
		t.Errorf("quay1 after reset and disable: %v, want disabled with the new password", err)
	}
	code, out = userCmd(t, "", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !regexp.MustCompile(`^quay1\s+reviewer\s+000\.00\.31\.H29\s+disabled\s+-\s`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^truong\.phong\s+supervisor\s+000\.00\.00\.H00\s+active\s+Trần Thị Quản Lý\s`).MatchString(lines[2]) {
		t.Errorf("user list: exit %d:\n%s", code, out)
	}
	if strings.Contains(out, generated) || strings.Contains(out, "argon2") {
		t.Error("user list shows a password or its hash")
	}

	// Every change and listing is in the audit chain, by account ID, never
	// by user name or password; and the chains verify.
	var rules []string
	if err := audit.Scan(context.Background(), repo.Bucket(), func(_ string, recs []audit.Record) error {
		for _, r := range recs {
			if r.ClientID != "cli" {
				continue
			}
			rules = append(rules, r.Rule)
			b, _ := json.Marshal(r)
			for _, secret := range []string{"quay1", "truong", generated, "mật khẩu"} {
				if strings.Contains(strings.ToLower(string(b)), strings.ToLower(secret)) {
					t.Errorf("audit record %s holds %q", b, secret)
				}
			}
			if r.Rule == "user_add" && !web.Role(r.StaffRole).Valid() {
				t.Errorf("audit record of an add without the role: %+v", r)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range rules {
		count[r]++
	}
	want := map[string]int{"user_add": 2, "user_add_refused": 2, "user_disable": 2, "user_disable_refused": 1, "user_enable": 1,
		"user_reset": 1, "user_role": 1, "user_list": 1}
	for rule, n := range want {
		if count[rule] != n {
			t.Errorf("audit: %d records %s, want %d (all: %v)", count[rule], rule, n, count)
		}
	}
	if rep, err := audit.Verify(context.Background(), repo.Bucket()); err != nil || len(rep.Breaks) > 0 {
		t.Errorf("audit chains: %v %v", err, rep.Breaks)
	}
}
