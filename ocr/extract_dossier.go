package ocr

// reasonHolderIDFromForm: the document's own holder ID was not read; the
// holder ID shown is the application form's of the same file, which the
// document's own printed sex and date of birth agree with. The document
// is always reviewed: a person checks the number against the page.
const reasonHolderIDFromForm = "holder_id_from_form"

// fillHolderFromForms gives a result document whose holder ID was not read
// (an unreadable number, a label OCR garbled) the applicant ID of the
// application form before it in the same file, as the value shown to the
// reviewer — never as an accepted ID. It does so only when:
//   - the result's layout compares its holder ID with the form's (the
//     form's applicant is the result's holder);
//   - the form's ID is 12 digits and sure (formIDSure: confirmed by its
//     second reads, or read at the holder-ID bar uncontradicted);
//   - the result's own date of birth was read with confidence, and the
//     form's ID passes every structural check (province, century/sex
//     digit, birth year) against the result's own sex and date of birth.
//
// The result keeps its holder_id_missing reason; nothing is validated or
// cross-checked against the filled value, so no error is hidden or made.
func fillHolderFromForms(docs []Document, infos []docInfo, ls *Layouts) {
	eachResultAfterForm(docs, ls, func(app, i int, l *Layout) {
		if docs[i].HolderPersonalID != "" || l.HolderIDField == "" || l.CrossIDField != l.HolderIDField {
			return
		}
		al := ls.byType[docs[app].DocType]
		a, ok := infos[app].ids[al.HolderIDField]
		if !ok || len(a.value) != 12 || !formIDSure(a) {
			return
		}
		facts, ok := printedFacts(l, &docs[i])
		if !ok || len(ls.ValidatePersonalID(a.value, facts)) > 0 {
			return
		}
		docs[i].HolderPersonalID = a.value
		docs[i].ReviewReasons = append(docs[i].ReviewReasons, reasonHolderIDFromForm)
	})
}

// printedFacts returns the holder's sex and date of birth as the document
// prints them, for checking an ID that is not its own read; ok is false
// when the date of birth is missing, low-confidence or invalid (a check
// without the birth year is too weak to show another document's ID).
func printedFacts(l *Layout, d *Document) (IDFacts, bool) {
	if l.BirthDateField == "" {
		return IDFacts{}, false
	}
	dob, ok := d.Fields[l.BirthDateField]
	if !ok || dob.Confidence < defaultMinConfidence {
		return IDFacts{}, false
	}
	for _, r := range d.ReviewReasons {
		if r == reasonInvalidDate+l.BirthDateField || r == reasonDateReadsDisagree+l.BirthDateField || r == reasonLowConfidence+l.BirthDateField {
			return IDFacts{}, false
		}
	}
	if _, _, _, ok := parseDMY(dob.Value); !ok {
		return IDFacts{}, false
	}
	facts := IDFacts{Sex: l.SexImplied, BirthDate: dob.Value}
	if s, ok := d.Fields[l.SexField]; ok && l.SexField != "" {
		facts.Sex = factSex(l.SexImplied, s.Value)
	}
	return facts, true
}
