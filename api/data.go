// This file owns GET /v1/results/{code}/data: the result's fields as JSON
// with their provenance, as embedded in (and covered by the signature of)
// its PDF.

package api

import (
	"encoding/json"
	"net/http"

	"sohoa/audit"
	"sohoa/signing"
	"sohoa/storage"
)

// dataResponse is the answer of GET /v1/results/{code}/data. Data is the
// data document's bytes exactly as embedded in the PDF (compact JSON, as
// encoding/json writes it), so a receiver can check them against the
// signed file: pdfsig (signature valid) → pdfdetach -save 1 (the attachment
// named Attachment) → the same bytes, whose SHA-256 is DataSHA256.
type dataResponse struct {
	ResultCode string `json:"result_code"`
	// PDFSHA256 is the SHA-256 of the signed PDF (GET …/pdf, its ETag).
	PDFSHA256 string `json:"pdf_sha256"`
	// Embedded: Data is the PDF's associated file Attachment, inside the
	// revision its signature covers. False for a result issued before data
	// was embedded: Data is then rebuilt from the repository's record and
	// only this answer vouches for it.
	Embedded   bool   `json:"embedded"`
	Attachment string `json:"attachment,omitempty"`
	// DataSHA256 is the SHA-256 of Data's bytes.
	DataSHA256 string          `json:"data_sha256"`
	Validity   validityView    `json:"validity"`
	Data       json.RawMessage `json:"data"`
}

func (s *server) data(w http.ResponseWriter, r *http.Request, id identity) {
	e := entryFrom(r.Context())
	m, v, ok := s.resultAt(w, r, id, true)
	if !ok {
		return
	}
	resp := dataResponse{ResultCode: m.ResultCode, PDFSHA256: m.File.SHA256, Validity: viewValidity(v)}
	var doc []byte
	if m.File.DataSHA256 == "" {
		// Issued before the data was embedded: the same document, from
		// the sealed record.
		sealed, err := s.opts.Repo.Sealed(r.Context(), m)
		if err != nil {
			s.repoError(w, r, err)
			return
		}
		if doc, err = storage.NewResultData(m, sealed.Extracted).Marshal(); err != nil {
			s.repoError(w, r, err)
			return
		}
	} else {
		pdf, err := s.storedPDF(r, m)
		if err != nil {
			s.repoError(w, r, err)
			return
		}
		doc, err = signing.EmbeddedData(pdf)
		if err != nil || storage.SHA256Hex(doc) != m.File.DataSHA256 {
			// The manifest names a document the signed PDF does not hold.
			s.log.Error("embedded data does not match the manifest", "request_id", e.rec.RequestID, "result_code", m.ResultCode, "err", err)
			s.repoError(w, r, storage.ErrCorrupt)
			return
		}
		resp.Embedded, resp.Attachment = true, signing.DataFileName
	}
	if !json.Valid(doc) {
		s.repoError(w, r, storage.ErrCorrupt)
		return
	}
	resp.Data, resp.DataSHA256 = doc, storage.SHA256Hex(doc)
	e.decide(audit.Allow, "scope:read_pdf")
	WriteJSON(w, http.StatusOK, resp)
}
