package tesseract

import (
	"context"
	"fmt"
	"log/slog"

	"sohoa/ocr"
	"sohoa/ocr/pdftext"
)

// pageRecognizer is the part of Engine the PDF routing uses.
type pageRecognizer interface {
	Recognize(ctx context.Context, img ocr.PageImage) (ocr.Page, error)
}

// pdfPages routes the pages of an opened PDF by their kind
// (pdftext.Classify):
//
//   - image: the page's scan image is recognised, as for any scan; a page
//     with neither image nor text (vector drawing only) is rendered and
//     the rendering recognised;
//   - text: the words come from the text layer, with their boxes, and the
//     page's rendering becomes its image. A layer that is not usable (a
//     font without a Unicode map, implausible text) is ignored
//     (FlagTextLayerIgnored) and the rendering recognised instead;
//   - mixed: the page image (the scan under an earlier OCR layer, else the
//     rendering) is recognised, and the layer is only a second read
//     (pdftext.Merge).
//
// When poppler cannot read the file (or is missing) every page takes the
// image path, as before text layers were read, and the reason is logged.
// The analysis is made once per file (openPDFPages); pages are then
// recognised one at a time, in any order (page).
type pdfPages struct {
	doc   *pdftext.Doc
	plans []pdftext.PagePlan // nil: every page takes the image path
	log   *slog.Logger
}

func openPDFPages(ctx context.Context, data []byte, scan *ocr.Scan, opts pdftext.Options, log *slog.Logger) (*pdfPages, error) {
	doc, err := pdftext.Open(data, opts)
	if err != nil {
		return nil, err
	}
	pp, err := analyzePDFPages(ctx, doc, scan, log)
	if err != nil {
		doc.Close()
	}
	return pp, err
}

// analyzePDFPages classifies the pages of doc, the file scan was opened
// from; on an error the caller closes doc.
func analyzePDFPages(ctx context.Context, doc *pdftext.Doc, scan *ocr.Scan, log *slog.Logger) (*pdfPages, error) {
	plans, err := doc.Analyze(ctx, len(scan.Pages))
	switch {
	case pdftext.IsToolError(err):
		log.Warn("PDF text layer not read; pages recognised from their images", "err", err)
		plans = nil
	case err != nil:
		return nil, err
	}
	return &pdfPages{doc: doc, plans: plans, log: log}, nil
}

// page recognises the page src (scan page i, 0-based).
func (pp *pdfPages) page(ctx context.Context, eng pageRecognizer, i int, src ocr.PageImage) (ocr.Page, ocr.PageImage, error) {
	var plan *pdftext.PagePlan
	if pp.plans != nil {
		plan = &pp.plans[i]
	}
	return recognizePDFPage(ctx, eng, pp.doc, src, plan, pp.log)
}

func (pp *pdfPages) Close() error { return pp.doc.Close() }

// recognizePDF recognises every page of an opened PDF in order (pdfPages);
// pageDone, when not nil, is called after each page is recognised.
func recognizePDF(ctx context.Context, eng pageRecognizer, data []byte, scan *ocr.Scan, opts pdftext.Options, log *slog.Logger, pageDone func()) ([]ocr.Page, []ocr.PageImage, error) {
	pp, err := openPDFPages(ctx, data, scan, opts, log)
	if err != nil {
		return nil, nil, err
	}
	defer pp.Close()
	var pages []ocr.Page
	var images []ocr.PageImage
	for i := range scan.Pages {
		src, err := scan.Page(ctx, i)
		if err != nil {
			return nil, nil, err
		}
		pg, img, err := pp.page(ctx, eng, i, src)
		if err != nil {
			return nil, nil, err
		}
		pages = append(pages, pg)
		images = append(images, img)
		if pageDone != nil {
			pageDone()
		}
		scan.Pages[i].Image = nil // let the decoded pixels go before the next page
	}
	return pages, images, nil
}

func recognizePDFPage(ctx context.Context, eng pageRecognizer, doc *pdftext.Doc, src ocr.PageImage, plan *pdftext.PagePlan, log *slog.Logger) (ocr.Page, ocr.PageImage, error) {
	if plan == nil {
		pg, err := eng.Recognize(ctx, src)
		return pg, src, err
	}
	v, layer := plan.Verdict, plan.Facts.Layer
	render := func() (ocr.PageImage, error) {
		dpi, err := doc.RenderDPI(layer.Width, layer.Height)
		if err != nil {
			return ocr.PageImage{}, fmt.Errorf("page %d: %w", src.Number, err)
		}
		img, err := doc.Render(ctx, src.Number, dpi)
		if err != nil {
			return ocr.PageImage{}, fmt.Errorf("page %d: %w", src.Number, err)
		}
		return img, nil
	}
	recognize := func(img ocr.PageImage, kind, source string) (ocr.Page, ocr.PageImage, error) {
		pg, err := eng.Recognize(ctx, img)
		if err != nil {
			return ocr.Page{}, ocr.PageImage{}, err
		}
		pg.Kind, pg.Source = kind, source
		if len(layer.Words) > 0 && !v.TextUsable {
			pg.Flags = append(pg.Flags, ocr.FlagTextLayerIgnored)
		}
		return pg, img, nil
	}
	// mixed recognises img and compares the layer with it.
	mixed := func(img ocr.PageImage) (ocr.Page, ocr.PageImage, error) {
		if !v.TextUsable {
			return recognize(img, pdftext.KindMixed, pdftext.SourceOCR)
		}
		b := img.Image.Bounds()
		pg, img, err := recognize(img, pdftext.KindMixed, pdftext.SourceOCRLayer)
		if err != nil {
			return pg, img, err
		}
		pg, a := pdftext.Merge(pg, layer, b.Dx(), b.Dy())
		log.Info("text layer compared with recognition", "page", src.Number, "words", a.Words, "layer_words", a.LayerWords,
			"agreed", a.Agreed, "disagreed", a.Disagreed, "second_reads", a.SecondReads)
		return pg, img, nil
	}
	switch v.Kind {
	case pdftext.KindImage:
		// A page whose only image is degenerate (a 1x1 pixel, say) stays
		// degenerate: rendering it would hide a broken scan as a blank page.
		if !ocr.IsDegenerate(src) || len(plan.Facts.Images) > 0 {
			pg, err := eng.Recognize(ctx, src)
			pg.Kind = pdftext.KindImage
			return pg, src, err
		}
		// Neither image nor text: vector drawing only, or an empty page.
		img, err := render()
		if err != nil {
			return ocr.Page{}, ocr.PageImage{}, err
		}
		return recognize(img, pdftext.KindImage, pdftext.SourceOCR)
	case pdftext.KindMixed:
		if !ocr.IsDegenerate(src) {
			return mixed(src)
		}
	}
	// A text page (or a mixed page whose image could not be taken).
	img, err := render()
	if err != nil {
		return ocr.Page{}, ocr.PageImage{}, err
	}
	b := img.Image.Bounds()
	if pdftext.HasDrawing(img.Image, layer.Boxes(b.Dx(), b.Dy()), img.DPI) || v.Kind == pdftext.KindMixed {
		return mixed(img)
	}
	if !v.TextUsable {
		log.Info("text layer not usable; page recognised from its rendering", "page", src.Number, "why", v.Why,
			"plausibility", v.Plausibility)
		return recognize(img, pdftext.KindText, pdftext.SourceOCR)
	}
	return pdftext.TextPage(layer, img), img, nil
}
