package ocr

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadFixture reads OCR page fixtures made by testdata/mkfixtures.
func loadFixture(t testing.TB, base string) []Page {
	t.Helper()
	return loadPages(t, "pages", base)
}

// loadPages reads a JSON []Page from testdata/<dir>/<base>.json: "pages"
// holds tesseract CLI fixtures, "engine" the output of ocr/tesseract
// (`sohoa extract --json --words`, pages only).
func loadPages(t testing.TB, dir, base string) []Page {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", dir, base+".json"))
	if err != nil {
		t.Fatalf("read fixture %s: %v", base, err)
	}
	var pages []Page
	if err := json.Unmarshal(data, &pages); err != nil {
		t.Fatalf("parse fixture %s: %v", base, err)
	}
	return pages
}

func testLayouts(t testing.TB) *Layouts {
	t.Helper()
	ls, err := DefaultLayouts()
	if err != nil {
		t.Fatalf("DefaultLayouts: %v", err)
	}
	return ls.WithReferenceDate(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

// scoreFixtures runs Extract over every fixture with a truth file.
func scoreFixtures(t *testing.T, dir string) *Score {
	t.Helper()
	return scoreFixturesOf(t, dir, "truth")
}

// scoreFixturesOf runs Extract over the fixtures in testdata/<dir> of
// every truth file in testdata/<truthDir>.
func scoreFixturesOf(t *testing.T, dir, truthDir string) *Score {
	t.Helper()
	ls := testLayouts(t)
	truths, err := filepath.Glob(filepath.Join("testdata", truthDir, "*.truth.json"))
	if err != nil || len(truths) == 0 {
		t.Fatalf("no truth files: %v", err)
	}
	s := NewScore()
	for _, tp := range truths {
		data, err := os.ReadFile(tp)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ParseTruth(data)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(tp), ".truth.json")
		pages := loadPages(t, dir, base)
		s.Add(Result{File: tr.File, Pages: pages, Documents: Extract(pages, ls)}, tr)
	}
	return s
}

// TestEvalFixtures measures extraction on CLI-tesseract fixtures of the dev
// corpus against its truth and holds the acceptance bars.
func TestEvalFixtures(t *testing.T) {
	s := scoreFixtures(t, "pages")
	var buf bytes.Buffer
	if err := s.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if testing.Verbose() {
		for _, m := range s.Misses {
			t.Logf("miss %s %s %s: got %q, want %q", m.File, m.DocType, m.Field, m.Got, m.Want)
		}
	}
	// Document type is held at the bar. The other bars are
	// regression floors for these CLI fixtures, whose OCR misses text the
	// engine reads (signer blocks under seals, dropped lines); the issue's
	// targets (holder ID 97%, fields 90%, auto-accept 80%) are measured with
	// `sohoa eval` on the real engine.
	checkScore(t, s, []bar{
		{"document type accuracy", s.TypeRight, s.Documents, 98},
		{"holder ID exact", s.HolderExact, s.HolderTotal, 90},
		{"fields exact", s.FieldsExact, s.FieldsTotal, 81},
		{"auto-accepted", s.AutoAccepted, s.Documents, 65},
		{"valid_until exact", s.ValidExact, s.ValidTotal, 97},
	})
}

func TestScoreAdd(t *testing.T) {
	errCode := "id_sex_mismatch"
	tr := &Truth{SchemaVersion: 1, File: "x.pdf", Documents: []TruthDocument{
		{DocType: "to-khai", Pages: []int{1}, Fields: map[string]string{"full_name": "AN", "personal_id": "001099872198"}, HolderPersonalID: "001099872198"},
		{DocType: "cu-tru", Pages: []int{2}, Fields: map[string]string{"full_name": "AN", "sex": "Nam"}, HolderPersonalID: "001099872198", ExpectedValidationError: &errCode},
		{DocType: "khai-sinh", Pages: []int{3}, Fields: map[string]string{"full_name": "BA"}, HolderPersonalID: "001099000000"},
	}, Pages: []TruthPage{{Page: 1, FullText: "abc\ndef"}, {Page: 2, FullText: "x"}, {Page: 3, FullText: "y"}}}
	res := Result{File: "x.pdf", Pages: []Page{{Number: 1, Text: "def\nabd"}, {Number: 2, Text: "x"}, {Number: 3, Text: "y"}}, Documents: []Document{
		{DocType: "to-khai", Pages: []int{1}, Fields: map[string]Field{"full_name": {Value: "AN"}, "personal_id": {Value: "001099872198"}}, HolderPersonalID: "001099872198"},
		{DocType: "cu-tru", Pages: []int{2}, Fields: map[string]Field{"full_name": {Value: "AN"}, "sex": {Value: "Nữ"}}, HolderPersonalID: "001099872198", NeedsReview: true, ReviewReasons: []string{"id_sex_mismatch"}},
		{DocType: "ket-hon", Pages: []int{3}, Fields: map[string]Field{"full_name": {Value: "BA"}}, HolderPersonalID: "001099000001"},
	}}
	s := NewScore()
	s.Add(res, tr)
	checks := []struct {
		name      string
		got, want int
	}{
		{"documents", s.Documents, 3},
		{"type right", s.TypeRight, 2},
		{"holder exact", s.HolderExact, 2},
		{"correct accepted", s.HolderCorrectAccept, 1},
		{"flagged", s.HolderFlagged, 1},
		{"wrong accepted", s.HolderWrongAccepted, 1},
		{"auto-accepted", s.AutoAccepted, 2},
		{"expected errors flagged", s.ExpectedErrorsCaught, 1},
		{"fields total", s.FieldsTotal, 5},
		{"fields exact", s.FieldsExact, 4},
		{"char errors", s.CharErrors, 1},
		{"char total", s.CharTotal, 9},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	var buf bytes.Buffer
	if err := s.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "WRONG ID AUTO-ACCEPTED: x.pdf p[3]") {
		t.Errorf("table: got\n%s\nwant the wrong auto-accepted document named", buf.String())
	}
}

func TestParseTruthErrors(t *testing.T) {
	for _, in := range []string{`{`, `{"schema_version": 2, "documents": [{}]}`, `{"schema_version": 1}`} {
		if _, err := ParseTruth([]byte(in)); err == nil {
			t.Errorf("ParseTruth(%s): got nil error, want one", in)
		}
	}
}

// TestEvalEngineFixtures scores Extract on the recorded output of the real
// engine (ocr/tesseract) for the dev corpus and holds the bars.
func TestEvalEngineFixtures(t *testing.T) {
	s := scoreFixtures(t, "engine")
	var buf bytes.Buffer
	if err := s.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if testing.Verbose() {
		for _, m := range s.Misses {
			t.Logf("miss %s %s %s: got %q, want %q", m.File, m.DocType, m.Field, m.Got, m.Want)
		}
	}
	// The bars, on the engine's recorded pages (second reads
	// included): a change to extraction that loses them shows here
	// without running Tesseract.
	checkScore(t, s, []bar{
		{"document type accuracy", s.TypeRight, s.Documents, 98},
		{"holder ID exact", s.HolderExact, s.HolderTotal, 97},
		{"fields exact", s.FieldsExact, s.FieldsTotal, 92.5},
		{"key fields exact", s.KeyExact, s.KeyTotal, 98.4},
		{"clean result documents auto-accepted", s.CleanAccepted, s.CleanResults, 90},
		{"auto-accepted", s.AutoAccepted, s.Documents, 80},
	})
}

// TestEvalWideEngineFixtures scores Extract on the recorded output of the
// real engine for the wide corpus (three serif families, light to heavy
// degradation, hand-filled forms, every ID error kind). The safety bars
// are absolute; the others are floors at the measured figures, so a change
// to extraction that loses ground on pages it was not tuned on shows here.
func TestEvalWideEngineFixtures(t *testing.T) {
	s := scoreFixturesOf(t, "engine-wide", "truth-wide")
	var buf bytes.Buffer
	if err := s.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if testing.Verbose() {
		for _, h := range s.CleanHeld {
			t.Logf("held %s", h)
		}
	}
	checkScore(t, s, []bar{
		{"document type accuracy", s.TypeRight, s.Documents, 99},
		{"holder ID exact", s.HolderExact, s.HolderTotal, 97},
		{"fields exact", s.FieldsExact, s.FieldsTotal, 92},
		{"key fields exact", s.KeyExact, s.KeyTotal, 95},
		{"clean result documents auto-accepted", s.CleanAccepted, s.CleanResults, 88},
		{"valid_until exact", s.ValidExact, s.ValidTotal, 98.9},
	})
}

// bar is a floor on one eval figure, in percent.
type bar struct {
	name     string
	got, tot int
	want     float64
}

// checkScore holds the safety bars (no wrong holder ID auto-accepted, every
// expected validation error flagged) and the floors bars.
func checkScore(t *testing.T, s *Score, bars []bar) {
	t.Helper()
	if s.HolderWrongAccepted != 0 {
		t.Errorf("wrong holder IDs auto-accepted: got %d, want 0 (%v)", s.HolderWrongAccepted, s.WrongAccepted)
	}
	if s.ExpectedErrorsCaught != s.ExpectedErrors {
		t.Errorf("expected validation errors flagged: got %d, want %d", s.ExpectedErrorsCaught, s.ExpectedErrors)
	}
	for _, b := range bars {
		if got := pct(b.got, b.tot); got < b.want {
			t.Errorf("%s: got %.1f%%, want >= %.1f%%", b.name, got, b.want)
		}
	}
}
