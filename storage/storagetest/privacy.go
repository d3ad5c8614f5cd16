package storagetest

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"sohoa/storage"
)

// CheckKeys lists every key in b and fails t for each key that
// storage.CheckKey refuses (the key grammar: no layout of storage/keys.go
// lets a citizen ID or a name in) or that FindPersonal flags for ids and
// names. It returns the number of keys checked and fails t when the bucket
// is empty, so the check cannot pass vacuously. Errors never repeat a key.
func CheckKeys(t testing.TB, b storage.Bucket, ids, names []string) int {
	t.Helper()
	n := 0
	if err := b.List(t.Context(), "", func(o storage.ObjectInfo) error {
		n++
		if err := storage.CheckKey(o.Key); err != nil {
			t.Errorf("key %d: %v", n, err)
		}
		for _, hit := range FindPersonal(o.Key, ids, names) {
			t.Errorf("key %d: shows %s", n, hit)
		}
		return nil
	}); err != nil {
		t.Fatalf("list all keys: %v", err)
	}
	if n == 0 {
		t.Fatal("bucket is empty: nothing was checked")
	}
	return n
}

// CheckKeysPrivate is CheckKeys with the IDs and names of fixture holders
// 0..holders-1.
func CheckKeysPrivate(t *testing.T, b storage.Bucket, holders int) int {
	t.Helper()
	var ids, names []string
	for h := range holders {
		ids = append(ids, HolderID(h))
		names = append(names, HolderName(h))
	}
	return CheckKeys(t, b, ids, names)
}

// CheckLog fails t for every line of log (JSON lines from slog, or plain
// text) in which FindPersonal finds one of ids or names, or a citizen-ID
// shaped number. It returns the number of non-empty lines checked and fails
// t when there are none. Errors name the line and what was found, never
// the personal data itself.
func CheckLog(t testing.TB, log string, ids, names []string) int {
	t.Helper()
	n := 0
	for i, line := range strings.Split(log, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		n++
		for _, hit := range FindPersonal(line, ids, names) {
			t.Errorf("log line %d shows %s", i+1, hit)
		}
	}
	if n == 0 {
		t.Fatal("log is empty: nothing was checked")
	}
	return n
}

// MinNamePart is the shortest part of a name (in letters) FindPersonal
// looks for on its own; shorter parts ("Thị", "Văn") count only within
// the full name.
const MinNamePart = 4

// FindPersonal reports the personal data text shows: a standalone 12-digit
// number (the shape of a citizen ID), one of ids, one of names (in full,
// with or without diacritics, spaced, hyphenated or run together), or a
// part of a name of at least MinNamePart letters written as a word of its
// own, case-insensitively, with its diacritics. Hashes, object keys and
// UUIDs are not personal data: text is cut into words at every character
// that is neither a letter nor a digit, and words that are hex or base32
// hashes are never searched inside, so a hash that happens to contain
// "long" or a run of twelve digits is not a hit. A line that is a JSON
// object is checked value by value (after decoding escapes), with JSON
// numbers compared to ids only. Each result describes a hit without
// repeating the data ("holder ID 2 (…2345) in "err"").
func FindPersonal(text string, ids, names []string) []string {
	var hits []string
	add := func(h string) {
		if !slices.Contains(hits, h) {
			hits = append(hits, h)
		}
	}
	if vals, ok := jsonValues(text); ok {
		for _, v := range vals {
			findIn(v, ids, names, add)
		}
		return hits
	}
	findIn(jsonValue{text: text}, ids, names, add)
	return hits
}

// jsonValue is one string or number of a JSON document (or a whole
// non-JSON text), with the attribute it was found under.
type jsonValue struct {
	text, where string
	number      bool
}

// jsonValues decodes text as one JSON object and returns its attribute
// names, strings and numbers.
func jsonValues(text string) ([]jsonValue, bool) {
	trimmed := strings.TrimSpace(text)
	if !strings.HasPrefix(trimmed, "{") {
		return nil, false
	}
	d := json.NewDecoder(strings.NewReader(trimmed))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false
	}
	var out []jsonValue
	var walk func(v any, where string)
	walk = func(v any, where string) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				out = append(out, jsonValue{text: k, where: join(where, "(an attribute name)")})
				walk(e, join(where, safeName(k)))
			}
		case []any:
			for _, e := range v {
				walk(e, where)
			}
		case string:
			out = append(out, jsonValue{text: v, where: where})
		case json.Number:
			out = append(out, jsonValue{text: v.String(), where: where, number: true})
		}
	}
	walk(v, "")
	return out, true
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// safeName is an attribute name fit to show in a hit: names of slog
// attributes, not data ("?" otherwise).
func safeName(k string) string {
	if attrName.MatchString(k) {
		return k
	}
	return "?"
}

var attrName = regexp.MustCompile(`^[A-Za-z_][A-Za-z_.-]{0,39}$`)

var uuidRe = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func findIn(v jsonValue, ids, names []string, add func(string)) {
	in := ""
	if v.where != "" {
		in = fmt.Sprintf(" in %q", v.where)
	}
	if v.number {
		for i, id := range ids {
			if v.text == id || v.text == strings.TrimLeft(id, "0") {
				add(fmt.Sprintf("holder ID %d (%s)%s", i+1, masked(id), in))
			}
		}
		return
	}
	s := norm.NFC.String(v.text)
	// UUIDs are opaque, but still must not carry a known ID.
	s = uuidRe.ReplaceAllStringFunc(s, func(u string) string {
		for i, id := range ids {
			if strings.Contains(u, id) {
				add(fmt.Sprintf("holder ID %d (%s) inside a UUID%s", i+1, masked(id), in))
			}
		}
		return strings.Repeat(" ", len(u))
	})
	words := strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	})
	var folded []string
	for _, w := range words {
		folded = append(folded, fold(w))
		if isHash(w) {
			continue
		}
		lw := strings.ToLower(w)
		standaloneID := len(w) == 12 && allDigits(w)
		known := false
		for i, id := range ids {
			if strings.Contains(w, id) {
				known = true
				add(fmt.Sprintf("holder ID %d (%s)%s", i+1, masked(id), in))
			}
		}
		if standaloneID && !known {
			add(fmt.Sprintf("a 12-digit number (%s)%s", masked(w), in))
		}
		for i, name := range names {
			for j, part := range strings.Fields(norm.NFC.String(name)) {
				if utf8.RuneCountInString(part) >= MinNamePart && lw == strings.ToLower(part) {
					add(fmt.Sprintf("part %d of holder name %d%s", j+1, i+1, in))
				}
			}
			// Run together: "nguyenthithutrang".
			if run := strings.Join(nameWords(name), ""); len(run) >= 8 && strings.Contains(folded[len(folded)-1], run) {
				add(fmt.Sprintf("holder name %d%s", i+1, in))
			}
		}
	}
	// In full, word by word, diacritics or not: "Nguyễn Thị Thu Trang",
	// "nguyen-thi-thu-trang".
	for i, name := range names {
		nw := nameWords(name)
		if len(nw) > 0 && containsRun(folded, nw) {
			add(fmt.Sprintf("holder name %d%s", i+1, in))
		}
	}
}

// nameWords is a name's words, folded.
func nameWords(name string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(norm.NFC.String(name), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r)
	}) {
		out = append(out, fold(w))
	}
	return out
}

func containsRun(words, run []string) bool {
	for i := 0; i+len(run) <= len(words); i++ {
		if slices.Equal(words[i:i+len(run)], run) {
			return true
		}
	}
	return false
}

// fold lowercases w and removes its diacritics (đ becomes d).
func fold(w string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(w)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'đ':
			b.WriteRune('d')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isHash reports whether w looks like a digest: 16 or more lowercase hex
// characters, or 26 or more lowercase base32 characters, with both letters
// and digits.
func isHash(w string) bool {
	hex, b32, letter, digit := len(w) >= 16, len(w) >= 26, false, false
	for i := 0; i < len(w); i++ {
		c := w[i]
		isDigit, isLower := c >= '0' && c <= '9', c >= 'a' && c <= 'z'
		letter, digit = letter || isLower, digit || isDigit
		hex = hex && (isDigit || c >= 'a' && c <= 'f')
		b32 = b32 && (isLower || c >= '2' && c <= '7')
	}
	return (hex || b32) && letter && digit
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// masked shows only the last four characters of an ID.
func masked(id string) string {
	if len(id) <= 4 {
		return strings.Repeat("*", len(id))
	}
	return "…" + id[len(id)-4:]
}
