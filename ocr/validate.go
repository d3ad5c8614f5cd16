package ocr

import (
	"time"
)

// Validation codes, used verbatim as review reasons.
const (
	codeWrongLength     = "id_wrong_length"
	codeSexMismatch     = "id_sex_mismatch"
	codeCenturyMismatch = "id_century_mismatch"
	codeBirthYear       = "id_birth_year_mismatch"
	codeUnknownProvince = "id_unknown_province"
	codeCrossDocument   = "id_cross_document_mismatch"
)

// IDFacts are the printed facts a personal ID must agree with; empty
// strings are unknown and not checked.
type IDFacts struct {
	Sex       string // "Nam" or "Nữ"
	BirthDate string // dd/mm/yyyy
}

// ValidatePersonalID checks a 12-digit personal ID against its structure
// PPP C YY NNNNNN and the holder's printed sex and birth date. It returns
// the failed checks' codes in a fixed order; nil when all pass. An unknown
// province is reported (a flag for review), never a rejection.
func (ls *Layouts) ValidatePersonalID(id string, facts IDFacts) []string {
	if len(id) != 12 || !allDigits(id) {
		return []string{codeWrongLength}
	}
	var codes []string
	if _, ok := ls.provinces[id[:3]]; !ok {
		codes = append(codes, codeUnknownProvince)
	}
	c := int(id[3] - '0')
	idCentury := 1900 + (c/2)*100
	idMale := c%2 == 0
	yy := int(id[4]-'0')*10 + int(id[5]-'0')
	if facts.Sex != "" {
		if male := facts.Sex == "Nam"; male != idMale {
			codes = append(codes, codeSexMismatch)
		}
	}
	if _, _, y, ok := parseDMY(facts.BirthDate); ok {
		if y-y%100 != idCentury {
			codes = append(codes, codeCenturyMismatch)
		}
		if y%100 != yy {
			codes = append(codes, codeBirthYear)
		}
	}
	return codes
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// referenceDate is "today" for the issue-date check.
func (ls *Layouts) referenceDate() time.Time {
	if !ls.now.IsZero() {
		return ls.now
	}
	return time.Now()
}

// WithReferenceDate returns a copy of the layouts that treats t as today
// when checking that issue dates are not in the future (for reproducible
// tests and re-evaluation of old batches).
func (ls *Layouts) WithReferenceDate(t time.Time) *Layouts {
	c := *ls
	c.now = t
	return &c
}

// validateDocument runs the per-document checks on extracted values.
func validateDocument(l *Layout, values map[string]extracted, ls *Layouts) []string {
	var reasons []string
	checks := []IDCheck{{IDField: l.HolderIDField, SexField: l.SexField, SexImplied: l.SexImplied, BirthDateField: l.BirthDateField}}
	checks = append(checks, l.IDChecks...)
	for _, c := range checks {
		id, ok := values[c.IDField]
		if c.IDField == "" || !ok {
			continue
		}
		reasons = append(reasons, ls.ValidatePersonalID(id.value, idFacts(c, values))...)
	}
	ref := ls.referenceDate()
	issueDay := 0 // yyyymmdd, 0 when unknown
	issue, hasIssue := values["issue_date"]
	if hasIssue && !issue.invalid {
		if d, m, y, ok := parseDMY(issue.value); ok {
			if time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).After(ref) {
				reasons = append(reasons, reasonFutureIssue)
			}
			issueDay = y*10000 + m*100 + d
		}
	}
	return append(reasons, plausibleBirths(l, values, issueDay, ref)...)
}

// minBirthYear is the earliest plausible year of birth of a living
// holder, spouse or applicant.
const minBirthYear = 1900

// plausibleBirths checks the birth dates the layout ties to an ID (the
// holder's and those of IDChecks): a real date no earlier than
// minBirthYear and not after today is plausible; one after the issue date
// is birth_after_issue; one that makes the person younger than the
// field's MinAgeYears at the issue date (a spouse on a marriage
// certificate) is invalid. issueDay is yyyymmdd, 0 when unknown.
func plausibleBirths(l *Layout, values map[string]extracted, issueDay int, ref time.Time) []string {
	var reasons []string
	slugs := []string{l.BirthDateField}
	for _, c := range l.IDChecks {
		slugs = append(slugs, c.BirthDateField)
	}
	today := ref.Year()*10000 + int(ref.Month())*100 + ref.Day()
	for _, slug := range slugs {
		b, ok := values[slug]
		if slug == "" || !ok || b.invalid {
			continue
		}
		d, m, y, ok := parseDMY(b.value)
		if !ok {
			continue
		}
		born := y*10000 + m*100 + d
		if y < minBirthYear || born > today {
			reasons = append(reasons, reasonInvalidDate+slug)
			continue
		}
		if issueDay == 0 {
			continue
		}
		if born > issueDay {
			reasons = append(reasons, reasonBirthAfter)
			continue
		}
		if f, ok := l.field(slug); ok && f.MinAgeYears > 0 && issueDay-born < f.MinAgeYears*10000 {
			reasons = append(reasons, reasonInvalidDate+slug)
		}
	}
	return reasons
}

// crossCheckIDs compares, in one file, each application form's applicant
// ID with the cross-check ID of every result that follows it (the holder;
// for a death registration the declarant) and with every labelled ID of a
// document of unknown type. Nothing is corrected:
//
//   - The two numbers agree: two independent reads of the same 12 digits,
//     so a low OCR confidence on either is no longer a doubt about it.
//   - They differ and the form's read is sure (its second reads confirm
//     it, or it read at the holder-ID bar with no contradicting read):
//     both documents are flagged. A confident disagreement stops the
//     result as well as the form.
//   - They differ, the form's read is not sure (a hand-filled or degraded
//     form) and the result's own printed ID is confirmed by its second
//     reads: the disagreement is the form's doubt. The form is flagged;
//     the result goes on under the ID printed on it.
//   - They differ and neither is sure: both are flagged.
//
// Only well-formed numbers are compared: a misread that is not even 12
// digits is already flagged on its own document and says nothing about the
// other.
func crossCheckIDs(docs []Document, infos []docInfo, ls *Layouts) {
	app := -1
	for i := range docs {
		l, known := ls.byType[docs[i].DocType]
		if known && l.Application {
			app = i
			continue
		}
		if app < 0 {
			continue
		}
		al := ls.byType[docs[app].DocType]
		a, ok := infos[app].ids[al.HolderIDField]
		if !ok || len(a.value) != 12 {
			continue
		}
		var others []labelledID
		slug := ""
		if known {
			slug = l.CrossIDField
			if r, ok := infos[i].ids[slug]; ok {
				others = append(others, r)
			}
		} else {
			others = infos[i].otherIDs
		}
		var r labelledID
		compared, agree := false, false
		for _, o := range others {
			if len(o.value) != 12 {
				continue
			}
			if !compared {
				r = o
			}
			compared = true
			if o.value == a.value {
				r, agree = o, true
				break
			}
		}
		if !compared {
			continue
		}
		if agree {
			if slug != "" {
				corroborate(&docs[i], slug)
			}
			corroborate(&docs[app], al.HolderIDField)
			continue
		}
		docs[app].ReviewReasons = append(docs[app].ReviewReasons, codeCrossDocument)
		if formIDSure(a) || !r.confirmed || r.disagree {
			docs[i].ReviewReasons = append(docs[i].ReviewReasons, codeCrossDocument)
		}
	}
}

// formIDSure: an application form's ID read that a disagreement with a
// result cannot be blamed on: confirmed by its second reads, or read at
// the holder-ID bar with none contradicting it.
func formIDSure(a labelledID) bool {
	return !a.disagree && (a.confirmed || a.conf >= holderIDMinConfidence)
}

// corroborate drops the low-confidence reason of an ID field confirmed by
// another document of the same file.
func corroborate(d *Document, slug string) {
	out := d.ReviewReasons[:0]
	for _, r := range d.ReviewReasons {
		if r != reasonLowConfidence+slug {
			out = append(out, r)
		}
	}
	d.ReviewReasons = out
}
