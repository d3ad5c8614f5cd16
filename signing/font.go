package signing

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"golang.org/x/image/font/sfnt"
)

// ttfFont is a parsed TrueType font that can measure text and produce a
// glyph subset for embedding as a CIDFontType2 with an Identity CIDToGIDMap
// (CID == glyph ID).
type ttfFont struct {
	name       string // PostScript name
	data       []byte
	sf         *sfnt.Font
	tables     map[string][]byte
	unitsPerEm int
	advances   []uint16 // per glyph, font units
	ascent     int
	descent    int
	capHeight  int
	bbox       [4]int
	locaLong   bool
	numGlyphs  int
}

func loadTTF(path string) (*ttfFont, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read font %s: %w", path, err)
	}
	f, err := parseTTF(data)
	if err != nil {
		return nil, fmt.Errorf("parse font %s: %w", path, err)
	}
	return f, nil
}

func parseTTF(data []byte) (*ttfFont, error) {
	if len(data) < 12 {
		return nil, errors.New("font too short")
	}
	n := int(binary.BigEndian.Uint16(data[4:]))
	if len(data) < 12+16*n {
		return nil, errors.New("truncated table directory")
	}
	tables := make(map[string][]byte, n)
	for i := 0; i < n; i++ {
		rec := data[12+16*i:]
		tag := string(rec[:4])
		off := int(binary.BigEndian.Uint32(rec[8:]))
		ln := int(binary.BigEndian.Uint32(rec[12:]))
		if off < 0 || ln < 0 || off+ln > len(data) {
			return nil, fmt.Errorf("table %q out of bounds", tag)
		}
		tables[tag] = data[off : off+ln]
	}
	for _, t := range []string{"head", "hhea", "hmtx", "maxp", "loca", "glyf"} {
		if _, ok := tables[t]; !ok {
			return nil, fmt.Errorf("missing table %q (not a TrueType-outline font?)", t)
		}
	}
	sf, err := sfnt.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("sfnt: %w", err)
	}
	var buf sfnt.Buffer
	name, _ := sf.Name(&buf, sfnt.NameIDPostScript)
	if name == "" {
		name = "Font"
	}
	head, hhea, maxp := tables["head"], tables["hhea"], tables["maxp"]
	if len(head) < 54 || len(hhea) < 36 || len(maxp) < 6 {
		return nil, errors.New("short head/hhea/maxp table")
	}
	f := &ttfFont{
		name:       strings.ReplaceAll(name, " ", ""),
		data:       data,
		sf:         sf,
		tables:     tables,
		unitsPerEm: int(binary.BigEndian.Uint16(head[18:])),
		locaLong:   binary.BigEndian.Uint16(head[50:]) == 1,
		numGlyphs:  int(binary.BigEndian.Uint16(maxp[4:])),
		ascent:     int(int16(binary.BigEndian.Uint16(hhea[4:]))),
		descent:    int(int16(binary.BigEndian.Uint16(hhea[6:]))),
	}
	for i := 0; i < 4; i++ {
		f.bbox[i] = int(int16(binary.BigEndian.Uint16(head[36+2*i:])))
	}
	f.capHeight = f.ascent
	if os2 := tables["OS/2"]; len(os2) >= 90 {
		if v := int(int16(binary.BigEndian.Uint16(os2[88:]))); v > 0 {
			f.capHeight = v
		}
	}
	if f.unitsPerEm == 0 {
		return nil, errors.New("unitsPerEm is zero")
	}
	nh := int(binary.BigEndian.Uint16(hhea[34:]))
	hmtx := tables["hmtx"]
	if nh == 0 || len(hmtx) < 4*nh {
		return nil, errors.New("bad hmtx")
	}
	f.advances = make([]uint16, f.numGlyphs)
	for g := 0; g < f.numGlyphs; g++ {
		i := g
		if i >= nh {
			i = nh - 1
		}
		f.advances[g] = binary.BigEndian.Uint16(hmtx[4*i:])
	}
	return f, nil
}

// glyph returns the glyph ID for r, or the glyph of '?' when the font lacks r.
func (f *ttfFont) glyph(r rune) uint16 {
	var buf sfnt.Buffer
	g, err := f.sf.GlyphIndex(&buf, r)
	if err != nil || g == 0 {
		g, _ = f.sf.GlyphIndex(&buf, '?')
	}
	return uint16(g)
}

// width returns the advance of glyph g in 1/1000 text space units.
func (f *ttfFont) width(g uint16) float64 {
	if int(g) >= len(f.advances) {
		return 0
	}
	return float64(f.advances[g]) * 1000 / float64(f.unitsPerEm)
}

// textWidth returns the width of s in points at the given size.
func (f *ttfFont) textWidth(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		w += f.width(f.glyph(r))
	}
	return w * size / 1000
}

// glyphRange returns the byte range of glyph g in the glyf table.
func (f *ttfFont) glyphRange(g int) (int, int, bool) {
	loca := f.tables["loca"]
	if f.locaLong {
		if len(loca) < 4*(g+2) {
			return 0, 0, false
		}
		return int(binary.BigEndian.Uint32(loca[4*g:])), int(binary.BigEndian.Uint32(loca[4*g+4:])), true
	}
	if len(loca) < 2*(g+2) {
		return 0, 0, false
	}
	return 2 * int(binary.BigEndian.Uint16(loca[2*g:])), 2 * int(binary.BigEndian.Uint16(loca[2*g+2:])), true
}

// components returns the glyph IDs a composite glyph refers to.
func components(glyph []byte) []int {
	if len(glyph) < 10 || int16(binary.BigEndian.Uint16(glyph)) >= 0 {
		return nil
	}
	const (
		argsAreWords   = 0x0001
		haveScale      = 0x0008
		moreComponents = 0x0020
		haveXYScale    = 0x0040
		have2x2        = 0x0080
	)
	var out []int
	p := 10
	for p+4 <= len(glyph) {
		flags := binary.BigEndian.Uint16(glyph[p:])
		out = append(out, int(binary.BigEndian.Uint16(glyph[p+2:])))
		p += 4
		if flags&argsAreWords != 0 {
			p += 4
		} else {
			p += 2
		}
		switch {
		case flags&haveScale != 0:
			p += 2
		case flags&haveXYScale != 0:
			p += 4
		case flags&have2x2 != 0:
			p += 8
		}
		if flags&moreComponents == 0 {
			break
		}
	}
	return out
}

// subset returns a TrueType font program that keeps every glyph slot (so
// glyph IDs stay valid) but empties the outlines of glyphs not in used.
func (f *ttfFont) subset(used map[uint16]bool) ([]byte, error) {
	glyf := f.tables["glyf"]
	keep := map[int]bool{}
	stack := []int{0}
	for g := range used {
		stack = append(stack, int(g))
	}
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g >= f.numGlyphs || keep[g] {
			continue
		}
		keep[g] = true
		s, e, ok := f.glyphRange(g)
		if !ok || s > e || e > len(glyf) {
			return nil, fmt.Errorf("glyph %d out of bounds", g)
		}
		for _, c := range components(glyf[s:e]) {
			if !keep[c] {
				stack = append(stack, c)
			}
		}
	}
	var newGlyf bytes.Buffer
	newLoca := make([]byte, 4*(f.numGlyphs+1))
	for g := 0; g < f.numGlyphs; g++ {
		binary.BigEndian.PutUint32(newLoca[4*g:], uint32(newGlyf.Len()))
		if !keep[g] {
			continue
		}
		s, e, ok := f.glyphRange(g)
		if !ok || s > e || e > len(glyf) {
			return nil, fmt.Errorf("glyph %d out of bounds", g)
		}
		newGlyf.Write(glyf[s:e])
		for newGlyf.Len()%4 != 0 {
			newGlyf.WriteByte(0)
		}
	}
	binary.BigEndian.PutUint32(newLoca[4*f.numGlyphs:], uint32(newGlyf.Len()))
	head := append([]byte(nil), f.tables["head"]...)
	binary.BigEndian.PutUint32(head[8:], 0)  // checkSumAdjustment
	binary.BigEndian.PutUint16(head[50:], 1) // long loca
	out := map[string][]byte{
		"head": head, "hhea": f.tables["hhea"], "hmtx": f.tables["hmtx"],
		"maxp": f.tables["maxp"], "loca": newLoca, "glyf": newGlyf.Bytes(),
	}
	for _, t := range []string{"cvt ", "fpgm", "prep", "OS/2", "post", "name"} {
		if b, ok := f.tables[t]; ok {
			out[t] = b
		}
	}
	return writeSFNT(out), nil
}

// subsetTag returns a deterministic 6-letter subset prefix for used glyphs.
func subsetTag(name string, used map[uint16]bool) string {
	gs := make([]int, 0, len(used))
	for g := range used {
		gs = append(gs, int(g))
	}
	sort.Ints(gs)
	h := sha256.New()
	h.Write([]byte(name))
	for _, g := range gs {
		h.Write([]byte{byte(g >> 8), byte(g)})
	}
	sum := h.Sum(nil)
	tag := make([]byte, 6)
	for i := range tag {
		tag[i] = 'A' + sum[i]%26
	}
	return string(tag)
}

func writeSFNT(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := len(tags)
	var hdr bytes.Buffer
	entrySelector := 0
	for 1<<(entrySelector+1) <= n {
		entrySelector++
	}
	searchRange := (1 << entrySelector) * 16
	_ = binary.Write(&hdr, binary.BigEndian, []uint16{0x0001, 0x0000, uint16(n), uint16(searchRange), uint16(entrySelector), uint16(n*16 - searchRange)})
	off := 12 + 16*n
	var body bytes.Buffer
	for _, t := range tags {
		b := tables[t]
		hdr.WriteString(t)
		_ = binary.Write(&hdr, binary.BigEndian, []uint32{tableChecksum(b), uint32(off + body.Len()), uint32(len(b))})
		body.Write(b)
		for body.Len()%4 != 0 {
			body.WriteByte(0)
		}
	}
	hdr.Write(body.Bytes())
	return hdr.Bytes()
}

func tableChecksum(b []byte) uint32 {
	var sum uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
