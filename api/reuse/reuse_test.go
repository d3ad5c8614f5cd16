package reuse

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sohoa/ocr"
)

// TestDefaultVocabularyFitsLayouts: every mapping table names a result
// document type of the layouts and only slugs its layout extracts, and the
// holder's own ID and the criminal record are never released.
func TestDefaultVocabularyFitsLayouts(t *testing.T) {
	v, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.DocTypes()) == 0 {
		t.Fatal("no mapping tables")
	}
	for _, dt := range v.DocTypes() {
		l, ok := layouts.Layout(dt)
		if !ok || l.Application {
			t.Errorf("mapping table %s: not a result document type of ocr/layouts", dt)
			continue
		}
		var slugs []string
		for _, f := range l.Fields {
			slugs = append(slugs, f.Slug)
		}
		for slug, field := range v.Mapping(dt) {
			if !slices.Contains(slugs, slug) {
				t.Errorf("%s: slug %s is not a field of its layout", dt, slug)
			}
			if slug == l.HolderIDField || slug == "criminal_record" || field == "personal_id" {
				t.Errorf("%s: %s → %s must not be released", dt, slug, field)
			}
		}
	}
	// Every result type of the layouts has a table (a type without one
	// would silently release nothing).
	for _, dt := range layouts.Types() {
		if l, _ := layouts.Layout(dt); !l.Application && v.Mapping(dt) == nil {
			t.Errorf("layout %s has no mapping table in vocabulary.json", dt)
		}
	}
}

// TestVocabularyCoversCorpusSlugs: the vocabulary reuses the corpus slugs:
// each field of a mapping table is a slug some corpus document prints, or
// the corpus slug of another document type for the same thing
// (ket-hon's spouse_full_name is ly-lich-tu-phap's spouse_name).
func TestVocabularyCoversCorpusSlugs(t *testing.T) {
	v, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../../shared/corpus/dev/*.truth.json")
	if len(files) == 0 {
		t.Skip("dev corpus not beside the checkout")
	}
	corpus := map[string]bool{}
	for _, f := range files {
		var truth struct {
			Documents []struct {
				Fields map[string]string `json:"fields"`
			} `json:"documents"`
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &truth); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, d := range truth.Documents {
			for slug := range d.Fields {
				corpus[slug] = true
			}
		}
	}
	for _, f := range v.Fields() {
		if !corpus[f.Name] {
			t.Errorf("vocabulary field %s is not a corpus slug", f.Name)
		}
	}
}

func TestNormalize(t *testing.T) {
	v, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, in, answer, key string }{
		{"date_of_birth", "13/07/1972", "1972-07-13", "1972-07-13"},
		{"date_of_birth", " 3/7/1972 ", "1972-07-03", "1972-07-03"},
		{"date_of_birth", "1972-07-13", "1972-07-13", "1972-07-13"},
		{"date_of_birth", "ngày 13", "ngày 13", "ngày 13"}, // unreadable: as printed
		{"full_name", "HỒ  HỮU\tTUẤN", "HỒ HỮU TUẤN", "hồ hữu tuấn"},
		{"residence", "Ấp 6, xã Nghi Long", "Ấp 6, xã Nghi Long", "ấp 6, xã nghi long"},
		{"sex", "   ", "", ""},
	} {
		a, k := v.Normalize(c.field, c.in)
		if a != c.answer || k != c.key {
			t.Errorf("Normalize(%s, %q) = %q, %q; want %q, %q", c.field, c.in, a, k, c.answer, c.key)
		}
	}
}

func TestParseVocabularyRefuses(t *testing.T) {
	ok := `{"version":"1","description":"d","fields":[{"name":"full_name","kind":"name","description":"x"}],"doc_types":{"khai-sinh":{"full_name":"full_name"}}}`
	if _, err := ParseVocabulary([]byte(ok)); err != nil {
		t.Fatalf("valid vocabulary refused: %v", err)
	}
	for name, doc := range map[string]string{
		"no version":      strings.Replace(ok, `"version":"1"`, `"version":""`, 1),
		"unknown key":     strings.Replace(ok, `"description":"d"`, `"descr":"d"`, 1),
		"bad kind":        strings.Replace(ok, `"kind":"name"`, `"kind":"blob"`, 1),
		"bad field name":  strings.Replace(ok, `"name":"full_name"`, `"name":"Full Name"`, 1),
		"no description":  strings.Replace(ok, `"kind":"name","description":"x"`, `"kind":"name","description":""`, 1),
		"duplicate field": strings.Replace(ok, `"fields":[`, `"fields":[{"name":"full_name","kind":"text","description":"y"},`, 1),
		"unknown target":  strings.Replace(ok, `{"full_name":"full_name"}`, `{"full_name":"name"}`, 1),
		"bad doc type":    strings.Replace(ok, `"khai-sinh"`, `"khai sinh"`, 1),
		"no fields":       `{"version":"1","fields":[],"doc_types":{}}`,
		"trailing":        ok + `{}`,
		"not json":        `{`,
	} {
		if _, err := ParseVocabulary([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestProcedures(t *testing.T) {
	v, err := DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	ps, err := DevProcedures(v)
	if err != nil {
		t.Fatal(err)
	}
	// The development table covers every corpus result type.
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, dt := range layouts.Types() {
		if l, _ := layouts.Layout(dt); !l.Application {
			want = append(want, dt)
		}
	}
	if got := ps.DocTypes(); !slices.Equal(got, want) {
		t.Errorf("development procedures require %v, want every result type %v", got, want)
	}
	p, ok := ps.Lookup("1.900001")
	if !ok || p.Code != "1.900001" || len(p.RequiredDocTypes) == 0 || len(p.FormFields) == 0 {
		t.Fatalf("Lookup(1.900001) = %+v, %v", p, ok)
	}
	if q, ok := ps.Lookup("1.900001.000.00.31.H29"); !ok || q.Code != p.Code {
		t.Errorf("a code with its agency does not find its base procedure: %+v, %v", q, ok)
	}
	p.RequiredDocTypes[0] = "changed"
	if q, _ := ps.Lookup("1.900001"); q.RequiredDocTypes[0] == "changed" {
		t.Error("Lookup shares its slices with the table")
	}
	for _, code := range []string{"1.900009", "", "1.9000011"} {
		if _, ok := ps.Lookup(code); ok {
			t.Errorf("Lookup(%q) found a procedure", code)
		}
	}
	var none *Procedures
	if _, ok := none.Lookup("1.900001"); ok || none.Codes() != nil || none.DocTypes() != nil {
		t.Error("a nil table is not empty")
	}

	good := `{"procedures":{"1.004873":{"name":"n","required_doc_types":["khai-sinh"],"form_fields":["full_name"]}}}`
	if _, err := ParseProcedures([]byte(good), v); err != nil {
		t.Fatalf("valid table refused: %v", err)
	}
	for name, doc := range map[string]string{
		"bad code":       strings.Replace(good, `"1.004873"`, `"TTHC-1"`, 1),
		"no name":        strings.Replace(good, `"name":"n"`, `"name":" "`, 1),
		"unknown field":  strings.Replace(good, `["full_name"]`, `["full_nam"]`, 1),
		"duplicate type": strings.Replace(good, `["khai-sinh"]`, `["khai-sinh","khai-sinh"]`, 1),
		"bad type":       strings.Replace(good, `["khai-sinh"]`, `["Khai sinh"]`, 1),
		"empty":          `{"procedures":{"1.004873":{"name":"n"}}}`,
		"no procedures":  `{}`,
		"unknown key":    strings.Replace(good, `"form_fields"`, `"fields"`, 1),
		"old format":     `{"khai-sinh":"1.004873"}`,
	} {
		if _, err := ParseProcedures([]byte(doc), v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseVocabulary(f *testing.F) {
	f.Add(vocabularyJSON)
	f.Add([]byte(`{"version":"1","fields":[{"name":"a","kind":"date","description":"d"}],"doc_types":{"x":{"b":"a"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVocabulary(data)
		if err != nil {
			return
		}
		// Whatever parses is consistent: every mapping names a field.
		for _, dt := range v.DocTypes() {
			for _, field := range v.Mapping(dt) {
				if _, ok := v.Field(field); !ok {
					t.Fatalf("%s maps to unknown %s", dt, field)
				}
			}
		}
		for _, fd := range v.Fields() {
			v.Normalize(fd.Name, "01/02/2003")
		}
	})
}

func FuzzParseProcedures(f *testing.F) {
	v, err := DefaultVocabulary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(devProceduresJSON)
	f.Add([]byte(`{"procedures":{"1.004873":{"name":"n","required_doc_types":["a"]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParseProcedures(data, v)
		if err != nil {
			return
		}
		for _, c := range ps.Codes() {
			p, ok := ps.Lookup(c)
			if !ok || p.Code != c || !procedureCodeRe.MatchString(c) {
				t.Fatalf("Lookup(%q) = %+v, %v", c, p, ok)
			}
			for _, fd := range p.FormFields {
				if _, ok := v.Field(fd); !ok {
					t.Fatalf("%s: unknown form field %s", c, fd)
				}
			}
		}
	})
}
