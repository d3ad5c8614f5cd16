package tesseract

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"syscall"
	"time"

	"sohoa/ocr"
	"sohoa/ocr/pdftext"
)

// The child protocol: the parent gob-encodes one childRequest per file on
// the child's stdin; the child answers with one childResponse on stdout.
// Both are single gob streams, so framing comes from gob itself.

type childRequest struct {
	Name string
	Data []byte
}

// wireImage is an ocr.PageImage without the decoded image.
type wireImage struct {
	Number int
	Data   []byte
	Format string
	DPI    float64
}

type childResponse struct {
	Pages  []ocr.Page
	Images []wireImage
	// Stages is the time each page spent per recognition stage (Stages),
	// in page order; the file's decode time is shared among its pages.
	Stages []Stages
	// ErrKind names the ocr sentinel of a failure ("" on success), ErrMsg
	// is the full message.
	ErrKind string
	ErrMsg  string
}

// Flag added to every page of a file in which active content (PDF
// JavaScript, open actions) was found and ignored.
const FlagActiveContent = ocr.FlagActiveContent

var childErrKinds = []struct {
	kind string
	err  error
}{
	{"empty", ocr.ErrEmpty},
	{"too_large", ocr.ErrTooLarge},
	{"unreadable", ocr.ErrUnreadable},
	{"encrypted", ocr.ErrEncrypted},
	{"unsupported", ocr.ErrUnsupported},
	{"canceled", context.Canceled},
	{"deadline", context.DeadlineExceeded},
}

func childErrKind(err error) string {
	for _, k := range childErrKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "internal"
}

// remoteError is an error reported by the child, re-attached to its
// sentinel so errors.Is works across the process boundary.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

func remoteErr(kind, msg string) error {
	for _, k := range childErrKinds {
		if k.kind == kind {
			return &remoteError{msg: msg, kind: k.err}
		}
	}
	return &remoteError{msg: msg}
}

// ChildOptions configure the child side.
type ChildOptions struct {
	Engine Options
	// Limits for ocr.OpenScan; zero value: ocr.DefaultLimits().
	Limits ocr.Limits
	// MemoryLimit is the memory cap, in bytes, the child sets on itself
	// before loading anything (SetMemoryLimit); 0 leaves it unlimited.
	MemoryLimit uint64
	Logger      *slog.Logger
	// Canned, when set, is a folder of canned answers (CannedAnswers): the
	// child answers from it instead of loading Tesseract. For the chaos
	// harness and tests, which need the pipeline's semantics at thousands
	// of jobs, through the same child supervision.
	Canned string
	// PDFText bounds the poppler tools that read PDF text layers and
	// render text pages (they run as this child's own children, under its
	// memory limit); NoPDFText treats every PDF page as image-only.
	PDFText   pdftext.Options
	NoPDFText bool
}

// SetMemoryLimit caps the process's memory at bytes: RLIMIT_DATA, which
// Linux (4.7 and later) counts over the private writable mappings (heap,
// anonymous mmaps, Go's heap arenas once in use, Leptonica's and
// Tesseract's buffers), so it bounds the memory the child can really use;
// and, as a backstop, RLIMIT_AS at asMultiple times as much. Address space
// alone is a poor cap: reservations that never hold a page (Go's
// PROT_NONE arena reservations, 64 MiB glibc malloc arenas, thread
// stacks, the mapped traineddata) count against it, so a 300 dpi page
// peaks at about 1.6 GB of address space while using far less memory.
// An allocation past the cap fails; the child dies or reports it, and the
// pool quarantines the input (ocr_crash), never the worker.
func SetMemoryLimit(bytes uint64) error {
	if bytes == 0 {
		return nil
	}
	// The Go heap (decoded pages, the PDF parser) gets a soft limit of a
	// quarter of the cap, so the collector runs before garbage crowds out
	// Tesseract's own memory (measured: a 40-page bitonal PDF peaked at
	// 755 MB with the default GC pacing).
	debug.SetMemoryLimit(int64(bytes / 4))
	lim := syscall.Rlimit{Cur: bytes, Max: bytes}
	if err := syscall.Setrlimit(syscall.RLIMIT_DATA, &lim); err != nil {
		return fmt.Errorf("set RLIMIT_DATA to %d bytes: %w", bytes, err)
	}
	as := syscall.Rlimit{Cur: bytes * asMultiple, Max: bytes * asMultiple}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &as); err != nil {
		return fmt.Errorf("set RLIMIT_AS to %d bytes: %w", as.Cur, err)
	}
	return nil
}

// asMultiple is the address space an OCR child may reserve, as a multiple
// of its memory cap.
const asMultiple = 4

// ServeChild is the body of the `sohoa ocr-child` process: it sets its
// memory limit, loads the engine once, then opens and recognises one file
// per request read from in, answering on out, until in reaches EOF.
func ServeChild(ctx context.Context, in io.Reader, out io.Writer, opts ChildOptions) error {
	if err := SetMemoryLimit(opts.MemoryLimit); err != nil {
		return fmt.Errorf("ocr child: %w", err)
	}
	if opts.Limits == (ocr.Limits{}) {
		opts.Limits = ocr.DefaultLimits()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Engine.Logger == nil {
		opts.Engine.Logger = opts.Logger
	}
	if opts.Canned != "" {
		h, err := newCannedHandler(opts.Canned)
		if err != nil {
			return fmt.Errorf("ocr child: %w", err)
		}
		return serveChild(ctx, in, out, h.handle)
	}
	eng, err := New(opts.Engine)
	if err != nil {
		return fmt.Errorf("ocr child: %w", err)
	}
	defer eng.Close()
	h := &engineHandler{eng: eng, lim: opts.Limits, log: opts.Logger, pdf: opts.PDFText, noPDFText: opts.NoPDFText}
	if h.pdf.MaxPixels == 0 {
		h.pdf.MaxPixels = opts.Limits.MaxPixels
	}
	return serveChild(ctx, in, out, h.handle)
}

// childHandler processes one request into one response.
type childHandler func(ctx context.Context, req childRequest) childResponse

func serveChild(ctx context.Context, in io.Reader, out io.Writer, handle childHandler) error {
	dec := gob.NewDecoder(in)
	enc := gob.NewEncoder(out)
	for {
		var req childRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("ocr child: read request: %w", err)
		}
		resp := handle(ctx, req)
		if err := enc.Encode(&resp); err != nil {
			return fmt.Errorf("ocr child: write response: %w", err)
		}
		releaseMemory()
	}
}

type engineHandler struct {
	eng *Engine
	lim ocr.Limits
	log *slog.Logger
	// pdf bounds the poppler tools that read PDF text layers; noPDFText
	// treats every PDF page as image-only.
	pdf       pdftext.Options
	noPDFText bool
}

func (h *engineHandler) handle(ctx context.Context, req childRequest) childResponse {
	fail := func(err error) childResponse {
		return childResponse{ErrKind: childErrKind(err), ErrMsg: err.Error()}
	}
	openStart := now()
	scan, err := ocr.OpenScanLazy(ctx, req.Data, req.Name, h.lim)
	if err != nil {
		return fail(err)
	}
	opened, n := now(), time.Duration(max(1, len(scan.Pages)))
	decode := StageTime{Wall: (opened.wall - openStart.wall) / n, CPU: (opened.cpu - openStart.cpu) / n}
	h.eng.TakeStages() // nothing of an earlier, failed file
	if len(scan.ActiveContent) > 0 {
		h.log.Warn("active content found and ignored", "content", scan.ActiveContent)
	}
	for _, w := range scan.Warnings {
		h.log.Info("input note", "note", w)
	}
	var resp childResponse
	// pageDone records one page's stage timings, the file's decode shared
	// among its pages.
	pageDone := func() {
		st := h.eng.TakeStages()
		if st == nil {
			st = Stages{}
		}
		d := st[StageDecode]
		d.Wall, d.CPU = d.Wall+decode.Wall, d.CPU+decode.CPU
		st[StageDecode] = d
		resp.Stages = append(resp.Stages, st)
	}
	if scan.Format == "pdf" && !h.noPDFText {
		pages, images, err := recognizePDF(ctx, h.eng, req.Data, scan, h.pdf, h.log, pageDone)
		if err != nil {
			return fail(err)
		}
		for i := range pages {
			if len(scan.ActiveContent) > 0 {
				pages[i].Flags = append(pages[i].Flags, FlagActiveContent)
			}
			img := images[i]
			resp.Pages = append(resp.Pages, pages[i])
			resp.Images = append(resp.Images, wireImage{Number: img.Number, Data: img.Data, Format: img.Format, DPI: img.DPI})
		}
		return resp
	}
	for i := range scan.Pages {
		p := &scan.Pages[i]
		page, err := h.eng.Recognize(ctx, *p)
		if err != nil {
			return fail(err)
		}
		if len(scan.ActiveContent) > 0 {
			page.Flags = append(page.Flags, FlagActiveContent)
		}
		resp.Pages = append(resp.Pages, page)
		resp.Images = append(resp.Images, wireImage{Number: p.Number, Data: p.Data, Format: p.Format, DPI: p.DPI})
		pageDone()
		p.Image = nil // let the decoded pixels go before the next page
	}
	return resp
}
