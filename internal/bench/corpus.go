package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"sohoa/ocr"
)

// scanFile is one scan of a corpus folder.
type scanFile struct {
	Path  string
	Data  []byte
	Pages int
}

var scanExts = []string{".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf"}

// loadCorpus reads the scans (JPEG, PNG, TIFF, PDF) of dirs, in name order,
// and counts their pages. A file the opener refuses is left out (a corpus
// of bad inputs measures nothing here).
func loadCorpus(ctx context.Context, dirs []string) ([]scanFile, error) {
	var out []scanFile
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("corpus %s: %w", dir, err)
		}
		for _, e := range ents {
			if e.IsDir() || !slices.Contains(scanExts, strings.ToLower(filepath.Ext(e.Name()))) {
				continue
			}
			p := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			pages, err := ocr.Open(ctx, data, e.Name(), ocr.DefaultLimits())
			if err != nil {
				continue
			}
			out = append(out, scanFile{Path: p, Data: data, Pages: len(pages)})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("corpus %v: no scan files", dirs)
	}
	return out, nil
}

// writePages writes every page of files into dir as the image the pipeline
// recognises (JPEG passed through, otherwise PNG, with its resolution), for
// the command-line tools, and returns their paths.
func writePages(ctx context.Context, files []scanFile, dir string) ([]string, error) {
	var out []string
	for i, f := range files {
		pages, err := ocr.Open(ctx, f.Data, filepath.Base(f.Path), ocr.DefaultLimits())
		if err != nil {
			return nil, err
		}
		for _, p := range pages {
			ext, data := ".png", p.Data
			if p.Format == "jpeg" {
				ext = ".jpg"
			} else {
				data = withPNGDPI(data, p.DPI)
			}
			name := filepath.Join(dir, fmt.Sprintf("f%03d-p%03d%s", i, p.Number, ext))
			if err := os.WriteFile(name, data, 0o600); err != nil {
				return nil, err
			}
			out = append(out, name)
		}
	}
	return out, nil
}

// withPNGDPI adds a pHYs chunk stating dpi to a PNG that has none, so
// Tesseract does not assume 70 dpi.
func withPNGDPI(png []byte, dpi float64) []byte {
	const sig = 8
	if dpi <= 0 || len(png) < sig+25 || bytes.Contains(png, []byte("pHYs")) {
		return png
	}
	ihdrEnd := sig + 8 + int(binary.BigEndian.Uint32(png[sig:])) + 4
	if ihdrEnd > len(png) {
		return png
	}
	ppm := uint32(math.Round(dpi / 0.0254))
	chunk := make([]byte, 4+4+9+4)
	binary.BigEndian.PutUint32(chunk, 9)
	copy(chunk[4:], "pHYs")
	binary.BigEndian.PutUint32(chunk[8:], ppm)
	binary.BigEndian.PutUint32(chunk[12:], ppm)
	chunk[16] = 1 // metre
	binary.BigEndian.PutUint32(chunk[17:], crc32.ChecksumIEEE(chunk[4:17]))
	out := make([]byte, 0, len(png)+len(chunk))
	out = append(out, png[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, png[ihdrEnd:]...)
}
