// This file owns finding "Label: value" items on a line: colon splitting,
// fuzzy label matching, debris before a label and labels whose colon OCR
// dropped.

package ocr

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// labelItem is one "Label: value" found on a line.
type labelItem struct {
	line    int    // index into the document's lines
	seg     int    // segment index
	key     string // canonical folded label ("" for an unknown label)
	score   float64
	words   []Word // value words
	lastSeg bool   // the value runs to the end of its line
}

func (it labelItem) value() string {
	parts := make([]string, len(it.words))
	for i, w := range it.words {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

var numberingRe = regexp.MustCompile(`^(\d{1,2}|[lIO]\d?|\d[lIO])[.)]?$|^[-–•*+]$`)

// splitColonWords splits words so that a colon ends a word: "tên:PHẠM"
// becomes "tên:" and "PHẠM". A semicolon right after a word is read as a
// colon (a frequent OCR confusion).
func splitColonWords(ws []Word) []Word {
	out := make([]Word, 0, len(ws))
	for _, w := range ws {
		t := strings.Replace(w.Text, ";", ":", 1)
		for {
			i := strings.IndexByte(t, ':')
			if i < 0 || i == len(t)-1 {
				break
			}
			head := w
			head.Text = t[:i+1]
			out = append(out, head)
			t = t[i+1:]
		}
		w.Text = t
		if w.Text != "" {
			out = append(out, w)
		}
	}
	return out
}

func isColonWord(w Word) bool { return strings.HasSuffix(w.Text, ":") }

// matchLabel finds the known label closest to a folded candidate.
func (ls *Layouts) matchLabel(cand string) (string, float64) {
	if cand == "" {
		return "", 0
	}
	best, bestScore := "", 0.0
	n := utf8.RuneCountInString(cand)
	for _, k := range ls.labelKeys {
		// Length difference bounds the edit distance from below (folded
		// keys are ASCII), so most keys are skipped without computing it.
		if d := n - len(k); d > fuzzyTolerance(len(k)) || -d > fuzzyTolerance(len(k)) {
			continue
		}
		if sc := fuzzyScore(cand, k); sc > bestScore {
			best, bestScore = k, sc
		}
	}
	return best, bestScore
}

func foldWords(ws []Word) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Text
	}
	return foldText(strings.Join(parts, " "))
}

// maxLabelWords bounds the words a label can span.
const maxLabelWords = 14

// parseSegment finds the labelled values in one segment.
func (ls *Layouts) parseSegment(lineIdx, segIdx int, seg textSegment, lastSeg bool) []labelItem {
	ws := splitColonWords(seg.words)
	start := 0
	for start < len(ws) && numberingRe.MatchString(ws[start].Text) {
		start++
	}
	var items []labelItem
	var colons []int
	for i := start; i < len(ws); i++ {
		if isColonWord(ws[i]) {
			colons = append(colons, i)
		}
	}
	if len(colons) == 0 {
		if it, ok := ls.prefixLabel(ws[start:]); ok {
			it.line, it.seg, it.lastSeg = lineIdx, segIdx, lastSeg
			items = append(items, it)
		}
		return items
	}
	prevEnd := start // first word of the current label
	var cur *labelItem
	for ci := 0; ci < len(colons); ci++ {
		c := colons[ci]
		if cur == nil {
			cand := ws[prevEnd : c+1]
			key, sc := "", 0.0
			if len(cand) <= maxLabelWords {
				key, sc = ls.matchLabel(foldWords(cand))
			}
			// A stray colon inside the label ("Họ,:chữ đệm, tên:", a
			// semicolon read for a comma): the label runs to the next
			// colon when that makes a better match.
			if sc < 1 && ci+1 < len(colons) {
				if ext := ws[prevEnd : colons[ci+1]+1]; len(ext) <= maxLabelWords {
					if k2, s2 := ls.matchLabel(foldWords(ext)); s2 > sc {
						key, sc = k2, s2
						ci++
						c = colons[ci]
					}
				}
			}
			if sc == 0 {
				// Debris before the label (a stamp over the line): the
				// label is the longest known suffix before the colon.
				if n, k, s := ls.suffixLabel(ws, prevEnd, c); n > 0 {
					key, sc = k, s
				} else if len(cand) > maxLabelWords {
					return items
				}
			}
			cur = &labelItem{line: lineIdx, seg: segIdx, key: key, score: sc}
			if sc == 0 {
				cur.key = ""
			}
			prevEnd = c + 1
			continue
		}
		// A later colon: the label is the last n words before it.
		bestN, bestKey, bestScore := ls.suffixLabel(ws, prevEnd, c)
		if bestScore == 0 {
			continue // a colon inside the value
		}
		valEnd := c - bestN + 1
		cur.words = trimNumbering(ws[prevEnd:valEnd])
		items = append(items, *cur)
		cur = &labelItem{line: lineIdx, seg: segIdx, key: bestKey, score: bestScore}
		prevEnd = c + 1
	}
	if cur != nil {
		cur.words = ws[prevEnd:]
		cur.lastSeg = lastSeg
		items = append(items, *cur)
	}
	return items
}

// suffixLabel finds the known label made of the last n words before the
// colon word at c (not reaching before lo). It returns n = 0 when none.
func (ls *Layouts) suffixLabel(ws []Word, lo, c int) (int, string, float64) {
	bestN, bestKey, bestScore := 0, "", 0.0
	for n := 1; n <= min(maxLabelWords, c-lo+1); n++ {
		if key, sc := ls.matchLabel(foldWords(ws[c-n+1 : c+1])); sc > bestScore || (sc == bestScore && sc > 0 && n > bestN) {
			bestN, bestKey, bestScore = n, key, sc
		}
	}
	return bestN, bestKey, bestScore
}

// trimNumbering drops a trailing item number ("… 1989 3.") from a value.
func trimNumbering(ws []Word) []Word {
	for len(ws) > 0 && numberingRe.MatchString(ws[len(ws)-1].Text) {
		ws = ws[:len(ws)-1]
	}
	return ws
}

// prefixLabel matches a known multi-word label at the start of words whose
// colon OCR dropped.
func (ls *Layouts) prefixLabel(ws []Word) (labelItem, bool) {
	best := labelItem{}
	bestN := 0
	for _, k := range ls.labelKeys {
		kn := len(strings.Fields(k))
		if kn < 2 || len(k) < 8 {
			continue
		}
		for n := max(1, kn-1); n <= min(len(ws)-1, kn+1); n++ {
			sc := fuzzyScore(foldWords(ws[:n]), k)
			if sc >= 0.75 && sc*labelNoColonPenalty > best.score {
				best = labelItem{key: k, score: sc * labelNoColonPenalty}
				bestN = n
			}
		}
	}
	if bestN == 0 {
		return labelItem{}, false
	}
	best.words = ws[bestN:]
	return best, true
}

// startsLikeLabel reports whether a folded line starts with the first
// three words of a known label of three words or more: such a line is a
// label whose colon or tail OCR mangled, never a wrapped value.
func (ls *Layouts) startsLikeLabel(folded string) bool {
	fw := strings.Fields(folded)
	if len(fw) < 3 {
		return false
	}
	head := strings.Join(fw[:3], " ")
	for _, k := range ls.labelKeys {
		kw := strings.Fields(k)
		if len(kw) >= 3 && strings.Join(kw[:3], " ") == head {
			return true
		}
	}
	return false
}
