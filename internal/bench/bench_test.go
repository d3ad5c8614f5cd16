package bench

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"testing"
	"time"

	"sohoa/ocr"
	"sohoa/ocr/tesseract"
)

func TestParseStages(t *testing.T) {
	f, err := os.Open("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := parseStages(f)
	if err != nil {
		t.Fatal(err)
	}
	want := stageSums{"osd": {Sum: 1.25, Count: 4, CPU: 1.1}, "signing": {Sum: 0.5, Count: 2}}
	if len(got) != len(want) || got["osd"] != want["osd"] || got["signing"] != want["signing"] {
		t.Fatalf("parseStages = %+v, want %+v", got, want)
	}
	d := got.add(got).minus(got)
	if d["osd"] != want["osd"] {
		t.Errorf("add then minus = %+v, want %+v", d["osd"], want["osd"])
	}
}

func TestMedianAndPairedRatio(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	a := []Measure{{Wall: 10, CPU: 20}, {Wall: 30, CPU: 20}, {Wall: 12, CPU: 20}}
	b := []Measure{{Wall: 10, CPU: 10}, {Wall: 10, CPU: 10}}
	if r, n := pairedRatio(a, b, false); r != 2 || n != 2 {
		t.Errorf("paired wall ratio = %v over %d rounds, want 2 over 2 (the third has no pair)", r, n)
	}
	if r, _ := pairedRatio(a, b, true); r != 2 {
		t.Errorf("paired CPU ratio = %v, want 2", r)
	}
}

// TestChildBusy: the children's busy share is their page time over their
// number times the wall time, the median over rounds that know both.
func TestChildBusy(t *testing.T) {
	busy := func(sum float64) stageSums {
		return stageSums{tesseract.StageChildBusy: {Sum: sum, Count: 4}}
	}
	tests := []struct {
		name string
		in   []Measure
		want float64
	}{
		{"none", nil, 0},
		{"children unknown", []Measure{{Wall: 10, Stages: busy(15)}}, 0},
		{"one round", []Measure{{Wall: 10, Children: 2, Stages: busy(15)}}, 0.75},
		{"median", []Measure{{Wall: 10, Children: 2, Stages: busy(10)}, {Wall: 10, Children: 2, Stages: busy(18)}, {Wall: 20, Children: 2, Stages: busy(32)}}, 0.8},
	}
	for _, tt := range tests {
		if got := childBusy(tt.in); got != tt.want {
			t.Errorf("%s: childBusy = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestGeneratedDossiersOpen: the generated PDFs are what the pipeline
// reads: every page, at the generated size and resolution.
func TestGeneratedDossiersOpen(t *testing.T) {
	page := image.NewRGBA(image.Rect(0, 0, genWidth, genHeight))
	for y := 0; y < genHeight; y++ {
		for x := 0; x < genWidth; x++ {
			c := uint8(255)
			if (x/40+y/40)%2 == 0 {
				c = 0
			}
			page.SetRGBA(x, y, color.RGBA{c, c, c, 255})
		}
	}
	col, err := colourPDF([]*image.RGBA{page}, 3, 40, "a")
	if err != nil {
		t.Fatal(err)
	}
	for name, pdf := range map[string][]byte{"colour": col, "bitonal": bitonalPDF([]*image.RGBA{page}, 3, "a")} {
		pages, err := ocr.Open(context.Background(), pdf, name+".pdf", ocr.DefaultLimits())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(pages) != 3 {
			t.Fatalf("%s: %d pages, want 3", name, len(pages))
		}
		for _, p := range pages {
			if b := p.Image.Bounds(); b.Dx() != genWidth || b.Dy() != genHeight || p.DPI != genDPI {
				t.Errorf("%s page %d: %v at %v dpi, want %dx%d at %d", name, p.Number, b, p.DPI, genWidth, genHeight, genDPI)
			}
		}
	}
	other, _ := colourPDF([]*image.RGBA{page}, 3, 40, "b")
	if bytes.Equal(col, other) {
		t.Error("dossiers of another tag have the same bytes (the same input key)")
	}
}

func TestWithPNGDPI(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	out := withPNGDPI(b.Bytes(), 300)
	if !bytes.Contains(out, []byte("pHYs")) {
		t.Fatal("no pHYs chunk added")
	}
	if _, err := png.Decode(bytes.NewReader(out)); err != nil {
		t.Fatalf("PNG with pHYs does not decode: %v", err)
	}
	if got := withPNGDPI(out, 200); !bytes.Equal(got, out) {
		t.Error("a second pHYs chunk was added")
	}
}

func TestBarChart(t *testing.T) {
	img := drawBarChart("t", []bar{{"a", 1}, {"b", 2}}, "%.1f")
	if b := img.Bounds(); b.Dx() != chartWidth || b.Dy() != chartTop+2*chartRowH+20 {
		t.Fatalf("chart is %v", b)
	}
	// The longer bar reaches further right than the shorter one.
	row := func(i int) int {
		y := chartTop + i*chartRowH + chartRowH/2
		n := 0
		for x := chartLabelW; x < chartWidth; x++ {
			if r, g, bb, _ := img.At(x, y).RGBA(); r>>8 == 0x2b && g>>8 == 0x6c && bb>>8 == 0xb0 {
				n++
			}
		}
		return n
	}
	if a, b := row(0), row(1); a <= 0 || b <= a {
		t.Errorf("bar lengths %d, %d; want 0 < first < second", a, b)
	}
}

// TestSampleMem: the sampler sees this process's memory, and stopping it
// twice (a deferred stop after the measured one) returns the same.
func TestSampleMem(t *testing.T) {
	stop := sampleMem(10*time.Millisecond, os.Getpid())
	first := stop()
	if first.RSS <= 0 || first.PSS <= 0 {
		t.Fatalf("got %+v, want this process's memory", first)
	}
	if again := stop(); again != first {
		t.Errorf("second stop %+v, want %+v", again, first)
	}
}
