package ocr

import (
	"bytes"
	"compress/zlib"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// noisyJPEGPDF is an n-page PDF of distinct noisy JPEG pages (DCT streams
// that do not compress: the file is about its streams).
func noisyJPEGPDF(t testing.TB, n int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	var imgs []io.Reader
	for range n {
		img := image.NewGray(image.Rect(0, 0, 800, 1100))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		img.SetGray(0, 0, color.Gray{Y: 1})
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, &b)
	}
	imp, err := api.Import("form:A4, pos:c, scale:1.0, dpi:100", types.POINTS)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := api.ImportImages(nil, &out, imgs, imp, model.NewDefaultConfiguration()); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func heapAlloc() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestOpenScanFileDropsStreams: a PDF opened from its file does not hold
// its page images' streams (pdfcpu reads every stream when it opens a
// file): the heap grows by much less than the file while it is open, and
// every page still comes out as the eager opener's, twice over (a page
// asked for again, as a retried page is).
func TestOpenScanFileDropsStreams(t *testing.T) {
	data := noisyJPEGPDF(t, 24)
	path := filepath.Join(t.TempDir(), "dossier.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	eager, err := OpenScan(context.Background(), data, "dossier.pdf", DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := heapAlloc()
	scan, err := OpenScanFile(context.Background(), f, "dossier.pdf", DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	grown := heapAlloc() - before
	t.Logf("file %d KiB, heap while open +%d KiB", len(data)>>10, grown>>10)
	if grown > int64(len(data))/4 {
		t.Errorf("heap grew by %d bytes while the %d-byte file is open: its streams are held", grown, len(data))
	}
	for range 2 {
		for i, e := range eager.Pages {
			p, err := scan.Page(context.Background(), i)
			if err != nil {
				t.Fatalf("page %d: %v", i+1, err)
			}
			if p.Number != e.Number || p.Format != e.Format || p.DPI != e.DPI || !bytes.Equal(p.Data, e.Data) || p.Bounds() != e.Bounds() {
				t.Fatalf("page %d from the file: %d %s %v dpi %v, eagerly %d %s %v dpi %v (or other Data)", i+1,
					p.Number, p.Format, p.Bounds(), p.DPI, e.Number, e.Format, e.Bounds(), e.DPI)
			}
		}
	}
	runtime.KeepAlive(scan)
}

// sharedImagePDF is a two-page PDF whose second page shows, beside its
// own larger scan, the first page's scan (a copy placed small): taking
// page 2 out extracts page 1's chosen image too.
func sharedImagePDF(t testing.TB) []byte {
	t.Helper()
	jpegOf := func(w, h int, seed uint64) []byte {
		rng := rand.New(rand.NewPCG(seed, 3))
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	// A Flate image (a bitonal scan's kind), which pdfcpu decodes when
	// it extracts it, and a JPEG.
	flateOf := func(w, h int) []byte {
		var b bytes.Buffer
		z := zlib.NewWriter(&b)
		row := make([]byte, w)
		for y := range h {
			for x := range row {
				row[x] = uint8((x ^ y) & 0xff)
			}
			z.Write(row)
		}
		z.Close()
		return b.Bytes()
	}
	a, b := flateOf(600, 800), jpegOf(700, 900, 2)
	img := func(data []byte, w, h int, filter string) string {
		return fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /%s /Length %d >>\nstream\n%s\nendstream", w, h, filter, len(data), data)
	}
	content := func(s string) string { return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s), s) }
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 432 576] /Resources << /XObject << /A 5 0 R >> >> /Contents 7 0 R >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 504 648] /Resources << /XObject << /A 5 0 R /B 6 0 R >> >> /Contents 8 0 R >>",
		img(a, 600, 800, "FlateDecode"),
		img(b, 700, 900, "DCTDecode"),
		content("q 432 0 0 576 0 0 cm /A Do Q"),
		content("q 504 0 0 648 0 0 cm /B Do Q q 50 0 0 66 10 10 cm /A Do Q"),
	}
	var buf bytes.Buffer
	buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&buf, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return buf.Bytes()
}

// TestOpenScanFileSharedImage: a page that also shows another page's
// (dropped) scan comes out as the eager opener's.
func TestOpenScanFileSharedImage(t *testing.T) {
	data := sharedImagePDF(t)
	eager, err := OpenScan(context.Background(), data, "shared.pdf", DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	lazy, err := OpenScanLazy(context.Background(), data, "shared.pdf", DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if len(lazy.Pages) != 2 || len(eager.Pages) != 2 {
		t.Fatalf("pages: lazily %d, eagerly %d; want 2", len(lazy.Pages), len(eager.Pages))
	}
	for _, i := range []int{1, 0, 1} {
		p, err := lazy.Page(context.Background(), i)
		if err != nil {
			t.Fatalf("page %d: %v", i+1, err)
		}
		if e := eager.Pages[i]; !bytes.Equal(p.Data, e.Data) || p.Bounds() != e.Bounds() {
			t.Errorf("page %d lazily %v, eagerly %v (or other Data)", i+1, p.Bounds(), e.Bounds())
		}
	}
}
