// Package reuse holds the data behind the reuse API's "no paperwork twice"
// answers: the versioned pre-fill field vocabulary with one mapping table
// per document type (vocabulary.json, embedded), and the procedure table
// that says which document types a procedure's dossier requires and which
// fields its form needs (SOHOA_REUSE_PROCEDURES; procedures.dev.json is the
// development example).
//
// Both are data: adding a document type, a field or a procedure edits a
// JSON file, never Go code.
package reuse

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
)

//go:embed vocabulary.json
var vocabularyJSON []byte

// Field kinds: how a value is normalised.
const (
	KindText = "text" // whitespace collapsed
	KindName = "name" // a person's name; as text
	KindDate = "date" // printed dd/mm/yyyy, answered as ISO 8601 yyyy-mm-dd
)

// Field is one vocabulary field.
type Field struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Sensitive   bool   `json:"sensitive,omitempty"`
	Description string `json:"description"`
}

type vocabularyFile struct {
	Version     string                       `json:"version"`
	Description string                       `json:"description"`
	Fields      []Field                      `json:"fields"`
	DocTypes    map[string]map[string]string `json:"doc_types"`
}

// Vocabulary is a parsed, validated field vocabulary.
type Vocabulary struct {
	version string
	fields  []Field
	byName  map[string]Field
	// maps[docType][layoutSlug] is the vocabulary field.
	maps map[string]map[string]string
}

var (
	fieldNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	docTypeRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	versionRe   = regexp.MustCompile(`^[0-9A-Za-z.-]{1,32}$`)
)

// DefaultVocabulary parses the embedded vocabulary.json.
func DefaultVocabulary() (*Vocabulary, error) { return ParseVocabulary(vocabularyJSON) }

// ParseVocabulary validates a vocabulary document: a version, fields with
// unique names of a known kind, and per document type a table from layout
// slug to a vocabulary field.
func ParseVocabulary(data []byte) (*Vocabulary, error) {
	var f vocabularyFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("vocabulary: %w", err)
	}
	if !versionRe.MatchString(f.Version) {
		return nil, errors.New("vocabulary: version must be 1–32 characters of [0-9A-Za-z.-]")
	}
	if len(f.Fields) == 0 {
		return nil, errors.New("vocabulary: no fields")
	}
	v := &Vocabulary{version: f.Version, byName: map[string]Field{}, maps: map[string]map[string]string{}}
	for i, fd := range f.Fields {
		switch {
		case !fieldNameRe.MatchString(fd.Name):
			return nil, fmt.Errorf("vocabulary: fields[%d]: name %q must match %s", i, fd.Name, fieldNameRe)
		case fd.Kind != KindText && fd.Kind != KindName && fd.Kind != KindDate:
			return nil, fmt.Errorf("vocabulary: field %s: kind %q: want text, name or date", fd.Name, fd.Kind)
		case fd.Description == "":
			return nil, fmt.Errorf("vocabulary: field %s: description is required", fd.Name)
		}
		if _, dup := v.byName[fd.Name]; dup {
			return nil, fmt.Errorf("vocabulary: duplicate field %s", fd.Name)
		}
		v.byName[fd.Name] = fd
		v.fields = append(v.fields, fd)
	}
	for dt, table := range f.DocTypes {
		if !docTypeRe.MatchString(dt) {
			return nil, fmt.Errorf("vocabulary: doc type %q must match %s", dt, docTypeRe)
		}
		m := map[string]string{}
		for slug, field := range table {
			if !fieldNameRe.MatchString(slug) {
				return nil, fmt.Errorf("vocabulary: %s: layout slug %q must match %s", dt, slug, fieldNameRe)
			}
			if _, ok := v.byName[field]; !ok {
				return nil, fmt.Errorf("vocabulary: %s.%s maps to unknown field %q", dt, slug, field)
			}
			m[slug] = field
		}
		v.maps[dt] = m
	}
	return v, nil
}

// Version is the vocabulary's version (vocabulary_version in answers).
func (v *Vocabulary) Version() string { return v.version }

// Fields returns every field, in the document's order.
func (v *Vocabulary) Fields() []Field { return slices.Clone(v.fields) }

// Field returns the named field.
func (v *Vocabulary) Field(name string) (Field, bool) {
	f, ok := v.byName[name]
	return f, ok
}

// DocTypes returns the document types that have a mapping table, sorted.
func (v *Vocabulary) DocTypes() []string {
	out := make([]string, 0, len(v.maps))
	for dt := range v.maps {
		out = append(out, dt)
	}
	sort.Strings(out)
	return out
}

// Mapping returns a copy of docType's table (layout slug → field); nil for
// a type without one (nothing of it is released).
func (v *Vocabulary) Mapping(docType string) map[string]string {
	m, ok := v.maps[docType]
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, f := range m {
		out[k] = f
	}
	return out
}

// Map returns the vocabulary field a layout slug of docType is released
// as; false when it is not released.
func (v *Vocabulary) Map(docType, slug string) (string, bool) {
	f, ok := v.maps[docType][slug]
	return f, ok
}

// Normalize returns a value of field as answered (dates as yyyy-mm-dd,
// whitespace collapsed) and the key two values are compared by (text and
// names case-insensitively). An empty value answers "", "".
func (v *Vocabulary) Normalize(field, value string) (answer, key string) {
	answer = strings.Join(strings.Fields(value), " ")
	if answer == "" {
		return "", ""
	}
	switch v.byName[field].Kind {
	case KindDate:
		for _, layout := range []string{"02/01/2006", "2/1/2006", "02-01-2006", time.DateOnly} {
			if t, err := time.Parse(layout, answer); err == nil {
				answer = t.Format(time.DateOnly)
				break
			}
		}
		return answer, answer
	}
	return answer, strings.Map(unicode.ToLower, answer)
}

// decodeStrict decodes one JSON value, refusing unknown keys and trailing
// data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return errors.New("decode: trailing data")
	}
	return nil
}
