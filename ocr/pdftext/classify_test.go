package pdftext

import (
	"image"
	"image/color"
	"strings"
	"testing"

	"sohoa/ocr"
)

func words(text string) []LayerWord {
	var out []LayerWord
	for i, l := range strings.Split(text, "\n") {
		for _, w := range strings.Fields(l) {
			out = append(out, LayerWord{Text: w, Line: i})
		}
	}
	return out
}

func TestPlausibility(t *testing.T) {
	for _, c := range []struct {
		name string
		text string
		ok   bool
	}{
		{"vietnamese", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nSố: 51221/STP-LLTP\nHà Nội, ngày 23 tháng 02 năm 2022", true},
		{"numbers", "001099872198 23/02/2022 1.004873", true},
		{"cid codes", "8%1'7+1+3+ں+1ۂ, 6ۂ7ư3+ۂ3 &ۂ1*+ۂ$;", false},
		{"symbols", "□□□ ◆◆ ■■■■ ▲", false},
		{"cyrillic", "Привет мир это текст", false},
		{"consonant soup", "xkcd bcdfg hjklm npqrst vwxz", false},
	} {
		p := Plausibility(words(c.text))
		if (p >= minPlausibleNoUnicode) != c.ok {
			t.Errorf("%s: plausibility %.2f, want ok=%v", c.name, p, c.ok)
		}
	}
	if p := Plausibility(nil); p != 0 {
		t.Errorf("empty: %v", p)
	}
}

func TestClassify(t *testing.T) {
	page := LayerPage{Width: 595, Height: 842, Words: words("Họ và tên: NGUYỄN VĂN AN\nSố định danh cá nhân: 001099872198")}
	scan := ImageInfo{Page: 1, Type: "image", Width: 1654, Height: 2339, XPPI: 200, YPPI: 200}
	logo := ImageInfo{Page: 1, Type: "image", Width: 200, Height: 200, XPPI: 300, YPPI: 300}
	uni := FontInfo{Name: "F", Unicode: true}
	noUni := FontInfo{Name: "G", Unicode: false}
	for _, c := range []struct {
		name   string
		facts  PageFacts
		kind   string
		usable bool
	}{
		{"scan only", PageFacts{Layer: LayerPage{Width: 595, Height: 842}, Images: []ImageInfo{scan}}, KindImage, false},
		{"empty", PageFacts{Layer: LayerPage{Width: 595, Height: 842}}, KindImage, false},
		{"text", PageFacts{Layer: page, Fonts: []FontInfo{uni}}, KindText, true},
		{"text with logo", PageFacts{Layer: page, Images: []ImageInfo{logo}, Fonts: []FontInfo{uni}}, KindText, true},
		{"scan with layer", PageFacts{Layer: page, Images: []ImageInfo{scan}, Fonts: []FontInfo{uni}}, KindMixed, true},
		{"garbage font", PageFacts{Layer: LayerPage{Width: 595, Height: 842, Words: words("8%1'7+1+3+ں+1ۂ, 6ۂ7ư3+ۂ3")}, Fonts: []FontInfo{noUni}}, KindText, false},
		{"too many fonts", PageFacts{Layer: page, Fonts: make([]FontInfo, 65)}, KindText, false},
	} {
		v := Classify(c.facts, 64)
		if v.Kind != c.kind || v.TextUsable != c.usable {
			t.Errorf("%s: %+v, want kind %s usable %v", c.name, v, c.kind, c.usable)
		}
	}
}

func TestHasDrawing(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 1000, 1000))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	box := image.Rect(100, 100, 400, 130)
	for y := 105; y < 125; y++ {
		for x := 105; x < 395; x += 3 {
			img.SetGray(x, y, color.Gray{0})
		}
	}
	if HasDrawing(img, []image.Rectangle{box}, 300) {
		t.Fatal("text alone reads as drawing")
	}
	// A drawn seal: a filled disc away from the text.
	for y := 600; y < 800; y++ {
		for x := 600; x < 800; x++ {
			if (x-700)*(x-700)+(y-700)*(y-700) < 90*90 {
				img.SetGray(x, y, color.Gray{20})
			}
		}
	}
	if !HasDrawing(img, []image.Rectangle{box}, 300) {
		t.Fatal("a drawn seal is not found")
	}
}

func TestMerge(t *testing.T) {
	// The layer in points of a 100×200 pt page; the recognised image is
	// 1000×2000 px (10 px per point).
	layer := LayerPage{Width: 100, Height: 200, Words: []LayerWord{
		{Text: "Số", XMin: 10, YMin: 10, XMax: 20, YMax: 15},
		{Text: "001099872198", XMin: 22, YMin: 10, XMax: 60, YMax: 15},
		{Text: "Hà", XMin: 10, YMin: 30, XMax: 20, YMax: 35},
		{Text: "extra", XMin: 70, YMin: 100, XMax: 90, YMax: 105},
	}}
	pg := ocr.Page{Words: []ocr.Word{
		{Text: "Số", Conf: 0.9, Box: image.Rect(100, 100, 200, 150)},
		{Text: "001099872199", Conf: 0.95, Box: image.Rect(220, 100, 600, 150)},
		{Text: "Hả", Conf: 0.8, Box: image.Rect(100, 300, 200, 350)},
		{Text: "alone", Conf: 0.9, Box: image.Rect(100, 1500, 200, 1550)},
	}}
	out, a := Merge(pg, layer, 1000, 2000)
	want := ocr.LayerAgreement{Words: 4, LayerWords: 4, Agreed: 1, Disagreed: 2, SecondReads: 1, OCROnly: 1, LayerOnly: 1}
	if a != want {
		t.Fatalf("agreement %+v, want %+v", a, want)
	}
	id := out.Words[1]
	if id.Text != "001099872199" || len(id.Alts) != 1 || id.Alts[0].Text != "001099872198" || id.Alts[0].Variant != "text-layer" {
		t.Errorf("ID word %+v: the recognition stays the page read, the layer a second read", id)
	}
	if out.Words[0].Conf != 0.9 || out.Words[2].Text != "Hả" || len(out.Words[2].Alts) != 0 {
		t.Errorf("agreeing or non-number words changed: %+v", out.Words)
	}
	if len(pg.Words[1].Alts) != 0 {
		t.Error("Merge changed its input")
	}
	// A page recognised upside down: the layer turns with it.
	up := ocr.Page{Rotation: 180, Words: []ocr.Word{{Text: "001099872198", Box: image.Rect(1000-600, 2000-150, 1000-220, 2000-100)}}}
	if _, a := Merge(up, layer, 1000, 2000); a.Agreed != 1 {
		t.Errorf("rotated page: %+v", a)
	}
}
