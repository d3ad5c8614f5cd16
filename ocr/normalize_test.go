package ocr

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFoldText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Họ, chữ đệm và tên", "ho chu dem va ten"},
		{"Ho va ten", "ho va ten"},
		{"Ho và tén", "ho va ten"},
		{"ĐỊNH  DANH:", "dinh danh"},
		{"  Số   định\tdanh ", "so dinh danh"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := foldText(tt.in); got != tt.want {
			t.Errorf("foldText(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"dân", "dan", 1}, {"ho va ten", "ho va ten", 0},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q): got %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFuzzyScore(t *testing.T) {
	tests := []struct {
		got, want string
		match     bool
	}{
		{"so dinh danh ca nhan", "so dinh danh ca nhan", true},
		{"so dinh danh ca nhin", "so dinh danh ca nhan", true},
		{"so", "so", true},
		{"sa", "so", false}, // short keys must be exact
		{"noi sinh", "nam sinh", false},
		{"noi cu tru", "noi tam tru", false},
		{"ho chu dem ten", "ho chu dem ten nguoi me", false},
	}
	for _, tt := range tests {
		if got := fuzzyScore(tt.got, tt.want) > 0; got != tt.match {
			t.Errorf("fuzzyScore(%q, %q) > 0: got %v, want %v", tt.got, tt.want, got, tt.match)
		}
	}
}

func TestCleanValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{" : Việt Nam :", "Việt Nam"},
		{"Kinh ,", "Kinh"},
		{"Không có án tích.", "Không có án tích."},
		{"—~ Thôn Hạ", "Thôn Hạ"},
		{"tỉnh Nghệ An ˆ", "tỉnh Nghệ An"},
		{"thành phố Hải Phòng :", "thành phố Hải Phòng"},
		{"ˆ „", ""},
		{"quận Ñgô Quyền", "quận Ngô Quyền"},
		{"XÃ UY NÖ", "XÃ UY NO"},
		{"Nghệ An, Đà Nẵng, Huỳnh", "Nghệ An, Đà Nẵng, Huỳnh"},
	}
	for _, tt := range tests {
		if got := cleanValue(tt.in); got != tt.want {
			t.Errorf("cleanValue(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Lê Minh Quang Hải", "LÊ MINH QUANG HẢI"},
		{" ĐẶNG MINH VINH. ", "ĐẶNG MINH VINH"},
		{"Nguye\u0302\u0303n Văn A", "NGUYỄN VĂN A"}, // NFD input
		{"TRẦN 2 VĂN", "TRẦN VĂN"},
		{"LÊ THÀNH XUÂN LoNG|pAN 3A9)", "LÊ THÀNH XUÂN LONG"},
		{"Lê Hữu Dũng", "LÊ HỮU DŨNG"},
		{"NGUYỄN HỮU QUÂN `Ð", "NGUYỄN HỮU QUÂN"}, // a mark read as a lone consonant
		{"NGUYỄN THỊ Y", "NGUYỄN THỊ Y"},          // a one-vowel syllable stays
		{"TRẦN THỊ Ý", "TRẦN THỊ Ý"},
	}
	for _, tt := range tests {
		if got := normalizeName(tt.in); got != tt.want {
			t.Errorf("normalizeName(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSnapSurname(t *testing.T) {
	surnames := []string{"Nguyễn", "Lê", "Võ", "Vũ", "Bùi", "Đặng"}
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"NGUYÊN THU VY", "NGUYỄN THU VY", true},
		{"NGUYỄN THU VY", "NGUYỄN THU VY", false},
		{"LE VAN", "LÊ VAN", true},
		{"VO AN", "VÕ AN", true},
		{"TRẦN AN", "TRẦN AN", false},
		{"Bui Hồng Mai", "Bùi Hồng Mai", true},
		{"Nguyen Văn", "Nguyễn Văn", true},
		{"", "", false},
		{"NGUYỄNTHÀNH BÌNH", "NGUYỄN THÀNH BÌNH", true}, // glued
		{"NGUYỄNTHÀNH", "NGUYỄN THÀNH", true},
		{"LÊNH AN", "LÊNH AN", false},             // a syllable, not glued
		{"ĐẶĂNG THANH HÀ", "ĐẶNG THANH HÀ", true}, // one vowel read twice
		{"VÕOO AN", "VÕOO AN", false},             // "oo" is not collapsed
	}
	for _, tt := range tests {
		got, changed := snapSurname(tt.in, surnames)
		if got != tt.want || changed != tt.changed {
			t.Errorf("snapSurname(%q): got %q %v, want %q %v", tt.in, got, changed, tt.want, tt.changed)
		}
	}
}

func TestRepairDigits(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		repairs int
		ok      bool
	}{
		{"001099872198", "001099872198", 0, true},
		{"00I099872198", "001099872198", 1, true},
		{"O01099872l98", "001099872198", 2, true},
		{"Nam", "", 0, false},
		{"OOO", "", 0, false},     // no real digit: a guess
		{"0OlI9", "", 0, false},   // too many look-alikes
		{"12a4", "", 0, false},    // 'a' is not a look-alike
		{"2024", "2024", 0, true}, // plain
	}
	for _, tt := range tests {
		got, n, ok := repairDigits(tt.in)
		if got != tt.want || n != tt.repairs || ok != tt.ok {
			t.Errorf("repairDigits(%q): got %q %d %v, want %q %d %v", tt.in, got, n, ok, tt.want, tt.repairs, tt.ok)
		}
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		repairs int
		ok      bool
	}{
		{"001099872198", "001099872198", 0, true},
		{"0311 79784797", "031179784797", 1, true},
		{"00I099872198", "001099872198", 1, true},
		{"040188372147——~—", "040188372147", 0, true},
		{"03117978479", "03117978479", 0, true}, // 11 digits: wrong length, kept
		{"001099872198 Nơi cư trú", "001099872198", 0, true},
		{"001.099.872.198", "001099872198", 3, true},
		{"0944604618”", "0944604618", 0, true},
		{"Không", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseID(tt.in)
		if ok != tt.ok || got.Digits != tt.want || got.Repairs != tt.repairs {
			t.Errorf("ParseID(%q): got %+v %v, want %q repairs %d %v", tt.in, got, ok, tt.want, tt.repairs, tt.ok)
		}
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"001099872198", "0311 79784797", "00I0998721g8", "——", "1 2 3 4 5 6 7 8 9 0 1 2 3", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseID(s)
		if !ok {
			return
		}
		if id.Digits == "" || !allDigits(id.Digits) {
			t.Fatalf("ParseID(%q): got %q, want only digits", s, id.Digits)
		}
		if len(id.Digits) > 12+utf8.RuneCountInString(s) {
			t.Fatalf("ParseID(%q): %d digits from %d runes", s, len(id.Digits), utf8.RuneCountInString(s))
		}
		if id.Repairs < 0 {
			t.Fatalf("ParseID(%q): negative repairs", s)
		}
	})
}

func TestNormalizeDate(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		repairs int
		ok      bool
	}{
		{"14/08/1999", "14/08/1999", 0, true},
		{"1 1/06/2003", "11/06/2003", 1, true},
		{"I 1/06/1983", "11/06/1983", 1, true},
		{"sinh: 1 1/12/1983", "11/12/1983", 1, true},
		{"4/8/1999", "04/08/1999", 0, true},
		{"09/02/ 1989", "09/02/1989", 0, true},
		{"ngày 23/03/2015", "23/03/2015", 0, true},
		{"Hà Nội, ngày 5 tháng 3 năm 2024", "05/03/2024", 0, true},
		{"ngay 05 thang 3 nam 2024", "05/03/2024", 0, true},
		{"l4/08/1999", "14/08/1999", 1, true},
		{"31/02/2020", "", 0, false},
		{"29/02/2024", "29/02/2024", 0, true},
		{"29/02/2023", "", 0, false},
		{"Không rõ", "", 0, false},
	}
	for _, tt := range tests {
		got, rep, ok := normalizeDate(tt.in)
		if got != tt.want || rep != tt.repairs || ok != tt.ok {
			t.Errorf("normalizeDate(%q): got %q %d %v, want %q %d %v", tt.in, got, rep, ok, tt.want, tt.repairs, tt.ok)
		}
	}
}

func TestNormalizeSex(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Nam", "Nam", true}, {"Nữ", "Nữ", true}, {"Nu", "Nữ", true}, {"nam  3.", "Nam", true}, {"Khác", "", false}, {"", "", false},
		{"Ña", "", false}, // "Nam" without its m, or "Nữ": either
	}
	for _, tt := range tests {
		got, ok := normalizeSex(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeSex(%q): got %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSnapVocabulary(t *testing.T) {
	vocab := []string{"Kinh", "Tày", "Khmer", "Việt Nam", "Phật giáo", "Chủ hộ", "Cháu", "Con"}
	tests := []struct {
		in, want    string
		changed, ok bool
	}{
		{"Kinh", "Kinh", false, true},
		{"Tay", "Tày", true, true},
		{"Viet Nam", "Việt Nam", true, true},
		{"Phật giao", "Phật giáo", true, true},
		{"Xyz", "Xyz", false, false},
		{"Chủ", "Chủ", false, false}, // truncated: not "Cháu"
		{"Cháu", "Cháu", false, true},
		{"Chu ho", "Chủ hộ", true, true},
	}
	for _, tt := range tests {
		got, changed, ok := snapVocabulary(tt.in, vocab)
		if got != tt.want || changed != tt.changed || ok != tt.ok {
			t.Errorf("snapVocabulary(%q): got %q %v %v, want %q %v %v", tt.in, got, changed, ok, tt.want, tt.changed, tt.ok)
		}
	}
}

func TestAddMonthsAndDays(t *testing.T) {
	tests := []struct {
		name       string
		d, m, y, n int
		months     bool
		wd, wm, wy int
	}{
		{"six months", 23, 2, 2022, 6, true, 23, 8, 2022},
		{"clamp to February", 31, 8, 2023, 6, true, 29, 2, 2024},
		{"clamp non-leap", 31, 8, 2022, 6, true, 28, 2, 2023},
		{"year wrap", 15, 11, 2021, 12, true, 15, 11, 2022},
		{"30 days", 27, 6, 2022, 30, false, 27, 7, 2022},
		{"30 days over year end", 15, 12, 2023, 30, false, 14, 1, 2024},
		{"30 days from January 31", 31, 1, 2024, 30, false, 1, 3, 2024},
	}
	for _, tt := range tests {
		var d, m, y int
		if tt.months {
			d, m, y = addMonths(tt.d, tt.m, tt.y, tt.n)
		} else {
			d, m, y = addDays(tt.d, tt.m, tt.y, tt.n)
		}
		if d != tt.wd || m != tt.wm || y != tt.wy {
			t.Errorf("%s: got %s, want %s", tt.name, formatDMY(d, m, y), formatDMY(tt.wd, tt.wm, tt.wy))
		}
	}
}

func TestSplitWideSpaces(t *testing.T) {
	got := splitWideSpaces("Ngày sinh: 04/06/1986   Dân tộc: Kinh")
	if len(got) != 2 || strings.TrimSpace(got[1]) != "Dân tộc: Kinh" {
		t.Errorf("splitWideSpaces: got %q, want two parts ending with %q", got, "Dân tộc: Kinh")
	}
}

func TestNormalizeReference(t *testing.T) {
	tests := []struct{ in, want string }{
		{"371/UBND-XNTTHN", "371/UBND-XNTTHN"},
		{"371UBND-XNTTHN", "371/UBND-XNTTHN"}, // lost slash
		{"5751XN", "5751/XN"},                 // lost slash
		{"3755⁄XN", "3755/XN"},                // fraction slash
		{"894/TLKS-BS-", "894/TLKS-BS"},       // trailing dash
		{"12/QĐ-UBND.", "12/QĐ-UBND"},
		{"79F8349135", "79F8349135"}, // a code with one letter inside
		{"01E8168921", "01E8168921"},
		{"288/2018/HNGĐ-ST", "288/2018/HNGĐ-ST"},
		{"5751x", "5751x"},           // lower case: not a symbol
		{"3IE8715118", "31E8715118"}, // a look-alike in the leading number
		{"IO/QĐ-UBND", "IO/QĐ-UBND"}, // no real digit: left alone
		{"12O/QĐ", "12O/QĐ"},         // followed by a slash: left alone
	}
	for _, tt := range tests {
		if got := normalizeReference(tt.in); got != tt.want {
			t.Errorf("normalizeReference(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
