// This file owns the OCR stage: recognise an intake, store its page images,
// extract its documents, decide each one's fate and dispatch the follow-ups.

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/ocr"
	"sohoa/storage"
)

func (p *Pipeline) intakeMeta(ctx context.Context, inputKey string) ([]byte, storage.IntakeMeta, error) {
	data, meta, err := p.o.Repo.Intake(ctx, inputKey)
	if err != nil {
		return nil, meta, fmt.Errorf("read intake %s: %w", inputKey, err)
	}
	return data, meta, nil
}

// spoolIntake streams an intake from storage into a file of fr's spool
// and returns the file's path (the caller removes it) and the meta.
func (p *Pipeline) spoolIntake(ctx context.Context, fr FileRecognizer, inputKey string) (string, storage.IntakeMeta, error) {
	f, err := fr.SpoolFile()
	if err != nil {
		return "", storage.IntakeMeta{}, err
	}
	path := f.Name()
	meta, err := p.o.Repo.IntakeTo(ctx, inputKey, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("spool: %w", cerr)
	}
	if err != nil {
		os.Remove(path)
		return "", meta, fmt.Errorf("read intake %s: %w", inputKey, err)
	}
	return path, meta, nil
}

// looksSignedFile is LooksSigned of a file's bytes.
func looksSignedFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return LooksSignedReader(f)
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

	// A recognizer with a spool of its own gets the intake streamed into
	// it: the worker never holds a large scan while it is recognised.
	var (
		data    []byte
		meta    storage.IntakeMeta
		spooled string
	)
	fr, streamed := p.o.Recognizer.(FileRecognizer)
	if streamed {
		if spooled, meta, err = p.spoolIntake(ctx, fr, inputKey); err != nil {
			return err
		}
		defer os.Remove(spooled)
	} else if data, meta, err = p.intakeMeta(ctx, inputKey); err != nil {
		return err
	}
	if meta.UploadedAt.IsZero() {
		// The scan's metadata is lost (a scan stored before open markers
		// existed, its metadata write interrupted): without its dossier
		// code nothing can be issued, and quarantining it would lose the
		// file for good. It waits, incomplete (StateOf), for the file to
		// be sent again, which stores the metadata; the reconciler then
		// queues it.
		p.o.Logger.Warn("intake incomplete: scan stored without metadata; waiting for the file to be sent again", "input_key", inputKey)
		return nil
	}
	var sig *SignatureCheck
	signed := LooksSigned(data)
	if spooled != "" {
		if signed, err = looksSignedFile(spooled); err != nil {
			return fmt.Errorf("read spooled intake %s: %w", inputKey, err)
		}
		if signed {
			// The verifier takes the file from memory: a signed input
			// is read back for it (and let go after).
			if data, err = os.ReadFile(spooled); err != nil {
				return fmt.Errorf("read spooled intake %s: %w", inputKey, err)
			}
		}
	}
	if signed {
		if sig, err = p.checkSignature(ctx, data); err != nil {
			return err
		}
		p.o.Logger.Info("signed input verified", "input_key", inputKey, "valid", sig.Valid, "reason", sig.Reason,
			"signer_cert_sha256", sig.SignerCertSHA256)
	}
	if spooled != "" {
		data = nil
	}
	started := p.o.Now()
	// Each page image is stored as it is recognised; only the record of
	// its key is kept, never the images of the whole file.
	var images []ImageRef
	store := func(ctx context.Context, img ocr.PageImage) error {
		ext := "png"
		if img.Format == "jpeg" {
			ext = "jpg"
		}
		key, err := p.o.Repo.PutPage(ctx, inputKey, img.Number, ext, img.Data)
		if err != nil {
			return err
		}
		images = append(images, ImageRef{Page: img.Number, Key: key, Format: img.Format, DPI: img.DPI})
		return nil
	}
	var pages []ocr.Page
	if spooled != "" {
		pages, err = fr.ProcessFile(ctx, spooled, meta.Name, store)
	} else {
		pages, err = p.o.Recognizer.Process(ctx, data, meta.Name, store)
	}
	if err != nil {
		return fmt.Errorf("recognise %s: %w", meta.Name, err)
	}
	if len(pages) >= releasePages {
		// Once the record is written, a large file's words, extraction
		// and record are garbage: the memory goes back to the system
		// (as an OCR child's does after each page) instead of staying
		// with the worker while the next file is recognised.
		defer debug.FreeOSMemory()
	}
	slices.SortFunc(images, func(a, b ImageRef) int { return a.Page - b.Page })
	// One line per recognition, so an operator (and the tests) can count
	// the OCR work done: a file recognised twice shows twice.
	p.o.Logger.Info("ocr done", "input_key", inputKey, "source", meta.Source, "pages", len(pages),
		"ms", p.o.Now().Sub(started).Milliseconds())
	if took := p.o.Now().Sub(started); len(pages) > 0 {
		per := took / time.Duration(len(pages))
		for range pages {
			p.o.Observer.StageDone(StageOCRPage, per)
		}
	}
	p.observePages(pages)
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
			BatchID:       meta.BatchID,
			Office:        meta.Office,
		},
		Images: images,
	}
	for _, pg := range pages {
		if slices.Contains(pg.Flags, ocr.FlagActiveContent) {
			p.o.Logger.Warn("active content in source PDF ignored", "input_key", inputKey, "page", pg.Number)
		}
	}
	extractStart := p.o.Now()
	docs := ocr.Extract(pages, p.o.Layouts)
	rec.Result = ocr.Result{File: meta.Name, Pages: pages, Documents: docs}
	rec.Decisions = decide(pages, rec.Images, docs, p.o.Layouts, rec.Intake, p.o.Procedures)
	rec.Signature = sig
	applySignature(rec.Decisions, docs, p.o.Layouts, sig)
	p.o.Observer.StageDone(StageExtraction, p.o.Now().Sub(extractStart))
	if err := p.o.Repo.PutSealedJSON(ctx, storage.RecordKey(inputKey), rec); err != nil {
		if !errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("write record: %w", err)
		}
		// A concurrent run of this task got there first: follow its record.
		if err := p.o.Repo.GetSealedJSON(ctx, storage.RecordKey(inputKey), &rec); err != nil {
			return fmt.Errorf("read concurrent record: %w", err)
		}
	} else {
		for _, d := range rec.Decisions {
			p.o.Observer.Document(d.Action)
		}
	}
	return p.dispatch(ctx, &rec)
}

// releasePages is the page count from which the OCR stage hands its
// memory back to the system when it is done with a file.
const releasePages = 20

// decide chooses, per document, whether it is issued, reviewed or kept.
// Problems of the whole file (an unreadable page, no document at all) send
// every document to review: a dossier is never silently shortened.
func decide(pages []ocr.Page, images []ImageRef, docs []ocr.Document, ls *ocr.Layouts, in IntakeSummary, procedures map[string]string) []Decision {
	var fileReasons []string
	for _, img := range images {
		// Too coarse to be filed as a legal copy: a person rescans it.
		if int(img.DPI+0.5) < storage.MinDigitizationDPI {
			fileReasons = append(fileReasons, fmt.Sprintf("page_%d_dpi_below_%d", img.Page, storage.MinDigitizationDPI))
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

// observePages counts the recognised pages by outcome: "ok", or the
// page's first flag.
func (p *Pipeline) observePages(pages []ocr.Page) {
	n := map[string]int{}
	for _, pg := range pages {
		outcome := "ok"
		if len(pg.Flags) > 0 {
			outcome = pg.Flags[0]
		}
		n[outcome]++
	}
	for outcome, c := range n {
		p.o.Observer.Pages(outcome, c)
	}
}
