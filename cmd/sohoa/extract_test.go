package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sohoa/ocr"
)

// fakeProcessor returns fixed pages per file name, or an error.
type fakeProcessor struct {
	pages map[string][]ocr.Page
	err   error
}

func (f fakeProcessor) Process(ctx context.Context, data []byte, name string, sink ocr.PageSink) ([]ocr.Page, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.pages[name], nil
}

var fakeCuTru = []ocr.Page{{Number: 1, Confidence: 0.96, Text: strings.Join([]string{
	"CÔNG AN TỈNH THANH HÓA   CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
	"CÔNG AN THỊ TRẤN BÚT SƠN   Độc lập - Tự do - Hạnh phúc",
	"Số: 5213/XN   Bút Sơn, ngày 27 tháng 6 năm 2022",
	"XÁC NHẬN THÔNG TIN VỀ CƯ TRÚ",
	"1. Họ, chữ đệm và tên: PHẠM THỊ HẰNG",
	"2. Ngày, tháng, năm sinh: 09/02/1989   3. Giới tính: Nữ",
	"4. Số định danh cá nhân: 040189377147",
	"Giấy xác nhận này có giá trị 30 ngày kể từ ngày cấp.",
}, "\n")}}

func TestExtractFile(t *testing.T) {
	ls, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	scan := filepath.Join(dir, "a.jpg")
	if err := os.WriteFile(scan, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := extractFile(context.Background(), fakeProcessor{pages: map[string][]ocr.Page{"a.jpg": fakeCuTru}}, ls, scan)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Documents) != 1 || res.Documents[0].DocType != "cu-tru" || res.Documents[0].HolderPersonalID != "040189377147" {
		t.Fatalf("got %+v, want one cu-tru document with holder 040189377147", res.Documents)
	}
	// The JSON contract keys.
	b, _ := json.Marshal(res)
	for _, key := range []string{`"file":"a.jpg"`, `"doc_type":"cu-tru"`, `"holder_personal_id"`, `"valid_until":"27/07/2022"`, `"needs_review":false`, `"review_reasons":[]`} {
		if !bytes.Contains(b, []byte(key)) {
			t.Errorf("JSON: got %s, want it to contain %s", b, key)
		}
	}

	_, err = extractFile(context.Background(), fakeProcessor{err: fmt.Errorf("decode: %w", ocr.ErrUnreadable)}, ls, scan)
	if !errors.Is(err, ocr.ErrUnreadable) || !strings.Contains(err.Error(), "a.jpg") || inputExitCode(err) != 3 {
		t.Errorf("bad input: got %v (exit %d), want ErrUnreadable naming a.jpg, exit 3", err, inputExitCode(err))
	}
	_, err = extractFile(context.Background(), fakeProcessor{}, ls, filepath.Join(dir, "missing.jpg"))
	if err == nil || !strings.Contains(err.Error(), "missing.jpg") || inputExitCode(err) != 3 {
		t.Errorf("missing file: got %v, want an error naming missing.jpg, exit 3", err)
	}
	if msg := oneLine(errors.New("a\nb  c")).Error(); msg != "a b c" {
		t.Errorf("oneLine: got %q, want %q", msg, "a b c")
	}
}

func TestEvalCorpus(t *testing.T) {
	ls, err := ocr.DefaultLayouts()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	truth := `{"schema_version": 1, "file": "a.jpg", "documents": [{"doc_type": "cu-tru", "pages": [1],
	  "fields": {"full_name": "PHẠM THỊ HẰNG", "sex": "Nữ"}, "holder_personal_id": "040189377147", "valid_until": "27/07/2022"}],
	  "pages": [{"page": 1, "full_text": "x"}]}`
	for name, data := range map[string]string{"a.jpg": "x", "a.truth.json": truth, "b.jpg": "y", "b.truth.json": strings.ReplaceAll(truth, "a.jpg", "b.jpg")} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var failed []string
	p := fakeProcessor{pages: map[string][]ocr.Page{"a.jpg": fakeCuTru}}
	score, _, err := evalCorpus(context.Background(), p, ls, dir, func(file string, err error) { failed = append(failed, file) })
	if err != nil {
		t.Fatal(err)
	}
	// b.jpg has no pages: it scores as a miss, not an error.
	if score.Files != 2 || score.TypeRight != 1 || score.FieldsExact != 2 || score.HolderExact != 1 || len(failed) != 0 {
		t.Errorf("got files %d type %d fields %d holder %d failed %v, want 2 1 2 1 []", score.Files, score.TypeRight, score.FieldsExact, score.HolderExact, failed)
	}
	if _, _, err := evalCorpus(context.Background(), p, ls, t.TempDir(), nil); err == nil {
		t.Error("empty corpus: got nil error, want one")
	}
}

// countingProcessor counts the files it recognises.
type countingProcessor struct {
	fakeProcessor
	calls *int
}

func (c countingProcessor) Process(ctx context.Context, data []byte, name string, sink ocr.PageSink) ([]ocr.Page, error) {
	*c.calls++
	return c.fakeProcessor.Process(ctx, data, name, sink)
}

// TestPageCache: eval's development cache recognises a scan once per
// recogniser tag and gives the same pages back.
func TestPageCache(t *testing.T) {
	calls := 0
	inner := countingProcessor{fakeProcessor{pages: map[string][]ocr.Page{"a.jpg": fakeCuTru}}, &calls}
	dir := t.TempDir()
	c := &pageCache{inner: inner, dir: dir, tag: "t1"}
	first, err := c.Process(context.Background(), []byte("scan"), "a.jpg", discardImages)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Process(context.Background(), []byte("scan"), "a.jpg", discardImages)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || c.hits != 1 || c.recognisedPages != 1 || len(again) != 1 || again[0].Text != first[0].Text {
		t.Errorf("got calls %d hits %d pages %d, want 1 1 1 and the same page back", calls, c.hits, c.recognisedPages)
	}
	other := &pageCache{inner: inner, dir: dir, tag: "t2"}
	if _, err := other.Process(context.Background(), []byte("scan"), "a.jpg", discardImages); err != nil || calls != 2 {
		t.Errorf("another recogniser tag: got calls %d (%v), want the scan recognised again", calls, err)
	}
	if _, err := c.Process(context.Background(), []byte("another scan"), "a.jpg", discardImages); err != nil || calls != 3 {
		t.Errorf("other bytes: got calls %d (%v), want the scan recognised again", calls, err)
	}
}
