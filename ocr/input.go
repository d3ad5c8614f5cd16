package ocr

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/image/tiff"
)

// Limits bound what Open accepts. Every check runs on header data before any
// pixel is decoded. A zero field means no limit.
type Limits struct {
	MaxBytes       int64 // size of the whole file
	MaxPixels      int64 // pixels of one page image (width × height)
	MaxPages       int   // pages in one file
	MaxTotalPixels int64 // pixels of all pages together (bounds memory of one Open)
}

// DefaultLimits returns limits for office scans: 64 MiB, 60 MP per page,
// 200 pages, 1 GP in total.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:       64 << 20,
		MaxPixels:      60_000_000,
		MaxPages:       200,
		MaxTotalPixels: 1 << 30,
	}
}

// DefaultDPI is the resolution recorded when the file does not state one.
const DefaultDPI = 300

// MinPageSide is the smallest width and height, in pixels, of a page image
// that can hold readable text. Smaller pages are degenerate (see IsDegenerate).
const MinPageSide = 64

// Scan is an opened scan file: its page images plus what was noticed while
// opening it that a caller must log or act on.
type Scan struct {
	Format string // sniffed container: "jpeg", "png", "tiff" or "pdf"
	Pages  []PageImage
	// ActiveContent names active PDF content found and ignored (never run),
	// e.g. "JavaScript", "OpenAction". Callers log it.
	ActiveContent []string
	// Degenerate lists 1-based numbers of pages too small to hold text
	// (e.g. a 1×1 image). They are still returned, so the dossier is not
	// silently shortened; the caller must send it to review.
	Degenerate []int
	// Warnings are notes for the log, e.g. an extension that does not match
	// the content.
	Warnings []string
	// extract takes 1-based page n out of a lazily opened PDF (Page).
	extract func(ctx context.Context, n int) (PageImage, error)
}

// Page is page i (0-based) of the scan ready to recognise, with its
// encoded Data (and maybe its Image). A page of a PDF opened lazily has
// only its Size and resolution until this takes its image out of the file:
// one page at a time, so a dossier of hundreds of pages is never held
// whole. An image that cannot be taken out or decoded fails here, with
// the sentinels of OpenScan.
func (s *Scan) Page(ctx context.Context, i int) (PageImage, error) {
	p := s.Pages[i]
	if s.extract == nil || p.Data != nil || p.Image != nil {
		return p, nil
	}
	return s.extract(ctx, i+1)
}

// IsDegenerate reports whether a page image is too small to hold text.
func IsDegenerate(p PageImage) bool {
	if p.Image == nil && p.Size == (image.Point{}) {
		return true
	}
	b := p.Bounds()
	return b.Dx() < MinPageSide || b.Dy() < MinPageSide
}

// Open decodes a scan file into page images. See OpenScan.
func Open(ctx context.Context, data []byte, name string, lim Limits) ([]PageImage, error) {
	s, err := OpenScan(ctx, data, name, lim)
	if err != nil {
		return nil, err
	}
	return s.Pages, nil
}

// OpenScan decodes a scan file (JPEG, PNG, TIFF incl. multi-page and CCITT G4,
// or an image-only PDF) into page images. The format is sniffed from the
// content, never from name, which is used only in messages. Sizes, pixel
// counts and page counts are checked against lim before decoding. Errors wrap
// ErrEmpty, ErrTooLarge, ErrUnreadable, ErrEncrypted or ErrUnsupported and
// name the file and the reason. Decoder panics become ErrUnreadable.
func OpenScan(ctx context.Context, data []byte, name string, lim Limits) (*Scan, error) {
	return openScan(ctx, data, name, lim, false)
}

// OpenScanLazy is OpenScan without holding every page's pixels: pages
// come with their encoded Data and Size and, mostly, no Image. JPEG pages
// are checked, not decoded (the recogniser decodes them once, as it
// would); the pages of a PDF have only their Size until Scan.Page takes
// their image out of the file (their headers are checked here); other
// pages are decoded to make their PNG Data, and keep their pixels only
// while the pixel memory kept stays under lazyKeepBytes. The
// recogniser decodes a page without Image from its Data, one page at a
// time, so a dossier of hundreds of pages needs about the memory of one.
// A JPEG whose data is corrupt beyond its header fails when it is
// decoded, not here.
func OpenScanLazy(ctx context.Context, data []byte, name string, lim Limits) (*Scan, error) {
	return openScan(ctx, data, name, lim, true)
}

// OpenScanFile is OpenScanLazy of an open file: a PDF is read from the
// file as its pages are wanted and never held whole in memory (a 44 MB
// colour dossier is not copied into the process); other formats are read
// whole, as by OpenScanLazy. The file must stay open while the scan is
// used.
func OpenScanFile(ctx context.Context, f *os.File, name string, lim Limits) (*Scan, error) {
	label := InputLabel(name)
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	size := fi.Size()
	if size == 0 {
		return nil, fmt.Errorf("%s: zero-byte file: %w", label, ErrEmpty)
	}
	if lim.MaxBytes > 0 && size > lim.MaxBytes {
		return nil, fmt.Errorf("%s: %d bytes, limit %d: %w", label, size, lim.MaxBytes, ErrTooLarge)
	}
	head := make([]byte, min(size, 1024))
	if _, err := f.ReadAt(head, 0); err != nil {
		return nil, fmt.Errorf("%s: read: %w", label, err)
	}
	if format, err := sniffInputFormat(head); err == nil && format == "pdf" {
		return openScanFrom(ctx, head, io.NewSectionReader(f, 0, size), name, lim, true)
	}
	data, err := io.ReadAll(io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", label, err)
	}
	return openScan(ctx, data, name, lim, true)
}

func openScan(ctx context.Context, data []byte, name string, lim Limits, lazy bool) (scan *Scan, err error) {
	return openScanFrom(ctx, data, nil, name, lim, lazy)
}

// openScanFrom opens data; a PDF is read from pdf when it is not nil
// (data is then only the file's first bytes).
func openScanFrom(ctx context.Context, data []byte, pdf io.ReadSeeker, name string, lim Limits, lazy bool) (scan *Scan, err error) {
	label := InputLabel(name)
	defer func() {
		if r := recover(); r != nil {
			scan = nil
			err = fmt.Errorf("%s: decoder panic: %v: %w", label, r, ErrUnreadable)
		}
	}()
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: zero-byte file: %w", label, ErrEmpty)
	}
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return nil, fmt.Errorf("%s: %d bytes, limit %d: %w", label, len(data), lim.MaxBytes, ErrTooLarge)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", label, err)
	}
	format, err := sniffInputFormat(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	o := &inputOpener{ctx: ctx, label: label, lim: lim, scan: &Scan{Format: format}, lazy: lazy}
	if w := extensionMismatch(name, format); w != "" {
		o.scan.Warnings = append(o.scan.Warnings, w)
	}
	switch format {
	case "jpeg":
		err = o.openJPEG(data)
	case "png":
		err = o.openPNG(data)
	case "tiff":
		err = o.openTIFF(data)
	case "pdf":
		if pdf == nil {
			pdf = bytes.NewReader(data)
		}
		err = o.openPDF(pdf)
	}
	if err != nil {
		return nil, err
	}
	if len(o.scan.Pages) == 0 {
		return nil, fmt.Errorf("%s: no pages: %w", label, ErrEmpty)
	}
	for _, p := range o.scan.Pages {
		if IsDegenerate(p) {
			o.scan.Degenerate = append(o.scan.Degenerate, p.Number)
		}
	}
	return o.scan, nil
}

// inputOpener carries the state of one OpenScan call.
type inputOpener struct {
	ctx         context.Context
	label       string
	lim         Limits
	scan        *Scan
	totalPixels int64
	// lazy: pages keep no decoded Image past lazyKeepBytes (OpenScanLazy;
	// see settle); kept counts the pixel bytes kept.
	lazy bool
	kept int64
}

// lazyKeepBytes is how much decoded pixel memory OpenScanLazy keeps of
// the pages it had to decode anyway (TIFF, PNG in PDF): the first pages
// of a file, so a usual dossier is not decoded twice; past it (32 MiB:
// eight bitonal A4 pages at 200 dpi decoded as grey, two as RGBA) pages
// keep only their Data.
const lazyKeepBytes = 32 << 20

// settle drops a decoded page's pixels when opening lazily and the pixel
// memory kept so far is past lazyKeepBytes, keeping its Size.
func (o *inputOpener) settle(p PageImage) PageImage {
	if !o.lazy || p.Image == nil {
		return p
	}
	if n := pixelBytes(p.Image); o.kept+n <= lazyKeepBytes {
		o.kept += n
		return p
	}
	p.Size, p.Image = p.Image.Bounds().Size(), nil
	return p
}

// pixelBytes is the memory of a decoded image's pixels (4 bytes a pixel
// when the type is not known).
func pixelBytes(img image.Image) int64 {
	switch m := img.(type) {
	case *image.Gray:
		return int64(len(m.Pix))
	case *image.RGBA:
		return int64(len(m.Pix))
	case *image.NRGBA:
		return int64(len(m.Pix))
	case *image.Paletted:
		return int64(len(m.Pix))
	case *image.YCbCr:
		return int64(len(m.Y) + len(m.Cb) + len(m.Cr))
	}
	b := img.Bounds()
	return 4 * int64(b.Dx()) * int64(b.Dy())
}

func (o *inputOpener) checkPixels(page, w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%s: page %d: invalid dimensions %d×%d: %w", o.label, page, w, h, ErrUnreadable)
	}
	px := int64(w) * int64(h)
	if o.lim.MaxPixels > 0 && px > o.lim.MaxPixels {
		return fmt.Errorf("%s: page %d: %d×%d = %d pixels, limit %d: %w", o.label, page, w, h, px, o.lim.MaxPixels, ErrTooLarge)
	}
	o.totalPixels += px
	if o.lim.MaxTotalPixels > 0 && o.totalPixels > o.lim.MaxTotalPixels {
		return fmt.Errorf("%s: page %d: %d pixels in total, limit %d: %w", o.label, page, o.totalPixels, o.lim.MaxTotalPixels, ErrTooLarge)
	}
	return nil
}

func (o *inputOpener) checkPages(n int) error {
	if n == 0 {
		return fmt.Errorf("%s: no pages: %w", o.label, ErrEmpty)
	}
	if o.lim.MaxPages > 0 && n > o.lim.MaxPages {
		return fmt.Errorf("%s: %d pages, limit %d: %w", o.label, n, o.lim.MaxPages, ErrTooLarge)
	}
	return nil
}

func (o *inputOpener) openJPEG(data []byte) error {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: bad JPEG header: %v: %w", o.label, err, ErrUnreadable)
	}
	if err := o.checkPixels(1, cfg.Width, cfg.Height); err != nil {
		return err
	}
	p, err := o.decodeJPEGPage(1, data)
	if err != nil {
		return err
	}
	if dpi := jfifDPI(data); dpi > 0 {
		p.DPI = dpi
	}
	o.scan.Pages = append(o.scan.Pages, p)
	return nil
}

// decodeJPEGPage decodes JPEG bytes whose header was already checked and
// keeps them as the page's Data.
func (o *inputOpener) decodeJPEGPage(page int, data []byte) (PageImage, error) {
	if !jpegHasEOI(data) {
		return PageImage{}, fmt.Errorf("%s: page %d: truncated JPEG: no end-of-image marker: %w", o.label, page, ErrUnreadable)
	}
	if o.lazy {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return PageImage{}, fmt.Errorf("%s: page %d: JPEG header: %v: %w", o.label, page, err, ErrUnreadable)
		}
		return PageImage{Number: page, Size: image.Pt(cfg.Width, cfg.Height), Data: data, Format: "jpeg", DPI: DefaultDPI}, nil
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return PageImage{}, fmt.Errorf("%s: page %d: JPEG data: %v: %w", o.label, page, err, ErrUnreadable)
	}
	return PageImage{Number: page, Image: img, Data: data, Format: "jpeg", DPI: DefaultDPI}, nil
}

func (o *inputOpener) openPNG(data []byte) error {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: bad PNG header: %v: %w", o.label, err, ErrUnreadable)
	}
	if err := o.checkPixels(1, cfg.Width, cfg.Height); err != nil {
		return err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: PNG data: %v: %w", o.label, err, ErrUnreadable)
	}
	dpi := pngDPI(data)
	if dpi <= 0 {
		dpi = DefaultDPI
	}
	o.scan.Pages = append(o.scan.Pages, PageImage{Number: 1, Image: img, Data: data, Format: "png", DPI: dpi})
	return nil
}

func (o *inputOpener) openTIFF(data []byte) error {
	ifds, err := parseTIFFDirs(data, o.lim.MaxPages)
	if err != nil {
		if errors.Is(err, ErrEmpty) || errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("%s: %w", o.label, err)
		}
		return fmt.Errorf("%s: %v: %w", o.label, err, ErrUnreadable)
	}
	if err := o.checkPages(len(ifds)); err != nil {
		return err
	}
	// Check every page's header before decoding any of them, so a truncated
	// multi-page file is rejected as a whole, never returned as complete.
	for i, d := range ifds {
		if d.missing != "" {
			return fmt.Errorf("%s: truncated TIFF: page %d %s: %w", o.label, i+1, d.missing, ErrUnreadable)
		}
		if err := o.checkPixels(i+1, d.width, d.height); err != nil {
			return err
		}
	}
	for i, d := range ifds {
		if err := o.ctx.Err(); err != nil {
			return fmt.Errorf("open %s: %w", o.label, err)
		}
		r := io.NewSectionReader(&tiffPageReaderAt{data: data, order: d.order, ifd: d.offset}, 0, int64(len(data)))
		img, err := tiff.Decode(r)
		if err != nil {
			return fmt.Errorf("%s: TIFF page %d: %v: %w", o.label, i+1, err, ErrUnreadable)
		}
		if d.ccittBlackIsZero {
			invertGray(img)
		}
		enc, err := encodePagePNG(img)
		if err != nil {
			return fmt.Errorf("%s: TIFF page %d: encode PNG: %w", o.label, i+1, err)
		}
		dpi := d.dpi
		if dpi <= 0 {
			dpi = DefaultDPI
		}
		o.scan.Pages = append(o.scan.Pages, o.settle(PageImage{Number: i + 1, Image: img, Data: enc, Format: "png", DPI: dpi}))
	}
	return nil
}

// encodePagePNG encodes a decoded page losslessly for embedding: a
// bitonal grey page (a fax or CCITT scan: only black and white) as a
// 1-bit PNG, eight times less to compress than 8-bit grey.
func encodePagePNG(img image.Image) ([]byte, error) {
	if g, ok := img.(*image.Gray); ok {
		if data, ok, err := encodeBitonalPNG(g); ok || err != nil {
			return data, err
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// encodeBitonalPNG writes a bitonal grey page (every pixel 0 or 255) as a
// 1-bit greyscale PNG (no filtering, zlib at its fastest), which image/png
// cannot write: it decodes back to the same *image.Gray. ok is false for a
// page with another grey level.
func encodeBitonalPNG(g *image.Gray) (data []byte, ok bool, err error) {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, zlib.BestSpeed)
	if err != nil {
		return nil, false, err
	}
	row := make([]byte, 1+(w+7)/8) // filter type 0 (none), then the bits
	for y := b.Min.Y; y < b.Max.Y; y++ {
		px := g.Pix[g.PixOffset(b.Min.X, y):][:w]
		bits := row[1:]
		// A pixel of 0 or 255 is its own bit in its top bit; any
		// other level shows in the others.
		var other uint8
		x := 0
		for ; x+8 <= w; x += 8 {
			p := px[x : x+8]
			bits[x>>3] = p[0]&0x80 | p[1]&0x80>>1 | p[2]&0x80>>2 | p[3]&0x80>>3 |
				p[4]&0x80>>4 | p[5]&0x80>>5 | p[6]&0x80>>6 | p[7]&0x80>>7
			for _, v := range p {
				other |= v ^ (v&0x80)>>7*255
			}
		}
		if x < w {
			bits[x>>3] = 0
			for i, v := range px[x:] {
				bits[x>>3] |= v & 0x80 >> i
				other |= v ^ (v&0x80)>>7*255
			}
		}
		if other != 0 {
			return nil, false, nil
		}
		if _, err := zw.Write(row); err != nil {
			return nil, false, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, false, err
	}
	var out bytes.Buffer
	out.Grow(idat.Len() + 64)
	out.WriteString("\x89PNG\r\n\x1a\n")
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8] = 1 // bit depth; then colour type 0 (grey), deflate, adaptive filtering, no interlace
	writePNGChunk(&out, "IHDR", ihdr[:])
	writePNGChunk(&out, "IDAT", idat.Bytes())
	writePNGChunk(&out, "IEND", nil)
	return out.Bytes(), true, nil
}

// writePNGChunk appends one PNG chunk: length, type, data and CRC.
func writePNGChunk(out *bytes.Buffer, typ string, data []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(data)))
	out.Write(n[:])
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	out.WriteString(typ)
	out.Write(data)
	binary.BigEndian.PutUint32(n[:], crc.Sum32())
	out.Write(n[:])
}

// sniffInputFormat names the container from magic bytes.
func sniffInputFormat(data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return "jpeg", nil
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png", nil
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return "tiff", nil
	case bytes.HasPrefix(data, []byte("II+\x00")), bytes.HasPrefix(data, []byte("MM\x00+")):
		return "", fmt.Errorf("BigTIFF is not supported: %w", ErrUnsupported)
	case pdfHeaderAt(data) >= 0:
		return "pdf", nil
	case bytes.HasPrefix(data, []byte("PK\x03\x04")), bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return "", fmt.Errorf("ZIP archive, not a scan: %w", ErrUnsupported)
	case bytes.HasPrefix(data, []byte("GIF8")):
		return "", fmt.Errorf("GIF is not a supported scan format: %w", ErrUnsupported)
	case bytes.HasPrefix(data, []byte("BM")):
		return "", fmt.Errorf("BMP is not a supported scan format: %w", ErrUnsupported)
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return "", fmt.Errorf("WebP is not a supported scan format: %w", ErrUnsupported)
	case looksLikeText(data):
		return "", fmt.Errorf("text file, not an image: %w", ErrUnsupported)
	}
	return "", fmt.Errorf("unknown format (first bytes % x): %w", data[:min(len(data), 8)], ErrUnsupported)
}

// pdfHeaderAt finds "%PDF-" within the first KiB, where readers accept it.
func pdfHeaderAt(data []byte) int {
	return bytes.Index(data[:min(len(data), 1024)], []byte("%PDF-"))
}

// looksLikeText reports whether the first KiB is valid UTF-8 without control
// bytes other than whitespace.
func looksLikeText(data []byte) bool {
	head := data[:min(len(data), 1024)]
	for len(head) > 0 {
		r, size := utf8.DecodeRune(head)
		if r == utf8.RuneError && size <= 1 {
			// A multi-byte rune cut by the 1 KiB window is fine.
			return len(head) < utf8.UTFMax && len(data) > 1024
		}
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != '\f' {
			return false
		}
		head = head[size:]
	}
	return true
}

// extensionMismatch returns a note when name's extension names another format.
func extensionMismatch(name, format string) string {
	ext := strings.ToLower(filepath.Ext(name))
	want := map[string]string{".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".tif": "tiff", ".tiff": "tiff", ".pdf": "pdf"}[ext]
	if want == "" || want == format {
		return ""
	}
	return fmt.Sprintf("extension %s does not match content (%s); decoded as %s", ext, format, format)
}

// InputLabel is a file name as it may appear in messages and logs: base
// name only, any run of 12 or more digits (a citizen ID) masked to its last
// 4, at most 80 bytes.
func InputLabel(name string) string {
	base := filepath.Base(name)
	if name == "" || base == "." || base == "/" {
		return "input"
	}
	var b strings.Builder
	run := 0
	flush := func(digits string) {
		if len(digits) >= 12 {
			b.WriteString(strings.Repeat("*", len(digits)-4))
			b.WriteString(digits[len(digits)-4:])
			return
		}
		b.WriteString(digits)
	}
	start := -1
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c >= '0' && c <= '9' {
			if start < 0 {
				start = i
			}
			run++
			continue
		}
		if start >= 0 {
			flush(base[start:i])
			start, run = -1, 0
		}
		b.WriteByte(c)
	}
	if start >= 0 {
		flush(base[start:])
	}
	s := b.String()
	const maxLabel = 80
	if len(s) > maxLabel {
		cut := maxLabel
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// jpegHasEOI reports whether the JPEG ends with an end-of-image marker,
// allowing a little trailing padding some scanners add.
func jpegHasEOI(data []byte) bool {
	tail := data[max(0, len(data)-4096):]
	i := bytes.LastIndex(tail, []byte{0xFF, 0xD9})
	if i < 0 {
		return false
	}
	for _, c := range tail[i+2:] {
		if c != 0 && c != 0xFF && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// jfifDPI reads the density of a JFIF APP0 segment; 0 when absent or unitless.
func jfifDPI(data []byte) float64 {
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			return 0
		}
		marker := data[i+1]
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			return 0
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return 0
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE0 && len(seg) >= 12 && string(seg[:5]) == "JFIF\x00" {
			units := seg[7]
			x := float64(binary.BigEndian.Uint16(seg[8:]))
			switch units {
			case 1:
				return x
			case 2:
				return math.Round(x * 2.54)
			}
			return 0
		}
		i += 2 + n
	}
	return 0
}

// pngDPI reads the pHYs chunk; 0 when absent or unitless.
func pngDPI(data []byte) float64 {
	i := 8
	for i+12 <= len(data) {
		n := int(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		if n < 0 || i+12+n > len(data) || typ == "IDAT" {
			return 0
		}
		if typ == "pHYs" && n >= 9 {
			ppu := binary.BigEndian.Uint32(data[i+8:])
			if data[i+16] == 1 { // metre; px/m is an integer, so round
				return math.Round(float64(ppu) * 0.0254)
			}
			return 0
		}
		i += 12 + n
	}
	return 0
}
