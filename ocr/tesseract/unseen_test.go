package tesseract

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sohoa/ocr"
)

// TestUnseenDocumentsAreUnknown runs real third-party scans (English and
// French pages from public OCR test suites, none of them a Vietnamese
// administrative document) through the engine and extraction: every
// document must come out as "unknown" and needing review, never as one of
// the known types, and an upside-down page must be read upright.
func TestUnseenDocumentsAreUnknown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs OCR")
	}
	requireTesseract(t)
	dir := filepath.Join(filepath.Dir(corpusDir(t)), "realscans")
	layouts, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	eng := testEngine(t)
	tests := []struct {
		file     string
		rotation int
	}{
		{"tesseract-test/phototest.tif", 0},
		{"tesseract-test/phototest-rotated-180.png", 180},
		{"tesseract-test/8087_054.3B.tif", 0},
		{"ocrmypdf/francais.pdf", 0},
		{"ocrmypdf/c02-22.pdf", 0},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			imgs, err := ocr.Open(context.Background(), data, tt.file, ocr.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			var pages []ocr.Page
			for _, img := range imgs {
				p, err := eng.Recognize(context.Background(), img)
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, p)
			}
			if pages[0].Rotation != tt.rotation {
				t.Errorf("rotation = %d, want %d", pages[0].Rotation, tt.rotation)
			}
			for _, d := range ocr.Extract(pages, layouts) {
				if d.DocType != ocr.DocTypeUnknown || !d.NeedsReview {
					t.Errorf("document classified %q (needs_review %v), want unknown and review", d.DocType, d.NeedsReview)
				}
			}
		})
	}
}
