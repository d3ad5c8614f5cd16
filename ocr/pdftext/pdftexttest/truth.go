package pdftexttest

import (
	"strings"

	"sohoa/ocr"
)

// Layout of a born-digital page drawn from truth text.
const (
	marginX      = 56.0
	marginTop    = 64.0
	marginBottom = 56.0
	bodySize     = 13.0
	lineFactor   = 1.45
)

// TruthPages lays out each truth page's full text, one truth line per
// line, top to bottom from the left margin; a line too wide for the page
// is set smaller, a page with many lines closer.
func TruthPages(f *Font, t *ocr.Truth) []Page {
	pages := make([]Page, 0, len(t.Pages))
	for _, tp := range t.Pages {
		pages = append(pages, Page{Texts: LayoutLines(f, strings.Split(tp.FullText, "\n"))})
	}
	return pages
}

// LayoutLines places lines on an A4 page.
func LayoutLines(f *Font, lines []string) []Text {
	avail := A4Height - marginTop - marginBottom
	step := bodySize * lineFactor
	if n := float64(len(lines)); n*step > avail {
		step = avail / n
	}
	var out []Text
	y := marginTop
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l != "" {
			size := bodySize
			if w := f.TextWidth(l, size); w > A4Width-2*marginX {
				size *= (A4Width - 2*marginX) / w
			}
			size = min(size, step/1.15)
			out = append(out, Text{X: marginX, Y: y, Size: size, S: l})
		}
		y += step
	}
	return out
}

// BornDigital is the born-digital PDF of a truth file's pages.
func BornDigital(f *Font, t *ocr.Truth, opt Options) ([]byte, error) {
	return Write(f, TruthPages(f, t), opt)
}
