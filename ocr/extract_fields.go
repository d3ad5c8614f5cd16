// This file owns reading the labelled fields of one document: its parsed
// lines, the bounds of a field, wrapped values and normalisation by kind.

package ocr

import (
	"sort"
	"strings"
	"unicode"
)

// docContext holds one document's parsed lines while its fields are read.
type docContext struct {
	lines []textLine
	items []labelItem
	// itemAt marks lines holding at least one label.
	itemAt map[int]bool
	title  int
	ls     *Layouts
	layout *Layout
}

func newDocContext(d *docPages, ls *Layouts, l *Layout) *docContext {
	dc := &docContext{lines: d.allLines(), title: d.title, ls: ls, layout: l, itemAt: map[int]bool{}}
	for i, line := range dc.lines {
		for si, seg := range line.segs {
			its := ls.parseSegment(i, si, seg, si == len(line.segs)-1)
			for _, it := range its {
				dc.itemAt[i] = true
				dc.items = append(dc.items, it)
			}
		}
	}
	return dc
}

// markerLine finds the first line starting with a folded marker, -1 if none.
func (dc *docContext) markerLine(marker string) int {
	fm := foldText(marker)
	n := len(strings.Fields(fm))
	for i, line := range dc.lines {
		for _, seg := range line.segs {
			ws := splitColonWords(seg.words)
			k := 0
			for k < len(ws) && numberingRe.MatchString(ws[k].Text) {
				k++
			}
			if len(ws)-k < 2 {
				continue
			}
			if fuzzyScore(foldWords(ws[k:min(len(ws), k+n)]), fm) > 0 {
				return i
			}
		}
	}
	return -1
}

// fieldItem picks the item for a label field within its bounds.
func (dc *docContext) fieldItem(f *FieldSpec) (labelItem, bool) {
	lo, hi := 0, len(dc.lines)
	if f.After != "" {
		m := dc.markerLine(f.After)
		if m < 0 {
			return labelItem{}, false
		}
		lo = m + 1
	}
	if f.Before != "" {
		if m := dc.markerLine(f.Before); m >= 0 {
			hi = m
		}
	}
	if f.Region == "header" && dc.title >= 0 {
		hi = min(hi, dc.title)
	}
	for _, it := range dc.items {
		if it.line < lo || it.line >= hi {
			continue
		}
		for _, fl := range f.folded {
			if it.key == fl {
				return it, true
			}
		}
	}
	return labelItem{}, false
}

// continuation appends wrapped lines to a multiline value.
func (dc *docContext) continuation(it labelItem) []Word {
	if !it.lastSeg {
		return nil
	}
	var extra []Word
	cur := it.line
	for k := 0; k < 2; k++ {
		next := cur + 1
		if next >= len(dc.lines) || dc.itemAt[next] || dc.lines[next].page != dc.lines[cur].page {
			break
		}
		if !dc.wrapped(cur) {
			break
		}
		nl := dc.lines[next]
		if !nl.leftColumn(0) {
			break
		}
		seg := nl.segs[0]
		f := foldText(seg.text())
		if dc.stopPhrase(f) || f == "" || dc.ls.startsLikeLabel(f) {
			break
		}
		if r, letters := upperRatio(seg.text()); letters > 3 && r > 0.9 && !allUpperValue(it) {
			break
		}
		extra = append(extra, seg.words...)
		cur = next
	}
	return extra
}

// allUpperValue reports whether a value is printed in capitals (so that an
// upper-case continuation line is plausible).
func allUpperValue(it labelItem) bool {
	r, letters := upperRatio(it.value())
	return letters > 3 && r > 0.9
}

func (dc *docContext) stopPhrase(folded string) bool {
	for _, p := range dc.layout.StopPhrases {
		if folded == p || strings.HasPrefix(folded, p+" ") {
			return true
		}
	}
	return false
}

// wrapped reports whether a line reaches the right margin, i.e. its text
// was likely wrapped onto the next line.
func (dc *docContext) wrapped(i int) bool {
	line := dc.lines[i]
	if line.geometric() {
		// The body's right margin: a high percentile of line ends, robust
		// to debris printed beyond it.
		var rights []int
		for _, l := range dc.lines {
			if l.page == line.page && l.geometric() {
				rights = append(rights, l.segs[len(l.segs)-1].x1)
			}
		}
		sort.Ints(rights)
		right := rights[len(rights)*9/10]
		return float64(line.segs[len(line.segs)-1].x1) >= 0.75*float64(right)
	}
	longest := 0
	for _, l := range dc.lines {
		longest = max(longest, len([]rune(l.text())))
	}
	return float64(len([]rune(line.text()))) >= 0.7*float64(longest)
}

// labelField extracts and normalises one labelled field.
func (dc *docContext) labelField(f *FieldSpec) (extracted, bool) {
	it, ok := dc.fieldItem(f)
	if !ok {
		return extracted{}, false
	}
	return dc.itemValue(f, it)
}

// itemValue normalises the value of item it as field f.
func (dc *docContext) itemValue(f *FieldSpec, it labelItem) (extracted, bool) {
	words := it.words
	if f.Multiline {
		words = append(append([]Word(nil), words...), dc.continuation(it)...)
	}
	raw := joinWords(words)
	ex := extracted{conf: wordsConf(words) * it.score}
	if len(words) == 0 {
		return extracted{}, false
	}
	// A continuation stays on its label's page (see continuation).
	locate(&ex, dc.lines[it.line].page, words)
	switch f.Kind {
	case kindName:
		ex.value = normalizeName(raw)
		if v, changed := snapSurname(ex.value, dc.ls.vocabularies[surnameVocabulary]); changed {
			ex.value = v
			ex.conf *= vocabularyPenalty
		}
	case kindDate:
		v, rep, ok := normalizeDate(raw)
		if !ok {
			ex.value, ex.invalid = cleanValue(raw), true
		} else {
			ex.value, ex.repairs = v, rep
		}
		if reads, weak := dateReads(words); len(reads)+len(weak) > 0 {
			d := resolveDateReads(v, ok, ex.conf, reads, weak)
			switch {
			case d.confirmed && !ok:
				// Replaced: the page read's repairs no longer apply.
				ex.value, ex.invalid, ex.repairs, ex.conf = d.value, false, 0, d.conf
			case d.confirmed:
				ex.conf = d.conf
			case d.disagree:
				ex.value, ex.readsDisagree = d.value, true
				ex.alternatives, ex.settleable = d.alternatives, d.settleable
			}
		}
	case kindID:
		pid, ok := ParseID(raw)
		if !ok || len(pid.Digits) < minReadDigits {
			if id, agreed := idFromReads(words); agreed {
				// Only the second reads hold a number: never accepted.
				ex.value, ex.conf, ex.readings = id, 0, []string{id}
				break
			}
		}
		if !ok {
			return extracted{}, false
		}
		ex.value, ex.repairs = pid.Digits, pid.Repairs
		// Judge the ID by the words that made it, not trailing debris.
		ex.conf = idWordsConf(words) * it.score
		ex.reads = secondReads(words)
		ex.readConfs = secondReadConfs(words)
	case kindSex:
		v, ok := normalizeSex(raw)
		if !ok {
			ex.value, ex.conf = cleanValue(raw), ex.conf*0.5
		} else {
			ex.value = v
		}
	case kindToken:
		fs := strings.Fields(cleanValue(raw))
		if len(fs) == 0 {
			return extracted{}, false
		}
		ex.value = normalizeReference(fs[0])
	case kindAddress:
		v, snapped := normalizeAddress(raw, dc.ls.provinceNames())
		ex.value = v
		if snapped {
			ex.conf *= vocabularyPenalty
		}
	case kindPhone:
		pid, ok := ParseID(raw)
		if !ok {
			return extracted{}, false
		}
		ex.value, ex.repairs = pid.Digits, pid.Repairs
	default:
		ex.value = cleanValue(raw)
		if v, changed := snapPhrases(ex.value, dc.ls.vocabularies[phraseVocabulary]); changed {
			ex.value = v
		}
		if f.Vocabulary != "" {
			if v, changed, ok := snapVocabulary(ex.value, dc.ls.vocabularies[f.Vocabulary]); ok {
				ex.value = v
				if changed {
					ex.conf *= vocabularyPenalty
				}
			}
		}
	}
	if f.pattern != nil {
		m := f.pattern.FindStringSubmatch(ex.value)
		if m == nil {
			return extracted{}, false
		}
		ex.value = m[len(m)-1]
	}
	ex.readConf = ex.conf
	for i := 0; i < ex.repairs; i++ {
		ex.conf *= repairPenalty
	}
	return ex, ex.value != ""
}

// idWordsConf is the lowest confidence among the words holding digits:
// one doubtful digit group makes the whole ID doubtful.
func idWordsConf(ws []Word) float64 {
	lowest, any := 1.0, false
	for _, w := range ws {
		if strings.IndexFunc(w.Text, unicode.IsDigit) < 0 {
			continue
		}
		any = true
		lowest = min(lowest, w.Conf)
	}
	if !any {
		return wordsConf(ws)
	}
	return lowest
}

func joinWords(ws []Word) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}
