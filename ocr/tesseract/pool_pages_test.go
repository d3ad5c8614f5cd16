package tesseract

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"sohoa/internal/testenv"
	"sohoa/ocr"
)

// TestPoolPagesInOrderAcrossChildren: the pages of one file go to both
// children (page 1 is held until page 2 is done, so another child must
// take page 2), each page image reaches the sink once, and the pages come
// back in page order.
func TestPoolPagesInOrderAcrossChildren(t *testing.T) {
	p := testPool(t, "echo", PoolOptions{Workers: 2})
	data := []byte("abcdefghijkl")
	var c collect
	pages, err := p.Process(context.Background(), data, "barrier:"+t.TempDir(), c.sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != len(data) {
		t.Fatalf("got %d pages, want %d", len(pages), len(data))
	}
	for i, pg := range pages {
		if pg.Number != i+1 {
			t.Errorf("page %d is numbered %d", i+1, pg.Number)
		}
	}
	if pages[0].Text == pages[1].Text {
		t.Errorf("pages 1 and 2 both by child %s, want two children", pages[0].Text)
	}
	seen := map[int]int{}
	for _, img := range c.imgs {
		seen[img.Number]++
		if img.Number < 1 || img.Number > len(data) || !bytes.Equal(img.Data, data[img.Number-1:img.Number]) {
			t.Errorf("image %d: data %q", img.Number, img.Data)
		}
	}
	for n := 1; n <= len(data); n++ {
		if seen[n] != 1 {
			t.Errorf("page %d's image reached the sink %d times, want once", n, seen[n])
		}
	}
}

// TestPoolPageFailures: a crash or a timeout on one page fails the file,
// naming the file and the page, with the pool's error kinds; a child that
// died once on a page is replaced and the file goes on from that page,
// every page delivered once.
func TestPoolPageFailures(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		opts    PoolOptions
		want    error
		wantMsg string
	}{
		{"crash on page 3", "segv-page3", PoolOptions{Workers: 2, CrashRetries: 1}, ErrChildCrashed, "segv-page3 page 3"},
		{"timeout on page 2", "sleep-page2", PoolOptions{Workers: 2, PageTimeout: 500 * time.Millisecond}, ErrTimeout, "sleep-page2 page 2"},
		{"crash once, retried", "segv-once-page3:" + t.TempDir(), PoolOptions{Workers: 2, CrashRetries: 1}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Stderr = &testenv.Buffer{}
			p := testPool(t, "echo", tt.opts)
			var c collect
			pages, err := p.Process(context.Background(), []byte("abcde"), tt.file, c.sink)
			if tt.want == nil {
				if err != nil || len(pages) != 5 || len(c.imgs) != 5 {
					t.Fatalf("got %d pages, %d images, err %v; want 5 and 5 after the retry", len(pages), len(c.imgs), err)
				}
				seen := map[int]bool{}
				for _, img := range c.imgs {
					if seen[img.Number] {
						t.Errorf("page %d delivered twice", img.Number)
					}
					seen[img.Number] = true
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got %v, want %v naming %q", err, tt.want, tt.wantMsg)
			}
			if errors.Is(tt.want, ErrChildCrashed) && !errors.Is(err, ocr.ErrUnreadable) {
				t.Errorf("got %v, want also ocr.ErrUnreadable", err)
			}
			// The pool goes on with the next file.
			if pages, err := p.Process(context.Background(), []byte("xy"), "next", c.sink); err != nil || len(pages) != 2 {
				t.Fatalf("next file: got %d pages, err %v", len(pages), err)
			}
		})
	}
}

func TestFileBudget(t *testing.T) {
	opts := PoolOptions{FileTimeout: 5 * time.Minute, PageBudget: 30 * time.Second}
	tests := []struct {
		pages int
		want  time.Duration
	}{
		{0, 5 * time.Minute},
		{1, 5 * time.Minute},
		{2, 5*time.Minute + 30*time.Second},
		{200, 5*time.Minute + 199*30*time.Second},
	}
	for _, tt := range tests {
		if got := fileBudget(opts, tt.pages); got != tt.want {
			t.Errorf("fileBudget(%d pages) = %v, want %v", tt.pages, got, tt.want)
		}
	}
}

// TestPoolActiveContentOnEveryPage: a file-level finding (PDF active
// content, found while opening) reaches every page, also those another
// child recognised after opening the file itself.
func TestPoolActiveContentOnEveryPage(t *testing.T) {
	if testing.Short() {
		t.Skip("real OCR")
	}
	requireTesseract(t)
	dir := corpusDir(t)
	js, err := os.ReadFile(filepath.Join(dir, "..", "bad", "javascript.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	scan, err := os.ReadFile(filepath.Join(dir, "scan_0029.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	var merged bytes.Buffer
	if err := api.MergeRaw([]io.ReadSeeker{bytes.NewReader(js), bytes.NewReader(scan)}, &merged, false, nil); err != nil {
		t.Fatal(err)
	}
	p := testPool(t, "ocr", PoolOptions{Workers: 2})
	pages, imgs, err := process(context.Background(), p, merged.Bytes(), "js_and_scan.pdf")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 3 || len(imgs) != 3 {
		t.Fatalf("got %d pages, %d images; want 3", len(pages), len(imgs))
	}
	for _, pg := range pages {
		if !hasFlag(pg, FlagActiveContent) {
			t.Errorf("page %d: flags %v, want %s", pg.Number, pg.Flags, FlagActiveContent)
		}
	}
}
