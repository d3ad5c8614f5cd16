package signing_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// Raster comparison tolerances. A rasteriser may move the page by a pixel
// or shade anti-aliasing differently; one changed digit of the stamp at
// 60 dpi already changes about a dozen pixels by far more.
const (
	// rasterLumaTol is the largest luminance difference (0-255) that still
	// counts as the same pixel.
	rasterLumaTol = 64
	// rasterMaxBad is how many pixels may differ by more.
	rasterMaxBad = 8
)

// compareRaster reports whether got and want show the same page: the same
// size and, once got is aligned on want (the best of the offsets of at most
// one pixel), at most rasterMaxBad pixels differing by more than
// rasterLumaTol in luminance. A page moved by a pixel or shaded slightly
// differently passes; a changed digit, a moved stamp or a missing mark
// fails.
func compareRaster(got, want image.Image) error {
	if got.Bounds().Size() != want.Bounds().Size() {
		return fmt.Errorf("size %v, want %v", got.Bounds().Size(), want.Bounds().Size())
	}
	g, w := luma(got), luma(want)
	best, bestBox, bestOff := -1, image.Rectangle{}, image.Point{}
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			n, box := differing(g, w, image.Pt(dx, dy))
			if best < 0 || n < best {
				best, bestBox, bestOff = n, box, image.Pt(dx, dy)
			}
		}
	}
	if best > rasterMaxBad {
		return fmt.Errorf("%d of %d pixels differ by more than %d in luminance (allowed %d), within %v, at the best offset %v",
			best, g.Bounds().Dx()*g.Bounds().Dy(), rasterLumaTol, rasterMaxBad, bestBox, bestOff)
	}
	return nil
}

// luma converts img to 8-bit grey with bounds starting at (0, 0).
func luma(img image.Image) *image.Gray {
	b := img.Bounds()
	out := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	return out
}

// differing counts the pixels of a that differ by more than rasterLumaTol
// from the pixel of b at offset off (pixels of a whose counterpart falls
// outside b are not compared); box bounds them.
func differing(a, b *image.Gray, off image.Point) (n int, box image.Rectangle) {
	r := a.Bounds().Intersect(b.Bounds().Sub(off))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			d := int(a.GrayAt(x, y).Y) - int(b.GrayAt(x+off.X, y+off.Y).Y)
			if d > rasterLumaTol || d < -rasterLumaTol {
				n++
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return n, box
}

// TestCompareRaster: the comparator passes the golden against itself and
// against small rendering noise, and fails it against material changes.
func TestCompareRaster(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "sample_eresult.png"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	base := luma(golden)
	b := base.Bounds()
	edit := func(f func(m *image.Gray)) image.Image {
		m := image.NewGray(b)
		copy(m.Pix, base.Pix)
		f(m)
		return m
	}
	// shift moves the page by (dx, dy), repeating the edge pixels.
	shift := func(dx, dy int) image.Image {
		return edit(func(m *image.Gray) {
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					sx, sy := min(max(x-dx, b.Min.X), b.Max.X-1), min(max(y-dy, b.Min.Y), b.Max.Y-1)
					m.SetGray(x, y, base.GrayAt(sx, sy))
				}
			}
		})
	}
	blank := func(r image.Rectangle) image.Image {
		return edit(func(m *image.Gray) { draw.Draw(m, r, &image.Uniform{color.White}, image.Point{}, draw.Src) })
	}
	// stray flips n isolated pixels between dark and light.
	stray := func(n int) image.Image {
		return edit(func(m *image.Gray) {
			for i := range n {
				x, y := 100+i*13, 300+i*7
				v := uint8(255)
				if m.GrayAt(x, y).Y > 127 {
					v = 0
				}
				m.SetGray(x, y, color.Gray{Y: v})
			}
		})
	}
	// The QR code and the stamp in the band above the scan (60 dpi).
	qr := image.Rect(8, 8, 62, 62)
	stamp := image.Rect(b.Max.X-192, 4, b.Max.X-8, 80)
	tests := []struct {
		name string
		got  image.Image
		ok   bool
	}{
		{"identical", golden, true},
		{"one pixel right", shift(1, 0), true},
		{"one pixel down and left", shift(-1, 1), true},
		{"a few stray pixels", stray(rasterMaxBad), true},
		{"slightly lighter", edit(func(m *image.Gray) {
			for i, v := range m.Pix {
				m.Pix[i] = uint8(min(255, int(v)+30))
			}
		}), true},
		{"three pixels right", shift(3, 0), false},
		{"ten pixels down", shift(0, 10), false},
		{"QR code blanked", blank(qr), false},
		{"stamp blanked", blank(stamp), false},
		{"one stamp line blanked", blank(image.Rect(stamp.Min.X, 20, stamp.Max.X, 28)), false},
		{"one word of the stamp blanked", blank(image.Rect(stamp.Min.X+4, 18, stamp.Min.X+40, 30)), false},
		{"one stray pixel too many", stray(rasterMaxBad + 1), false},
		{"a glyph-sized mark added", edit(func(m *image.Gray) {
			draw.Draw(m, image.Rect(200, 700, 206, 708), &image.Uniform{color.Black}, image.Point{}, draw.Src)
		}), false},
		{"inverted", edit(func(m *image.Gray) {
			for i, v := range m.Pix {
				m.Pix[i] = 255 - v
			}
		}), false},
		{"other size", image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()-1)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := compareRaster(tc.got, golden)
			if (err == nil) != tc.ok {
				t.Errorf("compareRaster = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
