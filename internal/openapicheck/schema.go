// This file compares the document's schemas with the Go types the
// handlers encode and decode, by reflection over their JSON fields: the
// same property names, the same required set (a response field without
// omitempty is always sent, so it is required), compatible types, and null
// allowed where a pointer is sent as null.

package openapicheck

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// deref follows $ref pointers (#/components/...) to the object they name.
func (d *Doc) deref(m map[string]any) (map[string]any, error) {
	for i := 0; m != nil; i++ {
		r, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		if i > 32 {
			return nil, fmt.Errorf("$ref loop at %s", r)
		}
		parts := strings.Split(strings.TrimPrefix(r, "#/"), "/")
		var cur any = d.root
		for _, p := range parts {
			p = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
			cur = obj(cur)[p]
		}
		if obj(cur) == nil {
			return nil, fmt.Errorf("$ref %s names nothing", r)
		}
		m = obj(cur)
	}
	return nil, fmt.Errorf("nil schema")
}

// shape is a schema with its references resolved and allOf merged.
type shape struct {
	types      []string // "string", "null", …; empty: any
	format     string
	properties map[string]map[string]any
	required   []string
	items      map[string]any
	addl       any // additionalProperties: nil, false, or a schema
}

func (s shape) allows(typ string) bool { return len(s.types) == 0 || slices.Contains(s.types, typ) }

// flatten resolves schema m: $ref, allOf (merged), and a oneOf/anyOf of
// one schema and {"type":"null"} (a nullable value).
func (d *Doc) flatten(m map[string]any) (shape, error) {
	m, err := d.deref(m)
	if err != nil {
		return shape{}, err
	}
	var s shape
	switch t := m["type"].(type) {
	case string:
		s.types = []string{t}
	case []any:
		for _, x := range t {
			s.types = append(s.types, fmt.Sprint(x))
		}
	}
	if c, ok := m["const"]; ok && len(s.types) == 0 {
		if _, isStr := c.(string); isStr {
			s.types = []string{"string"}
		}
	}
	s.format, _ = m["format"].(string)
	s.properties = map[string]map[string]any{}
	for k, v := range obj(m["properties"]) {
		s.properties[k] = obj(v)
	}
	req, _ := m["required"].([]any)
	for _, r := range req {
		s.required = append(s.required, fmt.Sprint(r))
	}
	s.items = obj(m["items"])
	s.addl = m["additionalProperties"]
	for _, key := range []string{"oneOf", "anyOf"} {
		alts, _ := m[key].([]any)
		if alts == nil {
			continue
		}
		var other []map[string]any
		null := false
		for _, a := range alts {
			if obj(a)["type"] == "null" {
				null = true
			} else {
				other = append(other, obj(a))
			}
		}
		if len(other) != 1 {
			return shape{}, fmt.Errorf("%s of %d schemas: not a single nullable type", key, len(other))
		}
		o, err := d.flatten(other[0])
		if err != nil {
			return shape{}, err
		}
		if null {
			o.types = append(slices.Clone(o.types), "null")
		}
		return o, nil
	}
	all, _ := m["allOf"].([]any)
	for _, a := range all {
		o, err := d.flatten(obj(a))
		if err != nil {
			return shape{}, err
		}
		if len(s.types) == 0 {
			s.types = o.types
		}
		for k, v := range o.properties {
			s.properties[k] = v
		}
		s.required = append(s.required, o.required...)
		if s.addl == nil {
			s.addl = o.addl
		}
	}
	return s, nil
}

// jsonField is one field of a struct as encoding/json sees it.
type jsonField struct {
	name      string
	omitempty bool
	typ       reflect.Type
}

// jsonFields lists t's JSON fields, embedded structs flattened.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, omitempty: slices.Contains(strings.Split(opts, ","), "omitempty"), typ: f.Type})
	}
	return out
}

var (
	timeType       = reflect.TypeFor[time.Time]()
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	marshalerType  = reflect.TypeFor[json.Marshaler]()
	textType       = reflect.TypeFor[encoding.TextMarshaler]()
)

// schemaMode says which way a type travels.
type schemaMode int

const (
	// responseMode: the server encodes it; every field without omitempty
	// is sent, so the schema must require exactly those.
	responseMode schemaMode = iota
	// requestMode: the server decodes it with DisallowUnknownFields: the
	// schema must list exactly its fields and allow no others.
	requestMode
)

// schemaProblems compares Go type t with schema m at path (for messages).
func (d *Doc) schemaProblems(path string, t reflect.Type, m map[string]any, mode schemaMode) []string {
	s, err := d.flatten(m)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	var out []string
	want := func(typ string) {
		if !s.allows(typ) {
			out = append(out, fmt.Sprintf("%s: Go %s is JSON %s, the schema says %v", path, t, typ, s.types))
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		want("string")
		if s.format != "date-time" {
			out = append(out, fmt.Sprintf("%s: a time.Time is sent as an RFC 3339 date-time; the schema's format is %q", path, s.format))
		}
		return out
	case t == rawMessageType:
		// JSON of any shape, which the Go type does not tell: compare the
		// schema with the type that writes those bytes
		// (ComponentSchemaProblems), and the answers with the schema.
		return out
	case t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType):
		want("string") // the project's own JSON marshalers write strings
		return out
	case t.Implements(textType):
		want("string") // encoding/json writes a TextMarshaler (storage.Date) as a string
		return out
	}
	switch t.Kind() {
	case reflect.String:
		want("string")
	case reflect.Bool:
		want("boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want("integer")
	case reflect.Float32, reflect.Float64:
		if !s.allows("number") && !s.allows("integer") {
			want("number")
		}
	case reflect.Slice, reflect.Array:
		want("array")
		if s.items == nil {
			out = append(out, fmt.Sprintf("%s: an array without items", path))
		} else {
			out = append(out, d.schemaProblems(path+"[]", t.Elem(), s.items, mode)...)
		}
	case reflect.Map:
		want("object")
		if a := obj(s.addl); a == nil {
			out = append(out, fmt.Sprintf("%s: a map needs additionalProperties with its values' schema", path))
		} else {
			out = append(out, d.schemaProblems(path+"{}", t.Elem(), a, mode)...)
		}
	case reflect.Struct:
		want("object")
		out = append(out, d.structProblems(path, t, s, mode)...)
	default:
		out = append(out, fmt.Sprintf("%s: Go kind %s is not checked", path, t.Kind()))
	}
	return out
}

func (d *Doc) structProblems(path string, t reflect.Type, s shape, mode schemaMode) []string {
	var out []string
	fields := jsonFields(t)
	seen := map[string]bool{}
	var mustRequire []string
	for _, f := range fields {
		seen[f.name] = true
		p, ok := s.properties[f.name]
		if !ok {
			out = append(out, fmt.Sprintf("%s: %s sends field %q, which the schema does not list", path, t, f.name))
			continue
		}
		out = append(out, d.schemaProblems(path+"."+f.name, f.typ, p, mode)...)
		if mode == responseMode && !f.omitempty {
			mustRequire = append(mustRequire, f.name)
			if f.typ.Kind() == reflect.Pointer {
				// A nil pointer is sent as null. (Nil slices and maps
				// would be too; the handlers always make them.)
				if ps, err := d.flatten(p); err == nil && !ps.allows("null") {
					out = append(out, fmt.Sprintf("%s.%s: sent as null when absent; the schema does not allow null", path, f.name))
				}
			}
		}
	}
	var extra []string
	for k := range s.properties {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, fmt.Sprintf("%s: the schema lists %q, which %s does not have", path, k, t))
	}
	switch mode {
	case responseMode:
		for _, k := range mustRequire {
			if !slices.Contains(s.required, k) {
				out = append(out, fmt.Sprintf("%s: %q is always sent (no omitempty): the schema must require it", path, k))
			}
		}
		for _, k := range s.required {
			if !slices.Contains(mustRequire, k) {
				out = append(out, fmt.Sprintf("%s: the schema requires %q, which %s omits when empty", path, k, t))
			}
		}
	case requestMode:
		if s.addl != false {
			out = append(out, fmt.Sprintf("%s: the server refuses unknown fields: the schema needs additionalProperties false", path))
		}
		for _, k := range s.required {
			if !seen[k] {
				out = append(out, fmt.Sprintf("%s: the schema requires %q, which %s does not have", path, k, t))
			}
		}
	}
	return out
}

// operation returns the operation whose operationId is id.
func (d *Doc) operation(id string) (map[string]any, error) {
	for _, item := range obj(d.root["paths"]) {
		for _, op := range obj(item) {
			if o := obj(op); o != nil && o["operationId"] == id {
				return o, nil
			}
		}
	}
	return nil, fmt.Errorf("no operation %q", id)
}

// ResponseSchemaProblems compares the application/json schema of
// operation id's response status with the type of v.
func (d *Doc) ResponseSchemaProblems(id, status string, v any) []string {
	op, err := d.operation(id)
	if err != nil {
		return []string{err.Error()}
	}
	resp, err := d.deref(obj(obj(op["responses"])[status]))
	if err != nil || resp == nil {
		return []string{fmt.Sprintf("%s: no %s response", id, status)}
	}
	schema := obj(obj(obj(resp["content"])["application/json"])["schema"])
	if schema == nil {
		return []string{fmt.Sprintf("%s %s: no application/json schema", id, status)}
	}
	return d.schemaProblems(id+" "+status, reflect.TypeOf(v), schema, responseMode)
}

// RequestSchemaProblems compares the application/json request body
// schema of operation id with the type of v.
func (d *Doc) RequestSchemaProblems(id string, v any) []string {
	op, err := d.operation(id)
	if err != nil {
		return []string{err.Error()}
	}
	body, err := d.deref(obj(op["requestBody"]))
	schema := obj(obj(obj(body["content"])["application/json"])["schema"])
	if err != nil || schema == nil {
		return []string{fmt.Sprintf("%s: no application/json request body", id)}
	}
	return d.schemaProblems(id+" request", reflect.TypeOf(v), schema, requestMode)
}

// ComponentSchemaProblems compares components/schemas/name with the type
// of v, sent as a response.
func (d *Doc) ComponentSchemaProblems(name string, v any) []string {
	return d.schemaProblems(name, reflect.TypeOf(v), map[string]any{"$ref": "#/components/schemas/" + name}, responseMode)
}
