package pdftexttest

import (
	"strings"
	"unicode"

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

// LayoutLines places lines on an A4 page in the usual administrative
// format: the lines before the national motto ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA
// VIỆT NAM") in the left header column with the motto and its next line
// beside them on the right, the body from the left margin, and the signer
// block (the upper-case title lines near the end and the name under them)
// in the right column, with what follows it beside it on the left.
func LayoutLines(f *Font, lines []string) []Text {
	type cell struct {
		row   int
		right bool
		s     string
	}
	var cells []cell
	row := 0
	start := 0
	if m := mottoLine(lines); m > 0 {
		for i := 0; i < m; i++ {
			cells = append(cells, cell{i, false, lines[i]})
		}
		for i := m; i < min(m+2, len(lines)); i++ {
			cells = append(cells, cell{i - m, true, lines[i]})
		}
		row, start = max(m, 2), min(m+2, len(lines))
	}
	sig, sigEnd := signerBlock(lines, start)
	for i := start; i < sig; i++ {
		cells = append(cells, cell{row, false, lines[i]})
		row++
	}
	if sig < len(lines) {
		r := row
		for i := sig; i < sigEnd; i++ {
			cells = append(cells, cell{r, true, lines[i]})
			r++
		}
		r2 := row
		for i := sigEnd; i < len(lines); i++ {
			cells = append(cells, cell{r2, false, lines[i]})
			r2++
		}
		row = max(r, r2)
	}
	avail := A4Height - marginTop - marginBottom
	step := bodySize * lineFactor
	if n := float64(row); n*step > avail {
		step = avail / n
	}
	const rightX = 330.0
	var out []Text
	for _, c := range cells {
		l := strings.TrimSpace(c.s)
		if l == "" {
			continue
		}
		x, width := marginX, A4Width-2*marginX
		if c.right {
			x, width = rightX, A4Width-rightX-marginX/2
		}
		size := bodySize
		if w := f.TextWidth(l, size); w > width {
			size *= width / w
		}
		size = min(size, step/1.15)
		out = append(out, Text{X: x, Y: marginTop + float64(c.row)*step, Size: size, S: l})
	}
	return out
}

// mottoLine is the index of the national motto among the first lines, 0
// when there is none after a header line.
func mottoLine(lines []string) int {
	for i := 1; i < min(len(lines), 5); i++ {
		if strings.TrimSpace(lines[i]) == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" {
			return i
		}
	}
	return 0
}

// signerBlock finds, among the last six lines from start, the first run of
// upper-case lines and the line under it: [from, to), or len(lines) when
// there is none.
func signerBlock(lines []string, start int) (from, to int) {
	for i := max(start, len(lines)-6); i < len(lines); i++ {
		if !upperLine(lines[i]) {
			continue
		}
		j := i
		for j < len(lines) && upperLine(lines[j]) {
			j++
		}
		return i, min(j+1, len(lines))
	}
	return len(lines), len(lines)
}

func upperLine(s string) bool {
	letters := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			if !unicode.IsUpper(r) {
				return false
			}
			letters++
		}
	}
	return letters >= 2
}

// BornDigital is the born-digital PDF of a truth file's pages.
func BornDigital(f *Font, t *ocr.Truth, opt Options) ([]byte, error) {
	return Write(f, TruthPages(f, t), opt)
}
