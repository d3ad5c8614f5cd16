package signing_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os/exec"
	"strings"
	"testing"

	"sohoa/internal/testenv"
	"sohoa/signing"
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
			in.Pages = []signing.Page{{Image: tc.img, DPI: 72, Rotation: tc.rot, Words: []signing.Word{
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

// TestRenderErrors: input that cannot be rendered wraps ErrRender (the same
// input fails again); a cancelled context does not.
func TestRenderErrors(t *testing.T) {
	r := newRenderer(t)
	base := loadSample(t, corpusSamples(t)[0])
	noPages := base.in
	noPages.Pages = nil
	badMeta := base.in
	badMeta.Meta.ResultCode = ""
	badImage := base.in
	badImage.Pages = []signing.Page{{Data: []byte("not an image"), DPI: 300}}
	for name, in := range map[string]signing.RenderInput{"no pages": noPages, "metadata": badMeta, "image": badImage} {
		if _, err := r.Render(context.Background(), in); !errors.Is(err, signing.ErrRender) {
			t.Errorf("%s: got %v, want ErrRender", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Render(ctx, base.in); !errors.Is(err, context.Canceled) || errors.Is(err, signing.ErrRender) {
		t.Errorf("cancelled: got %v, want context.Canceled without ErrRender", err)
	}
}
