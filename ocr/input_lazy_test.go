package ocr

import (
	"bytes"
	"context"
	"image"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestOpenScanLazy: the lazy opener, of bytes or of an open file, gives
// every corpus file the same pages as OpenScan (number, Data, format,
// resolution, size), without the pixels of JPEG pages, which the
// recogniser decodes one at a time.
func TestOpenScanLazy(t *testing.T) {
	dir := inputCorpusDir(t, "dev")
	files, _ := filepath.Glob(filepath.Join(dir, "scan_*"))
	lazyJPEG := 0
	for _, f := range files {
		if filepath.Ext(f) == ".json" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		eager, err := OpenScan(context.Background(), data, name, DefaultLimits())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lazy, err := OpenScanLazy(context.Background(), data, name, DefaultLimits())
		if err != nil {
			t.Fatalf("%s lazily: %v", name, err)
		}
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		fromFile, err := OpenScanFile(context.Background(), fh, name, DefaultLimits())
		if err != nil {
			t.Fatalf("%s from the file: %v", name, err)
		}
		if len(fromFile.Pages) != len(eager.Pages) || !slices.Equal(fromFile.ActiveContent, eager.ActiveContent) {
			t.Fatalf("%s: from the file %d pages (active %v), eagerly %d (%v)", name, len(fromFile.Pages), fromFile.ActiveContent,
				len(eager.Pages), eager.ActiveContent)
		}
		for i, e := range eager.Pages {
			l, err := fromFile.Page(context.Background(), i)
			if err != nil {
				t.Fatalf("%s page %d from the file: %v", name, e.Number, err)
			}
			if l.Number != e.Number || l.Format != e.Format || l.DPI != e.DPI || !bytes.Equal(l.Data, e.Data) || l.Bounds() != e.Bounds() {
				t.Errorf("%s page %d: from the file %d %s %v dpi %v, eagerly %d %s %v dpi %v (or other Data)", name, e.Number,
					l.Number, l.Format, l.DPI, l.Bounds(), e.Number, e.Format, e.DPI, e.Bounds())
			}
		}
		if len(lazy.Pages) != len(eager.Pages) || len(lazy.Degenerate) != len(eager.Degenerate) {
			t.Fatalf("%s: lazily %d pages (%d degenerate), eagerly %d (%d)", name, len(lazy.Pages), len(lazy.Degenerate), len(eager.Pages), len(eager.Degenerate))
		}
		for i, e := range eager.Pages {
			// Before it is wanted, a lazy page has the eager one's size and
			// resolution; once wanted (Page), the same page.
			if h := lazy.Pages[i]; h.Number != e.Number || h.DPI != e.DPI || h.Bounds() != e.Bounds() {
				t.Errorf("%s page %d: lazily opened %d %v dpi %v, eagerly %d %v dpi %v", name, e.Number,
					h.Number, h.DPI, h.Bounds(), e.Number, e.DPI, e.Bounds())
			}
			l, err := lazy.Page(context.Background(), i)
			if err != nil {
				t.Fatalf("%s page %d: %v", name, e.Number, err)
			}
			if l.Number != e.Number || l.Format != e.Format || l.DPI != e.DPI || !bytes.Equal(l.Data, e.Data) || l.Bounds() != e.Bounds() {
				t.Errorf("%s page %d: lazily %d %s %v dpi %v, eagerly %d %s %v dpi %v (or other Data)", name, e.Number,
					l.Number, l.Format, l.DPI, l.Bounds(), e.Number, e.Format, e.DPI, e.Bounds())
			}
			if e.Format == "jpeg" {
				if l.Image != nil {
					t.Errorf("%s page %d: a JPEG page was decoded by the lazy opener", name, e.Number)
				}
				lazyJPEG++
			}
		}
	}
	if lazyJPEG == 0 {
		t.Fatal("no JPEG page in the corpus: the lazy path was not exercised")
	}
}

// TestSettleKeepsPixelsUnderBudget: decoded pages keep their pixels up to
// lazyKeepBytes, and only their size past it.
func TestSettleKeepsPixelsUnderBudget(t *testing.T) {
	o := &inputOpener{lazy: true}
	page := func(n int) PageImage {
		return PageImage{Number: n, Image: image.NewGray(image.Rect(0, 0, 4096, 2048))} // 8 MiB
	}
	var kept int
	for n := 1; n <= 6; n++ {
		p := o.settle(page(n))
		if p.Bounds().Dx() != 4096 || IsDegenerate(p) {
			t.Fatalf("page %d: bounds %v", n, p.Bounds())
		}
		if p.Image != nil {
			kept++
		}
	}
	if kept != 4 { // 4 × 8 MiB = lazyKeepBytes
		t.Errorf("kept the pixels of %d pages, want 4", kept)
	}
	if p := (&inputOpener{}).settle(page(1)); p.Image == nil {
		t.Error("an eager opener dropped pixels")
	}
}
