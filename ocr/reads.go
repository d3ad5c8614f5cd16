package ocr

import (
	"image"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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

// minDateReadConfidence is the confidence below which a second read of a
// date number is a failed read, not a vote: the line finder read a speck
// or half a digit ("5" for a "15" it cropped) at confidence 0.
const minDateReadConfidence = 0.1

// digitReads returns the digit strings of the second reads on ws read
// with a confidence from lo up to (not including) hi.
func digitReads(ws []Word, lo, hi float64) []string {
	var out []string
	for _, w := range ws {
		for _, a := range w.Alts {
			if a.Conf >= lo && a.Conf < hi {
				out = append(out, digitsOf(a.Text))
			}
		}
	}
	return out
}

// repairDatePart is repairDigits for a day, month or year word: inside a
// date, a two-character part with one look-alike beside a digit is a
// number ("l6", "L7"), as in numeric dates (repairDateToken), and so is a
// part made of two one-like strokes ("lI", "LI": an italic "11"). A
// look-alike keeps its look under an accent OCR added ("1Š"). Every
// look-alike counts as a repair, which lowers the date's confidence.
func repairDatePart(tok string) (string, int, bool) {
	tok = stripLookalikeMarks(tok)
	if fixed, n, ok := repairDigits(tok); ok {
		return fixed, n, true
	}
	r := []rune(tok)
	if len(r) != 2 {
		return "", 0, false
	}
	if oneLike(r[0]) && oneLike(r[1]) {
		return "11", 2, true
	}
	for i := 0; i < 2; i++ {
		d, ok := digitLookalike(r[i])
		if !ok && oneLike(r[i]) {
			d, ok = '1', true
		}
		if ok && r[1-i] >= '0' && r[1-i] <= '9' {
			r[i] = d
			return string(r), 1, true
		}
	}
	return "", 0, false
}

// oneLike: a stroke a "1" is misread as in a date's number words,
// upright or italic: the look-alikes of 1 and a capital L (the italic 1's
// foot).
func oneLike(r rune) bool {
	if d, ok := digitLookalike(r); ok {
		return d == '1'
	}
	return r == 'L'
}

// stripLookalikeMarks removes the accents OCR puts on a digit look-alike
// ("Š" for S, so for a 5), leaving other characters as they are.
func stripLookalikeMarks(tok string) string {
	if isASCII(tok) {
		return tok
	}
	var b strings.Builder
	for _, r := range tok {
		base := []rune(norm.NFD.String(string(r)))
		if len(base) > 1 && unicode.Is(unicode.Mn, base[1]) {
			if _, ok := digitLookalike(base[0]); ok {
				r = base[0]
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// minMajorityReads is how many second reads must reproduce the page read
// for it to outvote one contradicting read (majorityConfirms).
const minMajorityReads = 3

// majorityConfirms settles an ID whose second reads contradict the page
// read when the contradiction is one read against all the others: the
// page read is 12 digits, passes the structural checks against the same
// document (valid), at least minMajorityReads second reads reproduce it
// digit for digit, exactly one usable read differs, and that read was read
// with less confidence than every agreeing read and than the page read.
// The engine reads the tie-break variants only when the first ones
// disagree; without their votes the contradiction stands (review).
func majorityConfirms(primary string, conf float64, reads []string, confs []float64, valid func(string) bool) bool {
	if len(primary) != 12 || !valid(primary) || len(confs) != len(reads) || conf < holderIDMinConfidence {
		return false
	}
	agree, differ := 0, 0
	minAgree, dissent := 1.0, 0.0
	for i, r := range reads {
		if len(r) != 12 {
			continue
		}
		if r == primary {
			agree++
			minAgree = min(minAgree, confs[i])
		} else {
			differ++
			dissent = confs[i]
		}
	}
	return agree >= minMajorityReads && differ == 1 && dissent < minAgree
}

// checkDigitFix settles an ID whose page read fails the structural checks
// (valid) by one wrong digit in the part the checks cover (province,
// century and sex, birth year): it returns the second reads' number when
// at least minMajorityReads usable second reads give it and no usable
// read gives another one (reads equal to the page read aside), it passes
// the checks, and it differs from the page read in exactly one digit. The
// page read, an independent recognition of the whole line, then backs the
// eleven other digits, and the checks disprove its twelfth, so the
// crops' shared errors (which fall anywhere) are not what is accepted.
func checkDigitFix(primary string, reads []string, valid func(string) bool) (string, bool) {
	if len(primary) != 12 || valid(primary) {
		return "", false
	}
	var id string
	n := 0
	for _, r := range reads {
		switch {
		case len(r) != 12 || r == primary:
			continue
		case id == "":
			id = r
		case r != id:
			return "", false
		}
		n++
	}
	if n < minMajorityReads || !valid(id) {
		return "", false
	}
	diff := 0
	for i := range 12 {
		if id[i] != primary[i] {
			diff++
		}
	}
	if diff != 1 {
		return "", false
	}
	return id, true
}

// secondReadConfs returns the confidences of the second reads on ws, in
// secondReads order.
func secondReadConfs(ws []Word) []float64 {
	var out []float64
	for _, w := range ws {
		for _, a := range w.Alts {
			out = append(out, a.Conf)
		}
	}
	return out
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
		// The page read's own recognition confidence, not its repaired
		// one: the second reads that must reproduce it check the
		// repairs (a number split in two groups, read whole by every
		// crop).
		if d.disagree && majorityConfirms(ex.value, ex.readConf, ex.reads, ex.readConfs, valid) {
			d = idDecision{value: ex.value, conf: max(ex.conf, confirmedIDConfidence), confirmed: true}
		}
		// A page read that fails the structural checks is replaced by
		// second reads only as checkDigitFix allows: re-reads of one crop
		// err together, so their number must also have the page read's
		// support, in every digit but the one the checks disprove.
		if d.disagree {
			if id, ok := checkDigitFix(ex.value, ex.reads, valid); ok {
				d = idDecision{value: id, conf: confirmedIDConfidence, confirmed: true}
			}
		}
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
	if v, ok := values[c.SexField]; ok && c.SexField != "" {
		facts.Sex = factSex(c.SexImplied, v.value)
	}
	if v, ok := values[c.BirthDateField]; ok && c.BirthDateField != "" && !v.invalid {
		facts.BirthDate = v.value
	}
	return facts
}

// factSex is the sex an ID is checked against: the printed one when it
// reads as "Nam" or "Nữ", else the one the layout implies ("" for none).
func factSex(implied, printed string) string {
	if printed == "Nam" || printed == "Nữ" {
		return printed
	}
	return implied
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
// indexes of its day, month and year words. The keywords may carry one
// OCR error ("thúng" for "tháng"; "năm", three letters, must be exact),
// and a number word is any short token that can be a misread number:
// one to four characters holding a digit, a digit look-alike, a capital or
// a symbol ("1Š", "LI", "3]", "2Ù24") — not a lower-case word, so a date
// written out in words ("ngày hai tháng ba") is not one. The second reads
// decide what such a word says.
func WrittenDateParts(ws []Word) [][3]int {
	var out [][3]int
	keys := [3]string{"ngay", "thang", "nam"}
	for i := 0; i+5 < len(ws); i++ {
		ok := true
		for k := 0; k < 3 && ok; k++ {
			kw, num := ws[i+2*k], ws[i+2*k+1]
			ok = kw.Line == ws[i].Line && num.Line == ws[i].Line &&
				dateKeyword(kw.Text, keys[k]) && dateNumberWord(num.Text, k == 2)
		}
		if ok {
			out = append(out, [3]int{i + 1, i + 3, i + 5})
			i += 5
		}
	}
	return out
}

// dateKeyword: the word is the folded keyword, within one edit for the
// keywords of four letters or more.
func dateKeyword(word, key string) bool {
	f := foldText(strings.Trim(word, ",.;:"))
	if f == key {
		return true
	}
	if len(key) < 4 || f == "" {
		return false
	}
	return editDistance(f, key) <= 1 && f[0] == key[0]
}

// dateNumberWord: a token that can be a misread day or month (one or two
// characters) or year (four, or three when year is set and a character
// was lost): digits, look-alikes, capitals or symbols, not a lower-case
// word of two letters or more.
func dateNumberWord(s string, year bool) bool {
	t := []rune(strings.Trim(s, ",.;:"))
	if len(t) == 0 || len(t) > 4 || (!year && len(t) > 2) || (year && len(t) < 3) {
		return false
	}
	lower := 0
	for _, r := range t {
		switch {
		case r >= '0' && r <= '9':
		case unicode.IsLower(r):
			if _, ok := digitLookalike(r); !ok {
				lower++
			}
		}
	}
	return lower == 0
}

// datePart is one number word of a written date.
type datePart struct {
	page  string   // the page read, look-alikes repaired; "" when unreadable
	conf  float64  // the page read's confidence
	reads []string // digit strings of its second reads
	// weak are the digit strings of its failed second reads (below
	// minDateReadConfidence): never a vote against the page read or for
	// a replacement, but a read that reproduces the page read supports it.
	weak []string
	// readConfs are the confidences of reads, in order.
	readConfs []float64
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
	n, possibleAll, doubtful := judgeDateParts(parts)
	for k, p := range parts {
		values[k] = p.page
		possible := possibleAll[k]
		if !doubtful[k] {
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
			if outcome[k] == partContested && outvoted(p, n[k]) {
				outcome[k] = partConfirmed
			}
			support := len(usable)
			for _, r := range p.weak {
				if v, err := strconv.Atoi(r); err == nil && v == n[k] && len(r) == len(p.page) {
					support++
				}
			}
			if outcome[k] == partConfirmed && support < minAgreeingReads {
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

// outvoted reports whether the reads contradicting a possible date part
// (page value v) are one stray read: at least minAgreeingReads reads
// reproduce v, exactly one gives another number, and that one was read
// with less confidence than every agreeing read.
func outvoted(p datePart, v int) bool {
	if len(p.readConfs) != len(p.reads) {
		return false
	}
	agree, differ := 0, 0
	minAgree, dissent := 1.0, 0.0
	for i, r := range p.reads {
		x, err := strconv.Atoi(r)
		if err != nil || len(r) != len(p.page) {
			continue
		}
		if x == v {
			agree++
			minAgree = min(minAgree, p.readConfs[i])
		} else {
			differ++
			dissent = p.readConfs[i]
		}
	}
	return agree >= minAgreeingReads && differ == 1 && dissent < minAgree
}

// judgeDateParts parses the page reads of a date's parts: n their values,
// possible whether each is in range (and, all three in range, whether
// they make a calendar date: 31/02 makes all three suspect), doubtful
// whether its second reads are to be consulted (impossible, or read below
// dateWordConfidence).
func judgeDateParts(parts [3]datePart) (n [3]int, possible, doubtful [3]bool) {
	inRange := [3]bool{}
	for k, p := range parts {
		v, err := strconv.Atoi(p.page)
		n[k] = v
		inRange[k] = err == nil && v >= datePartLimits[k][0] && v <= datePartLimits[k][1]
	}
	noDate := inRange[0] && inRange[1] && inRange[2] && !validDate(n[0], n[1], n[2])
	for k, p := range parts {
		possible[k] = inRange[k] && !noDate
		doubtful[k] = !possible[k] || p.conf < dateWordConfidence
	}
	return n, possible, doubtful
}

// pageDateParts are the page reads of a written date's number words.
func pageDateParts(ws []Word, idx [3]int) [3]datePart {
	var parts [3]datePart
	for k, i := range idx {
		page, _, ok := repairDatePart(strings.Trim(ws[i].Text, ",.;:"))
		if !ok {
			page = ""
		}
		parts[k] = datePart{page: page, conf: ws[i].Conf}
	}
	return parts
}

// DoubtfulDateWords reports, for the day, month and year words of a
// written date (idx, from WrittenDateParts), whether package ocr will
// consult their second reads: the engine re-reads only those.
func DoubtfulDateWords(ws []Word, idx [3]int) [3]bool {
	_, _, doubtful := judgeDateParts(pageDateParts(ws, idx))
	return doubtful
}

// settleWrittenDate applies the second reads of a written date's number
// words (idx: day, month, year indexes into ws) to its extracted value.
// Confirmed and replaced words count at confirmedWordConfidence in the
// date's confidence, and a replaced word's look-alike repairs no longer
// count. A contested word marks the value for review; an unsettled one
// leaves it invalid.
func settleWrittenDate(ex *extracted, ws []Word, idx [3]int) {
	parts := pageDateParts(ws, idx)
	for k, i := range idx {
		parts[k].reads = digitReads(ws[i:i+1], minDateReadConfidence, 2)
		parts[k].weak = digitReads(ws[i:i+1], 0, minDateReadConfidence)
		for _, a := range ws[i].Alts {
			if a.Conf >= minDateReadConfidence {
				parts[k].readConfs = append(parts[k].readConfs, a.Conf)
			}
		}
	}
	values, outcome := resolveDateParts(parts)
	ex.alternatives, ex.settleable = dateAlternatives(parts, outcome)
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
			if _, n, ok := repairDatePart(strings.Trim(ws[idx[k]].Text, ",.;:")); ok {
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

// dateAlternatives returns, for a written date with exactly one contested
// part, the dates its dissenting reads would give (that part replaced by
// each dissenting number, the others as read), and whether the page read
// of that part is backed by at least minAgreeingReads usable reads: only
// then may the dissent be settled by what the date can be.
func dateAlternatives(parts [3]datePart, outcome [3]datePartOutcome) ([]string, bool) {
	k := -1
	for i, o := range outcome {
		if o != partContested {
			continue
		}
		if k >= 0 {
			return nil, false
		}
		k = i
	}
	if k < 0 {
		return nil, false
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p.page)
		if err != nil {
			return nil, false
		}
		n[i] = v
	}
	agree := 0
	var alts []string
	seen := map[int]bool{}
	for _, r := range parts[k].reads {
		v, err := strconv.Atoi(r)
		if err != nil || (k == 2 && len(r) != 4) || (k < 2 && len(r) > 2) {
			continue
		}
		if v == n[k] {
			agree++
			continue
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		alt := n
		alt[k] = v
		alts = append(alts, formatDMY(alt[0], alt[1], alt[2]))
	}
	return alts, agree >= minAgreeingReads && len(alts) > 0
}

// Numeric dates ("Ngày, tháng, năm sinh: 14/08/1999"). A labelled date is
// one or two words; a misread digit in it changes a birth date silently,
// and a stamp or a blur can leave it unreadable. The engine re-reads the
// doubtful ones (NumericDateSpans) alone with a digits-and-slash
// whitelist; resolveDateReads decides what the reads are worth.

// DateSpan is a run of words of one line holding a numeric date, and the
// part of their boxes the date covers.
type DateSpan struct {
	First, Last int // indexes into the page's words, inclusive
	Box         image.Rectangle
}

// dateShapeRe finds the date-shaped part of a word: digits (or look-
// alikes) around at least one slash.
var dateShapeRe = regexp.MustCompile(`[0-9OoIlSsBZ|]{1,2}\s*/\s*[0-9OoIlSsBZ|/]{1,3}\s*[/1l|]?\s*[0-9OoIlSsBZ]{2,5}`)

// NumericDateSpans returns the words of ws that hold a numeric date worth
// a second read: a date-shaped token (dateShapeRe) whose page read is not
// a real date, or is below dateWordConfidence, or is split from a digit
// before it ("1 1/06/2003"). A token with letters glued before the date
// ("sinh:04/05/2004") is cut to the date's share of its box.
func NumericDateSpans(ws []Word) []DateSpan {
	var out []DateSpan
	for i, w := range ws {
		loc := dateShapeRe.FindStringIndex(w.Text)
		if loc == nil || strings.IndexFunc(w.Text[loc[1]:], unicode.IsLetter) >= 0 || strings.ContainsRune(w.Text[loc[1]:], '/') {
			// Letters or more parts after it: a reference number
			// ("288/2018/HNGĐ-ST"), not a date.
			continue
		}
		span := DateSpan{First: i, Last: i, Box: subBox(w, loc[0], loc[1])}
		split := false
		if i > 0 && ws[i-1].Line == w.Line && loc[0] == 0 {
			prev := strings.TrimSpace(ws[i-1].Text)
			if len(prev) <= 2 && dateNumberWord(prev, false) && w.Box.Min.X-ws[i-1].Box.Max.X < w.Box.Dy() {
				span.First = i - 1
				span.Box = span.Box.Union(ws[i-1].Box)
				split = true
			}
		}
		_, _, ok := normalizeDate(w.Text[loc[0]:loc[1]])
		if split || !ok || w.Conf < dateWordConfidence {
			out = append(out, span)
		}
	}
	return out
}

// subBox is the share of w's box taken by its text from byte from to to,
// by character count (a word's characters are about equally wide).
func subBox(w Word, from, to int) image.Rectangle {
	n := utf8.RuneCountInString(w.Text)
	if n == 0 || w.Box.Empty() {
		return w.Box
	}
	a, b := utf8.RuneCountInString(w.Text[:from]), utf8.RuneCountInString(w.Text[:to])
	if a == 0 && b == n {
		return w.Box
	}
	dx := w.Box.Dx()
	r := w.Box
	r.Min.X = w.Box.Min.X + dx*a/n
	r.Max.X = w.Box.Min.X + (dx*b+n-1)/n
	return r
}

// dateDecision is what the second reads made of a numeric date.
type dateDecision struct {
	value     string
	conf      float64
	valid     bool // value is a real date
	disagree  bool // a read contradicts a possible page read: review
	confirmed bool
	// alternatives are the other dates the reads give when they disagree;
	// settleable says the page read, kept, is backed by at least
	// minAgreeingReads reads (see settleByPlausibility).
	alternatives []string
	settleable   bool
}

// resolveDateReads compares a numeric date's page read (value, already
// normalised; valid when a real date) with its second reads (raw texts).
// A read counts when it normalises to a real date.
//
// Failed reads (weak) only ever support a real page read they reproduce.
//
//   - No usable read: the page read stands.
//   - The page read is a real date: at least minAgreeingReads reads equal
//     to it and none other confirm it (confidence raised to
//     confirmedWordConfidence); a read giving another date contests it
//     (review), the date with most votes (page read one) being kept; the
//     other dates are its alternatives, and a kept page read that at
//     least minAgreeingReads reads reproduce may be settled by what the
//     date can be (settleByPlausibility).
//   - The page read is not a real date: at least minAgreeingReads reads,
//     all giving the same date, replace it (confidence that of a
//     confirmed word, lowered by the page read's confidence when that was
//     higher); otherwise it stays unreadable.
func resolveDateReads(value string, valid bool, conf float64, reads, weak []string) dateDecision {
	d := dateDecision{value: value, conf: conf, valid: valid}
	var usable []string
	for _, r := range reads {
		if v, _, ok := normalizeDate(r); ok {
			usable = append(usable, v)
		}
	}
	support := 0
	for _, r := range weak {
		if v, _, ok := normalizeDate(r); ok && valid && v == value {
			support++
		}
	}
	if len(usable) == 0 {
		if support >= minAgreeingReads {
			d.confirmed = true
			d.conf = max(conf, confirmedWordConfidence)
		}
		return d
	}
	votes := map[string]int{}
	order := []string{}
	for _, v := range usable {
		if votes[v] == 0 {
			order = append(order, v)
		}
		votes[v]++
	}
	if valid {
		if len(order) == 1 && order[0] == value {
			if votes[value]+support >= minAgreeingReads {
				d.confirmed = true
				d.conf = max(conf, confirmedWordConfidence)
			}
			return d
		}
		d.disagree = true
		backing := votes[value]
		votes[value]++
		best := value
		for _, v := range order {
			if votes[v] > votes[best] {
				best = v
			}
			if v != value {
				d.alternatives = append(d.alternatives, v)
			}
		}
		d.value = best
		d.settleable = best == value && backing >= minAgreeingReads
		return d
	}
	if len(order) == 1 && votes[order[0]] >= minAgreeingReads {
		d.value, d.valid, d.confirmed = order[0], true, true
		d.conf = confirmedWordConfidence
	}
	return d
}

// dateReads returns the raw texts of the second reads on ws: the
// successful ones (reads) and the failed ones, below
// minDateReadConfidence (weak).
func dateReads(ws []Word) (reads, weak []string) {
	for _, w := range ws {
		for _, a := range w.Alts {
			if a.Conf >= minDateReadConfidence {
				reads = append(reads, a.Text)
			} else {
				weak = append(weak, a.Text)
			}
		}
	}
	return reads, weak
}

// LabelledDateSpans returns, for each line of ws with a birth-date label
// ("Ngày, tháng, năm sinh:", "Sinh ngày:") whose value is not a readable
// date, the span of the value's words: a stamp or pen mark over the value
// leaves debris ("ụ '985—¬") where the date was, and a crop of the place it
// occupies, read with a digits-and-slash whitelist (and without the
// coloured marks), often still reads it. A value glued to its label
// ("ngày:-39") is cut to its share of the word. Spans whose first word
// already has second reads are left out.
func LabelledDateSpans(ws []Word) []DateSpan {
	var out []DateSpan
	for i := 0; i < len(ws); {
		j := i
		for j+1 < len(ws) && ws[j+1].Line == ws[i].Line {
			j++
		}
		if sp, ok := labelledDateSpan(ws, i, j); ok && len(ws[sp.First].Alts) == 0 {
			out = append(out, sp)
		}
		i = j + 1
	}
	return out
}

// labelledDateSpan looks at the line ws[from..to] for a birth-date label
// ending in a colon and the value words after it.
func labelledDateSpan(ws []Word, from, to int) (DateSpan, bool) {
	for c := from; c <= to; c++ {
		t := strings.Replace(ws[c].Text, ";", ":", 1)
		k := strings.IndexByte(t, ':')
		if k < 0 {
			continue
		}
		label := foldText(joinWords(ws[from:c]) + " " + t[:k])
		if !birthDateLabel(label) {
			return DateSpan{}, false
		}
		first, box := c, image.Rectangle{}
		if rest := strings.TrimLeft(t[k+1:], " -–—.,"); rest != "" {
			box = subBox(ws[c], len(t)-len(rest), len(t))
		} else {
			first = c + 1
		}
		last := first
		for last <= to && (last == c || !strings.Contains(ws[last].Text, ":")) {
			if last != c {
				box = box.Union(ws[last].Box)
			}
			last++
		}
		last--
		if first > to || last < first || box.Empty() {
			return DateSpan{}, false
		}
		value := joinWords(ws[first : last+1])
		if first == c {
			value = t[k+1:] + " " + joinWords(ws[c+1:last+1])
		}
		if _, _, ok := normalizeDate(value); ok {
			return DateSpan{}, false
		}
		return DateSpan{First: first, Last: last, Box: box}, true
	}
	return DateSpan{}, false
}

// birthDateLabel: a folded label naming a date of birth, "sinh" with
// "ngày" (not "Nơi sinh", a place), each possibly misread by a letter
// ("sinb", "nøay").
func birthDateLabel(label string) bool {
	fs := strings.Fields(label)
	if len(fs) == 0 || len(fs) > 6 {
		return false
	}
	birth, day := false, false
	for _, f := range fs {
		r := []rune(f)
		switch {
		case f == "sinh" || (len(r) == 4 && strings.HasPrefix(f, "sin")):
			birth = true
		case f == "ngay" || (len(r) == 4 && r[0] == 'n' && strings.HasSuffix(f, "ay")):
			day = true
		}
	}
	return birth && day
}

// LabelledIDSpans returns, for each line of ws with a personal-ID label
// ending in a colon ("Số định danh cá nhân:") whose value holds fewer than
// minReadDigits digits (a stamp or pen mark over the number left debris),
// the span of the value's words. The engine re-reads the place the number
// occupies; package ocr takes such reads as a value only when they agree
// (idFromReads), and never accepts it without a person.
func LabelledIDSpans(ws []Word) []DateSpan {
	var out []DateSpan
	for i := 0; i < len(ws); {
		j := i
		for j+1 < len(ws) && ws[j+1].Line == ws[i].Line {
			j++
		}
		for c := i; c < j; c++ {
			if !strings.HasSuffix(ws[c].Text, ":") || !labelNamesID(foldWords(ws[i:c+1])) {
				continue
			}
			last := c + 1
			digits := 0
			for last <= j && !strings.Contains(ws[last].Text, ":") {
				digits += strings.Count(digitsOf(ws[last].Text), "") - 1
				last++
			}
			last--
			if last > c && digits < minReadDigits && len(ws[c+1].Alts) == 0 {
				box := ws[c+1].Box
				for _, w := range ws[c+2 : last+1] {
					box = box.Union(w.Box)
				}
				out = append(out, DateSpan{First: c + 1, Last: last, Box: box})
			}
			break
		}
		i = j + 1
	}
	return out
}

// idFromReads is the personal ID its second reads give when the page
// read of the value holds no number (ws: the value's words): at least
// minAgreeingReads reads of 12 digits, all the same. The value is never
// confirmed (no page read agrees), so it goes to a person; it still tells
// the reviewer, and the cross-document check, what the number probably is.
func idFromReads(ws []Word) (string, bool) {
	var got string
	n := 0
	for _, r := range secondReads(ws) {
		if len(r) != 12 {
			continue
		}
		if got != "" && r != got {
			return "", false
		}
		got = r
		n++
	}
	if n < minAgreeingReads {
		return "", false
	}
	return got, true
}
