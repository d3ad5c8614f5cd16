// Package api is the reuse API other government systems call to find a
// citizen's e-results, read their metadata and validity, fetch the signed
// PDF, verify a copy and revoke a result, pre-fill a form from the values
// the citizen's valid results hold and check which of a procedure's
// required papers are already on file (prefill.go); plus the public QR
// landing page.
//
// Callers authenticate with an mTLS client certificate from the configured
// client CA and/or a client-credentials JWT (algorithm pinned per client,
// each token accepted once: its jti is recorded create-once in the bucket,
// so every serve process sharing the bucket refuses a replay);
// each request states its purpose; every request, allowed or denied, leaves
// one hash-chained audit record, committed before the response status is
// sent. Citizen IDs travel only in POST bodies and are never logged.
package api

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"time"

	"sohoa/api/reuse"
	"sohoa/audit"
	"sohoa/signing"
	"sohoa/storage"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns the embedded OpenAPI 3.1 document (api/openapi.json),
// served at /v1/openapi.json. It describes the reuse API and the intake API
// of package pipeline.
func OpenAPI() []byte { return slices.Clone(openAPIDoc) }

// Auditor stores audit records; *audit.Log implements it. Append must make
// the record durable enough to survive a process crash before returning.
type Auditor interface {
	Append(ctx context.Context, r audit.Record) (audit.Record, error)
}

// PDFVerifier checks an uploaded PDF's signature strictly: wire it to a
// signing.ChildVerifier with the pinned roots, so that hostile bytes are
// parsed in a child process, never in the server. A nil error means valid,
// and the verdict then names what is signed (ResultCode, SignedSHA256).
// An error wrapping signing.ErrLimit, ErrChildCrashed or ErrChildTimeout
// refuses the upload (422); one wrapping signing.ErrInvalid or ErrNotPDF
// reports an invalid signature; any other is the verifier's own failure
// (503).
type PDFVerifier func(ctx context.Context, pdf []byte) (signing.Verdict, error)

// Options configure the handler. Repo, Clients, Audit, AuditKey and QRKey
// are required.
type Options struct {
	Repo    *storage.Repository
	Clients *Clients
	// ClientCAs verifies client certificates; nil accepts only JWTs.
	ClientCAs *x509.CertPool
	Audit     Auditor
	// AuditKey is K_audit for citizen-ID hashes in audit records; it must
	// differ from the index key. It also keys the hashes under which used
	// JWT IDs are recorded (Repository.ClaimTokenID), with its own label.
	AuditKey []byte
	// QRKey is K_qr; signing.VerifyToken(QRKey, code) is the token in the
	// QR URL.
	QRKey []byte
	// VerifyPDF checks uploaded PDFs in POST /v1/verify; nil reports the
	// signature as not checked, and only a byte-identical copy of a stored
	// result is then recognised.
	VerifyPDF PDFVerifier
	// VerifyAgencyPDF checks, against the CAs of the other agencies this
	// one trusts (SOHOA_TRUSTED_CAS), an upload whose signature VerifyPDF
	// found invalid, with VerifyPDF's contract; a file valid under it is
	// answered valid with anchor trusted_agency, and matches a result only
	// when it was filed byte-identical (a signed input filed as it is).
	// nil: only VerifyPDF's anchors are trusted.
	VerifyAgencyPDF PDFVerifier
	Logger          *slog.Logger
	Now             func() time.Time
	// MaxBodyBytes caps JSON bodies (default 16 KiB); MaxPDFBytes caps PDF
	// uploads and served PDFs (default 64 MiB).
	MaxBodyBytes int64
	MaxPDFBytes  int64
	// PublicRateLimit applies per remote IP to /v/ pages (default 5/s, burst 20).
	PublicRateLimit RateLimit
	// AuthFailRateLimit applies per remote IP to failed authentications
	// (default 20/s, burst 100): past it, failures answer 429, so guessing
	// credentials is slow.
	AuthFailRateLimit RateLimit
	// Observer is told of every answered request (metrics); nil: nobody.
	Observer Observer
	// Vocabulary is the pre-fill field vocabulary (POST /v1/prefill); nil:
	// reuse.DefaultVocabulary. Every client's prefill_fields must be in it.
	Vocabulary *reuse.Vocabulary
	// Procedures says which document types each procedure's dossier
	// requires and which fields its form needs (POST /v1/dossier-check,
	// POST /v1/prefill with a procedure); nil: none configured, and both
	// answer 404 unknown_procedure for every procedure.
	Procedures *reuse.Procedures
	// DocTypeNames names document types (tên giấy tờ) in dossier-check
	// answers, for papers the citizen does not hold yet; nil: unnamed.
	DocTypeNames map[string]string
	// Agency is this system's converting agency (code and name, from
	// configuration). It names the converting agency of results filed
	// under schema version 1, which recorded only its code.
	Agency storage.Agency
}

// Observer is told of each answered request: the client system's ID ("" when
// unauthenticated), the route pattern (never the raw URL: a path may carry a
// result code) or "unmatched", the status and the latency.
type Observer interface {
	Request(client, route string, status int, d time.Duration)
}

type server struct {
	opts   Options
	auth   *authenticator
	limits *limiter
	public *limiter
	// authFail limits failed authentications per remote IP.
	authFail *limiter
	log      *slog.Logger
	now      func() time.Time
	access   accessKeys
}

// New returns the API handler. Mount it at the server root.
func New(opts Options) (http.Handler, error) {
	switch {
	case opts.Repo == nil:
		return nil, errors.New("api: Options.Repo is nil")
	case opts.Clients == nil:
		return nil, errors.New("api: Options.Clients is nil")
	case opts.Audit == nil:
		return nil, errors.New("api: Options.Audit is nil")
	case len(opts.AuditKey) < 16:
		return nil, errors.New("api: Options.AuditKey must be at least 16 bytes")
	case len(opts.QRKey) < 16:
		return nil, errors.New("api: Options.QRKey must be at least 16 bytes")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 16 << 10
	}
	if opts.MaxPDFBytes <= 0 {
		opts.MaxPDFBytes = 64 << 20
	}
	if opts.PublicRateLimit.RPS <= 0 || opts.PublicRateLimit.Burst <= 0 {
		opts.PublicRateLimit = RateLimit{RPS: 5, Burst: 20}
	}
	if opts.AuthFailRateLimit.RPS <= 0 || opts.AuthFailRateLimit.Burst <= 0 {
		opts.AuthFailRateLimit = RateLimit{RPS: 20, Burst: 100}
	}
	if opts.Vocabulary == nil {
		v, err := reuse.DefaultVocabulary()
		if err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
		opts.Vocabulary = v
	}
	if err := opts.Clients.checkPrefillFields(opts.Vocabulary); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	s := &server{opts: opts, auth: newAuthenticator(opts.Clients, opts.ClientCAs, opts.AuditKey, opts.Repo.ClaimTokenID),
		limits: newLimiter(10000), public: newLimiter(10000), authFail: newLimiter(10000), log: opts.Logger, now: opts.Now,
		access: newAccessKeys(opts.AuditKey)}

	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.path, rt.h)
		mux.Handle(rt.path, http.HandlerFunc(s.methodNotAllowed))
	}
	mux.HandleFunc("/", s.notFound)
	return s.middleware(mux), nil
}

type route struct {
	method, path string
	h            http.Handler
}

// Route is one operation a server registers: an HTTP method and a
// net/http ServeMux path pattern ("/v1/results/{code}").
type Route struct{ Method, Path string }

// Routes lists the operations New registers, in its order; the OpenAPI
// document describes exactly these (api/openapi_test.go).
func Routes() []Route {
	rts := (&server{}).routes()
	out := make([]Route, len(rts))
	for i, rt := range rts {
		out[i] = Route{Method: rt.method, Path: rt.path}
	}
	return out
}

func (s *server) routes() []route {
	return []route{
		{"POST", "/v1/results:search", s.protected(s.search, ScopeSearch)},
		{"GET", "/v1/results/{code}", s.protected(s.metadata, ScopeSearch)},
		{"GET", "/v1/results/{code}/pdf", s.protected(s.pdf, ScopeReadPDF)},
		{"GET", "/v1/results/{code}/data", s.protected(s.data, ScopeReadPDF)},
		{"GET", "/v1/results/{code}/status", s.protected(s.status, ScopeSearch, ScopeVerify)},
		{"POST", "/v1/verify", s.protected(s.verify, ScopeVerify)},
		{"POST", "/v1/prefill", s.protected(s.prefill, ScopeSearch)},
		{"POST", "/v1/dossier-check", s.protected(s.dossierCheck, ScopeSearch)},
		{"POST", "/v1/results/{code}/revoke", s.protected(s.revoke, ScopeRevoke)},
		{"GET", "/v1/openapi.json", http.HandlerFunc(s.openapi)},
		{"GET", "/healthz", http.HandlerFunc(s.healthz)},
		{"GET", "/v/{code}", http.HandlerFunc(s.qrPage)},
	}
}

// ---- per-request audit entry ----

type entryKey struct{}

type entry struct {
	rec   audit.Record
	start time.Time
}

func entryFrom(ctx context.Context) *entry {
	e, _ := ctx.Value(entryKey{}).(*entry)
	if e == nil {
		return &entry{} // unreachable through New; keeps handlers nil-safe
	}
	return e
}

func (e *entry) decide(decision, rule string) { e.rec.Decision, e.rec.Rule = decision, rule }

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// middleware gives each request an ID and an audit entry, and commits the
// entry when the status is written (see auditWriter).
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := &entry{start: s.now()}
		e.rec.RequestID = newRequestID()
		e.rec.Method = r.Method
		h := w.Header()
		h.Set("X-Request-Id", e.rec.RequestID)
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("X-Content-Type-Options", "nosniff")
		r = r.WithContext(context.WithValue(r.Context(), entryKey{}, e))
		// ServeMux sets r.Pattern on this same *Request; commit reads it.
		aw := &auditWriter{ResponseWriter: w, s: s, e: e, r: r}
		next.ServeHTTP(aw, r)
		if !aw.wrote {
			aw.WriteHeader(http.StatusOK)
		}
	})
}

// auditWriter commits the audit record before the status line leaves the
// server. If the record cannot be stored, the response becomes 503: no
// unaudited answer is ever sent (fail closed).
type auditWriter struct {
	http.ResponseWriter
	s       *server
	e       *entry
	r       *http.Request
	wrote   bool
	blocked bool
}

func (w *auditWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if err := w.s.commit(w.r, w.e, code); err != nil {
		w.blocked = true
		h := w.ResponseWriter.Header()
		for k := range h {
			if k != "X-Request-Id" {
				delete(h, k)
			}
		}
		WriteError(w.ResponseWriter, http.StatusServiceUnavailable, "audit_unavailable", "the audit log is unavailable; try again later")
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *auditWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.blocked {
		return 0, errors.New("api: response withheld: audit unavailable")
	}
	return w.ResponseWriter.Write(b)
}

func (w *auditWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *server) commit(r *http.Request, e *entry, status int) error {
	rec := e.rec
	rec.Endpoint = r.Pattern
	if rec.Endpoint == "" {
		rec.Endpoint = "unmatched"
	}
	rec.Status = status
	took := s.now().Sub(e.start)
	rec.LatencyUS = took.Microseconds()
	if s.opts.Observer != nil {
		s.opts.Observer.Request(rec.ClientID, rec.Endpoint, status, took)
	}
	if rec.Decision == "" {
		if status < 400 {
			rec.Decision, rec.Rule = audit.Allow, "ok"
		} else {
			rec.Decision, rec.Rule = audit.Deny, "error"
		}
	}
	if r.Pattern == "GET /healthz" {
		return nil // liveness probes are not requests for data
	}
	// A caller that hung up still gets its record.
	if _, err := s.opts.Audit.Append(context.WithoutCancel(r.Context()), rec); err != nil {
		s.log.Error("audit append failed", "request_id", rec.RequestID, "err", err)
		return fmt.Errorf("audit: %w", err)
	}
	s.log.Info("request", "request_id", rec.RequestID, "client", rec.ClientID, "auth", rec.AuthMethod,
		"endpoint", rec.Endpoint, "status", status, "decision", rec.Decision, "rule", rec.Rule,
		"results", len(rec.Returned), "latency_us", rec.LatencyUS)
	return nil
}

// ---- authentication, purpose, rate limit, scope ----

// procedureRe is a procedure code of the National Database on
// administrative procedures (mã TTHC: a level digit, a dot, six digits),
// optionally followed by the agency code it is carried out at
// (1.001234.000.00.00.H29). Anything else — a free word, or a citizen ID
// dressed up with a dot — is refused before it reaches the audit log.
// digitRunRe is a run of digits long enough to hold a citizen ID.
var digitRunRe = regexp.MustCompile(`[0-9]{9,}`)

var procedureRe = regexp.MustCompile(`^[1-9]\.[0-9]{6}(\.[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2})?$`)

func validProcedure(s string) bool { return procedureRe.MatchString(s) }

type protectedFunc func(w http.ResponseWriter, r *http.Request, id identity)

// protected authenticates (401), checks the purpose headers (400), the
// client's rate limit (429) and scopes (403, any of anyScope), then runs h.
func (s *server) protected(h protectedFunc, anyScope ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := entryFrom(r.Context())
		now := s.now()
		id, aerr := s.auth.authenticate(r, now)
		e.rec.CertSHA256 = id.certSHA256
		if aerr != nil && aerr.status == http.StatusServiceUnavailable {
			e.decide(audit.Deny, aerr.rule)
			s.log.Error("authentication unavailable", "request_id", e.rec.RequestID, "rule", aerr.rule, "err", aerr.err)
			WriteError(w, http.StatusServiceUnavailable, "unavailable", aerr.msg)
			return
		}
		if aerr != nil {
			if ok, wait := s.authFail.allow(remoteIP(r), s.opts.AuthFailRateLimit, now); !ok {
				e.decide(audit.Deny, "auth_fail_rate_limited")
				w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
				WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many failed authentications")
				return
			}
			e.decide(audit.Deny, aerr.rule)
			w.Header().Set("WWW-Authenticate", `Bearer realm="sohoa"`)
			WriteError(w, http.StatusUnauthorized, "unauthenticated", aerr.msg)
			return
		}
		e.rec.ClientID, e.rec.AuthMethod = id.client.ID, id.method

		proc, dossier := r.Header.Get("X-Purpose-Procedure"), r.Header.Get("X-Purpose-Dossier")
		if !validProcedure(proc) || !storage.ValidDossierCode(dossier) {
			e.decide(audit.Deny, "bad_purpose")
			WriteError(w, http.StatusBadRequest, "purpose_required",
				"X-Purpose-Procedure (procedure code) and X-Purpose-Dossier (the new dossier code this reuse serves) are required")
			return
		}
		e.rec.PurposeProcedure, e.rec.PurposeDossier = proc, dossier

		if ok, wait := s.limits.allow(id.client.ID, id.client.RateLimit, now); !ok {
			e.decide(audit.Deny, "rate_limited")
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			WriteError(w, http.StatusTooManyRequests, "rate_limited", "rate limit exceeded")
			return
		}
		if !slices.ContainsFunc(anyScope, id.client.HasScope) {
			e.decide(audit.Deny, "scope_missing")
			WriteError(w, http.StatusForbidden, "forbidden", "this client may not call this endpoint")
			return
		}
		h(w, r, id)
	})
}

func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// publicAllowed applies the per-IP limit of public pages.
func (s *server) publicAllowed(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := s.public.allow(remoteIP(r), s.opts.PublicRateLimit, s.now())
	if !ok {
		entryFrom(r.Context()).decide(audit.Deny, "rate_limited")
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		WriteError(w, http.StatusTooManyRequests, "rate_limited", "rate limit exceeded")
	}
	return ok
}

func (s *server) notFound(w http.ResponseWriter, r *http.Request) {
	entryFrom(r.Context()).decide(audit.Deny, "no_route")
	WriteError(w, http.StatusNotFound, "not_found", "no such endpoint")
}

func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	entryFrom(r.Context()).decide(audit.Deny, "method_not_allowed")
	WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint")
}

func (s *server) openapi(w http.ResponseWriter, r *http.Request) {
	entryFrom(r.Context()).decide(audit.Allow, "public")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(openAPIDoc)
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, `{"status":"ok"}`+"\n")
}
