// Package kho delivers a result's outbox events (storage.OutboxEvent) to
// the citizen's data store on the National Public Service Portal (Kho quản
// lý dữ liệu điện tử của tổ chức, cá nhân; Decree 45/2020 Art. 14(3)).
//
// The portal's Kho API is not public here, so this package is an adapter
// with its own documented contract (README, "Sync to the citizen's data
// store"):
//
//   - one POST of a JSON Payload per event to SOHOA_KHO_URL, over TLS,
//     authenticated by a client certificate (SOHOA_KHO_CERT/SOHOA_KHO_KEY)
//     or a bearer token (SOHOA_KHO_TOKEN);
//   - header Idempotency-Key: the event's ID (EventID), the same on every
//     retry of the event, so a receiver that saw it already answers 2xx
//     again without storing it twice;
//   - any 2xx is the acknowledgement; a JSON body {"portal_ref": "…"} is
//     recorded as the Kho's reference. Anything else (another status, no
//     answer within SOHOA_KHO_TIMEOUT) is retried with exponential backoff
//     (SOHOA_KHO_BACKOFF doubling up to SOHOA_KHO_BACKOFF_MAX);
//   - per result, event n+1 is sent only after event n is acknowledged;
//   - an event that keeps failing for SOHOA_KHO_DEAD_AFTER after its first
//     failed try is dead (dead letter), and so are the later events of its
//     result; the staff dashboard counts pending and dead events.
//
// The holder's ID is in the payload body only — the Kho is the citizen's
// own store — never in a URL, a header, a log line or an object key.
package kho

import (
	"context"
	"fmt"
	"time"

	"sohoa/storage"
)

// Schema names the payload version.
const Schema = "sohoa.kho.event/v1"

// Payload is what one POST carries.
type Payload struct {
	Schema string `json:"schema"`
	// EventID is unique per event and stable across retries; it is also
	// the Idempotency-Key header.
	EventID    string    `json:"event_id"`
	EventKind  string    `json:"event_kind"` // issued, suspended, reinstated, revoked, superseded, supersedes
	EventSeq   int       `json:"event_seq"`  // 0 is the issue; per result, in order
	EventTime  time.Time `json:"event_time"` // when the change takes effect
	RecordedAt time.Time `json:"recorded_at"`

	ResultCode     string       `json:"result_code"` // {dossier}-KQ{n}
	DossierCode    string       `json:"dossier_code"`
	ProcedureCode  string       `json:"procedure_code"`
	DocumentType   DocumentType `json:"document_type"`
	OriginalNumber string       `json:"original_number,omitempty"`
	// ConvertingAgency is the agency that digitised and signed the
	// e-result; IssuingAuthority the authority that issued the paper
	// (absent when it was not read).
	ConvertingAgency Agency     `json:"converting_agency"`
	IssuingAuthority *Authority `json:"issuing_authority,omitempty"`
	IssuedAt         string     `json:"issued_at"` // YYYY-MM-DD
	Holder           Holder     `json:"holder"`
	Validity         Validity   `json:"validity"`
	EResult          EResult    `json:"e_result"`
}

// DocumentType is the result's paper type.
type DocumentType struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Agency is an agency by its code (Mã định danh điện tử) and name.
type Agency struct {
	AgencyCode string `json:"agency_code"`
	AgencyName string `json:"agency_name"`
}

// Authority is the authority that issued the paper, as printed on it.
type Authority struct {
	Name string `json:"name"`
}

// Holder identifies whose store the result belongs in.
type Holder struct {
	IDType string `json:"id_type"` // CCCD, PASSPORT, MST, MSDN
	ID     string `json:"id"`
}

// Validity is the result's validity as the event leaves it.
type Validity struct {
	Status        string  `json:"status"` // active, suspended, revoked, superseded
	EffectiveFrom string  `json:"effective_from"`
	ValidUntil    *string `json:"valid_until"` // null: no expiry
	DecisionRef   string  `json:"decision_ref,omitempty"`
	Supersedes    string  `json:"supersedes,omitempty"`
	SupersededBy  string  `json:"superseded_by,omitempty"`
}

// EResult links the signed e-result.
type EResult struct {
	VerifyURL string `json:"verify_url"` // the public verification page the QR code opens
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type"`
}

// EventID is the ID and Idempotency-Key of event seq of a result: the
// result's UUID and the seq, nothing that names the holder.
func EventID(resultID string, seq int) string { return fmt.Sprintf("sohoa-%s-%06d", resultID, seq) }

// Source is what building a payload reads: the repository's manifests and
// sealed holder IDs.
type Source interface {
	Get(ctx context.Context, resultCode string) (storage.Manifest, error)
	HolderID(ctx context.Context, m storage.Manifest) (idType, id string, err error)
}

// Build makes the payload of an outbox event. verifyURL gives the public
// verification URL of a result code. It is a function of stored data only,
// so every retry sends the same bytes.
func Build(ctx context.Context, src Source, ev storage.OutboxEvent, verifyURL func(code string) string) (Payload, error) {
	m, err := src.Get(ctx, ev.ResultCode)
	if err != nil {
		return Payload{}, fmt.Errorf("build payload: %w", err)
	}
	if m.ID != ev.ResultID {
		return Payload{}, fmt.Errorf("build payload: result %s is not the outbox event's: %w", ev.ResultCode, storage.ErrCorrupt)
	}
	idType, id, err := src.HolderID(ctx, m)
	if err != nil {
		return Payload{}, fmt.Errorf("build payload: %w", err)
	}
	p := Payload{
		Schema: Schema, EventID: EventID(ev.ResultID, ev.Seq), EventKind: ev.Kind, EventSeq: ev.Seq,
		EventTime: ev.At.UTC(), RecordedAt: ev.RecordedAt.UTC(),
		ResultCode: m.ResultCode, DossierCode: m.DossierCode, ProcedureCode: m.ProcedureCode,
		DocumentType:     DocumentType{Code: m.DocType, Name: m.DocTypeName},
		OriginalNumber:   m.OriginalNumber,
		ConvertingAgency: Agency{AgencyCode: m.ConvertingAgency.Code, AgencyName: m.ConvertingAgency.Name},
		IssuedAt:         m.IssuedAt.String(),
		Holder:           Holder{IDType: idType, ID: id},
		Validity: Validity{Status: ev.Status, EffectiveFrom: m.Effective().String(),
			DecisionRef: ev.DecisionRef, Supersedes: ev.Supersedes, SupersededBy: ev.SupersededBy},
		EResult: EResult{VerifyURL: verifyURL(m.ResultCode), SHA256: m.File.SHA256, Size: m.File.Size, MediaType: "application/pdf"},
	}
	if a := m.IssuingAuthority; a != nil && a.Name != "" {
		p.IssuingAuthority = &Authority{Name: a.Name}
	}
	if m.ValidUntil != nil {
		s := m.ValidUntil.String()
		p.Validity.ValidUntil = &s
	}
	return p, nil
}
