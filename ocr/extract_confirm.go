// This file owns the confirmations that lift a doubt from a value when an
// independent read of the same fact agrees with it: a holder's name read
// again elsewhere in the document or on the dossier's application form,
// and a written date whose only dissenting read gives a date that cannot
// be true for its field.

package ocr

import (
	"image"
	"strings"
	"time"
	"unicode"
)

// minNameWords is the fewest words a name must have to be confirmed by
// another read of it: a Vietnamese full name is a surname and a given
// name at least, and a single word could match by chance.
const minNameWords = 2

// nameWords splits a name into its lower-cased words, diacritics kept,
// punctuation around each word dropped. ok is false when a word holds
// anything but letters (a misread mark, a digit): such a read confirms
// nothing.
func nameWords(s string) ([]string, bool) {
	var out []string
	for _, w := range strings.Fields(s) {
		w = strings.Trim(w, ",.;:()\"'")
		if w == "" {
			continue
		}
		for _, r := range w {
			if !unicode.IsLetter(r) {
				return nil, false
			}
		}
		out = append(out, strings.ToLower(w))
	}
	return out, len(out) > 0
}

// nameConfirmedInText reports whether the name value, read at box on
// page, is read again, word for word with every diacritic, in another
// place of the document's lines (the request sentence "Xét đề nghị của
// ông …" repeats the holder's name in running text). The value's own read
// does not count: a match overlapping box on the same page is skipped;
// without a box (text-only pages) two matches are needed.
func nameConfirmedInText(lines []textLine, value string, page int, box image.Rectangle) bool {
	want, ok := nameWords(value)
	if !ok || len(want) < minNameWords {
		return false
	}
	matches := 0
	for _, line := range lines {
		var ws []Word
		for _, seg := range line.segs {
			ws = append(ws, seg.words...)
		}
		for i := 0; i+len(want) <= len(ws); i++ {
			if !wordsMatch(ws[i:i+len(want)], want) {
				continue
			}
			var at extracted
			locate(&at, line.page, ws[i:i+len(want)])
			if box.Empty() || at.box.Empty() {
				matches++
				continue
			}
			if at.page != page || !at.box.Overlaps(box) {
				return true
			}
		}
	}
	return box.Empty() && matches >= 2
}

// wordsMatch compares words with a name's lower-cased words.
func wordsMatch(ws []Word, want []string) bool {
	for k, w := range ws {
		got, ok := nameWords(w.Text)
		if !ok || len(got) != 1 || got[0] != want[k] {
			return false
		}
	}
	return true
}

// corroborateNames lifts the low confidence of the holder's name on an
// application form and on each result that follows it in the file when
// both read the same name, word for word with every diacritic: two
// independent reads of two papers agreeing on it. Nothing is corrected; a
// disagreement changes nothing (the names are checked by a person when
// either is doubtful).
func corroborateNames(docs []Document, ls *Layouts) {
	const slug = "full_name"
	eachResultAfterForm(docs, ls, func(app, i int, _ *Layout) {
		a, okA := docs[app].Fields[slug]
		r, okR := docs[i].Fields[slug]
		if !okA || !okR {
			return
		}
		wa, okA := nameWords(a.Value)
		wr, okR := nameWords(r.Value)
		if !okA || !okR || len(wa) < minNameWords || strings.Join(wa, " ") != strings.Join(wr, " ") {
			return
		}
		corroborate(&docs[i], slug)
		corroborate(&docs[app], slug)
	})
}

// eachResultAfterForm calls fn for every document of a known type that is
// not an application form and comes after one in the file, with the index
// of the nearest form before it and the document's layout.
func eachResultAfterForm(docs []Document, ls *Layouts, fn func(app, i int, l *Layout)) {
	app := -1
	for i := range docs {
		l, known := ls.byType[docs[i].DocType]
		switch {
		case !known:
		case l.Application:
			app = i
		case app >= 0:
			fn(app, i, l)
		}
	}
}

// settleByPlausibility clears the reads-disagree doubt of a written date
// when the dissent is settled by what the date can be: the page read is
// backed by at least minAgreeingReads agreeing reads, exactly one part is
// contested, every date the dissenting reads would give is impossible for
// the field (not a calendar date, in the future, before a date it cannot
// precede) and the page read's date is possible.
func settleByPlausibility(l *Layout, values map[string]extracted, ref time.Time) {
	// Every decision is taken on the values as read, so that one settled
	// date never serves as the bound that settles another.
	var settled []string
	for _, f := range l.Fields {
		ex, ok := values[f.Slug]
		if !ok || !ex.readsDisagree || !ex.settleable || ex.invalid {
			continue
		}
		if !datePossible(l, f.Slug, ex.value, values, ref) {
			continue
		}
		possible := false
		for _, alt := range ex.alternatives {
			possible = possible || datePossible(l, f.Slug, alt, values, ref)
		}
		if !possible {
			settled = append(settled, f.Slug)
		}
	}
	for _, slug := range settled {
		ex := values[slug]
		ex.readsDisagree = false
		values[slug] = ex
	}
}

// datePossible reports whether v (dd/mm/yyyy) can be the value of the date
// field slug: a calendar date, not after ref, not before any of the
// field's NotBefore dates nor, for the issue date, the holder's birth; a
// birth date also after minBirthYear and, at the issue date, at least the
// field's MinAgeYears old (plausibleBirths' rules). A bound is used only when it was read surely (valid, reads agreeing, at
// the default confidence bar); an unsure bound leaves v possible.
func datePossible(l *Layout, slug, v string, values map[string]extracted, ref time.Time) bool {
	d, m, y, ok := parseDMY(v)
	if !ok || !validDate(d, m, y) {
		return false
	}
	day := y*10000 + m*100 + d
	if day > ref.Year()*10000+int(ref.Month())*100+ref.Day() {
		return false
	}
	var bounds []string
	minAge := 0
	if f, ok := l.field(slug); ok {
		bounds = append(bounds, f.NotBefore...)
		minAge = f.MinAgeYears
	}
	if slug == "issue_date" && l.BirthDateField != "" {
		bounds = append(bounds, l.BirthDateField)
	}
	for _, b := range bounds {
		if bd, ok := sureDay(values, b); ok && day < bd {
			return false
		}
	}
	if !isBirthField(l, slug) {
		return true
	}
	// A birth date: after minBirthYear, and the person born before the
	// issue date, at least the field's MinAgeYears before it.
	if y < minBirthYear {
		return false
	}
	if issue, ok := sureDay(values, "issue_date"); ok && (day > issue || issue-day < minAge*10000) {
		return false
	}
	return true
}

// sureDay is the yyyymmdd of the date field slug when it was read surely:
// a real date, its reads agreeing, at the default confidence bar.
func sureDay(values map[string]extracted, slug string) (int, bool) {
	v, ok := values[slug]
	if !ok || v.invalid || v.readsDisagree || v.conf < defaultMinConfidence {
		return 0, false
	}
	d, m, y, ok := parseDMY(v.value)
	return y*10000 + m*100 + d, ok
}

// isBirthField reports whether slug is a birth date the layout ties to an
// ID (the holder's, or one of IDChecks').
func isBirthField(l *Layout, slug string) bool {
	if slug == l.BirthDateField {
		return true
	}
	for _, c := range l.IDChecks {
		if c.BirthDateField == slug {
			return true
		}
	}
	return false
}
