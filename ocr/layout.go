package ocr

import (
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
)

//go:embed layouts/*.json layouts/provinces.csv
var embeddedLayouts embed.FS

// DocTypeUnknown is the doc_type of a document no layout matched.
const DocTypeUnknown = "unknown"

// Field kinds select the normaliser applied to a value.
const (
	kindText  = "text"  // trimmed NFC text
	kindName  = "name"  // person name, upper case
	kindDate  = "date"  // dd/mm/yyyy
	kindID    = "id"    // 12-digit personal ID
	kindSex   = "sex"   // Nam / Nữ
	kindToken = "token" // first whitespace-separated token (reference numbers)
	kindPhone = "phone" // digits only
	// kindAddress is text cleaned as an address (normalizeAddress).
	kindAddress = "address"
	kindHeader  = "header" // computed from the page header (see FieldSpec.Source)
)

// KindDate and KindID are the kinds of FieldSpec other packages check
// values against (a reviewer's corrections).
const (
	KindDate = kindDate
	KindID   = kindID
)

// Field sources that are not a label lookup.
const (
	sourceLabel     = ""          // "Label: value" (default)
	sourceAuthority = "authority" // header authority lines joined
	sourcePlaceDate = "place_date"
	sourceSigner    = "signer_name"
	sourceSignerTtl = "signer_title"
)

// Layout describes one document type declaratively. It is loaded from
// ocr/layouts/<doc_type>.json; adding a type needs no Go code.
type Layout struct {
	DocType string `json:"doc_type"`
	Name    string `json:"name"`
	// Titles are the printed titles identifying the type, compared on the
	// folded form against one or two consecutive lines.
	Titles []string `json:"titles"`
	// TitlePrefix makes a title match when a line starts with it (used for
	// application forms, whose titles name the requested document).
	TitlePrefix bool `json:"title_prefix,omitempty"`
	// Application marks the citizen's application form (to-khai).
	Application bool `json:"application,omitempty"`
	// HolderIDField is the slug of the holder's personal ID.
	HolderIDField string `json:"holder_id_field"`
	// CrossIDField is the slug compared with the application form's
	// applicant ID in the same file (defaults to HolderIDField).
	CrossIDField string `json:"cross_id_field,omitempty"`
	// SexField and BirthDateField are checked against the holder ID's
	// century/sex and year digits. SexImplied is used when sex is not
	// printed (e.g. the husband on a marriage certificate).
	SexField       string `json:"sex_field,omitempty"`
	SexImplied     string `json:"sex_implied,omitempty"`
	BirthDateField string `json:"birth_date_field,omitempty"`
	// Authority says how issuing_authority is built from the header lines.
	Authority AuthorityRule `json:"authority"`
	Fields    []FieldSpec   `json:"fields"`
	// StopLabels are labels printed on the form that are not extracted;
	// they end the value of the field before them.
	StopLabels []string `json:"stop_labels,omitempty"`
	// StopPhrases are folded line starts that end a wrapped value.
	StopPhrases []string `json:"stop_phrases,omitempty"`
	// IDChecks lists other ID fields validated against their own
	// birth date / sex fields (e.g. the spouse).
	IDChecks []IDCheck     `json:"id_checks,omitempty"`
	Validity *ValidityRule `json:"validity,omitempty"`
}

// IDCheck ties an ID field to the sex and birth date it must agree with.
type IDCheck struct {
	IDField        string `json:"id_field"`
	SexField       string `json:"sex_field,omitempty"`
	SexImplied     string `json:"sex_implied,omitempty"`
	BirthDateField string `json:"birth_date_field,omitempty"`
}

// AuthorityRule builds issuing_authority from the left header lines.
type AuthorityRule struct {
	// Mode: "all" joins every line; "drop_parent" drops a first line
	// starting with one of ParentPrefixes when more lines follow;
	// "agency_then_place" prints the agency line followed by the parent
	// line's place (parent prefix removed): "SỞ TƯ PHÁP" + "THÀNH PHỐ HÀ NỘI".
	Mode           string   `json:"mode"`
	ParentPrefixes []string `json:"parent_prefixes,omitempty"`
}

// FieldSpec is one field of a layout.
type FieldSpec struct {
	Slug   string   `json:"slug"`
	Labels []string `json:"labels,omitempty"`
	Kind   string   `json:"kind,omitempty"`
	Source string   `json:"source,omitempty"`
	// Region limits a place/date search: "header" (before the title),
	// "last" (the last match in the document).
	Region string `json:"region,omitempty"`
	// After/Before bound the search to lines after (before) the first line
	// starting with this label or marker.
	After  string `json:"after,omitempty"`
	Before string `json:"before,omitempty"`
	// Multiline lets a value continue on following unlabelled lines.
	Multiline bool `json:"multiline,omitempty"`
	Required  bool `json:"required,omitempty"`
	// MinConfidence is the bar below which the field needs review
	// (default 0.6; the holder ID uses HolderIDMinConfidence).
	MinConfidence float64 `json:"min_confidence,omitempty"`
	// Vocabulary snaps a value onto a closed list (ethnicities, ...).
	Vocabulary string `json:"vocabulary,omitempty"`
	// Pattern, when set, keeps only the first match (group 1 if any).
	Pattern string `json:"pattern,omitempty"`
	// MinAgeYears, on a birth date, is the youngest the person can be at
	// the issue date (a party to a marriage); a birth date making them
	// younger is not plausible and needs review.
	MinAgeYears int `json:"min_age_years,omitempty"`
	// NotBefore, on a date, names the date fields it cannot precede (a
	// certificate is not issued before the first registration it
	// records): a read that would make it earlier is impossible, which
	// settles a dissent between its reads (settleByPlausibility).
	NotBefore []string `json:"not_before,omitempty"`

	pattern *regexp.Regexp
	folded  []string
}

// ValidityRule computes valid_until.
type ValidityRule struct {
	// Printed: look for "<n> tháng|năm|ngày ... kể từ ngày cấp" in the text.
	Printed bool `json:"printed,omitempty"`
	// PolicyMonths applies when nothing is printed (reuse policy).
	PolicyMonths int `json:"policy_months,omitempty"`
	// Required: a missing printed period needs review.
	Required bool `json:"required,omitempty"`
}

// Layouts is the parsed set of layouts plus reference data.
type Layouts struct {
	byType       map[string]*Layout
	order        []string
	provinces    map[string]string
	vocabularies map[string][]string
	// labelKeys are every known label (all layouts, folded) used to split
	// two labelled fields printed on one line.
	labelKeys []string
	// now is "today" for the issue-date check; zero means the clock.
	now time.Time
}

// Types returns the layout slugs, sorted.
func (ls *Layouts) Types() []string { return append([]string(nil), ls.order...) }

// Layout returns one layout by slug.
func (ls *Layouts) Layout(docType string) (*Layout, bool) {
	l, ok := ls.byType[docType]
	return l, ok
}

// provinceNames returns the province names, sorted.
func (ls *Layouts) provinceNames() []string {
	out := make([]string, 0, len(ls.provinces))
	for _, n := range ls.provinces {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ProvinceName returns the province for a 3-digit code.
func (ls *Layouts) ProvinceName(code string) (string, bool) {
	n, ok := ls.provinces[code]
	return n, ok
}

// DefaultLayouts parses the layouts embedded from ocr/layouts.
func DefaultLayouts() (*Layouts, error) {
	sub, err := fs.Sub(embeddedLayouts, "layouts")
	if err != nil {
		return nil, fmt.Errorf("open embedded layouts: %w", err)
	}
	return LoadLayouts(sub)
}

// vocabularyFile is the reserved file holding closed value lists.
const vocabularyFile = "vocabularies.json"

// LoadLayouts parses every <doc_type>.json in fsys, plus provinces.csv
// (code,name) and vocabularies.json ({"name": [values]}).
func LoadLayouts(fsys fs.FS) (*Layouts, error) {
	ls := &Layouts{byType: map[string]*Layout{}, provinces: map[string]string{}, vocabularies: map[string][]string{}}
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("list layouts: %w", err)
	}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read layout %s: %w", name, err)
		}
		if name == vocabularyFile {
			if err := json.Unmarshal(data, &ls.vocabularies); err != nil {
				return nil, fmt.Errorf("parse %s: %w", name, err)
			}
			continue
		}
		l, err := parseLayout(data)
		if err != nil {
			return nil, fmt.Errorf("parse layout %s: %w", name, err)
		}
		if want := strings.TrimSuffix(path.Base(name), ".json"); l.DocType != want {
			return nil, fmt.Errorf("parse layout %s: doc_type %q does not match the file name", name, l.DocType)
		}
		ls.byType[l.DocType] = l
		ls.order = append(ls.order, l.DocType)
	}
	if len(ls.order) == 0 {
		return nil, fmt.Errorf("load layouts: no layout files")
	}
	sort.Strings(ls.order)
	for _, l := range ls.byType {
		for _, f := range l.Fields {
			if f.Vocabulary != "" && len(ls.vocabularies[f.Vocabulary]) == 0 {
				return nil, fmt.Errorf("layout %s field %s: unknown vocabulary %q", l.DocType, f.Slug, f.Vocabulary)
			}
		}
	}
	if err := ls.loadProvinces(fsys); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, t := range ls.order {
		l := ls.byType[t]
		add := func(s string) {
			if k := foldText(s); k != "" && !seen[k] {
				seen[k] = true
				ls.labelKeys = append(ls.labelKeys, k)
			}
		}
		for _, f := range l.Fields {
			for _, lb := range f.Labels {
				add(lb)
			}
		}
		for _, s := range l.StopLabels {
			add(s)
		}
	}
	sort.Strings(ls.labelKeys)
	return ls, nil
}

func (ls *Layouts) loadProvinces(fsys fs.FS) error {
	f, err := fsys.Open("provinces.csv")
	if err != nil {
		return fmt.Errorf("open provinces.csv: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil {
		return fmt.Errorf("parse provinces.csv: %w", err)
	}
	for _, rec := range recs {
		if len(rec) < 2 || len(rec[0]) != 3 {
			return fmt.Errorf("parse provinces.csv: bad record %q", rec)
		}
		ls.provinces[rec[0]] = rec[1]
	}
	return nil
}

func parseLayout(data []byte) (*Layout, error) {
	var l Layout
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return nil, err
	}
	if l.DocType == "" || len(l.Titles) == 0 {
		return nil, fmt.Errorf("doc_type and titles are required")
	}
	slugs := map[string]bool{}
	for i := range l.Fields {
		f := &l.Fields[i]
		if f.Slug == "" {
			return nil, fmt.Errorf("field %d: empty slug", i)
		}
		if slugs[f.Slug] {
			return nil, fmt.Errorf("field %s: duplicate slug", f.Slug)
		}
		slugs[f.Slug] = true
		if f.Kind == "" {
			f.Kind = kindText
		}
		switch f.Kind {
		case kindText, kindName, kindDate, kindID, kindSex, kindToken, kindPhone, kindHeader, kindAddress:
		default:
			return nil, fmt.Errorf("field %s: unknown kind %q", f.Slug, f.Kind)
		}
		switch f.Source {
		case sourceLabel:
			if len(f.Labels) == 0 {
				return nil, fmt.Errorf("field %s: labels required", f.Slug)
			}
		case sourceAuthority, sourcePlaceDate, sourceSigner, sourceSignerTtl:
		default:
			return nil, fmt.Errorf("field %s: unknown source %q", f.Slug, f.Source)
		}
		if f.Pattern != "" {
			re, err := regexp.Compile(f.Pattern)
			if err != nil {
				return nil, fmt.Errorf("field %s: pattern: %w", f.Slug, err)
			}
			f.pattern = re
		}
		for _, lb := range f.Labels {
			f.folded = append(f.folded, foldText(lb))
		}
	}
	for _, f := range l.Fields {
		for _, b := range f.NotBefore {
			if f.Kind != kindDate || !slugs[b] {
				return nil, fmt.Errorf("field %s: not_before %q is not a date field of the layout", f.Slug, b)
			}
		}
	}
	if l.HolderIDField != "" && !slugs[l.HolderIDField] {
		return nil, fmt.Errorf("holder_id_field %q is not a field", l.HolderIDField)
	}
	if l.CrossIDField == "" {
		l.CrossIDField = l.HolderIDField
	}
	switch l.Authority.Mode {
	case "", "all", "drop_parent", "agency_then_place":
	default:
		return nil, fmt.Errorf("authority mode %q unknown", l.Authority.Mode)
	}
	return &l, nil
}

// field returns the spec of a slug.
func (l *Layout) field(slug string) (*FieldSpec, bool) {
	for i := range l.Fields {
		if l.Fields[i].Slug == slug {
			return &l.Fields[i], true
		}
	}
	return nil, false
}

// Field returns the spec of one of the layout's fields by slug.
func (l *Layout) Field(slug string) (FieldSpec, bool) {
	f, ok := l.field(slug)
	if !ok {
		return FieldSpec{}, false
	}
	return *f, true
}
