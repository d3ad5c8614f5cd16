package pipeline

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sohoa/ocr"
)

// vietnamese: a text a clerk reads has Vietnamese letters.
var vietnamese = regexp.MustCompile(`[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]`)

// sourceCodes finds the string constants and reason literals of the Go
// files (tests excluded) of dir matching re's first group.
func sourceCodes(t *testing.T, dir string, res ...*regexp.Regexp) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range res {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestEveryReasonCodeHasAStaffText: every code a clerk can meet — a
// refusal at the door, a quarantine code, a review reason of the pipeline
// or of the OCR, with every field, flag or page it can name — reads in
// Vietnamese through StaffReason, never as the raw code. The codes are read
// from the sources, so a new code without a text fails here.
func TestEveryReasonCodeHasAStaffText(t *testing.T) {
	texts := StaffTexts()
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	var slugs []string
	for _, dt := range layouts.Types() {
		l, _ := layouts.Layout(dt)
		for _, f := range l.Fields {
			slugs = append(slugs, f.Slug)
		}
	}
	flags := []string{ocr.FlagBlank, ocr.FlagDegenerate, ocr.FlagLowOSD, ocr.FlagLowConfidence, ocr.FlagActiveContent}

	pipe := sourceCodes(t, ".",
		regexp.MustCompile(`\b(?:Refused|Code|Reason)\w+\s*=\s*"([a-z0-9_]+)"`),
		regexp.MustCompile(`Reasons = \[\]string\{"([a-z0-9_]+)"\}`),
		regexp.MustCompile(`append\(fileReasons, "([a-z0-9_]+)"\)`))
	ocrCodes := sourceCodes(t, "../ocr", regexp.MustCompile(`\b(?:reason|code)[A-Z]\w*\s*=\s*"([a-z0-9_:]+)"`))
	if len(pipe) < 25 || len(ocrCodes) < 15 {
		t.Fatalf("found %d pipeline and %d ocr codes (%v %v): are the patterns right?", len(pipe), len(ocrCodes), pipe, ocrCodes)
	}
	codes := slices.Clone(pipe)
	for _, c := range ocrCodes {
		if !strings.HasSuffix(c, ":") {
			codes = append(codes, c)
			continue
		}
		args := slugs
		if c == "page_flagged:" {
			args = flags
		}
		for _, a := range args {
			codes = append(codes, c+a)
		}
	}
	// The pipeline's page codes (ocrstage.go: decide).
	codes = append(codes, "page_3_dpi_below_200", "page_2_"+ocr.FlagBlank, "page_1_"+ocr.FlagDegenerate)
	for _, f := range []string{FieldHolderID, FieldProcedureCode, FieldValidUntil} {
		codes = append(codes, "missing_field:"+f)
	}
	for _, code := range codes {
		got := StaffReason(texts, code)
		if got == unknownReason || !vietnamese.MatchString(got) || strings.Contains(got, "%") || strings.Contains(got, code) {
			t.Errorf("%s reads %q: no Vietnamese text", code, got)
		}
	}
	if got := StaffReason(texts, "no_such_code:x"); got != unknownReason {
		t.Errorf("an unknown code reads %q, want the generic text", got)
	}
	t.Logf("%d codes checked", len(codes))
}
