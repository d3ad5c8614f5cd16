package ocr

import "testing"

func TestNormalizeAddress(t *testing.T) {
	provinces := []string{"Hà Nội", "Hà Nam", "Hà Tĩnh", "Thanh Hóa", "Đà Nẵng", "Hồ Chí Minh", "Cần Thơ", "Nghệ An", "Hải Phòng"}
	tests := []struct {
		in, want string
		snapped  bool
	}{
		{"Số 86 ngõ 168 Trần Hưng Đạo, phường Linh Trung. thành phố Thủ Đức, thành phố Hồ Chí Minh",
			"Số 86 ngõ 168 Trần Hưng Đạo, phường Linh Trung, thành phố Thủ Đức, thành phố Hồ Chí Minh", false},
		{"Số 181 ngõ 86 Lê Thánh Tông, phường An Biên, quận Lê Chân: thành phố Hải Phòng",
			"Số 181 ngõ 86 Lê Thánh Tông, phường An Biên, quận Lê Chân, thành phố Hải Phòng", false},
		{"phường Hòa Cường Bắc, quậnHải Châu, thành phố Đà Nẵng", "phường Hòa Cường Bắc, quận Hải Châu, thành phố Đà Nẵng", false},
		{"Số 67 ngõ 30 Võ Thị Sáu,phường Hoàng Văn Thụ", "Số 67 ngõ 30 Võ Thị Sáu, phường Hoàng Văn Thụ", false},
		{"Xóm 3. xã Diễn Kỷ. huyện Diễn Châu, tỉnh Nghệ An.", "Xóm 3, xã Diễn Kỷ, huyện Diễn Châu, tỉnh Nghệ An", false},
		{"Xóm 5, xã Hòa Phước,, huyện Hòa Vang", "Xóm 5, xã Hòa Phước, huyện Hòa Vang", false},
		{"Ủy ban nhân dân phường. Lạch Tray, quận Ngô Quyền", "Ủy ban nhân dân phường Lạch Tray, quận Ngô Quyền", false},
		{"Ủy bạn nhân dân phường Mộ Lao", "Ủy ban nhân dân phường Mộ Lao", false},
		{"Số250/59 đường Trần Phú", "Số 250/59 đường Trần Phú", false},
		{"Số'15 ngõ 76 Điện Biên Phủ", "Số 15 ngõ 76 Điện Biên Phủ", false},
		{"Số 105⁄48 đường Bà Triệu", "Số 105/48 đường Bà Triệu", false},
		{"Số 7/29 dường Hoàng Diệu", "Số 7/29 đường Hoàng Diệu", false},
		{"phường 10, quận Gò Vấp, thành phố Hồ Chỉ Minh", "phường 10, quận Gò Vấp, thành phố Hồ Chí Minh", true},
		{"quận Hải Châu, thành phố Đà Nàng", "quận Hải Châu, thành phố Đà Nẵng", true},
		{"quận Sơn Trà, thành phố Đà", "quận Sơn Trà, thành phố Đà Nẵng", true},    // cut at the line end
		{"quận Hải Châu, thành phố ĐàN", "quận Hải Châu, thành phố Đà Nẵng", true}, // glued and cut
		{"huyện Hoằng Hóa, tỉnh Thanh", "huyện Hoằng Hóa, tỉnh Thanh Hóa", true},
		{"quận Ba Đình, thành phố Hà", "quận Ba Đình, thành phố Hà", false},       // Hà Nội, Hà Nam or Hà Tĩnh
		{"phường Lê Lợi, thành phố Vinh", "phường Lê Lợi, thành phố Vinh", false}, // a city, no province
		{"thành phố Thủ Đức, thành phố Hồ Chí Minh", "thành phố Thủ Đức, thành phố Hồ Chí Minh", false},
	}
	for _, tt := range tests {
		got, snapped := normalizeAddress(tt.in, provinces)
		if got != tt.want || snapped != tt.snapped {
			t.Errorf("normalizeAddress(%q):\n got  %q %v\n want %q %v", tt.in, got, snapped, tt.want, tt.snapped)
		}
	}
}

// TestNormalizeReferenceTokens: reference tokens as the layouts read them.
func TestNormalizeReferenceTokens(t *testing.T) {
	tests := []struct{ in, want string }{
		{"371UBND-XNTTHN", "371/UBND-XNTTHN"},
		{"5751XN", "5751/XN"},
		{"894/TLKS-BS-", "894/TLKS-BS"},
		{"3755⁄XN", "3755/XN"},
		{"680/UBND-XNTTHN.", "680/UBND-XNTTHN"},
		{"92G8784345", "92G8784345"}, // a business code, not a reference
		{"12X", "12X"},               // one letter is no office abbreviation
	}
	for _, tt := range tests {
		if got := normalizeReference(tt.in); got != tt.want {
			t.Errorf("normalizeReference(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSnapPhrases(t *testing.T) {
	phrases := []string{"bổ sung", "sử dụng"}
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"Bố sung hồ sơ xin việc làm.", "Bổ sung hồ sơ xin việc làm.", true},
		{"Bồ sung hồ sơ", "Bổ sung hồ sơ", true},
		{"Cá nhân sử' dụng", "Cá nhân sử dụng", true},
		{"để bố sung, hồ sơ", "để bổ sung, hồ sơ", true},
		{"Bổ sung hồ sơ", "Bổ sung hồ sơ", false},
		{"Làm thủ tục mua bán nhà đất.", "Làm thủ tục mua bán nhà đất.", false},
		{"Sung túc", "Sung túc", false},
	}
	for _, tt := range tests {
		got, changed := snapPhrases(tt.in, phrases)
		if got != tt.want || changed != tt.changed {
			t.Errorf("snapPhrases(%q): got %q %v, want %q %v", tt.in, got, changed, tt.want, tt.changed)
		}
	}
}
