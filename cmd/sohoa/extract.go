package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sohoa/ocr"
)

// fileProcessor recognises one scan file (ocr/tesseract.Pool), page by
// page: each page image goes to sink (ocr.PageSink).
type fileProcessor interface {
	Process(ctx context.Context, data []byte, name string, sink ocr.PageSink) ([]ocr.Page, error)
}

// discardImages is a page sink for callers that need no page images.
func discardImages(context.Context, ocr.PageImage) error { return nil }

// pageImages is a page sink that keeps the images, for callers that need
// them all (one file's, in page order: sorted).
type pageImages struct{ imgs []ocr.PageImage }

func (c *pageImages) sink(_ context.Context, img ocr.PageImage) error {
	c.imgs = append(c.imgs, img)
	return nil
}

func (c *pageImages) sorted() []ocr.PageImage {
	slices.SortFunc(c.imgs, func(a, b ocr.PageImage) int { return a.Number - b.Number })
	return c.imgs
}

// runExtract: sohoa extract [--json] [--words] FILE
// OCRs one scan file and prints its documents and fields.
func runExtract(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	asJSON := fs.Bool("json", false, "print the ocr.Result as one JSON object")
	words := fs.Bool("words", false, "include recognised words in the JSON")
	workers := fs.Int("ocr-workers", 1, "OCR child processes")
	verbose := fs.Bool("v", false, "log OCR diagnostics to stderr (otherwise stderr carries only the error line)")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fs.usageErr("want exactly one FILE")
	}
	path := fs.Arg(0)
	ls, err := ocr.DefaultLayouts()
	if err != nil {
		return fmt.Errorf("load layouts: %w", err)
	}
	log, childErr := slog.New(slog.DiscardHandler), io.Discard
	if *verbose {
		log, childErr = cfg.logger(stderr), stderr
	}
	pool, err := newOCRPool(cfg, *workers, log, childErr, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	res, err := extractFile(ctx, pool, ls, path)
	if err != nil {
		return &exitError{code: inputExitCode(err), err: oneLine(err)}
	}
	if !*words {
		for i := range res.Pages {
			res.Pages[i].Words = nil
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write result of %s: %w", path, err)
		}
		return nil
	}
	return writeResultText(stdout, res)
}

// extractFile reads, recognises and extracts one file. Errors name the file.
func extractFile(ctx context.Context, p fileProcessor, ls *ocr.Layouts, path string) (ocr.Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ocr.Result{}, fmt.Errorf("read scan: %w", err) // *PathError names the file
	}
	base := filepath.Base(path)
	pages, err := p.Process(ctx, data, base, discardImages)
	if err != nil {
		if strings.Contains(err.Error(), base) {
			return ocr.Result{}, err // the engine's error already names the file
		}
		return ocr.Result{}, fmt.Errorf("recognise %s: %w", base, err)
	}
	return ocr.Result{File: base, Pages: pages, Documents: ocr.Extract(pages, ls)}, nil
}

// inputExitCode maps input errors to exit codes: 3 for a bad input file,
// 1 otherwise.
func inputExitCode(err error) int {
	for _, s := range []error{ocr.ErrUnreadable, ocr.ErrTooLarge, ocr.ErrEmpty, ocr.ErrEncrypted, ocr.ErrUnsupported, os.ErrNotExist} {
		if errors.Is(err, s) {
			return 3
		}
	}
	return 1
}

// oneLine flattens an error message to a single line, keeping the chain.
func oneLine(err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	return &flatError{msg: msg, err: err}
}

type flatError struct {
	msg string
	err error
}

func (e *flatError) Error() string { return e.msg }
func (e *flatError) Unwrap() error { return e.err }

// writeResultText prints a short human-readable summary.
func writeResultText(w io.Writer, res ocr.Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d page(s)\n", res.File, len(res.Pages))
	for _, d := range res.Documents {
		status := "auto-accepted"
		if d.NeedsReview {
			status = "needs review: " + strings.Join(d.ReviewReasons, ", ")
		}
		fmt.Fprintf(&b, "- %s pages %v: %s\n", d.DocType, d.Pages, status)
		keys := make([]string, 0, len(d.Fields))
		for k := range d.Fields {
			keys = append(keys, k)
		}
		sortStrings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "    %-24s %.2f  %s\n", k, d.Fields[k].Confidence, d.Fields[k].Value)
		}
		if d.ValidUntil != nil {
			fmt.Fprintf(&b, "    %-24s       %s\n", "valid_until", *d.ValidUntil)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
