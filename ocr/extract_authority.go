// This file owns the issuing authority read from the document header: the
// left-column heading above the title, its administrative terms and its
// place name.

package ocr

import (
	"sort"
	"strings"
)

// headerLines returns the left-column header segments above the title.
func (dc *docContext) headerSegments() []textSegment {
	end := dc.title
	if end < 0 {
		end = min(len(dc.lines), 6)
	}
	var out []textSegment
	for i := 0; i < end && i < len(dc.lines); i++ {
		line := dc.lines[i]
		for si, seg := range line.segs {
			if line.geometric() && !line.leftColumn(si) {
				continue
			}
			t := cutAtMotto(seg)
			if len(t.words) == 0 {
				continue
			}
			f := foldKeep(t.text(), ":")
			if strings.HasPrefix(f, "so:") || f == "so" || wordDateRe.MatchString(foldText(f)) {
				continue
			}
			if r, letters := upperRatio(t.text()); letters < 3 || r < 0.8 {
				continue
			}
			out = append(out, t)
		}
	}
	return out
}

// cutAtMotto drops the national motto and anything after it from a
// segment that OCR merged across the two header columns.
func cutAtMotto(seg textSegment) textSegment {
	for i := range seg.words {
		rest := foldWords(seg.words[i:min(len(seg.words), i+3)])
		if strings.HasPrefix(rest, "cong hoa xa") || strings.HasPrefix(rest, "doc lap") ||
			i > 0 && strings.HasPrefix(foldKeep(seg.words[i].Text, ":"), "so:") {
			seg.words = seg.words[:i]
			break
		}
	}
	// Drop trailing debris such as "-_".
	for len(seg.words) > 0 {
		if _, letters := upperRatio(seg.words[len(seg.words)-1].Text); letters > 0 {
			break
		}
		seg.words = seg.words[:len(seg.words)-1]
	}
	return seg
}

// authority builds issuing_authority from the header per the layout rule.
func (dc *docContext) authority() (extracted, bool) {
	segs := dc.headerSegments()
	if len(segs) == 0 {
		return extracted{}, false
	}
	texts := make([]string, len(segs))
	var words []Word
	terms := dc.ls.vocabularies[authorityTermVocabulary]
	for i, s := range segs {
		texts[i] = dc.consensusPlace(snapLeadingTerms(upperHeading(s.words), terms), terms)
		words = append(words, s.words...)
	}
	rule := dc.layout.Authority
	parent := ""
	if len(texts) >= 2 {
		f := foldText(texts[0])
		for _, p := range rule.ParentPrefixes {
			if fp := foldText(p); f == fp || strings.HasPrefix(f, fp+" ") {
				parent = p
				break
			}
		}
	}
	var v string
	switch {
	case rule.Mode == "drop_parent" && parent != "":
		v = strings.Join(texts[1:], " ")
	case rule.Mode == "agency_then_place" && parent != "":
		place := strings.TrimSpace(dropWords(texts[0], len(strings.Fields(foldText(parent)))))
		v = strings.Join(append(texts[1:], place), " ")
	default:
		v = strings.Join(texts, " ")
	}
	ex := extracted{value: v, conf: wordsConf(words)}
	// The header is on the document's first page.
	locate(&ex, dc.lines[0].page, words)
	return ex, v != ""
}

// upperHeading joins the words of an upper-case heading line, dropping
// debris OCR leaves around it: words with lower-case letters or without
// letters (except the "-" of "TÀI CHÍNH - KẾ HOẠCH"), stray punctuation.
func upperHeading(ws []Word) string {
	var parts []string
	for _, w := range ws {
		t := fixForeignMarks(strings.Trim(w.Text, "~`'\"_=|,;:«»“”()"))
		if t == "-" || t == "–" {
			parts = append(parts, "-")
			continue
		}
		r, letters := upperRatio(t)
		if letters == 0 || r < 1 {
			continue
		}
		parts = append(parts, t)
	}
	for len(parts) > 0 && parts[len(parts)-1] == "-" {
		parts = parts[:len(parts)-1]
	}
	for len(parts) > 0 && parts[0] == "-" {
		parts = parts[1:]
	}
	return strings.TrimRight(strings.Join(parts, " "), ".")
}

// consensusPlace re-reads the place name of an authority line ("PHƯỜNG
// NGHIA ĐÔ") from the other places the same name is printed in the
// document (the place/date line, addresses: "Nghĩa Đô"). Those are
// independent OCR reads, mostly in lower case, which OCR gets right more
// often than capitals. The spelling read most often wins; the header's own
// reading loses ties.
func (dc *docContext) consensusPlace(line string, terms []string) string {
	words := strings.Fields(line)
	// Skip the leading administrative terms, already in canonical form.
	i := 0
	for i < len(words) {
		skipped := false
		for _, t := range terms {
			tw := strings.Fields(t)
			if i+len(tw) <= len(words) && strings.Join(words[i:i+len(tw)], " ") == t {
				i += len(tw)
				skipped = true
				break
			}
		}
		if !skipped {
			break
		}
	}
	place := words[i:]
	if len(place) == 0 || len(place) > 4 {
		return line
	}
	fp := foldText(strings.Join(place, " "))
	if len(fp) < 4 {
		return line
	}
	k := len(place)
	votes := map[string]int{}
	for li, l := range dc.lines {
		for _, seg := range l.segs {
			// The header's capitals are the read in doubt; skip them.
			if r, _ := upperRatio(seg.text()); r >= 0.6 && li < max(dc.title, 3) {
				continue
			}
			ws := seg.words
			for j := 0; j+k <= len(ws); j++ {
				var parts []string
				for _, w := range ws[j : j+k] {
					parts = append(parts, strings.Trim(w.Text, ",.;:()"))
				}
				cand := strings.Join(parts, " ")
				if foldText(cand) == fp {
					votes[strings.ToUpper(cand)]++
				}
			}
		}
	}
	own := strings.Join(place, " ")
	best, bestN := own, 0
	keys := make([]string, 0, len(votes))
	for v := range votes {
		keys = append(keys, v)
	}
	sort.Strings(keys)
	for _, v := range keys {
		if n := votes[v]; n > bestN || (n == bestN && best == own) {
			best, bestN = v, n
		}
	}
	if bestN == 0 {
		return line
	}
	return strings.Join(append(append([]string(nil), words[:i]...), best), " ")
}

// snapLeadingTerms restores the printed form of administrative terms at the
// start of a header line ("UY BAN NHÂN DÂN PHƯƠNG AN HÒA" → "ỦY BAN NHÂN
// DÂN PHƯỜNG AN HÒA") when the words fold to exactly the term. Place names
// after the terms are left as read.
func snapLeadingTerms(line string, terms []string) string {
	words := strings.Fields(line)
	var out []string
	i := 0
	for i < len(words) {
		matched := false
		for _, t := range terms {
			tw := strings.Fields(t)
			ft := foldText(t)
			// The term may be printed with or without its inner dash.
			for _, n := range []int{len(tw), len(tw) - 1} {
				if n <= 0 || i+n > len(words) {
					continue
				}
				if foldText(strings.Join(words[i:i+n], " ")) == ft {
					out = append(out, t)
					i += n
					matched = true
					break
				}
			}
			if matched {
				break
			}
		}
		if !matched {
			break
		}
	}
	return strings.Join(append(out, words[i:]...), " ")
}

// dropWords removes the first n words of s.
func dropWords(s string, n int) string {
	fs := strings.Fields(s)
	if n >= len(fs) {
		return ""
	}
	return strings.Join(fs[n:], " ")
}
