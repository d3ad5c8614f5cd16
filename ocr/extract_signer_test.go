package ocr

import (
	"image"
	"reflect"
	"strings"
	"testing"
)

var testSignerTitles = []string{
	"KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC",
	"GIÁM ĐỐC", "TRƯỞNG CÔNG AN XÃ", "KT. TRƯỞNG PHÒNG", "PHÓ TRƯỞNG PHÒNG", "TRƯỞNG PHÒNG", "NGƯỜI KÝ TRÍCH LỤC",
}

func TestSnapSignerTitles(t *testing.T) {
	heads := []string{"TM. ỦY BAN NHÂN DÂN > CHỦ TỊCH"}
	tests := []struct {
		name    string
		in      []string
		want    []string
		guessed bool
	}{
		{"both lines read", []string{"KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"}, []string{"KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"}, false},
		{"deputy line lost", []string{"KT. GIÁM ĐỐC"}, []string{"KT. GIÁM ĐỐC", "PHÓ GIÁM ĐỐC"}, false},
		{"deputy line mangled", []string{"KT. CHỦ TỊCH", "Ề X9 %"}, []string{"KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"}, false},
		{"head of the collective lost", []string{"TM. ỦY BAN NHÂN DÂN"}, []string{"TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"}, true},
		{"head of the collective read", []string{"TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"}, []string{"TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"}, false},
		{"first letters lost", []string{"NG PHÒNG"}, []string{"TRƯỞNG PHÒNG"}, false},
		{"first word lost", []string{"TRÍCH LỤC"}, []string{"NGƯỜI KÝ TRÍCH LỤC"}, false},
		{"too short a tail", []string{"PHÒNG"}, []string{"PHÒNG"}, false},
		{"unknown title kept", []string{"TRƯỞNG BAN QUẢN LÝ"}, []string{"TRƯỞNG BAN QUẢN LÝ"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, guessed := snapSignerTitles(tt.in, testSignerTitles, heads)
			if !reflect.DeepEqual(got, tt.want) || guessed != tt.guessed {
				t.Errorf("snapSignerTitles(%q): got %q (guessed %v), want %q (guessed %v)", tt.in, got, guessed, tt.want, tt.guessed)
			}
		})
	}
}

func TestTitleBySuffix(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ng phong", "TRƯỞNG PHÒNG"}, // the shortest of TRƯỞNG / PHÓ TRƯỞNG / KT. TRƯỞNG PHÒNG
		{"cong an xa", "TRƯỞNG CÔNG AN XÃ"},
		{"phong", ""},
		{"quan ly du an", ""},
	}
	for _, tt := range tests {
		if got := titleBySuffix(tt.in, testSignerTitles); got != tt.want {
			t.Errorf("titleBySuffix(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func testWords(s string) []Word {
	var ws []Word
	x := 600
	for _, f := range strings.Fields(s) {
		ws = append(ws, Word{Text: f, Conf: 0.9, Box: image.Rect(x, 0, x+40, 20)})
		x += 50
	}
	return ws
}

func wordTexts(ws []Word) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, w.Text)
	}
	return strings.Join(parts, " ")
}

func TestTrailingName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Phạm Diệu Anh", "Phạm Diệu Anh"},
		{"_%Ñguyễn Văn An", "Ñguyễn Văn An"},
		{"`ŠNguyễn Minh Hoàng", "Nguyễn Minh Hoàng"}, // a surname glued to ink debris
		{"N ^u;Vũ Anh Cường", "Vũ Anh Cường"},
		{"`1 Minh Long", "Minh Long"},
		{"Lêfồng Phương", "Lêfồng Phương"}, // misread, but name-like: kept
		{"ký tên", ""},
	}
	for _, tt := range tests {
		if got := wordTexts(trailingName(testWords(tt.in))); got != tt.want {
			t.Errorf("trailingName(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNameTail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ŠNguyễn", "Nguyễn"},
		{"u;Vũ", "Vũ"},
		{"NỀGia", "Gia"},
		{"HấềM", ""},   // a one-letter tail is no name
		{"Nguyễn", ""}, // tails only: a whole name word is not cut
		{"abc", ""},
	}
	for _, tt := range tests {
		if got := nameTail(tt.in); got != tt.want {
			t.Errorf("nameTail(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDropSignerDebris(t *testing.T) {
	surnames := []string{"Nguyễn", "Trần", "Hoàng", "Phan", "Lê", "Văn"}
	tests := []struct{ in, want string }{
		{"À Nguyễn Quốc Kiên", "Nguyễn Quốc Kiên"},
		{"S Trần Đức Thịnh", "Trần Đức Thịnh"},
		{"Nà Nguyễn Thị Hà", "Nguyễn Thị Hà"},  // two letters, three words remain
		{"La Văn Cầu", "La Văn Cầu"},           // two letters, two would remain: a surname not in the list
		{"Lê Văn An", "Lê Văn An"},             // a surname first
		{"Ý Minh Khải", "Ý Minh Khải"},         // the next word is no surname
		{"Nguyễn An", "Nguyễn An"},             // two words are left alone
		{"Xã Phần Bảo Xuân", "Phần Bảo Xuân"},  // "Phần" folds to a surname
		{"Quách Trần Minh", "Quách Trần Minh"}, // a longer first word is kept
	}
	for _, tt := range tests {
		if got := wordTexts(dropSignerDebris(testWords(tt.in), surnames)); got != tt.want {
			t.Errorf("dropSignerDebris(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSnapSurnameFuzzy(t *testing.T) {
	surnames := []string{"Nguyễn", "Trương", "Phùng", "Đặng", "Lê"}
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"Nghyễn Thị Lan", "Nguyễn Thị Lan", true},
		{"Nguyễni Minh Hiếu", "Nguyễn Minh Hiếu", true},
		{"Nguyễn Minh Hiếu", "Nguyễn Minh Hiếu", false},
		{"Phương Anh", "Phương Anh", false}, // one edit from Phùng: too short a surname to guess
		{"Đặhg Thị Linh", "Đặhg Thị Linh", false},
		{"Nghyễn", "Nghyễn", false}, // no given name
		{"Trưởg Giang", "Trương Giang", true},
	}
	for _, tt := range tests {
		got, changed := snapSurnameFuzzy(tt.in, surnames)
		if got != tt.want || changed != tt.changed {
			t.Errorf("snapSurnameFuzzy(%q): got %q %v, want %q %v", tt.in, got, changed, tt.want, tt.changed)
		}
	}
}

func TestRightColumnLine(t *testing.T) {
	line := func(xs ...int) textLine {
		var ws []Word
		for _, x := range xs {
			ws = append(ws, Word{Text: "Ab", Box: image.Rect(x-10, 0, x+10, 20)})
		}
		return textLine{width: 1000, segs: []textSegment{{words: ws, x0: xs[0] - 10, x1: xs[len(xs)-1] + 10}}}
	}
	tests := []struct {
		name string
		l    textLine
		want bool
	}{
		{"signer name", line(620, 680, 740), true},
		{"body line", line(160, 220, 300, 380, 460, 560, 700), false},
		{"left label and right name", line(120, 620, 680), true},
		{"no geometry", textLine{segs: []textSegment{{words: []Word{{Text: "An"}}, x0: -1}}}, false},
	}
	for _, tt := range tests {
		if got := rightColumnLine(tt.l); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
