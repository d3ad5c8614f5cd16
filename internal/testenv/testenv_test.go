package testenv

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"testing"
	"time"
)

func lookupIn(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestStrict(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"CI=true", map[string]string{"CI": "true"}, true},
		{"CI=1", map[string]string{"CI": "1"}, true},
		{"CI=false", map[string]string{"CI": "false"}, false},
		{"CI empty", map[string]string{"CI": ""}, false},
		{"CI not a boolean", map[string]string{"CI": "gitlab"}, false},
		{"strict=1", map[string]string{StrictEnv: "1"}, true},
		{"strict=true", map[string]string{StrictEnv: "true"}, true},
		{"strict=0", map[string]string{StrictEnv: "0"}, false},
		{"strict=0 overrides CI=true", map[string]string{StrictEnv: "0", "CI": "true"}, false},
		{"strict=1 with CI=false", map[string]string{StrictEnv: "1", "CI": "false"}, true},
		{"strict empty falls back to CI", map[string]string{StrictEnv: "", "CI": "true"}, true},
		{"strict not a boolean is strict", map[string]string{StrictEnv: "yes"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strict(lookupIn(tc.env)); got != tc.want {
				t.Errorf("strict(%v) = %v, want %v", tc.env, got, tc.want)
			}
		})
	}
}

// fakeT records whether a check failed or skipped, and with what message.
type fakeT struct {
	fatal, skip string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
}
func (f *fakeT) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
}

// outcome is "ok", "fail" or "skip".
func (f *fakeT) outcome() string {
	switch {
	case f.fatal != "" && f.skip != "":
		return "fail and skip"
	case f.fatal != "":
		return "fail"
	case f.skip != "":
		return "skip"
	}
	return "ok"
}

func (f *fakeT) message() string { return f.fatal + f.skip }

// TestChecks runs every check with the prerequisite present and absent, in
// strict and non-strict environments.
func TestChecks(t *testing.T) {
	present := map[string]bool{"pdfsig": true, "/usr/lib/softhsm/libsofthsm2.so": true, "127.0.0.1:1": true}
	base := env{
		lookPath: func(name string) (string, error) {
			if present[name] {
				return "/usr/bin/" + name, nil
			}
			return "", errors.New(`exec: "` + name + `": executable file not found in $PATH`)
		},
		stat: func(p string) (fs.FileInfo, error) {
			if present[p] {
				return nil, nil
			}
			return nil, fs.ErrNotExist
		},
		dial: func(network, addr string, _ time.Duration) (net.Conn, error) {
			if present[addr] {
				c, s := net.Pipe()
				s.Close()
				return c, nil
			}
			return nil, errors.New("connection refused")
		},
	}
	checks := []struct {
		name      string
		run       func(e env, t tb) string
		missing   bool
		want      string // the returned value when present
		inMessage string // what the message must name when missing
	}{
		{"exec present", func(e env, t tb) string { return e.mustHaveExecPath(t, "pdfsig") }, false, "/usr/bin/pdfsig", ""},
		{"exec missing", func(e env, t tb) string { return e.mustHaveExecPath(t, "qpdf") }, true, "", "qpdf"},
		{"file present", func(e env, t tb) string {
			return e.mustHaveFile(t, "/usr/lib/softhsm/libsofthsm2.so", "make deps")
		}, false, "/usr/lib/softhsm/libsofthsm2.so", ""},
		{"file missing", func(e env, t tb) string { return e.mustHaveFile(t, "/no/corpus", "make deps") }, true, "", "/no/corpus"},
		{"env present", func(e env, t tb) string {
			return strings.Join(e.mustHaveEnv(t, "SOHOA_S3_ENDPOINT", "SOHOA_S3_ACCESS_KEY"), ",")
		}, false, "127.0.0.1:1,dev", ""},
		{"env one missing", func(e env, t tb) string {
			return strings.Join(e.mustHaveEnv(t, "SOHOA_S3_ENDPOINT", "SOHOA_S3_SECRET_KEY"), ",")
		}, true, "", "SOHOA_S3_SECRET_KEY"},
		{"service up", func(e env, t tb) string { e.mustHaveService(t, "S3", "http://127.0.0.1:1/"); return "" }, false, "", ""},
		{"service down", func(e env, t tb) string { e.mustHaveService(t, "Redis", "127.0.0.1:2"); return "" }, true, "", "Redis"},
	}
	modes := []struct {
		name string
		env  map[string]string
		miss string // outcome when the prerequisite is missing
	}{
		{"developer", map[string]string{}, "skip"},
		{"CI", map[string]string{"CI": "true"}, "fail"},
		{"make test", map[string]string{StrictEnv: "1"}, "fail"},
		{"CI opted out", map[string]string{"CI": "true", StrictEnv: "0"}, "skip"},
	}
	for _, m := range modes {
		for _, c := range checks {
			t.Run(m.name+"/"+c.name, func(t *testing.T) {
				vars := map[string]string{"SOHOA_S3_ENDPOINT": "127.0.0.1:1", "SOHOA_S3_ACCESS_KEY": "dev"}
				for k, v := range m.env {
					vars[k] = v
				}
				e := base
				e.lookupEnv = lookupIn(vars)
				ft := &fakeT{}
				got := c.run(e, ft)
				want := "ok"
				if c.missing {
					want = m.miss
				}
				if ft.outcome() != want {
					t.Fatalf("outcome = %s (%q), want %s", ft.outcome(), ft.message(), want)
				}
				if !c.missing && got != c.want {
					t.Errorf("returned %q, want %q", got, c.want)
				}
				if c.missing && !strings.Contains(ft.message(), c.inMessage) {
					t.Errorf("message %q does not name %q", ft.message(), c.inMessage)
				}
				if c.missing && !strings.Contains(ft.message(), StrictEnv) {
					t.Errorf("message %q does not say how strict mode is set", ft.message())
				}
			})
		}
	}
}

// TestMissingUsesTheProcessEnvironment: the exported helpers read the real
// environment (here forced non-strict, so a missing tool skips).
func TestMissingUsesTheProcessEnvironment(t *testing.T) {
	t.Setenv(StrictEnv, "0")
	ran := false
	t.Run("skipped", func(t *testing.T) {
		MustHaveExecPath(t, "sohoa-no-such-tool")
		ran = true
	})
	if ran {
		t.Error("MustHaveExecPath returned for a missing tool, want the subtest skipped")
	}
	if p := MustHaveExecPath(t, "go"); p == "" {
		t.Error("MustHaveExecPath(go) = empty")
	}
}
