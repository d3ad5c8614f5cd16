// This file owns the throwaway development PKI: self-signed CAs and the
// leaf certificates they issue (ECDSA P-256), for the dev signing key, the
// API's dev credentials and tests. Never use them outside development.

package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Dev key file names inside the directory given to EnsureDevKeys.
const (
	DevCAFile   = "ca.pem"
	devCAKey    = "ca.key"
	devCertFile = "signer.pem"
	devKeyFile  = "signer.key"
)

// EnsureDevKeys returns the development signing key under dir, creating a
// self-signed CA and a document-signing certificate on first use (ECDSA
// P-256, 10 years). Later calls reuse the files. Not for production.
func EnsureDevKeys(dir string) (*Keys, error) {
	certPath, keyPath := filepath.Join(dir, devCertFile), filepath.Join(dir, devKeyFile)
	if _, err := os.Stat(certPath); err == nil {
		k, err := LoadPEM(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("ensure dev keys: %w", err)
		}
		return k, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ensure dev keys: %w", err)
	}
	now := time.Now().Add(-time.Hour)
	caKey, ca, err := NewDevCA("sohoa development CA", now)
	if err != nil {
		return nil, fmt.Errorf("ensure dev keys: %w", err)
	}
	leafKey, leaf, err := NewDevCert(ca, caKey, CertSpec{
		CommonName: "sohoa development signer", NotBefore: now, NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		// emailProtection as well: NSS (poppler's pdfsig) rejects a signer
		// certificate for its "email signer" usage without it.
		ExtKeyUsage:        []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{OIDDocumentSigning},
	})
	if err != nil {
		return nil, fmt.Errorf("ensure dev keys: %w", err)
	}
	writes := []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{filepath.Join(dir, DevCAFile), pemCert(ca), 0o644},
		{filepath.Join(dir, devCAKey), pemKey(caKey), 0o600},
		{keyPath, pemKey(leafKey), 0o600},
		{certPath, append(pemCert(leaf), pemCert(ca)...), 0o644},
	}
	for _, w := range writes {
		if err := os.WriteFile(w.path, w.data, w.mode); err != nil {
			return nil, fmt.Errorf("ensure dev keys: %w", err)
		}
	}
	return &Keys{Signer: leafKey, Chain: []*x509.Certificate{leaf, ca}}, nil
}

// NewDevCA creates a self-signed ECDSA P-256 CA valid from notBefore for 10
// years, which signs leaf certificates only.
func NewDevCA(cn string, notBefore time.Time) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               devSubject(cn),
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// CertSpec describes a leaf certificate NewDevCert issues.
type CertSpec struct {
	CommonName          string
	NotBefore, NotAfter time.Time
	KeyUsage            x509.KeyUsage
	ExtKeyUsage         []x509.ExtKeyUsage
	// UnknownExtKeyUsage are usages the x509 package has no name for, such
	// as OIDDocumentSigning.
	UnknownExtKeyUsage []asn1.ObjectIdentifier
	DNSNames           []string
	IPAddresses        []net.IP
}

// NewDevCert generates an ECDSA P-256 key and issues it a leaf certificate
// from ca as spec says.
func NewDevCert(ca *x509.Certificate, caKey crypto.Signer, spec CertSpec) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key for %q: %w", spec.CommonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               devSubject(spec.CommonName),
		NotBefore:             spec.NotBefore,
		NotAfter:              spec.NotAfter,
		KeyUsage:              spec.KeyUsage,
		ExtKeyUsage:           spec.ExtKeyUsage,
		UnknownExtKeyUsage:    spec.UnknownExtKeyUsage,
		DNSNames:              spec.DNSNames,
		IPAddresses:           spec.IPAddresses,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid(key.Public()),
		AuthorityKeyId:        ca.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %q: %w", spec.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

func devSubject(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"sohoa"}, Country: []string{"VN"}}
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}

func skid(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	s := sha256.Sum256(der)
	return s[:20]
}
