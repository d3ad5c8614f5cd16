package ocr

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuLoop runs f in b's loop and reports the process's CPU time (user +
// system) per call as cpu-ns/op, the better guide on a shared machine.
func cpuLoop(b *testing.B, f func()) {
	b.Helper()
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPage is page 1 of the dev corpus's scan name, opened as a file
// is.
func benchPage(b *testing.B, name string) PageImage {
	b.Helper()
	f := filepath.Join(inputCorpusDir(b, "dev"), name)
	data, err := os.ReadFile(f)
	if err != nil {
		b.Fatal(err)
	}
	pages, err := Open(context.Background(), data, f, DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	return pages[0]
}

// benchGray is page 1 of a 300 dpi grey JPEG of the dev corpus, in grey.
func benchGray(b *testing.B) *image.Gray {
	b.Helper()
	return Grayscale(benchPage(b, "scan_0010.jpg").Image)
}

func BenchmarkEstimateSkewPage(b *testing.B) {
	g := benchGray(b)
	cpuLoop(b, func() { EstimateSkew(g) })
}

func BenchmarkRotatePage(b *testing.B) {
	g := benchGray(b)
	cpuLoop(b, func() { Rotate(g, 0.91) })
}

func BenchmarkCleanBordersPage(b *testing.B) {
	g := Rotate(benchGray(b), 0.91)
	cpuLoop(b, func() { CleanBorders(g) })
}

func BenchmarkDownscalePage(b *testing.B) {
	g := benchGray(b)
	cpuLoop(b, func() { Downscale(g, 3) })
}

func BenchmarkInkFractionPage(b *testing.B) {
	g := benchGray(b)
	cpuLoop(b, func() { InkFraction(g) })
}

// BenchmarkEncodePagePNGBitonal is the PNG page data made for a 300 dpi
// bitonal TIFF page of the dev corpus when its file is opened.
func BenchmarkEncodePagePNGBitonal(b *testing.B) {
	page := benchPage(b, "scan_0016.tif")
	cpuLoop(b, func() {
		if _, err := encodePagePNG(page.Image); err != nil {
			b.Fatal(err)
		}
	})
}
