package signing_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sohoa/internal/testenv"
	"sohoa/signing"
	"sohoa/signing/signingtest"
)

var update = flag.Bool("update", false, "rewrite testdata/sample_eresult.png from the rendered e-result")

// TestCorpusEResults renders and signs every JPEG/PNG of the dev corpus and
// checks each e-result with the verifier, pdfsig (CA trusted through an NSS
// db), qpdf --check and pdftotext.
func TestCorpusEResults(t *testing.T) {
	pdfsig := testenv.MustHaveExecPath(t, "pdfsig")
	qpdf := testenv.MustHaveExecPath(t, "qpdf")
	pdftotext := testenv.MustHaveExecPath(t, "pdftotext")
	keys, caFile := devKeys(t)
	db := nssDB(t, caFile)
	opts := rootsFrom(t, caFile)
	for _, path := range corpusSamples(t) {
		s := loadSample(t, path)
		t.Run(s.name, func(t *testing.T) {
			signed := renderSign(t, s, keys, "")
			v, err := signing.Verify(signed, opts)
			if err != nil || !v.Valid {
				t.Fatalf("Verify: valid=%v err=%v reasons=%v", v.Valid, err, v.Reasons)
			}
			f := writeTemp(t, "e.pdf", signed)
			out, _ := exec.Command(pdfsig, "-nssdir", db, f).CombinedOutput()
			for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed"} {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("pdfsig output lacks %q:\n%s", want, out)
				}
			}
			if out, err := exec.Command(qpdf, "--check", f).CombinedOutput(); err != nil {
				t.Errorf("qpdf --check: %v\n%s", err, out)
			}
			txt, err := exec.Command(pdftotext, "-enc", "UTF-8", f, "-").Output()
			if err != nil {
				t.Fatalf("pdftotext: %v", err)
			}
			text := string(txt)
			wants := []string{"Bản điện tử chuyển đổi từ bản giấy", "000.00.31.H29-250718-0042-KQ1"}
			if name := s.truth.Fields["full_name"]; name != "" {
				wants = append(wants, name)
			}
			for _, w := range wants {
				if !strings.Contains(text, w) {
					t.Errorf("pdftotext lacks %q; got first 400 bytes:\n%.400s", w, text)
				}
			}
			if strings.Contains(text, s.truth.Holder) && !strings.Contains(s.truth.Pages[0].FullText, s.truth.Holder) {
				t.Errorf("holder ID appears in extracted text but not in the source text")
			}
		})
	}
}

// TestTimestampedSignature signs with an in-process RFC 3161 TSA (a CMS
// signature timestamp).
func TestTimestampedSignature(t *testing.T) {
	pdfsig := testenv.MustHaveExecPath(t, "pdfsig")
	dir := t.TempDir()
	keys, err := signing.EnsureDevKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	caKeyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	caKeys, err := signing.LoadPEM(filepath.Join(dir, signing.DevCAFile), writeTemp(t, "ca.key", caKeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := signingtest.NewTSA(caKeys.Cert(), caKeys.Signer)
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	s := loadSample(t, corpusSamples(t)[0])
	signed := renderSign(t, s, keys, tsa.URL)
	opts := rootsFrom(t, filepath.Join(dir, signing.DevCAFile))
	opts.RequireTimestamp = true
	v, err := signing.Verify(signed, opts)
	if err != nil || !v.Valid {
		t.Fatalf("Verify: valid=%v err=%v reasons=%v", v.Valid, err, v.Reasons)
	}
	if v.Timestamp == nil {
		t.Fatalf("got no timestamp in verdict, want one")
	}
	out, _ := exec.Command(pdfsig, "-nssdir", nssDB(t, filepath.Join(dir, signing.DevCAFile)), writeTemp(t, "ts.pdf", signed)).CombinedOutput()
	if !bytes.Contains(out, []byte("Signature is Valid")) {
		t.Errorf("pdfsig: %s", out)
	}
	// The same token judged against roots that do not include the TSA's CA
	// must be rejected.
	otherDir := t.TempDir()
	if _, err := signing.EnsureDevKeys(otherDir); err != nil {
		t.Fatal(err)
	}
	opts.TSARoots = rootsFrom(t, filepath.Join(otherDir, signing.DevCAFile)).Roots
	if v, err := signing.Verify(signed, opts); err == nil || v.Valid {
		t.Errorf("Verify with untrusted TSA root: got valid, want invalid")
	}
}

// rasterPage1 rasterises page 1 of pdf at dpi with pdftoppm and returns
// the PNG and its decoded image.
func rasterPage1(t *testing.T, pdftoppm string, pdf []byte, dpi int) ([]byte, image.Image) {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "p")
	if out, err := exec.Command(pdftoppm, "-r", fmt.Sprint(dpi), "-png", "-f", "1", "-l", "1", "-singlefile",
		writeTemp(t, "e.pdf", pdf), prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	data, err := os.ReadFile(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return data, img
}

// TestStampRaster rasterises page 1 and checks that the stamp (upper right)
// and the QR code (upper left) are drawn, and that the page matches the
// golden sample by pixels.
func TestStampRaster(t *testing.T) {
	pdftoppm := testenv.MustHaveExecPath(t, "pdftoppm")
	keys, _ := devKeys(t)
	s := loadSample(t, corpusSamples(t)[0])
	signed := renderSign(t, s, keys, "")
	_, img := rasterPage1(t, pdftoppm, signed, 50)
	b := img.Bounds()
	// At 50 dpi 1 pt = 0.694 px. Stamp: right 245 pt, top 90 pt. QR: left 80 pt, top 80 pt.
	px := func(pt float64) int { return int(pt * 50 / 72) }
	regions := map[string]image.Rectangle{
		"stamp": image.Rect(b.Max.X-px(240), px(12), b.Max.X-px(12), px(85)),
		"qr":    image.Rect(px(10), px(10), px(76), px(76)),
	}
	for name, r := range regions {
		dark, white := 0, 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				cr, cg, cb, _ := img.At(x, y).RGBA()
				l := (cr + cg + cb) / 3 >> 8
				if l < 100 {
					dark++
				}
				if l > 240 {
					white++
				}
			}
		}
		total := r.Dx() * r.Dy()
		t.Logf("%s: %d dark, %d white of %d px", name, dark, white, total)
		if dark < total/50 {
			t.Errorf("%s region: got %d dark pixels of %d, want at least %d", name, dark, total, total/50)
		}
		if white < total/4 {
			t.Errorf("%s region: got %d white pixels of %d, want a white box (>= %d)", name, white, total, total/4)
		}
	}

	// Page 1 at 60 dpi against the golden sample (also the README's image),
	// by pixels. The inputs are fixed (corpus sample, conversion time,
	// verification URL); only the signing time varies, and it is not drawn.
	gotPNG, got := rasterPage1(t, pdftoppm, signed, goldenDPI)
	golden := filepath.Join("testdata", "sample_eresult.png")
	if *update {
		if err := os.WriteFile(golden, gotPNG, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantPNG, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run go test -run TestStampRaster -update to create it): %v", err)
	}
	want, err := png.Decode(bytes.NewReader(wantPNG))
	if err != nil {
		t.Fatalf("decode golden: %v", err)
	}
	if err := compareRaster(got, want); err != nil {
		kept := filepath.Join(t.ArtifactDir(), "sample_eresult.png")
		if werr := os.WriteFile(kept, gotPNG, 0o644); werr != nil {
			t.Log(werr)
		}
		t.Errorf("page 1 differs from %s: %v\nrendered page: %s (kept with -artifacts); if the change is intended, run go test -run TestStampRaster -update", golden, err, kept)
	}

	// The comparison catches what a regression would change: other stamp
	// text, a stamp left out.
	variants := map[string]func(in *signing.RenderInput){
		"other conversion time": func(in *signing.RenderInput) {
			in.Meta.ConvertedAt = in.Meta.ConvertedAt.Add(25*time.Hour + 11*time.Minute)
		},
		"other result code": func(in *signing.RenderInput) { in.Meta.ResultCode = "000.00.31.H29-251231-0987-KQ2" },
	}
	for name, change := range variants {
		v := s
		change(&v.in)
		_, img := rasterPage1(t, pdftoppm, renderSign(t, v, keys, ""), goldenDPI)
		if err := compareRaster(img, want); err == nil {
			t.Errorf("%s: the page compares equal to the golden, want a difference", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// goldenDPI is the resolution of testdata/sample_eresult.png.
const goldenDPI = 60

// TestRenderDeterministic: the same input gives the same unsigned bytes.
func TestRenderDeterministic(t *testing.T) {
	s := loadSample(t, corpusSamples(t)[0])
	r := newRenderer(t)
	a, err := r.Render(context.Background(), s.in)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Render(context.Background(), s.in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("got different output for the same input (%d vs %d bytes)", len(a), len(b))
	}
	if bytes.Contains(a, []byte(s.truth.Holder)) && s.truth.Holder != "" {
		// The holder ID may legitimately be in the OCR text layer (it is
		// printed on the paper), but never in the QR payload or metadata.
		for _, key := range []string{"/SohoaResultCode", "<x:xmpmeta"} {
			if i := bytes.Index(a, []byte(key)); i >= 0 && bytes.Contains(a[i:min(len(a), i+4000)], []byte(s.truth.Holder)) {
				t.Errorf("holder ID found near %s", key)
			}
		}
	}
}
