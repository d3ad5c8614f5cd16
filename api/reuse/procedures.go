package reuse

import (
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

//go:embed procedures.dev.json
var devProceduresJSON []byte

// Procedure is one administrative procedure's dossier requirements.
type Procedure struct {
	Code string `json:"-"`
	Name string `json:"name"`
	// RequiredDocTypes are the papers the dossier needs (document type
	// slugs, as in ocr/layouts): POST /v1/dossier-check answers which of
	// them the citizen already holds as valid e-results.
	RequiredDocTypes []string `json:"required_doc_types"`
	// FormFields are the vocabulary fields the procedure's form asks for:
	// POST /v1/prefill with "procedure" answers them.
	FormFields []string `json:"form_fields,omitempty"`
}

type proceduresFile struct {
	Description string               `json:"description,omitempty"`
	Procedures  map[string]Procedure `json:"procedures"`
}

// Procedures is a parsed, validated procedure table.
type Procedures struct{ byCode map[string]Procedure }

// procedureCodeRe is a procedure code of the National Database on
// administrative procedures (mã TTHC), as the API's purpose header takes
// it: a level digit, a dot and six digits.
var procedureCodeRe = regexp.MustCompile(`^[1-9]\.[0-9]{6}$`)

// DevProcedures parses the embedded development table (procedures.dev.json)
// against vocab.
func DevProcedures(vocab *Vocabulary) (*Procedures, error) {
	return ParseProcedures(devProceduresJSON, vocab)
}

// DevProceduresJSON is the development table as written.
func DevProceduresJSON() []byte { return slices.Clone(devProceduresJSON) }

// ParseProcedures validates a procedure table: {"procedures": {"1.004873":
// {"name": …, "required_doc_types": […], "form_fields": […]}}}. Every form
// field must be in vocab; document types must be slugs and each is listed
// once.
func ParseProcedures(data []byte, vocab *Vocabulary) (*Procedures, error) {
	var f proceduresFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("procedures: %w", err)
	}
	if f.Procedures == nil {
		return nil, errors.New(`procedures: want {"procedures": {"<procedure code>": {…}}}`)
	}
	ps := &Procedures{byCode: map[string]Procedure{}}
	for code, p := range f.Procedures {
		if !procedureCodeRe.MatchString(code) {
			return nil, fmt.Errorf("procedures: %q is not a procedure code like 1.004873", code)
		}
		p.Code = code
		if strings.TrimSpace(p.Name) == "" {
			return nil, fmt.Errorf("procedures: %s: name is required", code)
		}
		if len(p.RequiredDocTypes) == 0 && len(p.FormFields) == 0 {
			return nil, fmt.Errorf("procedures: %s: needs required_doc_types or form_fields", code)
		}
		for _, dt := range p.RequiredDocTypes {
			if !docTypeRe.MatchString(dt) {
				return nil, fmt.Errorf("procedures: %s: document type %q must match %s", code, dt, docTypeRe)
			}
		}
		if hasDuplicate(p.RequiredDocTypes) || hasDuplicate(p.FormFields) {
			return nil, fmt.Errorf("procedures: %s: a document type or form field is listed twice", code)
		}
		for _, fd := range p.FormFields {
			if _, ok := vocab.Field(fd); !ok {
				return nil, fmt.Errorf("procedures: %s: form field %q is not in vocabulary %s", code, fd, vocab.Version())
			}
		}
		p.RequiredDocTypes, p.FormFields = slices.Clone(p.RequiredDocTypes), slices.Clone(p.FormFields)
		ps.byCode[code] = p
	}
	return ps, nil
}

func hasDuplicate(s []string) bool {
	seen := make(map[string]bool, len(s))
	for _, x := range s {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// Lookup returns the procedure with code; a code carrying the agency it is
// carried out at (1.001234.000.00.00.H29) finds its base procedure.
func (ps *Procedures) Lookup(code string) (Procedure, bool) {
	if ps == nil {
		return Procedure{}, false
	}
	p, ok := ps.byCode[code]
	if !ok && len(code) > 8 && code[8] == '.' {
		p, ok = ps.byCode[code[:8]]
	}
	if !ok {
		return Procedure{}, false
	}
	p.RequiredDocTypes, p.FormFields = slices.Clone(p.RequiredDocTypes), slices.Clone(p.FormFields)
	return p, true
}

// Codes returns every procedure code, sorted.
func (ps *Procedures) Codes() []string {
	if ps == nil {
		return nil
	}
	out := make([]string, 0, len(ps.byCode))
	for c := range ps.byCode {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// DocTypes returns every document type some procedure requires, sorted.
func (ps *Procedures) DocTypes() []string {
	if ps == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, p := range ps.byCode {
		for _, dt := range p.RequiredDocTypes {
			seen[dt] = true
		}
	}
	out := make([]string, 0, len(seen))
	for dt := range seen {
		out = append(out, dt)
	}
	sort.Strings(out)
	return out
}
