package ocr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
)

// tiffDir is what OpenScan needs from one TIFF image file directory (page).
type tiffDir struct {
	offset        uint32 // file offset of the IFD
	order         binary.ByteOrder
	width, height int
	dpi           float64
	// ccittBlackIsZero marks a CCITT-coded bilevel page with photometric
	// BlackIsZero. libtiff, and so every scanner and viewer, codes the 1 bits
	// as the fax "black" runs whatever the photometric says, while
	// x/image/tiff maps fax black to display black: such pages decode
	// inverted and must be flipped back.
	ccittBlackIsZero bool
	// missing is non-empty when the page's data lies beyond the end of the
	// file (a truncated file), e.g. "data missing".
	missing string
}

// TIFF tags used here.
const (
	tiffTagWidth          = 256
	tiffTagHeight         = 257
	tiffTagCompression    = 259
	tiffTagPhotometric    = 262
	tiffTagStripOffsets   = 273
	tiffTagStripByteCount = 279
	tiffTagXResolution    = 282
	tiffTagResolutionUnit = 296
	tiffTagTileOffsets    = 324
	tiffTagTileByteCounts = 325
)

// tiffTypeSize is the byte size of one value of each TIFF field type.
func tiffTypeSize(typ uint16) int {
	switch typ {
	case 1, 2, 6, 7: // BYTE, ASCII, SBYTE, UNDEFINED
		return 1
	case 3, 8: // SHORT, SSHORT
		return 2
	case 4, 9, 11, 13: // LONG, SLONG, FLOAT, IFD
		return 4
	case 5, 10, 12: // RATIONAL, SRATIONAL, DOUBLE
		return 8
	}
	return 0
}

// tiffEntry is one IFD entry with its value bytes resolved.
type tiffEntry struct {
	typ   uint16
	count int
	value []byte
}

func (e tiffEntry) uints(order binary.ByteOrder) []uint64 {
	out := make([]uint64, 0, e.count)
	for i := 0; i < e.count; i++ {
		switch e.typ {
		case 1, 7:
			out = append(out, uint64(e.value[i]))
		case 3:
			out = append(out, uint64(order.Uint16(e.value[2*i:])))
		case 4, 13:
			out = append(out, uint64(order.Uint32(e.value[4*i:])))
		default:
			return out
		}
	}
	return out
}

func (e tiffEntry) first(order binary.ByteOrder) (uint64, bool) {
	u := e.uints(order)
	if len(u) == 0 {
		return 0, false
	}
	return u[0], true
}

// parseTIFFDirs walks the IFD chain of a classic TIFF and checks, without
// decoding pixels, that every page's strips or tiles lie inside the file.
// It stops with ErrTooLarge after maxPages pages (0: no limit).
func parseTIFFDirs(data []byte, maxPages int) ([]tiffDir, error) {
	if len(data) < 8 {
		return nil, errors.New("TIFF header shorter than 8 bytes")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		order = binary.BigEndian
	}
	next := order.Uint32(data[4:8])
	if next == 0 {
		return nil, fmt.Errorf("TIFF has no image directory: %w", ErrEmpty)
	}
	seen := map[uint32]bool{}
	var dirs []tiffDir
	for next != 0 {
		page := len(dirs) + 1
		if maxPages > 0 && page > maxPages {
			return nil, fmt.Errorf("more than %d pages: %w", maxPages, ErrTooLarge)
		}
		if seen[next] {
			return nil, fmt.Errorf("TIFF directory loop at offset %d", next)
		}
		seen[next] = true
		off := int64(next)
		if off+2 > int64(len(data)) {
			if page == 1 {
				return nil, fmt.Errorf("truncated TIFF: page 1 directory missing")
			}
			return nil, fmt.Errorf("truncated TIFF: page %d directory missing", page)
		}
		n := int64(order.Uint16(data[off:]))
		end := off + 2 + 12*n + 4
		if end > int64(len(data)) {
			return nil, fmt.Errorf("truncated TIFF: page %d directory cut off", page)
		}
		entries := make(map[uint16]tiffEntry, n)
		for i := int64(0); i < n; i++ {
			p := data[off+2+12*i:]
			tag, typ := order.Uint16(p), order.Uint16(p[2:])
			count := int64(order.Uint32(p[4:]))
			size := int64(tiffTypeSize(typ))
			if size == 0 {
				continue // unknown type: skip, as readers must
			}
			total := size * count
			var val []byte
			if total <= 4 {
				val = p[8 : 8+total]
			} else {
				vo := int64(order.Uint32(p[8:]))
				if vo+total > int64(len(data)) {
					return nil, fmt.Errorf("truncated TIFF: page %d tag %d values beyond end of file", page, tag)
				}
				val = data[vo : vo+total]
			}
			entries[tag] = tiffEntry{typ: typ, count: int(count), value: val}
		}
		d := tiffDir{offset: next, order: order}
		if w, ok := entries[tiffTagWidth].first(order); ok && w <= 1<<31 {
			d.width = int(w)
		}
		if h, ok := entries[tiffTagHeight].first(order); ok && h <= 1<<31 {
			d.height = int(h)
		}
		d.dpi = tiffDPI(entries, order)
		comp, _ := entries[tiffTagCompression].first(order)
		photo, _ := entries[tiffTagPhotometric].first(order)
		d.ccittBlackIsZero = (comp == 2 || comp == 3 || comp == 4) && photo == 1
		d.missing = tiffDataMissing(entries, order, int64(len(data)))
		dirs = append(dirs, d)
		next = order.Uint32(data[end-4:])
	}
	return dirs, nil
}

// tiffDataMissing names what of a page's pixel data lies outside the file,
// or returns "".
func tiffDataMissing(entries map[uint16]tiffEntry, order binary.ByteOrder, size int64) string {
	offTag, cntTag := uint16(tiffTagStripOffsets), uint16(tiffTagStripByteCount)
	if _, ok := entries[offTag]; !ok {
		offTag, cntTag = tiffTagTileOffsets, tiffTagTileByteCounts
	}
	offs := entries[offTag].uints(order)
	cnts := entries[cntTag].uints(order)
	if len(offs) == 0 {
		return "data offsets missing"
	}
	if len(cnts) != len(offs) {
		return "data byte counts missing"
	}
	for i := range offs {
		if offs[i] > uint64(size) || offs[i]+cnts[i] > uint64(size) {
			return fmt.Sprintf("data missing (segment %d of %d ends at byte %d, file has %d)", i+1, len(offs), offs[i]+cnts[i], size)
		}
	}
	return ""
}

// tiffDPI reads XResolution with ResolutionUnit; 0 when absent or unitless.
func tiffDPI(entries map[uint16]tiffEntry, order binary.ByteOrder) float64 {
	x, ok := entries[tiffTagXResolution]
	if !ok || x.typ != 5 || len(x.value) < 8 {
		return 0
	}
	num, den := order.Uint32(x.value), order.Uint32(x.value[4:])
	if den == 0 {
		return 0
	}
	res := float64(num) / float64(den)
	unit := uint64(2) // inch is the TIFF default
	if u, ok := entries[tiffTagResolutionUnit].first(order); ok {
		unit = u
	}
	switch unit {
	case 2:
		return res
	case 3:
		return math.Round(res * 2.54)
	}
	return 0
}

// invertGray flips a decoded bilevel page in place (see ccittBlackIsZero).
func invertGray(img image.Image) {
	if g, ok := img.(*image.Gray); ok {
		for i, v := range g.Pix {
			g.Pix[i] = 255 - v
		}
	}
}

// tiffPageReaderAt presents data with the header's first-IFD offset replaced
// by ifd, so a single-image TIFF decoder reads page ifd without a copy.
type tiffPageReaderAt struct {
	data  []byte
	order binary.ByteOrder
	ifd   uint32
}

func (r *tiffPageReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	n := copy(p, r.data[off:])
	// Patch the overlap of [off, off+n) with header bytes 4..8.
	var hdr [4]byte
	r.order.PutUint32(hdr[:], r.ifd)
	for i := 4; i < 8; i++ {
		if j := int64(i) - off; j >= 0 && j < int64(n) {
			p[j] = hdr[i-4]
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
