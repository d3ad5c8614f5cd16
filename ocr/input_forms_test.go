package ocr

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"sohoa/signing"
)

// pdfWithCatalog writes a one-page PDF whose catalog carries extra (e.g.
// "/AcroForm 4 0 R") and whose objects 4… are objs.
func pdfWithCatalog(extra string, objs ...string) []byte {
	all := append([]string{
		"<< /Type /Catalog /Pages 2 0 R " + extra + " >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
	}, objs...)
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(all))
	for i, o := range all {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(all)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(all)+1, x)
	return b.Bytes()
}

// TestPDFFormsActiveContent: the AcroForm of a signed PDF (signature
// fields only) is no active content, so a validly signed input is not sent
// to review for it; a fillable field, a field with actions, an XFA form or
// a field tree past the walk's bounds is.
func TestPDFFormsActiveContent(t *testing.T) {
	dir := t.TempDir()
	keys, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signing.Sign(context.Background(), pdfWithCatalog(""), keys, signing.SignOptions{Time: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	sigField := "<< /FT /Sig /T (Signature 1) /Subtype /Widget /Rect [0 0 0 0] /F 132 >>"
	textField := "<< /FT /Tx /T (name) /DA (/Helv 0 Tf 0 g) /Rect [0 0 10 10] >>"
	deep := "<< /FT /Sig /T (a) /Kids [5 0 R] >>"
	for i := 0; i < maxFormDepth+1; i++ {
		deep += fmt.Sprintf("\x00<< /T (k%d) /Kids [%d 0 R] /Rect [0 0 0 0] >>", i, 6+i)
	}
	deepObjs := bytes.Split([]byte(deep+"\x00"+sigField), []byte{0})
	var deepStrs []string
	for _, o := range deepObjs {
		deepStrs = append(deepStrs, string(o))
	}
	tests := []struct {
		name   string
		pdf    []byte
		active []string
	}{
		{"signed by signing.Sign", signed, nil},
		{"signature field only", pdfWithCatalog("/AcroForm << /Fields [4 0 R] /SigFlags 3 >>", sigField), nil},
		{"no fields", pdfWithCatalog("/AcroForm << /Fields [] >>"), nil},
		{"signature parent, widget kid", pdfWithCatalog("/AcroForm << /Fields [4 0 R] >>",
			"<< /FT /Sig /T (s) /Kids [5 0 R] >>", "<< /Subtype /Widget /Parent 4 0 R /Rect [0 0 0 0] >>"), nil},
		{"text field", pdfWithCatalog("/AcroForm << /Fields [4 0 R] >>", textField), []string{"AcroForm"}},
		{"text kid under a plain parent", pdfWithCatalog("/AcroForm << /Fields [4 0 R] >>",
			"<< /T (p) /Kids [5 0 R] /Rect [0 0 0 0] >>", "<< /FT /Tx /T (c) /Parent 4 0 R /DA (/Helv 0 Tf 0 g) /Rect [0 0 10 10] >>"), []string{"AcroForm"}},
		{"signature field with actions", pdfWithCatalog("/AcroForm << /Fields [4 0 R] >>",
			"<< /FT /Sig /T (s) /Rect [0 0 0 0] /AA << /K << /S /JavaScript /JS (1) >> >> >>"), []string{"AcroForm"}},
		{"XFA", pdfWithCatalog("/AcroForm << /Fields [4 0 R] /XFA [(template) 5 0 R] >>", sigField, "<< /Length 0 >>\nstream\n\nendstream"), []string{"AcroForm"}},
		{"field without a type", pdfWithCatalog("/AcroForm << /Fields [4 0 R] >>", "<< /T (x) >>"), []string{"AcroForm"}},
		{"tree deeper than the bound", pdfWithCatalog("/AcroForm << /Fields [4 0 R] >>", deepStrs...), []string{"AcroForm"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scan, err := OpenScan(context.Background(), tc.pdf, "f.pdf", DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(scan.ActiveContent, tc.active) {
				t.Errorf("active content %v, want %v", scan.ActiveContent, tc.active)
			}
		})
	}
}
