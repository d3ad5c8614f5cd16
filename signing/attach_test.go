package signing_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sohoa/internal/testenv"
	"sohoa/signing"
)

// TestEmbeddedDataSigned: the data document embedded before signing is an
// associated file (/AF, AFRelationship /Data) of the signed revision:
// pdfsig and the strict verifier accept the file, pdfdetach extracts
// exactly the bytes given, and EmbeddedData reads the same.
func TestEmbeddedDataSigned(t *testing.T) {
	pdfsig := testenv.MustHaveExecPath(t, "pdfsig")
	pdfdetach := testenv.MustHaveExecPath(t, "pdfdetach")
	qpdf := testenv.MustHaveExecPath(t, "qpdf")
	keys, caFile := devKeys(t)
	s := loadSample(t, corpusSamples(t)[0])
	// Characters JSON and PDF strings treat specially, and Vietnamese.
	data := []byte(`{"result_code":"000.00.31.H29-250718-0042-KQ1","fields":{"full_name":{"value":"Nguyễn Thị (Hoa) \\ \u003c\u0026\u003e"}}}`)
	s.in.Data = data
	signed := renderSign(t, s, keys, "")
	if v, err := signing.Verify(signed, rootsFrom(t, caFile)); err != nil || !v.Valid {
		t.Fatalf("Verify: valid=%v err=%v reasons=%v", v.Valid, err, v.Reasons)
	}
	f := writeTemp(t, "e.pdf", signed)
	out, _ := exec.Command(pdfsig, "-nssdir", nssDB(t, caFile), f).CombinedOutput()
	for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("pdfsig output lacks %q:\n%s", want, out)
		}
	}
	if out, err := exec.Command(qpdf, "--check", f).CombinedOutput(); err != nil {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
	list, err := exec.Command(pdfdetach, "-list", f).CombinedOutput()
	if err != nil || !strings.Contains(string(list), "1 embedded files") || !strings.Contains(string(list), signing.DataFileName) {
		t.Fatalf("pdfdetach -list: %v\n%s", err, list)
	}
	dst := filepath.Join(t.TempDir(), "out.json")
	if out, err := exec.Command(pdfdetach, "-save", "1", "-o", dst, f).CombinedOutput(); err != nil {
		t.Fatalf("pdfdetach -save: %v\n%s", err, out)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("pdfdetach extracted %q, want %q", got, data)
	}
	if got, err := signing.EmbeddedData(signed); err != nil || !bytes.Equal(got, data) {
		t.Errorf("EmbeddedData: got %q, %v; want %q", got, err, data)
	}
	// PDF/A-3 with the associated file named in the catalog.
	for _, re := range []string{`<pdfaid:part>3</pdfaid:part>`, `/AFRelationship /Data`, `/AF \d+ 0 R`, `/Subtype /application#2Fjson`} {
		if !regexp.MustCompile(re).Match(signed) {
			t.Errorf("signed PDF lacks %s", re)
		}
	}

	// Without data: none embedded, PDF/A-2.
	plain, err := newRenderer(t).Render(context.Background(), loadSample(t, corpusSamples(t)[0]).in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signing.EmbeddedData(plain); !errors.Is(err, signing.ErrNoData) {
		t.Errorf("EmbeddedData without data: got %v, want ErrNoData", err)
	}
	if !bytes.Contains(plain, []byte(`<pdfaid:part>2</pdfaid:part>`)) {
		t.Error("PDF without an associated file is not PDF/A-2")
	}
}

// TestPageSizeFollowsPaper: an A4 scan gives A4 pages (595×842 pt), page 1
// included: the stamp band shrinks the scan instead of growing the page.
func TestPageSizeFollowsPaper(t *testing.T) {
	pdfinfo := testenv.MustHaveExecPath(t, "pdfinfo")
	var a4 string
	for _, p := range corpusSamples(t) {
		if strings.HasSuffix(p, ".jpg") || strings.HasSuffix(p, ".png") {
			a4 = p
			break
		}
	}
	s := loadSample(t, a4)
	s.in.Pages = append(s.in.Pages, s.in.Pages[0]) // a second page, without the band
	unsigned, err := newRenderer(t).Render(context.Background(), s.in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdfinfo, "-f", "1", "-l", "2", writeTemp(t, "p.pdf", unsigned)).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	sizes := regexp.MustCompile(`Page +\d+ size: +([\d.]+) x ([\d.]+) pts`).FindAllStringSubmatch(string(out), -1)
	if len(sizes) != 2 {
		t.Fatalf("pdfinfo: got %d page sizes, want 2:\n%s", len(sizes), out)
	}
	for i, sz := range sizes {
		if sz[1] != "595.276" || sz[2] != "841.89" {
			t.Errorf("page %d: got %s x %s pt, want A4 595.276 x 841.89", i+1, sz[1], sz[2])
		}
	}
}
