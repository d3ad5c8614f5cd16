// This file owns the e-result's data document: its fields as JSON with
// their provenance, embedded in the signed PDF (signing.DataFileName) and
// served by GET /v1/results/{code}/data.

package storage

import (
	"encoding/json"
	"time"
)

// DataSchema names the data document's format; a change of shape gets a
// new name.
const DataSchema = "sohoa-eresult-data/1"

// ResultData is the data document of one e-result. Everything in it is known
// before the PDF is signed, so the same bytes go into the PDF and are served
// later.
type ResultData struct {
	Schema           string     `json:"schema"`
	ResultCode       string     `json:"result_code"`
	DossierCode      string     `json:"dossier_code"`
	ProcedureCode    string     `json:"procedure_code"`
	DocType          string     `json:"doc_type"`
	DocTypeName      string     `json:"doc_type_name"`
	IssuedAt         Date       `json:"issued_at"`
	ValidUntil       *Date      `json:"valid_until"`
	Origin           string     `json:"origin"`
	ConvertingAgency Agency     `json:"converting_agency"`
	IssuingAuthority *Authority `json:"issuing_authority"`
	// ConvertedAt is the conversion time (RFC 3339, +07:00); nil for a
	// born-digital result.
	ConvertedAt      *time.Time `json:"converted_at"`
	SourceScanSHA256 string     `json:"source_scan_sha256,omitempty"`
	// Fields are the document's extracted fields by name (the layout's
	// field names).
	Fields map[string]DataField `json:"fields"`
}

// DataField is one extracted field with its provenance.
type DataField struct {
	Value      string  `json:"value"`
	Confidence float64 `json:"confidence"`
	// VerifiedByPerson: a person checked (and possibly corrected) the
	// value in review before the result was issued.
	VerifiedByPerson bool       `json:"verified_by_person"`
	VerifiedAt       *time.Time `json:"verified_at,omitempty"`
}

// NewResultData builds the data document of the result m describes, with
// its extracted fields. It reads only what is known before signing: the
// manifest's code, dossier, procedure, document type, dates, origin,
// agency, authority and digitisation, not its File or ID.
func NewResultData(m Manifest, extracted map[string]ExtractedField) ResultData {
	d := ResultData{Schema: DataSchema, ResultCode: m.ResultCode, DossierCode: m.DossierCode,
		ProcedureCode: m.ProcedureCode, DocType: m.DocType, DocTypeName: m.DocTypeName,
		IssuedAt: m.IssuedAt, ValidUntil: m.ValidUntil, Origin: m.Origin,
		ConvertingAgency: m.ConvertingAgency, IssuingAuthority: m.IssuingAuthority,
		Fields: make(map[string]DataField, len(extracted))}
	if dg := m.Digitization; dg != nil {
		t := dg.ScannedAt.Truncate(time.Second).In(Vietnam())
		d.ConvertedAt, d.SourceScanSHA256 = &t, dg.SourceScanSHA256
	}
	for k, f := range extracted {
		df := DataField{Value: f.Value, Confidence: f.Confidence, VerifiedByPerson: f.VerifiedBy != ""}
		if f.VerifiedAt != nil {
			t := f.VerifiedAt.Truncate(time.Second).In(Vietnam())
			df.VerifiedAt = &t
		}
		d.Fields[k] = df
	}
	return d
}

// Marshal is the document's bytes: compact JSON, keys of Fields sorted, as
// encoding/json writes it (so re-encoding the bytes as a json.RawMessage
// keeps them identical).
func (d ResultData) Marshal() ([]byte, error) { return json.Marshal(d) }
