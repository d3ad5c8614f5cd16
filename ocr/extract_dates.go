// This file owns the dates read from running text: the place-and-date
// line, and valid_until from a printed validity period or the layout's
// policy.

package ocr

import (
	"regexp"
	"strings"
)

// placeDate finds "<place>, ngày dd tháng mm năm yyyy".
func (dc *docContext) placeDate(region string) (extracted, bool) {
	var found []extracted
	end := len(dc.lines)
	if region == "header" && dc.title >= 0 {
		end = dc.title
	}
	for i := 0; i < end; i++ {
		for _, seg := range dc.lines[i].segs {
			if ex, ok := writtenDate(seg.words); ok {
				locate(&ex, dc.lines[i].page, seg.words)
				found = append(found, ex)
			}
		}
	}
	if len(found) == 0 {
		return extracted{}, false
	}
	if region == "last" {
		return found[len(found)-1], true
	}
	return found[0], true
}

// writtenDate reads "ngày D tháng M năm Y" from one segment's words. The
// words of the date are found whatever OCR made of its numbers
// (WrittenDateParts) and settled with their second reads; a segment where
// OCR glued the words ("ngày15") is matched on its text.
func writtenDate(ws []Word) (extracted, bool) {
	if dp := WrittenDateParts(ws); len(dp) > 0 {
		idx := dp[0]
		var nums [3]string
		repairs := 0
		for k, i := range idx {
			tok := strings.Trim(ws[i].Text, ",.;:")
			if fixed, n, ok := repairDatePart(tok); ok {
				nums[k] = fixed
				repairs += n
			} else {
				nums[k] = tok
			}
		}
		v, ok := formatDate(nums[0], nums[1], nums[2])
		guessed := false
		if !ok {
			if alt, n, altOK := italicOneDate(ws, idx); altOK {
				v, ok, repairs, guessed = alt, true, n, true
			}
		}
		if !ok {
			v = nums[0] + "/" + nums[1] + "/" + nums[2]
		}
		ex := extracted{value: v, repairs: repairs, invalid: !ok}
		settleWrittenDate(&ex, ws, idx)
		for k := 0; k < ex.repairs; k++ {
			ex.conf *= repairPenalty
		}
		if guessed && ex.value == v {
			// A second reading of the look-alikes, no read confirming
			// it: the value is the likeliest, and a person checks it.
			ex.conf = min(ex.conf, guessedDateConfidence)
		}
		return ex, true
	}
	// Repair look-alikes in number-like tokens before matching.
	var parts []string
	repairs := 0
	for _, w := range ws {
		if fixed, n, ok := repairDigits(strings.Trim(w.Text, ",.")); ok && n > 0 {
			parts = append(parts, fixed)
			repairs += n
		} else {
			parts = append(parts, w.Text)
		}
	}
	m := wordDateRe.FindStringSubmatch(foldText(strings.Join(parts, " ")))
	if m == nil {
		return extracted{}, false
	}
	v, ok := formatDate(m[1], m[2], m[3])
	ex := extracted{value: v, conf: wordsConf(ws), repairs: repairs, invalid: !ok}
	if !ok {
		ex.value = m[1] + "/" + m[2] + "/" + m[3]
	}
	for k := 0; k < ex.repairs; k++ {
		ex.conf *= repairPenalty
	}
	return ex, true
}

// guessedDateConfidence is the confidence of a date read only through
// italicOneDate: below every field's bar, so it is reviewed.
const guessedDateConfidence = 0.5

// italicOneDate reads a written date whose look-alike repairs made it
// impossible once more, with a "T" in the day or month taken for a 1 (the
// flag of an italic 1) instead of a 7: "ngày 13 tháng T1" is 13/11, not
// 13/71. It returns the date and the repairs made, or ok false when that
// does not make a real date either.
func italicOneDate(ws []Word, idx [3]int) (string, int, bool) {
	var nums [3]string
	repairs, changed := 0, false
	for k, i := range idx {
		tok := strings.Trim(ws[i].Text, ",.;:")
		if k < 2 && strings.ContainsRune(tok, 'T') {
			tok = strings.ReplaceAll(tok, "T", "1")
			changed = true
			repairs++
		}
		fixed, n, ok := repairDatePart(tok)
		if !ok {
			return "", 0, false
		}
		nums[k] = fixed
		repairs += n
	}
	if !changed {
		return "", 0, false
	}
	v, ok := formatDate(nums[0], nums[1], nums[2])
	return v, repairs, ok
}

// Printed validity periods: "có giá trị 30 ngày kể từ ngày cấp", "trong
// thời hạn 06 tháng, kể từ ngày cấp"; the loose form tolerates a mangled
// ending ("kể từ ngày căng").
// OCR glues or breaks the short words of "kể từ" ("ketu", "kế !ừ"), so
// after the period the ending is recognised by "ngày cấp" as well.
var (
	validityRe      = regexp.MustCompile(`(\d{1,3})\s*(thang|nam|ngay)\b[^.]{0,30}?\bke tu ngay cap`)
	validityLooseRe = regexp.MustCompile(`gia tri[^.]{0,40}?\b(\d{1,3})\s*(thang|nam|ngay)\b(?:[^.]{0,12}?\bke ?tu|[^.]{0,8}?\bngay ?cap)`)
)

// validUntil computes valid_until from the printed period or the policy.
func (dc *docContext) validUntil(rule *ValidityRule, issue extracted) (*string, string) {
	if issue.value == "" || issue.invalid {
		if rule.Required || rule.PolicyMonths > 0 {
			return nil, reasonNoValidity
		}
		return nil, ""
	}
	d, m, y, ok := parseDMY(issue.value)
	if !ok {
		return nil, reasonNoValidity
	}
	if rule.Printed {
		var all []string
		for _, l := range dc.lines {
			all = append(all, l.text())
		}
		text := foldKeep(strings.Join(all, " "), ".")
		mm := validityRe.FindStringSubmatch(text)
		if mm == nil {
			mm = validityLooseRe.FindStringSubmatch(text)
		}
		if mm != nil {
			n := atoiSmall(mm[1])
			var nd, nm, ny int
			switch mm[2] {
			case "thang":
				nd, nm, ny = addMonths(d, m, y, n)
			case "nam":
				nd, nm, ny = addMonths(d, m, y, 12*n)
			default:
				nd, nm, ny = addDays(d, m, y, n)
			}
			s := formatDMY(nd, nm, ny)
			return &s, ""
		}
	}
	if rule.PolicyMonths > 0 {
		nd, nm, ny := addMonths(d, m, y, rule.PolicyMonths)
		s := formatDMY(nd, nm, ny)
		return &s, ""
	}
	if rule.Required {
		return nil, reasonNoValidity
	}
	return nil, ""
}

func atoiSmall(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func formatDMY(d, m, y int) string {
	b := []byte("00/00/0000")
	b[0], b[1] = byte('0'+d/10), byte('0'+d%10)
	b[3], b[4] = byte('0'+m/10), byte('0'+m%10)
	b[6], b[7], b[8], b[9] = byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10)
	return string(b)
}
