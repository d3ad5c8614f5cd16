package tesseract

import (
	"bytes"
	"context"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sohoa/internal/testenv"
	"sohoa/ocr"
	"sohoa/ocr/pdftext"
	"sohoa/ocr/pdftext/pdftexttest"
)

// pdfFixture is one generated PDF and the truth it was drawn from.
type pdfFixture struct {
	truth *ocr.Truth
	font  *pdftexttest.Font
}

func loadPDFFixture(t *testing.T, scan string) pdfFixture {
	t.Helper()
	for _, tool := range []string{"pdftotext", "pdfimages", "pdffonts", "pdftoppm"} {
		testenv.MustHaveExecPath(t, tool)
	}
	testenv.MustHaveFile(t, pdftexttest.DefaultFont, "make deps installs fonts-liberation2")
	data, err := os.ReadFile(filepath.Join(corpusDir(t), strings.TrimSuffix(scan, filepath.Ext(scan))+".truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ocr.ParseTruth(data)
	if err != nil {
		t.Fatal(err)
	}
	f, err := pdftexttest.LoadFont(pdftexttest.DefaultFont)
	if err != nil {
		t.Fatal(err)
	}
	return pdfFixture{truth: tr, font: f}
}

// recognizeFile opens and recognises a PDF as the OCR child does.
func recognizeFile(t *testing.T, eng pageRecognizer, data []byte) ([]ocr.Page, []ocr.PageImage, *ocr.Scan) {
	t.Helper()
	scan, err := ocr.OpenScan(context.Background(), data, "fixture.pdf", ocr.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	pages, images, err := recognizePDF(context.Background(), eng, data, scan, pdftext.Options{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	return pages, images, scan
}

// noEngine fails a test that should not need OCR.
type noEngine struct{ t *testing.T }

func (e noEngine) Recognize(context.Context, ocr.PageImage) (ocr.Page, error) {
	e.t.Fatal("a text page was sent to OCR")
	return ocr.Page{}, nil
}

func TestPDFTextPages(t *testing.T) {
	fx := loadPDFFixture(t, "scan_0001.pdf")
	ls, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	data, err := pdftexttest.BornDigital(fx.font, fx.truth, pdftexttest.Options{JavaScript: true})
	if err != nil {
		t.Fatal(err)
	}
	pages, images, scan := recognizeFile(t, noEngine{t}, data)
	if len(pages) != 1 || pages[0].Kind != pdftext.KindText || pages[0].Source != pdftext.SourceTextLayer {
		t.Fatalf("pages %+v", pages)
	}
	if !slices.Contains(scan.ActiveContent, "JavaScript") || !slices.Contains(scan.ActiveContent, "OpenAction") {
		t.Errorf("active content %v: the script is found (and never run)", scan.ActiveContent)
	}
	if img := images[0]; img.Format != "png" || img.DPI != 300 || len(img.Data) == 0 {
		t.Errorf("page image %s at %v dpi, %d bytes: want the 300 dpi rendering", img.Format, img.DPI, len(img.Data))
	}
	// The same lines, in the page's visual order (two columns side by side).
	got, want := strings.Split(pages[0].Text, "\n"), strings.Split(fx.truth.Pages[0].FullText, "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("text layer lines:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	docs := ocr.Extract(pages, ls)
	if len(docs) != 1 || docs[0].DocType != fx.truth.DocType || docs[0].NeedsReview {
		t.Fatalf("documents %+v", docs)
	}
	for k, want := range fx.truth.Documents[0].Fields {
		if got := docs[0].Fields[k].Value; got != want {
			t.Errorf("field %s = %q, want %q", k, got, want)
		}
	}
}

func TestPDFTextNoUnicodeMap(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	fx := loadPDFFixture(t, "scan_0001.pdf")
	data, err := pdftexttest.BornDigital(fx.font, fx.truth, pdftexttest.Options{NoUnicodeMap: true})
	if err != nil {
		t.Fatal(err)
	}
	pages, _, _ := recognizeFile(t, testEngine(t), data)
	p := pages[0]
	if p.Kind != pdftext.KindText || p.Source != pdftext.SourceOCR || !slices.Contains(p.Flags, ocr.FlagTextLayerIgnored) {
		t.Fatalf("kind %s source %s flags %v: the garbage layer must be ignored and the rendering recognised", p.Kind, p.Source, p.Flags)
	}
	if e := cer(p.Text, fx.truth.Pages[0].FullText); e > 0.1 {
		t.Errorf("CER of the recognised rendering %.3f", e)
	}
}

// shiftDigits is a wrong text layer: every digit one up.
func shiftDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '0' + (r-'0'+1)%10
		}
		return r
	}, s)
}

// scanWithLayer is a "scan" (the born-digital page rendered at 200 dpi,
// JPEG) under an invisible text layer drawn from lines.
func scanWithLayer(t *testing.T, fx pdfFixture, lines []string) []byte {
	t.Helper()
	born, err := pdftexttest.BornDigital(fx.font, fx.truth, pdftexttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := pdftext.Open(born, pdftext.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	img, err := doc.Render(context.Background(), 1, 200)
	if err != nil {
		t.Fatal(err)
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img.Image, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	b := img.Image.Bounds()
	data, err := pdftexttest.Write(fx.font, []pdftexttest.Page{{
		Image: &pdftexttest.Image{JPEG: jb.Bytes(), Width: b.Dx(), Height: b.Dy()}, Invisible: true,
		Texts: pdftexttest.LayoutLines(fx.font, lines),
	}}, pdftexttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPDFMixedEarlierLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	fx := loadPDFFixture(t, "scan_0001.pdf")
	ls, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	eng := testEngine(t)
	truthLines := strings.Split(fx.truth.Pages[0].FullText, "\n")
	truth := fx.truth.Documents[0]
	for _, c := range []struct {
		name  string
		lines []string
	}{
		{"right layer", truthLines},
		{"wrong layer", strings.Split(shiftDigits(fx.truth.Pages[0].FullText), "\n")},
	} {
		t.Run(c.name, func(t *testing.T) {
			pages, images, _ := recognizeFile(t, eng, scanWithLayer(t, fx, c.lines))
			p := pages[0]
			if p.Kind != pdftext.KindMixed || p.Source != pdftext.SourceOCRLayer || p.Layer == nil {
				t.Fatalf("kind %s source %s layer %v", p.Kind, p.Source, p.Layer)
			}
			if images[0].Format != "jpeg" {
				t.Errorf("page image %s: the scan passes through", images[0].Format)
			}
			a := p.Layer
			t.Logf("%s: %d recognised words, %d layer words: agreed %d, disagreed %d (second reads %d), ocr only %d, layer only %d",
				c.name, a.Words, a.LayerWords, a.Agreed, a.Disagreed, a.SecondReads, a.OCROnly, a.LayerOnly)
			docs := ocr.Extract(pages, ls)
			if len(docs) != 1 || docs[0].DocType != truth.DocType {
				t.Fatalf("documents %+v", docs)
			}
			d := docs[0]
			for k, f := range d.Fields {
				want := truth.Fields[k]
				if f.Value != want && shiftDigits(want) == f.Value && want != f.Value {
					t.Errorf("field %s took the layer's wrong value %q", k, f.Value)
				}
			}
			if d.HolderPersonalID != truth.HolderPersonalID && !d.NeedsReview {
				t.Errorf("holder ID %q auto-accepted, want %q", d.HolderPersonalID, truth.HolderPersonalID)
			}
			if c.name == "wrong layer" {
				if a.SecondReads == 0 {
					t.Error("the wrong IDs and dates gave no second read")
				}
				if !d.NeedsReview {
					t.Errorf("a document whose layer contradicts its ID is auto-accepted: %+v", d.ReviewReasons)
				}
			}
		})
	}
}

func TestPDFVectorDrawingIsMixed(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	fx := loadPDFFixture(t, "scan_0001.pdf")
	pages := pdftexttest.TruthPages(fx.font, fx.truth)
	pages[0].Curves = 120
	data, err := pdftexttest.Write(fx.font, pages, pdftexttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := recognizeFile(t, testEngine(t), data)
	if got[0].Kind != pdftext.KindMixed || got[0].Source != pdftext.SourceOCRLayer {
		t.Fatalf("kind %s source %s: text over vector drawing is mixed", got[0].Kind, got[0].Source)
	}
}
