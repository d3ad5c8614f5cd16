package signing

import (
	"math"
	"testing"
	"time"
)

// TestPaperSize: a scan's measured size (pixels at its resolution) gives
// the page size, snapped to a standard paper size only when close to it.
func TestPaperSize(t *testing.T) {
	pt := func(px, dpi float64) float64 { return px * 72 / dpi }
	tests := []struct {
		name       string
		w, h       float64 // measured, points
		wantName   string
		wantW, wan float64
	}{
		{"A4 at 200 dpi", pt(1654, 200), pt(2339, 200), "A4", 595.2756, 841.8898},
		{"A4 at 300 dpi", pt(2480, 300), pt(3508, 300), "A4", 595.2756, 841.8898},
		{"A4 cropped by the scanner", pt(1630, 200), pt(2300, 200), "A4", 595.2756, 841.8898},
		{"A4 landscape", pt(3508, 300), pt(2480, 300), "A4", 841.8898, 595.2756},
		{"A5", pt(1748, 300), pt(2480, 300), "A5", 419.5276, 595.2756},
		{"A4 dài (210x330 mm)", pt(2480, 300), pt(3898, 300), "A4 dài", 595.2756, 935.4331},
		{"Letter", pt(1700, 200), pt(2200, 200), "Letter", 612, 792},
		{"Legal", pt(2550, 300), pt(4200, 300), "Legal", 612, 1008},
		{"odd size stays as measured", pt(1200, 200), pt(1800, 200), "", 432, 648},
		{"half way between A4 and A4 dài stays", pt(2480, 300), pt(3700, 300), "", 595.2, 888},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := paperSize(tc.w, tc.h)
			if got.Name != tc.wantName || math.Abs(got.W-tc.wantW) > 0.01 || math.Abs(got.H-tc.wan) > 0.01 {
				t.Errorf("paperSize(%.1f, %.1f) = %q %.4f×%.4f, want %q %.4f×%.4f", tc.w, tc.h, got.Name, got.W, got.H, tc.wantName, tc.wantW, tc.wan)
			}
		})
	}
}

// TestPlace: a scan that fits is drawn at 100 % and centred; one that does
// not is shrunk to fit.
func TestPlace(t *testing.T) {
	tests := []struct {
		name             string
		w, h, aw, ah     float64
		wantS, wantX, wY float64
	}{
		{"fits exactly", 595, 842, 595, 842, 1, 0, 0},
		{"smaller: centred at 100 %", 585, 832, 595, 842, 1, 5, 5},
		{"band above: shrunk", 595, 842, 595, 742, 742.0 / 842, (595 - 595*742.0/842) / 2, 0},
	}
	for _, tc := range tests {
		got := place(tc.w, tc.h, 0, 0, tc.aw, tc.ah)
		if math.Abs(got.s-tc.wantS) > 1e-9 || math.Abs(got.tx-tc.wantX) > 1e-9 || math.Abs(got.ty-tc.wY) > 1e-9 {
			t.Errorf("%s: got %+v, want s=%v tx=%v ty=%v", tc.name, got, tc.wantS, tc.wantX, tc.wY)
		}
	}
}

// TestVietnameseTime: the stamp's time as officials write it, in
// Asia/Ho_Chi_Minh whatever the input's zone.
func TestVietnameseTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 20, 4, 59, 0, time.UTC), "03 giờ 04 phút, ngày 02/12/2026"},
		{time.Date(2025, 7, 18, 9, 41, 7, 0, time.FixedZone("ICT", 7*3600)), "09 giờ 41 phút, ngày 18/07/2025"},
		{time.Date(2025, 12, 31, 17, 0, 0, 0, time.UTC), "00 giờ 00 phút, ngày 01/01/2026"},
		{time.Date(2025, 3, 5, 23, 59, 0, 0, time.FixedZone("ICT", 7*3600)), "23 giờ 59 phút, ngày 05/03/2025"},
	}
	for _, tc := range tests {
		if got := VietnameseTime(tc.in); got != tc.want {
			t.Errorf("VietnameseTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := HashDisplay("3f9a1c07e2b4d5aa0123456789abcdef0123456789abcdef0123456789abcdef"), "3f9a1c07e2b4d5aa…"; got != want {
		t.Errorf("HashDisplay: got %q, want %q", got, want)
	}
}
