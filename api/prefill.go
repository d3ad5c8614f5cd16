package api

// prefill.go answers the two "never hand in again" questions another
// agency asks about a citizen: which values the repository already holds
// to pre-fill a form (POST /v1/prefill), and which of a procedure's
// required papers the citizen already has as valid e-results (POST
// /v1/dossier-check). Both read only results valid at the evaluation time
// (storage.Repository.Search without history: not revoked, suspended,
// superseded, expired or not yet effective), only of the document types
// the client may read, and are audited like every read: the citizen's
// hash, the results used and, for a pre-fill, the names of the fields
// released.

import (
	"net/http"
	"slices"
	"sort"
	"time"

	"sohoa/api/reuse"
	"sohoa/audit"
	"sohoa/storage"
)

// maxPrefillFields bounds the fields one pre-fill may ask for.
const maxPrefillFields = 64

type prefillRequest struct {
	HolderIDType string   `json:"holder_id_type"`
	HolderID     string   `json:"holder_id"`
	Fields       []string `json:"fields,omitempty"`
	Procedure    string   `json:"procedure,omitempty"`
	ValidAt      string   `json:"valid_at,omitempty"`
}

// provenanceView says where a value comes from.
type provenanceView struct {
	ResultCode  string `json:"result_code"`
	DocType     string `json:"doc_type"`
	DocTypeName string `json:"doc_type_name"`
	IssuedAt    string `json:"issued_at"`
	// VerifiedByPerson: a reviewer confirmed the document's fields before
	// it was issued; otherwise the value is the OCR reading alone.
	VerifiedByPerson bool    `json:"verified_by_person"`
	Confidence       float64 `json:"confidence"`
}

// prefillValue is one distinct value of a field, with every valid result
// that holds it, newest first.
type prefillValue struct {
	Value   string           `json:"value"`
	Sources []provenanceView `json:"sources"`
}

// prefillField is one field's distinct values, the newest result's first;
// Conflict is set when valid results disagree (more than one value).
type prefillField struct {
	Values   []prefillValue `json:"values"`
	Conflict bool           `json:"conflict"`
}

type prefillResponse struct {
	EvaluatedAt       time.Time               `json:"evaluated_at"`
	VocabularyVersion string                  `json:"vocabulary_version"`
	Procedure         string                  `json:"procedure,omitempty"`
	Fields            map[string]prefillField `json:"fields"`
	// Withheld: asked for, but outside this client's prefill_fields.
	Withheld []string `json:"withheld"`
	// NotFound: released to this client, but no valid result holds it.
	NotFound []string `json:"not_found"`
}

// holderQuery reads the holder and validity time of a body, recording the
// holder's hash. On false, the error response is written.
func (s *server) holderQuery(w http.ResponseWriter, r *http.Request, idType, id, validAt string) (storage.Query, bool) {
	e := entryFrom(r.Context())
	t, n, err := storage.NormalizeHolderID(idType, id)
	if err != nil {
		e.decide(audit.Deny, "bad_holder_id")
		WriteError(w, http.StatusBadRequest, "bad_holder_id",
			"holder_id_type must be CCCD, PASSPORT, MST or MSDN and holder_id must have that type's format")
		return storage.Query{}, false
	}
	e.rec.CitizenHash = audit.CitizenHash(s.opts.AuditKey, t, n)
	at, ok := s.parseTime(validAt)
	if !ok {
		e.decide(audit.Deny, "bad_valid_at")
		WriteError(w, http.StatusBadRequest, "bad_valid_at", "valid_at must be an RFC 3339 time")
		return storage.Query{}, false
	}
	return storage.Query{IDType: t, ID: n, ValidAt: at}, true
}

// procedure resolves a body's procedure code in the configured table,
// recording it. On false, the error response is written.
func (s *server) procedure(w http.ResponseWriter, r *http.Request, code string) (reuse.Procedure, bool) {
	e := entryFrom(r.Context())
	if !validProcedure(code) {
		e.decide(audit.Deny, "bad_procedure")
		WriteError(w, http.StatusBadRequest, "bad_procedure", "procedure must be a procedure code such as 1.004873")
		return reuse.Procedure{}, false
	}
	e.rec.Target = code
	p, ok := s.opts.Procedures.Lookup(code)
	if !ok {
		e.decide(audit.Deny, "unknown_procedure")
		WriteError(w, http.StatusNotFound, "unknown_procedure", "no dossier requirements are configured for this procedure")
		return p, false
	}
	return p, true
}

// validHits are the holder's results valid at q.ValidAt that the client
// may read, newest issue date first.
func (s *server) validHits(w http.ResponseWriter, r *http.Request, id identity, q storage.Query) ([]storage.Hit, bool) {
	hits, err := s.opts.Repo.Search(r.Context(), q)
	if err != nil {
		s.repoError(w, r, err)
		return nil, false
	}
	return slices.DeleteFunc(hits, func(h storage.Hit) bool { return !h.Validity.Valid || !id.client.AllowsDocType(h.DocType) }), true
}

// ---- POST /v1/prefill ----

func (s *server) prefill(w http.ResponseWriter, r *http.Request, id identity) {
	e := entryFrom(r.Context())
	var req prefillRequest
	if !decodeBody(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	q, ok := s.holderQuery(w, r, req.HolderIDType, req.HolderID, req.ValidAt)
	if !ok {
		return
	}
	vocab := s.opts.Vocabulary
	asked := req.Fields
	switch {
	case (req.Procedure == "") == (len(req.Fields) == 0):
		e.decide(audit.Deny, "bad_body")
		WriteError(w, http.StatusBadRequest, "bad_request", "give either fields (vocabulary field names) or procedure")
		return
	case req.Procedure != "":
		p, ok := s.procedure(w, r, req.Procedure)
		if !ok {
			return
		}
		asked = p.FormFields
	case len(req.Fields) > maxPrefillFields:
		e.decide(audit.Deny, "bad_body")
		WriteError(w, http.StatusBadRequest, "bad_request", "at most 64 fields per request")
		return
	}
	resp := prefillResponse{EvaluatedAt: q.ValidAt.UTC(), VocabularyVersion: vocab.Version(), Procedure: req.Procedure,
		Fields: map[string]prefillField{}, Withheld: []string{}, NotFound: []string{}}
	released := map[string]bool{}
	var want []string
	for _, f := range asked {
		if _, known := vocab.Field(f); !known {
			e.decide(audit.Deny, "unknown_field")
			WriteError(w, http.StatusBadRequest, "unknown_field",
				"every field must be a name of the pre-fill vocabulary version "+vocab.Version())
			return
		}
		switch {
		case released[f] || slices.Contains(resp.Withheld, f):
		case id.client.MayReceiveField(f):
			released[f] = true
			want = append(want, f)
		default:
			resp.Withheld = append(resp.Withheld, f)
		}
	}
	if len(want) > 0 {
		hits, ok := s.validHits(w, r, id, q)
		if !ok {
			return
		}
		if !s.collectFields(w, r, q, hits, released, &resp) {
			return
		}
	}
	var names []string
	for _, f := range want {
		if _, ok := resp.Fields[f]; ok {
			names = append(names, f)
		} else {
			resp.NotFound = append(resp.NotFound, f)
		}
	}
	sort.Strings(names)
	e.rec.Released = names
	e.decide(audit.Allow, "scope:search:prefill")
	WriteJSON(w, http.StatusOK, resp)
}

// collectFields fills resp.Fields with the wanted fields' values from hits
// (newest first), and the audit entry with the results used.
func (s *server) collectFields(w http.ResponseWriter, r *http.Request, q storage.Query, hits []storage.Hit, want map[string]bool, resp *prefillResponse) bool {
	e := entryFrom(r.Context())
	vocab := s.opts.Vocabulary
	keyIndex := map[string]map[string]int{} // field → comparison key → index in Values
	for _, h := range hits {
		table := vocab.Mapping(h.DocType)
		slugs := make([]string, 0, len(table))
		for slug, f := range table {
			if want[f] {
				slugs = append(slugs, slug)
			}
		}
		if len(slugs) == 0 {
			continue // nothing wanted in this type: its fields stay sealed
		}
		sort.Strings(slugs)
		sealed, err := s.opts.Repo.Sealed(r.Context(), h.Manifest)
		if err != nil {
			s.repoError(w, r, err)
			return false
		}
		if sealed.IDType != q.IDType || sealed.ID != q.ID {
			// The index named this result for another holder: never
			// release it.
			s.log.Error("index entry names a result of another holder", "request_id", e.rec.RequestID, "result_code", h.ResultCode)
			continue
		}
		used := false
		for _, slug := range slugs {
			ef, ok := sealed.Extracted[slug]
			if !ok {
				continue
			}
			f := table[slug]
			value, key := vocab.Normalize(f, ef.Value)
			if value == "" {
				continue
			}
			src := provenanceView{ResultCode: h.ResultCode, DocType: h.DocType, DocTypeName: h.DocTypeName,
				IssuedAt: h.IssuedAt.String(), VerifiedByPerson: ef.VerifiedBy != "", Confidence: ef.Confidence}
			pf := resp.Fields[f]
			if keyIndex[f] == nil {
				keyIndex[f] = map[string]int{}
			}
			if i, seen := keyIndex[f][key]; seen {
				if !slices.ContainsFunc(pf.Values[i].Sources, func(p provenanceView) bool { return p.ResultCode == h.ResultCode }) {
					pf.Values[i].Sources = append(pf.Values[i].Sources, src)
				}
			} else {
				keyIndex[f][key] = len(pf.Values)
				pf.Values = append(pf.Values, prefillValue{Value: value, Sources: []provenanceView{src}})
			}
			pf.Conflict = len(pf.Values) > 1
			resp.Fields[f] = pf
			used = true
		}
		if used {
			e.rec.Returned = append(e.rec.Returned, audit.Returned{ResultCode: h.ResultCode, SHA256: h.File.SHA256})
		}
	}
	return true
}

// ---- POST /v1/dossier-check ----

type dossierCheckRequest struct {
	HolderIDType string `json:"holder_id_type"`
	HolderID     string `json:"holder_id"`
	Procedure    string `json:"procedure"`
	ValidAt      string `json:"valid_at,omitempty"`
}

// paperResult is one valid e-result that answers a required paper; Access
// reads it (GET /v1/results/{code}?access=…), as a search's does.
type paperResult struct {
	ResultCode      string    `json:"result_code"`
	IssuedAt        string    `json:"issued_at"`
	ValidUntil      *string   `json:"valid_until"`
	Access          string    `json:"access"`
	AccessExpiresAt time.Time `json:"access_expires_at"`
}

// paper is one required document type.
type paper struct {
	DocType     string        `json:"doc_type"`
	DocTypeName string        `json:"doc_type_name,omitempty"`
	Results     []paperResult `json:"results,omitempty"`
}

type dossierCheckResponse struct {
	EvaluatedAt   time.Time `json:"evaluated_at"`
	Procedure     string    `json:"procedure"`
	ProcedureName string    `json:"procedure_name"`
	// Complete: every required paper is on file; nothing to hand in.
	Complete bool `json:"complete"`
	// OnFile: required papers the citizen holds as valid e-results
	// (newest first); the agency reuses them instead of asking again.
	OnFile []paper `json:"on_file"`
	// ToSubmit: required papers without a valid e-result: the citizen
	// hands them in.
	ToSubmit []paper `json:"to_submit"`
	// NotChecked: required papers of document types this client may not
	// read; the answer cannot say whether they are on file.
	NotChecked []paper `json:"not_checked"`
}

func (s *server) dossierCheck(w http.ResponseWriter, r *http.Request, id identity) {
	e := entryFrom(r.Context())
	var req dossierCheckRequest
	if !decodeBody(w, r, s.opts.MaxBodyBytes, &req) {
		return
	}
	q, ok := s.holderQuery(w, r, req.HolderIDType, req.HolderID, req.ValidAt)
	if !ok {
		return
	}
	p, ok := s.procedure(w, r, req.Procedure)
	if !ok {
		return
	}
	hits, ok := s.validHits(w, r, id, q)
	if !ok {
		return
	}
	resp := dossierCheckResponse{EvaluatedAt: q.ValidAt.UTC(), Procedure: p.Code, ProcedureName: p.Name,
		OnFile: []paper{}, ToSubmit: []paper{}, NotChecked: []paper{}}
	now := s.now()
	for _, dt := range p.RequiredDocTypes {
		pp := paper{DocType: dt, DocTypeName: s.opts.DocTypeNames[dt]}
		if !id.client.AllowsDocType(dt) {
			resp.NotChecked = append(resp.NotChecked, pp)
			continue
		}
		for _, h := range hits {
			if h.DocType != dt {
				continue
			}
			if pp.DocTypeName == "" {
				pp.DocTypeName = h.DocTypeName
			}
			pr := paperResult{ResultCode: h.ResultCode, IssuedAt: h.IssuedAt.String()}
			if h.ValidUntil != nil {
				v := h.ValidUntil.String()
				pr.ValidUntil = &v
			}
			pr.Access, pr.AccessExpiresAt = s.access.issue(id.client.ID, h.ResultCode, e.rec.CitizenHash, now)
			pp.Results = append(pp.Results, pr)
			e.rec.Returned = append(e.rec.Returned, audit.Returned{ResultCode: h.ResultCode, SHA256: h.File.SHA256})
		}
		if len(pp.Results) > 0 {
			resp.OnFile = append(resp.OnFile, pp)
		} else {
			resp.ToSubmit = append(resp.ToSubmit, pp)
		}
	}
	resp.Complete = len(resp.ToSubmit) == 0 && len(resp.NotChecked) == 0
	e.decide(audit.Allow, "scope:search:dossier_check")
	WriteJSON(w, http.StatusOK, resp)
}
