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
