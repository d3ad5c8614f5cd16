package signing_test

import (
	"context"
	"image"
	"image/color"
	"os/exec"
	"strings"
	"testing"

	"sohoa/internal/testenv"
	"sohoa/ocr"
)

// TestRenderDecodedImages covers pages given only as decoded pixels (no
// encoded bytes) in bitonal, grey and colour, and a page recognised after a
// 90° rotation: each must give a well-formed PDF with the text layer.
func TestRenderDecodedImages(t *testing.T) {
	qpdf := testenv.MustHaveExecPath(t, "qpdf")
	pdftotext := testenv.MustHaveExecPath(t, "pdftotext")
	base := loadSample(t, corpusSamples(t)[0])
	mk := func(m func(x, y int) color.Color, w, h int) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				img.Set(x, y, m(x, y))
			}
		}
		return img
	}
	tests := []struct {
		name string
		img  image.Image
		rot  int
	}{
		{"bitonal", mk(func(x, y int) color.Color {
			if (x/10+y/10)%2 == 0 {
				return color.Black
			}
			return color.White
		}, 400, 560), 0},
		{"grey", mk(func(x, y int) color.Color { return color.Gray{uint8(x)} }, 400, 560), 0},
		{"colour rotated", mk(func(x, y int) color.Color { return color.RGBA{uint8(x), uint8(y), 90, 255} }, 560, 400), 90},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := base.in
			in.Images = []ocr.PageImage{{Number: 1, Image: tc.img, DPI: 72}}
			in.Pages = []ocr.Page{{Number: 1, Rotation: tc.rot, DPI: 72, Words: []ocr.Word{
				{Text: "Nguyễn", Box: image.Rect(20, 40, 80, 52)},
				{Text: "Thị", Box: image.Rect(85, 40, 110, 52)},
			}}}
			pdf, err := newRenderer(t).Render(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			f := writeTemp(t, "r.pdf", pdf)
			if out, err := exec.Command(qpdf, "--check", f).CombinedOutput(); err != nil {
				t.Errorf("qpdf --check: %v\n%s", err, out)
			}
			txt, err := exec.Command(pdftotext, "-enc", "UTF-8", f, "-").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(txt), "Nguyễn Thị") {
				t.Errorf("pdftotext: got %q, want it to contain %q", txt, "Nguyễn Thị")
			}
		})
	}
}
