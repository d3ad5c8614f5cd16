package main

// signer.go opens the agency's signing key — a PEM key and certificate, a
// PKCS#12 file or a PKCS#11 token (HSM) — and the CAs the strict verifier
// trusts. The development key and CA exist only in development mode.

import (
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"

	"sohoa/signing"
)

// openSigner returns the signing keys and a function that releases them.
func (c *config) openSigner() (*signing.Keys, func() error, error) {
	nop := func() error { return nil }
	s := c.Sign
	switch {
	case s.PKCS11.Module != "":
		p := s.PKCS11
		p.CertFile = s.CertFile
		k, err := signing.OpenPKCS11(p)
		if err != nil {
			return nil, nil, err
		}
		return k.Keys, k.Close, nil
	case s.P12File != "":
		k, err := signing.LoadPKCS12(s.P12File, s.P12Password)
		return k, nop, err
	case s.KeyFile != "" || s.CertFile != "":
		k, err := signing.LoadPEM(s.CertFile, s.KeyFile)
		return k, nop, err
	case c.Dev:
		k, err := signing.EnsureDevKeys(c.devSigningDir())
		return k, nop, err
	}
	return nil, nil, errors.New("no signing key: set SOHOA_SIGN_KEY and SOHOA_SIGN_CERT, SOHOA_SIGN_P12, or SOHOA_PKCS11_MODULE")
}

// trustRoots is the CA pool the strict verifier trusts: SOHOA_TRUST_CA, or
// in development mode the development CA (created with the development
// signing key when missing).
func (c *config) trustRoots() (*x509.CertPool, error) {
	certs, err := c.trustCerts()
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, cert := range certs {
		pool.AddCert(cert)
	}
	return pool, nil
}

// trustCerts are trustRoots' certificates.
func (c *config) trustCerts() ([]*x509.Certificate, error) {
	path := c.TrustCA
	if path == "" {
		if !c.Dev {
			return nil, errors.New("no trust anchors: set SOHOA_TRUST_CA")
		}
		if _, err := signing.EnsureDevKeys(c.devSigningDir()); err != nil {
			return nil, fmt.Errorf("development CA: %w", err)
		}
		path = filepath.Join(c.devSigningDir(), signing.DevCAFile)
	}
	certs, err := signing.LoadCerts(path)
	if err != nil {
		return nil, fmt.Errorf("trust anchors (SOHOA_TRUST_CA): %w", err)
	}
	return certs, nil
}

// usesDevSigner reports whether openSigner falls back to the development key.
func (c *config) usesDevSigner() bool {
	s := c.Sign
	return c.Dev && s.PKCS11.Module == "" && s.P12File == "" && s.KeyFile == "" && s.CertFile == ""
}
