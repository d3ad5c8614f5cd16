package pdftexttest

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"

	"sohoa/signing"
)

// Agency is a second test CA, as another agency's e-result software would
// have, with one document-signing certificate.
type Agency struct {
	CA   *x509.Certificate
	Keys *signing.Keys
}

// NewAgency makes a CA named cn and a signer certificate under it (valid
// from notBefore for two years), with the documentSigning usage the strict
// verifier requires.
func NewAgency(cn string, notBefore time.Time) (*Agency, error) {
	caKey, ca, err := signing.NewDevCA(cn+" CA", notBefore)
	if err != nil {
		return nil, fmt.Errorf("test agency: %w", err)
	}
	key, cert, err := signing.NewDevCert(ca, caKey, signing.CertSpec{
		CommonName: cn, NotBefore: notBefore, NotAfter: notBefore.AddDate(2, 0, 0),
		KeyUsage:           x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{signing.OIDDocumentSigning},
	})
	if err != nil {
		return nil, fmt.Errorf("test agency: %w", err)
	}
	return &Agency{CA: ca, Keys: &signing.Keys{Signer: key, Chain: []*x509.Certificate{cert, ca}}}, nil
}

// Sign signs pdf as the agency at time at.
func (a *Agency) Sign(ctx context.Context, pdf []byte, at time.Time) ([]byte, error) {
	return signing.Sign(ctx, pdf, a.Keys, signing.SignOptions{Reason: "Ket qua dien tu", Time: at})
}
