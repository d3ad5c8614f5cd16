// Package testenv decides, in one place, what a test does when a tool or
// service it needs is missing, after Go's internal/testenv
// (MustHaveExecPath). Import it from _test.go files only.
//
// The rule: in strict mode a missing prerequisite fails the test with a
// message saying what is missing and how to get it; otherwise the test is
// skipped. Strict mode is on when SOHOA_TEST_STRICT is true (make test sets
// SOHOA_TEST_STRICT=1), or, when SOHOA_TEST_STRICT is unset, when CI is true
// (as CI services set it). SOHOA_TEST_STRICT=0 turns strict mode off even
// under CI. testing.Short() is a separate matter: callers may still skip
// integration tests under -short.
package testenv

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StrictEnv is the variable that makes missing prerequisites fail.
const StrictEnv = "SOHOA_TEST_STRICT"

// StackHint tells how to get the local stack's services and settings.
const StackHint = `start the local stack: bash deploy/local/stack.sh start; eval "$(bash deploy/local/stack.sh env)" (make test does both)`

// Strict reports whether a missing tool or service fails a test rather than
// skipping it, from the process environment.
func Strict() bool { return strict(os.LookupEnv) }

// strict is Strict over an injected environment lookup.
func strict(lookup func(string) (string, bool)) bool {
	if v, ok := lookup(StrictEnv); ok && v != "" {
		b, err := strconv.ParseBool(v)
		// A value that is not a boolean ("yes", a typo) is strict: a
		// mistake must never turn failures into skips.
		return err != nil || b
	}
	if v, ok := lookup("CI"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		return err == nil && b
	}
	return false
}

// tb is the part of testing.TB the checks use, so tests of this package
// can observe the decision with a fake.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// env is where the checks look: the process in tests of other packages, a
// fake in this package's tests.
type env struct {
	lookupEnv func(string) (string, bool)
	lookPath  func(string) (string, error)
	stat      func(string) (fs.FileInfo, error)
	dial      func(network, addr string, timeout time.Duration) (net.Conn, error)
}

func osEnv() env {
	return env{lookupEnv: os.LookupEnv, lookPath: exec.LookPath, stat: os.Stat, dial: net.DialTimeout}
}

// missing fails t in strict mode, skips it otherwise.
func (e env) missing(t tb, what, hint string) {
	t.Helper()
	if strict(e.lookupEnv) {
		t.Fatalf("%s; %s (strict mode: %s=1 or CI=true, so this fails instead of skipping)", what, hint, StrictEnv)
		return
	}
	t.Skipf("%s; %s (skipped; %s=1 makes this a failure)", what, hint, StrictEnv)
}

// Missing reports a prerequisite that is absent: it fails t in strict mode
// and skips it otherwise. what says what is missing, hint how to get it.
// Use it for a check the helpers below do not cover.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	osEnv().missing(t, what, hint)
}

// MustHaveExecPath returns the path of executable name found in $PATH, or
// fails (strict) or skips the test when there is none.
func MustHaveExecPath(t testing.TB, name string) string {
	t.Helper()
	return osEnv().mustHaveExecPath(t, name)
}

func (e env) mustHaveExecPath(t tb, name string) string {
	t.Helper()
	p, err := e.lookPath(name)
	if err != nil {
		e.missing(t, fmt.Sprintf("%s is required: %v", name, err), "install it: make deps")
		return ""
	}
	return p
}

// MustHaveFile returns path if it exists (a file or a directory), or fails
// (strict) or skips the test; hint says how to get it (e.g. "make deps
// installs it", "the corpus is ../shared beside the checkout").
func MustHaveFile(t testing.TB, path, hint string) string {
	t.Helper()
	return osEnv().mustHaveFile(t, path, hint)
}

func (e env) mustHaveFile(t tb, path, hint string) string {
	t.Helper()
	if _, err := e.stat(path); err != nil {
		e.missing(t, fmt.Sprintf("%s is required: %v", path, err), hint)
		return ""
	}
	return path
}

// MustHaveEnv returns the values of the environment variables names, in
// order, or fails (strict) or skips the test when any is unset or empty,
// naming all that are. The variables are the local stack's settings
// (SOHOA_S3_ENDPOINT, SOHOA_REDIS_ADDR, …), so the hint says how to start it.
func MustHaveEnv(t testing.TB, names ...string) []string {
	t.Helper()
	return osEnv().mustHaveEnv(t, names...)
}

func (e env) mustHaveEnv(t tb, names ...string) []string {
	t.Helper()
	vals := make([]string, len(names))
	var unset []string
	for i, n := range names {
		vals[i], _ = e.lookupEnv(n)
		if vals[i] == "" {
			unset = append(unset, n)
		}
	}
	if len(unset) > 0 {
		e.missing(t, strings.Join(unset, ", ")+" unset", StackHint)
		return nil
	}
	return vals
}

// MustHaveService checks that something accepts TCP connections at addr
// (host:port, or a URL such as http://host:port) and fails (strict) or skips
// the test when nothing does; name is what should listen there ("S3",
// "Redis").
func MustHaveService(t testing.TB, name, addr string) {
	t.Helper()
	osEnv().mustHaveService(t, name, addr)
}

func (e env) mustHaveService(t tb, name, addr string) {
	t.Helper()
	hostport := addr
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		hostport, _, _ = strings.Cut(rest, "/")
	}
	c, err := e.dial("tcp", hostport, 2*time.Second)
	if err != nil {
		e.missing(t, fmt.Sprintf("%s is not reachable at %s: %v", name, hostport, err), StackHint)
		return
	}
	c.Close()
}
