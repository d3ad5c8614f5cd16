package tesseract

import (
	"fmt"
	"image"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/otiai10/gosseract/v2"

	"sohoa/ocr"
)

// Second reads. Identity numbers decide where a result is filed, and one
// misread digit files it under someone else. After the page pass, every
// number-like word group (an ID, a phone number) and every number word of
// a written date ("ngày 27 tháng 7 năm 2020") is cropped from the upright
// page, enlarged, binarised in a few ways and read again as a single line
// restricted to its character set, by a client of its own. The readings
// are recorded on the group's first word (ocr.Word.Alts); package ocr
// decides what agreement between the reads is worth.

const (
	// minNumberChars is the number of digit-like characters from which a
	// word group is re-read as an identity number (a 12-digit ID read with
	// a few digits lost or glued to debris still qualifies).
	minNumberChars = 9
	// rereadHeight is the word-box height, in pixels, crops are scaled to:
	// digits about 30 px high, which the LSTM model reads best.
	rereadHeight = 56
	// maxRereads bounds the crops per page, keeping the cost per page
	// small on a page full of numbers (a household list).
	maxRereads = 12
	// maxDateRereads bounds the date number words re-read per page (a
	// place/date line and a registration date: three words each).
	maxDateRereads = 9
	// maxNumericDateRereads bounds the doubtful numeric dates
	// ("14/08/1999") re-read per page.
	maxNumericDateRereads = 4
)

// digitChars is the whitelist of a number re-read, dateChars that of a
// numeric date.
const (
	digitChars = "0123456789"
	dateChars  = "0123456789/"
)

// rereader is the digits-only client, separate from the page client so
// the page settings are never touched.
type rereader struct {
	client *gosseract.Client
}

func newRereader(opts Options) (*rereader, error) {
	c, err := newClient(opts, gosseract.PSM_SINGLE_LINE)
	if err != nil {
		return nil, fmt.Errorf("reread client: %w", err)
	}
	return &rereader{client: c}, nil
}

func (r *rereader) close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("close reread client: %w", err)
	}
	return nil
}

// candidate is a run of words on one line to re-read.
type candidate struct {
	first, last int // indexes into Page.Words, inclusive
	chars       string
	box         image.Rectangle
	variants    []string // image treatments read (idVariants, dateVariants)
	// tieBreak: an identity number; idTieVariants are read when the
	// first reads are contested.
	tieBreak bool
}

// numberCandidates finds the word runs worth a second read: consecutive
// words of one line made mostly of digits that together hold at least
// minNumberChars of them (dates, with their slashes, are left out).
func numberCandidates(ws []ocr.Word) []candidate {
	var out []candidate
	i := 0
	for i < len(ws) {
		if !numberLike(ws[i].Text) {
			i++
			continue
		}
		j := i
		n := digitLikeCount(ws[i].Text)
		box := ws[i].Box
		for j+1 < len(ws) && ws[j+1].Line == ws[i].Line && numberLike(ws[j+1].Text) &&
			ws[j+1].Box.Min.X-ws[j].Box.Max.X < ws[j].Box.Dy() {
			j++
			n += digitLikeCount(ws[j].Text)
			box = box.Union(ws[j].Box)
		}
		if n >= minNumberChars && !strings.Contains(ws[i].Text, "/") {
			out = append(out, candidate{first: i, last: j, chars: digitChars, box: box, variants: idVariants, tieBreak: true})
		}
		i = j + 1
	}
	if len(out) > maxRereads {
		out = out[:maxRereads]
	}
	return out
}

// dateCandidates are the doubtful day, month and year words of the page's
// written dates (ocr.WrittenDateParts, ocr.DoubtfulDateWords), each re-read
// alone: a misread day ("37") or a doubtful one is settled by package ocr
// from these reads.
func dateCandidates(ws []ocr.Word) []candidate {
	var out []candidate
	for _, parts := range ocr.WrittenDateParts(ws) {
		doubtful := ocr.DoubtfulDateWords(ws, parts)
		for k, i := range parts {
			if len(ws[i].Alts) > 0 || !doubtful[k] {
				// A clean, possible date word: package ocr does not
				// consult second reads of it.
				continue
			}
			out = append(out, candidate{first: i, last: i, chars: digitChars, box: ws[i].Box, variants: dateVariants})
		}
	}
	if len(out) > maxDateRereads {
		out = out[:maxDateRereads]
	}
	return out
}

// numericDateCandidates are the page's doubtful numeric dates
// (ocr.NumericDateSpans: not a real date as read, read with a low
// confidence, or split in two), each re-read as one line of digits and
// slashes.
func numericDateCandidates(ws []ocr.Word) []candidate {
	var out []candidate
	for _, sp := range ocr.NumericDateSpans(ws) {
		if len(ws[sp.First].Alts) > 0 {
			continue
		}
		out = append(out, candidate{first: sp.First, last: sp.Last, chars: dateChars, box: sp.Box, variants: dateVariants})
		if len(out) == maxNumericDateRereads {
			break
		}
	}
	return out
}

// maxLabelledDateRereads bounds the unreadable labelled dates of birth
// re-read per page (a marriage paper has two parties).
const maxLabelledDateRereads = 3

// rereadFrom reports whether a candidate of have starts at word first.
func rereadFrom(have []candidate, first int) bool {
	return slices.ContainsFunc(have, func(c candidate) bool { return c.first == first })
}

// labelledDateCandidates are the page's dates of birth whose label was
// read but whose value was not (ocr.LabelledDateSpans), each re-read as
// one line of digits and slashes from the place the value occupies;
// spans starting at a word another candidate (have) re-reads are left out.
func labelledDateCandidates(ws []ocr.Word, have []candidate) []candidate {
	var out []candidate
	for _, sp := range ocr.LabelledDateSpans(ws) {
		if rereadFrom(have, sp.First) {
			continue
		}
		out = append(out, candidate{first: sp.First, last: sp.Last, chars: dateChars, box: sp.Box, variants: dateVariants})
		if len(out) == maxLabelledDateRereads {
			break
		}
	}
	return out
}

// labelledIDCandidates are the page's personal IDs whose label was read
// but whose number was not (ocr.LabelledIDSpans), each re-read digits-only
// from the place a 12-digit number after the label occupies (the value's
// box widened as widenShortID does); spans starting at a word another
// candidate (have) re-reads are left out.
func labelledIDCandidates(ws []ocr.Word, have []candidate, pageRight int) []candidate {
	var out []candidate
	for _, sp := range ocr.LabelledIDSpans(ws) {
		if rereadFrom(have, sp.First) {
			continue
		}
		box := sp.Box
		h := textHeight(ws)
		if h <= 0 {
			h = box.Dy()
		}
		right := pageRight
		if sp.Last+1 < len(ws) && ws[sp.Last+1].Line == ws[sp.Last].Line {
			right = ws[sp.Last+1].Box.Min.X - h/4
		}
		// A 12-digit number is about 12 × 0.55 text heights wide.
		box.Max.X = max(box.Max.X, min(box.Min.X+idDigits*h*11/20, right))
		out = append(out, candidate{first: sp.First, last: sp.Last, chars: digitChars, box: box, variants: idVariants, tieBreak: true})
		if len(out) == maxRereads {
			break
		}
	}
	return out
}

// numberLike: a word whose letters and digits are mostly digits.
func numberLike(s string) bool {
	d, other := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			d++
		case unicode.IsLetter(r):
			other++
		}
	}
	return d >= 3 && d >= 2*other
}

func digitLikeCount(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

// idVariants name the image treatments of an ID crop: "gray" the enlarged
// crop as is; "ink" thresholded close to the ink level (stamp tint, grey
// pen strokes and blur halos drop out) and its strokes thickened back by
// one pixel; "nolines" binarised at Otsu with long horizontal rules
// (underlines, stamp frames) removed — read only when there were rules to
// remove, as it is otherwise a plain Otsu copy. Plain Otsu is not among
// them: on bitonal scans its reads of clean digits were the least reliable
// (a 6 read as 5), and so was a fixed fraction of it (0.75×Otsu thins
// strokes until loops open). Measured on the dev corpus's 67 ID crops:
// 0.75×Otsu read 61 right and misread one clean ID; "ink" reads 66 right
// and one wrong, an ID under a pen mark where it repeats the page read's
// mistake (the "gray" read contradicts it, so the ID goes to review).
var idVariants = []string{"gray", "ink", "nolines"}

// idTieVariants are read as well when the reads of an ID contradict each
// other or the page read: two more independent votes ("stretch", plain
// "otsu"), so that package ocr can tell one stray read from a real doubt.
// Only contested IDs pay for them.
var idTieVariants = []string{"stretch", "otsu"}

// dateVariants are the treatments of a date number word: one or two
// digits, a crop mostly margin, on which "gray" often reads nothing or
// picks up a stroke of the neighbouring word. "otsu" is plain Otsu and
// "stretch" the crop with its ink and paper levels stretched to black and
// white. On the dev corpus's 135 date words: "otsu" and "stretch" read
// 134 right and none wrong, "ink" 133 right and one wrong ("11" as "1"),
// "gray" only 123 right and 3 wrong.
var dateVariants = []string{"ink", "otsu", "stretch"}

// reread records the second reads of the page's number-like words and
// written-date numbers.
//
// colour gives the page with its coloured marks paled (ocr.ColourDropped,
// straightened like g), nil for a page without colour; it is called at
// most once, when the first crop is made. A crop whose print is crossed by
// coloured marks is read from that image instead of g (colourSource).
func (e *Engine) reread(g *image.Gray, colour func() *colourPage, dpi int, page *ocr.Page) error {
	cands := append(numberCandidates(page.Words), dateCandidates(page.Words)...)
	cands = append(cands, numericDateCandidates(page.Words)...)
	cands = append(cands, labelledDateCandidates(page.Words, cands)...)
	cands = append(cands, labelledIDCandidates(page.Words, cands, g.Bounds().Max.X)...)
	if len(cands) == 0 {
		return nil
	}
	if e.rr == nil {
		rr, err := newRereader(e.opts)
		if err != nil {
			return err
		}
		e.rr = rr
	}
	th := textHeight(page.Words)
	var col *colourPage
	colourDone := false
	for _, c := range cands {
		left, right := -1, -1
		if c.first > 0 && page.Words[c.first-1].Line == page.Words[c.first].Line {
			left = page.Words[c.first-1].Box.Max.X
		}
		if c.last+1 < len(page.Words) && page.Words[c.last+1].Line == page.Words[c.last].Line {
			right = page.Words[c.last+1].Box.Min.X
		}
		box := c.box
		if c.tieBreak {
			box = widenShortID(box, page.Words[c.first:c.last+1], right, g.Bounds().Max.X)
		}
		crop := cropScaled(g, box, left, right, th)
		if crop == nil {
			continue
		}
		if !colourDone && colour != nil {
			col, colourDone = colour(), true
		}
		if col != nil {
			if r := cropRect(g.Bounds(), box, left, right, th); !r.Empty() {
				if cc := cropScaled(col.region(r), box, left, right, th); cc != nil && colourSource(crop, cc) {
					crop = cc
				}
			}
		}
		if c.first == c.last && crop.Bounds().Dx() < rereadHeight {
			// A one- or two-digit word (a day, a month): widened with
			// paper so the line finder sees a line, not a speck. An ID
			// is always wider.
			crop = padWidth(crop, rereadHeight)
		}
		if crop.Bounds().Dx() < rereadHeight {
			continue
		}
		if err := e.rr.client.SetVariable("tessedit_char_whitelist", c.chars); err != nil {
			return fmt.Errorf("reread: set whitelist: %w", err)
		}
		var alts []ocr.Reading
		readVariants := func(vs []string) error {
			for _, v := range vs {
				start := now() // timed per treatment (Stages)
				bin, changed := binarise(crop, v, th*rereadScale(th))
				if !changed {
					continue
				}
				rd, err := e.rr.read(bin, dpi*rereadScale(th))
				e.since(StageReread+"_"+v, start)
				if err != nil {
					return err
				}
				rd.Variant = v
				rd.Words = c.last - c.first + 1
				alts = append(alts, rd)
			}
			return nil
		}
		if err := readVariants(c.variants); err != nil {
			return err
		}
		if c.tieBreak && contested(page.Words[c.first:c.last+1], alts) {
			if err := readVariants(idTieVariants); err != nil {
				return err
			}
		}
		page.Words[c.first].Alts = alts
	}
	return nil
}

// colourSource reports whether a crop is better read from its colour-
// dropped copy (cc, ocr.ColourDropped) than from grey (g): coloured marks
// cross the print (dropping colour removes some of the crop's ink), while
// the print itself is not coloured (most of the ink stays). Printed text is
// black; a value written in blue pen on a form vanishes from the colour-
// dropped copy and is read from grey.
func colourSource(g, cc *image.Gray) bool {
	if g.Bounds() != cc.Bounds() {
		return false
	}
	t := otsu(g)
	inkG, inkC := 0, 0
	for i, p := range g.Pix {
		if p <= t {
			inkG++
			if cc.Pix[i] <= t {
				inkC++
			}
		}
	}
	if inkG == 0 {
		return false
	}
	kept := float64(inkC) / float64(inkG)
	return kept >= minPrintKept && kept <= maxMarkKept
}

const (
	// minPrintKept: below this share of the grey crop's ink surviving
	// colour-dropping, the text itself is coloured (pen): read grey.
	minPrintKept = 0.35
	// maxMarkKept: above it, no coloured mark worth removing crosses the
	// crop.
	maxMarkKept = 0.97
)

// idDigits is the length of a personal ID.
const idDigits = 12

// widenShortID widens the box of an ID word group read with fewer than
// idDigits digits to the right by the width of the digits it lacks, up to
// the next word (right, -1 when none) or the page edge: a stamp or pen
// stroke over the last digits often makes the page pass drop them from
// the word, while a crop of the place they occupy still reads them.
func widenShortID(box image.Rectangle, ws []ocr.Word, right, pageRight int) image.Rectangle {
	n := 0
	for _, w := range ws {
		n += digitLikeCount(w.Text)
	}
	if n == 0 || n >= idDigits {
		return box
	}
	limit := pageRight
	if right >= 0 {
		limit = right - box.Dy()/4
	}
	grow := (idDigits - n) * box.Dx() / n
	box.Max.X = max(box.Max.X, min(box.Max.X+grow+box.Dy()/4, limit))
	return box
}

// contested reports whether the second reads of an ID word group
// contradict each other or its page read: a 12-digit read other than the
// page read's digits, or two different 12-digit reads.
func contested(ws []ocr.Word, alts []ocr.Reading) bool {
	var page strings.Builder
	for _, w := range ws {
		for _, r := range w.Text {
			if r >= '0' && r <= '9' {
				page.WriteRune(r)
			}
		}
	}
	seen := ""
	for _, a := range alts {
		d := digitsOnly(a.Text)
		if len(d) != 12 {
			continue
		}
		if d != page.String() || (seen != "" && d != seen) {
			return true
		}
		seen = d
	}
	return false
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// rereadScale is the enlargement for text h pixels high.
func rereadScale(h int) int {
	return max(1, int(math.Round(float64(rereadHeight)/float64(max(1, h)))))
}

// textHeight is the median height of the page's words of two characters
// or more: the printed text size, which a stamp or pen mark merged into a
// word box does not change.
func textHeight(ws []ocr.Word) int {
	var hs []int
	for _, w := range ws {
		if len([]rune(w.Text)) >= 2 {
			hs = append(hs, w.Box.Dy())
		}
	}
	if len(hs) == 0 {
		return 0
	}
	sort.Ints(hs)
	return hs[len(hs)/2]
}

// read recognises one prepared crop as a single line.
func (r *rereader) read(g *image.Gray, dpi int) (ocr.Reading, error) {
	if err := r.client.SetImageFromBytes(encodeBMP(g, dpi)); err != nil {
		return ocr.Reading{}, fmt.Errorf("reread: set image: %w", err)
	}
	if err := r.client.SetVariable("user_defined_dpi", strconv.Itoa(dpi)); err != nil {
		return ocr.Reading{}, fmt.Errorf("reread: set dpi: %w", err)
	}
	boxes, err := r.client.GetBoundingBoxes(gosseract.RIL_WORD)
	if err != nil {
		return ocr.Reading{}, fmt.Errorf("reread: recognise: %w", err)
	}
	var parts []string
	conf := 1.0
	for _, b := range boxes {
		t := strings.TrimSpace(b.Word)
		if t == "" {
			continue
		}
		parts = append(parts, t)
		conf = math.Min(conf, math.Max(0, b.Confidence/100))
	}
	if len(parts) == 0 {
		conf = 0
	}
	return ocr.Reading{Text: strings.Join(parts, " "), Conf: conf}, nil
}

// cropScaled cuts box out of g with a margin and enlarges it so the box
// is about rereadHeight pixels high (integer factor, bilinear). The side
// margins stop short of the neighbouring words (left, right: their x
// limits, -1 when none): a label's colon in the crop, which the whitelist
// forbids, ruins the read's confidence.
func cropScaled(g *image.Gray, box image.Rectangle, left, right, h int) *image.Gray {
	r := cropRect(g.Bounds(), box, left, right, h)
	if r.Empty() {
		return nil
	}
	s := rereadScale(h)
	w, hh := r.Dx()*s, r.Dy()*s
	out := image.NewGray(image.Rect(0, 0, w, hh))
	for y := 0; y < hh; y++ {
		fy := (float64(y)+0.5)/float64(s) - 0.5
		for x := 0; x < w; x++ {
			fx := (float64(x)+0.5)/float64(s) - 0.5
			out.Pix[y*out.Stride+x] = bilinear(g, r, fx, fy)
		}
	}
	return out
}

// cropRect is the part of a page of bounds that cropScaled cuts for box:
// box with its margins, within the page; empty for none.
func cropRect(bounds, box image.Rectangle, left, right, h int) image.Rectangle {
	if h <= 0 || box.Dx() <= 0 || box.Dy() <= 0 {
		return image.Rectangle{}
	}
	padL, padR := h/3, h/3
	if left >= 0 {
		padL = min(padL, max(0, (box.Min.X-left)/2))
	}
	if right >= 0 {
		padR = min(padR, max(0, (right-box.Max.X)/2))
	}
	return image.Rect(box.Min.X-padL, box.Min.Y-h/4, box.Max.X+padR, box.Max.Y+h/4).Intersect(bounds)
}

func bilinear(g *image.Gray, r image.Rectangle, fx, fy float64) uint8 {
	x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
	ax, ay := fx-float64(x0), fy-float64(y0)
	at := func(x, y int) float64 {
		x = min(max(x, 0), r.Dx()-1)
		y = min(max(y, 0), r.Dy()-1)
		return float64(g.GrayAt(r.Min.X+x, r.Min.Y+y).Y)
	}
	v := (1-ay)*((1-ax)*at(x0, y0)+ax*at(x0+1, y0)) + ay*((1-ax)*at(x0, y0+1)+ax*at(x0+1, y0+1))
	return uint8(math.Round(v))
}

// inkLevel is where, between the crop's ink level (0) and paper level
// (1), the "ink" variant thresholds. Measured on the dev corpus's ID
// crops: from 0.20 to 0.30 the reads are the same and right under stamps;
// from 0.35 the grey tint of a stamp over digits stays and breaks them.
const inkLevel = 0.25

// binarise prepares a crop for one variant (see idVariants and
// dateVariants); binary variants also lose specks smaller than a quarter
// of the text height.
//
// changed is false for "nolines" when no rule was found.
func binarise(g *image.Gray, variant string, textH int) (_ *image.Gray, changed bool) {
	if variant == "gray" {
		return g, true
	}
	t := otsu(g)
	if variant == "stretch" {
		return stretch(g, t), true
	}
	if variant == "ink" {
		ink, paper := levels(g, t)
		t = uint8(math.Round(ink + inkLevel*(paper-ink)))
	}
	b := g.Bounds()
	out := image.NewGray(b)
	for i, p := range g.Pix {
		if p <= t {
			out.Pix[i] = 0
		} else {
			out.Pix[i] = 255
		}
	}
	changed = true
	if variant == "nolines" {
		changed = removeRules(out, textH)
	}
	removeSpecks(out, textH)
	if variant == "ink" {
		// A threshold this close to the ink thins every stroke; one
		// pixel back (the crop is enlarged to strokes of 6 px or more)
		// closes the loops it opened without bringing the tint back.
		out = thicken(out)
	}
	return out, changed
}

// levels are the mean grey levels of the ink (at or below the Otsu
// threshold t) and of the paper (above it).
func levels(g *image.Gray, t uint8) (ink, paper float64) {
	var sumI, sumP, nI, nP float64
	for _, p := range g.Pix {
		if p <= t {
			sumI += float64(p)
			nI++
		} else {
			sumP += float64(p)
			nP++
		}
	}
	if nI == 0 || nP == 0 {
		return float64(t), float64(t)
	}
	return sumI / nI, sumP / nP
}

// stretch maps the crop's ink level (Otsu threshold t splits ink from
// paper) to black and its paper level to white, linearly, clipping.
func stretch(g *image.Gray, t uint8) *image.Gray {
	ink, paper := levels(g, t)
	out := image.NewGray(g.Bounds())
	span := math.Max(1, paper-ink)
	for i, p := range g.Pix {
		v := (float64(p) - ink) / span
		out.Pix[i] = uint8(math.Round(255 * math.Max(0, math.Min(1, v))))
	}
	return out
}

// thicken grows the ink of a black-on-white image by one pixel (a 3×3
// minimum).
func thicken(g *image.Gray) *image.Gray {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	out := image.NewGray(b)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m := uint8(255)
			for yy := max(0, y-1); yy <= min(h-1, y+1) && m > 0; yy++ {
				for xx := max(0, x-1); xx <= min(w-1, x+1); xx++ {
					m = min(m, g.Pix[yy*g.Stride+xx])
				}
			}
			out.Pix[y*out.Stride+x] = m
		}
	}
	return out
}

// padWidth centres g on a canvas w pixels wide filled with its paper
// level.
func padWidth(g *image.Gray, w int) *image.Gray {
	b := g.Bounds()
	if b.Dx() >= w {
		return g
	}
	_, paper := levels(g, otsu(g))
	out := image.NewGray(image.Rect(0, 0, w, b.Dy()))
	for i := range out.Pix {
		out.Pix[i] = uint8(math.Round(paper))
	}
	off := (w - b.Dx()) / 2
	for y := 0; y < b.Dy(); y++ {
		copy(out.Pix[y*out.Stride+off:], g.Pix[y*g.Stride:y*g.Stride+b.Dx()])
	}
	return out
}

// removeRules whitens long horizontal ink runs, much longer than a digit
// is wide: pen underlines and the frame of a stamp through a number. The
// vertical strokes of digits crossing a rule survive, split but readable.
func removeRules(g *image.Gray, textH int) bool {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	minRun := textH * 3 / 2 // digits are about half as wide as the text is high
	// A slanted or ragged rule: ink in this row or the ones next to it.
	band := make([]bool, w)
	var cut [][2]int // per row: runs to whiten, appended as y*w+x ranges
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			band[x] = false
			for dy := -1; dy <= 1; dy++ {
				if yy := y + dy; yy >= 0 && yy < h && g.Pix[yy*g.Stride+x] == 0 {
					band[x] = true
					break
				}
			}
		}
		x := 0
		for x < w {
			if !band[x] {
				x++
				continue
			}
			s := x
			for x < w && band[x] {
				x++
			}
			if x-s >= minRun {
				for dy := -1; dy <= 1; dy++ {
					if yy := y + dy; yy >= 0 && yy < h {
						cut = append(cut, [2]int{yy*g.Stride + s, yy*g.Stride + x})
					}
				}
			}
		}
	}
	for _, c := range cut {
		for i := c[0]; i < c[1]; i++ {
			g.Pix[i] = 255
		}
	}
	return len(cut) > 0
}

// removeSpecks whitens connected ink blobs too small to be part of a digit
// (dust, the dot of a pen mark) on a black-on-white image.
func removeSpecks(g *image.Gray, textH int) {
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	lim := max(2, textH/4)
	seen := make([]bool, w*h)
	var stack, blob []int
	for start := range seen {
		if seen[start] || g.Pix[(start/w)*g.Stride+start%w] != 0 {
			continue
		}
		seen[start] = true
		stack = append(stack[:0], start)
		blob = blob[:0]
		x0, x1, y0, y1 := w, -1, h, -1
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			blob = append(blob, p)
			x, y := p%w, p/w
			x0, x1, y0, y1 = min(x0, x), max(x1, x), min(y0, y), max(y1, y)
			for _, q := range [4][2]int{{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}} {
				if q[0] < 0 || q[0] >= w || q[1] < 0 || q[1] >= h {
					continue
				}
				k := q[1]*w + q[0]
				if !seen[k] && g.Pix[q[1]*g.Stride+q[0]] == 0 {
					seen[k] = true
					stack = append(stack, k)
				}
			}
		}
		if x1-x0 < lim && y1-y0 < lim {
			for _, p := range blob {
				g.Pix[(p/w)*g.Stride+p%w] = 255
			}
		}
	}
}

// otsu is the Otsu threshold of g's histogram.
func otsu(g *image.Gray) uint8 {
	var hist [256]int
	for _, p := range g.Pix {
		hist[p]++
	}
	total := len(g.Pix)
	var sum float64
	for i, c := range hist {
		sum += float64(i * c)
	}
	var sumB float64
	wB := 0
	best, bestT := -1.0, 128
	for t := 0; t < 256; t++ {
		wB += hist[t]
		if wB == 0 {
			continue
		}
		wF := total - wB
		if wF == 0 {
			break
		}
		sumB += float64(t * hist[t])
		mB := sumB / float64(wB)
		mF := (sum - sumB) / float64(wF)
		v := float64(wB) * float64(wF) * (mB - mF) * (mB - mF)
		if v > best {
			best, bestT = v, t
		}
	}
	return uint8(bestT)
}

// RecognitionVersion names the behaviour of the page pass and the second
// reads. Raise it whenever a change here or in the engine changes the
// pages recognised from the same scan: recognised pages kept by `sohoa
// eval --ocr-cache` are keyed by it.
const RecognitionVersion = "11" // 11: red seal dropped on colour pages before recognition, with 10: unreadable labelled IDs re-read from their place; 9: lines and crops crossed by coloured marks read from the colour-dropped page

// Lines under coloured marks. A red stamp or a pen stroke over printed
// text (a date of birth, a name) ruins the page read of the words it
// crosses, labels included, so no field is found there. On a colour page
// every line whose print such a mark crosses (colourSource) is recognised
// again, alone, from the page with the marks paled (ocr.ColourDropped), and
// that read replaces the line's words when it is clearly more confident.
// Lines holding an identity number are left alone: an ID's page read stays
// the grey page pass, and the digit re-reads that confirm it stay
// independent of it.

const (
	// maxRelines bounds the lines re-recognised per page.
	maxRelines = 8
	// maxRelineConf: a line read with at least this mean word confidence
	// is left as read, marks or not.
	maxRelineConf = 0.85
	// minRelineGain is how much higher the mean word confidence of a
	// line's colour-dropped read must be to replace its words.
	minRelineGain = 0.08
)

// relineColour re-recognises the lines of page crossed by coloured marks
// from col (the colour-dropped page, straightened like g) and replaces
// their words where the new read is clearly better (minRelineGain). It
// returns how many lines were replaced.
func (e *Engine) relineColour(g *image.Gray, col *colourPage, dpi int, page *ocr.Page) (int, error) {
	ws := page.Words
	th := textHeight(ws)
	if th == 0 || col == nil || col.bounds() != g.Bounds() {
		return 0, nil
	}
	var out []ocr.Word
	tried, replaced := 0, 0
	for i := 0; i < len(ws); {
		j := i
		for j+1 < len(ws) && ws[j+1].Line == ws[i].Line {
			j++
		}
		line := ws[i : j+1]
		out = append(out, line...)
		i = j + 1
		if tried >= maxRelines || meanConf(line) >= maxRelineConf || len(numberCandidates(line)) > 0 {
			continue
		}
		box := line[0].Box
		for _, w := range line[1:] {
			box = box.Union(w.Box)
		}
		r := image.Rect(box.Min.X-th/2, box.Min.Y-th/4, box.Max.X+th/2, box.Max.Y+th/4).Intersect(g.Bounds())
		if r.Empty() {
			continue
		}
		gc, cc := cropGray(g, r), cropGray(col.region(r), r)
		if !colourSource(gc, cc) {
			continue
		}
		tried++
		if e.rr == nil {
			rr, err := newRereader(e.opts)
			if err != nil {
				return replaced, err
			}
			e.rr = rr
		}
		start := now()
		nw, err := e.rr.readLine(cc, dpi)
		e.since(StageReread+"_colourline", start)
		if err != nil {
			return replaced, err
		}
		if len(nw) == 0 || len(numberCandidates(nw)) > 0 || meanConf(nw) < meanConf(line)+minRelineGain {
			continue
		}
		out = out[:len(out)-len(line)]
		for _, w := range nw {
			w.Box = w.Box.Add(r.Min)
			w.Block, w.Line = line[0].Block, line[0].Line
			out = append(out, w)
		}
		replaced++
	}
	page.Words = out
	return replaced, nil
}

// cropGray copies the r part of g into an image of its own, origin 0.
func cropGray(g *image.Gray, r image.Rectangle) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		copy(out.Pix[y*out.Stride:y*out.Stride+r.Dx()], g.Pix[g.PixOffset(r.Min.X, r.Min.Y+y):])
	}
	return out
}

func meanConf(ws []ocr.Word) float64 {
	if len(ws) == 0 {
		return 0
	}
	var s float64
	for _, w := range ws {
		s += w.Conf
	}
	return s / float64(len(ws))
}

// readLine recognises one line crop with the full character set and
// returns its words (boxes in the crop's coordinates).
func (r *rereader) readLine(g *image.Gray, dpi int) ([]ocr.Word, error) {
	if err := r.client.SetVariable("tessedit_char_whitelist", ""); err != nil {
		return nil, fmt.Errorf("reline: set whitelist: %w", err)
	}
	if err := r.client.SetImageFromBytes(encodeBMP(g, dpi)); err != nil {
		return nil, fmt.Errorf("reline: set image: %w", err)
	}
	if err := r.client.SetVariable("user_defined_dpi", strconv.Itoa(dpi)); err != nil {
		return nil, fmt.Errorf("reline: set dpi: %w", err)
	}
	boxes, err := r.client.GetBoundingBoxes(gosseract.RIL_WORD)
	if err != nil {
		return nil, fmt.Errorf("reline: recognise: %w", err)
	}
	var out []ocr.Word
	for _, b := range boxes {
		t := strings.TrimSpace(b.Word)
		if t == "" {
			continue
		}
		out = append(out, ocr.Word{Text: t, Conf: math.Max(0, math.Min(1, b.Confidence/100)), Box: b.Box})
	}
	return out, nil
}
