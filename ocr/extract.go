// This file owns Extract: splitting recognised pages into documents and
// assembling each document's fields, holder ID and review reasons.

package ocr

import (
	"image"
	"sort"
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
	// readings are the distinct readings of an ID whose reads disagree.
	readings []string
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
		var at extracted
		locate(&at, dc.lines[it.line].page, it.words)
		doc.Fields["personal_id"] = Field{Value: pid.Digits, Confidence: round3(conf), Page: at.page, Box: at.box}
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
