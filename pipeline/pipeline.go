// This file owns the Pipeline: its dependencies and options, the routing of
// task types to stage handlers, and the boundary where a stage's error
// becomes an asynq outcome.

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/ocr"
	"sohoa/storage"
)

// Version identifies the pipeline's behaviour; it is recorded with every
// record so a result can be traced to the code that made it.
const Version = "sohoa-pipeline/1"

// Recognizer OCRs one untrusted scan file (in supervised child processes),
// page by page: each page image goes to sink as soon as it is recognised
// (ocr.PageSink), and the recognised pages are returned in page order.
type Recognizer interface {
	Process(ctx context.Context, data []byte, name string, sink ocr.PageSink) ([]ocr.Page, error)
}

// FileRecognizer is a Recognizer that also reads a scan from a file of
// its own (the OCR pool's private spool): the OCR stage streams an intake
// from storage into it instead of holding a large scan in memory while it
// is recognised. The caller closes and removes the file.
type FileRecognizer interface {
	Recognizer
	SpoolFile() (*os.File, error)
	ProcessFile(ctx context.Context, path, name string, sink ocr.PageSink) ([]ocr.Page, error)
}

// Issuer renders, stamps and signs one e-result, and verifies its own output.
type Issuer interface {
	Issue(ctx context.Context, req IssueRequest) (Issued, error)
}

// IssueRequest is everything needed to make one e-result PDF.
type IssueRequest struct {
	ResultCode    string
	DossierCode   string
	ProcedureCode string
	Origin        string // born_digital | digitized_on_receipt | digitized_backfill
	Document      ocr.Document
	Pages         []ocr.Page      // the document's pages, in order
	Images        []ocr.PageImage // the matching page images
	SourceSHA256  string          // hex sha256 of the intake scan
	ConvertedAt   time.Time
	// IssuingAuthority issued the paper original (read from it); nil when
	// not read. The converting agency is the Issuer's own.
	IssuingAuthority *storage.Authority
	// Data is the result's data document (storage.ResultData), embedded
	// in the PDF before signing.
	Data []byte
}

// Issued is a signed e-result.
type Issued struct {
	PDF []byte
	// SignatureFormat is the signature's SubFilter
	// (storage.SignatureCMSDetached); SignatureTimestamp: it carries an
	// RFC 3161 timestamp.
	SignatureFormat    string
	SignatureTimestamp bool
	SignerCertSHA256   string
	SigningTime        time.Time
	// Signer is the subject CN of the signing certificate, and External
	// says it is another issuer's signature (a signed input filed as it
	// is), not this agency's.
	Signer   string
	External bool
}

// Enqueuer puts a task on the queue (an *asynq.Client).
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Options configures a Pipeline. Zero values are usable except for the
// dependencies.
type Options struct {
	Repo       *storage.Repository
	Recognizer Recognizer
	Layouts    *ocr.Layouts
	Issuer     Issuer
	Queue      Enqueuer
	Logger     *slog.Logger
	// Procedures maps a document type to the administrative procedure
	// (mã TTHC) whose result it is, for scans that arrive without one
	// (backfill). A result with neither goes to review.
	Procedures map[string]string
	// AgencyCode is the converting agency (13-char mã đơn vị) used for
	// dossier codes allocated here and for object keys.
	AgencyCode string
	AgencyName string
	Now        func() time.Time
	// Observer is told what the stages do (metrics); nil: nobody.
	Observer Observer
	// Signatures verifies inputs that arrive signed (other agencies'
	// e-results); nil: every signed input goes to review as untrusted.
	Signatures SignatureVerifier
}

// Observer is told what the pipeline does, for metrics. Every argument is
// a fixed word or a number: never a file name, a field value or a key.
type Observer interface {
	// StageDone: one unit of a stage took d. Stages: StageOCRPage (per
	// page: the file's OCR time divided by its pages), StageExtraction,
	// StagePageRead, StageIssue (StageRendering, StageSigning,
	// StageVerification), StageStorage; the OCR pool adds the stages of
	// recognition per page (tesseract.Stages).
	StageDone(stage string, d time.Duration)
	// Pages: n pages recognised with this outcome ("ok" or a page flag).
	Pages(outcome string, n int)
	// Document: a document reached this outcome: the decision's action
	// after OCR (issue, review, keep), then "issued" when its e-result is
	// filed.
	Document(outcome string)
	// Quarantined: an input was quarantined with this code.
	Quarantined(code string)
}

// The stages an Observer times.
const (
	StageOCRPage    = "ocr_page"
	StageExtraction = "extraction"
	StageSigning    = "signing"
	StageStorage    = "storage"
	// StageIssue is a whole issue (rendering, signing and verifying);
	// StageRendering, StageSigning and StageVerification its steps, told
	// by PDFIssuer. StagePageRead is reading a document's page images back.
	StageIssue        = "issue"
	StageRendering    = "rendering"
	StageVerification = "verification"
	StagePageRead     = "page_read"
)

type nopObserver struct{}

func (nopObserver) StageDone(string, time.Duration) {}
func (nopObserver) Pages(string, int)               {}
func (nopObserver) Document(string)                 {}
func (nopObserver) Quarantined(string)              {}

// Pipeline holds the stage handlers.
type Pipeline struct {
	o Options
}

// New checks the options and returns a Pipeline.
func New(o Options) (*Pipeline, error) {
	if o.Repo == nil {
		return nil, errors.New("pipeline: a repository is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.AgencyCode == "" {
		o.AgencyCode = "000.00.00.H00"
	}
	return &Pipeline{o: o}, nil
}

// Mux routes the task types to their handlers.
func (p *Pipeline) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeOCR, p.handleOCR)
	mux.HandleFunc(TypeIssue, p.handleIssue)
	return mux
}

func (p *Pipeline) handleOCR(ctx context.Context, t *asynq.Task) error {
	var pl OCRPayload
	if err := decodePayload(t.Payload(), &pl); err != nil {
		// Without a valid key there is nothing to quarantine against.
		return fmt.Errorf("%s: %v: %w", TypeOCR, err, asynq.SkipRetry)
	}
	err := p.OCR(ctx, pl.InputKey)
	return p.finish(ctx, TypeOCR, pl.InputKey, "", err)
}

func (p *Pipeline) handleIssue(ctx context.Context, t *asynq.Task) error {
	var pl IssuePayload
	if err := decodePayload(t.Payload(), &pl); err != nil {
		return fmt.Errorf("%s: %v: %w", TypeIssue, err, asynq.SkipRetry)
	}
	err := p.IssueDocument(ctx, pl.InputKey, pl.Doc)
	return p.finish(ctx, TypeIssue, pl.InputKey, "", err)
}

// finish turns a stage error into the asynq outcome: nil, a retry, or a
// quarantine record plus SkipRetry. It logs once, here, at the boundary.
func (p *Pipeline) finish(ctx context.Context, stage, inputKey, file string, err error) error {
	log := p.o.Logger.With("stage", stage, "input_key", inputKey)
	if err == nil {
		return nil
	}
	code, perm := classify(err)
	// Errors name the file for the clerk (the quarantine record, sealed,
	// keeps it); file names often carry a citizen's name, so the log does
	// not.
	logged := p.withoutFileName(ctx, inputKey, err)
	if !perm {
		if lastAttempt(ctx) {
			// asynq archives the task now. Not the end: the input goes
			// back in the open set, and the reconciler gives the task a
			// new round of retries (or quarantines it when its rounds are
			// spent). The marker is best effort: the reconciler's full
			// pass finds the input anyway.
			p.markOpen(ctx, inputKey)
			log.Warn("stage failed on its last retry; the reconciler gives it a new round", "err", logged)
			return err
		}
		log.Warn("stage failed, will retry", "err", logged)
		return err
	}
	if qerr := p.quarantine(ctx, stage, inputKey, code, err); qerr != nil {
		log.Error("quarantine write failed, will retry", "err", p.withoutFileName(ctx, inputKey, qerr), "cause_code", code)
		return qerr
	}
	p.o.Observer.Quarantined(code)
	log.Warn("input quarantined", "code", code, "err", logged)
	return fmt.Errorf("%s quarantined (%s): %w", stage, code, asynq.SkipRetry)
}

// lastAttempt reports whether the running task has no retry left: a
// failure now sends it to asynq's archive.
func lastAttempt(ctx context.Context) bool {
	n, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && n >= maxRetry
}

// markOpen writes a fresh open marker of an input (best effort).
func (p *Pipeline) markOpen(ctx context.Context, inputKey string) {
	info, err := p.o.Repo.IntakeInfo(ctx, inputKey)
	if err == nil {
		err = p.o.Repo.MarkOpen(ctx, inputKey, info.Meta)
	}
	if err != nil {
		p.o.Logger.Debug("open marker not written", "input_key", inputKey, "err", err)
	}
}

// withoutFileName is err's text with the input's uploaded file name (and
// its extensionless stem) replaced by "<file>".
func (p *Pipeline) withoutFileName(ctx context.Context, inputKey string, err error) string {
	msg := err.Error()
	var meta storage.IntakeMeta
	if p.o.Repo.GetSealedJSON(ctx, storage.IntakeMetaKey(inputKey), &meta) != nil || meta.Name == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, meta.Name, "<file>")
	if stem := strings.TrimSuffix(meta.Name, filepath.Ext(meta.Name)); len(stem) >= 4 {
		msg = strings.ReplaceAll(msg, stem, "<file>")
	}
	return msg
}
