package bench

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"path/filepath"

	"golang.org/x/image/draw"

	"sohoa/ocr"
)

// A4 at 200 dpi, the size of the generated dossier pages.
const (
	genDPI    = 200
	genWidth  = 1654
	genHeight = 2339
)

// samplePages decodes up to n pages of the corpus, scaled to A4 at 200 dpi:
// the material of the generated dossiers (real scanned text, so their OCR
// costs what a real dossier's does).
func samplePages(ctx context.Context, files []scanFile, n int) ([]*image.RGBA, error) {
	var out []*image.RGBA
	for _, f := range files {
		pages, err := ocr.Open(ctx, f.Data, filepath.Base(f.Path), ocr.DefaultLimits())
		if err != nil {
			return nil, err
		}
		for _, p := range pages {
			if ocr.IsDegenerate(p) {
				continue
			}
			dst := image.NewRGBA(image.Rect(0, 0, genWidth, genHeight))
			draw.ApproxBiLinear.Scale(dst, dst.Bounds(), p.Image, p.Image.Bounds(), draw.Src, nil)
			out = append(out, dst)
			if len(out) == n {
				return out, nil
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no usable corpus page")
	}
	return out, nil
}

// pdfDoc writes a minimal image-only PDF, one full-page image per page.
type pdfDoc struct {
	buf     bytes.Buffer
	offsets []int
	pages   []int
}

func (d *pdfDoc) obj(body string, stream []byte) int {
	if d.buf.Len() == 0 {
		d.buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
		d.offsets = []int{0, 0, 0} // 0 free; 1 catalog, 2 pages: written last
	}
	d.offsets = append(d.offsets, d.buf.Len())
	n := len(d.offsets) - 1
	fmt.Fprintf(&d.buf, "%d 0 obj\n%s", n, body)
	if stream != nil {
		d.buf.WriteString("\nstream\n")
		d.buf.Write(stream)
		d.buf.WriteString("\nendstream")
	}
	d.buf.WriteString("\nendobj\n")
	return n
}

// page adds a page showing an image XObject (dict entries and data).
func (d *pdfDoc) page(imgDict string, data []byte, w, h int) {
	img := d.obj(fmt.Sprintf("<</Type /XObject /Subtype /Image /Width %d /Height %d %s /Length %d>>", w, h, imgDict, len(data)), data)
	pw, ph := float64(w)*72/genDPI, float64(h)*72/genDPI
	content := fmt.Appendf(nil, "q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q", pw, ph)
	cs := d.obj(fmt.Sprintf("<</Length %d>>", len(content)), content)
	d.pages = append(d.pages, d.obj(fmt.Sprintf("<</Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources <</XObject <</Im0 %d 0 R>>>> /Contents %d 0 R>>", pw, ph, img, cs), nil))
}

// bytes finishes the document; tag goes into a comment, so documents of
// the same pages but another tag have other bytes (another input key).
func (d *pdfDoc) bytes(tag string) []byte {
	kids := ""
	for _, p := range d.pages {
		kids += fmt.Sprintf("%d 0 R ", p)
	}
	for _, o := range []struct {
		n    int
		body string
	}{{1, "<</Type /Catalog /Pages 2 0 R>>"}, {2, fmt.Sprintf("<</Type /Pages /Count %d /Kids [%s]>>", len(d.pages), kids)}} {
		d.offsets[o.n] = d.buf.Len()
		fmt.Fprintf(&d.buf, "%d 0 obj\n%s\nendobj\n", o.n, o.body)
	}
	xref := d.buf.Len()
	fmt.Fprintf(&d.buf, "xref\n0 %d\n0000000000 65535 f \n", len(d.offsets))
	for _, off := range d.offsets[1:] {
		fmt.Fprintf(&d.buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&d.buf, "trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n%% %s\n", len(d.offsets), xref, tag)
	return d.buf.Bytes()
}

// colourPDF is an n-page colour dossier: the sample pages as JPEG
// (DCTDecode, passed through by the pipeline).
func colourPDF(samples []*image.RGBA, n int, quality int, tag string) ([]byte, error) {
	var d pdfDoc
	var jb bytes.Buffer
	encoded := make([][]byte, len(samples))
	for i, s := range samples {
		jb.Reset()
		if err := jpeg.Encode(&jb, s, &jpeg.Options{Quality: quality}); err != nil {
			return nil, err
		}
		encoded[i] = bytes.Clone(jb.Bytes())
	}
	for i := range n {
		d.page("/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode", encoded[i%len(encoded)], genWidth, genHeight)
	}
	return d.bytes(tag), nil
}

// bitonalPDF is an n-page bitonal dossier: the sample pages thresholded
// to 1 bit per pixel (FlateDecode), as an office scanner's black-and-white
// mode makes them.
func bitonalPDF(samples []*image.RGBA, n int, tag string) []byte {
	var d pdfDoc
	encoded := make([][]byte, len(samples))
	for i, s := range samples {
		encoded[i] = bitonalFlate(s)
	}
	for i := range n {
		d.page("/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode", encoded[i%len(encoded)], genWidth, genHeight)
	}
	return d.bytes(tag)
}

// bitonalFlate thresholds img (luma below 150 is ink) into 1-bit rows,
// white = 1, zlib-compressed.
func bitonalFlate(img *image.RGBA) []byte {
	b := img.Bounds()
	row := (b.Dx() + 7) / 8
	raw := make([]byte, row*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			c := img.RGBAAt(b.Min.X+x, b.Min.Y+y)
			if (299*int(c.R)+587*int(c.G)+114*int(c.B))/1000 >= 150 {
				raw[y*row+x/8] |= 0x80 >> (x % 8)
			}
		}
	}
	var out bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&out, zlib.BestSpeed)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	return out.Bytes()
}

// onePagePDF is a one-page colour scan for warming a worker up, unique by
// tag.
func onePagePDF(sample *image.RGBA, tag string) ([]byte, error) {
	return colourPDF([]*image.RGBA{sample}, 1, 75, tag)
}

// noiseReader yields n pseudo-random bytes from seed: an upload of a
// given size without holding it in memory.
type noiseReader struct {
	r    *rand.ChaCha8
	left int64
}

func newNoise(seed uint64, n int64) *noiseReader {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &noiseReader{r: rand.NewChaCha8(s), left: n}
}

func (n *noiseReader) Read(p []byte) (int, error) {
	if n.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > n.left {
		p = p[:n.left]
	}
	k, _ := n.r.Read(p)
	n.left -= int64(k)
	return k, nil
}
