package tesseract

import (
	"bytes"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"

	"sohoa/ocr"
)

func TestInkLevel(t *testing.T) {
	tests := []struct {
		name    string
		r, g, b uint8
		want    uint8
	}{
		{"seal red", 210, 40, 45, 210},
		{"seal red over warm paper", 235, 150, 140, 235},
		{"black text", 20, 20, 25, ocr.Luma(20, 20, 25)},
		{"blue pen", 40, 50, 160, ocr.Luma(40, 50, 160)},
		{"white paper", 245, 245, 240, ocr.Luma(245, 245, 240)},
		{"cream paper", 240, 225, 200, ocr.Luma(240, 225, 200)}, // a tint, not ink
		{"dark red ink stays dark", 90, 30, 30, 90},
	}
	for _, tt := range tests {
		if got := sealLevel(ocr.Luma(tt.r, tt.g, tt.b), tt.r, tt.g, tt.b); got != tt.want {
			t.Errorf("%s: sealLevel(%d,%d,%d): got %d, want %d", tt.name, tt.r, tt.g, tt.b, got, tt.want)
		}
	}
}

// TestInkGray: on a colour page the red seal goes light while black text
// stays dark; every decoded colour type gives the same levels, and a gray
// page is left as it is.
func TestInkGray(t *testing.T) {
	red := color.RGBA{R: 200, G: 30, B: 30, A: 255}
	black := color.RGBA{R: 15, G: 15, B: 15, A: 255}
	rgba := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for x := 0; x < 4; x++ {
		rgba.Set(x, 0, red)
		rgba.Set(x, 1, black)
	}
	nrgba := image.NewNRGBA(rgba.Bounds())
	ycc := image.NewYCbCr(rgba.Bounds(), image.YCbCrSubsampleRatio444)
	for y := 0; y < 2; y++ {
		for x := 0; x < 4; x++ {
			c := rgba.RGBAAt(x, y)
			nrgba.Set(x, y, c)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			ycc.Y[ycc.YOffset(x, y)], ycc.Cb[ycc.COffset(x, y)], ycc.Cr[ycc.COffset(x, y)] = yy, cb, cr
		}
	}
	for _, img := range []image.Image{rgba, nrgba, ycc} {
		g := inkGray(img)
		if v := g.GrayAt(1, 0).Y; v < 180 {
			t.Errorf("%T: seal pixel: got %d, want >= 180 (light)", img, v)
		}
		if v := g.GrayAt(1, 1).Y; v > 40 {
			t.Errorf("%T: text pixel: got %d, want <= 40 (dark)", img, v)
		}
	}
	gray := image.NewGray(image.Rect(0, 0, 2, 2))
	gray.Pix[0] = 77
	if g := inkGray(gray); g.GrayAt(0, 0).Y != 77 {
		t.Errorf("gray page: got %d, want 77 unchanged", g.GrayAt(0, 0).Y)
	}
}

// TestInkGrayYCbCrMatchesRows checks the YCbCr path of inkGray pixel for
// pixel against the pixel-by-pixel one, on pages of random colour and of
// every chroma subsampling, including sub-images and odd sizes.
func TestInkGrayYCbCrMatchesRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ratios := []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	}
	for _, ratio := range ratios {
		for _, r := range []image.Rectangle{image.Rect(0, 0, 97, 61), image.Rect(0, 0, 64, 64), image.Rect(3, 5, 40, 31)} {
			m := image.NewYCbCr(r, ratio)
			for i := range m.Y {
				m.Y[i] = uint8(rng.IntN(256))
			}
			for i := range m.Cb {
				// Red-ish chroma half of the time, any the other half.
				if rng.IntN(2) == 0 {
					m.Cb[i], m.Cr[i] = uint8(60+rng.IntN(80)), uint8(150+rng.IntN(106))
				} else {
					m.Cb[i], m.Cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
				}
			}
			imgs := []*image.YCbCr{m, m.SubImage(image.Rect(r.Min.X+1, r.Min.Y+3, r.Max.X-2, r.Max.Y-1)).(*image.YCbCr)}
			for _, im := range imgs {
				got, want := inkGray(im), inkGrayRows(im)
				if got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
					t.Errorf("ratio %v, bounds %v: inkGray differs from the pixel-by-pixel conversion", ratio, im.Bounds())
				}
			}
		}
	}
	// Every chroma pair: maybeRed is never false for a red pixel.
	for cb := 0; cb < 256; cb++ {
		for cr := 0; cr < 256; cr++ {
			if maybeRed(uint8(cb), uint8(cr)) {
				continue
			}
			for y := 0; y < 256; y++ {
				r, g, b := color.YCbCrToRGB(uint8(y), uint8(cb), uint8(cr))
				if int(r)-int(max(g, b)) >= redMargin {
					t.Fatalf("maybeRed(%d, %d) = false, but Y %d gives red ink (%d, %d, %d)", cb, cr, y, r, g, b)
				}
			}
		}
	}
}
