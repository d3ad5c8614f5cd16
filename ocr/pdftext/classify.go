package pdftext

import (
	"image"
	"image/color"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Thresholds of the page classification.
const (
	// pageImageCover is the share of the page an image must cover to be
	// the page's image (a scan), not a logo or a seal.
	pageImageCover = 0.5
	// drawingInk is the share of a rendering's pixels inked outside every
	// word box above which a text page also carries vector drawing (a
	// drawn seal or signature; rules and table borders stay below it).
	drawingInk = 0.004
	// minPlausible is the share of a layer's characters and words that must
	// look like Vietnamese or Latin text for the layer to be read at all.
	minPlausible = 0.85
	// minPlausibleNoUnicode is the same for a page drawing with a font
	// that has no Unicode map: poppler then guesses, so the bar is higher.
	minPlausibleNoUnicode = 0.95
)

// PageFacts is what the tools tell about one page.
type PageFacts struct {
	Layer  LayerPage
	Images []ImageInfo // of this page
	Fonts  []FontInfo  // of this page
}

// ImageCover is the largest share of the page one image covers, from
// pdfimages' placement resolution. An image without a usable resolution
// and at least a megapixel counts as covering the page.
func (f PageFacts) ImageCover() float64 {
	area := f.Layer.Width * f.Layer.Height
	best := 0.0
	for _, im := range f.Images {
		if im.Type != "image" || im.Width <= 0 || im.Height <= 0 {
			continue
		}
		var c float64
		switch {
		case im.XPPI > 0 && im.YPPI > 0 && area > 0:
			c = (float64(im.Width) / im.XPPI * 72) * (float64(im.Height) / im.YPPI * 72) / area
		case int64(im.Width)*int64(im.Height) >= 1_000_000:
			c = 1
		}
		best = max(best, c)
	}
	return best
}

// Verdict is a page's classification.
type Verdict struct {
	Kind string
	// TextUsable: the layer's text can be believed to say what the page
	// shows (plausible text, fonts within bounds). A text page whose layer
	// is not usable is recognised from its rendering.
	TextUsable bool
	// Why names the reason the layer is not usable, "" when it is.
	Why string
	// Plausibility is the share of the layer that looks like text, 0..1.
	Plausibility float64
}

// Classify names the kind of a page from its facts. Vector drawing is
// found later, on the rendering (HasDrawing): Classify's KindText may
// become KindMixed.
func Classify(f PageFacts, maxFonts int) Verdict {
	if len(f.Layer.Words) == 0 {
		return Verdict{Kind: KindImage}
	}
	v := Verdict{Kind: KindText}
	if f.ImageCover() >= pageImageCover {
		v.Kind = KindMixed
	}
	v.Plausibility = Plausibility(f.Layer.Words)
	bar := minPlausible
	for _, fo := range f.Fonts {
		if !fo.Unicode {
			bar = minPlausibleNoUnicode
		}
	}
	switch {
	case maxFonts > 0 && len(f.Fonts) > maxFonts:
		v.Why = "too-many-fonts"
	case v.Plausibility < bar:
		v.Why = "implausible-text"
	default:
		v.TextUsable = true
	}
	return v
}

// Plausibility is the share of a text layer that reads as Latin-script
// text: the lower of the share of its characters that are letters, digits,
// punctuation or spaces of the Latin script, and the share of its words
// that are a number, or letters with a vowel (every Vietnamese syllable
// has one). Text extracted through a font without a real Unicode map
// (glyph IDs taken for characters) fails both.
func Plausibility(words []LayerWord) float64 {
	var chars, goodChars, toks, goodToks int
	for _, w := range words {
		for _, tok := range strings.Fields(w.Text) {
			toks++
			if plausibleToken(tok) {
				goodToks++
			}
			for _, r := range tok {
				chars++
				if plausibleRune(r) {
					goodChars++
				}
			}
		}
	}
	if chars == 0 || toks == 0 {
		return 0
	}
	return min(float64(goodChars)/float64(chars), float64(goodToks)/float64(toks))
}

func plausibleRune(r rune) bool {
	switch {
	case unicode.IsDigit(r) && r < 0x80:
		return true
	case unicode.IsLetter(r):
		return unicode.Is(unicode.Latin, r)
	case unicode.Is(unicode.Mn, r): // a combining diacritic (NFD text)
		return true
	}
	return strings.ContainsRune(".,;:!?-–—/()[]\"'“”‘’%&+*=<>#@°…_", r)
}

// plausibleToken: a number-like token (digits with separators), or a word
// of letters holding a vowel, with punctuation around it.
func plausibleToken(tok string) bool {
	t := strings.TrimFunc(tok, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if t == "" {
		return strings.Trim(tok, ".,;:-–—/()") == "" // lone punctuation
	}
	digits, letters, vowels, other := 0, 0, 0, 0
	for _, r := range norm.NFD.String(strings.ToLower(t)) {
		switch {
		case r < 0x80 && unicode.IsDigit(r):
			digits++
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) && unicode.Is(unicode.Latin, r):
			letters++
			if strings.ContainsRune("aeiouyđ", r) && r != 'đ' {
				vowels++
			}
		case strings.ContainsRune("./-,:", r):
		default:
			other++
		}
	}
	switch {
	case other > 0:
		return false
	case letters == 0:
		return digits > 0
	case digits == 0:
		return vowels > 0 || letters <= 3 // abbreviations: "TP", "KT", "Số" has a vowel
	}
	return true // codes such as "51221/STP-LLTP", "KQ1"
}

// DrawingInk is the share of img's pixels that are inked and lie outside
// every word box (boxes in img pixels, widened by pad).
func DrawingInk(img image.Image, boxes []image.Rectangle, pad int) float64 {
	b := img.Bounds()
	if b.Empty() {
		return 0
	}
	mask := make([]bool, b.Dx()*b.Dy())
	for _, r := range boxes {
		r = r.Inset(-pad).Intersect(b)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := (y - b.Min.Y) * b.Dx()
			for x := r.Min.X; x < r.Max.X; x++ {
				mask[row+x-b.Min.X] = true
			}
		}
	}
	ink := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := (y - b.Min.Y) * b.Dx()
		for x := b.Min.X; x < b.Max.X; x++ {
			if mask[row+x-b.Min.X] {
				continue
			}
			if dark(img, x, y) {
				ink++
			}
		}
	}
	return float64(ink) / float64(len(mask))
}

// HasDrawing reports whether a rendering carries vector drawing beyond its
// text (DrawingInk over drawingInk).
func HasDrawing(img image.Image, boxes []image.Rectangle, dpi float64) bool {
	return DrawingInk(img, boxes, int(dpi/72*2+0.5)) > drawingInk
}

// dark reports whether the pixel at (x, y) is ink (grey level below 160).
func dark(img image.Image, x, y int) bool {
	switch m := img.(type) {
	case *image.RGBA:
		i := m.PixOffset(x, y)
		p := m.Pix[i : i+3 : i+3]
		return (299*int(p[0])+587*int(p[1])+114*int(p[2]))/1000 < 160
	case *image.NRGBA:
		i := m.PixOffset(x, y)
		p := m.Pix[i : i+3 : i+3]
		return (299*int(p[0])+587*int(p[1])+114*int(p[2]))/1000 < 160
	case *image.Gray:
		return m.Pix[m.PixOffset(x, y)] < 160
	}
	return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 160
}
