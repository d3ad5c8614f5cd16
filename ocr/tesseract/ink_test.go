package tesseract

import (
	"image"
	"image/color"
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
