package ocr

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// preTruth is the part of a corpus truth file the preprocessing tests use.
type preTruth struct {
	Pages []struct {
		Page     int `json:"page"`
		Rotation struct {
			SkewDeg        float64 `json:"skew_deg"`
			OrientationDeg int     `json:"orientation_deg"`
		} `json:"rotation"`
	} `json:"pages"`
}

// preStripes draws horizontal black "text lines" on white.
func preStripes(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	for y := h / 10; y < h*9/10; y += 40 {
		for dy := 0; dy < 8; dy++ {
			for x := w / 8; x < w*7/8; x++ {
				if (x/23)%5 != 4 { // word gaps
					g.Pix[(y+dy)*g.Stride+x] = 0
				}
			}
		}
	}
	return g
}

func TestEstimateSkewSynthetic(t *testing.T) {
	base := preStripes(1200, 1600)
	for _, deg := range []float64{0, 0.7, -1.5, 2.4, -3.3, 4.5} {
		got := EstimateSkew(Rotate(base, deg))
		if math.Abs(got-deg) > 0.15 {
			t.Errorf("EstimateSkew(rotated %g°) = %g, want %g ± 0.15", deg, got, deg)
		}
	}
	if got := EstimateSkew(preStripes(1200, 1600)); got != 0 {
		t.Errorf("EstimateSkew(straight) = %g, want 0", got)
	}
	blank := image.NewGray(image.Rect(0, 0, 800, 1000))
	for i := range blank.Pix {
		blank.Pix[i] = 250
	}
	if got := EstimateSkew(blank); got != 0 {
		t.Errorf("EstimateSkew(blank) = %g, want 0", got)
	}
}

func TestRotateQuarter(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(g.Pix, []uint8{1, 2, 3, 4, 5, 6})
	tests := []struct {
		deg  int
		w, h int
		want []uint8
	}{
		{0, 3, 2, []uint8{1, 2, 3, 4, 5, 6}},
		{90, 2, 3, []uint8{4, 1, 5, 2, 6, 3}},
		{180, 3, 2, []uint8{6, 5, 4, 3, 2, 1}},
		{270, 2, 3, []uint8{3, 6, 2, 5, 1, 4}},
		{-90, 2, 3, []uint8{3, 6, 2, 5, 1, 4}},
	}
	for _, tt := range tests {
		got := RotateQuarter(g, tt.deg)
		if got.Bounds().Dx() != tt.w || got.Bounds().Dy() != tt.h {
			t.Errorf("RotateQuarter(%d) size %v, want %dx%d", tt.deg, got.Bounds(), tt.w, tt.h)
			continue
		}
		if string(got.Pix) != string(tt.want) {
			t.Errorf("RotateQuarter(%d) = %v, want %v", tt.deg, got.Pix, tt.want)
		}
	}
	if got := RotateQuarter(RotateQuarter(g, 90), 270); string(got.Pix) != string(g.Pix) {
		t.Errorf("90 then 270 = %v, want identity %v", got.Pix, g.Pix)
	}
}

func TestInkFraction(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 1200, 1600))
	for i := range blank.Pix {
		blank.Pix[i] = uint8(235 + i%7) // paper noise
	}
	if got := InkFraction(blank); got > 0.001 {
		t.Errorf("InkFraction(blank) = %g, want ≤ 0.001", got)
	}
	if got := InkFraction(preStripes(1200, 1600)); got < 0.02 {
		t.Errorf("InkFraction(text) = %g, want ≥ 0.02", got)
	}
}

// TestEstimateSkewCorpus compares EstimateSkew with the truth skew of every
// dev corpus page (the truth is used here only).
func TestEstimateSkewCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes the whole dev corpus")
	}
	dir := inputCorpusDir(t, "dev")
	truths, err := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if err != nil || len(truths) == 0 {
		t.Fatalf("no truth files in %s: %v", dir, err)
	}
	sort.Strings(truths)
	var errs []float64
	for _, tp := range truths {
		raw, err := os.ReadFile(tp)
		if err != nil {
			t.Fatal(err)
		}
		var tr preTruth
		if err := json.Unmarshal(raw, &tr); err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(tp), ".truth.json")
		scans, _ := filepath.Glob(filepath.Join(dir, base+".*"))
		var scanPath string
		for _, s := range scans {
			if !strings.HasSuffix(s, ".json") {
				scanPath = s
			}
		}
		data, err := os.ReadFile(scanPath)
		if err != nil {
			t.Fatal(err)
		}
		pages, err := Open(context.Background(), data, scanPath, DefaultLimits())
		if err != nil {
			t.Fatalf("Open(%s): %v", scanPath, err)
		}
		for i, p := range pages {
			want := tr.Pages[i].Rotation.SkewDeg
			g := Grayscale(p.Image)
			got := EstimateSkew(g)
			if ref := estimateSkewReference(g); got != ref {
				t.Errorf("%s page %d: EstimateSkew = %g, its first version %g", base, i+1, got, ref)
			}
			errs = append(errs, math.Abs(got-want))
			if math.Abs(got-want) > 0.3 {
				t.Errorf("%s page %d: EstimateSkew = %.2f, want %.2f ± 0.3", base, i+1, got, want)
			}
		}
	}
	sort.Float64s(errs)
	var sum float64
	for _, e := range errs {
		sum += e
	}
	t.Logf("skew error over %d pages: mean %.3f°, median %.3f°, max %.3f°",
		len(errs), sum/float64(len(errs)), errs[len(errs)/2], errs[len(errs)-1])
}

func BenchmarkEstimateSkew(b *testing.B) {
	g := Rotate(preStripes(2480, 3508), 1.7)
	b.ResetTimer()
	for b.Loop() {
		EstimateSkew(g)
	}
}

func TestCleanBorders(t *testing.T) {
	page := preStripes(1000, 1400)
	if got := CleanBorders(page); got != page {
		t.Errorf("CleanBorders(clean page) returned a copy, want the page itself")
	}
	dirty := Rotate(page, 0) // a copy
	// A lid-shadow band along the bottom (40 rows, 80% dark) and a black
	// margin on the left (15 columns).
	for y := 1400 - 40; y < 1400; y++ {
		for x := 0; x < 1000; x++ {
			if (x+y)%5 != 0 {
				dirty.Pix[y*dirty.Stride+x] = 0
			}
		}
	}
	for y := 0; y < 1400; y++ {
		for x := 0; x < 15; x++ {
			dirty.Pix[y*dirty.Stride+x] = 0
		}
	}
	got := CleanBorders(dirty)
	for y := 0; y < 1400; y++ {
		for x := 0; x < 1000; x++ {
			want := page.Pix[y*page.Stride+x]
			if x < 15 || y >= 1400-40 {
				want = 255
			}
			if v := got.Pix[y*got.Stride+x]; v != want {
				t.Fatalf("pixel (%d,%d) = %d, want %d", x, y, v, want)
			}
		}
	}
	if dirty.Pix[(1399)*dirty.Stride+1] != 0 {
		t.Errorf("CleanBorders modified its input")
	}
}

func TestColourDropped(t *testing.T) {
	page := func(mark color.RGBA, markRows int) *image.RGBA {
		im := image.NewRGBA(image.Rect(0, 0, 100, 100))
		for y := 0; y < 100; y++ {
			for x := 0; x < 100; x++ {
				c := color.RGBA{245, 245, 240, 255} // paper
				switch {
				case y < markRows && x < 50:
					c = mark
				case x >= 60 && x < 70:
					c = color.RGBA{20, 20, 25, 255} // black print
				}
				im.SetRGBA(x, y, c)
			}
		}
		return im
	}
	red := color.RGBA{200, 40, 50, 255}
	tests := []struct {
		name      string
		img       image.Image
		wantNil   bool
		x, y      int
		wantLevel uint8
	}{
		{"grey page", image.NewGray(image.Rect(0, 0, 50, 50)), true, 0, 0, 0},
		{"colour page without coloured marks", page(color.RGBA{120, 120, 118, 255}, 30), true, 0, 0, 0},
		{"red stamp paled", page(red, 30), false, 10, 10, 200},
		{"black print kept", page(red, 30), false, 65, 50, 25},
		{"paper kept", page(red, 30), false, 80, 80, 245},
		{"blue pen paled", page(color.RGBA{30, 40, 190, 255}, 30), false, 10, 10, 190},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ColourDropped(tt.img)
			if (got == nil) != tt.wantNil {
				t.Fatalf("nil: got %v, want %v", got == nil, tt.wantNil)
			}
			if got == nil {
				return
			}
			if v := got.GrayAt(tt.x, tt.y).Y; v != tt.wantLevel {
				t.Errorf("level at (%d,%d): got %d, want %d", tt.x, tt.y, v, tt.wantLevel)
			}
		})
	}
}

// TestColourRows: every row gives each pixel's 8-bit RGB as the point
// reader reads it, and the luminance the colour passes use: a YCbCr page's
// Y, else the luma of its RGB; sub-images start at their own origin.
func TestColourRows(t *testing.T) {
	ycc := image.NewYCbCr(image.Rect(1, 2, 41, 33), image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(i * 7)
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(i*3), uint8(200-i)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 23, 17))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 5)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 9, 4), color.Palette{color.RGBA{200, 10, 10, 255}, color.Black})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 2)
	}
	tests := []struct {
		name string
		img  image.Image
	}{
		{"ycbcr 4:2:0", ycc},
		{"ycbcr sub-image", ycc.SubImage(image.Rect(6, 9, 30, 21))},
		{"rgba", rgba},
		{"rgba sub-image", rgba.SubImage(image.Rect(3, 4, 20, 15))},
		{"paletted", pal},
	}
	for _, tt := range tests {
		b := tt.img.Bounds()
		px := RGBAt(tt.img)
		rows := 0
		ColourRows(tt.img, func(y int, lum, r, g, bl []uint8) {
			if y != rows || len(lum) != b.Dx() {
				t.Fatalf("%s: row %d of width %d, want row %d of width %d", tt.name, y, len(lum), rows, b.Dx())
			}
			rows++
			for x := range lum {
				wr, wg, wb := px(b.Min.X+x, b.Min.Y+y)
				wl := Luma(wr, wg, wb)
				if src, ok := tt.img.(*image.YCbCr); ok {
					wl = src.Y[src.YOffset(b.Min.X+x, b.Min.Y+y)]
				}
				if r[x] != wr || g[x] != wg || bl[x] != wb || lum[x] != wl {
					t.Fatalf("%s: (%d,%d) = lum %d rgb %d,%d,%d; want %d, %d,%d,%d", tt.name, x, y, lum[x], r[x], g[x], bl[x], wl, wr, wg, wb)
				}
			}
		})
		if rows != b.Dy() {
			t.Errorf("%s: %d rows, want %d", tt.name, rows, b.Dy())
		}
	}
}

// rotateReference is Rotate as first written, per pixel: the reference the
// faster Rotate must match pixel for pixel.
func rotateReference(g *image.Gray, deg float64) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(image.Rect(0, 0, w, h))
	rad := deg * math.Pi / 180
	cos, sin := math.Cos(rad), math.Sin(rad)
	cx, cy := float64(w-1)/2, float64(h-1)/2
	sample := func(x, y float64) uint8 {
		x0, y0 := int(math.Floor(x)), int(math.Floor(y))
		if x0 < 0 || y0 < 0 || x0+1 >= w || y0+1 >= h {
			if x0 >= 0 && y0 >= 0 && x0 < w && y0 < h {
				return g.Pix[y0*g.Stride+x0]
			}
			return 255
		}
		fx, fy := x-float64(x0), y-float64(y0)
		p := g.Pix[y0*g.Stride+x0:]
		q := g.Pix[(y0+1)*g.Stride+x0:]
		top := float64(p[0])*(1-fx) + float64(p[1])*fx
		bot := float64(q[0])*(1-fx) + float64(q[1])*fx
		return uint8(top*(1-fy) + bot*fy + 0.5)
	}
	for y := 0; y < h; y++ {
		dy := float64(y) - cy
		for x := 0; x < w; x++ {
			dx := float64(x) - cx
			out.Pix[y*out.Stride+x] = sample(cx+dx*cos-dy*sin, cy+dx*sin+dy*cos)
		}
	}
	return out
}

// TestRotateMatchesReference checks Rotate pixel for pixel against the
// per-pixel reference, on a noisy page of odd and even sizes, at the
// angles deskewing uses and a few beyond.
func TestRotateMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []image.Point{{301, 417}, {400, 300}, {2, 2}, {1, 5}} {
		g := image.NewGray(image.Rect(0, 0, size.X, size.Y))
		for i := range g.Pix {
			g.Pix[i] = uint8(rng.IntN(256))
		}
		for _, deg := range []float64{0.05, -0.05, 0.59, -1.95, 2.81, -5, 5, 17.3, -90, 180} {
			got, want := Rotate(g, deg), rotateReference(g, deg)
			if !bytes.Equal(got.Pix, want.Pix) {
				n := 0
				for i := range got.Pix {
					if got.Pix[i] != want.Pix[i] {
						n++
					}
				}
				t.Errorf("Rotate(%v, %g): %d of %d pixels differ from the reference", size, deg, n, len(got.Pix))
			}
		}
	}
}

// downscaleReference is downscaleGray as first written, a box at a time.
func downscaleReference(g *image.Gray, factor int) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx()/factor, b.Dy()/factor
	out := image.NewGray(image.Rect(0, 0, w, h))
	area := factor * factor
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sum := 0
			for dy := 0; dy < factor; dy++ {
				row := g.Pix[(y*factor+dy)*g.Stride+x*factor:]
				for dx := 0; dx < factor; dx++ {
					sum += int(row[dx])
				}
			}
			out.Pix[y*out.Stride+x] = uint8(sum / area)
		}
	}
	return out
}

func TestDownscaleMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []image.Point{{301, 417}, {400, 300}, {7, 5}, {2, 9}} {
		g := image.NewGray(image.Rect(0, 0, size.X, size.Y))
		for i := range g.Pix {
			g.Pix[i] = uint8(rng.IntN(256))
		}
		g.Pix[0], g.Pix[1] = 255, 255 // a box of the brightest sums
		for _, f := range []int{2, 3, 4, 5, 8} {
			got, want := downscaleGray(g, f), downscaleReference(g, f)
			if got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("downscaleGray(%v, %d) differs from the reference", size, f)
			}
		}
	}
}

// TestCleanBordersMatchesReference checks CleanBorders and
// CleanBordersInPlace against CleanBorders as first written, on noisy
// pages with dark bands of random widths along random edges.
func TestCleanBordersMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	cleaned := 0
	for i := 0; i < 40; i++ {
		w, h := 20+rng.IntN(300), 20+rng.IntN(300)
		g := image.NewGray(image.Rect(0, 0, w, h))
		for j := range g.Pix {
			g.Pix[j] = uint8(150 + rng.IntN(106))
			if rng.IntN(20) == 0 {
				g.Pix[j] = uint8(rng.IntN(60)) // print
			}
		}
		dark := func(x, y int) {
			if rng.IntN(10) < 8 {
				g.Pix[y*g.Stride+x] = uint8(rng.IntN(50))
			}
		}
		for edge := 0; edge < 4; edge++ {
			if rng.IntN(2) == 0 {
				continue
			}
			n := rng.IntN(max(1, w/15))
			for y := 0; y < h; y++ {
				for k := 0; k < n; k++ {
					switch edge {
					case 0:
						dark(k, y)
					case 1:
						dark(w-1-k, y)
					}
				}
			}
			m := rng.IntN(max(1, h/15))
			for x := 0; x < w; x++ {
				for k := 0; k < m; k++ {
					switch edge {
					case 2:
						dark(x, k)
					case 3:
						dark(x, h-1-k)
					}
				}
			}
		}
		want := cleanBordersReference(g)
		if want != g {
			cleaned++
		}
		if got := CleanBorders(g); got.Rect != want.Rect || !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("page %d (%d×%d): CleanBorders differs from the reference", i, w, h)
		}
		cp := Rotate(g, 0)
		if got := CleanBordersInPlace(cp); got != cp || !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("page %d (%d×%d): CleanBordersInPlace differs from the reference", i, w, h)
		}
	}
	if cleaned < 10 {
		t.Errorf("only %d of 40 pages had a band to clean", cleaned)
	}
}

// cleanBordersReference is CleanBorders as first written, a pixel at a
// time through a closure and columns read down the page.
func cleanBordersReference(g *image.Gray) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 20 || h < 20 {
		return g
	}
	t := otsuThreshold(downscaleGray(g, max(1, w/800)))
	at := func(x, y int) uint8 { return g.Pix[(y+b.Min.Y-g.Rect.Min.Y)*g.Stride+x+b.Min.X-g.Rect.Min.X] }
	rowDark := func(y int) bool {
		n := 0
		for x := 0; x < w; x++ {
			if at(x, y) < t {
				n++
			}
		}
		return float64(n) > borderDark*float64(w)
	}
	colDark := func(x int) bool {
		n := 0
		for y := 0; y < h; y++ {
			if at(x, y) < t {
				n++
			}
		}
		return float64(n) > borderDark*float64(h)
	}
	zy, zx := int(borderZone*float64(h)), int(borderZone*float64(w))
	// The last dark row/column of each edge band; the band is whitened
	// up to it, so a band broken by a few lighter lines is still removed.
	top, bottom, left, right := 0, h, 0, w
	for y := 0; y < zy; y++ {
		if rowDark(y) {
			top = y + 1
		}
	}
	for y := h - 1; y >= h-zy; y-- {
		if rowDark(y) {
			bottom = y
		}
	}
	for x := 0; x < zx; x++ {
		if colDark(x) {
			left = x + 1
		}
	}
	for x := w - 1; x >= w-zx; x-- {
		if colDark(x) {
			right = x
		}
	}
	if top == 0 && bottom == h && left == 0 && right == w {
		return g
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		row := out.Pix[y*out.Stride : y*out.Stride+w]
		if y < top || y >= bottom {
			for x := range row {
				row[x] = 255
			}
			continue
		}
		for x := 0; x < w; x++ {
			if x < left || x >= right {
				row[x] = 255
			} else {
				row[x] = at(x, y)
			}
		}
	}
	return out
}

// estimateSkewReference is EstimateSkew as first written.
func estimateSkewReference(g *image.Gray) float64 {
	b := g.Bounds()
	factor := max(1, b.Dx()/800)
	small := downscaleReference(g, factor)
	t := otsuThreshold(small)
	sb := small.Bounds()
	// Ink pixels, ignoring a margin where scanner borders and shadows live.
	mx, my := sb.Dx()/20, sb.Dy()/20
	var xs, ys []float64
	for y := my; y < sb.Dy()-my; y++ {
		row := small.Pix[y*small.Stride:]
		for x := mx; x < sb.Dx()-mx; x++ {
			if row[x] < t {
				xs = append(xs, float64(x))
				ys = append(ys, float64(y))
			}
		}
	}
	n := len(xs)
	if n < 200 || float64(n) > 0.5*float64(sb.Dx()*sb.Dy()) {
		return 0
	}
	height := sb.Dy()
	width := sb.Dx()
	score := func(deg float64) float64 {
		tan := math.Tan(deg * math.Pi / 180)
		off := float64(width) * MaxSkew / 45 // |x·tan| bound, keeps bins positive
		bins := make([]int, height+2*int(off)+2)
		for i := range xs {
			k := int(ys[i] + xs[i]*tan + off)
			if k >= 0 && k < len(bins) {
				bins[k]++
			}
		}
		var s float64
		for _, c := range bins {
			s += float64(c) * float64(c)
		}
		return s
	}
	return bestSkew(score)
}

// TestEstimateSkewMatchesReference checks EstimateSkew against its first
// version on striped pages turned by angles within and beyond the search,
// with speckle.
func TestEstimateSkewMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	base := preStripes(1300, 1800)
	for _, deg := range []float64{0, 0.04, 0.3, -0.7, 1.7, -2.95, 4.9, -6} {
		g := Rotate(base, deg)
		for i := 0; i < 2000; i++ {
			g.Pix[rng.IntN(len(g.Pix))] = uint8(rng.IntN(80))
		}
		if got, want := EstimateSkew(g), estimateSkewReference(g); got != want {
			t.Errorf("turned %g°: EstimateSkew = %g, the reference %g", deg, got, want)
		}
	}
}

// TestColourDroppedPageRegion checks that every region of a
// ColourDroppedPage has the pixels of the whole page colour-dropped then
// turned, for each decoded colour type, turned or not, with regions
// inside, across the edges and outside the page.
func TestColourDroppedPageRegion(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const w, h = 203, 151
	rgba := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(rng.IntN(256))
	}
	nrgba := &image.NRGBA{Pix: rgba.Pix, Stride: rgba.Stride, Rect: rgba.Rect}
	ycc := image.NewYCbCr(rgba.Rect, image.YCbCrSubsampleRatio420)
	for i := range ycc.Y {
		ycc.Y[i] = uint8(rng.IntN(256))
	}
	for i := range ycc.Cb {
		ycc.Cb[i], ycc.Cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
	}
	// A type without SubImage: the page is made whole.
	type plain struct{ image.Image }
	imgs := []image.Image{rgba, nrgba, ycc, ycc.SubImage(image.Rect(3, 1, 200, 150)), plain{rgba}}
	for _, img := range imgs {
		for _, deg := range []float64{0, 1.7, -2.95, 30} {
			want := ColourDropped(img)
			if want == nil {
				t.Fatalf("%T: no colour", img)
			}
			if deg != 0 {
				want = Rotate(want, deg)
			}
			c := NewColourDroppedPage(img, deg)
			if c.Bounds() != want.Bounds() {
				t.Fatalf("%T, %g°: bounds %v, want %v", img, deg, c.Bounds(), want.Bounds())
			}
			rects := []image.Rectangle{want.Bounds(), image.Rect(-5, -5, 20, 10), image.Rect(190, 140, 260, 200), image.Rect(300, 300, 310, 310)}
			for i := 0; i < 20; i++ {
				x, y := rng.IntN(w), rng.IntN(h)
				rects = append(rects, image.Rect(x, y, x+1+rng.IntN(80), y+1+rng.IntN(30)))
			}
			for _, r := range rects {
				got := c.Region(r)
				if wr := r.Intersect(want.Bounds()); got.Rect != wr {
					t.Fatalf("%T, %g°: Region(%v).Rect = %v, want %v", img, deg, r, got.Rect, wr)
				}
				for y := got.Rect.Min.Y; y < got.Rect.Max.Y; y++ {
					for x := got.Rect.Min.X; x < got.Rect.Max.X; x++ {
						if g, w := got.GrayAt(x, y).Y, want.GrayAt(x, y).Y; g != w {
							t.Fatalf("%T, %g°: Region(%v) at (%d,%d) = %d, want %d", img, deg, r, x, y, g, w)
						}
					}
				}
			}
		}
	}
	if NewColourDroppedPage(image.NewGray(image.Rect(0, 0, 10, 10)), 1) != nil {
		t.Errorf("grey page: a ColourDroppedPage, want nil")
	}
}
