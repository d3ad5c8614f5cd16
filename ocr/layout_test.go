package ocr

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestDefaultLayouts(t *testing.T) {
	ls := testLayouts(t)
	want := []string{"cu-tru", "ho-kinh-doanh", "ket-hon", "khai-sinh", "ly-lich-tu-phap", "to-khai", "xac-nhan-hon-nhan"}
	if got := ls.Types(); !reflect.DeepEqual(got, want) {
		t.Errorf("Types: got %v, want %v", got, want)
	}
	if got := len(ls.provinces); got != 63 {
		t.Errorf("province codes: got %d, want 63", got)
	}
	if name, ok := ls.ProvinceName("079"); !ok || name != "Hồ Chí Minh" {
		t.Errorf("ProvinceName(079): got %q %v, want Hồ Chí Minh", name, ok)
	}
	for _, typ := range want {
		l, _ := ls.Layout(typ)
		if _, ok := l.field(l.HolderIDField); !ok {
			t.Errorf("%s: holder ID field %q missing", typ, l.HolderIDField)
		}
	}
}

const minimalLayout = `{"doc_type": "khai-tu", "titles": ["TRÍCH LỤC KHAI TỬ"], "holder_id_field": "declarant_personal_id",
 "authority": {"mode": "all"},
 "fields": [
  {"slug": "full_name", "labels": ["Họ, chữ đệm, tên"], "kind": "name", "required": true},
  {"slug": "declarant_personal_id", "labels": ["Số định danh cá nhân người đi khai tử"], "kind": "id", "required": true},
  {"slug": "issue_date", "kind": "date", "source": "place_date", "region": "header"}
 ]}`

const provincesCSV = "001,Hà Nội\n079,Hồ Chí Minh\n"

func TestLoadLayoutsErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"no layouts", map[string]string{"provinces.csv": provincesCSV}, "no layout files"},
		{"bad json", map[string]string{"khai-tu.json": "{", "provinces.csv": provincesCSV}, "parse layout khai-tu.json"},
		{"name mismatch", map[string]string{"other.json": minimalLayout, "provinces.csv": provincesCSV}, "does not match"},
		{"unknown kind", map[string]string{"khai-tu.json": strings.Replace(minimalLayout, `"kind": "name"`, `"kind": "nom"`, 1), "provinces.csv": provincesCSV}, "unknown kind"},
		{"unknown key", map[string]string{"khai-tu.json": strings.Replace(minimalLayout, `"titles"`, `"titels"`, 1), "provinces.csv": provincesCSV}, "unknown field"},
		{"not_before unknown field", map[string]string{"khai-tu.json": strings.Replace(minimalLayout, `"region": "header"}`, `"region": "header", "not_before": ["death_date"]}`, 1), "provinces.csv": provincesCSV}, "not_before"},
		{"not_before on a name", map[string]string{"khai-tu.json": strings.Replace(minimalLayout, `"kind": "name", "required": true}`, `"kind": "name", "required": true, "not_before": ["issue_date"]}`, 1), "provinces.csv": provincesCSV}, "not_before"},
		{"missing provinces", map[string]string{"khai-tu.json": minimalLayout}, "provinces.csv"},
		{"bad province", map[string]string{"khai-tu.json": minimalLayout, "provinces.csv": "1,X\n"}, "bad record"},
	}
	for _, tt := range tests {
		fsys := fstest.MapFS{}
		for n, c := range tt.files {
			fsys[n] = &fstest.MapFile{Data: []byte(c)}
		}
		_, err := LoadLayouts(fsys)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: got error %v, want one containing %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestAddTypeAsData shows that a new document type needs only a data file.
func TestAddTypeAsData(t *testing.T) {
	ls, err := LoadLayouts(fstest.MapFS{
		"khai-tu.json":  {Data: []byte(minimalLayout)},
		"provinces.csv": {Data: []byte(provincesCSV)},
	})
	if err != nil {
		t.Fatal(err)
	}
	page := Page{Number: 1, Confidence: 0.95, Text: strings.Join([]string{
		"ỦY BAN NHÂN DÂN   CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
		"Hà Nội, ngày 02 tháng 3 năm 2021",
		"TRÍCH LỤC KHAI TỬ",
		"Họ, chữ đệm, tên: Trần Văn Ba",
		"Số định danh cá nhân người đi khai tử: 001080000123",
	}, "\n")}
	docs := Extract([]Page{page}, ls)
	if len(docs) != 1 {
		t.Fatalf("documents: got %d, want 1", len(docs))
	}
	d := docs[0]
	if d.DocType != "khai-tu" || d.HolderPersonalID != "001080000123" || d.Fields["full_name"].Value != "TRẦN VĂN BA" || d.Fields["issue_date"].Value != "02/03/2021" {
		t.Errorf("got %s holder %q name %q issue %q, want khai-tu 001080000123 TRẦN VĂN BA 02/03/2021",
			d.DocType, d.HolderPersonalID, d.Fields["full_name"].Value, d.Fields["issue_date"].Value)
	}
}
