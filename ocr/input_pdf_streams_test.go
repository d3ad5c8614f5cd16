package ocr

import (
	"bytes"
	"context"
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
