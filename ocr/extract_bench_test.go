package ocr

import "testing"

func BenchmarkExtract(b *testing.B) {
	ls := testLayouts(b)
	pages := loadFixture(b, "scan_0011")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Extract(pages, ls)
	}
}
