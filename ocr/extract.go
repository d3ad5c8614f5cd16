package ocr

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Review reasons other than the id_* validation codes.
const (
	reasonUnknownType   = "unknown_doc_type"
	reasonMissing       = "missing_field:"  // + slug
	reasonLowConfidence = "low_confidence:" // + slug
	reasonInvalidDate   = "invalid_date:"   // + slug
	reasonFutureIssue   = "issue_date_in_future"
	reasonBirthAfter    = "birth_after_issue"
	reasonNoValidity    = "valid_until_missing"
	reasonNoHolderID    = "holder_id_missing"
	reasonLowPageQual   = "page_flagged:" // + page flag
	reasonNoTitle       = "title_not_found"
)

// surnameVocabulary names the vocabulary used to restore the diacritics of
// a family name OCR dropped ("NGUYÊN" → "NGUYỄN").
const surnameVocabulary = "surname"

// Vocabularies of header and signer wording (see layouts/vocabularies.json).
const (
	authorityTermVocabulary = "authority_term"
	signerTitleVocabulary   = "signer_title"
)

// Confidence bars.
const (
	defaultMinConfidence  = 0.6
	holderIDMinConfidence = 0.93
	// labelNoColonPenalty scales a label found without its colon.
	labelNoColonPenalty = 0.9
	repairPenalty       = 0.85
	vocabularyPenalty   = 0.95
)

// Extract splits recognised pages into documents, classifies each from the
// layouts, extracts, normalises and validates its fields. It is pure and
// deterministic: the same pages give the same documents.
func Extract(pages []Page, ls *Layouts) []Document {
	if ls == nil || len(pages) == 0 {
		return []Document{}
	}
	var docs []*docPages
	for _, p := range pages {
		lines := pageLines(p)
		docType, title := classifyLines(lines, ls)
		byBody := false
		if docType == "" && (len(docs) == 0 || startsNewDocument(lines)) {
			docType = classifyByLabels(lines, ls)
			byBody = docType != ""
		}
		switch {
		case docType != "":
			docs = append(docs, &docPages{docType: docType, title: title, byBody: byBody, pages: []Page{p}, lines: [][]textLine{lines}})
		case len(docs) > 0 && !startsNewDocument(lines):
			last := docs[len(docs)-1]
			last.pages = append(last.pages, p)
			last.lines = append(last.lines, lines)
		default:
			docs = append(docs, &docPages{docType: DocTypeUnknown, title: -1, pages: []Page{p}, lines: [][]textLine{lines}})
		}
	}
	out := make([]Document, 0, len(docs))
	for _, d := range docs {
		out = append(out, extractDocument(d, ls))
	}
	crossCheckIDs(out, ls)
	for i := range out {
		finishReview(&out[i])
	}
	return out
}

// docPages is one document's pages while extracting.
type docPages struct {
	docType string
	title   int  // title line index on the first page, -1 when none
	byBody  bool // classified from its labels, no title found
	pages   []Page
	lines   [][]textLine // per page
}

// allLines returns the document's lines in order.
func (d *docPages) allLines() []textLine {
	var out []textLine
	for _, ls := range d.lines {
		out = append(out, ls...)
	}
	return out
}

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
			if si == len(lines[i].segs)-1 && i+1 < len(lines) && len(lines[i+1].segs) > 0 {
				next := lines[i+1].segs[0].text()
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
func titleScore(key, title string, prefix bool) float64 {
	if prefix {
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
	for _, c := range colons {
		if cur == nil {
			cand := ws[prevEnd : c+1]
			key, sc := "", 0.0
			if len(cand) <= maxLabelWords {
				key, sc = ls.matchLabel(foldWords(cand))
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

// extracted is one field value before the document-level checks.
type extracted struct {
	value   string
	conf    float64
	repairs int
	invalid bool // could not be normalised (e.g. not a real date)
	// readsDisagree: second reads contradict the value (review).
	readsDisagree bool
	// reads are the digit strings of the value's second reads (ID fields).
	reads []string
}

func wordsConf(ws []Word) float64 {
	if len(ws) == 0 {
		return 0
	}
	var s float64
	for _, w := range ws {
		s += w.Conf
	}
	return s / float64(len(ws))
}

// extractDocument reads one document's fields.
func extractDocument(d *docPages, ls *Layouts) Document {
	doc := Document{DocType: d.docType, Fields: map[string]Field{}, ReviewReasons: []string{}}
	for _, p := range d.pages {
		doc.Pages = append(doc.Pages, p.Number)
		for _, fl := range p.Flags {
			doc.ReviewReasons = append(doc.ReviewReasons, reasonLowPageQual+fl)
		}
	}
	l, ok := ls.byType[d.docType]
	if !ok {
		extractUnknown(d, ls, &doc)
		return doc
	}
	dc := newDocContext(d, ls, l)
	if d.byBody {
		doc.ReviewReasons = append(doc.ReviewReasons, reasonNoTitle)
	}
	values := map[string]extracted{}
	for i := range l.Fields {
		f := &l.Fields[i]
		var ex extracted
		var found bool
		switch f.Source {
		case sourceLabel:
			ex, found = dc.labelField(f)
		case sourceAuthority:
			ex, found = dc.authority()
		case sourcePlaceDate:
			ex, found = dc.placeDate(f.Region)
		case sourceSigner, sourceSignerTtl:
			title, name, ok := dc.signer()
			if f.Source == sourceSigner {
				ex, found = name, ok && name.value != ""
			} else {
				ex, found = title, ok && title.value != ""
			}
		}
		if !found || ex.value == "" {
			if f.Required {
				doc.ReviewReasons = append(doc.ReviewReasons, reasonMissing+f.Slug)
			}
			continue
		}
		values[f.Slug] = ex
	}
	doc.ReviewReasons = append(doc.ReviewReasons, resolveIDFields(l, values, ls)...)
	for i := range l.Fields {
		f := &l.Fields[i]
		ex, ok := values[f.Slug]
		if !ok {
			continue
		}
		doc.Fields[f.Slug] = Field{Value: ex.value, Confidence: round3(ex.conf)}
		if ex.readsDisagree {
			doc.ReviewReasons = append(doc.ReviewReasons, reasonDateReadsDisagree+f.Slug)
		}
		if ex.invalid {
			doc.ReviewReasons = append(doc.ReviewReasons, reasonInvalidDate+f.Slug)
			continue
		}
		bar := f.MinConfidence
		if bar == 0 {
			bar = defaultMinConfidence
			if f.Slug == l.HolderIDField {
				bar = holderIDMinConfidence
			}
		}
		if (f.Required || f.Slug == l.HolderIDField) && ex.conf < bar {
			doc.ReviewReasons = append(doc.ReviewReasons, reasonLowConfidence+f.Slug)
		}
	}
	if l.HolderIDField != "" {
		if v, ok := values[l.HolderIDField]; ok && !v.invalid {
			doc.HolderPersonalID = v.value
		} else {
			doc.ReviewReasons = append(doc.ReviewReasons, reasonNoHolderID)
		}
	}
	doc.ReviewReasons = append(doc.ReviewReasons, validateDocument(l, values, ls)...)
	if l.Validity != nil {
		vu, reason := dc.validUntil(l.Validity, values["issue_date"])
		doc.ValidUntil = vu
		if reason != "" {
			doc.ReviewReasons = append(doc.ReviewReasons, reason)
		}
	}
	return doc
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// labelField extracts and normalises one labelled field.
func (dc *docContext) labelField(f *FieldSpec) (extracted, bool) {
	it, ok := dc.fieldItem(f)
	if !ok {
		return extracted{}, false
	}
	words := it.words
	if f.Multiline {
		words = append(append([]Word(nil), words...), dc.continuation(it)...)
	}
	raw := joinWords(words)
	ex := extracted{conf: wordsConf(words) * it.score}
	if len(words) == 0 {
		return extracted{}, false
	}
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
	case kindID:
		pid, ok := ParseID(raw)
		if !ok {
			return extracted{}, false
		}
		ex.value, ex.repairs = pid.Digits, pid.Repairs
		// Judge the ID by the words that made it, not trailing debris.
		ex.conf = idWordsConf(words) * it.score
		ex.reads = secondReads(words)
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
		ex.value = strings.TrimRight(fs[0], ".,;:")
	case kindPhone:
		pid, ok := ParseID(raw)
		if !ok {
			return extracted{}, false
		}
		ex.value, ex.repairs = pid.Digits, pid.Repairs
	default:
		ex.value = cleanValue(raw)
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
	return extracted{value: v, conf: wordsConf(words)}, v != ""
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

// dropWords removes the first n words of s.
func dropWords(s string, n int) string {
	fs := strings.Fields(s)
	if n >= len(fs) {
		return ""
	}
	return strings.Join(fs[n:], " ")
}

// placeDate finds "<place>, ngày dd tháng mm năm yyyy".
func (dc *docContext) placeDate(region string) (extracted, bool) {
	var found []extracted
	end := len(dc.lines)
	if region == "header" && dc.title >= 0 {
		end = dc.title
	}
	for i := 0; i < end; i++ {
		for _, seg := range dc.lines[i].segs {
			ws := seg.words
			// Repair look-alikes in number-like tokens before matching.
			var parts []string
			repairs := 0
			for _, w := range ws {
				if fixed, n, ok := repairDigits(strings.Trim(w.Text, ",.")); ok && n > 0 {
					parts = append(parts, fixed)
					repairs += n
				} else {
					parts = append(parts, w.Text)
				}
			}
			f := foldText(strings.Join(parts, " "))
			m := wordDateRe.FindStringSubmatch(f)
			if m == nil {
				continue
			}
			v, ok := formatDate(m[1], m[2], m[3])
			ex := extracted{value: v, conf: wordsConf(ws), repairs: repairs, invalid: !ok}
			if !ok {
				ex.value = m[1] + "/" + m[2] + "/" + m[3]
			}
			if dp := WrittenDateParts(ws); len(dp) > 0 {
				settleWrittenDate(&ex, ws, dp[0])
			}
			for k := 0; k < ex.repairs; k++ {
				ex.conf *= repairPenalty
			}
			found = append(found, ex)
		}
	}
	if len(found) == 0 {
		return extracted{}, false
	}
	if region == "last" {
		return found[len(found)-1], true
	}
	return found[0], true
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
			titles = append(titles, ws)
			continue
		}
		if inTitle {
			titleDone = true
		}
		if titleDone {
			if nm := trailingName(ws); len(nm) >= 2 {
				names = append(names, nm)
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
	}
	if len(names) > 0 {
		// The printed name is the last name-like line of the block.
		n := names[len(names)-1]
		name = extracted{value: cleanValue(joinWords(n)), conf: wordsConf(n)}
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

// Printed validity periods: "có giá trị 30 ngày kể từ ngày cấp", "trong
// thời hạn 06 tháng, kể từ ngày cấp"; the loose form tolerates a mangled
// ending ("kể từ ngày căng").
var (
	validityRe      = regexp.MustCompile(`(\d{1,3})\s*(thang|nam|ngay)\b[^.]{0,30}?\bke tu ngay cap`)
	validityLooseRe = regexp.MustCompile(`gia tri[^.]{0,40}?\b(\d{1,3})\s*(thang|nam|ngay)\b[^.]{0,12}?\bke tu`)
)

// validUntil computes valid_until from the printed period or the policy.
func (dc *docContext) validUntil(rule *ValidityRule, issue extracted) (*string, string) {
	if issue.value == "" || issue.invalid {
		if rule.Required || rule.PolicyMonths > 0 {
			return nil, reasonNoValidity
		}
		return nil, ""
	}
	d, m, y, ok := parseDMY(issue.value)
	if !ok {
		return nil, reasonNoValidity
	}
	if rule.Printed {
		var all []string
		for _, l := range dc.lines {
			all = append(all, l.text())
		}
		text := foldKeep(strings.Join(all, " "), ".")
		mm := validityRe.FindStringSubmatch(text)
		if mm == nil {
			mm = validityLooseRe.FindStringSubmatch(text)
		}
		if mm != nil {
			n := atoiSmall(mm[1])
			var nd, nm, ny int
			switch mm[2] {
			case "thang":
				nd, nm, ny = addMonths(d, m, y, n)
			case "nam":
				nd, nm, ny = addMonths(d, m, y, 12*n)
			default:
				nd, nm, ny = addDays(d, m, y, n)
			}
			s := formatDMY(nd, nm, ny)
			return &s, ""
		}
	}
	if rule.PolicyMonths > 0 {
		nd, nm, ny := addMonths(d, m, y, rule.PolicyMonths)
		s := formatDMY(nd, nm, ny)
		return &s, ""
	}
	if rule.Required {
		return nil, reasonNoValidity
	}
	return nil, ""
}

func atoiSmall(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func formatDMY(d, m, y int) string {
	b := []byte("00/00/0000")
	b[0], b[1] = byte('0'+d/10), byte('0'+d%10)
	b[3], b[4] = byte('0'+m/10), byte('0'+m%10)
	b[6], b[7], b[8], b[9] = byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	return string(b)
}

// extractUnknown pulls the holder ID from an unclassified document when it
// is labelled, and marks the document for review.
func extractUnknown(d *docPages, ls *Layouts, doc *Document) {
	doc.DocType = DocTypeUnknown
	doc.ReviewReasons = append(doc.ReviewReasons, reasonUnknownType)
	generic := &Layout{DocType: DocTypeUnknown}
	dc := newDocContext(d, ls, generic)
	idKeys := map[string]bool{}
	for _, t := range ls.order {
		l := ls.byType[t]
		if f, ok := l.field(l.HolderIDField); ok {
			for _, k := range f.folded {
				idKeys[k] = true
			}
		}
	}
	for _, it := range dc.items {
		if !idKeys[it.key] {
			continue
		}
		pid, ok := ParseID(it.value())
		if !ok {
			continue
		}
		conf := idWordsConf(it.words) * it.score
		for i := 0; i < pid.Repairs; i++ {
			conf *= repairPenalty
		}
		doc.Fields["personal_id"] = Field{Value: pid.Digits, Confidence: round3(conf)}
		doc.HolderPersonalID = pid.Digits
		if len(pid.Digits) != 12 {
			doc.ReviewReasons = append(doc.ReviewReasons, codeWrongLength)
		}
		return
	}
}

// finishReview de-duplicates reasons and sets NeedsReview.
func finishReview(doc *Document) {
	seen := map[string]bool{}
	out := doc.ReviewReasons[:0]
	for _, r := range doc.ReviewReasons {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	doc.ReviewReasons = out
	if doc.ReviewReasons == nil {
		doc.ReviewReasons = []string{}
	}
	doc.NeedsReview = len(doc.ReviewReasons) > 0
}
