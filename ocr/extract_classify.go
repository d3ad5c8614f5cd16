// This file owns document-type classification of a page: by its printed
// title, else by the labels only one layout prints, and where a new
// document starts.

package ocr

import (
	"strings"
)

const titleSearchLines = 16

// classifyLines finds a layout title among the first lines of a page. It
// returns "" when none matches.
func classifyLines(lines []textLine, ls *Layouts) (string, int) {
	bestType, bestLine, bestScore, bestLen := "", -1, 0.0, 0
	n := min(len(lines), titleSearchLines)
	for i := 0; i < n; i++ {
		for si, seg := range lines[i].segs {
			raw := seg.text()
			if r, letters := upperRatio(raw); letters < 4 || r < 0.7 {
				continue
			}
			keys := []string{foldText(raw)}
			j := i + 1
			if j+1 < len(lines) && debrisLine(lines[j]) {
				// A mark between a title's two lines ("GIẤY XÁC NHẬN",
				// "vs", "TÌNH TRẠNG HÔN NHÂN"): the title goes on below it.
				j++
			}
			if lastTextSeg(lines[i], si) && j < len(lines) && len(lines[j].segs) > 0 {
				next := lines[j].segs[0].text()
				if r, letters := upperRatio(next); letters >= 4 && r >= 0.7 {
					keys = append(keys, foldText(raw+" "+next))
				}
			}
			for _, t := range ls.order {
				l := ls.byType[t]
				for _, title := range l.Titles {
					ft := foldText(title)
					for _, k := range keys {
						sc := titleScore(k, ft, l.TitlePrefix)
						if sc == 0 {
							continue
						}
						tl := len(ft)
						if sc > bestScore || (sc == bestScore && tl > bestLen) {
							bestType, bestLine, bestScore, bestLen = t, i, sc, tl
						}
					}
				}
			}
		}
	}
	return bestType, bestLine
}

// debrisLine: a line of fewer than 4 letters, a mark or speck read as text.
func debrisLine(l textLine) bool {
	_, letters := upperRatio(l.text())
	return letters < 4
}

// lastTextSeg: segment si is the line's last but for debris segments of
// fewer than 4 letters (a mark beside a title).
func lastTextSeg(l textLine, si int) bool {
	for _, seg := range l.segs[si+1:] {
		if _, letters := upperRatio(seg.text()); letters >= 4 {
			return false
		}
	}
	return true
}

// Label-based classification bars: the share of a layout's distinctive
// labels (printed by no other layout) found on the page, and how many.
const (
	bodyCoverageMin = 0.6
	bodyDistinctMin = 3 // or all of them when a layout has fewer
)

// classifyByLabels classifies a page whose title was not recognised from
// the labels it prints. Only labels no other layout uses count, so a page
// of an unseen type that shares the common personal labels (name, birth
// date, ID) stays unknown. Application forms do not take part. "" when no
// result layout is clearly present.
func classifyByLabels(lines []textLine, ls *Layouts) string {
	found := map[string]bool{}
	for i, line := range lines {
		for si, seg := range line.segs {
			for _, it := range ls.parseSegment(i, si, seg, false) {
				found[it.key] = true
			}
		}
	}
	owners := map[string]int{} // label key -> number of layouts using it
	for _, t := range ls.order {
		seen := map[string]bool{}
		for _, f := range ls.byType[t].Fields {
			for _, k := range f.folded {
				if !seen[k] {
					seen[k] = true
					owners[k]++
				}
			}
		}
	}
	best := ""
	for _, t := range ls.order {
		l := ls.byType[t]
		if l.Application {
			continue
		}
		total, hit := 0, 0
		for _, f := range l.Fields {
			distinct := false
			for _, k := range f.folded {
				if owners[k] == 1 {
					distinct = true
				}
			}
			if f.Source != sourceLabel || !distinct {
				continue
			}
			total++
			for _, k := range f.folded {
				if found[k] && owners[k] == 1 {
					hit++
					break
				}
			}
		}
		if total == 0 || hit < min(bodyDistinctMin, total) || float64(hit) < bodyCoverageMin*float64(total) {
			continue
		}
		if best != "" {
			return "" // two layouts fit: ambiguous
		}
		best = t
	}
	return best
}

// titleScore compares a folded line with a folded title, whole or as a
// word prefix. Titles are printed large and read well, so the tolerance is
// tighter than for labels (one edit per ten characters), and numbers must
// agree exactly: "PHIẾU LÝ LỊCH TƯ PHÁP SỐ 2" is another document than "SỐ 1".
// gluedPrefixScore is the score of a prefix title OCR glued to the next
// word.
const gluedPrefixScore = 0.9

func titleScore(key, title string, prefix bool) float64 {
	if prefix {
		// OCR glues the word after the prefix onto it ("TỜ KHAICẤP
		// GIẤY ..."): the line's text starting with the whole title and
		// going on is the title, a little less sure.
		if full := strings.Join(strings.Fields(key), " "); len(full) > len(title) && strings.HasPrefix(full, title) && full[len(title)] != ' ' {
			if digitsOf(full[:len(title)]) == digitsOf(title) {
				return gluedPrefixScore
			}
		}
		kw, tw := strings.Fields(key), strings.Fields(title)
		if len(kw) < len(tw) {
			return 0
		}
		key = strings.Join(kw[:len(tw)], " ")
	}
	if digitsOf(key) != digitsOf(title) {
		return 0
	}
	if key == title {
		return 1
	}
	tol := len(title) / 10
	if tol == 0 {
		return 0
	}
	if diff := len(key) - len(title); diff > tol || -diff > tol {
		return 0
	}
	d := editDistance(key, title)
	if d > tol {
		return 0
	}
	return 1 - 0.5*float64(d)/float64(tol+1)
}

// digitsOf returns the digits of s in order.
func digitsOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// startsNewDocument reports whether a page without a known title still
// opens a document of its own: it prints the national motto at its top.
func startsNewDocument(lines []textLine) bool {
	for i := 0; i < min(len(lines), 6); i++ {
		f := foldText(lines[i].text())
		if strings.Contains(f, "cong hoa xa hoi") || strings.Contains(f, "doc lap tu do") {
			return true
		}
	}
	return false
}
