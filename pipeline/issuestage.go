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
