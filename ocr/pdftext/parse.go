package pdftext

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrMalformed: a tool's output could not be parsed.
var ErrMalformed = errors.New("malformed tool output")

// LayerWord is one word of a PDF's text layer. Box is in points from the
// page's top-left corner (pdftotext's frame: the page as displayed).
type LayerWord struct {
	Text                   string
	XMin, YMin, XMax, YMax float64
	Block, Line            int // 0-based, in the tool's reading order over the page
}

// LayerPage is the text layer of one page.
type LayerPage struct {
	Number        int // 1-based
	Width, Height float64
	Words         []LayerWord
}

// parseBBox reads `pdftotext -bbox-layout` XHTML: pages, blocks, lines and
// words with their boxes. maxWords bounds the words of one page (0: none);
// a page over it is cut there and reported in truncated.
func parseBBox(r io.Reader, maxWords int) (pages []LayerPage, truncated []int, err error) {
	dec := xml.NewDecoder(r)
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	var (
		cur         *LayerPage
		block, line = -1, -1
		inWord      bool
		word        LayerWord
		text        strings.Builder
	)
	attr := func(se xml.StartElement, name string) (float64, error) {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				f, err := strconv.ParseFloat(a.Value, 64)
				if err != nil || f != f || f > 1e7 || f < -1e7 {
					return 0, fmt.Errorf("attribute %s=%q: %w", name, a.Value, ErrMalformed)
				}
				return f, nil
			}
		}
		return 0, fmt.Errorf("<%s> without %s: %w", se.Name.Local, name, ErrMalformed)
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("bbox XHTML: %v: %w", err, ErrMalformed)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "page":
				w, err1 := attr(t, "width")
				h, err2 := attr(t, "height")
				if err := errors.Join(err1, err2); err != nil {
					return nil, nil, err
				}
				pages = append(pages, LayerPage{Number: len(pages) + 1, Width: w, Height: h})
				cur, block, line = &pages[len(pages)-1], -1, -1
			case "block":
				block++
			case "line":
				line++
			case "word":
				if cur == nil {
					return nil, nil, fmt.Errorf("word outside a page: %w", ErrMalformed)
				}
				var errs [4]error
				word = LayerWord{Block: max(block, 0), Line: max(line, 0)}
				word.XMin, errs[0] = attr(t, "xMin")
				word.YMin, errs[1] = attr(t, "yMin")
				word.XMax, errs[2] = attr(t, "xMax")
				word.YMax, errs[3] = attr(t, "yMax")
				if err := errors.Join(errs[:]...); err != nil {
					return nil, nil, err
				}
				inWord = true
				text.Reset()
			}
		case xml.CharData:
			if inWord && text.Len() < 1024 {
				text.Write(t)
			}
		case xml.EndElement:
			if t.Name.Local == "word" && inWord {
				inWord = false
				word.Text = strings.TrimSpace(text.String())
				if word.Text == "" {
					continue
				}
				if maxWords > 0 && len(cur.Words) >= maxWords {
					if n := len(truncated); n == 0 || truncated[n-1] != cur.Number {
						truncated = append(truncated, cur.Number)
					}
					continue
				}
				cur.Words = append(cur.Words, word)
			}
		}
	}
	return pages, truncated, nil
}

// ImageInfo is one row of `pdfimages -list`.
type ImageInfo struct {
	Page          int
	Type          string // image, mask, smask, stencil
	Width, Height int    // pixels
	XPPI, YPPI    float64
}

// parseImages reads `pdfimages -list` output.
func parseImages(out []byte) ([]ImageInfo, error) {
	var imgs []ImageInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	header := false
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			continue
		case f[0] == "page":
			header = true
			continue
		case strings.HasPrefix(f[0], "---"):
			continue
		case !header:
			return nil, fmt.Errorf("pdfimages: line before the header: %w", ErrMalformed)
		}
		if len(f) < 14 {
			return nil, fmt.Errorf("pdfimages: short row %q: %w", line, ErrMalformed)
		}
		page, err1 := strconv.Atoi(f[0])
		w, err2 := strconv.Atoi(f[3])
		h, err3 := strconv.Atoi(f[4])
		if err := errors.Join(err1, err2, err3); err != nil || page < 1 || w < 0 || h < 0 {
			return nil, fmt.Errorf("pdfimages: row %q: %w", line, ErrMalformed)
		}
		// x-ppi and y-ppi are "inf" or garbage for degenerate placements;
		// 0 means unknown.
		xp, _ := strconv.ParseFloat(f[12], 64)
		yp, _ := strconv.ParseFloat(f[13], 64)
		if xp != xp || xp < 0 || xp > 1e6 {
			xp = 0
		}
		if yp != yp || yp < 0 || yp > 1e6 {
			yp = 0
		}
		imgs = append(imgs, ImageInfo{Page: page, Type: f[2], Width: w, Height: h, XPPI: xp, YPPI: yp})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("pdfimages: %v: %w", err, ErrMalformed)
	}
	return imgs, nil
}

// FontInfo is one row of `pdffonts`.
type FontInfo struct {
	Name, Type, Encoding string
	Embedded, Unicode    bool
}

// parseFonts reads `pdffonts` output; its columns are cut where the dashes
// under the header are.
func parseFonts(out []byte) ([]FontInfo, error) {
	lines := strings.Split(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "name") || !strings.HasPrefix(lines[1], "---") {
		if strings.TrimSpace(string(out)) == "" {
			return nil, nil
		}
		return nil, fmt.Errorf("pdffonts: no header: %w", ErrMalformed)
	}
	// Column spans from the dash line.
	var cols [][2]int
	dash := lines[1]
	for i := 0; i < len(dash); {
		if dash[i] != '-' {
			i++
			continue
		}
		j := i
		for j < len(dash) && dash[j] == '-' {
			j++
		}
		cols = append(cols, [2]int{i, j})
		i = j
	}
	if len(cols) < 6 {
		return nil, fmt.Errorf("pdffonts: %d columns: %w", len(cols), ErrMalformed)
	}
	cell := func(line string, c [2]int) string {
		if c[0] >= len(line) {
			return ""
		}
		return strings.TrimSpace(line[c[0]:min(c[1], len(line))])
	}
	var fonts []FontInfo
	for _, line := range lines[2:] {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if len(line) < cols[5][1] {
			return nil, fmt.Errorf("pdffonts: short row %q: %w", line, ErrMalformed)
		}
		fonts = append(fonts, FontInfo{
			Name: cell(line, cols[0]), Type: cell(line, cols[1]), Encoding: cell(line, cols[2]),
			Embedded: cell(line, cols[3]) == "yes", Unicode: cell(line, cols[5]) == "yes",
		})
	}
	return fonts, nil
}
