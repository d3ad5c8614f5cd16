package ocr

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldText reduces Vietnamese text to a comparison key: NFD, combining marks
// stripped, đ→d, lower case, every run of non-alphanumerics except the
// characters in keep collapsed to one space, trimmed.
//
// "Họ, chữ đệm và tên" → "ho chu dem va ten".
func foldText(s string) string {
	return foldKeep(s, "")
}

// foldKeep is foldText keeping the punctuation characters in keep.
func foldKeep(s, keep string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(keep, r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		space = true
	}
	return b.String()
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 {
		return len(rb)
	}
	if len(rb) == 0 {
		return len(ra)
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// fuzzyTolerance is how many edits a folded key of n runes may carry and
// still match: none for very short keys, then about one per seven runes.
func fuzzyTolerance(n int) int {
	switch {
	case n <= 3:
		return 0
	case n <= 8:
		return 1
	default:
		return 1 + n/8
	}
}

// fuzzyScore compares two folded keys: 1 for equal, falling linearly with
// the edit distance, and 0 when the distance exceeds the tolerance.
func fuzzyScore(got, want string) float64 {
	if got == want {
		return 1
	}
	n := utf8.RuneCountInString(want)
	tol := fuzzyTolerance(n)
	if tol == 0 {
		return 0
	}
	// The length difference bounds the distance from below: skip the
	// quadratic computation for strings that cannot match.
	if diff := utf8.RuneCountInString(got) - n; diff > tol || -diff > tol {
		return 0
	}
	d := editDistance(got, want)
	if d > tol {
		return 0
	}
	return 1 - 0.5*float64(d)/float64(tol+1)
}

// cleanValue trims OCR debris around a field value: leading separators,
// trailing colons, stray quotes and repeated spaces. The result is NFC.
func cleanValue(s string) string {
	s = fixForeignMarks(s)
	fs := strings.Fields(s)
	// Words without a letter or digit at either end are scan debris
	// ("ˆ", "—~", "„").
	for len(fs) > 0 && !hasAlnum(fs[len(fs)-1]) {
		fs = fs[:len(fs)-1]
	}
	for len(fs) > 0 && !hasAlnum(fs[0]) {
		fs = fs[1:]
	}
	s = strings.Join(fs, " ")
	s = strings.TrimLeft(s, " :;,|_-—~`'\"")
	s = strings.TrimRight(s, " :;,|_—~`'\"")
	return strings.TrimSpace(s)
}

// fixForeignMarks removes diacritics Vietnamese never prints, which OCR
// sometimes produces: any mark on a consonant ("Ñgô" → "Ngô"), and the
// diaeresis, ring and cedilla on any letter ("NÖ" → "NO"). The result is NFC.
func fixForeignMarks(s string) string {
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	var base rune
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			base = r
			b.WriteRune(r)
			continue
		}
		switch {
		case r == '\u0308' || r == '\u030A' || r == '\u0327':
			continue
		case unicode.IsLetter(base) && !strings.ContainsRune("aeiouyAEIOUY", base):
			continue
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

func hasAlnum(s string) bool {
	// Modifier letters (ˆ U+02C6) are letters to Unicode but debris here.
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Lo, unicode.Nd)
	}) >= 0
}

// dropNameDebris removes trailing words that cannot belong to a printed
// name: words with digits, and words starting with a lower-case letter
// after a name printed in capitals (stamp text over the line: "LONG|pAN
// 3A9)" → "LONG").
func dropNameDebris(s string) string {
	fs := strings.Fields(s)
	if len(fs) == 0 {
		return s
	}
	capitals := 0
	for _, f := range fs {
		if r, n := upperRatio(f); n > 0 && r == 1 {
			capitals++
		}
	}
	for len(fs) > 1 {
		last := fs[len(fs)-1]
		first, _ := utf8.DecodeRuneInString(last)
		if strings.IndexFunc(last, unicode.IsDigit) >= 0 || (capitals*2 > len(fs) && unicode.IsLower(first)) || loneConsonant(last) {
			fs = fs[:len(fs)-1]
			continue
		}
		break
	}
	return strings.Join(fs, " ")
}

// loneConsonant: a word of one letter that is not a vowel. A Vietnamese
// syllable of one letter is a vowel ("Y", "Ý"); a lone consonant after a
// name ("QUÂN Ð") is a mark or stamp read as a letter.
func loneConsonant(w string) bool {
	var r []rune
	for _, c := range norm.NFC.String(w) {
		if unicode.IsLetter(c) {
			r = append(r, c)
		}
	}
	if len(r) != 1 {
		return false
	}
	f := foldText(string(r))
	return f == "" || !strings.ContainsAny(f, "aeiouy")
}

// normalizeName returns a person's name in upper case NFC, keeping only
// letters, spaces and hyphens.
func normalizeName(s string) string {
	s = dropNameDebris(cleanValue(strings.ReplaceAll(s, "|", " ")))
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || r == ' ' || r == '-' {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(strings.ToUpper(strings.Join(strings.Fields(b.String()), " ")))
}

// digitLookalike maps a character OCR confuses with a digit to that digit.
func digitLookalike(r rune) (rune, bool) {
	switch r {
	case 'O', 'o', 'D', 'Q':
		return '0', true
	case 'I', 'l', 'i', '|', '!':
		return '1', true
	case 'Z', 'z':
		return '2', true
	case 'S', 's':
		return '5', true
	case 'B':
		return '8', true
	case 'g', 'q':
		return '9', true
	case 'G', 'b':
		return '6', true
	case 'T':
		return '7', true
	}
	return 0, false
}

// repairDigits maps look-alike letters to digits in a token that is mostly
// digits. It returns the repaired token and the number of characters
// changed, or ok=false when the token is not digit-like enough to repair
// without guessing.
func repairDigits(tok string) (string, int, bool) {
	digits, fixable := 0, 0
	for _, r := range tok {
		if r >= '0' && r <= '9' {
			digits++
		} else if _, ok := digitLookalike(r); ok {
			fixable++
		} else {
			return "", 0, false
		}
	}
	if digits == 0 || fixable > 2 || fixable*3 > digits {
		return "", 0, false
	}
	var b strings.Builder
	for _, r := range tok {
		if d, ok := digitLookalike(r); ok {
			b.WriteRune(d)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String(), fixable, true
}

// ParsedID is a personal ID read from OCR text.
type ParsedID struct {
	// Digits is the number with separators removed: 12 digits when valid,
	// otherwise whatever digit run was found (for id_wrong_length).
	Digits string
	// Repairs counts look-alike characters mapped to digits and joined
	// digit groups; any repair lowers confidence.
	Repairs int
}

var idTokenSplit = regexp.MustCompile(`[\s.\-]+`)

// ParseID reads a personal ID number from the start of a field value such
// as "001099872198", "0011 99872198" or "00I099872198". It joins digit groups
// split by spaces or dots and maps unambiguous look-alikes (O→0, l→1) in
// digit-dominated tokens. ok is false when no digits were found.
func ParseID(s string) (ParsedID, bool) {
	var out ParsedID
	toks := idTokenSplit.Split(strings.TrimSpace(norm.NFC.String(s)), -1)
	var b strings.Builder
	groups := 0
	for _, t := range toks {
		t = strings.TrimFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '|' && r != '!' })
		if t == "" {
			continue
		}
		fixed, n, ok := repairDigits(t)
		if !ok {
			break
		}
		if b.Len()+len(fixed) > 12 && b.Len() > 0 {
			break
		}
		b.WriteString(fixed)
		out.Repairs += n
		groups++
		if b.Len() >= 12 {
			break
		}
	}
	if b.Len() == 0 {
		return ParsedID{}, false
	}
	if groups > 1 {
		out.Repairs += groups - 1
	}
	out.Digits = b.String()
	return out, true
}

var (
	numericDateRe = regexp.MustCompile(`\b(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})\b`)
	wordDateRe    = regexp.MustCompile(`ngay\s*(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})`)
	// splitDayRe: a two-digit day OCR split at a gap, "1 1/06/2003".
	// The first digit may be a look-alike ("I 1/06/1983").
	splitDayRe = regexp.MustCompile(`(?:^|\s)([\dIl|]) (\d[/.\-]\d{1,2}[/.\-]\d{4})\b`)
)

// normalizeDate finds a date in s ("14/08/1999", "ngày 5 tháng 3 năm 2024",
// "14-8-1999") and returns it as dd/mm/yyyy. Look-alike letters inside the
// numbers are repaired and counted. ok is false when there is no real date.
func normalizeDate(s string) (string, int, bool) {
	repairs := 0
	var b strings.Builder
	for _, tok := range strings.Fields(norm.NFC.String(s)) {
		if fixed, n, ok := repairDateToken(tok); ok {
			b.WriteString(fixed)
			repairs += n
		} else {
			b.WriteString(tok)
		}
		b.WriteByte(' ')
	}
	text := splitDayRe.ReplaceAllStringFunc(b.String(), func(m string) string {
		sm := splitDayRe.FindStringSubmatch(m)
		d := sm[1]
		if r, ok := digitLookalike([]rune(d)[0]); ok {
			d = string(r)
		}
		return " " + d + sm[2]
	})
	if text != b.String() {
		repairs++ // a day split in two ("1 1/06/2003")
	}
	if m := numericDateRe.FindStringSubmatch(text); m != nil {
		d, ok := formatDate(m[1], m[2], m[3])
		return d, repairs, ok
	}
	if m := wordDateRe.FindStringSubmatch(foldText(text)); m != nil {
		d, ok := formatDate(m[1], m[2], m[3])
		return d, repairs, ok
	}
	return "", 0, false
}

// repairDateToken repairs digit look-alikes inside a token shaped like a
// numeric date (digits and separators).
func repairDateToken(tok string) (string, int, bool) {
	if !strings.ContainsAny(tok, "/") {
		return "", 0, false
	}
	parts := strings.Split(tok, "/")
	n := 0
	for i, p := range parts {
		if p == "" {
			continue
		}
		p = strings.Trim(p, ",.;:")
		fixed, k, ok := repairDigits(p)
		if !ok && len(p) == 2 {
			// Inside a date a two-character part is a number: one
			// look-alike next to a digit is unambiguous ("l4").
			if r, ok1 := digitLookalike(rune(p[0])); ok1 && p[1] >= '0' && p[1] <= '9' {
				fixed, k, ok = string(r)+p[1:], 1, true
			} else if r, ok2 := digitLookalike(rune(p[1])); ok2 && p[0] >= '0' && p[0] <= '9' {
				fixed, k, ok = p[:1]+string(r), 1, true
			}
		}
		if !ok {
			return "", 0, false
		}
		parts[i] = fixed
		n += k
	}
	return strings.Join(parts, "/"), n, true
}

// formatDate validates day, month, year strings and formats dd/mm/yyyy.
func formatDate(ds, ms, ys string) (string, bool) {
	d, err1 := strconv.Atoi(ds)
	m, err2 := strconv.Atoi(ms)
	y, err3 := strconv.Atoi(ys)
	if err1 != nil || err2 != nil || err3 != nil {
		return "", false
	}
	if !validDate(d, m, y) {
		return "", false
	}
	return fmt.Sprintf("%02d/%02d/%04d", d, m, y), true
}

// validDate reports whether d/m/y is a real calendar date in 1850..2199.
func validDate(d, m, y int) bool {
	if y < 1850 || y > 2199 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= daysIn(m, y)
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDMY splits a normalised dd/mm/yyyy date.
func parseDMY(s string) (d, m, y int, ok bool) {
	if len(s) != 10 || s[2] != '/' || s[5] != '/' {
		return 0, 0, 0, false
	}
	var err error
	if d, err = strconv.Atoi(s[:2]); err != nil {
		return 0, 0, 0, false
	}
	if m, err = strconv.Atoi(s[3:5]); err != nil {
		return 0, 0, 0, false
	}
	if y, err = strconv.Atoi(s[6:]); err != nil {
		return 0, 0, 0, false
	}
	return d, m, y, validDate(d, m, y)
}

// normalizeSex maps a printed sex to "Nam" or "Nữ".
func normalizeSex(s string) (string, bool) {
	f := foldText(s)
	first, _, _ := strings.Cut(f, " ")
	switch first {
	case "nam":
		return "Nam", true
	case "nu", "nur":
		return "Nữ", true
	}
	return "", false
}

// snapVocabulary maps a value onto the closest entry of a closed list when
// its folded form is within the fuzzy tolerance of the shorter of the two
// (so a truncated "Chủ" does not become "Cháu"), and no other entry is as
// close. changed reports a repair.
func snapVocabulary(s string, vocab []string) (value string, changed, ok bool) {
	f := foldText(s)
	fl := len([]rune(f))
	best, bestD, ties := "", -1, 0
	for _, v := range vocab {
		fv := foldText(v)
		tol := fuzzyTolerance(min(fl, len([]rune(fv))))
		if diff := fl - len([]rune(fv)); diff > tol || -diff > tol {
			continue
		}
		d := editDistance(f, fv)
		if d > tol {
			continue
		}
		switch {
		case bestD < 0 || d < bestD:
			best, bestD, ties = v, d, 1
		case d == bestD && v != best:
			ties++
		}
	}
	if bestD < 0 || (ties > 1 && bestD > 0) {
		return s, false, false
	}
	return best, best != s, true
}

// addMonths adds calendar months to a date, clamping the day to the end of
// a shorter month (31/08 + 6 months = 28/02 or 29/02).
func addMonths(d, m, y, months int) (int, int, int) {
	total := y*12 + (m - 1) + months
	ny, nm := total/12, total%12+1
	return min(d, daysIn(nm, ny)), nm, ny
}

// addDays adds days to a date.
func addDays(d, m, y, days int) (int, int, int) {
	for days > 0 {
		left := daysIn(m, y) - d
		if days <= left {
			return d + days, m, y
		}
		days -= left + 1
		d = 1
		m++
		if m > 12 {
			m, y = 1, y+1
		}
	}
	return d, m, y
}

// snapSurname restores the diacritics of the first word of a name (upper
// or title case) when its folded form equals exactly one known surname.
func snapSurname(name string, surnames []string) (string, bool) {
	first, rest, _ := strings.Cut(name, " ")
	if first == "" {
		return name, false
	}
	f := foldText(first)
	upper := first == strings.ToUpper(first)
	if glued, tail, ok := gluedSurname(first, surnames); ok {
		// "NGUYỄNTHÀNH": a surname glued to the next name.
		first, rest = glued, strings.TrimSpace(tail+" "+rest)
		if rest == "" {
			return first, true
		}
		return first + " " + rest, true
	}
	match := ""
	for _, s := range surnames {
		if fs := foldText(s); fs == f || fs == collapseVowels(f) {
			if match != "" {
				return name, false // ambiguous (Vũ/Võ fold apart, but be safe)
			}
			match = s
			if upper {
				match = strings.ToUpper(s)
			}
		}
	}
	if match == "" || match == first {
		return name, false
	}
	if rest == "" {
		return match, true
	}
	return match + " " + rest, true
}

// maxSyllable is the length of the longest Vietnamese syllable, in
// letters ("nghiêng"): a longer word is two glued together.
const maxSyllable = 7

// gluedSurname splits a first word longer than any syllable that starts
// with a surname of the vocabulary ("NGUYỄNTHÀNH" → "NGUYỄN", "THÀNH"),
// the longest surname first; the rest must be a word of two letters or
// more.
func gluedSurname(word string, surnames []string) (string, string, bool) {
	r := []rune(norm.NFC.String(word))
	if len(r) <= maxSyllable {
		return "", "", false
	}
	best := 0
	for _, s := range surnames {
		n := len([]rune(norm.NFC.String(s)))
		if n > best && n+2 <= len(r) && strings.EqualFold(string(r[:n]), norm.NFC.String(s)) {
			best = n
		}
	}
	if best == 0 {
		return "", "", false
	}
	return string(r[:best]), string(r[best:]), true
}

// collapseVowels folds a doubled a, e, i or y to one ("daang" → "dang"):
// OCR reads one accented vowel as two ("ĐẶĂNG"), and no syllable has these
// twice in a row (unlike "oo" in "xoong" or "ưu").
func collapseVowels(f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if i > 0 && f[i] == f[i-1] && strings.IndexByte("aeiy", f[i]) >= 0 {
			continue
		}
		b.WriteByte(f[i])
	}
	return b.String()
}

// normalizeReference cleans a document's reference number ("Số: 371/UBND-
// XNTTHN") as OCR gives it: slash look-alikes ("⁄", "∕") become "/",
// trailing punctuation and dashes are dropped, and a slash OCR lost
// between the number and its symbol ("371UBND-XNTTHN", "5751XN") is put
// back: a reference's number is followed by a slash, while codes with a
// letter inside the digits ("79F8349135") have one letter, not a symbol of
// two or more.
func normalizeReference(tok string) string {
	tok = strings.Map(func(r rune) rune {
		switch r {
		case '⁄', '∕', '／':
			return '/'
		}
		return r
	}, tok)
	tok = strings.TrimRight(tok, ".,;:-_–—")
	tok = repairLeadingNumber(tok)
	if m := glueRefRe.FindStringSubmatch(tok); m != nil {
		tok = m[1] + "/" + m[2]
	}
	return tok
}

// repairLeadingNumber maps the look-alikes of 1 and 0 (I, l, |, O, o)
// inside a reference's leading number, the run of digits and look-alikes
// before its first other character, when the run holds a real digit and
// is followed by a letter ("3IE8715118" → "31E8715118"). A run followed
// by a slash or the end is left alone: it may be a symbol ("QĐ").
func repairLeadingNumber(tok string) string {
	r := []rune(tok)
	n, digits := 0, 0
	for n < len(r) {
		switch r[n] {
		case '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			digits++
		case 'I', 'l', '|', 'O', 'o':
		default:
			goto end
		}
		n++
	}
end:
	if digits == 0 || n == digits || n >= len(r) || !unicode.IsLetter(r[n]) {
		return tok
	}
	for i := 0; i < n; i++ {
		if d, ok := digitLookalike(r[i]); ok {
			r[i] = d
		}
	}
	return string(r)
}

// glueRefRe: a number glued to a symbol of two capitals or more.
var glueRefRe = regexp.MustCompile(`^([0-9]+)(\p{Lu}{2,}(?:[-/].*)?)$`)
