package ocr

import (
	"sort"
	"strings"
	"unicode"
)

// textSegment is a run of words on one line, separated from its neighbours
// by a wide gap (a column gutter or the spaces between two labelled fields).
type textSegment struct {
	words []Word // the words; synthetic (no boxes) when built from Page.Text
	x0    int    // left edge in pixels, -1 when unknown
	x1    int
}

func (s textSegment) text() string {
	parts := make([]string, len(s.words))
	for i, w := range s.words {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

// textLine is one recognised line of a page, split into segments.
type textLine struct {
	page  int // 1-based page number
	segs  []textSegment
	width int // page width in pixels, 0 when unknown
}

func (l textLine) text() string {
	parts := make([]string, len(l.segs))
	for i, s := range l.segs {
		parts[i] = s.text()
	}
	return strings.Join(parts, "   ")
}

// geometric reports whether segment positions are known.
func (l textLine) geometric() bool { return l.width > 0 && len(l.segs) > 0 && l.segs[0].x0 >= 0 }

// leftColumn reports whether a segment starts in the left part of the page.
func (l textLine) leftColumn(i int) bool {
	if !l.geometric() {
		return true
	}
	s := l.segs[i]
	return float64(s.x0+s.x1)/2 < 0.5*float64(l.width)
}

// pageLines rebuilds a page's visual lines from its words. The engine's
// lines are kept as units, but lines at the same height (two header
// columns, a field and its neighbour) are merged and all are ordered top to
// bottom after removing the residual skew, because the engine's block order
// does not always follow the page. Each line is split into segments where
// the gap between two words exceeds twice the median word height. Without
// words it falls back to Page.Text, splitting segments on three spaces.
func pageLines(p Page) []textLine {
	if len(p.Words) == 0 {
		return textPageLines(p)
	}
	groups := map[int][]Word{}
	var order []int
	var heights []int
	width := p.Width
	for _, w := range p.Words {
		if strings.TrimSpace(w.Text) == "" {
			continue
		}
		if _, ok := groups[w.Line]; !ok {
			order = append(order, w.Line)
		}
		groups[w.Line] = append(groups[w.Line], w)
		if len([]rune(w.Text)) >= 2 {
			heights = append(heights, w.Box.Dy())
		}
		width = max(width, w.Box.Max.X)
	}
	if len(order) == 0 {
		return nil
	}
	sort.Ints(order)
	medH := 30
	if len(heights) > 0 {
		sort.Ints(heights)
		medH = max(heights[len(heights)/2], 4)
	}
	slope := residualSlope(groups, medH)
	type unit struct {
		y     float64 // skew-corrected vertical centre
		words []Word
	}
	units := make([]unit, 0, len(order))
	for _, li := range order {
		ws := groups[li]
		var sum float64
		for _, w := range ws {
			sum += yCentre(w) - slope*xCentre(w)
		}
		units = append(units, unit{y: sum / float64(len(ws)), words: ws})
	}
	sort.SliceStable(units, func(i, j int) bool { return units[i].y < units[j].y })
	var merged []unit
	for _, u := range units {
		if n := len(merged); n > 0 && u.y-merged[n-1].y < 0.5*float64(medH) && !overlapsX(merged[n-1].words, u.words) {
			m := &merged[n-1]
			k := float64(len(m.words))
			m.y = (m.y*k + u.y*float64(len(u.words))) / (k + float64(len(u.words)))
			m.words = append(m.words, u.words...)
			continue
		}
		merged = append(merged, unit{y: u.y, words: append([]Word(nil), u.words...)})
	}
	gap := 2 * medH
	lines := make([]textLine, 0, len(merged))
	for _, u := range merged {
		ws := readingOrder(u.words)
		line := textLine{page: p.Number, width: width}
		cur := textSegment{x0: ws[0].Box.Min.X}
		for i, w := range ws {
			// Glue a word the engine split across two of its lines
			// ("p" + "hường"): the pieces touch.
			if n := len(cur.words); n > 0 && w.Box.Min.X-cur.x1 <= medH/8 && w.Box.Min.X >= cur.x1-1 {
				last := &cur.words[n-1]
				last.Text += w.Text
				last.Conf = min(last.Conf, w.Conf)
				last.Box = last.Box.Union(w.Box)
				cur.x1 = max(cur.x1, w.Box.Max.X)
				continue
			}
			if i > 0 && w.Box.Min.X-cur.x1 > gap {
				line.segs = append(line.segs, cur)
				cur = textSegment{x0: w.Box.Min.X}
			}
			cur.words = append(cur.words, w)
			cur.x1 = max(cur.x1, w.Box.Max.X)
		}
		line.segs = append(line.segs, cur)
		lines = append(lines, line)
	}
	return lines
}

// readingOrder orders the words of one visual line: the engine's lines
// left to right by their leftmost word, each line's words in the engine's
// order. Within one of its lines the engine reads left to right; a word box
// inflated by a pen stroke or a stamp through it can start left of the
// words before it ("năm sinh: 25/07/2002" with an underline), and sorting
// such a box by its left edge would put the value before its label.
func readingOrder(ws []Word) []Word {
	type run struct {
		x     int
		words []Word
	}
	var runs []run
	at := map[int]int{}
	for _, w := range ws {
		i, ok := at[w.Line]
		if !ok {
			i = len(runs)
			at[w.Line] = i
			runs = append(runs, run{x: w.Box.Min.X}) // placed by its first word
		}
		runs[i].words = append(runs[i].words, w)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].x < runs[j].x })
	out := make([]Word, 0, len(ws))
	for _, r := range runs {
		out = append(out, r.words...)
	}
	return out
}

func yCentre(w Word) float64 { return float64(w.Box.Min.Y+w.Box.Max.Y) / 2 }
func xCentre(w Word) float64 { return float64(w.Box.Min.X+w.Box.Max.X) / 2 }

// overlapsX reports whether two word runs overlap horizontally by more
// than a third of the narrower word (then they are different lines, not
// two parts of one line). Small overlaps come from inflated boxes of words
// under stamps.
func overlapsX(a, b []Word) bool {
	for _, wa := range a {
		for _, wb := range b {
			ov := min(wa.Box.Max.X, wb.Box.Max.X) - max(wa.Box.Min.X, wb.Box.Min.X)
			if ov > 0 && 3*ov > min(wa.Box.Dx(), wb.Box.Dx()) {
				return true
			}
		}
	}
	return false
}

// residualSlope estimates the text baseline slope (dy/dx) from the engine's
// lines of three or more words, as the median over lines.
func residualSlope(groups map[int][]Word, medH int) float64 {
	var slopes []float64
	for _, ws := range groups {
		if len(ws) < 3 {
			continue
		}
		first, last := ws[0], ws[len(ws)-1]
		for _, w := range ws {
			if w.Box.Min.X < first.Box.Min.X {
				first = w
			}
			if w.Box.Min.X > last.Box.Min.X {
				last = w
			}
		}
		dx := xCentre(last) - xCentre(first)
		if dx < float64(4*medH) {
			continue
		}
		slopes = append(slopes, (float64(last.Box.Max.Y)-float64(first.Box.Max.Y))/dx)
	}
	if len(slopes) == 0 {
		return 0
	}
	sort.Float64s(slopes)
	return slopes[len(slopes)/2]
}

func textPageLines(p Page) []textLine {
	var lines []textLine
	for _, raw := range strings.Split(p.Text, "\n") {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		line := textLine{page: p.Number}
		for _, part := range splitWideSpaces(raw) {
			seg := textSegment{x0: -1, x1: -1}
			for _, f := range strings.Fields(part) {
				seg.words = append(seg.words, Word{Text: f, Conf: p.Confidence})
			}
			if len(seg.words) > 0 {
				line.segs = append(line.segs, seg)
			}
		}
		if len(line.segs) > 0 {
			lines = append(lines, line)
		}
	}
	return lines
}

// splitWideSpaces splits s at runs of three or more spaces.
func splitWideSpaces(s string) []string {
	var parts []string
	start, spaces := 0, 0
	for i, r := range s {
		if r == ' ' || r == '\t' {
			spaces++
			continue
		}
		if spaces >= 3 && strings.TrimSpace(s[start:i]) != "" {
			parts = append(parts, s[start:i])
			start = i
		}
		spaces = 0
	}
	return append(parts, s[start:])
}

// upperRatio is the share of upper-case letters among the letters of s,
// and the number of letters.
func upperRatio(s string) (float64, int) {
	letters, upper := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	if letters == 0 {
		return 0, 0
	}
	return float64(upper) / float64(letters), letters
}
