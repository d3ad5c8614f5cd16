package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"sohoa/api"
	"sohoa/ocr"
	"sohoa/pipeline"
	"sohoa/signing"
)

// eresultIssuer renders, signs and verifies e-results for the pipeline.
type eresultIssuer struct {
	renderer   *signing.Renderer
	keys       *signing.Keys
	closeKeys  func() error
	roots      *x509.CertPool
	layouts    *ocr.Layouts
	qrKey      []byte
	verifyBase string
	agency     string
	agencyCode string
	tsaURL     string
}

func newIssuer(ctx context.Context, cfg appConfig, layouts *ocr.Layouts) (pipeline.Issuer, error) {
	sc := signerConfigFromEnv(cfg)
	keys, closeKeys, err := sc.open()
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	roots, err := sc.roots()
	if err != nil {
		closeKeys()
		return nil, err
	}
	r, err := signing.NewRenderer(signing.RendererConfig{})
	if err != nil {
		closeKeys()
		return nil, err
	}
	qk, err := cfg.qrKey()
	if err != nil {
		closeKeys()
		return nil, err
	}
	return &eresultIssuer{
		renderer: r, keys: keys, closeKeys: closeKeys, roots: roots, layouts: layouts, qrKey: qk,
		verifyBase: cfg.VerifyBaseURL, agency: cfg.AgencyName, agencyCode: cfg.AgencyCode, tsaURL: sc.TSAURL,
	}, nil
}

func (e *eresultIssuer) Close() error { return e.closeKeys() }

// Issue implements pipeline.Issuer. It verifies its own output with the
// strict verifier before handing it back: a result that would not verify
// is never filed.
func (e *eresultIssuer) Issue(ctx context.Context, req pipeline.IssueRequest) (pipeline.Issued, error) {
	d := req.Document
	title := d.DocType
	if l, ok := e.layouts.Layout(d.DocType); ok && l.Name != "" {
		title = l.Name
	}
	meta := signing.Metadata{
		Title:         title,
		ResultCode:    req.ResultCode,
		DossierCode:   req.DossierCode,
		ProcedureCode: req.ProcedureCode,
		DocType:       d.DocType,
		Agency:        e.agency,
		AgencyCode:    e.agencyCode,
		IssueDate:     d.Fields["issue_date"].Value,
		HolderID:      d.HolderPersonalID,
		SourceSHA256:  req.SourceSHA256,
		ConvertedAt:   req.ConvertedAt,
		BornDigital:   req.Origin == "born_digital",
		VerifyURL:     signing.VerifyURL(e.verifyBase, req.ResultCode, api.QRToken(e.qrKey, req.ResultCode)),
	}
	if d.ValidUntil != nil {
		meta.ValidUntil = *d.ValidUntil
	}
	unsigned, err := e.renderer.Render(ctx, signing.RenderInput{Pages: renderPages(req.Pages, req.Images), Meta: meta})
	if err != nil {
		return pipeline.Issued{}, pipeline.Permanent(pipeline.CodeSigning, fmt.Errorf("render: %w", err))
	}
	signed, err := signing.Sign(ctx, unsigned, e.keys, signing.SignOptions{
		Reason: "Ket qua dien tu " + req.ResultCode, TSAURL: e.tsaURL,
	})
	if err != nil {
		// A TSA or HSM outage is worth retrying.
		return pipeline.Issued{}, fmt.Errorf("sign: %w", err)
	}
	v, err := signing.Verify(signed, signing.VerifyOptions{Roots: e.roots})
	if err != nil || !v.Valid {
		return pipeline.Issued{}, pipeline.Permanent(pipeline.CodeSigning, fmt.Errorf("own output does not verify: %v %v", err, v.Reasons))
	}
	level := "B-B"
	if v.Timestamp != nil {
		level = "B-T"
	}
	cs := sha256.Sum256(e.keys.Cert().Raw)
	return pipeline.Issued{PDF: signed, PAdESLevel: level, SignerCertSHA256: hex.EncodeToString(cs[:]), SigningTime: v.SigningTime}, nil
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
