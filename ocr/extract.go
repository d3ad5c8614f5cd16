// This file owns Extract: splitting recognised pages into documents and
// assembling each document's fields, holder ID and review reasons.

package ocr

import (
	"image"
	"sort"
	"strings"
	"unicode"
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
	// signerHeadVocabulary pairs "TM. <collective> > <its head's title>":
	// the line signing for a collective is followed by the head's title.
	signerHeadVocabulary = "signer_title_head"
	// phraseVocabulary holds common administrative phrases whose spelling
	// free-text values get back when OCR misreads a diacritic ("Bố sung").
	phraseVocabulary = "phrase"
)

// Confidence bars.
const (
	defaultMinConfidence  = 0.6
	holderIDMinConfidence = 0.93
	// labelNoColonPenalty scales a label found without its colon.
	labelNoColonPenalty = 0.9
	repairPenalty       = 0.85
	vocabularyPenalty   = 0.95
	// guessedLinePenalty marks a value completed with a line that was not
	// read (the likeliest one): recorded as doubtful.
	guessedLinePenalty = 0.5
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
	infos := make([]docInfo, 0, len(docs))
	for _, d := range docs {
		doc, info := extractDocument(d, ls)
		out = append(out, doc)
		infos = append(infos, info)
	}
	crossCheckIDs(out, infos, ls)
	fillHolderFromForms(out, infos, ls)
	corroborateNames(out, ls)
	for i := range out {
		finishReview(&out[i])
	}
	return out
}

// docInfo is what the cross-document check needs to know of a document
// beyond its fields: how sure each ID read is.
type docInfo struct {
	// ids are the layout's ID fields, by slug.
	ids map[string]labelledID
	// otherIDs are every labelled ID of a document of unknown type.
	otherIDs []labelledID
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

// extracted is one field value before the document-level checks.
type extracted struct {
	value string
	conf  float64
	// readConf is conf before the repair penalties: how surely the page
	// read's glyphs were recognised, whatever repairs made them a value.
	readConf float64
	repairs  int
	invalid  bool // could not be normalised (e.g. not a real date)
	// readsDisagree: second reads contradict the value (review).
	readsDisagree bool
	// alternatives are the dates a written date's dissenting reads would
	// give; settleable says the dissent is one part's, and the page read
	// is backed by at least minAgreeingReads reads (settleByPlausibility).
	alternatives []string
	settleable   bool
	// reads are the digit strings of the value's second reads (ID fields).
	reads     []string
	readConfs []float64
	// readings are the distinct readings of an ID whose reads disagree.
	readings []string
	// confirmed: second reads reproduced the value digit for digit.
	confirmed bool
	// page and box say where the value was read (see Field).
	page int
	box  image.Rectangle
}

// locate records where ex was read: page, and the union of the boxes of
// ws (words without a box, from text-only pages, are skipped).
func locate(ex *extracted, page int, ws []Word) {
	var box image.Rectangle
	for _, w := range ws {
		if w.Box.Empty() {
			continue
		}
		box = box.Union(w.Box)
	}
	ex.page, ex.box = page, box
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
func extractDocument(d *docPages, ls *Layouts) (Document, docInfo) {
	doc := Document{DocType: d.docType, Fields: map[string]Field{}, ReviewReasons: []string{}}
	for _, p := range d.pages {
		doc.Pages = append(doc.Pages, p.Number)
		for _, fl := range p.Flags {
			doc.ReviewReasons = append(doc.ReviewReasons, reasonLowPageQual+fl)
		}
	}
	l, ok := ls.byType[d.docType]
	if !ok {
		info := extractUnknown(d, ls, &doc)
		return doc, info
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
	settleByPlausibility(l, values, ls.referenceDate())
	idReasons := resolveIDFields(l, values, ls)
	doc.ReviewReasons = append(doc.ReviewReasons, idReasons...)
	info := docInfo{ids: map[string]labelledID{}}
	for _, slug := range []string{l.HolderIDField, l.CrossIDField} {
		ex, ok := values[slug]
		if slug == "" || !ok {
			continue
		}
		disagree := false
		for _, r := range idReasons {
			disagree = disagree || r == reasonReadsDisagree+slug
		}
		info.ids[slug] = labelledID{value: ex.value, conf: ex.conf, pageNo: ex.page, box: ex.box, confirmed: ex.confirmed, disagree: disagree}
	}
	for i := range l.Fields {
		f := &l.Fields[i]
		ex, ok := values[f.Slug]
		if !ok {
			continue
		}
		doc.Fields[f.Slug] = Field{Value: ex.value, Confidence: round3(ex.conf), Page: ex.page, Box: ex.box, Reads: ex.readings}
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
		if f.Kind == kindName && ex.conf < bar && nameConfirmedInText(dc.lines, ex.value, ex.page, ex.box) {
			// Read again, word for word, elsewhere in the document.
			ex.conf = max(ex.conf, confirmedWordConfidence)
			doc.Fields[f.Slug] = Field{Value: ex.value, Confidence: round3(ex.conf), Page: ex.page, Box: ex.box, Reads: ex.readings}
		}
		// The sex an ID is checked against, read as neither "Nam" nor
		// "Nữ", leaves the check undone: a person reads it.
		unreadSex := f.Slug == l.SexField && factSex("", ex.value) == ""
		if (f.Required || f.Slug == l.HolderIDField || unreadSex) && ex.conf < bar {
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
	return doc, info
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// idPhrases are the folded words that name a personal ID in a label,
// whatever else the label says ("Số định danh cá nhân của người chết",
// "Số CCCD của người đi khai tử").
var idPhrases = []string{"dinh danh", "can cuoc", "cccd", "ddcn", "cmnd", "chung minh nhan dan"}

// labelNamesID reports whether a folded label names a personal ID.
func labelNamesID(folded string) bool {
	for _, p := range idPhrases {
		if strings.Contains(folded, p) {
			return true
		}
	}
	return false
}

// labelledID is one personal ID found after a label in running text.
type labelledID struct {
	value  string
	conf   float64
	pageNo int
	box    image.Rectangle
	// confirmed: the digits-only second reads reproduce the page read.
	confirmed bool
	disagree  bool
}

// labelledIDs finds every "<label naming an ID>: <number>" in lines, in
// reading order: the label is the words before a colon on the same
// segment (from the segment start or the previous colon), the value the
// words after it up to the next colon. Values that are not ID-like
// (ParseID) are skipped. valid checks a 12-digit read against the
// document, for resolving second reads.
func labelledIDs(lines []textLine) []labelledID {
	var out []labelledID
	for _, line := range lines {
		for _, seg := range line.segs {
			ws := splitColonWords(seg.words)
			from := 0
			for c := 0; c < len(ws); c++ {
				if !isColonWord(ws[c]) {
					continue
				}
				label := foldWords(ws[from : c+1])
				from = c + 1
				if !labelNamesID(label) {
					continue
				}
				end := c + 1
				for end < len(ws) && !isColonWord(ws[end]) {
					end++
				}
				val := ws[c+1 : end]
				if end < len(ws) {
					// The next label's words are not part of the value:
					// keep only the number-like words.
					val = leadingNumberWords(val)
				}
				pid, ok := ParseID(joinWords(val))
				if !ok {
					continue
				}
				conf := idWordsConf(val)
				for i := 0; i < pid.Repairs; i++ {
					conf *= repairPenalty
				}
				d := resolveIDReads(pid.Digits, conf, secondReads(val), func(string) bool { return true })
				var at extracted
				locate(&at, line.page, val)
				out = append(out, labelledID{value: d.value, conf: d.conf, pageNo: at.page, box: at.box, confirmed: d.confirmed, disagree: d.disagree})
			}
		}
	}
	return out
}

// leadingNumberWords keeps the words of ws up to the last one holding a
// digit among the leading digit-bearing words.
func leadingNumberWords(ws []Word) []Word {
	n := 0
	for n < len(ws) && strings.IndexFunc(ws[n].Text, unicode.IsDigit) >= 0 {
		n++
	}
	return ws[:n]
}

// extractUnknown reads what any document says of its holder when no layout
// matched: the first labelled personal ID, and the holder's name and date
// of birth when printed under the labels the layouts know. Every labelled
// ID is kept for the cross-document check (a death registration prints
// the deceased's and the declarant's). The document is always reviewed.
func extractUnknown(d *docPages, ls *Layouts, doc *Document) docInfo {
	doc.DocType = DocTypeUnknown
	doc.ReviewReasons = append(doc.ReviewReasons, reasonUnknownType)
	var info docInfo
	generic := &Layout{DocType: DocTypeUnknown}
	dc := newDocContext(d, ls, generic)
	for _, id := range labelledIDs(dc.lines) {
		info.otherIDs = append(info.otherIDs, id)
	}
	if len(info.otherIDs) > 0 {
		id := info.otherIDs[0]
		doc.Fields["personal_id"] = Field{Value: id.value, Confidence: round3(id.conf), Page: id.pageNo, Box: id.box}
		doc.HolderPersonalID = id.value
		if len(id.value) != 12 {
			doc.ReviewReasons = append(doc.ReviewReasons, codeWrongLength)
		}
	} else {
		doc.ReviewReasons = append(doc.ReviewReasons, reasonNoHolderID)
	}
	// Name and date of birth: the first item under a label some result
	// layout gives these fields.
	for _, slug := range []string{"full_name", "date_of_birth"} {
		keys := map[string]bool{}
		var spec *FieldSpec
		for _, t := range ls.order {
			l := ls.byType[t]
			if l.Application {
				continue
			}
			if f, ok := l.field(slug); ok {
				if spec == nil {
					spec = f
				}
				for _, k := range f.folded {
					keys[k] = true
				}
			}
		}
		if spec == nil {
			continue
		}
		for _, it := range dc.items {
			if !keys[it.key] {
				continue
			}
			ex, ok := dc.itemValue(spec, it)
			if ok && !ex.invalid {
				doc.Fields[slug] = Field{Value: ex.value, Confidence: round3(ex.conf), Page: ex.page, Box: ex.box}
			}
			break
		}
	}
	return info
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
