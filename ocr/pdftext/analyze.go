package pdftext

import (
	"context"
	"errors"
	"fmt"
)

// PagePlan is the classification of one page with what it was made from.
type PagePlan struct {
	Number  int
	Verdict Verdict
	Facts   PageFacts
}

// Analyze classifies every page of a document of pages pages (the count
// the caller's own parser found: poppler must agree). A tool failing on
// the input is an error wrapping ErrTool; the caller then treats the file
// as image-only, as before text layers were read.
func (d *Doc) Analyze(ctx context.Context, pages int) ([]PagePlan, error) {
	layer, cut, err := d.TextLayer(ctx)
	if err != nil {
		return nil, err
	}
	if len(layer) != pages {
		return nil, fmt.Errorf("pdftotext found %d pages, the PDF parser %d: %w", len(layer), pages, ErrTool)
	}
	imgs, err := d.Images(ctx)
	if err != nil {
		return nil, err
	}
	plans := make([]PagePlan, pages)
	for i := range plans {
		plans[i] = PagePlan{Number: i + 1, Facts: PageFacts{Layer: layer[i]}}
	}
	for _, im := range imgs {
		if im.Page >= 1 && im.Page <= pages {
			f := &plans[im.Page-1].Facts
			f.Images = append(f.Images, im)
		}
	}
	for i := range plans {
		p := &plans[i]
		if len(p.Facts.Layer.Words) > 0 {
			// Fonts matter only where there is text.
			if p.Facts.Fonts, err = d.Fonts(ctx, p.Number); err != nil {
				return nil, err
			}
		}
		p.Verdict = Classify(p.Facts, d.opts.MaxFontsPerPage)
	}
	for _, n := range cut {
		p := &plans[n-1]
		p.Verdict.TextUsable, p.Verdict.Why = false, "too-many-words"
	}
	return plans, nil
}

// IsToolError reports whether err is a tool's failure on the input (not a
// cancellation or a limit).
func IsToolError(err error) bool { return errors.Is(err, ErrTool) }
