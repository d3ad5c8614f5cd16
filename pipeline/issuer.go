// This file owns PDFIssuer, the Issuer the issue stage runs in production:
// it renders the e-result, signs it and verifies its own output before the
// stage files it.

package pipeline

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"sohoa/ocr"
	"sohoa/signing"
	"sohoa/storage"
)

// IssuerOptions configure a PDFIssuer. Keys and Roots are required.
type IssuerOptions struct {
	// Keys sign every e-result. The caller owns them (and closes a
	// PKCS#11 session when done).
	Keys *signing.Keys
	// Roots are the CAs the self-verification trusts; the signing chain
	// must lead to one of them.
	Roots *x509.CertPool
	// QRKey is K_qr: the QR code's verification token is
	// signing.VerifyToken(QRKey, result code).
	QRKey []byte
	// VerifyBaseURL is the public base of the QR verification URL.
	VerifyBaseURL string
	// AgencyName and AgencyCode are the converting agency printed on the
	// stamp and written into the metadata.
	AgencyName string
	AgencyCode string
	// TSAURL, when set, adds an RFC 3161 signature timestamp to the CMS.
	TSAURL string
	// Layouts name the document types on the stamp; nil prints the type
	// code.
	Layouts *ocr.Layouts
	// Fonts are the renderer's font files; the zero value uses the Debian
	// defaults.
	Fonts signing.RendererConfig
	// Now is the clock of the claimed signing time; nil is time.Now.
	Now func() time.Time
	// Observer is told the time of each step of an issue: StageRendering,
	// StageSigning, StageVerification; nil: nobody.
	Observer Observer
}

// PDFIssuer renders, signs and verifies e-results. It is safe for
// concurrent use.
type PDFIssuer struct {
	o        IssuerOptions
	renderer *signing.Renderer
}

var _ Issuer = (*PDFIssuer)(nil)

// NewPDFIssuer checks the options and loads the renderer's fonts.
func NewPDFIssuer(o IssuerOptions) (*PDFIssuer, error) {
	if o.Keys == nil {
		return nil, errors.New("new issuer: no signing keys")
	}
	if o.Roots == nil {
		return nil, errors.New("new issuer: no verification roots")
	}
	r, err := signing.NewRenderer(o.Fonts)
	if err != nil {
		return nil, fmt.Errorf("new issuer: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return &PDFIssuer{o: o, renderer: r}, nil
}

// Issue implements Issuer. It verifies its own output with the strict
// verifier before handing it back: a result that would not verify is never
// filed.
func (e *PDFIssuer) Issue(ctx context.Context, req IssueRequest) (Issued, error) {
	d := req.Document
	title := d.DocType
	if e.o.Layouts != nil {
		if l, ok := e.o.Layouts.Layout(d.DocType); ok && l.Name != "" {
			title = l.Name
		}
	}
	meta := signing.Metadata{
		Title:            title,
		ResultCode:       req.ResultCode,
		DossierCode:      req.DossierCode,
		ProcedureCode:    req.ProcedureCode,
		DocType:          d.DocType,
		Agency:           e.o.AgencyName,
		AgencyCode:       e.o.AgencyCode,
		IssueDate:        d.Fields["issue_date"].Value,
		HolderID:         d.HolderPersonalID,
		IssuingAuthority: authority(req.IssuingAuthority),
		SourceSHA256:     req.SourceSHA256,
		ConvertedAt:      req.ConvertedAt,
		BornDigital:      req.Origin == "born_digital",
		VerifyURL:        signing.VerifyURL(e.o.VerifyBaseURL, req.ResultCode, signing.VerifyToken(e.o.QRKey, req.ResultCode)),
	}
	if d.ValidUntil != nil {
		meta.ValidUntil = *d.ValidUntil
	}
	start := time.Now()
	unsigned, err := e.renderer.Render(ctx, signing.RenderInput{Pages: renderPages(req.Pages, req.Images), Meta: meta, Data: req.Data})
	if err != nil {
		return Issued{}, fmt.Errorf("render: %w", err)
	}
	start = e.step(StageRendering, start)
	signed, err := signing.Sign(ctx, unsigned, e.o.Keys, signing.SignOptions{
		Reason: "Ket qua dien tu " + req.ResultCode, TSAURL: e.o.TSAURL, Time: e.o.Now(),
	})
	if err != nil {
		// A TSA or HSM outage is worth retrying.
		return Issued{}, fmt.Errorf("sign: %w", err)
	}
	start = e.step(StageSigning, start)
	v, err := signing.Verify(signed, signing.VerifyOptions{Roots: e.o.Roots})
	e.step(StageVerification, start)
	if err == nil && !v.Valid {
		err = fmt.Errorf("%w: %v", signing.ErrInvalid, v.Reasons)
	}
	if err != nil {
		return Issued{}, fmt.Errorf("own output does not verify: %w", err)
	}
	return Issued{PDF: signed, SignatureFormat: v.SubFilter, SignatureTimestamp: v.Timestamp != nil,
		SignerCertSHA256: storage.SHA256Hex(e.o.Keys.Cert().Raw), SigningTime: v.SigningTime,
		Signer: v.Signer}, nil
}

func authority(a *storage.Authority) string {
	if a == nil {
		return ""
	}
	return a.Name
}

// step tells the observer stage took the time since start, and returns now.
func (e *PDFIssuer) step(stage string, start time.Time) time.Time {
	now := time.Now()
	e.o.Observer.StageDone(stage, now.Sub(start))
	return now
}

// renderPages pairs each page image with its recognition for the renderer.
// A page image without recognition gets no text layer.
func renderPages(pages []ocr.Page, images []ocr.PageImage) []signing.Page {
	out := make([]signing.Page, len(images))
	for i, img := range images {
		p := signing.Page{Data: img.Data, Image: img.Image, DPI: img.DPI}
		if i < len(pages) {
			pg := pages[i]
			if p.DPI <= 0 {
				p.DPI = pg.DPI
			}
			p.Rotation, p.Skew, p.Width, p.Height = pg.Rotation, pg.Skew, pg.Width, pg.Height
			p.Words = make([]signing.Word, len(pg.Words))
			for j, w := range pg.Words {
				p.Words[j] = signing.Word{Text: w.Text, Box: w.Box, Block: w.Block, Line: w.Line}
			}
		}
		out[i] = p
	}
	return out
}
