package signing_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sohoa/internal/testenv"
	"sohoa/signing"
)

func TestEnsureDevKeysReuses(t *testing.T) {
	dir := t.TempDir()
	a, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Cert().Equal(b.Cert()) {
		t.Errorf("second call made a new certificate, want the stored one")
	}
	if got, want := len(b.Chain), 2; got != want {
		t.Errorf("chain length: got %d, want %d", got, want)
	}
	if st, err := os.Stat(filepath.Join(dir, "signer.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("signer.key mode: got %v (%v), want 0600", st.Mode().Perm(), err)
	}
}

// signVerify signs a corpus sample with keys and checks the result with
// the verifier and with poppler's pdfsig (required in strict mode).
func signVerify(t *testing.T, keys *signing.Keys, caFile string) {
	t.Helper()
	pdfsig := testenv.MustHaveExecPath(t, "pdfsig")
	s := loadSample(t, corpusSamples(t)[0])
	signed := renderSign(t, s, keys, "")
	v, err := signing.Verify(signed, rootsFrom(t, caFile))
	if err != nil || !v.Valid {
		t.Fatalf("Verify: valid=%v err=%v reasons=%v", v.Valid, err, v.Reasons)
	}
	out, _ := exec.Command(pdfsig, "-nssdir", nssDB(t, caFile), writeTemp(t, "x.pdf", signed)).CombinedOutput()
	if !contains(out, "Signature is Valid") || !contains(out, "Certificate is Trusted") {
		t.Errorf("pdfsig: %s", out)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestPKCS12 loads PKCS#12 files made by OpenSSL: with OpenSSL 3's defaults
// (AES-256-CBC with PBKDF2, HMAC-SHA256), which an agency's tools produce
// today, and in the legacy format (3DES, SHA-1 MAC) of older exports.
func TestPKCS12(t *testing.T) {
	openssl := testenv.MustHaveExecPath(t, "openssl")
	dir := t.TempDir()
	if _, err := signing.EnsureDevKeys(dir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string // after the common arguments
	}{
		{"openssl3-default", nil},
		{"aes-pbkdf2-explicit", []string{"-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-macalg", "sha256"}},
		{"legacy-3des-sha1", []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p12 := filepath.Join(t.TempDir(), "signer.p12")
			args := append([]string{"pkcs12", "-export", "-inkey", filepath.Join(dir, "signer.key"),
				"-in", filepath.Join(dir, "signer.pem"), "-out", p12, "-passout", "pass:secret"}, tc.args...)
			if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl %v: %v\n%s", args, err, out)
			}
			if _, err := signing.LoadPKCS12(p12, "wrong"); err == nil {
				t.Errorf("LoadPKCS12 with a wrong password: got nil error, want one")
			}
			keys, err := signing.LoadPKCS12(p12, "secret")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(keys.Chain), 2; got != want {
				t.Errorf("chain length: got %d, want %d", got, want)
			}
			signVerify(t, keys, filepath.Join(dir, signing.DevCAFile))
		})
	}
}

// TestPKCS11SoftHSM creates a SoftHSM2 token in a temp dir, imports the dev
// signing key, signs through PKCS#11 and verifies.
func TestPKCS11SoftHSM(t *testing.T) {
	util := testenv.MustHaveExecPath(t, "softhsm2-util")
	const module = "/usr/lib/softhsm/libsofthsm2.so"
	testenv.MustHaveFile(t, module, "make deps installs softhsm2")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	keyDir := filepath.Join(dir, "keys")
	if _, err := signing.EnsureDevKeys(keyDir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--init-token", "--free", "--label", "sohoa-test", "--pin", "1234", "--so-pin", "5678"},
		{"--import", filepath.Join(keyDir, "signer.key"), "--token", "sohoa-test", "--label", "signkey", "--id", "01", "--pin", "1234"},
	} {
		if out, err := exec.Command(util, args...).CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util %v: %v\n%s", args, err, out)
		}
	}
	keys, err := signing.OpenPKCS11(signing.PKCS11Config{
		Module: module, TokenLabel: "sohoa-test", Pin: "1234", KeyLabel: "signkey",
		CertFile: filepath.Join(keyDir, "signer.pem"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := keys.Close(); err != nil {
			t.Error(err)
		}
	}()
	if _, ok := keys.Signer.(interface{ Delete() error }); !ok {
		t.Errorf("signer type %T: want a PKCS#11 key", keys.Signer)
	}
	signVerify(t, keys.Keys, filepath.Join(keyDir, signing.DevCAFile))
	if _, err := signing.Sign(context.Background(), []byte("%PDF-1.7 junk"), keys.Keys, signing.SignOptions{}); err == nil {
		t.Errorf("Sign of a non-PDF: got nil error, want one")
	}
}
