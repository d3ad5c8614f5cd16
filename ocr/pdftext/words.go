package pdftext

import (
	"image"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"sohoa/ocr"
)

// Text sources of a page (ocr.Page.Source).
const (
	SourceTextLayer = "text-layer"     // words from the PDF's text layer
	SourceOCR       = "ocr"            // words recognised from the page image
	SourceOCRLayer  = "ocr+text-layer" // recognised; the layer was a second read
)

// LayerConfidence is the confidence of a word read from a usable text
// layer: the PDF states it, nothing was guessed.
const LayerConfidence = 1.0

// scale maps layer points to the pixels of an image of w×h covering the
// page.
func (p LayerPage) scale(w, h int) (sx, sy float64) {
	if p.Width <= 0 || p.Height <= 0 {
		return 0, 0
	}
	return float64(w) / p.Width, float64(h) / p.Height
}

// Boxes are the layer's word boxes in pixels of a w×h image of the page.
func (p LayerPage) Boxes(w, h int) []image.Rectangle {
	sx, sy := p.scale(w, h)
	out := make([]image.Rectangle, len(p.Words))
	for i, lw := range p.Words {
		out[i] = image.Rect(int(lw.XMin*sx), int(lw.YMin*sy), int(lw.XMax*sx+0.999), int(lw.YMax*sy+0.999))
	}
	return out
}

// TextPage is the recognised page a usable text layer gives, in pixels of
// img (the page's rendering): one word per layer word with its box, lines
// and blocks in the layer's reading order, at LayerConfidence.
func TextPage(p LayerPage, img ocr.PageImage) ocr.Page {
	b := img.Image.Bounds()
	boxes := p.Boxes(b.Dx(), b.Dy())
	pg := ocr.Page{Number: p.Number, Width: b.Dx(), Height: b.Dy(), DPI: img.DPI, Confidence: LayerConfidence,
		Kind: KindText, Source: SourceTextLayer}
	var text strings.Builder
	// pdftotext numbers lines within the page across blocks; keep that.
	lastLine := -1
	for i, lw := range p.Words {
		if lw.Line != lastLine && lastLine >= 0 {
			text.WriteByte('\n')
		} else if lastLine >= 0 {
			text.WriteByte(' ')
		}
		lastLine = lw.Line
		t := norm.NFC.String(lw.Text)
		text.WriteString(t)
		pg.Words = append(pg.Words, ocr.Word{Text: t, Conf: LayerConfidence, Box: boxes[i], Block: lw.Block, Line: lw.Line})
	}
	pg.Text = text.String()
	return pg
}

// Agreement says how a page's recognition and its earlier text layer
// compare, word by word (ocr.Page.Layer).
type Agreement = ocr.LayerAgreement

// Merge compares the recognised words of a mixed page with its text
// layer, which is never trusted on its own: the recognition stays the page
// read. Each recognised word is matched to the layer words inside its box
// (the layer mapped onto the recognised image: scaled to its size and
// turned by the page's Rotation; the small deskew angle is absorbed by the
// matching tolerance). A number-like word (two digits or more: IDs,
// dates, reference numbers) whose layer reading differs gets that reading
// as a second read (ocr.Reading, Variant "text-layer"), so a disagreement
// on an ID sends the document to review instead of letting either read
// pass. Agreeing words keep their confidence: an earlier layer may come
// from an engine that makes the same mistakes, so agreement proves
// nothing. Words only the layer has are not added.
func Merge(pg ocr.Page, layer LayerPage, srcW, srcH int) (ocr.Page, Agreement) {
	a := Agreement{LayerWords: len(layer.Words), Words: len(pg.Words)}
	if len(layer.Words) == 0 || srcW <= 0 || srcH <= 0 {
		return pg, a
	}
	boxes := layer.Boxes(srcW, srcH)
	for i := range boxes {
		boxes[i] = rotateBox(boxes[i], pg.Rotation, srcW, srcH)
	}
	used := make([]bool, len(boxes))
	out := pg
	out.Words = make([]ocr.Word, len(pg.Words))
	copy(out.Words, pg.Words)
	for i := range out.Words {
		w := &out.Words[i]
		var parts []string
		tol := max(w.Box.Dy()/3, 2)
		zone := w.Box.Inset(-tol)
		for j, lb := range boxes {
			c := image.Pt((lb.Min.X+lb.Max.X)/2, (lb.Min.Y+lb.Max.Y)/2)
			if c.In(zone) {
				parts = append(parts, norm.NFC.String(layer.Words[j].Text))
				used[j] = true
			}
		}
		if len(parts) == 0 {
			a.OCROnly++
			continue
		}
		lt := strings.Join(parts, " ")
		if sameWord(lt, w.Text) {
			a.Agreed++
			continue
		}
		a.Disagreed++
		if digitCount(w.Text) >= 2 || digitCount(lt) >= 2 {
			a.SecondReads++
			w.Alts = append(w.Alts, ocr.Reading{Text: lt, Conf: w.Conf, Words: 1, Variant: "text-layer"})
		}
	}
	for _, u := range used {
		if !u {
			a.LayerOnly++
		}
	}
	out.Layer = &a
	return out, a
}

// rotateBox turns a box of a w×h image by deg clockwise (0, 90, 180, 270).
func rotateBox(r image.Rectangle, deg, w, h int) image.Rectangle {
	switch ((deg % 360) + 360) % 360 {
	case 90:
		return image.Rect(h-r.Max.Y, r.Min.X, h-r.Min.Y, r.Max.X)
	case 180:
		return image.Rect(w-r.Max.X, h-r.Max.Y, w-r.Min.X, h-r.Min.Y)
	case 270:
		return image.Rect(r.Min.Y, w-r.Max.X, r.Max.Y, w-r.Min.X)
	}
	return r
}

// sameWord compares two readings, ignoring case, Unicode form and the
// punctuation around them.
func sameWord(a, b string) bool {
	f := func(s string) string {
		s = norm.NFC.String(strings.ToLower(s))
		s = strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		return strings.Join(strings.Fields(s), " ")
	}
	return f(a) == f(b)
}

func digitCount(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}
