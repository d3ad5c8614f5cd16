// Package pdftexttest makes the PDFs the text-layer tests and the
// born-digital evaluation run on: born-digital PDFs drawn from a corpus
// truth text with a real TrueType font (with or without a Unicode map),
// and scans with an invisible text layer of chosen (right or wrong) words.
// Nothing here is hand-picked: every file is generated from text.
package pdftexttest

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// DefaultFont is the Debian path of Liberation Serif (fonts-liberation2,
// installed by deploy/local/deps.sh), the font of the dev corpus.
const DefaultFont = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"

// A4 in points.
const (
	A4Width  = 595.0
	A4Height = 842.0
)

// Font is a TrueType font to embed whole (Type0/CIDFontType2, Identity-H,
// CID = glyph ID).
type Font struct {
	data []byte
	f    *sfnt.Font
	upem float64
	buf  sfnt.Buffer
}

// LoadFont reads a TrueType file.
func LoadFont(path string) (*Font, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load font: %w", err)
	}
	f, err := sfnt.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse font %s: %w", path, err)
	}
	return &Font{data: data, f: f, upem: float64(f.UnitsPerEm())}, nil
}

// glyph returns the glyph ID of r (0 when missing).
func (f *Font) glyph(r rune) uint16 {
	g, err := f.f.GlyphIndex(&f.buf, r)
	if err != nil {
		return 0
	}
	return uint16(g)
}

// advance is glyph g's advance in 1/1000 em.
func (f *Font) advance(g uint16) float64 {
	a, err := f.f.GlyphAdvance(&f.buf, sfnt.GlyphIndex(g), fixed.I(int(f.upem)), font.HintingNone)
	if err != nil {
		return 0
	}
	return float64(a) / 64 * 1000 / f.upem
}

// TextWidth is the width of s at size points.
func (f *Font) TextWidth(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		w += f.advance(f.glyph(r))
	}
	return w * size / 1000
}

// Text is one run of text placed on a page: its baseline starts at (X, Y),
// in points from the page's top-left corner.
type Text struct {
	X, Y, Size float64
	S          string
}

// Image is a page-covering image (a scan), JPEG bytes.
type Image struct {
	JPEG          []byte
	Width, Height int // pixels
}

// Page is one page to write.
type Page struct {
	Width, Height float64 // points; zero: A4
	Texts         []Text
	// Invisible draws the texts in rendering mode 3 (neither filled nor
	// stroked), as OCR tools lay a text layer over a scan.
	Invisible bool
	// Image, when set, covers the whole page under the text.
	Image *Image
	// Curves draws this many small filled Bézier shapes (a vector seal or
	// signature) in the bottom margin.
	Curves int
}

// Options change how a document is written.
type Options struct {
	// NoUnicodeMap writes the font without a ToUnicode CMap and with the
	// embedded font's own cmap table removed, as some older exporters did:
	// the page renders correctly but its text does not extract.
	NoUnicodeMap bool
	// JavaScript adds a document-level script and an open action (they
	// must be ignored).
	JavaScript bool
}

// Write makes a PDF of pages drawn with f.
func Write(f *Font, pages []Page, opt Options) ([]byte, error) {
	if len(pages) == 0 {
		return nil, errors.New("pdftexttest: no pages")
	}
	w := &writer{}
	catalog, pagesObj := w.alloc(), w.alloc()
	used := map[uint16]rune{}
	var kids []int
	fontObj := w.alloc()
	for _, p := range pages {
		if p.Width == 0 {
			p.Width, p.Height = A4Width, A4Height
		}
		var content bytes.Buffer
		res := fmt.Sprintf("/Font << /F1 %d 0 R >>", fontObj)
		if p.Image != nil {
			img := w.addStream(fmt.Sprintf("/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode",
				p.Image.Width, p.Image.Height), p.Image.JPEG, false)
			res += fmt.Sprintf(" /XObject << /Im1 %d 0 R >>", img)
			fmt.Fprintf(&content, "q %s 0 0 %s 0 0 cm /Im1 Do Q\n", num(p.Width), num(p.Height))
		}
		if len(p.Texts) > 0 {
			content.WriteString("BT\n")
			if p.Invisible {
				content.WriteString("3 Tr\n")
			}
			for _, t := range p.Texts {
				var hex strings.Builder
				for _, r := range t.S {
					g := f.glyph(r)
					if _, ok := used[g]; !ok {
						used[g] = r
					}
					fmt.Fprintf(&hex, "%04X", g)
				}
				fmt.Fprintf(&content, "/F1 %s Tf 1 0 0 1 %s %s Tm <%s> Tj\n", num(t.Size), num(t.X), num(p.Height-t.Y), hex.String())
			}
			content.WriteString("ET\n")
		}
		for i := 0; i < p.Curves; i++ {
			x, y := 60+float64(i%40)*12, 30+float64(i/40)*12
			fmt.Fprintf(&content, "0 0 0.6 rg %s %s m %s %s %s %s %s %s c %s %s %s %s %s %s c f\n",
				num(x), num(y), num(x+3), num(y+8), num(x+7), num(y+8), num(x+10), num(y),
				num(x+7), num(y-8), num(x+3), num(y-8), num(x), num(y))
		}
		cs := w.addStream("", content.Bytes(), true)
		kids = append(kids, w.add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources << %s >> /Contents %d 0 R >>",
			pagesObj, num(p.Width), num(p.Height), res, cs)))
	}
	// The font: Type0 over one CIDFontType2 with the whole TrueType file.
	fontData := f.data
	if opt.NoUnicodeMap {
		var err error
		if fontData, err = withoutCmap(f.data); err != nil {
			return nil, err
		}
	}
	ff := w.addStream(fmt.Sprintf("/Length1 %d", len(fontData)), fontData, true)
	name := "AAAAAA+LiberationSerif"
	desc := w.add(fmt.Sprintf("<< /Type /FontDescriptor /FontName /%s /Flags 6 /FontBBox [-600 -300 2000 1000] /ItalicAngle 0 /Ascent 891 /Descent -216 /CapHeight 662 /StemV 80 /FontFile2 %d 0 R >>", name, ff))
	gids := make([]int, 0, len(used))
	for g := range used {
		gids = append(gids, int(g))
	}
	sort.Ints(gids)
	var widths strings.Builder
	for _, g := range gids {
		fmt.Fprintf(&widths, "%d [%s] ", g, num(f.advance(uint16(g))))
	}
	cid := w.add(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /%s /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor %d 0 R /W [%s] /CIDToGIDMap /Identity >>", name, desc, widths.String()))
	type0 := fmt.Sprintf("<< /Type /Font /Subtype /Type0 /BaseFont /%s /Encoding /Identity-H /DescendantFonts [%d 0 R]", name, cid)
	if !opt.NoUnicodeMap {
		type0 += fmt.Sprintf(" /ToUnicode %d 0 R", w.addStream("", toUnicode(used, gids), true))
	}
	w.set(fontObj, type0+" >>")
	var ks []string
	for _, k := range kids {
		ks = append(ks, fmt.Sprintf("%d 0 R", k))
	}
	w.set(pagesObj, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(ks, " "), len(kids)))
	cat := fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R", pagesObj)
	if opt.JavaScript {
		js := w.add("<< /S /JavaScript /JS (app.alert\\('hi'\\);) >>")
		names := w.add(fmt.Sprintf("<< /Names [(init) %d 0 R] >>", js))
		cat += fmt.Sprintf(" /OpenAction %d 0 R /Names << /JavaScript %d 0 R >>", js, names)
	}
	w.set(catalog, cat+" >>")
	return w.bytes(catalog), nil
}

// toUnicode is a ToUnicode CMap for the used glyphs.
func toUnicode(used map[uint16]rune, gids []int) []byte {
	var b bytes.Buffer
	b.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for i := 0; i < len(gids); i += 100 {
		chunk := gids[i:min(i+100, len(gids))]
		fmt.Fprintf(&b, "%d beginbfchar\n", len(chunk))
		for _, g := range chunk {
			r := used[uint16(g)]
			var u strings.Builder
			for _, c := range utf16(r) {
				fmt.Fprintf(&u, "%04X", c)
			}
			fmt.Fprintf(&b, "<%04X> <%s>\n", g, u.String())
		}
		b.WriteString("endbfchar\n")
	}
	b.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	return b.Bytes()
}

func utf16(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xD800 + (r >> 10)), uint16(0xDC00 + (r & 0x3FF))}
}

// withoutCmap returns the TrueType file with its cmap table renamed, so no
// reader can map glyphs back to characters.
func withoutCmap(data []byte) ([]byte, error) {
	out := bytes.Clone(data)
	if len(out) < 12 {
		return nil, errors.New("pdftexttest: font too short")
	}
	n := int(out[4])<<8 | int(out[5])
	for i := 0; i < n; i++ {
		rec := 12 + 16*i
		if rec+16 > len(out) {
			return nil, errors.New("pdftexttest: font table directory truncated")
		}
		if string(out[rec:rec+4]) == "cmap" {
			copy(out[rec:rec+4], "xmap")
			return out, nil
		}
	}
	return nil, errors.New("pdftexttest: font has no cmap table")
}

func num(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "" || s == "-0" {
		return "0"
	}
	return s
}

// writer assembles numbered objects into a PDF file.
type writer struct{ objs []string }

func (w *writer) alloc() int { w.objs = append(w.objs, ""); return len(w.objs) }

func (w *writer) set(n int, body string) { w.objs[n-1] = body }

func (w *writer) add(body string) int { n := w.alloc(); w.set(n, body); return n }

func (w *writer) addStream(dict string, data []byte, compress bool) int {
	if compress {
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(data) // writes to a bytes.Buffer cannot fail
		zw.Close()
		data = z.Bytes()
		dict += " /Filter /FlateDecode"
	}
	return w.add(fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data))
}

func (w *writer) bytes(root int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(w.objs))
	for i, o := range w.objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(w.objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(w.objs)+1, root, x)
	return b.Bytes()
}
