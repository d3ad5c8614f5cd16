package tesseract

import (
	"image"
	"testing"

	"sohoa/ocr"
)

// TestBinariseInk checks the "ink" treatment on a synthetic crop: paper
// 235, four digit-like strokes of ink 45 crossed by a three-row band of
// stamp tint 160. The tint must drop out and the strokes survive,
// thickened by a pixel.
func TestBinariseInk(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 60, 24))
	for i := range g.Pix {
		g.Pix[i] = 235
	}
	for y := 10; y < 13; y++ {
		for x := 2; x < 58; x++ {
			g.Pix[y*g.Stride+x] = 160 // tint band
		}
	}
	for _, x0 := range []int{8, 20, 32, 44} {
		for y := 3; y < 21; y++ {
			for x := x0; x < x0+4; x++ {
				g.Pix[y*g.Stride+x] = 45 // stroke
			}
		}
	}
	tests := []struct {
		variant  string
		x, y     int
		wantInk  bool
		describe string
	}{
		{"ink", 9, 5, true, "stroke"},
		{"ink", 7, 5, true, "stroke thickened left"},
		{"ink", 12, 5, true, "stroke thickened right"},
		{"ink", 15, 11, false, "tint"},
		{"ink", 15, 5, false, "paper"},
	}
	for _, tt := range tests {
		t.Run(tt.variant+" "+tt.describe, func(t *testing.T) {
			out, changed := binarise(g, tt.variant, 8)
			if !changed {
				t.Fatal("changed: got false")
			}
			if got := out.GrayAt(tt.x, tt.y).Y == 0; got != tt.wantInk {
				t.Errorf("ink at (%d,%d): got %v, want %v", tt.x, tt.y, got, tt.wantInk)
			}
		})
	}
}

func TestStretch(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 4, 1))
	copy(g.Pix, []uint8{40, 50, 140, 240})
	out := stretch(g, otsu(g))
	// ink level 45 (40, 50), paper 190 (140, 240): 40 clips to 0, 240 to 255.
	want := []uint8{0, 9, 167, 255}
	for i, w := range want {
		if out.Pix[i] != w {
			t.Errorf("pixel %d: got %d, want %d", i, out.Pix[i], w)
		}
	}
}

func TestPadWidth(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 10, 4))
	for i := range g.Pix {
		g.Pix[i] = 230
	}
	g.Pix[1*g.Stride+5] = 20
	out := padWidth(g, 30)
	if out.Bounds().Dx() != 30 || out.Bounds().Dy() != 4 {
		t.Fatalf("size: got %v, want 30×4", out.Bounds())
	}
	if out.GrayAt(15, 1).Y != 20 {
		t.Errorf("ink not centred: got %d at (15,1)", out.GrayAt(15, 1).Y)
	}
	if out.GrayAt(0, 0).Y != 230 || out.GrayAt(29, 3).Y != 230 {
		t.Errorf("padding: got %d, %d, want the paper level 230", out.GrayAt(0, 0).Y, out.GrayAt(29, 3).Y)
	}
	if wide := padWidth(g, 5); wide != g {
		t.Error("a crop already wide enough must be returned as is")
	}
}

func TestDateCandidates(t *testing.T) {
	words := func(texts ...string) []ocr.Word {
		ws := make([]ocr.Word, len(texts))
		for i, s := range texts {
			ws[i] = ocr.Word{Text: s, Box: image.Rect(i*60, 0, i*60+50, 40)}
		}
		return ws
	}
	tests := []struct {
		name      string
		ws        []ocr.Word
		wantFirst []int
	}{
		{"place/date line", words("Tân", "An,", "ngày", "37", "tháng", "7", "năm", "2020"), []int{3, 5, 7}},
		{"numeric date is not re-read as words", words("sinh:", "23/01/1989"), nil},
		{"dates beyond the bound are not re-read", func() []ocr.Word {
			var texts []string
			for i := 0; i < 4; i++ {
				texts = append(texts, "ngày", "1", "tháng", "2", "năm", "2003")
			}
			return words(texts...)
		}(), []int{1, 3, 5, 7, 9, 11, 13, 15, 17}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := dateCandidates(tt.ws)
			var got []int
			for _, c := range cs {
				if c.first != c.last || len(c.variants) == 0 || c.chars != digitChars {
					t.Errorf("candidate %+v: want one word, digits, date variants", c)
				}
				got = append(got, c.first)
			}
			if len(got) != len(tt.wantFirst) {
				t.Fatalf("candidates: got %v, want %v", got, tt.wantFirst)
			}
			for i := range got {
				if got[i] != tt.wantFirst[i] {
					t.Fatalf("candidates: got %v, want %v", got, tt.wantFirst)
				}
			}
		})
	}
}

func TestWidenShortID(t *testing.T) {
	box := image.Rect(600, 620, 753, 650) // nine digits, 17 px each
	tests := []struct {
		name  string
		text  string
		right int
		want  int // Max.X
	}{
		{"whole ID: unchanged", "092080940337", -1, 753},
		{"three digits short: widened by their width", "092080940", -1, 753 + 3*153/9 + 30/4},
		{"stops short of the next word", "092080940", 780, 780 - 30/4},
		{"never narrowed", "092080940", 700, 753},
		{"stops at the page edge", "092080940", -1, 760},
	}
	for _, tt := range tests {
		pageRight := 2000
		if tt.name == "stops at the page edge" {
			pageRight = 760
		}
		got := widenShortID(box, []ocr.Word{{Text: tt.text, Box: box}}, tt.right, pageRight)
		if got.Max.X != tt.want || got.Min != box.Min || got.Max.Y != box.Max.Y {
			t.Errorf("%s: got %v, want Max.X %d", tt.name, got, tt.want)
		}
	}
}

// TestColourSource: a crop is read from its colour-dropped copy only when
// coloured marks cross black print, not when the text itself is coloured
// (a value in pen) or nothing coloured is there.
func TestColourSource(t *testing.T) {
	// grey: 40 columns of ink (value 30) in a 100×10 crop of paper 240.
	grey := image.NewGray(image.Rect(0, 0, 100, 10))
	for i := range grey.Pix {
		if i%100 < 40 {
			grey.Pix[i] = 30
		} else {
			grey.Pix[i] = 240
		}
	}
	paled := func(cols int) *image.Gray {
		c := image.NewGray(grey.Bounds())
		copy(c.Pix, grey.Pix)
		for i := range c.Pix {
			if i%100 < cols {
				c.Pix[i] = 220
			}
		}
		return c
	}
	tests := []struct {
		name  string
		paled int // ink columns the colour-dropping paled
		want  bool
	}{
		{"nothing coloured", 0, false},
		{"a stamp over a quarter of the print", 10, true},
		{"a stamp over half of it", 20, true},
		{"text written in pen", 36, false},
		{"all of it coloured", 40, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := colourSource(grey, paled(tt.paled)); got != tt.want {
				t.Errorf("colourSource: got %v, want %v", got, tt.want)
			}
		})
	}
	if colourSource(grey, image.NewGray(image.Rect(0, 0, 10, 10))) {
		t.Error("colourSource of crops of different sizes: got true")
	}
}

// TestLabelledIDCandidates: an ID label followed by debris gives a
// digits-only candidate over the place a 12-digit number occupies, stopping
// short of the next word and the page edge.
func TestLabelledIDCandidates(t *testing.T) {
	word := func(text string, x0, x1 int) ocr.Word {
		return ocr.Word{Text: text, Conf: 0.9, Box: image.Rect(x0, 100, x1, 140)}
	}
	ws := []ocr.Word{word("Số", 0, 60), word("định", 70, 150), word("danh", 160, 240), word("cá", 250, 290), word("nhân:", 300, 400), word("nà", 420, 460)}
	got := labelledIDCandidates(ws, nil, 2000)
	if len(got) != 1 {
		t.Fatalf("candidates: got %d, want 1", len(got))
	}
	c := got[0]
	if c.first != 5 || c.chars != digitChars || !c.tieBreak {
		t.Errorf("candidate: got first %d chars %q tieBreak %v", c.first, c.chars, c.tieBreak)
	}
	if want := 420 + 12*40*11/20; c.box.Max.X != want {
		t.Errorf("box right: got %d, want %d", c.box.Max.X, want)
	}
	if got := labelledIDCandidates(ws, nil, 500); got[0].box.Max.X != 500 {
		t.Errorf("box right at the page edge: got %d, want 500", got[0].box.Max.X)
	}
	if got := labelledIDCandidates(ws, []candidate{{first: 5}}, 2000); len(got) != 0 {
		t.Errorf("a word another candidate re-reads: got %d candidates, want 0", len(got))
	}
}
