package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/ocr"
	"sohoa/storage"
)

// Version identifies the pipeline's behaviour; it is recorded with every
// record so a result can be traced to the code that made it.
const Version = "sohoa-pipeline/1"

// Recognizer OCRs one untrusted scan file (in supervised child processes).
type Recognizer interface {
	Process(ctx context.Context, data []byte, name string) ([]ocr.Page, []ocr.PageImage, error)
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
}

// Issued is a signed e-result.
type Issued struct {
	PDF              []byte
	PAdESLevel       string
	SignerCertSHA256 string
	SigningTime      time.Time
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
}

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

// Record is what the OCR stage writes for every scan it recognises.
type Record struct {
	SchemaVersion   int           `json:"schema_version"`
	InputKey        string        `json:"input_key"`
	File            string        `json:"file"`
	PipelineVersion string        `json:"pipeline_version"`
	Result          ocr.Result    `json:"result"`
	Decisions       []Decision    `json:"decisions"`
	Images          []ImageRef    `json:"images"`
	CreatedAt       time.Time     `json:"created_at"`
	Intake          IntakeSummary `json:"intake"`
}

// IntakeSummary is the part of the intake metadata a record carries along.
type IntakeSummary struct {
	DossierCode   string `json:"dossier_code"`
	ProcedureCode string `json:"procedure_code"`
	Source        string `json:"source"`
}

// ImageRef points at one stored page image.
type ImageRef struct {
	Page   int     `json:"page"`
	Key    string  `json:"key"`
	Format string  `json:"format"`
	DPI    float64 `json:"dpi"`
}

// Decision says what happens to one document of a record.
type Decision struct {
	Doc        int      `json:"doc"`
	Action     string   `json:"action"` // issue | review | keep
	ResultCode string   `json:"result_code,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
}

// Actions of a Decision.
const (
	ActionIssue  = "issue"  // a result document, auto-accepted
	ActionReview = "review" // a person must check it before anything is filed
	ActionKeep   = "keep"   // a dossier component (application form): digitised, not issued
)

// ReviewItem is the review queue entry for one scan.
type ReviewItem struct {
	InputKey  string     `json:"input_key"`
	File      string     `json:"file"`
	Documents []Decision `json:"documents"`
	CreatedAt time.Time  `json:"created_at"`
}

// QuarantineItem records an input that cannot be processed. The original
// bytes stay untouched under the intake key.
type QuarantineItem struct {
	InputKey  string    `json:"input_key"`
	IntakeKey string    `json:"intake_key"`
	File      string    `json:"file"`
	Stage     string    `json:"stage"`
	Code      string    `json:"code"`
	Error     string    `json:"error"`
	At        time.Time `json:"at"`
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
	if !perm {
		log.Warn("stage failed, will retry", "err", err)
		return err
	}
	if qerr := p.quarantine(ctx, stage, inputKey, code, err); qerr != nil {
		log.Error("quarantine write failed, will retry", "err", qerr, "cause_code", code)
		return qerr
	}
	log.Warn("input quarantined", "code", code, "err", err)
	return fmt.Errorf("%s quarantined (%s): %w", stage, code, asynq.SkipRetry)
}

func (p *Pipeline) quarantine(ctx context.Context, stage, inputKey, code string, cause error) error {
	name := ""
	if _, meta, err := p.intakeMeta(ctx, inputKey); err == nil {
		name = meta.Name
	}
	q := QuarantineItem{
		InputKey:  inputKey,
		IntakeKey: storage.IntakeKey(inputKey),
		File:      name,
		Stage:     stage,
		Code:      code,
		Error:     cause.Error(),
		At:        p.o.Now().UTC(),
	}
	if err := p.o.Repo.PutSealedJSON(ctx, storage.QuarantineKey(inputKey), q); err != nil && !errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("write quarantine record: %w", err)
	}
	return nil
}

func (p *Pipeline) intakeMeta(ctx context.Context, inputKey string) ([]byte, storage.IntakeMeta, error) {
	data, meta, err := p.o.Repo.Intake(ctx, inputKey)
	if err != nil {
		return nil, meta, fmt.Errorf("read intake %s: %w", inputKey, err)
	}
	return data, meta, nil
}

// OCR runs the OCR stage for one intake object. It is idempotent: a record
// already written means the work is done and only the follow-up tasks are
// (re-)enqueued.
func (p *Pipeline) OCR(ctx context.Context, inputKey string) error {
	var rec Record
	err := p.o.Repo.GetSealedJSON(ctx, storage.RecordKey(inputKey), &rec)
	switch {
	case err == nil:
		return p.dispatch(ctx, &rec)
	case !errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("read record: %w", err)
	}
	if done, err := p.o.Repo.Exists(ctx, storage.QuarantineKey(inputKey)); err != nil {
		return fmt.Errorf("check quarantine: %w", err)
	} else if done {
		return nil
	}
	if p.o.Recognizer == nil || p.o.Layouts == nil {
		return errors.New("ocr stage: no recognizer or layouts configured")
	}

	data, meta, err := p.intakeMeta(ctx, inputKey)
	if err != nil {
		return err
	}
	pages, images, err := p.o.Recognizer.Process(ctx, data, meta.Name)
	if err != nil {
		return fmt.Errorf("recognise %s: %w", meta.Name, err)
	}
	rec = Record{
		SchemaVersion:   1,
		InputKey:        inputKey,
		File:            meta.Name,
		PipelineVersion: Version,
		CreatedAt:       p.o.Now().UTC(),
		Intake: IntakeSummary{
			DossierCode:   meta.DossierCode,
			ProcedureCode: meta.ProcedureCode,
			Source:        meta.Source,
		},
	}
	for _, img := range images {
		ext := "png"
		if img.Format == "jpeg" {
			ext = "jpg"
		}
		key := storage.PageKey(inputKey, img.Number, ext)
		if err := p.o.Repo.Bucket().PutOnce(ctx, key, img.Data, hexSHA256(img.Data)); err != nil && !errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("store page %d image: %w", img.Number, err)
		}
		rec.Images = append(rec.Images, ImageRef{Page: img.Number, Key: key, Format: img.Format, DPI: img.DPI})
	}
	for _, pg := range pages {
		if slices.Contains(pg.Flags, ocr.FlagActiveContent) {
			p.o.Logger.Warn("active content in source PDF ignored", "input_key", inputKey, "page", pg.Number)
		}
	}
	docs := ocr.Extract(pages, p.o.Layouts)
	rec.Result = ocr.Result{File: meta.Name, Pages: pages, Documents: docs}
	rec.Decisions = decide(pages, images, docs, p.o.Layouts, rec.Intake, p.o.Procedures)
	if err := p.o.Repo.PutSealedJSON(ctx, storage.RecordKey(inputKey), rec); err != nil {
		if !errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("write record: %w", err)
		}
		// A concurrent run of this task got there first: follow its record.
		if err := p.o.Repo.GetSealedJSON(ctx, storage.RecordKey(inputKey), &rec); err != nil {
			return fmt.Errorf("read concurrent record: %w", err)
		}
	}
	return p.dispatch(ctx, &rec)
}

// decide chooses, per document, whether it is issued, reviewed or kept.
// Problems of the whole file (an unreadable page, no document at all) send
// every document to review: a dossier is never silently shortened.
func decide(pages []ocr.Page, images []ocr.PageImage, docs []ocr.Document, ls *ocr.Layouts, in IntakeSummary, procedures map[string]string) []Decision {
	var fileReasons []string
	for _, img := range images {
		// Too coarse to be filed as a legal copy: a person rescans it.
		if int(img.DPI+0.5) < storage.MinDigitizationDPI {
			fileReasons = append(fileReasons, fmt.Sprintf("page_%d_dpi_below_%d", img.Number, storage.MinDigitizationDPI))
		}
	}
	for _, pg := range pages {
		for _, f := range pg.Flags {
			// Blank and degenerate pages make the dossier incomplete;
			// other flags (ignored active content, an uncertain
			// orientation that still read well) are only recorded.
			if f == ocr.FlagBlank || f == ocr.FlagDegenerate {
				fileReasons = append(fileReasons, fmt.Sprintf("page_%d_%s", pg.Number, f))
			}
		}
	}
	if len(docs) == 0 {
		fileReasons = append(fileReasons, "no_document_recognised")
	}
	out := make([]Decision, 0, len(docs))
	seq := 0
	for i, d := range docs {
		dec := Decision{Doc: i}
		// Results are documents of a known type that is not an application
		// form; forms are dossier components, digitised but not issued.
		l, known := ls.Layout(d.DocType)
		isResult := known && !l.Application
		if isResult {
			seq++
		}
		switch {
		case len(fileReasons) > 0:
			dec.Action = ActionReview
			dec.Reasons = append(slices.Clone(fileReasons), d.ReviewReasons...)
		case d.NeedsReview:
			dec.Action = ActionReview
			dec.Reasons = slices.Clone(d.ReviewReasons)
		case !isResult:
			dec.Action = ActionKeep
		case d.HolderPersonalID == "":
			dec.Action = ActionReview
			dec.Reasons = []string{"holder_id_missing"}
		case in.ProcedureCode == "" && procedures[d.DocType] == "":
			dec.Action = ActionReview
			dec.Reasons = []string{"procedure_code_unknown"}
		default:
			dec.Action = ActionIssue
		}
		if isResult && in.DossierCode != "" {
			dec.ResultCode = fmt.Sprintf("%s-KQ%d", in.DossierCode, seq)
		}
		out = append(out, dec)
	}
	if len(docs) == 0 {
		out = append(out, Decision{Doc: -1, Action: ActionReview, Reasons: fileReasons})
	}
	return out
}

// dispatch enqueues the issue tasks of a record and writes its review item.
func (p *Pipeline) dispatch(ctx context.Context, rec *Record) error {
	var review []Decision
	for _, d := range rec.Decisions {
		switch d.Action {
		case ActionIssue:
			if p.o.Queue == nil {
				return errors.New("dispatch: no queue configured")
			}
			t, err := NewIssueTask(rec.InputKey, d.Doc)
			if err != nil {
				return err
			}
			if _, err := p.o.Queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
				return fmt.Errorf("enqueue issue of document %d: %w", d.Doc, err)
			}
		case ActionReview:
			review = append(review, d)
		}
	}
	if len(review) == 0 {
		return nil
	}
	item := ReviewItem{InputKey: rec.InputKey, File: rec.File, Documents: review, CreatedAt: rec.CreatedAt}
	if err := p.o.Repo.PutSealedJSON(ctx, storage.ReviewKey(rec.InputKey), item); err != nil && !errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("write review item: %w", err)
	}
	return nil
}

// IssueDocument runs the issue stage for document doc of a recognised scan.
// It is idempotent by result code: the repository's create-once writes make
// a duplicate run return the result already filed.
func (p *Pipeline) IssueDocument(ctx context.Context, inputKey string, doc int) error {
	var rec Record
	if err := p.o.Repo.GetSealedJSON(ctx, storage.RecordKey(inputKey), &rec); err != nil {
		return fmt.Errorf("read record: %w", err)
	}
	if doc < 0 || doc >= len(rec.Result.Documents) || doc >= len(rec.Decisions) {
		return permanent(CodeBadPayload, fmt.Errorf("document %d not in record of %d documents", doc, len(rec.Result.Documents)))
	}
	dec := rec.Decisions[doc]
	d := rec.Result.Documents[doc]
	procedure := ""
	var approval *Approval
	switch dec.Action {
	case ActionIssue:
	case ActionReview:
		// Issued only on a person's approval, with their corrections.
		var a Approval
		if err := p.o.Repo.GetSealedJSON(ctx, storage.ApprovalKey(inputKey, doc), &a); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return permanent(CodeBadPayload, fmt.Errorf("document %d awaits review", doc))
			}
			return fmt.Errorf("read review decision: %w", err)
		}
		if !a.Approved {
			return permanent(CodeBadPayload, fmt.Errorf("document %d was rejected in review", doc))
		}
		var err error
		if d, procedure, err = p.approvedDocument(&rec, a); err != nil {
			return permanent(CodeInvalid, err)
		}
		approval = &a
	default:
		return permanent(CodeBadPayload, fmt.Errorf("document %d is not to be issued (%s)", doc, dec.Action))
	}
	procedure = firstNonEmpty(procedure, rec.Intake.ProcedureCode, p.o.Procedures[d.DocType])
	if procedure == "" {
		return permanent(CodeInvalid, errors.New("no procedure code for this document type"))
	}
	resultCode := dec.ResultCode
	if resultCode == "" {
		// No dossier code came with the scan: it was allocated at intake
		// and recorded there, so this is a bug upstream, not a retry case.
		return permanent(CodeBadPayload, errors.New("document has no result code"))
	}
	if m, err := p.o.Repo.Get(ctx, resultCode); err == nil {
		p.o.Logger.Debug("already issued", "result_code", m.ResultCode)
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("look up %s: %w", resultCode, err)
	}
	if p.o.Issuer == nil {
		return errors.New("issue stage: no issuer configured")
	}

	srcSHA, err := storage.InputSHA256(inputKey)
	if err != nil {
		return permanent(CodeBadPayload, err)
	}
	req := IssueRequest{
		ResultCode:    resultCode,
		DossierCode:   rec.Intake.DossierCode,
		ProcedureCode: procedure,
		Origin:        originOf(rec.Intake.Source),
		Document:      d,
		SourceSHA256:  srcSHA,
		ConvertedAt:   rec.CreatedAt,
	}
	for _, n := range d.Pages {
		pg, img, err := p.page(ctx, &rec, n)
		if err != nil {
			return err
		}
		req.Pages = append(req.Pages, pg)
		req.Images = append(req.Images, img)
	}
	issued, err := p.o.Issuer.Issue(ctx, req)
	if err != nil {
		return fmt.Errorf("issue %s: %w", resultCode, err)
	}
	m, err := p.manifest(&rec, d, resultCode, req, issued)
	if err != nil {
		return permanent(CodeBadPayload, err)
	}
	extracted := make(map[string]storage.ExtractedField, len(d.Fields))
	for k, f := range d.Fields {
		ef := storage.ExtractedField{Value: f.Value, Confidence: f.Confidence}
		if approval != nil {
			ef.VerifiedBy, ef.VerifiedAt = approval.By, &approval.At
		}
		extracted[k] = ef
	}
	_, err = p.o.Repo.File(ctx, storage.NewResult{
		PDF:          issued.PDF,
		Manifest:     m,
		HolderIDType: "CCCD",
		HolderID:     d.HolderPersonalID,
		HolderName:   d.Fields["full_name"].Value,
		Extracted:    extracted,
		Actor:        "sohoa-worker",
	})
	if err != nil {
		return fmt.Errorf("file %s: %w", resultCode, err)
	}
	p.o.Logger.Info("e-result filed", "input_key", inputKey, "result_code", resultCode, "doc_type", d.DocType)
	return nil
}

// manifest builds the repository manifest of one issued document.
func (p *Pipeline) manifest(rec *Record, d ocr.Document, resultCode string, req IssueRequest, issued Issued) (storage.Manifest, error) {
	code, _, seq, err := storage.ParseResultCode(resultCode)
	if err != nil {
		return storage.Manifest{}, err
	}
	m := storage.Manifest{
		ResultCode:     code,
		DossierCode:    rec.Intake.DossierCode,
		ProcedureCode:  req.ProcedureCode,
		ResultSeq:      seq,
		DocType:        d.DocType,
		OriginalNumber: d.Fields["doc_number"].Value,
		Issuer: storage.Issuer{
			AgencyCode:  p.o.AgencyCode,
			AgencyName:  firstNonEmpty(d.Fields["issuing_authority"].Value, p.o.AgencyName),
			SignerTitle: d.Fields["signer_title"].Value,
			SignerName:  d.Fields["signer_name"].Value,
		},
		Origin: req.Origin,
		File: storage.File{
			PAdESLevel:       issued.PAdESLevel,
			SignerCertSHA256: issued.SignerCertSHA256,
			SigningTime:      issued.SigningTime,
		},
		InputKey: rec.InputKey,
	}
	if l, ok := p.o.Layouts.Layout(d.DocType); ok {
		m.DocTypeName = l.Name
	}
	if m.IssuedAt, err = civilDate(d.Fields["issue_date"].Value); err != nil {
		return m, fmt.Errorf("issue date: %w", err)
	}
	if d.ValidUntil != nil {
		vu, err := civilDate(*d.ValidUntil)
		if err != nil {
			return m, fmt.Errorf("valid until: %w", err)
		}
		m.ValidUntil = &vu
	}
	dig := &storage.Digitization{
		ScannedAt:            rec.CreatedAt,
		Pages:                len(d.Pages),
		DigitizingAgencyCode: p.o.AgencyCode,
		SourceScanSHA256:     req.SourceSHA256,
	}
	for _, img := range req.Images {
		if dpi := int(img.DPI + 0.5); dig.DPI == 0 || dpi < dig.DPI {
			dig.DPI = dpi
		}
		if img.Format == "jpeg" {
			dig.Color = true // JPEG scans are colour or grey; bitonal comes as PNG
		}
	}
	m.Digitization = dig
	return m, nil
}

// civilDate parses a dd/mm/yyyy date as printed on the paper.
func civilDate(s string) (storage.Date, error) {
	t, err := time.Parse("02/01/2006", s)
	if err != nil {
		return storage.Date{}, fmt.Errorf("date %q is not dd/mm/yyyy", s)
	}
	return storage.DateOf(time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC)), nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (p *Pipeline) page(ctx context.Context, rec *Record, n int) (ocr.Page, ocr.PageImage, error) {
	var pg ocr.Page
	for _, x := range rec.Result.Pages {
		if x.Number == n {
			pg = x
		}
	}
	for _, ref := range rec.Images {
		if ref.Page != n {
			continue
		}
		data, _, err := p.o.Repo.Bucket().Get(ctx, ref.Key)
		if err != nil {
			return pg, ocr.PageImage{}, fmt.Errorf("read page %d image: %w", n, err)
		}
		return pg, ocr.PageImage{Number: n, Data: data, Format: ref.Format, DPI: ref.DPI}, nil
	}
	return pg, ocr.PageImage{}, permanent(CodeBadPayload, fmt.Errorf("page %d image missing from record", n))
}

func originOf(source string) string {
	if source == "backfill" {
		return "digitized_backfill"
	}
	return "digitized_on_receipt"
}

// hexSHA256 returns the lowercase hex SHA-256 of b.
func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
