package tesseract

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"sohoa/ocr"
	"sohoa/ocr/pdftext"
)

// The child protocol: the parent gob-encodes one childRequest per range of
// pages of a file on the child's stdin; the child answers with a stream of
// childMsg on stdout: a header (the file's page count, once opened), one
// message per recognised page (its words and its encoded image), then a
// final message (Done, with the failure if any). Both are single gob
// streams, so framing comes from gob itself. Nothing in the stream holds
// more than one page, so neither process holds a whole file's images.

type childRequest struct {
	Name string
	// Path is the input, spooled by the parent to a private file; the
	// child reads it itself. Data carries the input instead when Path is
	// empty (tests, small callers).
	Path string
	Data []byte
	// From and To are the 1-based pages to recognise, inclusive; To 0 is
	// the last page. From 0 only opens the file (the header).
	From, To int
	// Release asks the child to drop the file it keeps open between
	// requests and give its memory back; nothing else is done.
	Release bool
}

// wireImage is an ocr.PageImage without the decoded image.
type wireImage struct {
	Number int
	Data   []byte
	Format string
	DPI    float64
}

// childMsg is one message of the child's answer to a request.
type childMsg struct {
	// PageCount, in the header (the first message of a file's request),
	// is the file's number of pages.
	PageCount int
	// Page, with its Image and its recognition Stages, is one recognised
	// page.
	Page   *ocr.Page
	Image  wireImage
	Stages Stages
	// Done ends the answer; ErrKind names the ocr sentinel of a failure
	// ("" on success), ErrMsg is the full message.
	Done    bool
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
	// Collect at half the default growth: a page's pixels and copies are
	// garbage by the next page, and the child's memory adds to its
	// worker's.
	debug.SetGCPercent(50)
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
		return serveChild(ctx, in, out, h)
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
	return serveChild(ctx, in, out, h)
}

// childHandler answers requests. handle sends, through send, the header
// of the request's file (its page count) then one message per page of the
// range; the final message is serveChild's. It may keep the file open
// for the next request of the same file; release drops it.
type childHandler interface {
	handle(ctx context.Context, req childRequest, send func(childMsg) error) error
	release()
}

// sendError is a failure to write to the parent: the protocol is broken.
type sendError struct{ err error }

func (e *sendError) Error() string { return "write response: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func serveChild(ctx context.Context, in io.Reader, out io.Writer, h childHandler) error {
	dec := gob.NewDecoder(in)
	enc := gob.NewEncoder(out)
	send := func(m childMsg) error {
		if err := enc.Encode(&m); err != nil {
			return &sendError{err: err}
		}
		return nil
	}
	for {
		var req childRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				h.release()
				return nil
			}
			return fmt.Errorf("ocr child: read request: %w", err)
		}
		final := childMsg{Done: true}
		if req.Release {
			h.release()
			releaseMemory()
		} else if err := h.handle(ctx, req, send); err != nil {
			var se *sendError
			if errors.As(err, &se) {
				return fmt.Errorf("ocr child: %w", err)
			}
			// A failed file is not kept: its next request opens it afresh.
			h.release()
			releaseMemory()
			final.ErrKind, final.ErrMsg = childErrKind(err), err.Error()
		}
		if err := send(final); err != nil {
			return fmt.Errorf("ocr child: %w", err)
		}
	}
}

// readInput reads a request's file: Data, or the spooled file at Path
// (bounded by maxBytes when > 0).
func readInput(req childRequest, maxBytes int64) ([]byte, error) {
	if req.Path == "" {
		return req.Data, nil
	}
	label := ocr.InputLabel(req.Name)
	fi, err := os.Stat(req.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: read spooled input: %w", label, err)
	}
	if maxBytes > 0 && fi.Size() > maxBytes {
		return nil, fmt.Errorf("%s: %d bytes, limit %d: %w", label, fi.Size(), maxBytes, ocr.ErrTooLarge)
	}
	data, err := os.ReadFile(req.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: read spooled input: %w", label, err)
	}
	return data, nil
}

// pageRange clamps a request's range to a file of n pages: the 0-based
// indexes [lo, hi) to recognise.
func pageRange(req childRequest, n int) (lo, hi int) {
	if req.From <= 0 {
		return 0, 0
	}
	hi = n
	if req.To > 0 && req.To < n {
		hi = req.To
	}
	lo = min(req.From-1, hi)
	return lo, hi
}

type engineHandler struct {
	eng *Engine
	lim ocr.Limits
	log *slog.Logger
	// pdf bounds the poppler tools that read PDF text layers; noPDFText
	// treats every PDF page as image-only.
	pdf       pdftext.Options
	noPDFText bool
	// open is the file of the last request, kept for the next request of
	// the same file (a file's pages come in several requests).
	open *openFile
}

// openFile is an opened input: its scan (pages decoded lazily, one at a
// time) and, for a PDF, its text-layer analysis. File-level findings
// (active content) are kept here, so every page of every request gets
// them.
type openFile struct {
	path, name string
	file       *os.File // the spooled input, read in place; nil for Data
	scan       *ocr.Scan
	pdf        *pdfPages // nil: not a PDF, or text layers not read
	// decode is the file's opening time, shared among its pages.
	decode StageTime
}

func (h *engineHandler) release() {
	if h.open == nil {
		return
	}
	h.open.close()
	h.open = nil
}

func (f *openFile) close() {
	if f.pdf != nil {
		f.pdf.Close()
	}
	if f.file != nil {
		f.file.Close()
	}
}

// file opens req's file, or returns the one kept from the last request.
func (h *engineHandler) file(ctx context.Context, req childRequest) (*openFile, error) {
	if f := h.open; f != nil && req.Path != "" && f.path == req.Path && f.name == req.Name {
		return f, nil
	}
	h.release()
	releaseMemory() // the last file's memory, before this one's
	openStart := now()
	f := &openFile{path: req.Path, name: req.Name}
	var scan *ocr.Scan
	var data []byte
	var err error
	if req.Path != "" {
		// A spooled file is read in place: a PDF's pages are taken out of
		// it one at a time, never the whole file copied into memory.
		if f.file, err = os.Open(req.Path); err != nil {
			return nil, fmt.Errorf("%s: read spooled input: %w", ocr.InputLabel(req.Name), err)
		}
		scan, err = ocr.OpenScanFile(ctx, f.file, req.Name, h.lim)
	} else {
		data = req.Data
		scan, err = ocr.OpenScanLazy(ctx, data, req.Name, h.lim)
	}
	if err != nil {
		f.close()
		return nil, err
	}
	f.scan = scan
	if len(scan.ActiveContent) > 0 {
		h.log.Warn("active content found and ignored", "content", scan.ActiveContent)
	}
	for _, w := range scan.Warnings {
		h.log.Info("input note", "note", w)
	}
	if scan.Format == "pdf" && !h.noPDFText {
		if req.Path != "" {
			var doc *pdftext.Doc
			if doc, err = pdftext.OpenFile(req.Path, h.pdf); err == nil {
				if f.pdf, err = analyzePDFPages(ctx, doc, scan, h.log); err != nil {
					doc.Close()
				}
			}
		} else {
			f.pdf, err = openPDFPages(ctx, data, scan, h.pdf, h.log)
		}
		if err != nil {
			f.close()
			return nil, err
		}
	}
	opened, n := now(), time.Duration(max(1, len(scan.Pages)))
	f.decode = StageTime{Wall: (opened.wall - openStart.wall) / n, CPU: (opened.cpu - openStart.cpu) / n}
	h.open = f
	// Opening a PDF reads every stream of it, and only then lets the page
	// images' go (ocr.OpenScanFile): that memory goes back now, not after
	// the first page.
	releaseMemory()
	return f, nil
}

func (h *engineHandler) handle(ctx context.Context, req childRequest, send func(childMsg) error) error {
	f, err := h.file(ctx, req)
	if err != nil {
		return err
	}
	h.eng.TakeStages() // nothing of an earlier, failed page
	if err := send(childMsg{PageCount: len(f.scan.Pages)}); err != nil {
		return err
	}
	lo, hi := pageRange(req, len(f.scan.Pages))
	for i := lo; i < hi; i++ {
		src, err := f.scan.Page(ctx, i)
		if err != nil {
			return err
		}
		var page ocr.Page
		img := src
		if f.pdf != nil {
			page, img, err = f.pdf.page(ctx, h.eng, i, src)
		} else {
			page, err = h.eng.Recognize(ctx, src)
		}
		f.scan.Pages[i].Image = nil // let the decoded pixels go before the next page
		if err != nil {
			return err
		}
		if len(f.scan.ActiveContent) > 0 {
			page.Flags = append(page.Flags, FlagActiveContent)
		}
		// The page's stage timings, the file's opening shared among its
		// pages.
		st := h.eng.TakeStages()
		if st == nil {
			st = Stages{}
		}
		d := st[StageDecode]
		d.Wall, d.CPU = d.Wall+f.decode.Wall, d.CPU+f.decode.CPU
		st[StageDecode] = d
		msg := childMsg{Page: &page, Image: wireImage{Number: img.Number, Data: img.Data, Format: img.Format, DPI: img.DPI}, Stages: st}
		if err := send(msg); err != nil {
			return err
		}
		// The page's memory goes back before the next page: the Go heap's
		// garbage (its pixels, the extracted image) and what Tesseract and
		// Leptonica freed. A collection of a heap of tens of MiB costs
		// milliseconds, a page about a second.
		releaseMemory()
	}
	return nil
}
