// Command mkfixtures makes OCR page fixtures (ocr/testdata/pages/<scan>.json,
// a JSON []ocr.Page) from a corpus with the tesseract CLI, so that extraction
// tests run without tesseract. Usage, from the module root:
//
//	go run ./ocr/testdata/mkfixtures -corpus ../shared/corpus/dev -out ocr/testdata/pages
//
// Upside-down pages are turned upright using the truth's orientation_deg
// (the real engine detects orientation itself; fixtures only model its output).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	"image/png"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	_ "golang.org/x/image/tiff"

	"sohoa/ocr"
)

type truthPage struct {
	Page     int     `json:"page"`
	DPI      float64 `json:"dpi"`
	Rotation struct {
		Orientation int `json:"orientation_deg"`
	} `json:"rotation"`
}

type truthFile struct {
	File   string      `json:"file"`
	Format string      `json:"format"`
	Pages  []truthPage `json:"pages"`
}

func main() {
	corpus := flag.String("corpus", "../shared/corpus/dev", "corpus directory (run from the repository root)")
	out := flag.String("out", "ocr/testdata/pages", "output directory")
	only := flag.String("only", "", "only this scan basename")
	flag.Parse()
	if err := run(context.Background(), *corpus, *out, *only); err != nil {
		slog.Error("mkfixtures", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, corpus, out, only string) error {
	truths, err := filepath.Glob(filepath.Join(corpus, "*.truth.json"))
	if err != nil {
		return err
	}
	sort.Strings(truths)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, tp := range truths {
		b, err := os.ReadFile(tp)
		if err != nil {
			return err
		}
		var t truthFile
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("parse %s: %w", tp, err)
		}
		base := strings.TrimSuffix(t.File, filepath.Ext(t.File))
		if only != "" && base != only {
			continue
		}
		pages, err := recognise(ctx, filepath.Join(corpus, t.File), t)
		if err != nil {
			return fmt.Errorf("recognise %s: %w", t.File, err)
		}
		js, err := json.Marshal(pages)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, base+".json"), append(js, '\n'), 0o644); err != nil {
			return err
		}
		slog.Info("fixture", "file", t.File, "pages", len(pages))
	}
	return nil
}

func recognise(ctx context.Context, path string, t truthFile) ([]ocr.Page, error) {
	tmp, err := os.MkdirTemp("", "mkfx")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var imgs []string
	switch t.Format {
	case "pdf":
		if err := exec.CommandContext(ctx, "pdfimages", "-png", path, filepath.Join(tmp, "p")).Run(); err != nil {
			return nil, fmt.Errorf("pdfimages: %w", err)
		}
		imgs, _ = filepath.Glob(filepath.Join(tmp, "p-*.png"))
		sort.Strings(imgs)
	case "tiff":
		if len(t.Pages) > 1 {
			// Multi-page TIFF: tesseract reads every page itself.
			return tesseractPages(ctx, path, t)
		}
		imgs = []string{path}
	default:
		imgs = []string{path}
	}
	var pages []ocr.Page
	for i, img := range imgs {
		if i < len(t.Pages) && t.Pages[i].Rotation.Orientation == 180 {
			rot, err := rotate180(img, filepath.Join(tmp, fmt.Sprintf("r%d.png", i)))
			if err != nil {
				return nil, err
			}
			img = rot
		}
		ps, err := tesseractPages(ctx, img, t)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			p.Number = i + 1
			if i < len(t.Pages) {
				p.Rotation = t.Pages[i].Rotation.Orientation
				p.DPI = t.Pages[i].DPI
			}
			pages = append(pages, p)
		}
	}
	return pages, nil
}

func rotate180(in, out string) (string, error) {
	f, err := os.Open(in)
	if err != nil {
		return "", err
	}
	defer f.Close()
	src, _, err := image.Decode(f)
	if err != nil {
		return "", fmt.Errorf("decode %s: %w", in, err)
	}
	b := src.Bounds()
	dst := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dst.Set(b.Max.X-1-(x-b.Min.X), b.Max.Y-1-(y-b.Min.Y), src.At(x, y))
		}
	}
	w, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer w.Close()
	return out, png.Encode(w, dst)
}

func tesseractPages(ctx context.Context, img string, t truthFile) ([]ocr.Page, error) {
	cmd := exec.CommandContext(ctx, "tesseract", img, "-", "-l", "vie", "tsv")
	cmd.Env = append(os.Environ(), "OMP_THREAD_LIMIT=1")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tesseract %s: %w", img, err)
	}
	return parseTSV(stdout.Bytes(), t)
}

type lineKey struct{ block, par, line int }

func parseTSV(data []byte, t truthFile) ([]ocr.Page, error) {
	byPage := map[int]*ocr.Page{}
	lineIdx := map[int]map[lineKey]int{}
	var order []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 12 || f[0] != "5" {
			continue
		}
		n := make([]int, 10)
		for i := 0; i < 10; i++ {
			n[i], _ = strconv.Atoi(f[i])
		}
		conf, _ := strconv.ParseFloat(f[10], 64)
		text := strings.TrimSpace(f[11])
		if text == "" {
			continue
		}
		pn := n[1]
		p, ok := byPage[pn]
		if !ok {
			p = &ocr.Page{Number: pn}
			byPage[pn] = p
			lineIdx[pn] = map[lineKey]int{}
			order = append(order, pn)
		}
		k := lineKey{n[2], n[3], n[4]}
		li, ok := lineIdx[pn][k]
		if !ok {
			li = len(lineIdx[pn])
			lineIdx[pn][k] = li
		}
		p.Words = append(p.Words, ocr.Word{
			Text:  text,
			Conf:  math.Round(conf*10) / 1000,
			Box:   image.Rect(n[6], n[7], n[6]+n[8], n[7]+n[9]),
			Block: n[2],
			Line:  li,
		})
	}
	var pages []ocr.Page
	for _, pn := range order {
		p := byPage[pn]
		var lines []string
		var sum float64
		cur := -1
		var sb strings.Builder
		for _, w := range p.Words {
			sum += w.Conf
			if w.Line != cur {
				if cur >= 0 {
					lines = append(lines, sb.String())
					sb.Reset()
				}
				cur = w.Line
			} else {
				sb.WriteByte(' ')
			}
			sb.WriteString(w.Text)
		}
		if cur >= 0 {
			lines = append(lines, sb.String())
		}
		p.Text = strings.Join(lines, "\n")
		if len(p.Words) > 0 {
			p.Confidence = math.Round(sum/float64(len(p.Words))*1000) / 1000
		}
		if pn-1 < len(t.Pages) {
			p.DPI = t.Pages[pn-1].DPI
			p.Rotation = t.Pages[pn-1].Rotation.Orientation
		}
		pages = append(pages, *p)
	}
	return pages, nil
}
