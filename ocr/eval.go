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
	// HandFilled: an application form whose values were written by hand.
	HandFilled bool `json:"hand_filled"`
}

// TruthPage is one page of a truth file.
type TruthPage struct {
	Page        int               `json:"page"`
	FullText    string            `json:"full_text"`
	Font        string            `json:"font"`
	Degradation *TruthDegradation `json:"degradation"`
}

// TruthDegradation is how a truth page was degraded (blur, noise, paper
// and ink levels); nil when the truth does not say.
type TruthDegradation struct {
	BlurSigma  float64 `json:"blur_sigma_px"`
	NoiseSigma float64 `json:"noise_sigma"`
	PaperLevel float64 `json:"paper_level"`
	InkLevel   float64 `json:"ink_level"`
}

// Degradation bands (DegradationBand).
const (
	BandLight  = "light"
	BandMedium = "medium"
	BandHeavy  = "heavy"
)

// DegradationBand sorts a page's degradation into light, medium or heavy
// by its worst aspect: blur (sigma in pixels), sensor noise (sigma in grey
// levels) and contrast (paper minus ink level). Heavy: blur ≥ 1.1 px, noise
// ≥ 9 or contrast < 150; light: blur < 0.7, noise < 5 and contrast ≥ 180;
// medium otherwise. "" when the truth gives no degradation.
func DegradationBand(d *TruthDegradation) string {
	if d == nil {
		return ""
	}
	contrast := d.PaperLevel - d.InkLevel
	switch {
	case d.BlurSigma >= 1.1 || d.NoiseSigma >= 9 || contrast < 150:
		return BandHeavy
	case d.BlurSigma < 0.7 && d.NoiseSigma < 5 && contrast >= 180:
		return BandLight
	default:
		return BandMedium
	}
}

// keyFields are the fields the key-field accuracy is measured on.
var keyFields = map[string]bool{"full_name": true, "date_of_birth": true, "personal_id": true, "doc_number": true, "issue_date": true}

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

// GroupScore is the tally of one font family or degradation band.
type GroupScore struct {
	Documents   int `json:"documents"`
	FieldsTotal int `json:"fields_total"`
	FieldsExact int `json:"fields_exact"`
	KeyTotal    int `json:"key_fields_total"`
	KeyExact    int `json:"key_fields_exact"`
	HolderTotal int `json:"holder_total"`
	HolderExact int `json:"holder_exact"`
	// PerField is the per-field tally within the group.
	PerField map[string]*fieldCount `json:"per_field"`
}

func (g *GroupScore) field(k string, right bool) {
	fc := g.PerField[k]
	if fc == nil {
		fc = &fieldCount{}
		g.PerField[k] = fc
	}
	fc.Total++
	g.FieldsTotal++
	if keyFields[k] {
		g.KeyTotal++
	}
	if right {
		fc.Exact++
		g.FieldsExact++
		if keyFields[k] {
			g.KeyExact++
		}
	}
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
	// Key fields: name, date of birth, personal ID, document number and
	// issue date.
	KeyTotal int `json:"key_fields_total"`
	KeyExact int `json:"key_fields_exact"`
	// Clean result documents: a result (not an application form) of a
	// known type with no expected validation error; nothing on them calls
	// for a person.
	CleanResults  int `json:"clean_results"`
	CleanAccepted int `json:"clean_results_auto_accepted"`
	// CleanReasons counts the reasons clean result documents were held,
	// and CleanHeld names them with their reasons.
	CleanReasons map[string]int `json:"clean_review_reasons"`
	CleanHeld    []string       `json:"clean_held,omitempty"`
	// Hand-filled application forms and how often their ID was read.
	HandFilled        int `json:"hand_filled_forms"`
	HandFilledIDRight int `json:"hand_filled_id_exact"`
	// ByFont and ByBand break field accuracy down by the font family and
	// degradation band (DegradationBand) of each document's first page,
	// when the truth gives them.
	ByFont map[string]*GroupScore `json:"by_font,omitempty"`
	ByBand map[string]*GroupScore `json:"by_band,omitempty"`
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
	return &Score{PerField: map[string]*fieldCount{}, ReviewReasons: map[string]int{}, CleanReasons: map[string]int{},
		ByFont: map[string]*GroupScore{}, ByBand: map[string]*GroupScore{}}
}

func group(m map[string]*GroupScore, k string) *GroupScore {
	if k == "" {
		return nil
	}
	g := m[k]
	if g == nil {
		g = &GroupScore{PerField: map[string]*fieldCount{}}
		m[k] = g
	}
	return g
}

// Add scores one file's result against its truth. Predicted documents are
// matched to truth documents by their first page.
func (s *Score) Add(res Result, t *Truth) {
	s.Files++
	s.Pages += len(t.Pages)
	truthPage := map[int]TruthPage{}
	for _, tp := range t.Pages {
		truthPage[tp.Page] = tp
	}
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
		var groups []*GroupScore
		if len(td.Pages) > 0 {
			tp := truthPage[td.Pages[0]]
			for _, g := range []*GroupScore{group(s.ByFont, tp.Font), group(s.ByBand, DegradationBand(tp.Degradation))} {
				if g != nil {
					g.Documents++
					groups = append(groups, g)
				}
			}
		}
		if td.DocType != "to-khai" && td.DocType != DocTypeUnknown && td.ExpectedValidationError == nil {
			s.CleanResults++
			if !pd.NeedsReview {
				s.CleanAccepted++
			}
			for _, r := range pd.ReviewReasons {
				s.CleanReasons[r]++
			}
			if pd.NeedsReview {
				s.CleanHeld = append(s.CleanHeld, fmt.Sprintf("%s p%v %s: %s", t.File, td.Pages, td.DocType, strings.Join(pd.ReviewReasons, " ")))
			}
		}
		if td.HandFilled {
			s.HandFilled++
			if pd.HolderPersonalID == td.HolderPersonalID {
				s.HandFilledIDRight++
			}
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
			for _, g := range groups {
				g.HolderTotal++
				if right {
					g.HolderExact++
				}
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
			for _, g := range groups {
				g.field(k, got == want)
			}
			if keyFields[k] {
				s.KeyTotal++
				if got == want {
					s.KeyExact++
				}
			}
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

// writeGroups prints one line per group: fields, key fields and holder
// ID exact, then the group's worst fields.
func writeGroups(b *strings.Builder, what string, gs map[string]*GroupScore) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintf(b, "by %s:%*s %8s %8s %8s\n", what, 26-len(what), "", "fields", "key", "holder")
	names := make([]string, 0, len(gs))
	for k := range gs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		g := gs[k]
		fmt.Fprintf(b, "  %-28s %7.1f%% %7.1f%% %7.1f%%  (%d documents)", k, pct(g.FieldsExact, g.FieldsTotal), pct(g.KeyExact, g.KeyTotal), pct(g.HolderExact, g.HolderTotal), g.Documents)
		fs := make([]string, 0, len(g.PerField))
		for f, fc := range g.PerField {
			if fc.Exact < fc.Total {
				fs = append(fs, f)
			}
		}
		sort.Slice(fs, func(i, j int) bool {
			pi := pct(g.PerField[fs[i]].Exact, g.PerField[fs[i]].Total)
			pj := pct(g.PerField[fs[j]].Exact, g.PerField[fs[j]].Total)
			if pi != pj {
				return pi < pj
			}
			return fs[i] < fs[j]
		})
		if len(fs) > 3 {
			fs = fs[:3]
		}
		for i, f := range fs {
			sep := "; worst "
			if i > 0 {
				sep = ", "
			}
			fmt.Fprintf(b, "%s%s %d/%d", sep, f, g.PerField[f].Exact, g.PerField[f].Total)
		}
		b.WriteString("\n")
	}
}

// writeCounts prints counts by key, highest first.
func writeCounts(b *strings.Builder, title string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	b.WriteString(title + "\n")
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	for _, k := range ks {
		fmt.Fprintf(b, "  %-40s %d\n", k, m[k])
	}
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
	row("clean result documents accepted", s.CleanAccepted, s.CleanResults)
	row("valid_until exact", s.ValidExact, s.ValidTotal)
	row("fields exact (overall)", s.FieldsExact, s.FieldsTotal)
	row("key fields exact", s.KeyExact, s.KeyTotal)
	if s.HandFilled > 0 {
		row("hand-filled form ID exact", s.HandFilledIDRight, s.HandFilled)
	}
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
	writeGroups(&b, "font", s.ByFont)
	writeGroups(&b, "degradation", s.ByBand)
	writeCounts(&b, "review reasons (all documents, by kind):", s.ReviewReasons)
	writeCounts(&b, "reasons clean result documents were held:", s.CleanReasons)
	for _, wa := range s.WrongAccepted {
		fmt.Fprintf(&b, "WRONG ID AUTO-ACCEPTED: %s\n", wa)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
