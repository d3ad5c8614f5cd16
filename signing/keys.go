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
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/pkcs12"
)

// OIDDocumentSigning is the id-kp-documentSigning extended key usage (RFC 9336).
var OIDDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// Keys is a signing key with its certificate chain (leaf first, root last
// when present).
type Keys struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate
}

// Cert returns the signing certificate.
func (k *Keys) Cert() *x509.Certificate { return k.Chain[0] }

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
	caKey, ca, err := NewTestCA("sohoa development CA", now)
	if err != nil {
		return nil, fmt.Errorf("ensure dev keys: %w", err)
	}
	leafKey, leaf, err := NewSignerCert(ca, caKey, "sohoa development signer", now)
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

// NewTestCA creates a self-signed ECDSA P-256 CA valid from notBefore for 10 years.
func NewTestCA(cn string, notBefore time.Time) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"sohoa"}, Country: []string{"VN"}},
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

// NewSignerCert issues an ECDSA P-256 document-signing certificate
// (KU digitalSignature+nonRepudiation, EKU documentSigning) from ca.
func NewSignerCert(ca *x509.Certificate, caKey crypto.Signer, cn string, notBefore time.Time) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate signer key: %w", err)
	}
	cert, err := IssueCert(ca, caKey, key.Public(), cn, notBefore, []asn1.ObjectIdentifier{OIDDocumentSigning})
	return key, cert, err
}

// IssueCert issues a leaf certificate for pub from ca with the given
// extended key usages (KU digitalSignature+nonRepudiation).
func IssueCert(ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, cn string, notBefore time.Time, ekus []asn1.ObjectIdentifier) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:       serial(),
		Subject:            pkix.Name{CommonName: cn, Organization: []string{"sohoa"}, Country: []string{"VN"}},
		NotBefore:          notBefore,
		NotAfter:           notBefore.AddDate(5, 0, 0),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage: ekus,
		// emailProtection as well: NSS (poppler's pdfsig) rejects a signer
		// certificate for its "email signer" usage without it.
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		BasicConstraintsValid: true,
		SubjectKeyId:          skid(pub),
		AuthorityKeyId:        ca.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("issue certificate %q: %w", cn, err)
	}
	return x509.ParseCertificate(der)
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

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PEMCert encodes a certificate as PEM.
func PEMCert(c *x509.Certificate) []byte { return pemCert(c) }

// PEMKey encodes a private key as PKCS#8 PEM.
func PEMKey(k crypto.Signer) []byte { return pemKey(k) }

// LoadPEM reads a private key (PKCS#8, PKCS#1 or SEC1 PEM) and a certificate
// file holding the signing certificate first, then its chain.
func LoadPEM(certFile, keyFile string) (*Keys, error) {
	chain, err := readCerts(certFile)
	if err != nil {
		return nil, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", keyFile, err)
	}
	blk, _ := pem.Decode(kb)
	if blk == nil {
		return nil, fmt.Errorf("read key %s: no PEM block", keyFile)
	}
	signer, err := parseKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", keyFile, err)
	}
	k := &Keys{Signer: signer, Chain: chain}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("load %s: %w", certFile, err)
	}
	return k, nil
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("key type cannot sign")
		}
		return s, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported private key encoding")
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificates %s: %w", path, err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("read certificates %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("read certificates %s: no certificate found", path)
	}
	return out, nil
}

// LoadCertPool reads every PEM certificate in path into a pool.
func LoadCertPool(path string) (*x509.CertPool, error) {
	certs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// LoadPKCS12 reads a PKCS#12 (.p12/.pfx) file with one key, its certificate
// and optional CA certificates.
func LoadPKCS12(path, password string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pkcs12 %s: %w", path, err)
	}
	blocks, err := pkcs12.ToPEM(b, password)
	if err != nil {
		return nil, fmt.Errorf("decode pkcs12 %s: %w", path, err)
	}
	k := &Keys{}
	var others []*x509.Certificate
	for _, blk := range blocks {
		switch blk.Type {
		case "PRIVATE KEY":
			if k.Signer, err = parseKey(blk.Bytes); err != nil {
				return nil, fmt.Errorf("decode pkcs12 %s: %w", path, err)
			}
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("decode pkcs12 %s: %w", path, err)
			}
			others = append(others, c)
		}
	}
	if k.Signer == nil || len(others) == 0 {
		return nil, fmt.Errorf("decode pkcs12 %s: need a key and a certificate", path)
	}
	// Put the certificate matching the key first.
	for i, c := range others {
		if publicKeysEqual(c.PublicKey, k.Signer.Public()) {
			k.Chain = append([]*x509.Certificate{c}, append(others[:i:i], others[i+1:]...)...)
			break
		}
	}
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("decode pkcs12 %s: %w", path, err)
	}
	return k, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type eq interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(eq)
	return ok && e.Equal(b)
}

// check confirms the certificate belongs to the key.
func (k *Keys) check() error {
	if k.Signer == nil || len(k.Chain) == 0 {
		return errors.New("key or certificate missing")
	}
	if !publicKeysEqual(k.Chain[0].PublicKey, k.Signer.Public()) {
		return errors.New("certificate does not match the private key")
	}
	return nil
}
