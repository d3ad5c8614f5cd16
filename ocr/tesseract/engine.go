// Package tesseract is the OCR engine: Tesseract through gosseract (the only
// cgo of the project), run inside supervised child processes (see Pool).
package tesseract

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/otiai10/gosseract/v2"

	"sohoa/ocr"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Lang is the Tesseract language; default "vie".
	Lang string
	// TessdataPrefix is the tessdata directory itself; default: the
	// library's compiled-in path.
	TessdataPrefix string
	// MinOrientationConf is the OSD confidence below which a detected
	// 90/180/270 orientation is not trusted on its own; default 2.
	MinOrientationConf float64
	// Logger receives per-page debug lines; default: discard.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Lang == "" {
		o.Lang = "vie"
	}
	if o.MinOrientationConf == 0 {
		o.MinOrientationConf = 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Engine recognises pages with one gosseract client and one OSD handle,
// reused across pages so the models load once. An Engine is not safe for
// concurrent use: use one per goroutine (or, as the pipeline does, one per
// child process through Pool).
type Engine struct {
	opts   Options
	client *gosseract.Client
	osd    *osdDetector
	rr     *rereader // second reads of number-like words; made on first use
	// stages sums the time spent per stage since the last TakeStages.
	stages Stages
}

// Stages is time spent per stage of recognition: StageDecode, StageDeskew,
// StageOSD, StageRecognition, and StageReread+"_"+variant per second-read
// image treatment.
type Stages map[string]StageTime

// StageTime is the wall-clock and CPU time (user + system of the process:
// an OCR child does one thing at a time) of a stage.
type StageTime struct{ Wall, CPU time.Duration }

// stageClock is a point in wall-clock and process CPU time.
type stageClock struct{ wall, cpu time.Duration }

func now() stageClock {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return stageClock{wall: time.Duration(time.Now().UnixNano()), cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

// Recognition stages an Engine times.
const (
	StageDecode      = "decode"
	StageDeskew      = "deskew"
	StageOSD         = "osd"
	StageRecognition = "recognition"
	StageReread      = "reread"
)

// since adds the time since start to stage.
func (e *Engine) since(stage string, start stageClock) {
	if e.stages == nil {
		e.stages = Stages{}
	}
	end := now()
	t := e.stages[stage]
	t.Wall += end.wall - start.wall
	t.CPU += end.cpu - start.cpu
	e.stages[stage] = t
}

// TakeStages returns the time spent per stage since the last call, and
// starts counting afresh.
func (e *Engine) TakeStages() Stages {
	s := e.stages
	e.stages = nil
	return s
}

// newClient makes a gosseract client for opts' language and data with the
// given page segmentation mode.
func newClient(opts Options, psm gosseract.PageSegMode) (*gosseract.Client, error) {
	c := gosseract.NewClient()
	if opts.TessdataPrefix != "" {
		c.SetTessdataPrefix(opts.TessdataPrefix)
	}
	if err := c.SetLanguage(opts.Lang); err != nil {
		c.Close()
		return nil, fmt.Errorf("set language %s: %w", opts.Lang, err)
	}
	if err := c.SetPageSegMode(psm); err != nil {
		c.Close()
		return nil, fmt.Errorf("set page segmentation mode: %w", err)
	}
	return c, nil
}

// New loads the recognition and OSD models.
func New(opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	client, err := newClient(opts, gosseract.PSM_AUTO)
	if err != nil {
		return nil, fmt.Errorf("tesseract: %w", err)
	}
	osd, err := newOSDDetector(opts.TessdataPrefix)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("tesseract: %w", err)
	}
	return &Engine{opts: opts, client: client, osd: osd}, nil
}

// Close releases the Tesseract handles.
func (e *Engine) Close() error {
	e.osd.close()
	if e.rr != nil {
		if err := e.rr.close(); err != nil {
			return fmt.Errorf("tesseract: %w", err)
		}
	}
	if err := e.client.Close(); err != nil {
		return fmt.Errorf("tesseract: close client: %w", err)
	}
	return nil
}

// Page flags set by Recognize; the vocabulary is package ocr's.
const (
	FlagDegenerate    = ocr.FlagDegenerate
	FlagBlank         = ocr.FlagBlank
	FlagLowOSD        = ocr.FlagLowOSD
	FlagLowConfidence = ocr.FlagLowConfidence
)

const (
	// blankInk is the ink share below which a page is blank. Measured on
	// the corpus: a scanned empty sheet 0.0018, the sparsest text page
	// 0.025.
	blankInk = 0.005
	// lowConfidence is the mean word confidence below which a page is
	// flagged for review.
	lowConfidence = 0.5
)

// Recognize straightens and recognises one page: skew is estimated and
// removed (±5°), dark bands along the edges are whitened, orientation comes
// from Tesseract OSD, then one recognition pass yields words with boxes,
// confidences and line numbers.
func (e *Engine) Recognize(ctx context.Context, img ocr.PageImage) (ocr.Page, error) {
	if err := ctx.Err(); err != nil {
		return ocr.Page{}, fmt.Errorf("recognize page %d: %w", img.Number, err)
	}
	if img.Image == nil && len(img.Data) > 0 {
		decodeStart := now()
		dec, _, err := image.Decode(bytes.NewReader(img.Data))
		e.since(StageDecode, decodeStart)
		if err != nil {
			return ocr.Page{}, fmt.Errorf("recognize page %d: decode %s data: %v: %w", img.Number, img.Format, err, ocr.ErrUnreadable)
		}
		img.Image = dec
	}
	page := ocr.Page{Number: img.Number, DPI: img.DPI}
	if ocr.IsDegenerate(img) {
		if img.Image != nil {
			page.Width, page.Height = img.Image.Bounds().Dx(), img.Image.Bounds().Dy()
		}
		page.Flags = []string{FlagDegenerate}
		return page, nil
	}
	deskewStart := now()
	g, skew := deskew(img.Image)
	if skew != 0 {
		page.Skew = -skew
	}
	e.since(StageDeskew, deskewStart)
	if ocr.InkFraction(g) < blankInk {
		// An empty sheet: recognising paper noise takes long and
		// yields garbage.
		page.Width, page.Height = g.Bounds().Dx(), g.Bounds().Dy()
		page.Flags = []string{FlagBlank}
		return page, nil
	}
	dpi := int(math.Round(img.DPI))
	if dpi <= 0 {
		dpi = ocr.DefaultDPI
	}
	if err := ctx.Err(); err != nil {
		return ocr.Page{}, fmt.Errorf("recognize page %d: %w", img.Number, err)
	}
	// Orientation: a page that reads well upright (most of them) is
	// upright, and needs no OSD pass; only a page that reads badly is
	// asked OSD, and then recognised again turned, as before.
	words, err := e.recognize(g, dpi)
	if err != nil {
		return ocr.Page{}, fmt.Errorf("recognize page %d: %w", img.Number, err)
	}
	rot, osdDeg, osdConf := 0, 0, 0.0
	if !readsUpright(words) {
		osdStart := now()
		var osdOK bool
		osdDeg, osdConf, osdOK = e.osd.detect(g, dpi)
		e.since(StageOSD, osdStart)
		if osdOK {
			rot = clockwiseFix(osdDeg)
		}
	}
	switch {
	case rot == 0:
	case osdConf >= e.opts.MinOrientationConf:
		rg := ocr.RotateQuarter(g, rot)
		var alt []gosseract.BoundingBox
		if alt, err = e.recognize(rg, dpi); err == nil {
			words, g = alt, rg
		}
	default:
		// Uncertain orientation: keep the better of both readings.
		page.Flags = append(page.Flags, FlagLowOSD)
		rg := ocr.RotateQuarter(g, rot)
		var alt []gosseract.BoundingBox
		alt, err = e.recognize(rg, dpi)
		if err == nil && scoreWords(alt) > scoreWords(words) {
			words, g = alt, rg
		} else {
			rot = 0
		}
	}
	if err != nil {
		return ocr.Page{}, fmt.Errorf("recognize page %d: %w", img.Number, err)
	}
	page.Rotation = rot
	page.Width, page.Height = g.Bounds().Dx(), g.Bounds().Dy()
	fillPage(&page, words)
	// The page in grey with its coloured marks paled (stamps, pen),
	// straightened as g was; nil for a page without colour.
	col := colourDropped(img.Image, skew, rot, g.Bounds())
	if col != nil {
		start := now()
		n, err := e.relineColour(g, col, dpi, &page)
		e.since(StageReread+"_colour", start)
		if err != nil {
			return ocr.Page{}, fmt.Errorf("recognize page %d: %w", img.Number, err)
		}
		if n > 0 {
			page.Text = pageText(page.Words)
		}
	}
	if err := e.reread(g, func() *colourPage { return col }, dpi, &page); err != nil {
		return ocr.Page{}, fmt.Errorf("recognize page %d: %w", img.Number, err)
	}
	switch {
	case confidentWords(page.Words) < 3:
		page.Flags = append(page.Flags, FlagBlank)
	case page.Confidence < lowConfidence:
		page.Flags = append(page.Flags, FlagLowConfidence)
	}
	e.opts.Logger.Debug("page recognised", "page", img.Number, "skew", page.Skew,
		"osd_deg", osdDeg, "osd_conf", osdConf, "rotation", rot, "words", len(page.Words), "confidence", page.Confidence)
	return page, nil
}

// deskew is the page src in grey for recognition, red seal ink dropped on
// colour pages (inkGray), straightened by the skew found (ocr.EstimateSkew:
// the angle its lines are rotated counter-clockwise, 0 for none), with the
// dark bands along its edges whitened (ocr.CleanBorders).
func deskew(src image.Image) (g *image.Gray, skew float64) {
	g = inkGray(src)
	skew = ocr.EstimateSkew(g)
	if skew != 0 {
		g = ocr.Rotate(g, -skew)
	}
	if g == src {
		// A grey page as decoded: the caller's, cleaned in a copy.
		return ocr.CleanBorders(g), skew
	}
	return ocr.CleanBordersInPlace(g), skew
}

// colourDropped is ocr.ColourDropped of src turned as the page was:
// deskewed by skew, then rotated by rot; nil for a page without colour.
func colourDropped(src image.Image, skew float64, rot int, want image.Rectangle) *colourPage {
	if rot == 0 {
		// Made a region at a time, as crops read it.
		c := ocr.NewColourDroppedPage(src, -skew)
		if c == nil || c.Bounds() != want {
			return nil
		}
		return &colourPage{lazy: c}
	}
	c := ocr.ColourDropped(src)
	if c == nil {
		return nil
	}
	if skew != 0 {
		c = ocr.Rotate(c, -skew)
	}
	c = ocr.RotateQuarter(c, rot)
	if c.Bounds() != want {
		return nil
	}
	return &colourPage{full: c}
}

// colourPage is the page with its coloured marks paled, straightened as
// the page was: made a region at a time (lazy), or, for a page turned by
// a quarter, whole (full).
type colourPage struct {
	lazy *ocr.ColourDroppedPage
	full *image.Gray
}

func (c *colourPage) bounds() image.Rectangle {
	if c.full != nil {
		return c.full.Bounds()
	}
	return c.lazy.Bounds()
}

// region returns an image holding at least the part r of the page, in
// the page's coordinates.
func (c *colourPage) region(r image.Rectangle) *image.Gray {
	if c.full != nil {
		return c.full
	}
	return c.lazy.Region(r)
}

// pageText is the page's text from its words, one line per line.
func pageText(ws []ocr.Word) string {
	var sb strings.Builder
	for i, w := range ws {
		switch {
		case i == 0:
		case w.Line != ws[i-1].Line:
			sb.WriteByte('\n')
		default:
			sb.WriteByte(' ')
		}
		sb.WriteString(w.Text)
	}
	return sb.String()
}

// clockwiseFix maps Tesseract's OSD orientation to the clockwise rotation
// that makes the page upright. TessBaseAPIDetectOrientationScript reports
// how far the content is rotated clockwise (measured: a page turned 90°
// clockwise reports 90), so the fix is the rest of the turn.
func clockwiseFix(osdDeg int) int {
	d := ((osdDeg % 360) + 360) % 360 / 90 * 90
	return (360 - d) % 360
}

// recognize runs exactly one recognition pass on g.
func (e *Engine) recognize(g *image.Gray, dpi int) ([]gosseract.BoundingBox, error) {
	defer e.since(StageRecognition, now())
	if err := e.client.SetImageFromBytes(encodeBMP(g, dpi)); err != nil {
		return nil, fmt.Errorf("set image: %w", err)
	}
	if err := e.client.SetVariable("user_defined_dpi", strconv.Itoa(dpi)); err != nil {
		return nil, fmt.Errorf("set dpi: %w", err)
	}
	boxes, err := e.client.GetBoundingBoxesVerbose()
	if err != nil {
		return nil, fmt.Errorf("recognise: %w", err)
	}
	return boxes, nil
}

// encodeBMP writes g as an 8-bit grey BMP with its resolution: Leptonica
// reads BMP without a codec and keeps the resolution (PNM has none, and
// gosseract then assumes 70 dpi).
func encodeBMP(g *image.Gray, dpi int) []byte {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	rowLen := (w + 3) &^ 3
	const hdrLen = 14 + 40 + 256*4
	out := make([]byte, hdrLen+rowLen*h)
	le := binary.LittleEndian
	copy(out, "BM")
	le.PutUint32(out[2:], uint32(len(out)))
	le.PutUint32(out[10:], hdrLen)
	le.PutUint32(out[14:], 40)
	le.PutUint32(out[18:], uint32(w))
	le.PutUint32(out[22:], uint32(h)) // positive: rows bottom-up
	le.PutUint16(out[26:], 1)
	le.PutUint16(out[28:], 8)
	le.PutUint32(out[34:], uint32(rowLen*h))
	ppm := uint32(math.Round(float64(dpi) / 0.0254))
	le.PutUint32(out[38:], ppm)
	le.PutUint32(out[42:], ppm)
	le.PutUint32(out[46:], 256)
	for i := 0; i < 256; i++ {
		p := out[54+4*i:]
		p[0], p[1], p[2] = byte(i), byte(i), byte(i)
	}
	for y := 0; y < h; y++ {
		src := g.Pix[(y+b.Min.Y-g.Rect.Min.Y)*g.Stride+(b.Min.X-g.Rect.Min.X):]
		copy(out[hdrLen+(h-1-y)*rowLen:], src[:w])
	}
	return out
}

// Upright reading: a page whose upright recognition has at least
// uprightMinWords words of a mean confidence of uprightMinConf is taken as
// upright without an OSD pass. Measured on the dev corpus (deskewed, no
// OSD): upright pages read at 0.90–0.96, pages fed upside down at 0.43.
const (
	uprightMinConf  = 0.75
	uprightMinWords = 20
)

// readsUpright reports whether an upright recognition is good enough to
// skip orientation detection.
func readsUpright(ws []gosseract.BoundingBox) bool {
	n, sum := 0, 0.0
	for _, w := range ws {
		if strings.TrimSpace(w.Word) != "" {
			n++
			sum += w.Confidence / 100
		}
	}
	return n >= uprightMinWords && sum/float64(n) >= uprightMinConf
}

// scoreWords rates a recognition: total confidence of plausible words.
func scoreWords(ws []gosseract.BoundingBox) float64 {
	var s float64
	for _, w := range ws {
		if strings.TrimSpace(w.Word) != "" {
			s += w.Confidence * float64(len([]rune(w.Word)))
		}
	}
	return s
}

func confidentWords(ws []ocr.Word) int {
	n := 0
	for _, w := range ws {
		if w.Conf >= 0.5 && len([]rune(w.Text)) >= 2 {
			n++
		}
	}
	return n
}

// fillPage turns Tesseract's words into Page.Words (0-based page-wide line
// numbers in reading order), Page.Text (one line per line) and the mean
// word confidence. Two cleanups make lines match the printed ones:
// specks read as lone punctuation are dropped, and a Tesseract line that
// spans two columns (a header's authority block beside the national motto)
// is split where the gap between words exceeds columnGap word heights.
func fillPage(p *ocr.Page, boxes []gosseract.BoundingBox) {
	medianH := medianWordHeight(boxes)
	type lineKey struct{ block, par, line int }
	lineIdx := map[lineKey]int{}
	lastRight := map[lineKey]int{}
	var lines [][]string
	var confSum float64
	for _, b := range boxes {
		text := strings.TrimSpace(b.Word)
		conf := math.Max(0, math.Min(1, b.Confidence/100))
		if text == "" || isSpeck(text, conf, b.Box, medianH) {
			continue
		}
		k := lineKey{b.BlockNum, b.ParNum, b.LineNum}
		li, ok := lineIdx[k]
		if ok && medianH > 0 && float64(b.Box.Min.X-lastRight[k]) > columnGap*float64(medianH) {
			ok = false // a column gap: start a new line
		}
		if !ok {
			li = len(lines)
			lineIdx[k] = li
			lines = append(lines, nil)
		}
		lastRight[k] = b.Box.Max.X
		lines[li] = append(lines[li], text)
		confSum += conf
		p.Words = append(p.Words, ocr.Word{Text: text, Conf: conf, Box: b.Box, Block: b.BlockNum, Line: li})
	}
	var sb strings.Builder
	for i, l := range lines {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(strings.Join(l, " "))
	}
	p.Text = sb.String()
	if len(p.Words) > 0 {
		p.Confidence = confSum / float64(len(p.Words))
	}
}

// columnGap is the horizontal gap, in median word heights, that separates
// two columns on one baseline (three printed spaces stay well below it).
const columnGap = 2.5

func medianWordHeight(boxes []gosseract.BoundingBox) int {
	var hs []int
	for _, b := range boxes {
		if len([]rune(strings.TrimSpace(b.Word))) >= 2 {
			hs = append(hs, b.Box.Dy())
		}
	}
	if len(hs) == 0 {
		return 0
	}
	sort.Ints(hs)
	return hs[len(hs)/2]
}

// isSpeck reports a token that is only punctuation or symbols and either
// unconfident or tiny in both dimensions: dust read as ":" or ".".
func isSpeck(text string, conf float64, box image.Rectangle, medianH int) bool {
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	if conf < 0.5 {
		return true
	}
	lim := int(0.3 * float64(medianH))
	return box.Dx() < lim && box.Dy() < lim
}
