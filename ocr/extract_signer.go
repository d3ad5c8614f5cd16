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
//
// heads pairs "TM. X > Y": a block ending with "TM. X" (signing for the
// collective X) lost its head's title line Y under the seal. That line is
// the likeliest, not the only one (a deputy signs "TM. X / KT. Y / PHÓ Y"),
// so guessed reports it: the title's confidence then says it was not read.
func snapSignerTitles(lines []string, titles, heads []string) (out []string, guessed bool) {
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
		if bestScore == 0 {
			best = titleBySuffix(fl, titles)
		}
		if best != "" {
			out = append(out, best)
		}
	}
	if len(out) == 0 {
		return lines, false
	}
	// "KT. X" (signing on behalf of the head) is always followed by the
	// deputy's title: when that line was lost under the seal, it is "PHÓ X".
	if x, ok := strings.CutPrefix(out[len(out)-1], "KT. "); ok {
		out = append(out, "PHÓ "+x)
	}
	for _, h := range heads {
		if tm, head, ok := strings.Cut(h, " > "); ok && out[len(out)-1] == tm {
			out = append(out, head)
			guessed = true
			break
		}
	}
	// A deputy always signs on behalf of the head: "PHÓ X" alone means the
	// "KT. X" line above it was lost.
	if x, ok := strings.CutPrefix(out[0], "PHÓ "); ok {
		out = append([]string{"KT. " + x}, out...)
	}
	return out, guessed
}

// titleBySuffix returns the shortest known title whose folded form ends
// with the folded line fl, of eight characters or more: a title whose
// first letters were lost to the seal ("NG PHÒNG" → "TRƯỞNG PHÒNG"). "" when
// none does.
func titleBySuffix(fl string, titles []string) string {
	if len(fl) < 8 {
		return ""
	}
	best := ""
	for _, t := range titles {
		ft := foldText(t)
		if len(ft) > len(fl) && strings.HasSuffix(ft, fl) && (best == "" || len(t) < len(best)) {
			best = t
		}
	}
	return best
}

// signer reads the signer block: upper-case title lines in the right
// column below the body, and the printed name under them. Words left of
// the page middle (the applicant's box, "NGƯỜI LẬP PHIẾU") are ignored.
func (dc *docContext) signer() (title, name extracted, ok bool) {
	start := 0
	for _, it := range dc.items {
		// An unknown "label" is often seal or signature debris with a
		// colon-like mark before the name ("^u;Vũ Anh Cường").
		if it.key != "" {
			start = max(start, it.line+1)
		}
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
		// Without a title line read (seal and signature over it), a name
		// is taken only from a line of the right column, never from the
		// tail of a body line.
		if titleDone || (len(titles) == 0 && rightColumnLine(dc.lines[i])) {
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
		texts, guessed := snapSignerTitles(texts, dc.ls.vocabularies[signerTitleVocabulary], dc.ls.vocabularies[signerHeadVocabulary])
		title = extracted{value: strings.Join(texts, " "), conf: wordsConf(all)}
		if guessed {
			title.conf *= guessedLinePenalty
		}
		locate(&title, titlePage, titleWords)
	}
	if len(names) > 0 {
		// The printed name is the last name-like line of the block.
		n := names[len(names)-1]
		surnames := dc.ls.vocabularies[surnameVocabulary]
		n = dropSignerDebris(n, surnames)
		name = extracted{value: cleanValue(joinWords(n)), conf: wordsConf(n)}
		locate(&name, namePage, n)
		if v, changed := snapSurname(name.value, surnames); changed {
			name.value, name.conf = v, name.conf*vocabularyPenalty
		} else if v, changed := snapSurnameFuzzy(name.value, surnames); changed {
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
	// A surname glued to signature debris ("`ŠNguyễn") keeps its
	// name-like tail.
	if i > 0 && end-i < 6 {
		if tail := nameTail(trim(ws[i-1].Text)); tail != "" {
			i--
			ws = append([]Word(nil), ws...)
			ws[i].Text = tail
		}
	}
	out := make([]Word, 0, end-i)
	for _, w := range ws[i:end] {
		w.Text = trim(w.Text)
		out = append(out, w)
	}
	return out
}

// nameTail returns the longest name-like tail of at least two letters of a
// word that is not name-like itself ("ŠNguyễn" → "Nguyễn"), or "".
func nameTail(s string) string {
	rs := []rune(s)
	for k := 1; k+2 <= len(rs); k++ {
		if t := string(rs[k:]); isNameWord(t) {
			return t
		}
	}
	return ""
}

// dropSignerDebris drops a leading word of a printed name that is signature
// or seal debris read as a letter or two ("À Nguyễn Quốc Kiên", "Nà
// Nguyễn Thị Hà"): a word of one letter, or of two letters when three
// words remain, that is no surname while the next word is one.
func dropSignerDebris(ws []Word, surnames []string) []Word {
	if len(ws) < 3 {
		return ws
	}
	first := []rune(ws[0].Text)
	if len(first) > 2 || (len(first) == 2 && len(ws) < 4) {
		return ws
	}
	if isSurname(ws[0].Text, surnames) || !isSurname(ws[1].Text, surnames) {
		return ws
	}
	return ws[1:]
}

func isSurname(w string, surnames []string) bool {
	f := foldText(w)
	for _, s := range surnames {
		if foldText(s) == f {
			return true
		}
	}
	return false
}

// snapSurnameFuzzy corrects a misread first word of a name that is one
// edit from exactly one surname of six letters or more ("Nghyễn" →
// "Nguyễn"); shorter surnames are too close to given names ("Phương" is
// one edit from "Phùng", "Xuân" from "Quan") to guess.
func snapSurnameFuzzy(name string, surnames []string) (string, bool) {
	first, rest, _ := strings.Cut(name, " ")
	if first == "" || rest == "" || isSurname(first, surnames) {
		return name, false
	}
	f := foldText(first)
	match := ""
	for _, s := range surnames {
		fs := foldText(s)
		if len([]rune(fs)) < 6 || editDistance(f, fs) != 1 {
			continue
		}
		if match != "" && match != s {
			return name, false
		}
		match = s
	}
	if match == "" {
		return name, false
	}
	return match + " " + rest, true
}

// rightColumnLine reports whether a line lies in the right column: no word
// of it sits between a quarter and nearly half the page width, where body
// lines run. Lines of unknown geometry are not.
func rightColumnLine(l textLine) bool {
	if !l.geometric() {
		return false
	}
	w := float64(l.width)
	for _, s := range l.segs {
		for _, wd := range s.words {
			if x := xCentre(wd); x > 0.25*w && x < 0.45*w {
				return false
			}
		}
	}
	return true
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
