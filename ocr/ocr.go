// Package ocr turns scanned pages into text and structured fields.
//
// Data flows one way: a scan file is opened into page images (Open), each page
// is recognised into a Page (by ocr/tesseract), and Extract splits the pages
// into Documents, classifies them from declarative layouts and pulls their
// fields. Everything here is pure Go; the only cgo lives in ocr/tesseract.
package ocr

import (
	"context"
	"errors"
	"image"
)

// Sentinel errors. Callers test them with errors.Is; the wrapping error names
// the file and the reason.
var (
	// ErrUnreadable: the bytes are not a decodable image or PDF (corrupt,
	// truncated, wrong format behind a familiar extension).
	ErrUnreadable = errors.New("unreadable input")
	// ErrTooLarge: the input exceeds a byte, pixel or page limit.
	ErrTooLarge = errors.New("input exceeds limits")
	// ErrEmpty: zero bytes, or a container with zero pages.
	ErrEmpty = errors.New("empty input")
	// ErrEncrypted: a password-protected PDF.
	ErrEncrypted = errors.New("password-protected input")
	// ErrUnsupported: a recognised but unsupported format (zip, text, ...).
	ErrUnsupported = errors.New("unsupported input format")
)

// Page flags: problems of one page that a recogniser reports in Page.Flags.
const (
	// FlagDegenerate: the page image is too small to hold text; not
	// recognised. A dossier with such a page is incomplete.
	FlagDegenerate = "degenerate"
	// FlagBlank: no confidently recognised text on the page.
	FlagBlank = "blank"
	// FlagLowOSD: orientation detection was not confident.
	FlagLowOSD = "orientation-uncertain"
	// FlagLowConfidence: the page's mean word confidence is low.
	FlagLowConfidence = "low-confidence"
	// FlagActiveContent: the source PDF carried scripts or actions; they
	// were ignored (never executed) and only the page image was used.
	FlagActiveContent = "active-content"
	// FlagTextLayerIgnored: the page's text layer was not usable (a font
	// without a Unicode map, implausible text, too many fonts); the page
	// was recognised from its rendering instead.
	FlagTextLayerIgnored = "text-layer-ignored"
)

// Word is one recognised word. Box is in pixels of the page image as it was
// recognised, i.e. after the page's Rotation and Skew were applied.
type Word struct {
	Text  string          `json:"text"`
	Conf  float64         `json:"conf"` // 0..1
	Box   image.Rectangle `json:"box"`
	Block int             `json:"block"`
	Line  int             `json:"line"` // line number within the page, reading order, 0-based
	// Alts are independent second reads of this word (and, per Reading.Words,
	// the words after it on its line), made for number-like words only.
	Alts []Reading `json:"alts,omitempty"`
}

// Reading is one second read of a word group: its crop re-recognised
// alone, restricted to the characters the group can hold.
type Reading struct {
	Text    string  `json:"text"`
	Conf    float64 `json:"conf"`              // 0..1, the lowest word confidence of the read
	Words   int     `json:"words"`             // page words the read covers, from the one holding it
	Variant string  `json:"variant,omitempty"` // image treatment of the crop
}

// Page is one recognised page.
type Page struct {
	Number     int     `json:"number"`     // 1-based, in file order
	Rotation   int     `json:"rotation"`   // clockwise degrees applied to make the page upright: 0, 90, 180, 270
	Skew       float64 `json:"skew"`       // degrees of deskew rotation applied (counter-clockwise positive)
	Text       string  `json:"text"`       // page text, one recognised line per line
	Confidence float64 `json:"confidence"` // mean word confidence, 0..1
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	DPI        float64 `json:"dpi,omitempty"`
	Words      []Word  `json:"words,omitempty"`
	// Flags name page-level problems, e.g. "blank", "degenerate".
	Flags []string `json:"flags,omitempty"`
	// Kind is what the source page holds (PDF pages; "" for image files):
	// "image" (only a scan image), "text" (a real text layer, no page
	// image) or "mixed" (a text layer over a page image or drawing).
	Kind string `json:"kind,omitempty"`
	// Source says where the words come from: "ocr" (recognised),
	// "text-layer" (read from the PDF) or "ocr+text-layer" (recognised,
	// with the PDF's layer as a second read). "" means "ocr".
	Source string `json:"source,omitempty"`
	// Layer compares the recognition with an earlier text layer (mixed
	// pages).
	Layer *LayerAgreement `json:"text_layer,omitempty"`
}

// LayerAgreement counts how the recognised words of a page and its
// earlier text layer compare.
type LayerAgreement struct {
	Words       int `json:"words"`        // recognised words
	LayerWords  int `json:"layer_words"`  // words of the layer
	Agreed      int `json:"agreed"`       // recognised words the layer reads alike
	Disagreed   int `json:"disagreed"`    // recognised words the layer reads otherwise
	SecondReads int `json:"second_reads"` // of those, number-like words given the layer's reading as a second read
	OCROnly     int `json:"ocr_only"`     // recognised words with no layer word
	LayerOnly   int `json:"layer_only"`   // layer words over no recognised word (not used)
}

// Field is one extracted value with its confidence (0..1), and where it
// was read.
type Field struct {
	Value      string  `json:"value"`
	Confidence float64 `json:"confidence"`
	// Page is the 1-based page the value was read on and Box the union of
	// its words' boxes, in pixels of that page as recognised (after its
	// Rotation and Skew, like Word.Box); zero when unknown (text without
	// word boxes, a value a person entered).
	Page int             `json:"page,omitempty"`
	Box  image.Rectangle `json:"box,omitzero"`
	// Reads are the distinct readings of an ID field whose reads disagree:
	// the page read first, then the second reads that gave another number.
	// Value is the one chosen; a person decides.
	Reads []string `json:"reads,omitempty"`
}

// Document is one logical document found in a scan file.
type Document struct {
	DocType          string           `json:"doc_type"` // layout slug, or "unknown"
	Pages            []int            `json:"pages"`    // 1-based page numbers
	Fields           map[string]Field `json:"fields"`
	HolderPersonalID string           `json:"holder_personal_id"` // "" when none was found; the form's when unread (holder_id_from_form)
	ValidUntil       *string          `json:"valid_until"`        // dd/mm/yyyy, null when unlimited or unknown
	NeedsReview      bool             `json:"needs_review"`
	ReviewReasons    []string         `json:"review_reasons"`
}

// Result is the outcome of recognising and extracting one scan file. Its JSON
// form is the `sohoa extract --json` contract.
type Result struct {
	File      string     `json:"file"`
	Pages     []Page     `json:"pages"`
	Documents []Document `json:"documents"`
}

// PageImage is one decoded page of a scan, ready for recognition and for
// rendering into an e-result without re-encoding loss.
type PageImage struct {
	Number int
	Image  image.Image
	// Data is the page's encoded bytes for embedding: the original JPEG
	// bytes when the source page is a JPEG (passed through untouched),
	// otherwise a lossless PNG.
	Data   []byte
	Format string // "jpeg" or "png"
	DPI    float64
	// Size is the image's width and height when Image is nil: the pages
	// of OpenScanLazy are not decoded yet (a consumer decodes Data, one
	// page at a time).
	Size image.Point
}

// PageSink receives the image of each recognised page as soon as it is
// recognised, with its encoded Data (Image is nil): in any order, each page
// once, one call at a time. A recognizer keeps no page image after its sink returns, so a long
// file never holds all its images; an error from the sink ends the file's
// recognition with that error.
type PageSink func(ctx context.Context, img PageImage) error

// Bounds is the page image's bounds, decoded or not.
func (p PageImage) Bounds() image.Rectangle {
	if p.Image != nil {
		return p.Image.Bounds()
	}
	return image.Rectangle{Max: p.Size}
}
