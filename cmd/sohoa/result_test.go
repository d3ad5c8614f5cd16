package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

func TestParseResultArgs(t *testing.T) {
	tests := []struct {
		args     []string
		action   string
		exitCode int // 0: ok
	}{
		{[]string{"revoke", "--code", "C-KQ1", "--decision", "12/QĐ"}, "revoke", 0},
		{[]string{"revoke", "--code", "C-KQ1"}, "", 2},
		{[]string{"suspend", "--code", "C-KQ1", "--decision", "1", "--at", "2026-01-02T03:04:05+07:00"}, "suspend", 0},
		{[]string{"suspend", "--code", "C-KQ1", "--decision", "1", "--at", "yesterday"}, "", 2},
		{[]string{"supersede", "--code", "A-KQ1", "--new-code", "B-KQ1"}, "supersede", 0},
		{[]string{"supersede", "--code", "A-KQ1"}, "", 2},
		{[]string{"show", "--code", "A-KQ1"}, "show", 0},
		{[]string{"delete", "--code", "A-KQ1"}, "", 2},
		{[]string{"revoke", "--code", "C-KQ1", "--decision", "1", "extra"}, "", 2},
		{nil, "", 2},
	}
	for _, tc := range tests {
		cfg, err := parseResultArgs(tc.args, io.Discard)
		var ee *exitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.code
		} else if err != nil {
			code = -1
		}
		if code != tc.exitCode || cfg.Action != tc.action {
			t.Errorf("parseResultArgs(%q) = action %q, exit %d (%v); want %q, %d", tc.args, cfg.Action, code, err, tc.action, tc.exitCode)
		}
	}
}

func TestApplyResult(t *testing.T) {
	repo, err := storage.New(mem.New(), storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	day := time.Date(2025, 7, 18, 9, 0, 0, 0, time.UTC)
	oldM, err := repo.File(ctx, storagetest.Result(1, 1, day))
	if err != nil {
		t.Fatal(err)
	}
	newM, err := repo.File(ctx, storagetest.Result(2, 1, day))
	if err != nil {
		t.Fatal(err)
	}
	type out struct {
		Validity storage.Validity      `json:"validity"`
		Events   []storage.StatusEvent `json:"events"`
	}
	run := func(cfg resultConfig) (out, error) {
		var buf bytes.Buffer
		err := applyResult(ctx, repo, cfg, &buf)
		var o out
		if err == nil {
			if jerr := json.Unmarshal(buf.Bytes(), &o); jerr != nil {
				t.Fatalf("output is not JSON: %v: %s", jerr, buf.String())
			}
		}
		return o, err
	}
	o, err := run(resultConfig{Action: "suspend", Code: oldM.ResultCode, Decision: "7/QĐ", By: "officer"})
	if err != nil || o.Validity.Reason != storage.ReasonSuspended || len(o.Events) != 2 {
		t.Errorf("suspend = %+v, %v; want SUSPENDED with 2 events", o, err)
	}
	o, err = run(resultConfig{Action: "supersede", Code: oldM.ResultCode, NewCode: newM.ResultCode, By: "officer"})
	if err != nil || o.Validity.Reason != storage.ReasonSuperseded || o.Validity.SupersededBy != newM.ResultCode {
		t.Errorf("supersede = %+v, %v; want SUPERSEDED by %s", o.Validity, err, newM.ResultCode)
	}
	_, err = run(resultConfig{Action: "revoke", Code: oldM.ResultCode, Decision: "9/QĐ"})
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 4 {
		t.Errorf("revoking a superseded result error = %v, want exit 4", err)
	}
	_, err = run(resultConfig{Action: "revoke", Code: "000.00.31.H29-250718-9999-KQ1", Decision: "9/QĐ"})
	if !errors.As(err, &ee) || ee.code != 3 {
		t.Errorf("revoking an unknown result error = %v, want exit 3", err)
	}
	o, err = run(resultConfig{Action: "revoke", Code: newM.ResultCode, Decision: "10/QĐ", Reason: "FRAUD"})
	if err != nil || o.Validity.Reason != storage.ReasonRevoked || o.Events[len(o.Events)-1].ReasonCode != "FRAUD" {
		t.Errorf("revoke = %+v, %v; want REVOKED with reason FRAUD", o, err)
	}
}

func TestDevKeysCreatedOnceWithMode0600(t *testing.T) {
	dir := t.TempDir()
	cfg := storeConfig{KeysDir: filepath.Join(dir, "keys")}
	k1, err := cfg.keys()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := cfg.keys()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.IndexKeys[k1.IndexKID], k2.IndexKeys[k2.IndexKID]) || bytes.Equal(k1.IndexKeys[k1.IndexKID], k1.SealKeys[k1.SealKID]) {
		t.Error("dev keys are not stable across opens, or index and seal keys are equal")
	}
	for _, f := range []string{"index.key", "seal.key"} {
		st, err := os.Stat(filepath.Join(cfg.KeysDir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}
}

func TestKeysFromEnvironmentValue(t *testing.T) {
	h1, h2 := strings.Repeat("11", 32), strings.Repeat("22", 32)
	cfg := storeConfig{IndexKey: "k2:" + h2 + ",k1:" + h1, SealKey: h1, KeysDir: t.TempDir()}
	k, err := cfg.keys()
	if err != nil {
		t.Fatal(err)
	}
	if k.IndexKID != "k2" || len(k.IndexKeys) != 2 || k.SealKID != "k1" {
		t.Errorf("keys = index kid %q (%d keys), seal kid %q; want k2 (2), k1", k.IndexKID, len(k.IndexKeys), k.SealKID)
	}
	if entries, _ := os.ReadDir(cfg.KeysDir); len(entries) != 0 {
		t.Errorf("dev key files written although keys came from the environment: %d", len(entries))
	}
	cfg.SealKey = "k1:nothex"
	if _, err := cfg.keys(); err == nil || strings.Contains(err.Error(), "nothex") {
		t.Errorf("bad SOHOA_SEAL_KEY error = %v, want an error that does not echo the value", err)
	}
}
