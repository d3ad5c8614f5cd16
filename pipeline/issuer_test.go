package pipeline

import (
	"bytes"
	"crypto/x509"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"
	"time"

	"sohoa/ocr"
	"sohoa/signing"
	"sohoa/storage"
)

func TestPDFIssuer(t *testing.T) {
	dir := t.TempDir()
	keys, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := signing.LoadCertPool(filepath.Join(dir, signing.DevCAFile))
	if err != nil {
		t.Fatal(err)
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	opts := IssuerOptions{
		Keys: keys, Roots: roots, QRKey: []byte("0123456789abcdef0123456789abcdef"),
		VerifyBaseURL: "https://sohoa.example.vn", AgencyName: "UBND phường Hưng Phú", AgencyCode: "000.00.31.H29",
		Layouts: layouts,
	}
	iss, err := NewPDFIssuer(opts)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewGray(image.Rect(0, 0, 400, 560))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	img.Set(20, 40, color.Black)
	var scan bytes.Buffer
	if err := png.Encode(&scan, img); err != nil {
		t.Fatal(err)
	}

	req := IssueRequest{
		ResultCode: "000.00.31.H29-250718-0042-KQ1", DossierCode: "000.00.31.H29-250718-0042", ProcedureCode: "1.001193",
		Origin: "digitized_on_receipt",
		Document: ocr.Document{DocType: "cu-tru", HolderPersonalID: "001099872198",
			Fields: map[string]ocr.Field{"issue_date": {Value: "18/07/2025"}}},
		Pages:        []ocr.Page{{Number: 1, DPI: 72, Words: []ocr.Word{{Text: "Nguyễn", Box: image.Rect(20, 40, 80, 52)}}}},
		Images:       []ocr.PageImage{{Number: 1, Data: scan.Bytes(), Format: "png", DPI: 72}},
		SourceSHA256: storage.SHA256Hex(scan.Bytes()),
		ConvertedAt:  time.Date(2025, 7, 18, 2, 41, 7, 0, time.UTC),
	}
	got, err := iss.Issue(t.Context(), req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if _, err := signing.Verify(got.PDF, signing.VerifyOptions{Roots: roots}); err != nil {
		t.Errorf("issued PDF does not verify: %v", err)
	}
	if got.SignatureFormat != storage.SignatureCMSDetached || got.SignatureTimestamp || got.SignerCertSHA256 != storage.SHA256Hex(keys.Cert().Raw) || got.SigningTime.IsZero() {
		t.Errorf("got format %q timestamp=%v, signer %s, signing time %v; want %s without timestamp, the dev signer, a signing time",
			got.SignatureFormat, got.SignatureTimestamp, got.SignerCertSHA256, got.SigningTime, storage.SignatureCMSDetached)
	}

	// Failures that the same input would hit again are quarantined.
	noImages := req
	noImages.Images = nil
	if _, err := iss.Issue(t.Context(), noImages); !isCode(err, CodeSigning) {
		t.Errorf("no page images: got %v, want a permanent %s error", err, CodeSigning)
	}
	opts.Roots = x509.NewCertPool()
	untrusting, err := NewPDFIssuer(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untrusting.Issue(t.Context(), req); !isCode(err, CodeSigning) {
		t.Errorf("own output not trusted: got %v, want a permanent %s error", err, CodeSigning)
	}
}

func isCode(err error, want string) bool {
	code, permanent := classify(err)
	return permanent && code == want
}

func TestRenderPages(t *testing.T) {
	words := []ocr.Word{{Text: "Số", Conf: 0.9, Box: image.Rect(1, 2, 3, 4), Block: 1, Line: 2}}
	pages := []ocr.Page{{Number: 1, Rotation: 90, Skew: 0.5, Width: 30, Height: 40, DPI: 200, Words: words}}
	images := []ocr.PageImage{{Number: 1, Data: []byte("a"), DPI: 0}, {Number: 2, Data: []byte("b"), DPI: 300}}
	got := renderPages(pages, images)
	if len(got) != 2 {
		t.Fatalf("got %d pages, want 2", len(got))
	}
	p := got[0]
	if p.DPI != 200 || p.Rotation != 90 || p.Skew != 0.5 || p.Width != 30 || p.Height != 40 || string(p.Data) != "a" {
		t.Errorf("page 1: got %+v, want the recognition's DPI, rotation, skew and size", p)
	}
	if len(p.Words) != 1 || p.Words[0] != (signing.Word{Text: "Số", Box: image.Rect(1, 2, 3, 4), Block: 1, Line: 2}) {
		t.Errorf("page 1 words: got %+v", p.Words)
	}
	if q := got[1]; q.DPI != 300 || q.Rotation != 0 || len(q.Words) != 0 || string(q.Data) != "b" {
		t.Errorf("page 2 (not recognised): got %+v, want the image alone", q)
	}
}
