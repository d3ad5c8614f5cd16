package signing

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"sohoa/storage"
)

// Default font locations on Debian 12.
const (
	DefaultGlyphlessFont = "/usr/share/tesseract-ocr/5/tessdata/pdf.ttf"
	DefaultSerifFont     = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"
	DefaultSerifBoldFont = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf"
)

// RendererConfig names the font files. Zero values use the Debian defaults.
type RendererConfig struct {
	GlyphlessFont string // invisible OCR text layer font (Tesseract's pdf.ttf)
	SerifFont     string // stamp font with Vietnamese glyphs
	SerifBoldFont string
	SystemName    string // name of the issuing information system, default "sohoa"
}

// Renderer turns recognised pages into an unsigned e-result PDF. It is safe
// for concurrent use; the fonts are loaded once.
type Renderer struct {
	glyphless []byte
	serif     *ttfFont
	bold      *ttfFont
	system    string
	// The streams every e-result holds the same, deflated once: the
	// glyphless font program, its CIDToGIDMap and ToUnicode CMap, and the
	// sRGB output profile.
	glyphlessZ, cid2gidZ, glyphlessCMapZ, iccZ []byte
}

// NewRenderer loads the fonts named by cfg.
func NewRenderer(cfg RendererConfig) (*Renderer, error) {
	if cfg.GlyphlessFont == "" {
		cfg.GlyphlessFont = DefaultGlyphlessFont
	}
	if cfg.SerifFont == "" {
		cfg.SerifFont = DefaultSerifFont
	}
	if cfg.SerifBoldFont == "" {
		cfg.SerifBoldFont = DefaultSerifBoldFont
	}
	if cfg.SystemName == "" {
		cfg.SystemName = "sohoa"
	}
	gl, err := os.ReadFile(cfg.GlyphlessFont)
	if err != nil {
		return nil, fmt.Errorf("new renderer: read glyphless font: %w", err)
	}
	serif, err := loadTTF(cfg.SerifFont)
	if err != nil {
		return nil, fmt.Errorf("new renderer: %w", err)
	}
	bold, err := loadTTF(cfg.SerifBoldFont)
	if err != nil {
		return nil, fmt.Errorf("new renderer: %w", err)
	}
	r := &Renderer{glyphless: gl, serif: serif, bold: bold, system: cfg.SystemName}
	cid2gid := make([]byte, 2*65536)
	for i := 1; i < len(cid2gid); i += 2 {
		cid2gid[i] = 1
	}
	r.glyphlessZ, r.cid2gidZ = deflate(gl), deflate(cid2gid)
	r.glyphlessCMapZ, r.iccZ = deflate([]byte(glyphlessCMap())), deflate(srgbICC())
	return r, nil
}

// Metadata describes the e-result; it feeds the stamp, the QR code, the Info
// dictionary and the XMP packet.
type Metadata struct {
	Title         string // document name (tên giấy tờ), e.g. "Giấy chứng nhận kết hôn"
	ResultCode    string // {dossier}-KQ{n}
	DossierCode   string // mã hồ sơ
	ProcedureCode string // mã TTHC
	DocType       string // document type code (layout slug)
	Agency        string // full name of the converting agency (the one signing), from configuration
	AgencyCode    string // its 13-character agency code
	// IssuingAuthority is the authority that issued the paper original,
	// as read from it (e.g. "ỦY BAN NHÂN DÂN XÃ UY NỖ"); "" when not read
	// or born digital.
	IssuingAuthority string
	IssueDate        string    // date printed on the original
	HolderID         string    // holder identifier; only its last 4 digits are ever written
	ValidUntil       string    // "" means no expiry
	ValidityScope    string    // phạm vi hiệu lực, optional
	SourceSHA256     string    // hex sha256 of the source scan
	ConvertedAt      time.Time // conversion/issue time; printed in +07:00
	BornDigital      bool      // true: "Bản điện tử"; false: converted from paper
	VerifyURL        string    // verification URL for the QR code, see VerifyURL
}

// RenderInput is everything Render needs: the pages of the e-result, in
// order, and its metadata.
type RenderInput struct {
	Pages []Page
	Meta  Metadata
	// Data, when set, is the e-result's data document (JSON), embedded
	// as the PDF/A-3 associated file DataFileName (AFRelationship /Data)
	// inside the revision the signature covers; EmbeddedData reads it
	// back.
	Data []byte
}

// DataFileName is the name of the embedded data document.
const DataFileName = "sohoa-data.json"

// Page is one page of the e-result: the scan image as it was received and,
// when the page was recognised, how it was turned upright and the words read
// on it (the invisible text layer). Callers convert their OCR output to it.
type Page struct {
	// Data is the page's encoded bytes: JPEG is embedded untouched
	// (DCTDecode), PNG without re-encoding where its format allows.
	Data []byte
	// Image is the decoded page, used when Data is empty or cannot be
	// passed through.
	Image image.Image
	// DPI is the scan resolution; 0 or less assumes an A4-wide page.
	DPI float64
	// Rotation (clockwise degrees: 0, 90, 180, 270) and Skew (degrees,
	// counter-clockwise positive) are what recognition applied to make the
	// page upright; the image is drawn through them so the words line up.
	Rotation int
	Skew     float64
	// Width and Height are the upright page's size in pixels; 0 derives
	// them from the image and Rotation.
	Width, Height int
	// Words are the recognised words; none gives no text layer.
	Words []Word
}

// Word is one recognised word of a page's text layer.
type Word struct {
	Text string
	// Box is in pixels of the upright page (after Rotation and Skew).
	Box image.Rectangle
	// Block and Line group the words of one printed line, which share a
	// font size and baseline in the text layer.
	Block, Line int
}

var (
	hex64        = regexp.MustCompile(`^[0-9a-f]{64}$`)
	twelveDigits = regexp.MustCompile(`\d{12}`)
)

// VerifyToken derives the 12-character public verification token for a
// result code with a server-side key, so result codes cannot be enumerated.
func VerifyToken(key []byte, resultCode string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(resultCode))
	return strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil))[:12])
}

// VerifyURL builds <base>/v/<result_code>?k=<token>.
func VerifyURL(base, resultCode, token string) string {
	return strings.TrimRight(base, "/") + "/v/" + url.PathEscape(resultCode) + "?k=" + url.QueryEscape(token)
}

func (m Metadata) validate() error {
	var errs []error
	if m.ResultCode == "" {
		errs = append(errs, errors.New("result code is empty"))
	}
	if m.Agency == "" {
		errs = append(errs, errors.New("agency is empty"))
	}
	if m.ConvertedAt.IsZero() {
		errs = append(errs, errors.New("conversion time is zero"))
	}
	if !hex64.MatchString(m.SourceSHA256) {
		errs = append(errs, errors.New("source sha256 is not 64 lowercase hex digits"))
	}
	if twelveDigits.MatchString(m.VerifyURL) || twelveDigits.MatchString(m.ResultCode) {
		errs = append(errs, errors.New("verification URL or result code contains a 12-digit number (possible citizen ID)"))
	}
	return errors.Join(errs...)
}

// ErrRender: the input cannot be rendered (no page, incomplete metadata, an
// undecodable page image); rendering it again fails the same way.
var ErrRender = errors.New("input cannot be rendered")

// Render produces the unsigned e-result: one page per image at the scan's
// resolution (JPEG passed through as DCTDecode, other formats losslessly
// Flate-encoded), an invisible text layer aligned with the recognised words,
// the stamp and QR code in a band at the top of page 1, and Info + XMP
// metadata with a PDF/A-2B identification (PDF/A-3B with the data document
// attached) and an sRGB output intent. Each page has the original's paper
// size (paperSize); on page 1 the scan is shrunk below the band. The output
// depends only on the input.
//
// Errors wrap ErrRender, except those of a cancelled ctx.
func (r *Renderer) Render(ctx context.Context, in RenderInput) ([]byte, error) {
	out, err := r.render(ctx, in)
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w: %w", err, ErrRender)
	}
	return out, err
}

func (r *Renderer) render(ctx context.Context, in RenderInput) ([]byte, error) {
	if len(in.Pages) == 0 {
		return nil, errors.New("render: no page images")
	}
	if err := in.Meta.validate(); err != nil {
		return nil, fmt.Errorf("render: metadata: %w", err)
	}
	w := &pdfWriter{}
	catalog := w.alloc()
	pagesObj := w.alloc()
	info := w.alloc()

	// Shared resources.
	glyphless := r.glyphlessFont(w)
	st := r.stampLayout(in.Meta)
	serif := r.embedFont(w, r.serif, st.regularRunes())
	bold := r.embedFont(w, r.bold, st.boldRunes())
	qr, err := qrImage(w, r.qrPayload(in.Meta))
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}

	var kids []string
	for i, page := range in.Pages {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("render: %w", err)
		}
		geo, err := pageGeometry(page)
		if err != nil {
			return nil, fmt.Errorf("render page %d: %w", i+1, err)
		}
		imObj, err := imageXObject(w, page)
		if err != nil {
			return nil, fmt.Errorf("render page %d: %w", i+1, err)
		}
		// The page is the original's paper size; the scan is drawn at
		// 100 % (centred) wherever it fits. On page 1 the top band holds
		// the QR code (upper left) and the stamp (upper right), so the
		// conversion marks never cover any of the original: the scan is
		// shrunk into the area below the band.
		paper := paperSize(geo.w, geo.h)
		areaH := paper.H
		if i == 0 {
			areaH -= st.bandHeight()
		}
		pl := place(geo.w, geo.h, 0, 0, paper.W, areaH)
		var content bytes.Buffer
		fmt.Fprintf(&content, "q %s 0 0 %s %s %s cm\n", pdfNum(pl.s), pdfNum(pl.s), pdfNum(pl.tx), pdfNum(pl.ty))
		m := geo.imageMatrix()
		fmt.Fprintf(&content, "q %s %s %s %s %s %s cm /Im0 Do Q\n",
			pdfNum(m[0]), pdfNum(m[1]), pdfNum(m[2]), pdfNum(m[3]), pdfNum(m[4]), pdfNum(m[5]))
		writeTextLayer(&content, page.Words, geo)
		content.WriteString("Q\n")
		res := fmt.Sprintf("/XObject <</Im0 %d 0 R", imObj)
		fonts := fmt.Sprintf("/Font <</OCR %d 0 R", glyphless)
		if i == 0 {
			st.draw(&content, paper.W, paper.H, r.serif, r.bold)
			res += fmt.Sprintf(" /QR %d 0 R", qr)
			fonts += fmt.Sprintf(" /Se %d 0 R /SeB %d 0 R", serif, bold)
		}
		res += ">> " + fonts + ">>"
		cs := w.addStream("", content.Bytes(), true)
		p := w.add(fmt.Sprintf("<</Type /Page /Parent %d 0 R /MediaBox [0 0 %s %s] /Resources <<%s /ProcSet [/PDF /Text /ImageB /ImageC /ImageI]>> /Contents %d 0 R>>",
			pagesObj, pdfNum(paper.W), pdfNum(paper.H), res, cs))
		kids = append(kids, fmt.Sprintf("%d 0 R", p))
	}
	w.set(pagesObj, fmt.Sprintf("<</Type /Pages /Count %d /Kids [%s]>>", len(kids), strings.Join(kids, " ")))

	meta := r.infoFields(in.Meta)
	attach := ""
	if in.Data != nil {
		// The data document as a PDF/A-3 associated file: named in the
		// EmbeddedFiles tree and in the catalog's /AF, relationship /Data.
		// It is part of the signed revision, so the signature covers it.
		meta.pdfaPart = 3
		meta.custom = append(meta.custom, [2]string{"DataSHA256", storage.SHA256Hex(in.Data)})
		t := in.Meta.ConvertedAt.In(storage.Vietnam()).Format("D:20060102150405-07'00'")
		sum := md5.Sum(in.Data)
		ef := w.addStream(fmt.Sprintf(" /Type /EmbeddedFile /Subtype /application#2Fjson /Params <</Size %d /ModDate (%s) /CheckSum <%X>>>",
			len(in.Data), t, sum[:]), in.Data, true)
		spec := w.add(fmt.Sprintf("<</Type /Filespec /F (%s) /UF %s /Desc %s /AFRelationship /Data /EF <</F %d 0 R /UF %d 0 R>>>>",
			DataFileName, pdfTextString(DataFileName), pdfTextString("Dữ liệu của kết quả điện tử "+in.Meta.ResultCode), ef, ef))
		names := w.add(fmt.Sprintf("<</EmbeddedFiles <</Names [(%s) %d 0 R]>>>>", DataFileName, spec))
		af := w.add(fmt.Sprintf("[%d 0 R]", spec))
		attach = fmt.Sprintf(" /Names %d 0 R /AF %d 0 R", names, af)
	}
	w.set(info, meta.infoDict())
	xmp := w.addStream(" /Type /Metadata /Subtype /XML", []byte(meta.xmp()), false)
	icc := w.addFlate(" /N 3", r.iccZ)
	intent := w.add(fmt.Sprintf("<</Type /OutputIntent /S /GTS_PDFA1 /OutputConditionIdentifier (sRGB IEC61966-2.1) /RegistryName (http://www.color.org) /Info (sRGB IEC61966-2.1) /DestOutputProfile %d 0 R>>", icc))
	w.set(catalog, fmt.Sprintf("<</Type /Catalog /Pages %d 0 R /Metadata %d 0 R /OutputIntents [%d 0 R]%s /Lang (vi-VN) /ViewerPreferences <</DisplayDocTitle true>>>>", pagesObj, xmp, intent, attach))
	out, err := w.bytes(catalog, info)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return out, nil
}

// geometry places one page: the page box (points) is the recognised
// (upright, deskewed) image; the original image is drawn through a
// rotation so no pixel is re-encoded.
type geometry struct {
	scale  float64 // points per pixel
	w, h   float64 // page size, points
	iw, ih float64 // original image size, points
	theta  float64 // radians, counter-clockwise in PDF space
}

func pageGeometry(page Page) (geometry, error) {
	px, py, err := imageSize(page)
	if err != nil {
		return geometry{}, err
	}
	dpi := page.DPI
	if dpi <= 0 {
		// Unknown resolution: assume an A4-wide page.
		dpi = float64(px) * 72 / 595.28
	}
	g := geometry{scale: 72 / dpi}
	g.iw, g.ih = float64(px)*g.scale, float64(py)*g.scale
	rot := ((page.Rotation % 360) + 360) % 360
	cw, ch := px, py
	if rot == 90 || rot == 270 {
		cw, ch = py, px
	}
	if page.Width > 0 && page.Height > 0 {
		cw, ch = page.Width, page.Height
	}
	g.w, g.h = float64(cw)*g.scale, float64(ch)*g.scale
	g.theta = (-float64(rot) + page.Skew) * math.Pi / 180
	return g, nil
}

// imageMatrix maps the image unit square onto the page: scale to size,
// centre, rotate by theta, move to the page centre.
func (g geometry) imageMatrix() [6]float64 {
	c, s := math.Cos(g.theta), math.Sin(g.theta)
	// Snap values that are within rounding of 0 or ±1 (right angles).
	snap := func(v float64) float64 {
		for _, t := range []float64{-1, 0, 1} {
			if math.Abs(v-t) < 1e-12 {
				return t
			}
		}
		return v
	}
	c, s = snap(c), snap(s)
	return [6]float64{
		g.iw * c, g.iw * s, -g.ih * s, g.ih * c,
		-g.iw/2*c + g.ih/2*s + g.w/2,
		-g.iw/2*s - g.ih/2*c + g.h/2,
	}
}

func imageSize(img Page) (int, int, error) {
	if len(img.Data) > 0 {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(img.Data))
		if err == nil {
			return cfg.Width, cfg.Height, nil
		}
		if img.Image == nil {
			return 0, 0, fmt.Errorf("page image header: %w", err)
		}
	}
	if img.Image == nil {
		return 0, 0, errors.New("page image has neither data nor a decoded image")
	}
	b := img.Image.Bounds()
	return b.Dx(), b.Dy(), nil
}

// imageXObject embeds the page image without loss: JPEG bytes as DCTDecode,
// anything else as Flate-compressed samples (1-bit when the image is bitonal).
func imageXObject(w *pdfWriter, img Page) (int, error) {
	if len(img.Data) > 0 && bytes.HasPrefix(img.Data, []byte{0xff, 0xd8}) {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(img.Data))
		if err != nil {
			return 0, fmt.Errorf("jpeg header: %w", err)
		}
		cs := "/DeviceRGB"
		switch cfg.ColorModel {
		case color.GrayModel:
			cs = "/DeviceGray"
		case color.CMYKModel:
			cs = "/DeviceCMYK"
		}
		return w.addStream(fmt.Sprintf(" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 /Filter /DCTDecode",
			cfg.Width, cfg.Height, cs), img.Data, false), nil
	}
	if dict, idat, ok := pngPassthrough(img.Data); ok {
		return w.addStream(dict, idat, false), nil
	}
	src := img.Image
	if src == nil {
		var err error
		src, err = png.Decode(bytes.NewReader(img.Data))
		if err != nil {
			return 0, fmt.Errorf("decode page image: %w", err)
		}
	}
	b := src.Bounds()
	wd, ht := b.Dx(), b.Dy()
	samples, channels := pixels(src)
	var data []byte
	var dict string
	switch {
	case channels == 1 && isBitonal(samples):
		stride := (wd + 7) / 8
		data = make([]byte, stride*ht)
		for y := 0; y < ht; y++ {
			row := samples[y*wd : (y+1)*wd]
			for x, v := range row {
				if v != 0 {
					data[y*stride+x/8] |= 0x80 >> (x % 8)
				}
			}
		}
		dict = fmt.Sprintf(" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1", wd, ht)
	case channels == 1:
		data = samples
		dict = fmt.Sprintf(" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8", wd, ht)
	default:
		data = samples
		dict = fmt.Sprintf(" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8", wd, ht)
	}
	return w.addStream(dict, data, true), nil
}

// pixels returns 8-bit samples, grey (1 channel) when every pixel is grey,
// else RGB (3 channels). Alpha is composited over white.
func pixels(src image.Image) ([]byte, int) {
	b := src.Bounds()
	if g, ok := src.(*image.Gray); ok {
		out := make([]byte, 0, b.Dx()*b.Dy())
		for y := b.Min.Y; y < b.Max.Y; y++ {
			i := g.PixOffset(b.Min.X, y)
			out = append(out, g.Pix[i:i+b.Dx()]...)
		}
		return out, 1
	}
	rgb := make([]byte, 0, b.Dx()*b.Dy()*3)
	gray := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(flatten(src.At(x, y))).(color.RGBA)
			rgb = append(rgb, c.R, c.G, c.B)
			gray = gray && c.R == c.G && c.G == c.B
		}
	}
	if !gray {
		return rgb, 3
	}
	out := make([]byte, len(rgb)/3)
	for i := range out {
		out[i] = rgb[3*i]
	}
	return out, 1
}

func isBitonal(samples []byte) bool {
	for _, v := range samples {
		if v != 0 && v != 0xff {
			return false
		}
	}
	return true
}

// flatten composites a colour over white, dropping alpha.
func flatten(c color.Color) color.Color {
	r, g, b, a := c.RGBA()
	if a == 0xffff {
		return c
	}
	inv := 0xffff - a
	return color.RGBA64{R: uint16(r + inv), G: uint16(g + inv), B: uint16(b + inv), A: 0xffff}
}

// glyphlessFont embeds Tesseract's glyphless font as a Type0 font whose CIDs
// are Unicode code points (BMP), all drawn with glyph 1 and 500/1000 wide.
func (r *Renderer) glyphlessFont(w *pdfWriter) int {
	ff := w.addFlate(fmt.Sprintf(" /Length1 %d", len(r.glyphless)), r.glyphlessZ)
	fd := w.add(fmt.Sprintf("<</Type /FontDescriptor /FontName /GlyphLessFont /Flags 5 /FontBBox [0 0 500 1000] /ItalicAngle 0 /Ascent 1000 /Descent 0 /CapHeight 1000 /StemV 80 /FontFile2 %d 0 R>>", ff))
	gm := w.addFlate("", r.cid2gidZ)
	cid := w.add(fmt.Sprintf("<</Type /Font /Subtype /CIDFontType2 /BaseFont /GlyphLessFont /CIDSystemInfo <</Registry (Adobe) /Ordering (Identity) /Supplement 0>> /FontDescriptor %d 0 R /DW 500 /CIDToGIDMap %d 0 R>>", fd, gm))
	tu := w.addFlate("", r.glyphlessCMapZ)
	return w.add(fmt.Sprintf("<</Type /Font /Subtype /Type0 /BaseFont /GlyphLessFont /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R>>", cid, tu))
}

// glyphlessCMap maps every BMP code point but the surrogates to itself.
func glyphlessCMap() string {
	var cmap strings.Builder
	cmap.WriteString(cmapHeader)
	var ranges []string
	for hi := 0; hi < 256; hi++ {
		if hi >= 0xd8 && hi <= 0xdf {
			continue // surrogates
		}
		ranges = append(ranges, fmt.Sprintf("<%02X00> <%02XFF> <%02X00>", hi, hi, hi))
	}
	for len(ranges) > 0 {
		n := min(100, len(ranges))
		fmt.Fprintf(&cmap, "%d beginbfrange\n%s\nendbfrange\n", n, strings.Join(ranges[:n], "\n"))
		ranges = ranges[n:]
	}
	cmap.WriteString(cmapFooter)
	return cmap.String()
}

const cmapHeader = `/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo <</Registry (Adobe) /Ordering (UCS) /Supplement 0>> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
`

const cmapFooter = `endcmap
CMapName currentdict /CMap defineresource pop
end
end
`

// embedFont embeds a glyph subset of f covering runes as a Type0 font with
// CID == glyph ID, widths and a ToUnicode map.
func (r *Renderer) embedFont(w *pdfWriter, f *ttfFont, runes []rune) int {
	used := map[uint16]bool{}
	uni := map[uint16]rune{}
	for _, ru := range runes {
		g := f.glyph(ru)
		used[g] = true
		if _, ok := uni[g]; !ok {
			uni[g] = ru
		}
	}
	prog, err := f.subset(used)
	if err != nil {
		// The font parsed at load time; fall back to the whole program.
		prog = f.data
	}
	name := subsetTag(f.name, used) + "+" + f.name
	ff := w.addFlate(fmt.Sprintf(" /Length1 %d", len(prog)), deflateLevel(prog, zlib.BestSpeed))
	k := 1000 / float64(f.unitsPerEm)
	fd := w.add(fmt.Sprintf("<</Type /FontDescriptor /FontName %s /Flags 6 /FontBBox [%s %s %s %s] /ItalicAngle 0 /Ascent %s /Descent %s /CapHeight %s /StemV 80 /FontFile2 %d 0 R>>",
		pdfName(name), pdfNum(float64(f.bbox[0])*k), pdfNum(float64(f.bbox[1])*k), pdfNum(float64(f.bbox[2])*k), pdfNum(float64(f.bbox[3])*k),
		pdfNum(float64(f.ascent)*k), pdfNum(float64(f.descent)*k), pdfNum(float64(f.capHeight)*k), ff))
	gids := make([]int, 0, len(used))
	for g := range used {
		gids = append(gids, int(g))
	}
	sort.Ints(gids)
	var widths, bf []string
	for _, g := range gids {
		widths = append(widths, fmt.Sprintf("%d [%s]", g, pdfNum(math.Round(f.width(uint16(g))))))
		u := string(rune(uni[uint16(g)]))
		var hex strings.Builder
		for _, c := range []rune(u) {
			if c > 0xffff {
				c = 0xfffd
			}
			fmt.Fprintf(&hex, "%04X", c)
		}
		bf = append(bf, fmt.Sprintf("<%04X> <%s>", g, hex.String()))
	}
	cid := w.add(fmt.Sprintf("<</Type /Font /Subtype /CIDFontType2 /BaseFont %s /CIDSystemInfo <</Registry (Adobe) /Ordering (Identity) /Supplement 0>> /FontDescriptor %d 0 R /W [%s] /CIDToGIDMap /Identity>>",
		pdfName(name), fd, strings.Join(widths, " ")))
	var cmap strings.Builder
	cmap.WriteString(cmapHeader)
	for len(bf) > 0 {
		n := min(100, len(bf))
		fmt.Fprintf(&cmap, "%d beginbfchar\n%s\nendbfchar\n", n, strings.Join(bf[:n], "\n"))
		bf = bf[n:]
	}
	cmap.WriteString(cmapFooter)
	tu := w.addStream("", []byte(cmap.String()), true)
	return w.add(fmt.Sprintf("<</Type /Font /Subtype /Type0 /BaseFont %s /Encoding /Identity-H /DescendantFonts [%d 0 R] /ToUnicode %d 0 R>>", pdfName(name), cid, tu))
}

// writeTextLayer writes the recognised words in text render mode 3
// (invisible), each word horizontally scaled to its box, with a trailing space
// between words of a line so text extraction keeps word boundaries.
func writeTextLayer(b *bytes.Buffer, words []Word, g geometry) {
	type key struct{ block, line int }
	var order []key
	lines := map[key][]Word{}
	for _, wd := range words {
		if strings.TrimSpace(wd.Text) == "" || wd.Box.Empty() {
			continue
		}
		k := key{wd.Block, wd.Line}
		if _, ok := lines[k]; !ok {
			order = append(order, k)
		}
		lines[k] = append(lines[k], wd)
	}
	if len(order) == 0 {
		return
	}
	b.WriteString("BT 3 Tr\n")
	for _, k := range order {
		ws := lines[k]
		sort.SliceStable(ws, func(i, j int) bool { return ws[i].Box.Min.X < ws[j].Box.Min.X })
		// One font size and baseline per line keeps extraction on one line.
		minY, maxY := ws[0].Box.Min.Y, ws[0].Box.Max.Y
		for _, wd := range ws {
			minY, maxY = min(minY, wd.Box.Min.Y), max(maxY, wd.Box.Max.Y)
		}
		size := math.Max(float64(maxY-minY)*g.scale, 1)
		base := g.h - float64(maxY)*g.scale
		fmt.Fprintf(b, "/OCR %s Tf\n", pdfNum(size))
		for i, wd := range ws {
			text := strings.TrimSpace(wd.Text)
			x := float64(wd.Box.Min.X) * g.scale
			target := float64(wd.Box.Dx()) * g.scale
			if i+1 < len(ws) {
				text += " "
				if next := float64(ws[i+1].Box.Min.X) * g.scale; next > x {
					target = next - x
				}
			}
			n := len([]rune(text))
			tz := 100.0
			if natural := float64(n) * 0.5 * size; natural > 0 && target > 0 {
				tz = target / natural * 100
			}
			fmt.Fprintf(b, "%s Tz 1 0 0 1 %s %s Tm <%s> Tj\n", pdfNum(tz), pdfNum(x), pdfNum(base), utf16Hex(text))
		}
	}
	b.WriteString("ET\n")
}

func utf16Hex(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0xffff || (r >= 0xd800 && r <= 0xdfff) {
			r = 0xfffd
		}
		fmt.Fprintf(&b, "%04X", r)
	}
	return b.String()
}
