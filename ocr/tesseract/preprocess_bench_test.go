package tesseract

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"testing"

	"sohoa/ocr"
)

// cpuLoop runs f in b's loop and reports the process's CPU time (user +
// system) per call as cpu-ns/op, the better guide on a shared machine.
func cpuLoop(b *testing.B, f func()) {
	b.Helper()
	b.ReportAllocs()
	start := now().cpu
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(now().cpu-start)/float64(b.N), "cpu-ns/op")
}

// The per-page work of Recognize outside Tesseract, on corpus pages of each
// kind: a 300 dpi colour JPEG, a 300 dpi grey JPEG, a 300 dpi bitonal TIFF
// and a 200 dpi colour PDF.
var prepFiles = []string{"scan_0009.jpg", "scan_0010.jpg", "scan_0016.tif", "scan_0025.pdf"}

// prepPage is page 1 of a corpus file as Recognize gets it from the
// child's lazily opened scan: encoded Data, and maybe its Image.
func prepPage(b *testing.B, file string) ocr.PageImage {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(b), file))
	if err != nil {
		b.Fatal(err)
	}
	scan, err := ocr.OpenScanLazy(context.Background(), data, file, ocr.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	p, err := scan.Page(context.Background(), 0)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// decoded is p with its Image decoded from Data when it has none.
func decoded(b *testing.B, p ocr.PageImage) ocr.PageImage {
	b.Helper()
	if p.Image == nil {
		img, _, err := image.Decode(bytes.NewReader(p.Data))
		if err != nil {
			b.Fatal(err)
		}
		p.Image = img
	}
	return p
}

func BenchmarkDecode(b *testing.B) {
	for _, f := range prepFiles {
		p := prepPage(b, f)
		if p.Image != nil {
			continue // decoded when the file is opened
		}
		b.Run(f, func(b *testing.B) {
			cpuLoop(b, func() {
				if _, _, err := image.Decode(bytes.NewReader(p.Data)); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDeskew is Recognize's deskew stage.
func BenchmarkDeskew(b *testing.B) {
	for _, f := range prepFiles {
		p := decoded(b, prepPage(b, f))
		b.Run(f, func(b *testing.B) {
			cpuLoop(b, func() { deskew(p.Image) })
		})
	}
}

// BenchmarkAfterDeskew is the rest of Recognize's own per-page work
// outside Tesseract: the blank check and the colour-dropped page turned as
// the page was.
func BenchmarkAfterDeskew(b *testing.B) {
	for _, f := range prepFiles {
		p := decoded(b, prepPage(b, f))
		g, skew := deskew(p.Image)
		b.Run(f, func(b *testing.B) {
			cpuLoop(b, func() {
				ocr.InkFraction(g)
				colourDropped(p.Image, skew, 0, g.Bounds())
			})
		})
	}
}

// BenchmarkReleaseMemory is the child's memory release after each page
// (releaseMemory: a forced collection, the heap's free pages and malloc's
// given back), with the cost of faulting the memory in again on the next
// page: each op makes and fills the Go buffers of a 300 dpi A4 page (its
// decoded pixels, the grey, turned and BMP copies), then releases or not.
func BenchmarkReleaseMemory(b *testing.B) {
	const pagePixels = 2480 * 3508
	page := func() {
		for _, n := range []int{pagePixels * 3 / 2, pagePixels, pagePixels, pagePixels} {
			buf := make([]byte, n)
			for i := 0; i < len(buf); i += 4096 {
				buf[i] = 1
			}
		}
	}
	for _, release := range []bool{false, true} {
		name := "kept"
		if release {
			name = "released"
		}
		b.Run(name, func(b *testing.B) {
			cpuLoop(b, func() {
				page()
				if release {
					releaseMemory()
				}
			})
		})
	}
}
