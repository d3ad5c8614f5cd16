package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
)

// SignOptions describes one signature.
type SignOptions struct {
	Name        string    // signer name in the signature dictionary (ASCII recommended)
	Reason      string    // e.g. "E-result issued"
	Location    string    // e.g. "Can Tho, VN"
	ContactInfo string    // optional
	Time        time.Time // claimed signing time; zero means now
	// TSAURL, when set, adds an RFC 3161 signature timestamp (an
	// unsigned attribute of the CMS).
	TSAURL      string
	TSAUsername string
	TSAPassword string
	Logger      *slog.Logger // optional
}

// Sign appends a detached CMS signature (SubFilter adbe.pkcs7.detached,
// SHA-256, ESS signing-certificate-v2 and signing-time signed attributes,
// full chain embedded; not PAdES baseline, which needs ETSI.CAdES.detached
// without signing-time, and digitorus/pdfsign writes only this SubFilter)
// to an unsigned PDF as an incremental
// update and returns the signed file. The signature is invisible: the visible
// stamp is part of the rendered pages and therefore covered by the signature.
func Sign(ctx context.Context, unsigned []byte, keys *Keys, opts SignOptions) ([]byte, error) {
	if keys == nil || keys.Signer == nil || len(keys.Chain) == 0 {
		return nil, errors.New("sign: no key or certificate")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	if opts.Name == "" {
		opts.Name = keys.Cert().Subject.CommonName
	}
	rdr, err := pdf.NewReader(bytes.NewReader(unsigned), int64(len(unsigned)))
	if err != nil {
		return nil, fmt.Errorf("sign: parse unsigned pdf: %w", err)
	}
	var out bytes.Buffer
	sd := sign.SignData{
		Signer:            keys.Signer,
		Certificate:       keys.Cert(),
		CertificateChains: [][]*x509.Certificate{keys.Chain},
		DigestAlgorithm:   crypto.SHA256,
		Signature: sign.SignDataSignature{
			CertType: sign.ApprovalSignature,
			Info: sign.SignDataSignatureInfo{
				Name: opts.Name, Reason: opts.Reason, Location: opts.Location,
				ContactInfo: opts.ContactInfo, Date: opts.Time,
			},
		},
		TSA: sign.TSA{URL: opts.TSAURL, Username: opts.TSAUsername, Password: opts.TSAPassword},
	}
	start := time.Now()
	if err := signGuarded(&out, unsigned, rdr, sd); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if opts.Logger != nil {
		opts.Logger.LogAttrs(ctx, slog.LevelDebug, "pdf signed",
			slog.String("signer", keys.Cert().Subject.CommonName),
			slog.Bool("timestamp", opts.TSAURL != ""),
			slog.Int("bytes", out.Len()),
			slog.Duration("took", time.Since(start)))
	}
	return out.Bytes(), nil
}

// signGuarded runs pdfsign, turning a panic in the library into an error.
func signGuarded(out *bytes.Buffer, in []byte, rdr *pdf.Reader, sd sign.SignData) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pdfsign panicked: %v", r)
		}
	}()
	return sign.Sign(bytes.NewReader(in), out, rdr, int64(len(in)), sd)
}
