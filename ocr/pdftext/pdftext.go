// Package pdftext reads what a PDF holds besides scan images: the text
// layer of each page with its word boxes, the fonts that draw it, the
// images that cover it, and a rendering of the page. It runs poppler's
// tools (pdftotext -bbox-layout, pdfimages -list, pdffonts, pdftoppm) as
// processes of their own: each is bounded by a timeout and an output cap,
// dies with its parent (Pdeathsig), and inherits the memory limits of the
// process that starts it (the OCR child, tesseract.SetMemoryLimit), so a
// hostile PDF kills a poppler process, never the worker. Nothing in a PDF
// is executed: poppler's tools run no JavaScript, fill no forms and open no
// attachments.
//
// Classify then names each page's kind (KindImage, KindText, KindMixed),
// and the text layer becomes the same ocr.Word structures the OCR engine
// produces, so classification and field extraction work unchanged.
package pdftext

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"sohoa/ocr"
)

// Page kinds.
const (
	// KindImage: no text layer; the page image is recognised (today's path).
	KindImage = "image"
	// KindText: a real text layer and no page-covering image: the words
	// come from the PDF itself.
	KindText = "text"
	// KindMixed: a text layer over a page image (an earlier OCR's hidden
	// layer) or over vector drawing: the page is recognised and the layer
	// is only a second read.
	KindMixed = "mixed"
)

// ErrTool: a poppler tool failed on the input (it is corrupt or beyond
// what the tool accepts), timed out, or is missing.
var ErrTool = errors.New("pdf tool failed")

// Options bound the tools. The zero value is usable.
type Options struct {
	// Bin is the folder of the poppler tools; "" looks them up in PATH.
	Bin string
	// Timeout bounds one tool run; default 60s.
	Timeout time.Duration
	// DPI of renderings; default 300.
	DPI int
	// MaxOutput caps what one tool may print, in bytes; default 64 MiB.
	MaxOutput int64
	// MaxWordsPerPage bounds a page's text layer; default 20,000.
	MaxWordsPerPage int
	// MaxFontsPerPage: a page drawing with more fonts is not read from its
	// text layer (it is recognised instead); default 64.
	MaxFontsPerPage int
	// MaxPixels bounds one rendering (width × height); 0: 60 MP. A page
	// too big for it at DPI is rendered at the highest DPI that fits, down
	// to MinDPI, else refused (ocr.ErrTooLarge).
	MaxPixels int64
	// MinDPI is the lowest rendering resolution accepted; default 150.
	MinDPI int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.DPI <= 0 {
		o.DPI = 300
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = 64 << 20
	}
	if o.MaxWordsPerPage <= 0 {
		o.MaxWordsPerPage = 20_000
	}
	if o.MaxFontsPerPage <= 0 {
		o.MaxFontsPerPage = 64
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = 60_000_000
	}
	if o.MinDPI <= 0 {
		o.MinDPI = 150
	}
	return o
}

// Doc is one PDF opened for the tools: a private temporary copy of its
// bytes. Close removes it.
type Doc struct {
	opts Options
	dir  string
	path string
}

// Open writes data to a private temporary folder for the tools.
func Open(data []byte, opts Options) (*Doc, error) {
	dir, err := os.MkdirTemp("", "sohoa-pdf-")
	if err != nil {
		return nil, fmt.Errorf("pdftext: temp folder: %w", err)
	}
	p := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pdftext: write temp file: %w", err)
	}
	return &Doc{opts: opts.withDefaults(), dir: dir, path: p}, nil
}

// OpenFile reads the PDF at path in place, not copied (the file must stay
// there until Close, which leaves it); the tools' output still goes to a
// private temporary folder.
func OpenFile(path string, opts Options) (*Doc, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("pdftext: %w", err)
	}
	dir, err := os.MkdirTemp("", "sohoa-pdf-")
	if err != nil {
		return nil, fmt.Errorf("pdftext: temp folder: %w", err)
	}
	return &Doc{opts: opts.withDefaults(), dir: dir, path: abs}, nil
}

// Close removes the temporary folder (and the copy Open made).
func (d *Doc) Close() error { return os.RemoveAll(d.dir) }

// run runs one tool with the limits and returns its standard output.
func (d *Doc) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	bin := tool
	if d.opts.Bin != "" {
		bin = filepath.Join(d.opts.Bin, tool)
	}
	tctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	cmd.Dir = d.dir
	var out, stderr bytes.Buffer
	lw := &capWriter{w: &out, n: d.opts.MaxOutput}
	cmd.Stdout, cmd.Stderr = lw, &capWriter{w: &stderr, n: 4 << 10}
	cmd.WaitDelay = time.Second
	// The tool dies with the process that started it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s: %w", tool, ctx.Err())
	case tctx.Err() != nil:
		return nil, fmt.Errorf("%s: timed out after %v: %w", tool, d.opts.Timeout, ErrTool)
	case lw.over:
		return nil, fmt.Errorf("%s: output over %d bytes: %w", tool, d.opts.MaxOutput, ocr.ErrTooLarge)
	case err != nil:
		msg, _, _ := bytes.Cut(bytes.TrimSpace(stderr.Bytes()), []byte("\n"))
		return nil, fmt.Errorf("%s: %v (%s): %w", tool, err, msg, ErrTool)
	}
	return out.Bytes(), nil
}

// TextLayer is the text layer of every page (pdftotext -bbox-layout).
// Pages whose words exceed MaxWordsPerPage are cut and listed in cut.
func (d *Doc) TextLayer(ctx context.Context) (pages []LayerPage, cut []int, err error) {
	out, err := d.run(ctx, "pdftotext", "-q", "-enc", "UTF-8", "-bbox-layout", d.path, "-")
	if err != nil {
		return nil, nil, err
	}
	pages, cut, err = parseBBox(bytes.NewReader(xmlSafe(out)), d.opts.MaxWordsPerPage)
	if err != nil {
		return nil, nil, fmt.Errorf("pdftotext: %w: %w", ErrTool, err)
	}
	return pages, cut, nil
}

// xmlSafe replaces the control characters XML forbids (pdftotext prints
// them for glyphs without a Unicode value) with U+FFFD.
func xmlSafe(b []byte) []byte {
	return bytes.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return '\uFFFD'
		}
		return r
	}, b)
}

// Images lists the images of every page (pdfimages -list).
func (d *Doc) Images(ctx context.Context) ([]ImageInfo, error) {
	out, err := d.run(ctx, "pdfimages", "-q", "-list", d.path)
	if err != nil {
		return nil, err
	}
	imgs, err := parseImages(out)
	if err != nil {
		return nil, fmt.Errorf("pdfimages: %w: %w", ErrTool, err)
	}
	return imgs, nil
}

// Fonts lists the fonts page n draws with (pdffonts -f n -l n).
func (d *Doc) Fonts(ctx context.Context, n int) ([]FontInfo, error) {
	p := strconv.Itoa(n)
	out, err := d.run(ctx, "pdffonts", "-f", p, "-l", p, d.path)
	if err != nil {
		return nil, err
	}
	fonts, err := parseFonts(out)
	if err != nil {
		return nil, fmt.Errorf("pdffonts: %w: %w", ErrTool, err)
	}
	return fonts, nil
}

// RenderDPI is the resolution page n (widthPt × heightPt points) is
// rendered at: Options.DPI, or less when that would exceed MaxPixels.
func (d *Doc) RenderDPI(widthPt, heightPt float64) (int, error) {
	if widthPt <= 0 || heightPt <= 0 || widthPt > 14400 || heightPt > 14400 {
		return 0, fmt.Errorf("page size %.0f×%.0f pt: %w", widthPt, heightPt, ocr.ErrTooLarge)
	}
	dpi := d.opts.DPI
	for ; dpi >= d.opts.MinDPI; dpi -= 25 {
		w, h := widthPt*float64(dpi)/72, heightPt*float64(dpi)/72
		if int64(w+1)*int64(h+1) <= d.opts.MaxPixels {
			return dpi, nil
		}
	}
	return 0, fmt.Errorf("page %.0f×%.0f pt does not fit %d pixels at %d dpi: %w", widthPt, heightPt, d.opts.MaxPixels, d.opts.MinDPI, ocr.ErrTooLarge)
}

// Render renders page n at dpi as a PNG (pdftoppm), checking its header
// against MaxPixels before it is decoded.
func (d *Doc) Render(ctx context.Context, n, dpi int) (ocr.PageImage, error) {
	p := strconv.Itoa(n)
	prefix := filepath.Join(d.dir, "page")
	if _, err := d.run(ctx, "pdftoppm", "-q", "-r", strconv.Itoa(dpi), "-f", p, "-l", p, "-singlefile", "-png", d.path, prefix); err != nil {
		return ocr.PageImage{}, err
	}
	data, err := os.ReadFile(prefix + ".png")
	os.Remove(prefix + ".png")
	if err != nil {
		return ocr.PageImage{}, fmt.Errorf("pdftoppm: page %d: %v: %w", n, err, ErrTool)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return ocr.PageImage{}, fmt.Errorf("pdftoppm: page %d: %v: %w", n, err, ErrTool)
	}
	if int64(cfg.Width)*int64(cfg.Height) > d.opts.MaxPixels {
		return ocr.PageImage{}, fmt.Errorf("page %d rendering %d×%d: %w", n, cfg.Width, cfg.Height, ocr.ErrTooLarge)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return ocr.PageImage{}, fmt.Errorf("pdftoppm: page %d: %v: %w", n, err, ErrTool)
	}
	return ocr.PageImage{Number: n, Image: img, Data: data, Format: "png", DPI: float64(dpi)}, nil
}

// capWriter keeps at most n bytes and notes when more came.
type capWriter struct {
	w    io.Writer
	n    int64
	over bool
}

func (c *capWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > c.n {
		c.over = true
		if c.n > 0 {
			c.w.Write(p[:c.n])
		}
		c.n = 0
		return len(p), nil
	}
	c.n -= int64(len(p))
	return c.w.Write(p)
}
