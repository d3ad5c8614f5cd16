package storage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// TestKeyLayout pins every key shape in testdata/keys.golden.
func TestKeyLayout(t *testing.T) {
	in := InputKeyOf([]byte("test"))
	id := "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2"
	mac := indexHMAC(bytes.Repeat([]byte{1}, 32), "CCCD", "001199012345")
	month := time.Date(2026, 1, 31, 20, 0, 0, 0, time.UTC) // 1 Feb in Vietnam
	var b strings.Builder
	for _, kv := range []struct{ name, key string }{
		{"IntakeKey", IntakeKey(in)},
		{"IntakeMetaKey", IntakeMetaKey(in)},
		{"PageKey", PageKey(in, 3, "png")},
		{"RecordKey", RecordKey(in)},
		{"ReviewKey", ReviewKey(in)},
		{"QuarantineKey", QuarantineKey(in)},
		{"ApprovalKey", ApprovalKey(in, 2)},
		{"ResultPDFKey", ResultPDFKey("000.00.31.H29", month, id)},
		{"ResultManifestKey", ResultManifestKey("000.00.31.H29", month, id)},
		{"EventKey", EventKey(id, 7, StatusRevoked)},
		{"CodeKey", CodeKey("000.00.31.H29-250718-0042-KQ1")},
		{"SHA256Key", SHA256Key("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")},
		{"InputKey", InputKey(in, id)},
		{"IndexKey", IndexKey("k1", mac, id)},
		{"AuditKey", AuditKey(42)},
		{"DossierKey", DossierKey("000.00.31.H29", month, 42)},
	} {
		if err := CheckKey(kv.key); err != nil {
			t.Errorf("%s = %q fails CheckKey: %v", kv.name, kv.key, err)
		}
		fmt.Fprintf(&b, "%-18s %s\n", kv.name, kv.key)
	}
	golden(t, "keys.golden", []byte(b.String()))
}

// TestKeysHaveNoLongDigitRuns: whatever the hashes, no key shows a run of
// twelve digits, so a bucket listing never looks like it leaks an ID.
func TestKeysHaveNoLongDigitRuns(t *testing.T) {
	run := regexp.MustCompile(`[0-9]{12}`)
	for i := 0; i < 2000; i++ {
		data := []byte(fmt.Sprint("scan-", i))
		in := InputKeyOf(data)
		sum := sha256.Sum256(data)
		for _, k := range []string{
			IntakeKey(in), SHA256Key(hex.EncodeToString(sum[:])), CodeKey(fmt.Sprint("000.00.31.H29-250718-0042-KQ", i)),
			IndexKey("k1", indexHMAC(sum[:], "CCCD", fmt.Sprintf("%012d", i)), "0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2"),
			AuditKey(uint64(i) * 999_999_937),
		} {
			if run.MatchString(k) {
				t.Fatalf("key %s has a 12-digit run", k)
			}
		}
		seq := uint64(i) * 999_999_937
		if got, err := ParseAuditKey(AuditKey(seq)); err != nil || got != seq {
			t.Fatalf("ParseAuditKey(AuditKey(%d)) = %d, %v", seq, got, err)
		}
	}
	if _, err := ParseAuditKey("audit/00000000000000000042.json"); err == nil {
		t.Error("ParseAuditKey accepted a key of another shape")
	}
	if got, want := InputKeyOf([]byte("test")), "t6dnbamijr6wlgrp5kqmkwwqcwr36ty3fmfyelgrlvwblmhqbiea"; got != want || !ValidInputKey(got) {
		t.Errorf("InputKeyOf = %s, want %s", got, want)
	}
	if h, err := InputSHA256(InputKeyOf([]byte("test"))); err != nil || h != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
		t.Errorf("InputSHA256 = %s, %v", h, err)
	}
}

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"index/k1/abc/0198a1b2-c3d4-7e5f-8a6b-7c8d9e0fa1b2", true},
		{"audit/00000000000000000042.json", true}, // 20 digits: not an ID token
		{"results/x/001199012345.pdf", false},
		{"index/k1/001199012345/x", false},
		{"a-001199012345", false},
		{"abc001199012345def", true}, // inside a hex-like token, not standing alone
		{"", false},
		{"/abs", false},
		{"dir/", false},
		{"a//b", false},
		{"a/../b", false},
		{"a/./b", false},
		{"a\nb", false},
		{`a\b`, false},
	}
	for _, tc := range tests {
		err := CheckKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("CheckKey(%q) error %v does not wrap ErrInvalid", tc.key, err)
			}
			if strings.Contains(err.Error(), "001199012345") {
				t.Errorf("CheckKey(%q) error %q leaks the ID", tc.key, err)
			}
		}
	}
}

func TestParseResultCode(t *testing.T) {
	tests := []struct {
		in, code, dossier string
		seq               int
		ok                bool
	}{
		{"000.00.31.H29-250718-0042-KQ1", "000.00.31.H29-250718-0042-KQ1", "000.00.31.H29-250718-0042", 1, true},
		{"000.00.31.H29-250718-0042-KQ(2)", "000.00.31.H29-250718-0042-KQ2", "000.00.31.H29-250718-0042", 2, true},
		{" 000.00.31.H29-250718-0042-KQ12 ", "000.00.31.H29-250718-0042-KQ12", "000.00.31.H29-250718-0042", 12, true},
		{"000.00.31.H29-250718-0042-KQ01", "", "", 0, false},   // zero padding
		{"000.00.31.H29-250718-0042-KQ0", "", "", 0, false},    // n ≥ 1
		{"000.00.31.H29-251318-0042-KQ1", "", "", 0, false},    // month 13
		{"000.00.31.h29-250718-0042-KQ1", "", "", 0, false},    // lower case
		{"000.00.31.H29-250718-42-KQ1", "", "", 0, false},      // short sequence
		{"000.00.31.H29-250718-0042", "", "", 0, false},        // no KQ
		{"../000.00.31.H29-250718-0042-KQ1", "", "", 0, false}, // junk prefix
	}
	for _, tc := range tests {
		code, dossier, seq, err := ParseResultCode(tc.in)
		if (err == nil) != tc.ok || code != tc.code || dossier != tc.dossier || seq != tc.seq {
			t.Errorf("ParseResultCode(%q) = %q, %q, %d, %v; want %q, %q, %d, ok=%v",
				tc.in, code, dossier, seq, err, tc.code, tc.dossier, tc.seq, tc.ok)
		}
	}
}

func FuzzParseResultCode(f *testing.F) {
	for _, s := range []string{"000.00.31.H29-250718-0042-KQ1", "000.00.31.H29-250718-0042-KQ(3)", "X-KQ1", "", "-KQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, dossier, seq, err := ParseResultCode(s)
		if err != nil {
			return
		}
		if !ValidDossierCode(dossier) || seq < 1 {
			t.Fatalf("ParseResultCode(%q) accepted dossier %q seq %d", s, dossier, seq)
		}
		if CheckKey(CodeKey(code)) != nil {
			t.Fatalf("code key of %q is not a valid key", code)
		}
		again, _, _, err := ParseResultCode(code)
		if err != nil || again != code {
			t.Fatalf("canonical %q does not reparse to itself: %q, %v", code, again, err)
		}
	})
}

func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"a/b", "x/001199012345", "audit/00000000000000000042.json", "a/../b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := CheckKey(key)
		if err == nil && idLikeToken.MatchString(key) {
			t.Fatalf("CheckKey(%q) accepted a 12-digit token", key)
		}
		if err != nil && longDigits.MatchString(err.Error()) {
			t.Fatalf("CheckKey error %q shows a long digit run", err)
		}
	})
}
