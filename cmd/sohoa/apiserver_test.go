package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sohoa/api/reuse"
	"sohoa/ocr"
)

// TestReuseProcedures: SOHOA_REUSE_PROCEDURES is read and checked against
// the layouts; unset, development mode has the example table and
// production none.
func TestReuseProcedures(t *testing.T) {
	vocab, err := reuse.DefaultVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"procedures":{"1.004873":{"name":"Cấp bản sao","required_doc_types":["khai-sinh"],"form_fields":["full_name"]}}}`)
	for _, c := range []struct {
		name  string
		dev   bool
		file  string
		codes string // the table's codes, comma-separated
		err   string // a part of the error, "" for none
	}{
		{"development default", true, "", "1.900001,1.900002,1.900003", ""},
		{"production default: none", false, "", "", ""},
		{"a file", false, good, "1.004873", ""},
		{"a file in development mode", true, good, "1.004873", ""},
		{"an application form is not a paper to reuse", false,
			write("form.json", `{"procedures":{"1.004873":{"name":"n","required_doc_types":["to-khai"]}}}`), "", "not a result document type"},
		{"an unknown document type", false,
			write("unknown.json", `{"procedures":{"1.004873":{"name":"n","required_doc_types":["giay-phep-lai-xe"]}}}`), "", "not a result document type"},
		{"an unknown field", false,
			write("field.json", `{"procedures":{"1.004873":{"name":"n","form_fields":["so_dinh_danh"]}}}`), "", "not in vocabulary"},
		{"the doc-type table of SOHOA_PROCEDURES", false, write("old.json", `{"khai-sinh":"1.004873"}`), "", "SOHOA_REUSE_PROCEDURES"},
		{"a missing file", false, filepath.Join(dir, "none.json"), "", "no such file"},
	} {
		cfg := &config{Dev: c.dev}
		cfg.API.ReuseProcedures = c.file
		ps, err := cfg.reuseProcedures(vocab, layouts)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want one saying %q", c.name, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.name, err)
		case strings.Join(ps.Codes(), ",") != c.codes:
			t.Errorf("%s: codes %v, want %s", c.name, ps.Codes(), c.codes)
		}
	}
	if names := docTypeNames(layouts); names["ket-hon"] != "Giấy chứng nhận kết hôn" {
		t.Errorf("docTypeNames = %v", names)
	}
}
