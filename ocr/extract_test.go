package ocr

import (
	"bytes"
	"encoding/json"
	"flag"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// updateGolden reports whether -update was given. The flag itself is
// declared once for the package (in input_test.go); it rewrites every
// golden file under testdata/, including testdata/golden.
func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// textPage builds a page without word boxes, as an engine that only
// returns text would.
func textPage(n int, lines ...string) Page {
	return Page{Number: n, Confidence: 0.96, Text: strings.Join(lines, "\n")}
}

var cuTruLines = []string{
	"CÔNG AN TỈNH THANH HÓA   CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
	"CÔNG AN THỊ TRẤN BÚT SƠN   Độc lập - Tự do - Hạnh phúc",
	"Số: 5213/XN   Bút Sơn, ngày 27 tháng 6 năm 2022",
	"XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ",
	"1. Ho, chu dem va ten: PHẠM THỊ HẰNG",
	"2. Ngày, tháng, năm sinh: 09/02/1989   3. Giới tính: Nữ",
	"4. Số định danh cá nhân: 040189377147",
	"5. Dân tộc: Nung   6. Tôn giáo: Không",
	"7. Quốc tịch: Việt Nam",
	"8. Nơi thường trú: Số 13/2 đường Lê Thánh Tông, thị trấn Bút Sơn, huyện",
	"Hoằng Hóa, tỉnh Thanh Hóa",
	"9. Nơi tạm trú: Không",
	"11. Họ, chữ đệm và tên chủ hộ: VÕ ĐỨC NGHĨA   12. Quan hệ với chủ hộ: Con",
	"Giấy xác nhận này có giá trị 30 ngày kể từ ngày cấp.",
	"KT. TRƯỞNG CÔNG AN",
	"PHÓ TRƯỞNG CÔNG AN",
	"Lê Thị Thanh Chi",
}

func TestExtractTextOnlyPage(t *testing.T) {
	docs := Extract([]Page{textPage(1, cuTruLines...)}, testLayouts(t))
	if len(docs) != 1 {
		t.Fatalf("documents: got %d, want 1", len(docs))
	}
	d := docs[0]
	want := map[string]string{
		"full_name":           "PHẠM THỊ HẰNG", // label without diacritics
		"date_of_birth":       "09/02/1989",
		"sex":                 "Nữ", // second field on the line
		"personal_id":         "040189377147",
		"ethnicity":           "Nùng", // snapped to the vocabulary
		"religion":            "Không",
		"nationality":         "Việt Nam",
		"residence":           "Số 13/2 đường Lê Thánh Tông, thị trấn Bút Sơn, huyện Hoằng Hóa, tỉnh Thanh Hóa", // wrapped
		"temporary_residence": "Không",
		"household_head":      "VÕ ĐỨC NGHĨA",
		"relation_to_head":    "Con",
		"doc_number":          "5213/XN",
		"issue_date":          "27/06/2022",
		"issuing_authority":   "CÔNG AN THỊ TRẤN BÚT SƠN",
		"signer_title":        "KT. TRƯỞNG CÔNG AN PHÓ TRƯỞNG CÔNG AN",
		"signer_name":         "Lê Thị Thanh Chi",
	}
	for k, v := range want {
		if got := d.Fields[k].Value; got != v {
			t.Errorf("%s: got %q, want %q", k, got, v)
		}
	}
	if d.DocType != "cu-tru" || d.HolderPersonalID != "040189377147" {
		t.Errorf("doc: got %s %q, want cu-tru 040189377147", d.DocType, d.HolderPersonalID)
	}
	if d.ValidUntil == nil || *d.ValidUntil != "27/07/2022" {
		t.Errorf("valid_until: got %v, want 27/07/2022", d.ValidUntil)
	}
	if d.NeedsReview {
		t.Errorf("needs_review: got true (%v), want false", d.ReviewReasons)
	}
}

func TestExtractReviewCases(t *testing.T) {
	replace := func(old, new string) []string {
		out := append([]string(nil), cuTruLines...)
		for i, l := range out {
			out[i] = strings.Replace(l, old, new, 1)
		}
		return out
	}
	tests := []struct {
		name       string
		lines      []string
		wantReason string
		wantID     string
	}{
		{"wrong length", replace("040189377147", "04018937714"), codeWrongLength, ""},
		{"sex mismatch", replace("Giới tính: Nữ", "Giới tính: Nam"), codeSexMismatch, "040189377147"},
		{"birth year mismatch", replace("09/02/1989", "09/02/1988"), codeBirthYear, "040189377147"},
		{"century mismatch", replace("040189377147", "040389377147"), codeCenturyMismatch, "040389377147"},
		{"unknown province", replace("040189377147", "003189377147"), codeUnknownProvince, "003189377147"},
		{"repaired ID is doubtful", replace("040189377147", "04O189377147"), reasonLowConfidence + "personal_id", "040189377147"},
		{"missing ID", replace("4. Số định danh cá nhân: 040189377147", "4. Nghề nghiệp: Nông"), reasonNoHolderID, ""},
		{"future issue date", replace("năm 2022", "năm 2099"), reasonFutureIssue, "040189377147"},
		{"impossible issue date", replace("ngày 27 tháng 6", "ngày 31 tháng 6"), reasonInvalidDate + "issue_date", "040189377147"},
		// "Na" is "Nam" without its m or "Nữ" misread: the ID cannot be
		// checked against it, and is not flagged as mismatching it.
		{"sex read as neither", replace("Giới tính: Nữ", "Giới tính: Ña"), reasonLowConfidence + "sex", "040189377147"},
	}
	ls := testLayouts(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := Extract([]Page{textPage(1, tt.lines...)}, ls)
			if len(docs) != 1 {
				t.Fatalf("documents: got %d, want 1", len(docs))
			}
			d := docs[0]
			if !d.NeedsReview || !contains(d.ReviewReasons, tt.wantReason) {
				t.Errorf("review: got %v %v, want true with %q", d.NeedsReview, d.ReviewReasons, tt.wantReason)
			}
			if tt.wantID != "" && d.HolderPersonalID != tt.wantID {
				t.Errorf("holder ID: got %q, want %q", d.HolderPersonalID, tt.wantID)
			}
			if tt.wantReason != codeSexMismatch && contains(d.ReviewReasons, codeSexMismatch) {
				t.Errorf("review: got %v, want no %s", d.ReviewReasons, codeSexMismatch)
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestExtractDossierSegmentation(t *testing.T) {
	toKhai := []string{
		"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
		"Độc lập - Tự do - Hạnh phúc",
		"TỜ KHAI YÊU CẦU XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ",
		"Kính gửi: Công an thị trấn Bút Sơn",
		"Họ, chữ đệm, tên người yêu cầu: PHẠM THỊ HẰNG",
		"Ngày, tháng, năm sinh: 09/02/1989   Giới tính: Nữ",
		"Số định danh cá nhân: 040189377147",
		"Làm tại Bút Sơn, ngày 20 tháng 6 năm 2022",
		"NGƯỜI YÊU CẦU",
	}
	unseen := []string{
		"ỦY BAN NHÂN DÂN   CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
		"XÃ NGHI LONG   Độc lập - Tự do - Hạnh phúc",
		"TRÍCH LỤC KHAI TỬ",
		"Họ, chữ đệm, tên người chết: NGÔ VĂN AN",
		"Số định danh cá nhân: 040050000111",
	}
	ls := testLayouts(t)
	t.Run("application then result", func(t *testing.T) {
		docs := Extract([]Page{textPage(1, toKhai...), textPage(2, cuTruLines...)}, ls)
		got := []string{}
		for _, d := range docs {
			got = append(got, d.DocType)
		}
		if !reflect.DeepEqual(got, []string{"to-khai", "cu-tru"}) {
			t.Fatalf("types: got %v, want [to-khai cu-tru]", got)
		}
		if docs[0].Fields["submission_date"].Value != "20/06/2022" || docs[0].NeedsReview {
			t.Errorf("to-khai: got submission %q review %v %v, want 20/06/2022 false", docs[0].Fields["submission_date"].Value, docs[0].NeedsReview, docs[0].ReviewReasons)
		}
	})
	t.Run("cross-document mismatch", func(t *testing.T) {
		bad := append([]string(nil), toKhai...)
		bad[6] = "Số định danh cá nhân: 040189377148"
		docs := Extract([]Page{textPage(1, bad...), textPage(2, cuTruLines...)}, ls)
		for _, d := range docs {
			if !contains(d.ReviewReasons, codeCrossDocument) {
				t.Errorf("%s: got reasons %v, want %s", d.DocType, d.ReviewReasons, codeCrossDocument)
			}
		}
		if docs[1].HolderPersonalID != "040189377147" {
			t.Errorf("result holder: got %q, want the printed 040189377147 (never fixed)", docs[1].HolderPersonalID)
		}
	})
	t.Run("unseen type is unknown", func(t *testing.T) {
		docs := Extract([]Page{textPage(1, toKhai...), textPage(2, unseen...)}, ls)
		if len(docs) != 2 {
			t.Fatalf("documents: got %d, want 2", len(docs))
		}
		d := docs[1]
		if d.DocType != DocTypeUnknown || !d.NeedsReview || d.HolderPersonalID != "040050000111" {
			t.Errorf("unseen: got %s review %v holder %q, want unknown true 040050000111", d.DocType, d.NeedsReview, d.HolderPersonalID)
		}
	})
	t.Run("near-miss titles are unknown", func(t *testing.T) {
		for _, title := range []string{"PHIẾU LÝ LỊCH TƯ PHÁP SỐ 2", "TRÍCH LỤC KẾT HÔN", "GIẤY KHAI TỬ", "GIẤY CHỨNG NHẬN ĐĂNG KÝ DOANH NGHIỆP"} {
			lines := append([]string(nil), unseen...)
			lines[2] = title
			docs := Extract([]Page{textPage(1, lines...)}, ls)
			if len(docs) != 1 || docs[0].DocType != DocTypeUnknown {
				t.Errorf("%s: got %s, want unknown", title, docs[0].DocType)
			}
		}
	})
	t.Run("untitled page with common labels only is unknown", func(t *testing.T) {
		lines := []string{
			"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
			"Họ, chữ đệm, tên: NGÔ VĂN AN",
			"Ngày, tháng, năm sinh: 01/01/1950   Giới tính: Nam",
			"Dân tộc: Kinh   Quốc tịch: Việt Nam",
			"Số định danh cá nhân: 040050000111",
			"Nơi cư trú: Xóm 1, xã A, huyện B, tỉnh C",
		}
		docs := Extract([]Page{textPage(1, lines...)}, ls)
		if len(docs) != 1 || docs[0].DocType != DocTypeUnknown || docs[0].HolderPersonalID != "040050000111" {
			t.Errorf("got %s holder %q, want unknown with the labelled ID", docs[0].DocType, docs[0].HolderPersonalID)
		}
	})
	t.Run("untitled page with distinctive labels is classified for review", func(t *testing.T) {
		lines := append([]string{"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"}, cuTruLines[4:]...)
		docs := Extract([]Page{textPage(1, lines...)}, ls)
		if len(docs) != 1 || docs[0].DocType != "cu-tru" || !contains(docs[0].ReviewReasons, reasonNoTitle) {
			t.Errorf("got %s %v, want cu-tru with %s", docs[0].DocType, docs[0].ReviewReasons, reasonNoTitle)
		}
	})
	t.Run("continuation page", func(t *testing.T) {
		docs := Extract([]Page{textPage(1, cuTruLines[:9]...), textPage(2, cuTruLines[9:]...)}, ls)
		if len(docs) != 1 || !reflect.DeepEqual(docs[0].Pages, []int{1, 2}) {
			t.Fatalf("got %d documents, want one over pages [1 2]", len(docs))
		}
	})
	t.Run("empty", func(t *testing.T) {
		if docs := Extract(nil, ls); len(docs) != 0 {
			t.Errorf("documents: got %d, want 0", len(docs))
		}
	})
}

// goldenScans are two fixtures per document type.
var goldenScans = []string{
	"scan_0003", "scan_0009", // cu-tru
	"scan_0016", "scan_0019", // ho-kinh-doanh
	"scan_0002", "scan_0004", // ket-hon
	"scan_0018", "scan_0024", // khai-sinh
	"scan_0001", "scan_0015", // ly-lich-tu-phap
	"scan_0008", "scan_0029", // to-khai (+ xac-nhan-hon-nhan, ly-lich-tu-phap)
	"scan_0005", "scan_0013", // xac-nhan-hon-nhan
}

func TestExtractGolden(t *testing.T) {
	ls := testLayouts(t)
	for _, base := range goldenScans {
		t.Run(base, func(t *testing.T) {
			got, err := json.MarshalIndent(Extract(loadFixture(t, base), ls), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", base+".json")
			if updateGolden() {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -update): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Extract(%s) differs from %s; got:\n%s", base, path, got)
			}
		})
	}
}

func TestExtractDeterministic(t *testing.T) {
	ls := testLayouts(t)
	pages := loadFixture(t, "scan_0011")
	a, _ := json.Marshal(Extract(pages, ls))
	for i := 0; i < 3; i++ {
		b, _ := json.Marshal(Extract(pages, ls))
		if !bytes.Equal(a, b) {
			t.Fatalf("run %d: output differs", i)
		}
	}
}

func FuzzExtract(f *testing.F) {
	// Small seeds keep the fuzzer's minimisation cheap (each run parses
	// every line against every label).
	f.Add(strings.Join(cuTruLines[3:8], "\n"), 2)
	f.Add("TỜ KHAI\nSố định danh cá nhân: 0O1 2\n: : :\nHọ và tên:", 1)
	f.Add("Số:\nngày 99 tháng 99 năm 9999\nKT.", 2)
	f.Add("\xff\xfe:\n   \n1.", 0)
	ls, err := DefaultLayouts()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string, split int) {
		lines := strings.Split(text, "\n")
		pages := []Page{textPage(1, lines...)}
		if split > 0 && split < len(lines) {
			pages = []Page{textPage(1, lines[:split]...), textPage(2, lines[split:]...)}
			// Also give page 2 synthetic word boxes to exercise the geometry path.
			var ws []Word
			for i, l := range lines[split:] {
				for j, w := range strings.Fields(l) {
					ws = append(ws, Word{Text: w, Conf: 0.9, Line: i, Box: rectAt(j*120, i*40, 100, 30)})
				}
			}
			pages[1].Words = ws
		}
		docs := Extract(pages, ls)
		for _, d := range docs {
			if d.NeedsReview != (len(d.ReviewReasons) > 0) {
				t.Fatalf("needs_review %v with reasons %v", d.NeedsReview, d.ReviewReasons)
			}
			if d.DocType == "" || len(d.Pages) == 0 {
				t.Fatalf("document without type or pages: %+v", d)
			}
		}
	})
}

func rectAt(x, y, w, h int) image.Rectangle { return image.Rect(x, y, x+w, y+h) }

// TestExtractUnknownHolder: a document no layout knows still gives its
// labelled holder ID, name and date of birth, whatever the ID's label
// says, and the application form's ID is checked against every ID it
// labels (a death registration prints the deceased's and the declarant's).
func TestExtractUnknownHolder(t *testing.T) {
	ls := testLayouts(t)
	form := func(id string) []string {
		return []string{
			"CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
			"Độc lập - Tự do - Hạnh phúc",
			"TỜ KHAI ĐĂNG KÝ KHAI TỬ",
			"Kính gửi: Ủy ban nhân dân xã Nghi Long",
			"Họ, chữ đệm, tên người đi khai tử: NGÔ VĂN BÌNH",
			"Ngày, tháng, năm sinh: 03/04/1980   Giới tính: Nam",
			"Số định danh cá nhân: " + id,
			"Làm tại Nghi Long, ngày 20 tháng 6 năm 2022",
			"NGƯỜI YÊU CẦU",
		}
	}
	extract := []string{
		"ỦY BAN NHÂN DÂN   CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
		"XÃ NGHI LONG   Độc lập - Tự do - Hạnh phúc",
		"Số: 12/TLKT   Nghi Long, ngày 21 tháng 6 năm 2022",
		"TRÍCH LỤC KHAI TỬ",
		"Họ, chữ đệm, tên: NGÔ VĂN AN",
		"Ngày, tháng, năm sinh: 12/05/1950   Giới tính: Nam",
		"Số định danh cá nhân của người chết: 040050000111",
		"Họ, chữ đệm, tên người đi khai tử: NGÔ VĂN BÌNH",
		"Số CCCD người đi khai tử: 040080123456",
	}
	tests := []struct {
		name      string
		formID    string
		wantCross bool
	}{
		{"declarant's ID on the form", "040080123456", false},
		{"deceased's ID on the form", "040050000111", false},
		{"an ID the document does not print", "040080123457", true},
	}
	for _, tt := range tests {
		docs := Extract([]Page{textPage(1, form(tt.formID)...), textPage(2, extract...)}, ls)
		if len(docs) != 2 {
			t.Fatalf("%s: documents: got %d, want 2", tt.name, len(docs))
		}
		d := docs[1]
		if d.DocType != DocTypeUnknown || !d.NeedsReview {
			t.Errorf("%s: got %s review %v, want unknown, reviewed", tt.name, d.DocType, d.NeedsReview)
		}
		want := map[string]string{"personal_id": "040050000111", "full_name": "NGÔ VĂN AN", "date_of_birth": "12/05/1950"}
		for k, v := range want {
			if d.Fields[k].Value != v {
				t.Errorf("%s: %s: got %q, want %q", tt.name, k, d.Fields[k].Value, v)
			}
		}
		if d.HolderPersonalID != "040050000111" {
			t.Errorf("%s: holder: got %q, want the first labelled ID", tt.name, d.HolderPersonalID)
		}
		if got := contains(docs[0].ReviewReasons, codeCrossDocument); got != tt.wantCross {
			t.Errorf("%s: form cross-document flag: got %v (%v), want %v", tt.name, got, docs[0].ReviewReasons, tt.wantCross)
		}
	}
}

func TestTitleScore(t *testing.T) {
	tests := []struct {
		key, title string
		prefix     bool
		want       float64
	}{
		{"to khai cap giay xac nhan", "to khai", true, 1},
		{"to khaicap giay xac nhan", "to khai", true, gluedPrefixScore},
		{"to khai", "to khai", true, 1},
		{"to kha", "to khai", true, 0},
		{"tokhai cap", "to khai", true, 0},
		{"to khaicap", "to khai", false, 0},
		{"giay xac nhan tinh trang hon nhan", "giay xac nhan tinh trang hon nhan", false, 1},
	}
	for _, tt := range tests {
		if got := titleScore(tt.key, tt.title, tt.prefix); got != tt.want {
			t.Errorf("titleScore(%q, %q, %v): got %v, want %v", tt.key, tt.title, tt.prefix, got, tt.want)
		}
	}
}

// TestClassifyTitleAcrossDebris: a title printed on two lines is found
// when a mark read as a short word sits beside its first line or between
// the two lines, and not when a real line comes between them.
func TestClassifyTitleAcrossDebris(t *testing.T) {
	ls := testLayouts(t)
	seg := func(text string) textSegment {
		var ws []Word
		for _, f := range strings.Fields(text) {
			ws = append(ws, Word{Text: f, Conf: 0.9})
		}
		return textSegment{words: ws, x0: -1, x1: -1}
	}
	line := func(segs ...string) textLine {
		l := textLine{page: 1}
		for _, s := range segs {
			l.segs = append(l.segs, seg(s))
		}
		return l
	}
	tests := []struct {
		name  string
		lines []textLine
		want  string
	}{
		{"adjacent lines", []textLine{line("GIẤY XÁC NHẬN"), line("TÌNH TRẠNG HÔN NHÂN")}, "xac-nhan-hon-nhan"},
		{"a mark between them", []textLine{line("GIẤY XÁC NHẬN"), line("vs"), line("TÌNH TRẠNG HÔN NHÂN")}, "xac-nhan-hon-nhan"},
		{"a mark beside the first", []textLine{line("GIẤY XÁC NHẬN", "vs"), line("TÌNH TRẠNG HÔN NHÂN")}, "xac-nhan-hon-nhan"},
		{"a real line between them", []textLine{line("GIẤY XÁC NHẬN"), line("Kính gửi ông Lê"), line("TÌNH TRẠNG HÔN NHÂN")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := classifyLines(tt.lines, ls)
			if tt.want != "" && got != tt.want {
				t.Errorf("classifyLines: got %q, want %q", got, tt.want)
			}
			if tt.want == "" && got == "xac-nhan-hon-nhan" {
				t.Errorf("classifyLines: got %q across a real line", got)
			}
		})
	}
}
