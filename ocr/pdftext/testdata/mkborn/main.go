// Command mkborn makes a born-digital corpus from a scan corpus: for every
// <scan>.truth.json it writes <scan>.born.pdf, the truth's page texts drawn
// with a real TrueType font and its Unicode map (pdftexttest.BornDigital),
// and <scan>.born.truth.json, the same truth naming that file. `sohoa eval
// --corpus OUT` then scores the born-digital path against the same truth
// as the scans. Usage, from the module root (make eval-born-digital):
//
//	go run ./ocr/pdftext/testdata/mkborn -corpus ../shared/corpus/dev -out .local/born-digital
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sohoa/ocr"
	"sohoa/ocr/pdftext/pdftexttest"
)

func main() {
	corpus := flag.String("corpus", "../shared/corpus/dev", "scan corpus with .truth.json files")
	out := flag.String("out", ".local/born-digital", "output folder")
	fontPath := flag.String("font", pdftexttest.DefaultFont, "TrueType font")
	flag.Parse()
	if err := run(*corpus, *out, *fontPath); err != nil {
		fmt.Fprintln(os.Stderr, "mkborn:", err)
		os.Exit(1)
	}
}

func run(corpus, out, fontPath string) error {
	f, err := pdftexttest.LoadFont(fontPath)
	if err != nil {
		return err
	}
	truths, err := filepath.Glob(filepath.Join(corpus, "*.truth.json"))
	if err != nil || len(truths) == 0 {
		return fmt.Errorf("no truth files in %s (%v)", corpus, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, tp := range truths {
		data, err := os.ReadFile(tp)
		if err != nil {
			return err
		}
		t, err := ocr.ParseTruth(data)
		if err != nil {
			return fmt.Errorf("%s: %w", tp, err)
		}
		pdf, err := pdftexttest.BornDigital(f, t, pdftexttest.Options{})
		if err != nil {
			return fmt.Errorf("%s: %w", tp, err)
		}
		base := strings.TrimSuffix(filepath.Base(tp), ".truth.json")
		base = strings.TrimSuffix(base, filepath.Ext(base)) + ".born"
		// Keep every field of the truth; only the file and its format change.
		var raw map[string]any
		if err := json.Unmarshal(data, &raw); err != nil {
			return err
		}
		raw["file"], raw["format"] = base+".pdf", "pdf"
		tj, err := json.MarshalIndent(raw, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, base+".pdf"), pdf, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, base+".truth.json"), tj, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("mkborn: %d born-digital PDFs in %s\n", len(truths), out)
	return nil
}
