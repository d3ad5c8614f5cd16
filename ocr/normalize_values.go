// This file owns the clean-up of free-text values OCR breaks in ways the
// value's kind tells apart: addresses (the punctuation and spacing between
// administrative units, the province at the end), reference numbers (the
// lost slash) and common administrative phrases (a misread diacritic).

package ocr

import (
	"regexp"
	"strings"
	"unicode"
)

// addressUnits are the words that open an administrative unit of an
// address, lower case as printed inside one.
const addressUnits = `phường|xã|quận|huyện|thành phố|tỉnh|thị trấn|thị xã`

var (
	// A unit after a stop, colon or semicolon misread for its comma
	// ("Linh Trung. thành phố"), or after a comma with no space.
	addressStopRe = regexp.MustCompile(`\s*[.:;,]+\s*(` + addressUnits + `)\s`)
	// A unit word followed by a stray stop ("phường. Lạch Tray").
	addressUnitStopRe = regexp.MustCompile(`(^|\s)(` + addressUnits + `)[.:;,]\s`)
	// A unit word glued to the name after it ("quậnHải Châu").
	addressGluedRe = regexp.MustCompile(`(^|\s)(` + addressUnits + `)(\p{Lu})`)
	// "Số250", "Số'15": the house number glued to "Số" or after debris.
	addressNumberRe = regexp.MustCompile(`^Số[^\p{L}\p{N}]*(\p{N})`)
	// A comma with no space after it, before a letter.
	addressCommaRe = regexp.MustCompile(`,(\p{L})`)
	// The last province-level unit and what follows it.
	addressProvinceRe = regexp.MustCompile(`(^|\s)(tỉnh|thành phố) ([^,]+)$`)
)

// normalizeAddress cleans an address value: the fraction slash OCR reads
// in "105/48" becomes "/", misread separators before units become ", ",
// glued words are split, "dường" in an address is "đường", the trailing
// stop is dropped, and the last "tỉnh|thành phố X" is snapped onto the
// province list when X folds onto one name, or completed when X is the
// start of exactly one name cut by the line end ("thành phố Đà" → "Đà
// Nẵng"). The second result reports a province snap or completion.
func normalizeAddress(s string, provinces []string) (string, bool) {
	s = strings.ReplaceAll(cleanValue(s), "⁄", "/")
	s = addressNumberRe.ReplaceAllString(s, "Số $1")
	s = addressCommaRe.ReplaceAllString(s, ", $1")
	s = addressUnitStopRe.ReplaceAllString(s, "$1$2 ")
	s = addressStopRe.ReplaceAllString(s, ", $1 ")
	s = addressGluedRe.ReplaceAllString(s, "$1$2 $3")
	fs := strings.Fields(s)
	// "Ủy bạn nhân dân": the authority opening a registration place.
	if len(fs) >= 4 && foldText(strings.Join(fs[:4], " ")) == "uy ban nhan dan" {
		fs[0], fs[1], fs[2], fs[3] = "Ủy", "ban", "nhân", "dân"
	}
	for i, f := range fs {
		if f == "dường" {
			fs[i] = "đường"
		}
	}
	s = strings.TrimRight(strings.Join(fs, " "), ".")
	m := addressProvinceRe.FindStringSubmatchIndex(s)
	if m == nil {
		return s, false
	}
	tail := s[m[6]:m[7]]
	p, ok := snapProvince(tail, provinces)
	if !ok || p == tail {
		return s, false
	}
	return s[:m[6]] + p, true
}

// snapProvince maps a read province name onto the list: the one name it
// folds to, or the one name it is a word prefix of.
func snapProvince(tail string, provinces []string) (string, bool) {
	ft := foldText(tail)
	if ft == "" {
		return "", false
	}
	prefix := ""
	n := 0
	for _, p := range provinces {
		fp := foldText(p)
		if fp == ft {
			return p, true
		}
		// A word prefix ("Thanh" of "Thanh Hóa"), or three letters or more
		// of a name whose next word was glued and cut ("ĐàN").
		if strings.HasPrefix(fp, ft+" ") || (len(ft) >= 3 && !strings.Contains(ft, " ") && strings.HasPrefix(strings.ReplaceAll(fp, " ", ""), ft) && fp != ft) {
			prefix = p
			n++
		}
	}
	if n == 1 {
		return prefix, true
	}
	return "", false
}

// snapPhrases restores the spelling of the common administrative phrases
// of the vocabulary in free text: a run of words that folds onto one
// ("Bố sung", "sử' dụng") is replaced by it, keeping the case of the first
// letter and the punctuation after the run.
func snapPhrases(s string, phrases []string) (string, bool) {
	fs := strings.Fields(s)
	changed := false
	for _, p := range phrases {
		pw := strings.Fields(p)
		fp := foldText(p)
		for i := 0; i+len(pw) <= len(fs); i++ {
			run := fs[i : i+len(pw)]
			if foldText(strings.Join(run, " ")) != fp {
				continue
			}
			last := run[len(run)-1]
			suffix := last[len(strings.TrimRightFunc(last, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })):]
			want := append([]string(nil), pw...)
			first := []rune(want[0])
			if r := []rune(run[0]); len(r) > 0 && unicode.IsUpper(r[0]) {
				first[0] = unicode.ToUpper(first[0])
			} else {
				first[0] = unicode.ToLower(first[0])
			}
			want[0] = string(first)
			want[len(want)-1] += suffix
			for k := range want {
				if run[k] != want[k] {
					run[k] = want[k]
					changed = true
				}
			}
		}
	}
	return strings.Join(fs, " "), changed
}
