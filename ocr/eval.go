package ocr

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"sohoa/storage"
)

// Truth is a corpus ground-truth file (<scan>.truth.json, schema 1).
type Truth struct {
	SchemaVersion int             `json:"schema_version"`
	File          string          `json:"file"`
	Format        string          `json:"format"`
	PageCount     int             `json:"page_count"`
	DocType       string          `json:"doc_type"`
	Documents     []TruthDocument `json:"documents"`
	Pages         []TruthPage     `json:"pages"`
}

// TruthDocument is one document of a truth file.
type TruthDocument struct {
	DocType                 string            `json:"doc_type"`
	Pages                   []int             `json:"pages"`
	Fields                  map[string]string `json:"fields"`
	HolderPersonalID        string            `json:"holder_personal_id"`
	ValidUntil              *string           `json:"valid_until"`
	ExpectedValidationError *string           `json:"expected_validation_error"`
}

// TruthPage is one page of a truth file.
type TruthPage struct {
	Page     int    `json:"page"`
	FullText string `json:"full_text"`
}

// ParseTruth decodes a truth file.
func ParseTruth(data []byte) (*Truth, error) {
	var t Truth
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("parse truth: %w", err)
	}
	if t.SchemaVersion != 1 {
		return nil, fmt.Errorf("parse truth %s: schema_version %d, want 1", t.File, t.SchemaVersion)
	}
	if len(t.Documents) == 0 {
		return nil, fmt.Errorf("parse truth %s: no documents", t.File)
	}
	return &t, nil
}

// FieldMiss is one wrong or missing field value.
type FieldMiss struct {
	File    string `json:"file"`
	DocType string `json:"doc_type"`
	Field   string `json:"field"`
	Want    string `json:"want"`
	Got     string `json:"got"`
}

// fieldCount is a per-field tally.
type fieldCount struct {
	Total int `json:"total"`
	Exact int `json:"exact"`
}

// Score accumulates evaluation results over files.
type Score struct {
	Files     int `json:"files"`
	Pages     int `json:"pages"`
	Documents int `json:"documents"`
	TypeRight int `json:"doc_type_correct"`
	// Holder ID outcomes per document with a printed holder ID.
	HolderTotal          int `json:"holder_total"`
	HolderExact          int `json:"holder_exact"`
	HolderCorrectAccept  int `json:"holder_correct_auto_accepted"`
	HolderFlagged        int `json:"holder_flagged"`
	HolderWrongAccepted  int `json:"holder_wrong_auto_accepted"`
	AutoAccepted         int `json:"auto_accepted"`
	ExpectedErrors       int `json:"expected_errors"`
	ExpectedErrorsCaught int `json:"expected_errors_flagged"`
	ValidTotal           int `json:"valid_until_total"`
	ValidExact           int `json:"valid_until_exact"`
	FieldsTotal          int `json:"fields_total"`
	FieldsExact          int `json:"fields_exact"`
	// CER over pages: summed edit distance over summed truth length.
	CharErrors int                    `json:"char_errors"`
	CharTotal  int                    `json:"char_total"`
	PerField   map[string]*fieldCount `json:"per_field"`
	Misses     []FieldMiss            `json:"misses,omitempty"`
	// WrongAccepted names documents whose wrong holder ID was accepted.
	WrongAccepted []string `json:"wrong_accepted,omitempty"`
	// ReviewReasons counts the reasons documents were flagged.
	ReviewReasons map[string]int `json:"review_reasons"`
}

// NewScore returns an empty score.
func NewScore() *Score {
	return &Score{PerField: map[string]*fieldCount{}, ReviewReasons: map[string]int{}}
}

// Add scores one file's result against its truth. Predicted documents are
// matched to truth documents by their first page.
func (s *Score) Add(res Result, t *Truth) {
	s.Files++
	s.Pages += len(t.Pages)
	byPage := map[int]*Document{}
	for i := range res.Documents {
		d := &res.Documents[i]
		if len(d.Pages) > 0 {
			byPage[d.Pages[0]] = d
		}
	}
	for _, td := range t.Documents {
		s.Documents++
		var pd *Document
		if len(td.Pages) > 0 {
			pd = byPage[td.Pages[0]]
		}
		if pd == nil {
			pd = &Document{DocType: "(none)", NeedsReview: true, ReviewReasons: []string{"not_found"}}
		}
		if pd.DocType == td.DocType {
			s.TypeRight++
		}
		if !pd.NeedsReview {
			s.AutoAccepted++
		}
		for _, r := range pd.ReviewReasons {
			s.ReviewReasons[reasonClass(r)]++
		}
		if td.ExpectedValidationError != nil {
			s.ExpectedErrors++
			if pd.NeedsReview {
				s.ExpectedErrorsCaught++
			}
		}
		if td.HolderPersonalID != "" {
			s.HolderTotal++
			right := pd.HolderPersonalID == td.HolderPersonalID
			if right {
				s.HolderExact++
			}
			switch {
			case pd.NeedsReview:
				s.HolderFlagged++
			case right && td.ExpectedValidationError == nil:
				s.HolderCorrectAccept++
			default:
				s.HolderWrongAccepted++
				s.WrongAccepted = append(s.WrongAccepted, fmt.Sprintf("%s p%v", t.File, td.Pages))
			}
		}
		if td.DocType != "to-khai" {
			s.ValidTotal++
			if eqPtr(pd.ValidUntil, td.ValidUntil) {
				s.ValidExact++
			}
		}
		keys := make([]string, 0, len(td.Fields))
		for k := range td.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			want := td.Fields[k]
			fc := s.PerField[k]
			if fc == nil {
				fc = &fieldCount{}
				s.PerField[k] = fc
			}
			fc.Total++
			s.FieldsTotal++
			got := pd.Fields[k].Value
			if got == want {
				fc.Exact++
				s.FieldsExact++
			} else {
				if strings.HasSuffix(k, "personal_id") {
					want, got = storage.MaskID(want), storage.MaskID(got)
				}
				s.Misses = append(s.Misses, FieldMiss{File: t.File, DocType: td.DocType, Field: k, Want: want, Got: got})
			}
		}
	}
	pages := map[int]string{}
	for _, p := range res.Pages {
		pages[p.Number] = p.Text
	}
	for _, tp := range t.Pages {
		e, n := pageCER(pages[tp.Page], tp.FullText)
		s.CharErrors += e
		s.CharTotal += n
	}
}

// reasonClass strips the field from a review reason ("missing_field:sex"
// → "missing_field").
func reasonClass(r string) string {
	c, _, _ := strings.Cut(r, ":")
	return c
}

func eqPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// pageCER compares OCR text with the truth order-insensitively by line:
// both sides' lines are sorted before the character edit distance.
func pageCER(got, want string) (errors, total int) {
	norm := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	w := norm(want)
	return editDistance(norm(got), w), len([]rune(w))
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// WriteTable prints the score as a plain-text table.
func (s *Score) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "files %d, pages %d, documents %d\n", s.Files, s.Pages, s.Documents)
	fmt.Fprintf(&b, "%-34s %8s %8s\n", "metric", "value", "count")
	row := func(name string, a, n int) {
		fmt.Fprintf(&b, "%-34s %7.1f%% %4d/%-4d\n", name, pct(a, n), a, n)
	}
	row("document type accuracy", s.TypeRight, s.Documents)
	row("holder ID exact", s.HolderExact, s.HolderTotal)
	row("holder ID correct auto-accepted", s.HolderCorrectAccept, s.HolderTotal)
	row("holder ID flagged for review", s.HolderFlagged, s.HolderTotal)
	row("holder ID WRONG auto-accepted", s.HolderWrongAccepted, s.HolderTotal)
	row("expected validation errors flagged", s.ExpectedErrorsCaught, s.ExpectedErrors)
	row("documents auto-accepted", s.AutoAccepted, s.Documents)
	row("valid_until exact", s.ValidExact, s.ValidTotal)
	row("fields exact (overall)", s.FieldsExact, s.FieldsTotal)
	row("page text CER", s.CharErrors, s.CharTotal)
	names := make([]string, 0, len(s.PerField))
	for k := range s.PerField {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		pi := pct(s.PerField[names[i]].Exact, s.PerField[names[i]].Total)
		pj := pct(s.PerField[names[j]].Exact, s.PerField[names[j]].Total)
		if pi != pj {
			return pi < pj
		}
		return names[i] < names[j]
	})
	b.WriteString("per field (worst first):\n")
	for _, k := range names {
		fc := s.PerField[k]
		row("  "+k, fc.Exact, fc.Total)
	}
	if len(s.ReviewReasons) > 0 {
		b.WriteString("review reasons:\n")
		rs := make([]string, 0, len(s.ReviewReasons))
		for k := range s.ReviewReasons {
			rs = append(rs, k)
		}
		sort.Strings(rs)
		for _, k := range rs {
			fmt.Fprintf(&b, "  %-32s %d\n", k, s.ReviewReasons[k])
		}
	}
	for _, wa := range s.WrongAccepted {
		fmt.Fprintf(&b, "WRONG ID AUTO-ACCEPTED: %s\n", wa)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
