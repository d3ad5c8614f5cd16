// This file owns the signer block: the signer's title lines and printed
// name in the right column below the body.

package ocr

import (
	"strings"
	"unicode"
)

// snapSignerTitles maps each signer-title line onto the known titles within
// the fuzzy tolerance. When some lines match, unmatched lines (seal and
// signature debris) are dropped; when none does, the lines are kept as read
// (an unknown title). "KT. X" (signing on behalf) is followed by the
// deputy's title "PHÓ X": a mangled line after it that reads like that, or
// ends with X, is taken as "PHÓ X".
func snapSignerTitles(lines []string, titles []string) []string {
	var out []string
	for _, l := range lines {
		fl := foldText(l)
		if n := len(out); n > 0 && strings.HasPrefix(out[n-1], "KT. ") {
			x := strings.TrimPrefix(out[n-1], "KT. ")
			fx := foldText(x)
			if fuzzyScore(fl, "pho "+fx) > 0 || (strings.HasSuffix(fl, fx) && len(fl) <= len(fx)+5) {
				out = append(out, "PHÓ "+x)
				continue
			}
		}
		best, bestScore := "", 0.0
		for _, t := range titles {
			if sc := fuzzyScore(fl, foldText(t)); sc > bestScore {
				best, bestScore = t, sc
			}
		}
		if bestScore > 0 {
			out = append(out, best)
		}
	}
	if len(out) == 0 {
		return lines
	}
	// A deputy always signs on behalf of the head: "PHÓ X" alone means the
	// "KT. X" line above it was lost.
	if x, ok := strings.CutPrefix(out[0], "PHÓ "); ok {
		out = append([]string{"KT. " + x}, out...)
	}
	return out
}

// signer reads the signer block: upper-case title lines in the right
// column below the body, and the printed name under them. Words left of
// the page middle (the applicant's box, "NGƯỜI LẬP PHIẾU") are ignored.
func (dc *docContext) signer() (title, name extracted, ok bool) {
	start := 0
	for _, it := range dc.items {
		start = max(start, it.line+1)
	}
	if dc.title >= 0 {
		start = max(start, dc.title+1)
	}
	var titles [][]Word
	var names [][]Word
	var titlePage, namePage int
	var titleWords []Word // the title's words on titlePage
	inTitle, titleDone := false, false
	for i := start; i < len(dc.lines); i++ {
		ws := rightWords(dc.lines[i])
		if len(ws) == 0 {
			continue
		}
		t := joinWords(ws)
		r, letters := upperRatio(t)
		if !titleDone && letters >= 2 && r >= 0.85 && upperHeading(ws) != "" {
			inTitle = true
			if len(titles) == 0 {
				titlePage = dc.lines[i].page
			}
			if dc.lines[i].page == titlePage {
				titleWords = append(titleWords, ws...)
			}
			titles = append(titles, ws)
			continue
		}
		if inTitle {
			titleDone = true
		}
		if titleDone {
			if nm := trailingName(ws); len(nm) >= 2 {
				names = append(names, nm)
				namePage = dc.lines[i].page
			}
		}
	}
	if len(titles) > 0 {
		var texts []string
		var all []Word
		for _, ws := range titles {
			texts = append(texts, upperHeading(ws))
			all = append(all, ws...)
		}
		texts = snapSignerTitles(texts, dc.ls.vocabularies[signerTitleVocabulary])
		title = extracted{value: strings.Join(texts, " "), conf: wordsConf(all)}
		locate(&title, titlePage, titleWords)
	}
	if len(names) > 0 {
		// The printed name is the last name-like line of the block.
		n := names[len(names)-1]
		name = extracted{value: cleanValue(joinWords(n)), conf: wordsConf(n)}
		locate(&name, namePage, n)
		if v, changed := snapSurname(name.value, dc.ls.vocabularies[surnameVocabulary]); changed {
			name.value, name.conf = v, name.conf*vocabularyPenalty
		}
	}
	return title, name, len(titles) > 0 || len(names) > 0
}

// rightWords returns the words of a line lying right of the page middle
// (all words when positions are unknown).
func rightWords(l textLine) []Word {
	var out []Word
	for _, s := range l.segs {
		for _, w := range s.words {
			if !l.geometric() || xCentre(w) > 0.45*float64(l.width) {
				out = append(out, w)
			}
		}
	}
	return out
}

// trailingName returns the trailing run of capitalised words ("Phạm Diệu
// Anh") of a line, skipping debris before it. Punctuation stuck to a word
// by the signature ink ("_%Ñguyễn") is trimmed.
func trailingName(ws []Word) []Word {
	trim := func(s string) string {
		return strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	}
	end := len(ws)
	for end > 0 && trim(ws[end-1].Text) == "" {
		end--
	}
	i := end
	for i > 0 && isNameWord(trim(ws[i-1].Text)) {
		i--
	}
	if end-i < 2 || end-i > 6 {
		return nil
	}
	out := make([]Word, 0, end-i)
	for _, w := range ws[i:end] {
		w.Text = trim(w.Text)
		out = append(out, w)
	}
	return out
}

func isNameWord(s string) bool {
	rs := []rune(s)
	if len(rs) < 1 || !unicode.IsUpper(rs[0]) {
		return false
	}
	for _, r := range rs[1:] {
		if !unicode.IsLower(r) {
			return false
		}
	}
	return true
}
