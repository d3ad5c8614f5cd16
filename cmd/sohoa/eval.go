package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sohoa/ocr"
	"sohoa/ocr/tesseract"
)

// runEval: sohoa eval --corpus DIR [--json]
// Recognises and extracts every file with a .truth.json and prints the
// accuracy table and the time per page.
func runEval(ctx context.Context, fs *flagSet, args []string, stdout, stderr io.Writer) error {
	corpus := fs.String("corpus", "", "corpus directory with <scan> and <scan>.truth.json files")
	asJSON := fs.Bool("json", false, "print the score as JSON")
	workers := fs.Int("ocr-workers", 1, "OCR child processes")
	savePages := fs.String("save-pages", "", "also write each file's recognised pages as DIR/<scan>.json (engine fixtures for ocr tests)")
	cacheDir := fs.String("ocr-cache", "", "development: reuse recognised pages kept in DIR, keyed by the scan's SHA-256 and the recogniser's settings and version (extraction runs again; times count recognised files only)")
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
	var proc fileProcessor = pool
	var cache *pageCache
	if *cacheDir != "" {
		cache = &pageCache{inner: pool, dir: *cacheDir, tag: recogniserTag(cfg)}
		proc = cache
	}
	score, elapsed, err := evalCorpusSaving(ctx, proc, ls, *corpus, *savePages, func(file string, err error) {
		log.Warn("eval: file failed", "file", file, "err", err)
	})
	if err != nil {
		return err
	}
	perPage := 0.0
	timedPages := score.Pages
	if cache != nil {
		timedPages = cache.recognisedPages
		elapsed = cache.recognising
	}
	if timedPages > 0 {
		perPage = elapsed.Seconds() / float64(timedPages)
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
	if cache != nil {
		_, err = fmt.Fprintf(stdout, "time: %.1f s recognising %d page(s) (%.2f s/page); %d file(s) from the OCR cache\n", elapsed.Seconds(), timedPages, perPage, cache.hits)
		return err
	}
	_, err = fmt.Fprintf(stdout, "time: %.1f s total, %.2f s/page\n", elapsed.Seconds(), perPage)
	return err
}

// recogniserTag names what recognised pages depend on besides the scan:
// the engine's version of its page and re-read passes and its settings.
func recogniserTag(cfg *config) string {
	h := sha256.Sum256([]byte(tesseract.RecognitionVersion + "\x00" + cfg.OCR.Lang + "\x00" + cfg.OCR.Tessdata + "\x00" + cfg.OCR.Canned))
	return hex.EncodeToString(h[:6])
}

// pageCache is a development cache of recognised pages for eval: a scan
// recognised before with the same recogniser tag is not recognised again,
// so extraction rules can be measured over a corpus in seconds. Entries
// are DIR/<scan SHA-256>-<tag>.json. Never used by the product path.
type pageCache struct {
	inner fileProcessor
	dir   string
	tag   string
	// hits counts files served from the cache; recognising and
	// recognisedPages time the files recognised.
	hits            int
	recognising     time.Duration
	recognisedPages int
}

// Process serves a file from the cache without page images (sink is not
// called), else recognises it through inner with sink.
func (c *pageCache) Process(ctx context.Context, data []byte, name string, sink ocr.PageSink) ([]ocr.Page, error) {
	sum := sha256.Sum256(data)
	path := filepath.Join(c.dir, hex.EncodeToString(sum[:])+"-"+c.tag+".json")
	if b, err := os.ReadFile(path); err == nil {
		var pages []ocr.Page
		if err := json.Unmarshal(b, &pages); err == nil {
			c.hits++
			return pages, nil
		}
	}
	start := time.Now()
	pages, err := c.inner.Process(ctx, data, name, sink)
	if err != nil {
		return nil, err
	}
	c.recognising += time.Since(start)
	c.recognisedPages += len(pages)
	b, err := json.Marshal(pages)
	if err != nil {
		return nil, fmt.Errorf("encode cached pages of %s: %w", name, err)
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("OCR cache: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return nil, fmt.Errorf("OCR cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("OCR cache: %w", err)
	}
	return pages, nil
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
