package ocr

import (
	"strconv"
	"strings"
)

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
	value string
	// readings are the distinct readings when the reads contradict: the
	// page read, then the others in first-seen order.
	readings  []string
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
	d.readings = order
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
		ex.readings = d.readings
		ex.confirmed = d.confirmed
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

// Written dates. The day, month and year of "ngày 27 tháng 7 năm 2020"
// are separate words, and a misread day ("37") makes the date impossible
// or silently wrong. The engine re-reads these words alone (Word.Alts);
// settleWrittenDate decides what the reads are worth.

// reasonDateReadsDisagree: the second reads of a doubtful date word
// contradict its page read. + slug.
const reasonDateReadsDisagree = "date_reads_disagree:"

const (
	// dateWordConfidence is the page-read confidence below which a date
	// number word is doubtful and its second reads are consulted. On the
	// dev corpus nearly all date words read 0.94–0.97, one right word 0.89
	// and the misread day ("37" for 27) 0.76.
	dateWordConfidence = 0.9
	// confirmedWordConfidence is the confidence given to a date word its
	// second reads confirmed: that of a clean word read once.
	confirmedWordConfidence = 0.95
)

// WrittenDateParts finds the written dates among ws ("ngày D tháng M năm
// Y", the six words consecutive on one line) and returns, for each, the
// indexes of its day, month and year words. A number word is one to four
// digits, digit look-alikes allowed, punctuation around it ignored.
func WrittenDateParts(ws []Word) [][3]int {
	var out [][3]int
	keys := [3]string{"ngay", "thang", "nam"}
	for i := 0; i+5 < len(ws); i++ {
		ok := true
		for k := 0; k < 3 && ok; k++ {
			kw, num := ws[i+2*k], ws[i+2*k+1]
			ok = kw.Line == ws[i].Line && num.Line == ws[i].Line &&
				foldText(kw.Text) == keys[k] && dateNumberWord(num.Text)
		}
		if ok {
			out = append(out, [3]int{i + 1, i + 3, i + 5})
			i += 5
		}
	}
	return out
}

// dateNumberWord: one to four digits or look-alikes, at least one digit.
func dateNumberWord(s string) bool {
	t := []rune(strings.Trim(s, ",.;:"))
	if len(t) == 0 || len(t) > 4 {
		return false
	}
	digits := 0
	for _, r := range t {
		if r >= '0' && r <= '9' {
			digits++
		} else if _, ok := digitLookalike(r); !ok {
			return false
		}
	}
	return digits > 0
}

// datePart is one number word of a written date.
type datePart struct {
	page  string   // the page read, look-alikes repaired; "" when unreadable
	conf  float64  // the page read's confidence
	reads []string // digit strings of its second reads
}

// datePartOutcome is what the second reads made of one date part.
type datePartOutcome int

const (
	partKept      datePartOutcome = iota // page read stands, confidence as read
	partConfirmed                        // second reads reproduce the page read
	partReplaced                         // page read impossible; agreeing second reads replace it
	partUnsettled                        // page read impossible, second reads do not agree
	partContested                        // a second read contradicts a possible page read
)

// datePartLimits are the plausible ranges of day, month and year.
var datePartLimits = [3][2]int{{1, 31}, {1, 12}, {1850, 2199}}

// resolveDateParts settles the day, month and year of a written date
// from their page reads and second reads. A part is doubtful when its
// page read is below dateWordConfidence or impossible: out of its range,
// or, all three parts being in range, the date is not a calendar date.
// Only doubtful parts consult their reads.
// A second read counts when it has the part's length (one or two digits;
// four for the year).
//
//   - Doubtful, page read possible: a usable read giving another number contests it (review); at least
//     minAgreeingReads usable reads equal to it confirm it.
//   - Doubtful, page read impossible: at least minAgreeingReads usable
//     reads, all equal and in range, replace it; otherwise it stays
//     unsettled (and the date invalid).
//
// A replaced date must still be a real calendar date; the caller checks.
func resolveDateParts(parts [3]datePart) (values [3]string, outcome [3]datePartOutcome) {
	n := [3]int{}
	inRange := [3]bool{}
	for k, p := range parts {
		v, err := strconv.Atoi(p.page)
		n[k] = v
		inRange[k] = err == nil && v >= datePartLimits[k][0] && v <= datePartLimits[k][1]
	}
	// Parts each in range that make no calendar date (31/02) are all
	// suspect; otherwise the parts out of range are.
	noDate := inRange[0] && inRange[1] && inRange[2] && !validDate(n[0], n[1], n[2])
	for k, p := range parts {
		values[k] = p.page
		possible := inRange[k] && !noDate
		if possible && p.conf >= dateWordConfidence {
			continue
		}
		var usable []int
		for _, r := range p.reads {
			v, err := strconv.Atoi(r)
			if err != nil || (k == 2 && len(r) != 4) || (k < 2 && len(r) > 2) {
				continue
			}
			usable = append(usable, v)
		}
		same := len(usable) >= minAgreeingReads
		for _, v := range usable {
			same = same && v == usable[0]
		}
		switch {
		case possible:
			outcome[k] = partConfirmed
			for _, v := range usable {
				if v != n[k] {
					outcome[k] = partContested
				}
			}
			if outcome[k] == partConfirmed && len(usable) < minAgreeingReads {
				outcome[k] = partKept
			}
		case same && usable[0] >= datePartLimits[k][0] && usable[0] <= datePartLimits[k][1]:
			outcome[k] = partReplaced
			values[k] = strconv.Itoa(usable[0])
		default:
			outcome[k] = partUnsettled
		}
	}
	return values, outcome
}

// settleWrittenDate applies the second reads of a written date's number
// words (idx: day, month, year indexes into ws) to its extracted value.
// Confirmed and replaced words count at confirmedWordConfidence in the
// date's confidence, and a replaced word's look-alike repairs no longer
// count. A contested word marks the value for review; an unsettled one
// leaves it invalid.
func settleWrittenDate(ex *extracted, ws []Word, idx [3]int) {
	var parts [3]datePart
	for k, i := range idx {
		w := ws[i]
		tok := strings.Trim(w.Text, ",.;:")
		page, _, ok := repairDigits(tok)
		if !ok {
			page = ""
		}
		parts[k] = datePart{page: page, conf: w.Conf, reads: secondReads(ws[i : i+1])}
	}
	values, outcome := resolveDateParts(parts)
	confs := make([]float64, len(ws))
	for i, w := range ws {
		confs[i] = w.Conf
	}
	replaced := false
	for k, o := range outcome {
		switch o {
		case partContested:
			ex.readsDisagree = true
		case partConfirmed, partReplaced:
			confs[idx[k]] = max(confs[idx[k]], confirmedWordConfidence)
		}
		if o == partReplaced {
			replaced = true
			if _, n, ok := repairDigits(strings.Trim(ws[idx[k]].Text, ",.;:")); ok {
				ex.repairs = max(0, ex.repairs-n)
			}
		}
	}
	var sum float64
	for _, c := range confs {
		sum += c
	}
	ex.conf = sum / float64(len(confs))
	if !replaced {
		return
	}
	if v, ok := formatDate(values[0], values[1], values[2]); ok {
		ex.value, ex.invalid = v, false
	}
}
