// This file owns PDFs that arrive already signed (by another agency's
// software): their signature is verified strictly against the CAs of the
// agencies this one trusts; a valid one is filed as it is, byte-identical,
// with origin born_digital and its own signer in the manifest; an invalid
// or untrusted one goes to review with the reason.

package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"sohoa/ocr"
	"sohoa/signing"
)

// SignatureVerifier checks the signature of a PDF that arrived signed: the
// strict verifier (signing.Verify's checks), in a child process
// (signing.ChildVerifier), trusting the other agencies' CAs.
type SignatureVerifier interface {
	Verify(ctx context.Context, pdf []byte) (signing.Verdict, error)
}

// Review reasons of signed inputs.
const (
	// ReasonSignatureInvalid: the PDF is signed but its signature fails
	// the strict checks (changed after signing, broken, more than one
	// signature, bytes appended).
	ReasonSignatureInvalid = "signature_invalid"
	// ReasonSignatureUntrusted: the signature is intact but its signer does
	// not chain to a CA of SOHOA_TRUSTED_CAS (or none is configured).
	ReasonSignatureUntrusted = "signature_untrusted"
	// ReasonSignedNotOneResult: a validly signed PDF holds other than one
	// result document; it is filed only whole, as one result.
	ReasonSignedNotOneResult = "signed_pdf_not_one_result"
)

// SignatureCheck is what the OCR stage found about a signed input; the
// record keeps it, and the issue stage files a valid one as it is.
type SignatureCheck struct {
	Valid            bool       `json:"valid"`
	Reason           string     `json:"reason,omitempty"` // a review reason when not valid
	Details          []string   `json:"details,omitempty"`
	Signer           string     `json:"signer,omitempty"` // subject CN of the signing certificate
	SignerCertSHA256 string     `json:"signer_cert_sha256,omitempty"`
	SigningTime      time.Time  `json:"signing_time,omitzero"`
	Timestamp        *time.Time `json:"timestamp,omitempty"`
	SubFilter        string     `json:"sub_filter,omitempty"` // the signature's /SubFilter
}

// LooksSigned reports whether a file carries a PDF signature dictionary
// (a /ByteRange): such a file is verified before anything else. A
// signature dictionary cannot sit in a compressed object stream (its byte
// range names file offsets), so the bytes show it.
func LooksSigned(data []byte) bool {
	return bytes.HasPrefix(data, []byte("%PDF-")) && bytes.Contains(data, []byte(byteRange))
}

const byteRange = "/ByteRange"

// LooksSignedReader is LooksSigned of what r reads, read in blocks.
func LooksSignedReader(r io.Reader) (bool, error) {
	buf := make([]byte, 64<<10)
	n, err := io.ReadFull(r, buf[:len("%PDF-")])
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return false, nil
	case err != nil:
		return false, err
	case string(buf[:n]) != "%PDF-":
		return false, nil
	}
	// keep: the end of the last block, where a /ByteRange may begin.
	keep := copy(buf, buf[:n])
	for {
		n, err := r.Read(buf[keep:])
		if bytes.Contains(buf[:keep+n], []byte(byteRange)) {
			return true, nil
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		end := keep + n
		keep = copy(buf, buf[max(0, end-(len(byteRange)-1)):end])
	}
}

// checkSignature verifies a signed input. Errors are only those worth a
// retry (the verifier could not run); an input that kills or stalls the
// verifier is invalid.
func (p *Pipeline) checkSignature(ctx context.Context, data []byte) (*SignatureCheck, error) {
	if p.o.Signatures == nil {
		return &SignatureCheck{Reason: ReasonSignatureUntrusted, Details: []string{"no trusted CAs configured (SOHOA_TRUSTED_CAS)"}}, nil
	}
	v, err := p.o.Signatures.Verify(ctx, data)
	switch {
	case err == nil && v.Valid:
		return &SignatureCheck{Valid: true, Signer: v.Signer, SignerCertSHA256: v.SignerCertSHA256,
			SigningTime: v.SigningTime.UTC(), Timestamp: v.Timestamp, SubFilter: v.SubFilter}, nil
	case errors.Is(err, signing.ErrChildCrashed), errors.Is(err, signing.ErrChildTimeout):
		return &SignatureCheck{Reason: ReasonSignatureInvalid, Details: []string{err.Error()}}, nil
	case err != nil && !errors.Is(err, signing.ErrInvalid) && !errors.Is(err, signing.ErrNotPDF):
		return nil, fmt.Errorf("verify signature: %w", err)
	}
	sc := &SignatureCheck{Reason: ReasonSignatureInvalid, Details: v.Reasons, Signer: v.Signer, SignerCertSHA256: v.SignerCertSHA256}
	if len(v.Reasons) > 0 && !slices.ContainsFunc(v.Reasons, func(r string) bool { return !trustReason(r) }) {
		sc.Reason = ReasonSignatureUntrusted
	}
	return sc, nil
}

// trustReason reports whether a verifier reason is about whom the signer
// is (its chain or its key usage), not about the file's integrity.
func trustReason(r string) bool {
	for _, s := range []string{"not trusted", "no trusted roots", "documentSigning EKU", "allows neither digitalSignature"} {
		if strings.Contains(r, s) {
			return true
		}
	}
	return false
}

// applySignature turns the signature check into the decisions: an invalid
// or untrusted signature sends every document to review with its reason,
// and a valid one is issued only as one result document (its file is
// filed whole).
func applySignature(decs []Decision, docs []ocr.Document, ls *ocr.Layouts, sig *SignatureCheck) {
	if sig == nil {
		return
	}
	reason := sig.Reason
	if sig.Valid {
		results := 0
		for _, d := range docs {
			if l, ok := ls.Layout(d.DocType); ok && !l.Application {
				results++
			}
		}
		if results == 1 && len(docs) == 1 {
			return
		}
		reason = ReasonSignedNotOneResult
	}
	for i := range decs {
		if decs[i].Action == ActionKeep && sig.Valid {
			continue
		}
		decs[i].Action = ActionReview
		if !slices.Contains(decs[i].Reasons, reason) {
			decs[i].Reasons = append([]string{reason}, decs[i].Reasons...)
		}
	}
}
