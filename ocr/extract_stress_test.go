package ocr

import (
	"strings"
	"testing"
	"time"
)

// TestExtractLargeInputIsBounded guards against super-linear blow-ups on
// hostile OCR text (long lines, many colons, many lines).
func TestExtractLargeInputIsBounded(t *testing.T) {
	ls := testLayouts(t)
	inputs := map[string]string{
		"many colons":   strings.Repeat("Họ và tên: a: b ", 400),
		"many lines":    strings.Repeat("Nơi cư trú: Số 1 đường A, phường B, quận C, thành phố\n", 400),
		"no separators": strings.Repeat("x", 20000),
		"many titles":   strings.Repeat("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nTỜ KHAI\n", 200),
	}
	for name, in := range inputs {
		start := time.Now()
		Extract([]Page{textPage(1, strings.Split(in, "\n")...)}, ls)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: Extract took %v, want < 3s", name, d)
		}
	}
}

func TestExtractHugeUpperLineIsBounded(t *testing.T) {
	ls := testLayouts(t)
	in := strings.Repeat("GIẤY CHỨNG NHẬN ", 20000)
	start := time.Now()
	Extract([]Page{textPage(1, in)}, ls)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Extract took %v, want < 3s", d)
	}
}
