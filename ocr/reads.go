package ocr

// Agreement between independent reads of an identity number.
//
// The engine re-reads number-like words on their own (Word.Alts: the crop
// enlarged, binarised a few ways, read with a digits-only whitelist). The
// page read and these second reads fail differently: a pen stroke or stamp
// lowers the page read's confidence without changing its digits, and the
// cleaned crops often read what the page read got wrong. Agreement is
// evidence; disagreement is never resolved silently: the most supported
// reading becomes the value and the document goes to review.

// reasonReadsDisagree: the page read and the second reads of an ID field
// give different numbers. + slug.
const reasonReadsDisagree = "id_reads_disagree:"

const (
	// minAgreeingReads is how many second reads must reproduce the page
	// read, digit for digit, to confirm it. The variants share the model,
	// so one agreeing read is not enough: under an underline the page read
	// and one variant were seen to make the same mistake while the other
	// variants failed.
	minAgreeingReads = 2
	// confirmedIDConfidence is the confidence of a confirmed ID: that of a
	// clean, unmarked ID read once (measured 0.95–0.97 on the dev corpus).
	confirmedIDConfidence = 0.95
	// minReadDigits is the shortest digit string counted as a read of an
	// ID (shorter ones are failed reads, not votes).
	minReadDigits = 9
)

// idDecision is the outcome of comparing the reads of one ID field.
type idDecision struct {
	value     string
	conf      float64
	disagree  bool // the reads contradict: review
	confirmed bool // the page read was confirmed by the second reads
}

// resolveIDReads compares the page read of an ID (primary, with its
// confidence) with its second reads (digit strings) and decides the
// value. valid reports whether a 12-digit number passes the structural
// checks against the same document (province, century/sex digit, birth
// year).
//
//   - No second reads: the page read stands as it is.
//   - At least minAgreeingReads second reads equal the page read and none
//     reads a different number: confirmed, confidence raised to
//     confirmedIDConfidence (never lowered).
//   - Some read gives a different number (or the page read is not 12
//     digits and a second read is): the reading with the most votes (page
//     read one, each second read one) wins, ties going to the reading that
//     passes the structural checks, then to the page read. The document
//     is always reviewed.
//   - Otherwise (second reads failed or too few agree) the page read
//     stands with its own confidence.
func resolveIDReads(primary string, conf float64, reads []string, valid func(string) bool) idDecision {
	d := idDecision{value: primary, conf: conf}
	// A second read counts when it looks like a whole number: 12 digits,
	// or, when the page read itself is not 12 digits, at least
	// minReadDigits. A read that lost or gained a digit against a 12-digit
	// page read is a failed read, not a vote.
	var usable []string
	for _, r := range reads {
		if len(r) == 12 || (len(primary) != 12 && len(r) >= minReadDigits) {
			usable = append(usable, r)
		}
	}
	if len(usable) == 0 {
		return d
	}
	agree, differ := 0, 0
	for _, r := range usable {
		if r == primary {
			agree++
		} else {
			differ++
		}
	}
	if differ == 0 {
		if agree >= minAgreeingReads && len(primary) == 12 {
			d.confirmed = true
			d.conf = max(conf, confirmedIDConfidence)
		}
		return d
	}
	// A contradiction. Count votes per reading, first-seen order.
	order := []string{primary}
	votes := map[string]int{primary: 1}
	for _, r := range usable {
		if _, ok := votes[r]; !ok {
			order = append(order, r)
		}
		votes[r]++
	}
	best := primary
	ok := func(s string) bool { return len(s) == 12 && valid(s) }
	for _, r := range order[1:] {
		switch {
		case votes[r] > votes[best]:
			best = r
		case votes[r] == votes[best] && ok(r) && !ok(best):
			best = r
		}
	}
	d.value = best
	d.disagree = true
	if best != primary {
		// A value the page read did not give: its confidence is that of
		// the weakest evidence, and it is never auto-accepted anyway.
		d.conf = min(conf, float64(votes[best])/float64(len(usable)+1))
	}
	return d
}

// secondReads returns the digit strings of the second reads recorded on
// the given value words.
func secondReads(ws []Word) []string {
	var out []string
	for _, w := range ws {
		for _, a := range w.Alts {
			out = append(out, digitsOf(a.Text))
		}
	}
	return out
}

// resolveIDFields settles every ID field that has second reads: the holder
// ID (checked against the layout's sex and birth-date fields) and the
// other checked IDs (IDChecks). It updates values in place and returns
// the review reasons.
func resolveIDFields(l *Layout, values map[string]extracted, ls *Layouts) []string {
	checks := append([]IDCheck{{IDField: l.HolderIDField, SexField: l.SexField, SexImplied: l.SexImplied, BirthDateField: l.BirthDateField}}, l.IDChecks...)
	var reasons []string
	for _, c := range checks {
		ex, ok := values[c.IDField]
		if c.IDField == "" || !ok || len(ex.reads) == 0 {
			continue
		}
		facts := idFacts(c, values)
		valid := func(id string) bool { return len(ls.ValidatePersonalID(id, facts)) == 0 }
		d := resolveIDReads(ex.value, ex.conf, ex.reads, valid)
		if d.value != ex.value {
			// The value is no longer the page read: its repairs do not
			// apply.
			ex.repairs = 0
		}
		ex.value, ex.conf = d.value, d.conf
		values[c.IDField] = ex
		if d.disagree {
			reasons = append(reasons, reasonReadsDisagree+c.IDField)
		}
	}
	return reasons
}

// idFacts collects the printed sex and birth date an ID must agree with.
func idFacts(c IDCheck, values map[string]extracted) IDFacts {
	facts := IDFacts{Sex: c.SexImplied}
	if v, ok := values[c.SexField]; ok && c.SexField != "" && (v.value == "Nam" || v.value == "Nữ") {
		facts.Sex = v.value
	}
	if v, ok := values[c.BirthDateField]; ok && c.BirthDateField != "" && !v.invalid {
		facts.BirthDate = v.value
	}
	return facts
}
