package storage

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	agencyRe  = regexp.MustCompile(`^[A-Z0-9]{3}\.[A-Z0-9]{2}\.[A-Z0-9]{2}\.[A-Z][A-Z0-9]{2}$`)
	dossierRe = regexp.MustCompile(`^([A-Z0-9]{3}\.[A-Z0-9]{2}\.[A-Z0-9]{2}\.[A-Z][A-Z0-9]{2})-(\d{6})-(\d{4})$`)
	resultRe  = regexp.MustCompile(`^(.+)-KQ(?:([1-9]\d{0,5})|\(([1-9]\d{0,5})\))$`)
)

// ValidAgencyCode reports whether s is a 13-character agency code
// V1V2V3.Z1Z2.Y1Y2.MX1X2 (Circular 10/2016/TT-BTTTT shape).
func ValidAgencyCode(s string) bool { return agencyRe.MatchString(s) }

// ValidDossierCode reports whether s is a dossier code
// {agency}-YYMMDD-XXXX (TT 01/2018 Art. 19) with a real calendar date.
func ValidDossierCode(s string) bool {
	m := dossierRe.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	_, err := time.Parse("060102", m[2])
	return err == nil
}

// ParseDossierCode splits a dossier code {agency}-YYMMDD-XXXX into its
// agency, its day (00:00 in Vietnam) and its sequence (1-9999: the day's
// intake counter starts at 0001).
func ParseDossierCode(s string) (agency string, day time.Time, seq int, err error) {
	m := dossierRe.FindStringSubmatch(s)
	if m == nil {
		return "", time.Time{}, 0, fmt.Errorf("dossier code: want {agency}-YYMMDD-XXXX: %w", ErrInvalid)
	}
	day, err = time.ParseInLocation("060102", m[2], Vietnam())
	if err != nil {
		return "", time.Time{}, 0, fmt.Errorf("dossier code: date: not a calendar date: %w", ErrInvalid)
	}
	seq, _ = strconv.Atoi(m[3])
	if seq < 1 {
		return "", time.Time{}, 0, fmt.Errorf("dossier code: sequence 0000: the day's counter starts at 0001: %w", ErrInvalid)
	}
	return m[1], day, seq, nil
}

// ParseResultCode parses a result code {dossier_code}-KQ{n} and returns its
// canonical form (no parentheses, no zero padding: "KQ(1)" reads as "KQ1"),
// the dossier code and n.
func ParseResultCode(s string) (code, dossier string, seq int, err error) {
	m := resultRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", "", 0, fmt.Errorf("result code: want {dossier}-KQ{n}: %w", ErrInvalid)
	}
	dossier = m[1]
	if !ValidDossierCode(dossier) {
		return "", "", 0, fmt.Errorf("result code: malformed dossier code: %w", ErrInvalid)
	}
	n := m[2]
	if n == "" {
		n = m[3]
	}
	seq, err = strconv.Atoi(n)
	if err != nil {
		return "", "", 0, fmt.Errorf("result code: sequence: %w", ErrInvalid)
	}
	return dossier + "-KQ" + strconv.Itoa(seq), dossier, seq, nil
}

// FormatDossierCode builds {agency}-{yymmdd}-{seq:04d}.
func FormatDossierCode(agency string, day time.Time, seq int) string {
	return fmt.Sprintf("%s-%s-%04d", agency, day.In(Vietnam()).Format("060102"), seq)
}
