package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"sort"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// openPDF extracts the scan image of each page of an image-only PDF. Pages
// are never rasterised and nothing in the PDF is executed; DCT (JPEG) images
// pass through untouched.
func (o *inputOpener) openPDF(rs io.ReadSeeker) error {
	conf := model.NewDefaultConfiguration()
	conf.ValidationMode = model.ValidationRelaxed
	conf.Cmd = model.EXTRACTIMAGES
	pctx, err := api.ReadValidateAndOptimize(rs, conf)
	if err != nil {
		if errors.Is(err, pdfcpu.ErrWrongPassword) {
			return fmt.Errorf("%s: PDF is password-protected, cannot open: %w", o.label, ErrEncrypted)
		}
		return fmt.Errorf("%s: PDF parse: %v: %w", o.label, err, ErrUnreadable)
	}
	if err := o.checkPages(pctx.PageCount); err != nil {
		return err
	}
	o.scan.ActiveContent = pdfActiveContent(pctx.XRefTable)
	dims, err := pctx.XRefTable.PageDims()
	if err != nil || len(dims) != pctx.PageCount {
		dims = nil
	}
	// Choose each page's scan image and check its header size before any
	// image is decoded.
	type choice struct {
		objNr int
		w, h  int
	}
	choices := make([]choice, pctx.PageCount)
	for n := 1; n <= pctx.PageCount; n++ {
		stubs, err := pdfcpu.ExtractPageImages(pctx, n, true)
		if err != nil {
			return fmt.Errorf("%s: PDF page %d images: %v: %w", o.label, n, err, ErrUnreadable)
		}
		best := choice{}
		for objNr, st := range stubs {
			if st.Thumb || st.IsImgMask {
				continue
			}
			if int64(st.Width)*int64(st.Height) > int64(best.w)*int64(best.h) ||
				(int64(st.Width)*int64(st.Height) == int64(best.w)*int64(best.h) && objNr < best.objNr) {
				best = choice{objNr: objNr, w: st.Width, h: st.Height}
			}
		}
		if best.objNr != 0 {
			if err := o.checkPixels(n, best.w, best.h); err != nil {
				return err
			}
		}
		choices[n-1] = best
	}
	// Opened lazily, the chosen images' bytes are read from the file only
	// while their page is extracted, not held from opening to closing.
	var streams *pdfStreams
	if src, ok := rs.(io.ReaderAt); ok && o.lazy {
		nrs := make([]int, 0, len(choices))
		for _, c := range choices {
			nrs = append(nrs, c.objNr)
		}
		streams = dropPDFStreams(pctx, src, nrs)
	}
	// extract takes page n's chosen image out of the PDF and decodes it.
	extract := func(n int) (PageImage, error) {
		c := choices[n-1]
		if streams != nil {
			// Every image of the page is extracted, and one may be
			// another page's chosen (dropped) image.
			for _, nr := range pdfcpu.ImageObjNrs(pctx, n) {
				defer streams.drop(nr)
				if err := streams.load(nr); err != nil {
					return PageImage{}, fmt.Errorf("%s: PDF page %d image: %v: %w", o.label, n, err, ErrUnreadable)
				}
			}
		}
		imgs, err := pdfcpu.ExtractPageImages(pctx, n, false)
		if err != nil {
			return PageImage{}, fmt.Errorf("%s: PDF page %d image: %v: %w", o.label, n, err, ErrUnreadable)
		}
		mi, ok := imgs[c.objNr]
		if !ok || mi.Reader == nil {
			return PageImage{}, fmt.Errorf("%s: PDF page %d: image object %d not extracted: %w", o.label, n, c.objNr, ErrUnreadable)
		}
		raw, err := io.ReadAll(mi.Reader)
		if err != nil {
			return PageImage{}, fmt.Errorf("%s: PDF page %d: read image: %v: %w", o.label, n, err, ErrUnreadable)
		}
		p, err := o.pdfPageImage(n, mi.FileType, raw)
		if err != nil {
			return PageImage{}, err
		}
		if dims != nil {
			p.DPI = pdfPageDPI(p.Bounds(), dims[n-1])
		}
		return p, nil
	}
	for n := 1; n <= pctx.PageCount; n++ {
		if err := o.ctx.Err(); err != nil {
			return fmt.Errorf("open %s: %w", o.label, err)
		}
		c := choices[n-1]
		if c.objNr == 0 {
			// A page without an image (vector or text content) is kept as a
			// degenerate placeholder so the dossier is not silently shortened.
			o.scan.Pages = append(o.scan.Pages, pdfPlaceholderPage(n))
			o.scan.Warnings = append(o.scan.Warnings, fmt.Sprintf("page %d has no image", n))
			continue
		}
		if o.lazy {
			// Opened lazily, a page's image is taken out of the PDF only
			// when the page is wanted (Scan.Page): its size (and so its
			// resolution) comes from the image's header.
			p := PageImage{Number: n, Size: image.Pt(c.w, c.h), DPI: DefaultDPI}
			if dims != nil {
				p.DPI = pdfPageDPI(p.Bounds(), dims[n-1])
			}
			o.scan.Pages = append(o.scan.Pages, p)
			continue
		}
		p, err := extract(n)
		if err != nil {
			return err
		}
		o.scan.Pages = append(o.scan.Pages, o.settle(p))
	}
	if o.lazy {
		label := o.label
		o.scan.extract = func(ctx context.Context, n int) (p PageImage, err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("%s: PDF page %d: decoder panic: %v: %w", label, n, r, ErrUnreadable)
				}
			}()
			if err := ctx.Err(); err != nil {
				return PageImage{}, fmt.Errorf("open %s page %d: %w", label, n, err)
			}
			return extract(n)
		}
	}
	return nil
}

// pdfPageImage decodes one extracted image: JPEG passes through, PNG and
// TIFF renderings of Flate/CCITT/LZW images become PNG page data.
func (o *inputOpener) pdfPageImage(n int, fileType string, raw []byte) (PageImage, error) {
	format, err := sniffInputFormat(raw)
	if err != nil {
		return PageImage{}, fmt.Errorf("%s: PDF page %d: image of type %q: %v: %w", o.label, n, fileType, err, ErrUnsupported)
	}
	switch format {
	case "jpeg":
		return o.decodeJPEGPage(n, raw)
	case "png", "tiff":
		img, _, err := image.Decode(bytes.NewReader(raw))
		if err != nil {
			return PageImage{}, fmt.Errorf("%s: PDF page %d: decode %s image: %v: %w", o.label, n, format, err, ErrUnreadable)
		}
		data := raw
		if format != "png" {
			if data, err = encodePagePNG(img); err != nil {
				return PageImage{}, fmt.Errorf("%s: PDF page %d: encode PNG: %w", o.label, n, err)
			}
		}
		return PageImage{Number: n, Image: img, Data: data, Format: "png", DPI: DefaultDPI}, nil
	}
	return PageImage{}, fmt.Errorf("%s: PDF page %d: embedded %s image not supported: %w", o.label, n, format, ErrUnsupported)
}

// pdfPageDPI derives the resolution of a full-page image from the page size
// in points; DefaultDPI when the size is unusable.
func pdfPageDPI(b image.Rectangle, d types.Dim) float64 {
	pw, ph := d.Width, d.Height
	if pw <= 0 || ph <= 0 {
		return DefaultDPI
	}
	// The image may be stored rotated relative to the displayed page.
	if (b.Dx() > b.Dy()) != (pw > ph) {
		pw, ph = ph, pw
	}
	dpi := float64(b.Dx()) / (pw / 72)
	if dpi < 1 || dpi > 10000 {
		return DefaultDPI
	}
	return float64(int(dpi + 0.5))
}

// pdfPlaceholderPage is a 1×1 white page standing in for a page with no image.
func pdfPlaceholderPage(n int) PageImage {
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.SetGray(0, 0, color.Gray{Y: 255})
	data, _ := encodePagePNG(img) // encoding a 1×1 grey image cannot fail
	return PageImage{Number: n, Image: img, Data: data, Format: "png", DPI: 72}
}

// pdfActiveContent lists active content in the catalog: document-level
// JavaScript, an open action, additional actions, embedded files.
func pdfActiveContent(xt *model.XRefTable) []string {
	root, err := xt.Catalog()
	if err != nil || root == nil {
		return nil
	}
	var found []string
	if _, ok := root.Find("OpenAction"); ok {
		found = append(found, "OpenAction")
	}
	if _, ok := root.Find("AA"); ok {
		found = append(found, "AdditionalActions")
	}
	if o, ok := root.Find("Names"); ok {
		if names, err := xt.DereferenceDict(o); err == nil && names != nil {
			if _, ok := names.Find("JavaScript"); ok {
				found = append(found, "JavaScript")
			}
			if _, ok := names.Find("EmbeddedFiles"); ok {
				found = append(found, "EmbeddedFiles")
			}
		}
	}
	if o, ok := root.Find("AcroForm"); ok && acroFormActive(xt, o) {
		found = append(found, "AcroForm")
	}
	sort.Strings(found)
	return found
}

// Bounds of the walk over an AcroForm's field tree.
const (
	maxFormFields = 256
	maxFormDepth  = 8
)

// acroFormActive reports whether an AcroForm holds a form: an XFA form, a
// field with actions, or any field but a signature field. The AcroForm of
// a signed PDF holds its signature fields only: it is no form to fill and
// nothing in it runs. A tree past the walk's bounds, or one that does not
// resolve, counts as a form.
func acroFormActive(xt *model.XRefTable, o types.Object) bool {
	form, err := xt.DereferenceDict(o)
	if err != nil {
		return true
	}
	if form == nil {
		return false
	}
	if _, ok := form.Find("XFA"); ok {
		return true
	}
	fo, ok := form.Find("Fields")
	if !ok {
		return false
	}
	fields, err := xt.DereferenceArray(fo)
	if err != nil {
		return true
	}
	seen := 0
	var active func(f types.Object, ft string, depth int) bool
	active = func(f types.Object, ft string, depth int) bool {
		seen++
		if seen > maxFormFields || depth > maxFormDepth {
			return true
		}
		d, err := xt.DereferenceDict(f)
		if err != nil || d == nil {
			return true
		}
		if _, ok := d.Find("AA"); ok {
			return true
		}
		if n := d.NameEntry("FT"); n != nil {
			ft = *n
		}
		ko, hasKids := d.Find("Kids")
		if !hasKids {
			return ft != "Sig"
		}
		kids, err := xt.DereferenceArray(ko)
		if err != nil {
			return true
		}
		if len(kids) == 0 {
			return ft != "Sig"
		}
		for _, k := range kids {
			if active(k, ft, depth+1) {
				return true
			}
		}
		return false
	}
	for _, f := range fields {
		if active(f, "", 0) {
			return true
		}
	}
	return false
}
