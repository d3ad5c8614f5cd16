package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sohoa/signing"
)

// signerConfig says where the agency's signing key lives: a PEM key and
// certificate, a PKCS#12 file, a PKCS#11 token (HSM), or — when nothing is
// configured — the development key generated under .local/keys/signing.
type signerConfig struct {
	CertFile, KeyFile    string // PEM
	P12File, P12Password string // PKCS#12 (password from env only)
	PKCS11               signing.PKCS11Config
	DevDir               string
	TrustFile            string // PEM CA bundle the verifier trusts
	TSAURL               string
}

// signerConfigFromEnv reads SOHOA_SIGN_CERT/SOHOA_SIGN_KEY, SOHOA_SIGN_P12 +
// SOHOA_P12_PASSWORD, SOHOA_PKCS11_MODULE/TOKEN/PIN/KEY (+ SOHOA_SIGN_CERT for
// the chain), SOHOA_TRUST_CA and SOHOA_TSA_URL.
func signerConfigFromEnv(cfg appConfig) signerConfig {
	return signerConfig{
		CertFile:    envOr("SOHOA_SIGN_CERT", ""),
		KeyFile:     envOr("SOHOA_SIGN_KEY", ""),
		P12File:     envOr("SOHOA_SIGN_P12", ""),
		P12Password: envOr("SOHOA_P12_PASSWORD", ""),
		PKCS11: signing.PKCS11Config{
			Module:     envOr("SOHOA_PKCS11_MODULE", ""),
			TokenLabel: envOr("SOHOA_PKCS11_TOKEN", ""),
			Pin:        envOr("SOHOA_PKCS11_PIN", ""),
			KeyLabel:   envOr("SOHOA_PKCS11_KEY", ""),
			CertFile:   envOr("SOHOA_SIGN_CERT", ""),
		},
		DevDir:    filepath.Join(cfg.keysDir(), "signing"),
		TrustFile: envOr("SOHOA_TRUST_CA", ""),
		TSAURL:    envOr("SOHOA_TSA_URL", ""),
	}
}

// open returns the signing keys and a function that releases them.
func (sc signerConfig) open() (*signing.Keys, func() error, error) {
	nop := func() error { return nil }
	switch {
	case sc.PKCS11.Module != "":
		k, err := signing.OpenPKCS11(sc.PKCS11)
		if err != nil {
			return nil, nil, err
		}
		return k.Keys, k.Close, nil
	case sc.P12File != "":
		k, err := signing.LoadPKCS12(sc.P12File, sc.P12Password)
		return k, nop, err
	case sc.KeyFile != "" || sc.CertFile != "":
		k, err := signing.LoadPEM(sc.CertFile, sc.KeyFile)
		return k, nop, err
	}
	k, err := signing.EnsureDevKeys(sc.DevDir)
	return k, nop, err
}

// roots is the CA pool the strict verifier trusts: SOHOA_TRUST_CA, or the
// development CA when no key is configured.
func (sc signerConfig) roots() (*x509.CertPool, error) {
	path := sc.TrustFile
	if path == "" {
		path = filepath.Join(sc.DevDir, signing.DevCAFile)
	}
	pool, err := signing.LoadCertPool(path)
	if err != nil {
		return nil, fmt.Errorf("trust anchors (set SOHOA_TRUST_CA): %w", err)
	}
	return pool, nil
}

// ensureSecret returns the 32-byte secret in env var name (hex) when name
// is set, or the one stored in file (created on first use, mode 0600).
func ensureSecret(name, file string) ([]byte, error) {
	if v := strings.TrimSpace(envOr(name, "")); name != "" && v != "" {
		b, err := hex.DecodeString(v)
		if err != nil || len(b) < 32 {
			return nil, fmt.Errorf("%s: want at least 64 hex digits", name)
		}
		return b, nil
	}
	b, err := os.ReadFile(file)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 32 {
			return nil, fmt.Errorf("%s: corrupt secret file", file)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return ensureSecret(name, file) // another process won the race
	}
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(hex.EncodeToString(k) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return k, err
}

// qrKey is K_qr, the key of the public verification tokens printed in QR
// codes; the API checks them with the same file (SOHOA_QR_KEY_FILE).
func (c appConfig) qrKey() ([]byte, error) {
	return ensureSecret("", envOr("SOHOA_QR_KEY_FILE", filepath.Join(c.keysDir(), "qr.key")))
}
