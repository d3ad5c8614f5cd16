package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sohoa/ocr"
)

// runEval: sohoa eval --corpus DIR [--json]
// Recognises and extracts every file with a .truth.json and prints the
// accuracy table and the time per page.
func runEval(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	corpus := fs.String("corpus", "", "corpus directory with <scan> and <scan>.truth.json files")
	asJSON := fs.Bool("json", false, "print the score as JSON")
	workers := fs.Int("ocr-workers", 1, "OCR child processes")
	savePages := fs.String("save-pages", "", "also write each file's recognised pages as DIR/<scan>.json (engine fixtures for ocr tests)")
	cfg, err := fs.parse(args)
	if err != nil {
		return err
	}
	if *corpus == "" {
		return fs.usageErr("--corpus is required")
	}
	ls, err := ocr.DefaultLayouts()
	if err != nil {
		return fmt.Errorf("load layouts: %w", err)
	}
	log := cfg.logger(stderr)
	pool, err := newOCRPool(cfg, *workers, log, io.Discard, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	score, elapsed, err := evalCorpusSaving(ctx, pool, ls, *corpus, *savePages, func(file string, err error) {
		log.Warn("eval: file failed", "file", file, "err", err)
	})
	if err != nil {
		return err
	}
	perPage := 0.0
	if score.Pages > 0 {
		perPage = elapsed.Seconds() / float64(score.Pages)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		out := struct {
			*ocr.Score
			Seconds        float64 `json:"seconds"`
			SecondsPerPage float64 `json:"seconds_per_page"`
		}{score, elapsed.Seconds(), perPage}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write eval JSON: %w", err)
		}
		return nil
	}
	if err := score.WriteTable(stdout); err != nil {
		return fmt.Errorf("write eval table: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "time: %.1f s total, %.2f s/page\n", elapsed.Seconds(), perPage)
	return err
}

// evalCorpus scores every scan that has a truth file. A scan that fails to
// process counts with no documents (so it scores as misses) and is
// reported through onErr.
func evalCorpus(ctx context.Context, p fileProcessor, ls *ocr.Layouts, dir string, onErr func(string, error)) (*ocr.Score, time.Duration, error) {
	return evalCorpusSaving(ctx, p, ls, dir, "", onErr)
}

// evalCorpusSaving is evalCorpus that also writes each file's pages under
// savePages when it is not "".
func evalCorpusSaving(ctx context.Context, p fileProcessor, ls *ocr.Layouts, dir, savePages string, onErr func(string, error)) (*ocr.Score, time.Duration, error) {
	truths, err := filepath.Glob(filepath.Join(dir, "*.truth.json"))
	if err != nil {
		return nil, 0, fmt.Errorf("list truth files in %s: %w", dir, err)
	}
	if len(truths) == 0 {
		return nil, 0, fmt.Errorf("eval %s: no .truth.json files", dir)
	}
	sort.Strings(truths)
	score := ocr.NewScore()
	var elapsed time.Duration
	for _, tp := range truths {
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("eval %s: %w", dir, err)
		}
		data, err := os.ReadFile(tp)
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", tp, err)
		}
		t, err := ocr.ParseTruth(data)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", tp, err)
		}
		scan := filepath.Join(dir, t.File)
		if t.File == "" {
			scan = strings.TrimSuffix(tp, ".truth.json")
		}
		start := time.Now()
		res, err := extractFile(ctx, p, ls, scan)
		elapsed += time.Since(start)
		if err != nil {
			onErr(scan, err)
			res = ocr.Result{File: t.File}
		}
		score.Add(res, t)
		if savePages != "" && err == nil {
			if err := writePages(savePages, scan, res.Pages); err != nil {
				return nil, 0, err
			}
		}
	}
	return score, elapsed, nil
}

func sortStrings(s []string) { sort.Strings(s) }

// writePages writes a file's recognised pages as DIR/<scan base>.json.
func writePages(dir, scan string, pages []ocr.Page) error {
	data, err := json.Marshal(pages)
	if err != nil {
		return fmt.Errorf("encode pages of %s: %w", scan, err)
	}
	base := strings.TrimSuffix(filepath.Base(scan), filepath.Ext(scan))
	if err := os.WriteFile(filepath.Join(dir, base+".json"), data, 0o644); err != nil {
		return fmt.Errorf("save pages of %s: %w", scan, err)
	}
	return nil
}
