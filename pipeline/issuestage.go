// This file owns the issue stage: gather a document's pages, have it issued,
// build its manifest and file the signed result.

package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sohoa/ocr"
	"sohoa/storage"
)

// IssueDocument runs the issue stage for document doc of a recognised scan.
// Its result code is reserved for the document (create-once) before the
// result is rendered, so a duplicate run finds its own reservation and
// returns the result already filed, and no other document can take the
// code. A dossier whose codes belong to another upload sends the document
// to review (ReasonResultCodeTaken) instead of dropping it.
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
	approval, err := p.approval(ctx, inputKey, doc)
	if err != nil {
		return err
	}
	switch dec.Action {
	case ActionIssue:
		// An approval here answers a review the issue stage asked for
		// (a taken result code).
		if approval != nil && !approval.Approved {
			p.o.Logger.Info("document rejected in review, not issued", "input_key", inputKey, "doc", doc)
			return nil
		}
	case ActionReview:
		// Issued only on a person's approval, with their corrections.
		if approval == nil {
			return permanent(CodeBadPayload, fmt.Errorf("document %d awaits review", doc))
		}
		if !approval.Approved {
			return permanent(CodeBadPayload, fmt.Errorf("document %d was rejected in review", doc))
		}
	default:
		return permanent(CodeBadPayload, fmt.Errorf("document %d is not to be issued (%s)", doc, dec.Action))
	}
	if approval != nil {
		if d, procedure, err = p.approvedDocument(&rec, *approval); err != nil {
			return permanent(CodeInvalid, err)
		}
	}
	procedure = firstNonEmpty(procedure, rec.Intake.ProcedureCode, p.o.Procedures[d.DocType])
	if procedure == "" {
		return permanent(CodeInvalid, errors.New("no procedure code for this document type"))
	}
	if dec.ResultCode == "" {
		// No dossier code came with the scan: it was allocated at intake
		// and recorded there, so this is a bug upstream, not a retry case.
		return permanent(CodeBadPayload, errors.New("document has no result code"))
	}
	batch, err := p.batchOf(ctx, &rec)
	if err != nil {
		return err
	}
	resultCode, err := p.o.Repo.ReserveResultCode(ctx, storage.CodeRequest{
		Dossier: rec.Intake.DossierCode, Agency: p.o.AgencyCode,
		Owner:    storage.CodeOwner{InputKey: inputKey, Doc: doc, BatchID: batch},
		Proposed: dec.ResultCode,
		// A person who approved the document has seen the dossier code.
		AcceptOthers: approval != nil,
	})
	switch {
	case errors.Is(err, storage.ErrTaken):
		return p.reviewLater(ctx, &rec, dec, ReasonResultCodeTaken, err)
	case errors.Is(err, storage.ErrInvalid), errors.Is(err, storage.ErrExists):
		return permanent(CodeBadPayload, err)
	case err != nil:
		return fmt.Errorf("reserve result code: %w", err)
	}
	// Filed also completes the lookups of a filing a crash interrupted.
	if m, err := p.o.Repo.Filed(ctx, resultCode, workerActor); err == nil {
		p.o.Logger.Debug("already issued", "result_code", m.ResultCode)
		return nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("look up %s: %w", resultCode, err)
	}
	if p.o.Issuer == nil && (rec.Signature == nil || !rec.Signature.Valid) {
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
	signed := rec.Signature != nil && rec.Signature.Valid
	if signed {
		req.Origin = storage.OriginBornDigital
	} else {
		readStart := p.o.Now()
		for _, n := range d.Pages {
			pg, img, err := p.page(ctx, &rec, n)
			if err != nil {
				return err
			}
			req.Pages = append(req.Pages, pg)
			req.Images = append(req.Images, img)
		}
		p.o.Observer.StageDone(StagePageRead, p.o.Now().Sub(readStart))
	}
	m, err := p.manifest(&rec, d, resultCode, req)
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
	var issued Issued
	if signed {
		// Signed by its own issuer and verified: filed as it is, never
		// re-rendered or re-signed (so it carries no data attachment).
		if issued, err = p.signedOriginal(ctx, inputKey, srcSHA, rec.Signature); err != nil {
			return err
		}
	} else {
		// The data document goes into the PDF before it is signed, so the
		// signature covers it; GET /v1/results/{code}/data serves it back.
		if req.Data, err = storage.NewResultData(m, extracted).Marshal(); err != nil {
			return permanent(CodeBadPayload, fmt.Errorf("data document: %w", err))
		}
		req.IssuingAuthority = m.IssuingAuthority
		signStart := p.o.Now()
		if issued, err = p.o.Issuer.Issue(ctx, req); err != nil {
			return fmt.Errorf("issue %s: %w", resultCode, err)
		}
		p.o.Observer.StageDone(StageIssue, p.o.Now().Sub(signStart))
	}
	m.File = storage.File{
		SignatureFormat:    issued.SignatureFormat,
		SignatureTimestamp: issued.SignatureTimestamp,
		SignerCertSHA256:   issued.SignerCertSHA256,
		SigningTime:        issued.SigningTime,
		Signer:             issued.Signer,
		ExternalSigner:     issued.External,
	}
	if req.Data != nil {
		m.File.DataSHA256 = storage.SHA256Hex(req.Data)
	}
	storeStart := p.o.Now()
	_, err = p.o.Repo.File(ctx, storage.NewResult{
		PDF:          issued.PDF,
		Manifest:     m,
		HolderIDType: "CCCD",
		HolderID:     d.HolderPersonalID,
		HolderName:   d.Fields["full_name"].Value,
		Extracted:    extracted,
		Actor:        workerActor,
	})
	if err != nil {
		return fmt.Errorf("file %s: %w", resultCode, err)
	}
	p.o.Observer.StageDone(StageStorage, p.o.Now().Sub(storeStart))
	p.o.Observer.Document("issued")
	p.o.Logger.Info("e-result filed", "input_key", inputKey, "result_code", resultCode, "doc_type", d.DocType)
	return nil
}

// workerActor is the actor of the events the worker writes.
const workerActor = "sohoa-worker"

// approval returns a person's decision on document doc, or nil.
func (p *Pipeline) approval(ctx context.Context, inputKey string, doc int) (*Approval, error) {
	var a Approval
	switch err := p.o.Repo.GetSealedJSON(ctx, storage.ApprovalKey(inputKey, doc), &a); {
	case errors.Is(err, storage.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read review decision: %w", err)
	}
	return &a, nil
}

// batchOf is the upload batch of a record's intake (records written before
// they carried it: read from the intake metadata).
func (p *Pipeline) batchOf(ctx context.Context, rec *Record) (string, error) {
	if rec.Intake.BatchID != "" {
		return rec.Intake.BatchID, nil
	}
	var meta storage.IntakeMeta
	switch err := p.o.Repo.GetSealedJSON(ctx, storage.IntakeMetaKey(rec.InputKey), &meta); {
	case errors.Is(err, storage.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read intake metadata: %w", err)
	}
	return meta.BatchID, nil
}

// reviewLater sends one document to review after its record was written:
// a create-once review item of its own (the record's review item, if any,
// is create-once too). The document's input then reads "review", and a
// person's approval issues it (Decide).
func (p *Pipeline) reviewLater(ctx context.Context, rec *Record, dec Decision, reason string, cause error) error {
	dec.Action, dec.Reasons = ActionReview, []string{reason}
	item := ReviewItem{InputKey: rec.InputKey, File: rec.File, Documents: []Decision{dec}, CreatedAt: p.o.Now().UTC()}
	if err := p.o.Repo.PutSealedJSON(ctx, storage.ReviewDocKey(rec.InputKey, dec.Doc), item); err != nil && !errors.Is(err, storage.ErrExists) {
		return fmt.Errorf("send document %d to review: %w", dec.Doc, err)
	}
	p.o.Logger.Warn("document sent to review", "input_key", rec.InputKey, "doc", dec.Doc, "reason", reason, "err", cause)
	return nil
}

// manifest builds the repository manifest of one issued document.
// Its File is filled in once the PDF is signed.
func (p *Pipeline) manifest(rec *Record, d ocr.Document, resultCode string, req IssueRequest) (storage.Manifest, error) {
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
		// The converting agency is this system's (configuration); the
		// authority that issued the paper is read from it.
		ConvertingAgency: storage.Agency{Code: p.o.AgencyCode, Name: p.o.AgencyName},
		Origin:           req.Origin,
		InputKey:         rec.InputKey,
	}
	if name := d.Fields["issuing_authority"].Value; name != "" {
		m.IssuingAuthority = &storage.Authority{Name: name,
			SignerTitle: d.Fields["signer_title"].Value, SignerName: d.Fields["signer_name"].Value}
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
	if req.Origin == storage.OriginBornDigital {
		// Never on paper: nothing was digitised.
		return m, nil
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
		data, err := p.o.Repo.Page(ctx, ref.Key)
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

// signedOriginal is the intake's own bytes as the result of a validly
// signed input, checked to be exactly what was verified.
func (p *Pipeline) signedOriginal(ctx context.Context, inputKey, srcSHA string, sig *SignatureCheck) (Issued, error) {
	data, _, err := p.intakeMeta(ctx, inputKey)
	if err != nil {
		return Issued{}, err
	}
	if got := storage.SHA256Hex(data); got != srcSHA {
		return Issued{}, permanent(CodeCorrupt, fmt.Errorf("signed input: stored bytes have sha256 %s, want %s", got, srcSHA))
	}
	return Issued{PDF: data, SignatureFormat: sig.SubFilter, SignatureTimestamp: sig.Timestamp != nil, SignerCertSHA256: sig.SignerCertSHA256, SigningTime: sig.SigningTime,
		Signer: sig.Signer, External: true}, nil
}
