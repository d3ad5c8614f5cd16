package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

func TestDevKeysCreatedOnceWithMode0600AndUniqueIDs(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, "SOHOA_LOCAL_DIR="+dir)
	k1, err := cfg.repositoryKeys()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := cfg.repositoryKeys()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1.IndexKeys[k1.IndexKID], k2.IndexKeys[k2.IndexKID]) || bytes.Equal(k1.IndexKeys[k1.IndexKID], k1.SealKeys[k1.SealKID]) {
		t.Error("dev keys are not stable across opens, or index and seal keys are equal")
	}
	for _, f := range []string{"index.key", "seal.key"} {
		st, err := os.Stat(filepath.Join(dir, "keys", f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v; want mode 0600", f, err)
		}
	}
	kid := regexp.MustCompile(`^dev-[0-9a-f]{8}$`)
	if !kid.MatchString(k1.IndexKID) || !kid.MatchString(k1.SealKID) {
		t.Errorf("dev key IDs %q, %q; want dev-<8 random hex>", k1.IndexKID, k1.SealKID)
	}
	other, err := testConfig(t, "SOHOA_LOCAL_DIR="+t.TempDir()).repositoryKeys()
	if err != nil {
		t.Fatal(err)
	}
	if other.IndexKID == k1.IndexKID || other.SealKID == k1.SealKID {
		t.Errorf("two development installations share key ID %q / %q", k1.IndexKID, k1.SealKID)
	}
}

func TestKeysFromEnvironmentValue(t *testing.T) {
	h1, h2 := strings.Repeat("11", 32), strings.Repeat("22", 32)
	local := t.TempDir()
	cfg := testConfig(t, "SOHOA_LOCAL_DIR="+local, "SOHOA_INDEX_KEY=k2:"+h2+",k1:"+h1, "SOHOA_SEAL_KEY=s1:"+h1)
	k, err := cfg.repositoryKeys()
	if err != nil {
		t.Fatal(err)
	}
	if k.IndexKID != "k2" || len(k.IndexKeys) != 2 || k.SealKID != "s1" {
		t.Errorf("keys = index kid %q (%d keys), seal kid %q; want k2 (2), s1", k.IndexKID, len(k.IndexKeys), k.SealKID)
	}
	if entries, _ := os.ReadDir(local); len(entries) != 0 {
		t.Errorf("dev key files written although keys came from the environment: %d", len(entries))
	}
	cfg.SealKey = "k1:nothex"
	if _, err := cfg.repositoryKeys(); err == nil || strings.Contains(err.Error(), "nothex") {
		t.Errorf("bad SOHOA_SEAL_KEY error = %v, want an error that does not echo the value", err)
	}
}

// TestProductionStartWithoutKeysRefuses: without development mode, a start
// that lacks keys exits 2 naming each missing setting, and creates nothing.
func TestProductionStartWithoutKeysRefuses(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		want []string
	}{
		{"serve", []string{"SOHOA_INDEX_KEY", "SOHOA_SEAL_KEY", "SOHOA_AUDIT_KEY", "SOHOA_QR_KEY", "SOHOA_INTAKE_TOKEN", "SOHOA_STAFF_KEY", "SOHOA_TRUST_CA", "SOHOA_API_CLIENTS", "SOHOA_API_CERT", "SOHOA_API_KEY", "sohoa keys init"}},
		{"user", []string{"SOHOA_INDEX_KEY", "SOHOA_SEAL_KEY", "SOHOA_STAFF_KEY"}},
		{"worker", []string{"SOHOA_INDEX_KEY", "SOHOA_SEAL_KEY", "SOHOA_QR_KEY", "SOHOA_SIGN_KEY", "SOHOA_TRUST_CA", "SOHOA_PROCEDURES"}},
		{"get", []string{"SOHOA_INDEX_KEY", "SOHOA_SEAL_KEY"}},
		{"audit", []string{"SOHOA_AUDIT_KEY"}},
		{"token", []string{"development mode"}},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			args := []string{tc.cmd}
			switch tc.cmd {
			case "audit":
				args = append(args, "verify")
			case "user":
				args = append(args, "list")
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, environ{"PATH": processEnv()["PATH"]}, &out, &errOut)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, errOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("message lacks %q:\n%s", w, errOut.String())
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused start created %d files, e.g. %s", len(entries), entries[0].Name())
			}
		})
	}
}

func TestKeysInitMakesAProductionKeySet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"keys", "init", dir}, environ{}, &out, &errOut); code != 0 {
		t.Fatalf("keys init exit %d: %s", code, errOut.String())
	}
	for _, f := range []string{"index.key", "seal.key", "audit.key", "qr.key", "staff.key", "intake.token"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v; want mode 0600", f, err)
		}
	}
	if code := run(context.Background(), []string{"keys", "init", dir}, environ{}, &out, &errOut); code == 0 {
		t.Error("a second keys init into the same folder succeeded; keys must never be overwritten")
	}
	cfg, err := newFlagSet("get", "", environ{"SOHOA_KEYS_DIR": dir}, &errOut, gStore|gAudit|gQR).parse(nil)
	if err != nil {
		t.Fatalf("production config with SOHOA_KEYS_DIR: %v", err)
	}
	k, err := cfg.repositoryKeys()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.IndexKID, "index-") || !strings.HasPrefix(k.SealKID, "seal-") {
		t.Errorf("key IDs %q %q, want index-… and seal-…", k.IndexKID, k.SealKID)
	}
	if _, err := cfg.auditKey(); err != nil {
		t.Error(err)
	}
	if _, err := cfg.qrKey(); err != nil {
		t.Error(err)
	}
	if _, err := cfg.staffKey(); err != nil {
		t.Error(err)
	}
}

// TestDevKeysConcurrentFirstStart: processes starting at once in a fresh
// development keys folder agree on one key each, and none reads a key file
// half written (a worker started beside a backfill read an empty ring).
func TestDevKeysConcurrentFirstStart(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, "SOHOA_KEYS_DIR="+dir)
	const n = 16
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := cfg.repositoryKeys()
			kids[i], errs[i] = k.IndexKID, err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || kids[i] == "" || kids[i] != kids[0] {
			t.Errorf("start %d: kid %q, %v; want the one key %q", i, kids[i], errs[i], kids[0])
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
