package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"sohoa/ocr"
	"sohoa/pipeline"
	"sohoa/signing"
	"sohoa/storage"
)

// runIssue makes a signed e-result from one scan, offline: OCR, extraction,
// render, stamp, sign, strict self-verification.
func runIssue(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	out := fs.String("out", "", "output PDF (required)")
	dossier := fs.String("dossier-code", "", "dossier code (mã hồ sơ); default: a local test code")
	resultCode := fs.String("result-code", "", "result code; default <dossier-code>-KQ1")
	procedure := fs.String("procedure-code", "", "procedure code (mã TTHC)")
	bornDigital := fs.Bool("born-digital", false, `stamp "Bản điện tử" instead of "converted from paper"`)
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		return fs.usageErr("want --out and exactly one SCAN")
	}
	scan := fs.Arg(0)
	data, err := os.ReadFile(scan)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("read %s: %w", scan, err)}
	}
	keys, closeKeys, err := cfg.openSigner()
	if err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	defer func() { _ = closeKeys() }()
	var roots *x509.CertPool
	if cfg.TrustCA == "" && !cfg.usesDevSigner() {
		// An explicit key without SOHOA_TRUST_CA (development mode only):
		// trust the chain's root.
		roots = x509PoolOf(keys)
	} else if roots, err = cfg.trustRoots(); err != nil {
		return err
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		return fmt.Errorf("layouts: %w", err)
	}
	pool, err := newOCRPool(cfg, 1, cfg.logger(stderr), stderr, nil)
	if err != nil {
		return err
	}
	defer func() { _ = pool.Close() }()
	var kept pageImages
	pages, err := pool.Process(ctx, data, filepath.Base(scan), kept.sink)
	images := kept.sorted()
	if err != nil {
		code := 1
		if errors.Is(err, ocr.ErrUnreadable) || errors.Is(err, ocr.ErrEmpty) || errors.Is(err, ocr.ErrUnsupported) ||
			errors.Is(err, ocr.ErrEncrypted) || errors.Is(err, ocr.ErrTooLarge) {
			code = 2
		}
		return &exitError{code: code, err: fmt.Errorf("ocr %s: %w", scan, err)}
	}
	docs := ocr.Extract(pages, layouts)
	doc, dp, di := mainDocument(docs, pages, images)
	if len(dp) == 0 {
		return fmt.Errorf("issue %s: no document found", scan)
	}
	now := cfg.now()
	if *dossier == "" {
		*dossier = storage.FormatDossierCode(cfg.AgencyCode, now, 0)
		fmt.Fprintf(stderr, "sohoa issue: no --dossier-code, using local test code %s\n", *dossier)
	}
	if *resultCode == "" {
		*resultCode = *dossier + "-KQ1"
	}
	qk, err := cfg.qrKey()
	if err != nil {
		return fmt.Errorf("qr key: %w", err)
	}
	iss, err := pipeline.NewPDFIssuer(pipeline.IssuerOptions{
		Keys: keys, Roots: roots, QRKey: qk, VerifyBaseURL: cfg.VerifyBaseURL,
		AgencyName: cfg.AgencyName, AgencyCode: cfg.AgencyCode, TSAURL: cfg.Sign.TSAURL, Layouts: layouts, Now: cfg.now,
	})
	if err != nil {
		return err
	}
	origin := "digitized_backfill"
	if *bornDigital {
		origin = "born_digital"
	}
	sum := sha256.Sum256(data)
	req := pipeline.IssueRequest{
		ResultCode: *resultCode, DossierCode: *dossier, ProcedureCode: *procedure, Origin: origin,
		Document: doc, Pages: dp, Images: di, SourceSHA256: hex.EncodeToString(sum[:]), ConvertedAt: now,
	}
	// The data document, as the issue stage embeds it (without review:
	// no field is verified by a person).
	m := storage.Manifest{ResultCode: *resultCode, DossierCode: *dossier, ProcedureCode: *procedure, DocType: doc.DocType,
		ConvertingAgency: storage.Agency{Code: cfg.AgencyCode, Name: cfg.AgencyName}, Origin: origin}
	if l, ok := layouts.Layout(doc.DocType); ok {
		m.DocTypeName = l.Name
	}
	if t, err := time.Parse("02/01/2006", doc.Fields["issue_date"].Value); err == nil {
		m.IssuedAt = storage.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
	}
	if name := doc.Fields["issuing_authority"].Value; name != "" && !*bornDigital {
		m.IssuingAuthority = &storage.Authority{Name: name, SignerTitle: doc.Fields["signer_title"].Value, SignerName: doc.Fields["signer_name"].Value}
		req.IssuingAuthority = m.IssuingAuthority
	}
	if !*bornDigital {
		m.Digitization = &storage.Digitization{ScannedAt: now, SourceScanSHA256: req.SourceSHA256}
	}
	extracted := map[string]storage.ExtractedField{}
	for k, f := range doc.Fields {
		extracted[k] = storage.ExtractedField{Value: f.Value, Confidence: f.Confidence}
	}
	if req.Data, err = storage.NewResultData(m, extracted).Marshal(); err != nil {
		return fmt.Errorf("data document: %w", err)
	}
	res, err := iss.Issue(ctx, req)
	if err != nil {
		return fmt.Errorf("issue %s: %w", scan, err)
	}
	if err := os.WriteFile(*out, res.PDF, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	ps := sha256.Sum256(res.PDF)
	sig := "CMS " + res.SignatureFormat
	if res.SignatureTimestamp {
		sig += " + RFC 3161 timestamp"
	}
	fmt.Fprintf(stdout, "%s: %s, doc type %s, %d page(s), signature %s, data %s sha256:%s, sha256:%s\n",
		*out, *resultCode, doc.DocType, len(dp), sig, signing.DataFileName, storage.SHA256Hex(req.Data), hex.EncodeToString(ps[:]))
	if doc.NeedsReview {
		fmt.Fprintf(stdout, "  needs human review: %v\n", doc.ReviewReasons)
	}
	return nil
}

// mainDocument picks the result document of a scan (the first one that is
// not a declaration form) with its pages and images.
func mainDocument(docs []ocr.Document, pages []ocr.Page, images []ocr.PageImage) (ocr.Document, []ocr.Page, []ocr.PageImage) {
	if len(docs) == 0 {
		return ocr.Document{DocType: "unknown"}, pages, images
	}
	doc := docs[0]
	for _, d := range docs {
		if d.DocType != "to-khai" {
			doc = d
			break
		}
	}
	var dp []ocr.Page
	var di []ocr.PageImage
	for _, n := range doc.Pages {
		if n >= 1 && n <= len(pages) && n <= len(images) {
			dp = append(dp, pages[n-1])
			di = append(di, images[n-1])
		}
	}
	return doc, dp, di
}

// x509PoolOf trusts the last certificate of the key's chain (its root).
func x509PoolOf(k *signing.Keys) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(k.Chain[len(k.Chain)-1])
	return pool
}
