package signing

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"software.sslmate.com/src/go-pkcs12"
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

// LoadCerts reads every PEM certificate in path, in file order (at least
// one).
func LoadCerts(path string) ([]*x509.Certificate, error) { return readCerts(path) }

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
// and optional CA certificates. It reads what OpenSSL 3 writes by default
// (PBES2: PBKDF2 with AES-256-CBC, HMAC-SHA-256 MAC) as well as the legacy
// formats (PBE-SHA1-3DES, RC2, SHA-1 MAC).
func LoadPKCS12(path, password string) (*Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pkcs12 %s: %w", path, err)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return nil, fmt.Errorf("decode pkcs12 %s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("decode pkcs12 %s: key type %T cannot sign", path, key)
	}
	k := &Keys{Signer: signer}
	// The file's first certificate need not be the key's: put the one
	// matching the key first, the others after it in file order.
	certs := append([]*x509.Certificate{leaf}, cas...)
	for i, c := range certs {
		if publicKeysEqual(c.PublicKey, signer.Public()) {
			k.Chain = append([]*x509.Certificate{c}, append(certs[:i:i], certs[i+1:]...)...)
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
