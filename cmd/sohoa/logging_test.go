package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLoggerRedactsLongDigitRuns(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "info").With("ctx", "holder 001099872198")
	log.Info("filed for 079203001234", "err", errors.New("id 031188004321 mismatch"), "n", 42, "key", "abc")
	out := buf.String()
	for _, id := range []string{"001099872198", "079203001234", "031188004321"} {
		if strings.Contains(out, id) {
			t.Errorf("log line contains %s: %s", id, out)
		}
	}
	for _, want := range []string{"********2198", "********1234", "********4321", `"n":42`, `"key":"abc"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %q: %s", want, out)
		}
	}
}

// TestLoggerLeavesHashesAndRequestIDsWhole: digit runs inside hex or base32
// tokens are not IDs; masking them would stop log lines matching audit
// records.
func TestLoggerLeavesHashesAndRequestIDsWhole(t *testing.T) {
	for in, want := range map[string]string{
		"request 496d001099872198339afb0b7":          "request 496d001099872198339afb0b7",
		"sha256 a1234567890123b and 1234567890123":   "sha256 a1234567890123b and 1234567890123",
		"ids 001099872198,079203001234.":             "ids ********2198,********1234.",
		"key pages/001099872198x/1.png":              "key pages/001099872198x/1.png",
		"(001099872198)":                             "(********2198)",
		"holder=001099872198 next=000.00.31.H29-250": "holder=********2198 next=000.00.31.H29-250",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
