package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"sohoa/audit"
	"sohoa/signing"
	"sohoa/storage"
)

// ---- JSON views (no holder data: the ID and name stay sealed) ----

// agencyView is the converting agency: the one that digitised, signed and
// files the result.
type agencyView struct {
	AgencyCode string `json:"agency_code"`
	AgencyName string `json:"agency_name"`
}

// authorityView is the authority that issued the paper original, as read
// from it.
type authorityView struct {
	Name        string `json:"name"`
	SignerTitle string `json:"signer_title,omitempty"`
	SignerName  string `json:"signer_name,omitempty"`
}

// signatureFormatView says exactly what the PDF's signature is.
type signatureFormatView struct {
	// SubFilter is the signature dictionary's /SubFilter.
	SubFilter string `json:"sub_filter"`
	// Timestamp: the CMS carries an RFC 3161 signature timestamp.
	Timestamp   bool   `json:"timestamp"`
	Description string `json:"description"`
}

func viewSignature(f storage.File) *signatureFormatView {
	if f.SignatureFormat == "" {
		return nil
	}
	if f.ExternalSigner {
		// Another agency's signature, filed as it arrived: only what the
		// strict verifier saw is known of it.
		d := "signature of another agency (" + f.SignatureFormat + "), filed as it arrived and verified against SOHOA_TRUSTED_CAS"
		if f.SignatureTimestamp {
			d += "; it carries an RFC 3161 signature timestamp"
		}
		return &signatureFormatView{SubFilter: f.SignatureFormat, Timestamp: f.SignatureTimestamp, Description: d}
	}
	d := "CMS detached signature (" + f.SignatureFormat + "), SHA-256, with the ESS signing-certificate-v2 attribute; not PAdES baseline"
	if f.SignatureTimestamp {
		d = "CMS detached signature (" + f.SignatureFormat + "), SHA-256, with the ESS signing-certificate-v2 attribute and an RFC 3161 signature timestamp; not PAdES baseline"
	}
	return &signatureFormatView{SubFilter: f.SignatureFormat, Timestamp: f.SignatureTimestamp, Description: d}
}

// agencyOf is a result's converting agency. A manifest of schema version 1
// recorded only its code: the name is this server's agency's when the code
// is.
func (s *server) agencyOf(m storage.Manifest) agencyView {
	a := agencyView{AgencyCode: m.ConvertingAgency.Code, AgencyName: m.ConvertingAgency.Name}
	if a.AgencyName == "" && a.AgencyCode != "" && a.AgencyCode == s.opts.Agency.Code {
		a.AgencyName = s.opts.Agency.Name
	}
	return a
}

func viewAuthority(m storage.Manifest) *authorityView {
	if m.IssuingAuthority == nil {
		return nil
	}
	a := m.IssuingAuthority
	return &authorityView{Name: a.Name, SignerTitle: a.SignerTitle, SignerName: a.SignerName}
}

type validityView struct {
	Valid        bool      `json:"valid"`
	Reason       string    `json:"reason,omitempty"`
	EvaluatedAt  time.Time `json:"evaluated_at"`
	Status       string    `json:"status"`
	SupersededBy string    `json:"superseded_by,omitempty"`
}

type resultView struct {
	ResultCode    string `json:"result_code"`
	DossierCode   string `json:"dossier_code"`
	ProcedureCode string `json:"procedure_code"`
	DocType       string `json:"doc_type"`
	DocTypeName   string `json:"doc_type_name"`
	// ConvertingAgency digitised and signed the result; IssuingAuthority
	// (null when not read) issued the paper original.
	ConvertingAgency agencyView           `json:"converting_agency"`
	IssuingAuthority *authorityView       `json:"issuing_authority"`
	IssuedAt         string               `json:"issued_at"`
	EffectiveFrom    string               `json:"effective_from"`
	ValidUntil       *string              `json:"valid_until"`
	ValidityScope    string               `json:"validity_scope,omitempty"`
	Origin           string               `json:"origin"`
	SHA256           string               `json:"sha256"`
	Size             int64                `json:"size"`
	SigningTime      time.Time            `json:"signing_time"`
	Signature        *signatureFormatView `json:"signature,omitempty"`
	// ConvertedAt (RFC 3339, +07:00) and SourceScanSHA256 describe the
	// conversion of a digitised result; the stamp prints the same time and
	// hash (its first 16 hex digits).
	ConvertedAt      *time.Time `json:"converted_at,omitempty"`
	SourceScanSHA256 string     `json:"source_scan_sha256,omitempty"`
	// DataSHA256 is the SHA-256 of the data document embedded in the PDF
	// (GET /v1/results/{code}/data); absent for results issued before it.
	DataSHA256 string       `json:"data_sha256,omitempty"`
	Validity   validityView `json:"validity"`
	// Access is the handle reading this result by code needs (search
	// answers only; see access.go).
	Access          string     `json:"access,omitempty"`
	AccessExpiresAt *time.Time `json:"access_expires_at,omitempty"`
}

func viewValidity(v storage.Validity) validityView {
	return validityView{Valid: v.Valid, Reason: v.Reason, EvaluatedAt: v.EvaluatedAt.UTC(),
		Status: v.Status, SupersededBy: v.SupersededBy}
}

func (s *server) viewResult(m storage.Manifest, v storage.Validity) resultView {
	rv := resultView{ResultCode: m.ResultCode, DossierCode: m.DossierCode, ProcedureCode: m.ProcedureCode,
		DocType: m.DocType, DocTypeName: m.DocTypeName,
		ConvertingAgency: s.agencyOf(m), IssuingAuthority: viewAuthority(m),
		IssuedAt: m.IssuedAt.String(), EffectiveFrom: m.Effective().String(), ValidityScope: m.ValidityScope,
		Origin: m.Origin, SHA256: m.File.SHA256, Size: m.File.Size, SigningTime: m.File.SigningTime.UTC(),
		Signature: viewSignature(m.File), DataSHA256: m.File.DataSHA256,
		Validity: viewValidity(v)}
	if d := m.Digitization; d != nil {
		t := d.ScannedAt.Truncate(time.Second).In(storage.Vietnam())
		rv.ConvertedAt, rv.SourceScanSHA256 = &t, d.SourceScanSHA256
	}
	if m.ValidUntil != nil {
		s := m.ValidUntil.String()
		rv.ValidUntil = &s
	}
	return rv
}

// ---- helpers ----

// decodeBody reads one JSON object of at most limit bytes, refusing unknown
// fields. It answers the error itself and returns false on failure.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	e := entryFrom(r.Context())
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e.decide(audit.Deny, "body_too_large")
			WriteError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
			return false
		}
		e.decide(audit.Deny, "bad_body")
		WriteError(w, http.StatusBadRequest, "bad_request", "request body must be one JSON object of the documented shape")
		return false
	}
	return true
}

// parseTime reads an optional RFC 3339 time; empty is now.
func (s *server) parseTime(v string) (time.Time, bool) {
	if v == "" {
		return s.now(), true
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// canonicalCode parses the {code} path value. Only a well-formed result code
// is recorded in the audit log.
func canonicalCode(r *http.Request) (string, bool) {
	code, _, _, err := storage.ParseResultCode(r.PathValue("code"))
	if err != nil {
		return "", false
	}
	entryFrom(r.Context()).rec.ResultCode = code
	return code, true
}

// lookup returns the manifest of a result the client may see. Unknown,
// malformed and forbidden codes all answer the same 404. With inContext, the
// read needs an access handle from a search for that result's citizen
// (access.go) unless the client may read by code; either way the audit
// record names the holder's hash.
func (s *server) lookup(w http.ResponseWriter, r *http.Request, id identity, inContext bool) (storage.Manifest, bool) {
	e := entryFrom(r.Context())
	code, ok := canonicalCode(r)
	if !ok {
		e.decide(audit.Deny, "not_found")
		WriteError(w, http.StatusNotFound, "not_found", "no such result")
		return storage.Manifest{}, false
	}
	if inContext && !id.client.HasScope(ScopeReadByCode) {
		tok := r.URL.Query().Get("access")
		if tok == "" {
			tok = r.Header.Get("X-Sohoa-Access")
		}
		if tok == "" {
			e.decide(audit.Deny, "citizen_context_required")
			WriteError(w, http.StatusForbidden, "citizen_context_required",
				"read a result with the access handle POST /v1/results:search returns for it (?access=…); reading by code alone needs the read_by_code scope")
			return storage.Manifest{}, false
		}
		hash, err := s.access.check(tok, id.client.ID, code, s.now())
		if err != nil {
			e.decide(audit.Deny, "bad_access")
			WriteError(w, http.StatusForbidden, "bad_access", errBadAccess.Error())
			return storage.Manifest{}, false
		}
		e.rec.CitizenHash = hash
	}
	m, err := s.opts.Repo.Get(r.Context(), code)
	switch {
	case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid):
		e.decide(audit.Deny, "not_found")
		WriteError(w, http.StatusNotFound, "not_found", "no such result")
		return m, false
	case err != nil:
		s.repoError(w, r, err)
		return m, false
	case !id.client.AllowsDocType(m.DocType):
		e.decide(audit.Deny, "doc_type_not_allowed")
		WriteError(w, http.StatusNotFound, "not_found", "no such result")
		return m, false
	}
	if e.rec.CitizenHash == "" {
		// A read by code: record whose result it was.
		idType, holder, err := s.opts.Repo.HolderID(r.Context(), m)
		if err != nil {
			s.repoError(w, r, err)
			return m, false
		}
		e.rec.CitizenHash = audit.CitizenHash(s.opts.AuditKey, idType, holder)
	}
	return m, true
}

func (s *server) repoError(w http.ResponseWriter, r *http.Request, err error) {
	e := entryFrom(r.Context())
	if errors.Is(err, storage.ErrCorrupt) {
		e.decide(audit.Deny, "integrity_failure")
		s.log.Error("repository integrity failure", "request_id", e.rec.RequestID, "result_code", e.rec.ResultCode, "err", err)
		WriteError(w, http.StatusBadGateway, "integrity_failure", "stored data failed its integrity check")
		return
	}
	e.decide(audit.Deny, "repository_error")
	s.log.Error("repository error", "request_id", e.rec.RequestID, "err", err)
	WriteError(w, http.StatusServiceUnavailable, "unavailable", "the repository is unavailable; try again later")
}

// ---- POST /v1/results:search ----

type searchRequest struct {
	HolderIDType   string `json:"holder_id_type"`
	HolderID       string `json:"holder_id"`
	DocTypeCode    string `json:"doc_type_code,omitempty"`
	ValidAt        string `json:"valid_at,omitempty"`
	IncludeHistory bool   `json:"include_history,omitempty"`
}

type searchResponse struct {
	EvaluatedAt time.Time    `json:"evaluated_at"`
	Results     []resultView `json:"results"`
}

func (s *server) search(w http.ResponseWriter, r *http.Request, id identity) {
	e := entryFrom(r.Context())
	var req searchRequest
	if !decodeBody(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	idType, holder, err := storage.NormalizeHolderID(req.HolderIDType, req.HolderID)
	if err != nil {
		e.decide(audit.Deny, "bad_holder_id")
		WriteError(w, http.StatusBadRequest, "bad_holder_id",
			"holder_id_type must be CCCD, PASSPORT, MST or MSDN and holder_id must have that type's format")
		return
	}
	e.rec.CitizenHash = audit.CitizenHash(s.opts.AuditKey, idType, holder)
	at, ok := s.parseTime(req.ValidAt)
	if !ok {
		e.decide(audit.Deny, "bad_valid_at")
		WriteError(w, http.StatusBadRequest, "bad_valid_at", "valid_at must be an RFC 3339 time")
		return
	}
	if req.DocTypeCode != "" && !id.client.AllowsDocType(req.DocTypeCode) {
		e.decide(audit.Deny, "doc_type_not_allowed")
		WriteError(w, http.StatusForbidden, "forbidden", "this client may not read this document type")
		return
	}
	hits, err := s.opts.Repo.Search(r.Context(), storage.Query{IDType: idType, ID: holder,
		DocType: req.DocTypeCode, ValidAt: at, IncludeHistory: req.IncludeHistory})
	if err != nil {
		s.repoError(w, r, err)
		return
	}
	resp := searchResponse{EvaluatedAt: at.UTC(), Results: []resultView{}}
	for _, h := range hits {
		if !id.client.AllowsDocType(h.DocType) {
			continue
		}
		rv := s.viewResult(h.Manifest, h.Validity)
		tok, exp := s.access.issue(id.client.ID, h.ResultCode, e.rec.CitizenHash, s.now())
		rv.Access, rv.AccessExpiresAt = tok, &exp
		resp.Results = append(resp.Results, rv)
		e.rec.Returned = append(e.rec.Returned, audit.Returned{ResultCode: h.ResultCode, SHA256: h.File.SHA256})
	}
	e.decide(audit.Allow, "scope:search")
	WriteJSON(w, http.StatusOK, resp)
}

// ---- GET /v1/results/{code} ----

// metadataView is a result's metadata: the search's view plus its
// synchronisation to the citizen's data store (Kho).
type metadataView struct {
	resultView
	SyncState syncStateView `json:"sync_state"`
}

// syncStateView is storage.SyncState: state pending (an event waits, or
// none is recorded yet), delivered (the Kho acknowledged every event) or
// dead (an event was given up); event counts; the last try and the last
// acknowledgement (null before the first).
type syncStateView struct {
	State         string     `json:"state"`
	Events        int        `json:"events"`
	Delivered     int        `json:"delivered"`
	Pending       int        `json:"pending"`
	Dead          int        `json:"dead"`
	LastAttemptAt *time.Time `json:"last_attempt_at"`
	SyncedAt      *time.Time `json:"synced_at"`
	PortalRef     string     `json:"portal_ref,omitempty"`
}

func viewSyncState(st storage.SyncState) syncStateView {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return syncStateView{State: st.State, Events: st.Events, Delivered: st.Delivered, Pending: st.Pending, Dead: st.Dead,
		LastAttemptAt: utc(st.LastAttemptAt), SyncedAt: utc(st.SyncedAt), PortalRef: st.PortalRef}
}

func (s *server) metadata(w http.ResponseWriter, r *http.Request, id identity) {
	m, v, ok := s.resultAt(w, r, id, true)
	if !ok {
		return
	}
	st, err := s.opts.Repo.SyncStateOfResult(r.Context(), m)
	if err != nil {
		s.repoError(w, r, err)
		return
	}
	entryFrom(r.Context()).decide(audit.Allow, "scope:search")
	WriteJSON(w, http.StatusOK, metadataView{resultView: s.viewResult(m, v), SyncState: viewSyncState(st)})
}

// resultAt resolves the result named in the path and its validity at the
// query's valid_at (default now), recording what is returned in the audit
// entry. On false, the error response is written.
func (s *server) resultAt(w http.ResponseWriter, r *http.Request, id identity, inContext bool) (storage.Manifest, storage.Validity, bool) {
	e := entryFrom(r.Context())
	at, ok := s.parseTime(r.URL.Query().Get("valid_at"))
	if !ok {
		e.decide(audit.Deny, "bad_valid_at")
		WriteError(w, http.StatusBadRequest, "bad_valid_at", "valid_at must be an RFC 3339 time")
		return storage.Manifest{}, storage.Validity{}, false
	}
	m, ok := s.lookup(w, r, id, inContext)
	if !ok {
		return m, storage.Validity{}, false
	}
	v, err := s.opts.Repo.Validity(r.Context(), m.ResultCode, at)
	if err != nil {
		s.repoError(w, r, err)
		return m, v, false
	}
	e.rec.Returned = []audit.Returned{{ResultCode: m.ResultCode, SHA256: m.File.SHA256}}
	return m, v, true
}

// ---- GET /v1/results/{code}/status ----

type statusView struct {
	ResultCode string `json:"result_code"`
	SHA256     string `json:"sha256"`
	validityView
}

func (s *server) status(w http.ResponseWriter, r *http.Request, id identity) {
	m, v, ok := s.resultAt(w, r, id, false)
	if !ok {
		return
	}
	entryFrom(r.Context()).decide(audit.Allow, "scope:status")
	w.Header().Set("Cache-Control", "private, max-age=300")
	WriteJSON(w, http.StatusOK, statusView{ResultCode: m.ResultCode, SHA256: m.File.SHA256, validityView: viewValidity(v)})
}

// ---- GET /v1/results/{code}/pdf ----

// pdf reads the whole signed PDF (bounded by MaxPDFBytes), checks it
// against the manifest's sha256 and only then sends it: a checksum failure is
// a 502 and never corrupt bytes.
func (s *server) pdf(w http.ResponseWriter, r *http.Request, id identity) {
	e := entryFrom(r.Context())
	m, ok := s.lookup(w, r, id, true)
	if !ok {
		return
	}
	data, err := s.storedPDF(r, m)
	if err != nil {
		s.repoError(w, r, err)
		return
	}
	e.rec.Returned = []audit.Returned{{ResultCode: m.ResultCode, SHA256: m.File.SHA256}}
	e.decide(audit.Allow, "scope:read_pdf")
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("ETag", `"`+m.File.SHA256+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": m.ResultCode + ".pdf"}))
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// ---- POST /v1/verify ----

type verifyRequest struct {
	SHA256 string `json:"sha256"`
}

type signatureView struct {
	Checked bool `json:"checked"`
	Valid   bool `json:"valid"`
	// Anchor is the trust anchor a valid signature chains to: AnchorOwnCA
	// or AnchorTrustedAgency; Signer the signing certificate's subject
	// common name.
	Anchor string `json:"anchor,omitempty"`
	Signer string `json:"signer,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Trust anchors of a valid uploaded signature.
const (
	// AnchorOwnCA: this agency's signer CAs (SOHOA_TRUST_CA), which sign
	// its own e-results.
	AnchorOwnCA = "own_ca"
	// AnchorTrustedAgency: the CA of another agency this one trusts
	// (SOHOA_TRUSTED_CAS), whose e-results it files as they are.
	AnchorTrustedAgency = "trusted_agency"
)

type verifyResponse struct {
	SHA256    string `json:"sha256"`
	Integrity struct {
		// Matched: a stored result has exactly what this file's valid
		// signature covers (an upload), or exactly this hash (a hash).
		Matched    bool   `json:"matched"`
		ResultCode string `json:"result_code,omitempty"`
		// Identical: the file is byte for byte the stored result. An upload
		// can be Matched and not Identical: only the unsigned encoding of
		// its signature value differs.
		Identical bool `json:"identical"`
	} `json:"integrity"`
	Signature signatureView `json:"signature"`
	Status    *validityView `json:"status"`
	// ConvertingAgency and IssuingAuthority of the matched result.
	ConvertingAgency *agencyView    `json:"converting_agency"`
	IssuingAuthority *authorityView `json:"issuing_authority"`
}

// pdfRefusals are the verifier's errors that refuse an upload as hostile or
// broken (422): it exceeded the verifier's bounds, killed it or stalled it.
var pdfRefusals = []struct {
	err        error
	rule, code string
	msg        string
}{
	{signing.ErrLimit, "pdf_refused_limit", "signature_structure_refused", "the signature's structure exceeds the verifier's limits"},
	{signing.ErrChildCrashed, "pdf_refused_crash", "verifier_crashed", "the file made the verifier fail; it is not a valid e-result"},
	{signing.ErrChildTimeout, "pdf_refused_timeout", "verify_timeout", "verifying the file took too long; it is not a valid e-result"},
}

func (s *server) verify(w http.ResponseWriter, r *http.Request, id identity) {
	e := entryFrom(r.Context())
	var resp verifyResponse
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/pdf":
		data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxPDFBytes))
		if err != nil {
			e.decide(audit.Deny, "body_too_large")
			WriteError(w, http.StatusRequestEntityTooLarge, "body_too_large", "PDF too large")
			return
		}
		sum := sha256.Sum256(data)
		resp.SHA256 = hex.EncodeToString(sum[:])
		if s.opts.VerifyPDF != nil {
			s.verifyUpload(w, r, id, data, &resp)
			return
		}
	case "application/json":
		var req verifyRequest
		if !decodeBody(w, r, s.opts.MaxBodyBytes, &req) {
			return
		}
		resp.SHA256 = strings.ToLower(strings.TrimPrefix(req.SHA256, "sha256:"))
		if len(resp.SHA256) != 64 || strings.Trim(resp.SHA256, "0123456789abcdef") != "" {
			e.decide(audit.Deny, "bad_sha256")
			WriteError(w, http.StatusBadRequest, "bad_sha256", "sha256 must be 64 hex digits")
			return
		}
	default:
		e.decide(audit.Deny, "bad_content_type")
		WriteError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send application/pdf (the file) or application/json ({\"sha256\":…})")
		return
	}
	// A hash, or an upload without a signature check: only identical
	// bytes identify a result.
	resp.Signature.Detail = "not checked: only the hash was compared"
	m, err := s.opts.Repo.BySHA256(r.Context(), resp.SHA256)
	switch {
	case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid):
		s.answerVerify(w, r, id, &resp, nil)
	case err != nil:
		s.repoError(w, r, err)
	default:
		s.answerVerify(w, r, id, &resp, &m)
	}
}

// verifyUpload checks an uploaded PDF's signature and finds the result by
// what is signed: the result code in its signed metadata, confirmed by the
// digest of its signed bytes. The whole file's hash changes with the
// unsigned encoding of the signature value, so it cannot identify a result.
// A signature this agency's CAs do not validate is checked against the
// other agencies' (VerifyAgencyPDF); such a file names no result of ours in
// its metadata, so only its exact bytes (a signed input filed as it is)
// identify one.
func (s *server) verifyUpload(w http.ResponseWriter, r *http.Request, id identity, data []byte, resp *verifyResponse) {
	e := entryFrom(r.Context())
	resp.Signature.Checked = true
	v, err := s.opts.VerifyPDF(r.Context(), data)
	if !s.verifierAnswered(w, r, data, v, err) {
		return
	}
	anchor := AnchorOwnCA
	if (err == nil && !v.Valid || errors.Is(err, signing.ErrInvalid)) && s.opts.VerifyAgencyPDF != nil {
		av, aerr := s.opts.VerifyAgencyPDF(r.Context(), data)
		if !s.verifierAnswered(w, r, data, av, aerr) {
			return
		}
		if aerr == nil && av.Valid {
			v, err, anchor = av, nil, AnchorTrustedAgency
		}
	}
	if err != nil || !v.Valid {
		// An invalid signature names nothing: its metadata may say anything.
		resp.Signature.Detail = "signature verification failed"
		s.answerVerify(w, r, id, resp, nil)
		return
	}
	resp.Signature.Valid, resp.Signature.Anchor, resp.Signature.Signer = true, anchor, v.Signer
	if anchor == AnchorTrustedAgency {
		resp.Signature.Detail = "signed by another agency trusted by this one"
		m, err := s.opts.Repo.BySHA256(r.Context(), resp.SHA256)
		switch {
		case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid):
			s.answerVerify(w, r, id, resp, nil)
		case err != nil:
			s.repoError(w, r, err)
		default:
			s.answerVerify(w, r, id, resp, &m)
		}
		return
	}
	if v.ResultCode == "" {
		s.answerVerify(w, r, id, resp, nil)
		return
	}
	m, err := s.opts.Repo.Get(r.Context(), v.ResultCode)
	switch {
	case errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalid):
		s.answerVerify(w, r, id, resp, nil)
		return
	case err != nil:
		s.repoError(w, r, err)
		return
	}
	if m.File.SHA256 != resp.SHA256 {
		// Not the stored bytes: the stored result's signed bytes must be
		// this file's.
		stored, err := s.storedPDF(r, m)
		if err != nil {
			s.repoError(w, r, err)
			return
		}
		if d, err := signing.SignedSHA256(stored); err != nil || d != v.SignedSHA256 {
			s.log.Warn("validly signed file names a result whose signed bytes differ", "request_id", e.rec.RequestID,
				"result_code", m.ResultCode)
			s.answerVerify(w, r, id, resp, nil)
			return
		}
	}
	s.answerVerify(w, r, id, resp, &m)
}

// verifierAnswered reports whether a verifier gave a verdict (valid or
// not); otherwise it has answered the request: 422 for a file the verifier
// refused, 503 when the verifier itself failed or the client went away.
func (s *server) verifierAnswered(w http.ResponseWriter, r *http.Request, data []byte, v signing.Verdict, err error) bool {
	e := entryFrom(r.Context())
	for _, ref := range pdfRefusals {
		if errors.Is(err, ref.err) {
			msg := ref.msg
			if len(v.Reasons) > 0 {
				msg += ": " + v.Reasons[0]
			}
			e.decide(audit.Deny, ref.rule)
			s.log.Warn("PDF refused by the verifier", "request_id", e.rec.RequestID, "rule", ref.rule, "bytes", len(data), "err", err)
			WriteError(w, http.StatusUnprocessableEntity, ref.code, msg)
			return false
		}
	}
	switch {
	case err == nil, errors.Is(err, signing.ErrInvalid), errors.Is(err, signing.ErrNotPDF):
		return true
	case r.Context().Err() != nil:
		e.decide(audit.Deny, "client_gone")
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "the request ended before the file was verified")
	default:
		e.decide(audit.Deny, "verifier_unavailable")
		s.log.Error("verifier unavailable", "request_id", e.rec.RequestID, "err", err)
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "the verifier is unavailable; try again later")
	}
	return false
}

// storedPDF reads a result's signed PDF, bounded by MaxPDFBytes and checked
// against its manifest's sha256.
func (s *server) storedPDF(r *http.Request, m storage.Manifest) ([]byte, error) {
	rc, _, err := s.opts.Repo.OpenPDF(r.Context(), m.ResultCode)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, s.opts.MaxPDFBytes+1))
	if err == nil && int64(len(data)) > s.opts.MaxPDFBytes {
		err = errors.New("stored PDF exceeds the size limit")
	}
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != m.File.SHA256 {
		return nil, storage.ErrCorrupt
	}
	return data, nil
}

// answerVerify writes the verification of a file that is the stored result
// m (nil: none, or one the client may not see, which answers the same).
func (s *server) answerVerify(w http.ResponseWriter, r *http.Request, id identity, resp *verifyResponse, m *storage.Manifest) {
	e := entryFrom(r.Context())
	switch {
	case m == nil:
		e.decide(audit.Allow, "scope:verify")
	case !id.client.AllowsDocType(m.DocType):
		e.decide(audit.Allow, "scope:verify:doc_type_hidden")
	default:
		e.rec.ResultCode = m.ResultCode
		v, err := s.opts.Repo.Validity(r.Context(), m.ResultCode, s.now())
		if err != nil {
			s.repoError(w, r, err)
			return
		}
		resp.Integrity.Matched, resp.Integrity.ResultCode = true, m.ResultCode
		resp.Integrity.Identical = resp.SHA256 == m.File.SHA256
		vv := viewValidity(v)
		resp.Status = &vv
		ag := s.agencyOf(*m)
		resp.ConvertingAgency, resp.IssuingAuthority = &ag, viewAuthority(*m)
		e.rec.Returned = []audit.Returned{{ResultCode: m.ResultCode, SHA256: m.File.SHA256}}
		e.decide(audit.Allow, "scope:verify")
	}
	WriteJSON(w, http.StatusOK, resp)
}

// ---- POST /v1/results/{code}/revoke ----

type revokeRequest struct {
	DecisionRef string `json:"decision_ref"`
	ReasonCode  string `json:"reason_code,omitempty"`
	EffectiveAt string `json:"effective_at,omitempty"`
}

func (s *server) revoke(w http.ResponseWriter, r *http.Request, id identity) {
	e := entryFrom(r.Context())
	var req revokeRequest
	if !decodeBody(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	at, okAt := s.parseTime(req.EffectiveAt)
	switch {
	case req.DecisionRef == "" || len(req.DecisionRef) > 128 || digitRunRe.MatchString(req.DecisionRef):
		e.decide(audit.Deny, "decision_ref_required")
		WriteError(w, http.StatusBadRequest, "decision_ref_required",
			"decision_ref (the number of the revocation decision, at most 128 characters) is required")
		return
	case len(req.ReasonCode) > 64:
		e.decide(audit.Deny, "bad_body")
		WriteError(w, http.StatusBadRequest, "bad_request", "reason_code is at most 64 characters")
		return
	case !okAt:
		e.decide(audit.Deny, "bad_effective_at")
		WriteError(w, http.StatusBadRequest, "bad_effective_at", "effective_at must be an RFC 3339 time")
		return
	}
	m, ok := s.lookup(w, r, id, false)
	if !ok {
		return
	}
	if !id.client.MayChangeValidity(m.ConvertingAgency.Code) {
		e.decide(audit.Deny, "not_issuing_agency")
		WriteError(w, http.StatusForbidden, "forbidden", "this client may change the validity only of results its own agency issued")
		return
	}
	err := s.opts.Repo.AppendStatus(r.Context(), m.ResultCode, storage.StatusEvent{At: at, Status: storage.StatusRevoked,
		ReasonCode: req.ReasonCode, DecisionRef: req.DecisionRef, Actor: "client:" + id.client.ID})
	switch {
	case errors.Is(err, storage.ErrExists):
		e.decide(audit.Deny, "already_recorded")
		WriteError(w, http.StatusConflict, "already_revoked", "the result is already revoked under this decision")
		return
	case errors.Is(err, storage.ErrConflict):
		e.decide(audit.Deny, "invalid_transition")
		WriteError(w, http.StatusConflict, "invalid_transition", "the result's status cannot be revoked: it is already revoked or superseded, or a final change is already scheduled")
		return
	case errors.Is(err, storage.ErrInvalid):
		e.decide(audit.Deny, "bad_effective_at")
		WriteError(w, http.StatusBadRequest, "bad_effective_at",
			"effective_at must lie on or after the result's issue date and its filing, and at most one year from now")
		return
	case err != nil:
		s.repoError(w, r, err)
		return
	}
	v, err := s.opts.Repo.Validity(r.Context(), m.ResultCode, s.now())
	if err != nil {
		s.repoError(w, r, err)
		return
	}
	e.rec.Returned = []audit.Returned{{ResultCode: m.ResultCode, SHA256: m.File.SHA256}}
	e.decide(audit.Allow, "scope:revoke")
	WriteJSON(w, http.StatusOK, statusView{ResultCode: m.ResultCode, SHA256: m.File.SHA256, validityView: viewValidity(v)})
}
