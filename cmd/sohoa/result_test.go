package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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
		{[]string{"revoke", "--code", "C-KQ1", "--decision", "12/QĐ", "--by", "cb01"}, "revoke", 0},
		{[]string{"revoke", "--code", "C-KQ1"}, "", 2},
		{[]string{"suspend", "--code", "C-KQ1", "--decision", "1", "--at", "2026-01-02T03:04:05+07:00", "--by", "cb01"}, "suspend", 0},
		{[]string{"suspend", "--code", "C-KQ1", "--decision", "1", "--at", "yesterday"}, "", 2},
		{[]string{"supersede", "--code", "A-KQ1", "--new-code", "B-KQ1", "--by", "cb01"}, "supersede", 0},
		{[]string{"supersede", "--code", "A-KQ1", "--new-code", "B-KQ1"}, "", 2},
		{[]string{"supersede", "--code", "A-KQ1"}, "", 2},
		{[]string{"show", "--code", "A-KQ1"}, "show", 0},
		{[]string{"delete", "--code", "A-KQ1"}, "", 2},
		{[]string{"revoke", "--code", "C-KQ1", "--decision", "1", "extra"}, "", 2},
		{nil, "", 2},
	}
	for _, tc := range tests {
		cfg, _, err := parseResultArgs(newFlagSet("result", "", environ{"SOHOA_DEV": "1"}, io.Discard, gStore), tc.args)
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
		cfg.Now = time.Now
		if cfg.Agency == "" {
			cfg.Agency = storagetest.Agency
		}
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

// TestApplyResultRefuses: the CLI holds a change to the rules of the API:
// only the installation's agency's results, an effective date inside the
// result's life, and no second revocation; each refusal exits 4 and leaves
// the result as it was.
func TestApplyResultRefuses(t *testing.T) {
	repo, err := storage.New(mem.New(), storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	day := time.Date(2025, 7, 18, 9, 0, 0, 0, time.UTC)
	n := 0
	fresh := func() string {
		n++
		m, err := repo.File(ctx, storagetest.Result(n, 1, day))
		if err != nil {
			t.Fatal(err)
		}
		return m.ResultCode
	}
	revoked := fresh()
	if err := applyResult(ctx, repo, resultConfig{Action: "revoke", Code: revoked, Decision: "1/QĐ", By: "cb01",
		Agency: storagetest.Agency, Now: time.Now}, io.Discard); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  resultConfig
		exit int // 0: done
	}{
		{"another agency's result", resultConfig{Action: "revoke", Code: fresh(), Decision: "2/QĐ", Agency: "000.00.00.H00"}, 4},
		{"another agency's, as a supervising body", resultConfig{Action: "revoke", Code: fresh(), Decision: "2/QĐ", Agency: "000.00.00.H00", AnyAgency: true}, 0},
		{"before the result was issued", resultConfig{Action: "revoke", Code: fresh(), Decision: "2/QĐ", At: day.AddDate(0, 0, -1)}, 4},
		{"on 9999-12-31", resultConfig{Action: "revoke", Code: fresh(), Decision: "2/QĐ", At: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, 4},
		{"the same revocation again", resultConfig{Action: "revoke", Code: revoked, Decision: "1/QĐ"}, 4},
		{"a second revocation", resultConfig{Action: "revoke", Code: revoked, Decision: "3/QĐ"}, 4},
		{"reinstating a revoked result", resultConfig{Action: "reinstate", Code: revoked, Decision: "4/QĐ"}, 4},
		{"superseding another agency's result", resultConfig{Action: "supersede", Code: fresh(), NewCode: fresh(), Agency: "000.00.00.H00"}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.By, cfg.Now = "cb01", time.Now
			if cfg.Agency == "" {
				cfg.Agency = storagetest.Agency
			}
			before, _ := repo.Events(ctx, cfg.Code)
			err := applyResult(ctx, repo, cfg, io.Discard)
			var ee *exitError
			switch {
			case tc.exit == 0 && err != nil:
				t.Fatalf("applyResult = %v, want done", err)
			case tc.exit != 0 && (!errors.As(err, &ee) || ee.code != tc.exit):
				t.Fatalf("applyResult = %v, want exit %d", err, tc.exit)
			}
			after, _ := repo.Events(ctx, cfg.Code)
			if tc.exit != 0 && len(after) != len(before) {
				t.Errorf("a refused change left %d events, had %d", len(after), len(before))
			}
		})
	}
}
