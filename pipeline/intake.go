package pipeline

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"

	"sohoa/api"
	"sohoa/storage"
)

// Intake stores scans create-once in S3 and enqueues their OCR task. S3
// is written before any caller is answered; Redis is never the system of
// record (a reconciler re-enqueues what Redis lost).
type Intake struct {
	repo   *storage.Repository
	queue  Enqueuer
	agency string
	log    *slog.Logger
	// Now is the clock of dossier codes and upload times; NewIntake sets
	// time.Now.
	Now func() time.Time
	// MaxFileBytes caps one uploaded file; MaxBatchBytes one request.
	MaxFileBytes  int64
	MaxBatchBytes int64
	// MaxFiles caps the files of one request; the files past it are
	// refused one by one (too_many_files), unstored. 0: no cap.
	MaxFiles int
	// CallerRate limits the files one caller (remote address) may upload:
	// a token bucket, one token a file. Files past it are refused
	// (rate_limited), unstored. Zero RPS: no limit.
	CallerRate api.RateLimit
	// An upload that sends nothing for UploadIdle, averages less than
	// MinUploadRate bytes a second after its first UploadIdle, or lasts
	// longer than MaxUploadTime is cut off, so slow bodies cannot hold
	// connections. NewIntake sets 30 s, 16 KiB/s and 15 minutes.
	UploadIdle    time.Duration
	MinUploadRate float64
	MaxUploadTime time.Duration
	// TempDir holds each uploaded file while it is stored (streamed there
	// and hashed, then encrypted and uploaded from it); "" is os.TempDir.
	TempDir string
	// Token is the bearer token intake clients (scripts) must present.
	Token string
	// Authorize, when set, admits a request that has no valid bearer
	// token: the staff web app's sessions (web.App.Authorize). It returns
	// who is calling: a clerk's account and office, which the uploads and
	// batches they open carry. An error wrapping ErrForbidden (a session
	// without its CSRF token, or of a role that may not upload) answers
	// 403; any other error 401. With neither a Token nor Authorize every
	// data route refuses.
	Authorize func(r *http.Request) (Caller, error)
	// Procedures are the configured procedure codes (document type →
	// code): a procedure code an uploader names must be one of them or
	// have the national shape (ValidProcedureCode).
	Procedures map[string]string
	callers    *api.Limiter
	cache      statusCache
}

// Caller is who is calling the intake API.
type Caller struct {
	// ID names the caller in logs: "token" for a script, "staff:<account
	// ID>" for a clerk's session.
	ID string
	// Staff and Office are the clerk's staff account ID and office
	// (agency code); both empty for a script.
	Staff  string
	Office string
	// Audit, when set, records what the caller did (allowed) or was
	// refused (not allowed), before the answer: rule names the action or
	// the refusal, target what it was about (a batch ID, never personal
	// data). The web app's sessions set it (its audit log).
	Audit func(ctx context.Context, allowed bool, status int, rule, target string) error
}

func (c Caller) audit(ctx context.Context, allowed bool, status int, rule, target string) error {
	if c.Audit == nil {
		return nil
	}
	return c.Audit(ctx, allowed, status, rule, target)
}

// ErrForbidden: Authorize knows the caller, who may not do this (403).
var ErrForbidden = errors.New("forbidden")

type callerKey struct{}

// callerFrom is the caller the auth wrapper admitted.
func callerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// Default intake limits.
const (
	DefaultMaxFiles       = 200
	DefaultFilesPerMinute = 60
)

// maxDossierAge is how far back the date of a dossier code an uploader
// names may lie: the code's date is the day the dossier was received, and a
// counter digitises within the procedure's processing time, not years later
// (older papers come through backfill, which gets codes allocated).
const maxDossierAge = 366 * 24 * time.Hour

// NewIntake returns an Intake with default limits: 64 MiB a file, 1 GiB
// and DefaultMaxFiles files a request, and per caller DefaultFilesPerMinute
// files a minute after a first burst of DefaultMaxFiles.
func NewIntake(repo *storage.Repository, queue Enqueuer, agencyCode string, log *slog.Logger) *Intake {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if agencyCode == "" {
		agencyCode = "000.00.00.H00"
	}
	return &Intake{
		repo: repo, queue: queue, agency: agencyCode, Now: time.Now, log: log,
		MaxFileBytes: 64 << 20, MaxBatchBytes: 1 << 30, MaxFiles: DefaultMaxFiles,
		CallerRate: api.RateLimit{RPS: DefaultFilesPerMinute / 60.0, Burst: DefaultMaxFiles},
		callers:    api.NewLimiter(10000),
		UploadIdle: 30 * time.Second, MinUploadRate: 16 << 10, MaxUploadTime: 15 * time.Minute,
	}
}

// Submission is the outcome of submitting one file.
type Submission struct {
	Name        string `json:"name"`
	InputKey    string `json:"input_key,omitempty"`
	DossierCode string `json:"dossier_code,omitempty"`
	// Status: queued, already_queued, stored_not_queued (Redis unavailable:
	// the reconciler queues it later), rejected.
	Status string `json:"status"`
	// Reason is a stable code (reasons.go: Refused*) for a rejected or not
	// yet queued file; Error says it in English for the caller.
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Submission statuses.
const (
	StatusQueued          = "queued"
	StatusAlreadyQueued   = "already_queued"
	StatusStoredNotQueued = "stored_not_queued"
	StatusRejected        = "rejected"
)

// Submit stores one scan and enqueues it. meta.Name is the original file
// name (kept as metadata only; keys use the content hash). A scan without a
// dossier code gets one of its own from the agency's intake sequence; a
// dossier code the uploader names must be this agency's, of a plausible
// day, and not another upload's: it is reserved for meta.BatchID (one is
// made when it is empty), or the file is refused with the reason. A
// re-upload of stored bytes keeps its first metadata. The files of a batch
// share one dossier code: see OpenBatch and the batch routes.
func (in *Intake) Submit(ctx context.Context, data []byte, meta storage.IntakeMeta) (Submission, error) {
	if meta.BatchID == "" {
		meta.BatchID = storage.NewBatchID(in.Now())
	}
	body := storage.IntakeBody{R: bytes.NewReader(data), Size: int64(len(data)), Key: storage.InputKeyOf(data)}
	return in.submit(ctx, body, meta, func(ctx context.Context, key string) (string, string, string, error) {
		if meta.DossierCode == "" {
			code, err := in.repo.AllocateDossierCode(ctx, in.agency, in.Now(), storage.DossierClaim{BatchID: meta.BatchID, InputKey: key})
			if err != nil {
				return "", "", "", fmt.Errorf("allocate dossier code: %w", err)
			}
			return code, "", "", nil
		}
		return in.reserveNamed(ctx, meta.DossierCode, meta.BatchID)
	})
}

// dossierFunc gives a file that is not stored yet (input key key) its
// dossier code, or a Refused* reason and an English message.
type dossierFunc func(ctx context.Context, key string) (code, reason, msg string, err error)

// reserveNamed judges a dossier code an uploader named and reserves it for
// batch.
func (in *Intake) reserveNamed(ctx context.Context, code, batch string) (string, string, string, error) {
	if reason, msg := in.checkDossierCode(code); reason != "" {
		return "", reason, msg, nil
	}
	err := in.repo.ReserveDossierCode(ctx, code, storage.DossierClaim{BatchID: batch})
	if errors.Is(err, storage.ErrTaken) {
		return "", RefusedDossierTaken, fmt.Sprintf("dossier code %s is already used by another upload; check it, or leave it empty to get one", code), nil
	}
	if err != nil {
		return "", "", "", fmt.Errorf("reserve dossier code: %w", err)
	}
	return code, "", "", nil
}

// submit stores one scan, read from body (its input key computed by the
// caller as the bytes came in: the scan is hashed once), and enqueues it.
func (in *Intake) submit(ctx context.Context, body storage.IntakeBody, meta storage.IntakeMeta, dossier dossierFunc) (Submission, error) {
	sub := Submission{Name: meta.Name}
	if body.Size == 0 {
		// Nothing to keep or recognise: refuse it at the door, by name.
		return refuse(sub, RefusedEmpty, meta.Name+": empty file (0 bytes)"), nil
	}
	key := body.Key
	exists, err := in.repo.Exists(ctx, storage.IntakeMetaKey(key))
	if err != nil {
		return sub, fmt.Errorf("check intake %s: %w", meta.Name, err)
	}
	if exists {
		_, old, err := in.repo.Intake(ctx, key)
		if err != nil {
			return sub, fmt.Errorf("read intake %s: %w", meta.Name, err)
		}
		meta = old
	} else {
		code, reason, msg, err := dossier(ctx, key)
		if err != nil {
			return sub, err
		}
		if reason != "" {
			return refuse(sub, reason, meta.Name+": "+msg), nil
		}
		meta.DossierCode = code
		meta.UploadedAt = in.Now().UTC()
		meta.Size = body.Size
		// Concurrent uploads of the same bytes: the first metadata stored
		// wins, and the others read it back, so every clerk is told the
		// dossier code the file is really filed under.
		if key, meta, err = in.repo.StoreIntakeBody(ctx, body, meta); err != nil {
			return sub, fmt.Errorf("store intake %s: %w", meta.Name, err)
		}
	}
	sub.InputKey, sub.DossierCode = key, meta.DossierCode
	task, err := NewOCRTask(key, meta.Source == SourceBackfill)
	if err != nil {
		return sub, err
	}
	_, err = in.queue.EnqueueContext(ctx, task)
	switch {
	case err == nil:
		sub.Status = StatusQueued
	case errors.Is(err, asynq.ErrTaskIDConflict):
		sub.Status = StatusAlreadyQueued
	default:
		sub.Status = StatusStoredNotQueued
		return sub, fmt.Errorf("enqueue %s: %w", key, err)
	}
	if exists && sub.Status == StatusQueued {
		// Known scan whose task had already completed: the OCR stage sees
		// its record and only re-dispatches, so nothing is done twice.
		sub.Status = StatusAlreadyQueued
	}
	return sub, nil
}

// refuse marks sub rejected at the door.
func refuse(sub Submission, reason, msg string) Submission {
	sub.Status, sub.Reason, sub.Error = StatusRejected, reason, msg
	return sub
}

// checkDossierCode judges a dossier code an uploader named: its shape (a
// real calendar date, a sequence from 0001), its agency (this intake's) and
// its date (not after today in Vietnam, at most maxDossierAge back). It
// returns a Refused* reason and an English message, or "" when acceptable.
func (in *Intake) checkDossierCode(code string) (reason, msg string) {
	agency, day, _, err := storage.ParseDossierCode(code)
	if err != nil {
		return RefusedDossierFormat, "dossier code must look like 000.00.31.H29-250718-0042: the agency code, the day received (YYMMDD) and that day's 4-digit sequence from 0001"
	}
	if agency != in.agency {
		return RefusedDossierAgency, fmt.Sprintf("dossier code %s is of agency %s; this intake files dossiers of %s", code, agency, in.agency)
	}
	now := in.Now().In(storage.Vietnam())
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, storage.Vietnam())
	switch {
	case day.After(today):
		return RefusedDossierDate, fmt.Sprintf("dossier code %s is dated after today (%s)", code, today.Format(time.DateOnly))
	case day.Before(today.Add(-maxDossierAge)):
		return RefusedDossierDate, fmt.Sprintf("dossier code %s is dated more than a year ago; older papers go through backfill", code)
	}
	return "", ""
}

// Intake sources.
const (
	SourceCounter  = "counter"
	SourceBackfill = "backfill"
)

// Handler serves the counter intake API: POST /v1/batches (files, or an
// empty batch to add files to), POST /v1/batches/{id}/files,
// GET /v1/batches/{id} and GET /v1/inputs/{key} (the staff web app,
// package web, serves the pages beside it).
//
// Every route that takes or shows data needs the bearer token (Token) or
// a caller Authorize admits; with neither they refuse (fail closed). State
// changes from another origin are refused (Origin / Sec-Fetch-Site).
func (in *Intake) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range in.routes() {
		mux.HandleFunc(rt.method+" "+rt.path, rt.h)
	}
	return securityHeaders(sameOrigin(mux))
}

type intakeRoute struct {
	method, path string
	h            http.HandlerFunc
}

func (in *Intake) routes() []intakeRoute {
	return []intakeRoute{
		{"POST", "/v1/batches", in.auth(in.postBatch)},
		{"POST", "/v1/batches/{id}/files", in.auth(in.postBatchFiles)},
		{"GET", "/v1/batches/{id}", in.auth(in.getBatch)},
		{"GET", "/v1/inputs/{key}", in.auth(in.getInput)},
		{"GET", "/healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
	}
}

// Routes lists the operations Handler registers, in its order; the API's
// OpenAPI document (api/openapi.json) describes exactly these beside the
// reuse API's (api/openapi_test.go).
func Routes() []api.Route {
	rts := (&Intake{}).routes()
	out := make([]api.Route, len(rts))
	for i, rt := range rts {
		out[i] = api.Route{Method: rt.method, Path: rt.path}
	}
	return out
}

func (in *Intake) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var caller Caller
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case in.Token != "" && ok && subtle.ConstantTimeCompare([]byte(got), []byte(in.Token)) == 1:
			caller = Caller{ID: "token"}
		case !ok && in.Authorize != nil:
			var err error
			caller, err = in.Authorize(r)
			if errors.Is(err, ErrForbidden) {
				api.WriteError(w, http.StatusForbidden, "forbidden", "this session may not do this: "+err.Error())
				return
			}
			ok = err == nil
		default:
			ok = false
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sohoa-intake"`)
			api.WriteError(w, http.StatusUnauthorized, "unauthenticated", "a valid bearer token or a signed-in counter session is required")
			return
		}
		in.log.Debug("intake request", "caller", caller.ID, "route", r.Pattern)
		h(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
	}
}

// sameOrigin refuses state-changing requests a browser sends from another
// site: an Origin header naming another host, or Sec-Fetch-Site cross-site.
// Scripts (no Origin) are judged by their token alone.
func sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
			if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
				api.WriteError(w, http.StatusForbidden, "cross_origin", "requests from another site are refused")
				return
			}
			if o := r.Header.Get("Origin"); o != "" {
				u, err := url.Parse(o)
				if err != nil || u.Host != r.Host {
					api.WriteError(w, http.StatusForbidden, "cross_origin", "requests from another origin are refused")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders marks every intake answer (JSON about uploads) as not to
// be sniffed, framed or cached.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// callerOf names the caller the per-caller limit counts against: the remote
// address (behind a reverse proxy, the proxy's; the proxy should limit too).
func callerOf(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func (in *Intake) allowCaller(caller string) (bool, time.Duration) {
	if in.CallerRate.RPS <= 0 || in.CallerRate.Burst <= 0 || in.callers == nil {
		return true, 0
	}
	return in.callers.Allow(caller, in.CallerRate, in.Now())
}

// InputStatus answers GET /v1/inputs/{key}.
type InputStatus struct {
	InputKey    string          `json:"input_key"`
	File        string          `json:"file"`
	DossierCode string          `json:"dossier_code"`
	State       string          `json:"state"` // processing | issued | partly_issued | review | rejected | kept | quarantined
	Results     []string        `json:"results,omitempty"`
	Review      []Decision      `json:"review,omitempty"`
	Quarantine  *QuarantineItem `json:"quarantine,omitempty"`
	// Pages is the number of pages recognised (0 until then).
	Pages int `json:"pages,omitempty"`
}

// Status reports where one intake object is in the pipeline.
func (in *Intake) Status(ctx context.Context, key string) (InputStatus, error) {
	return statusOf(ctx, in.repo, key)
}

// statusOf is the input's state (StateOf: from what S3 holds, never the
// scan's bytes), as the status API says it.
func statusOf(ctx context.Context, repo *storage.Repository, key string) (InputStatus, error) {
	st, err := StateOf(ctx, repo, key)
	if err != nil {
		return InputStatus{InputKey: key, State: StateProcessing}, err
	}
	return st.Status(), nil
}

// reviewItems lists the documents of an intake that were sent to review: by
// the OCR stage (ReviewKey) and later, one by one, by the issue stage
// (ReviewDocKey).
func reviewItems(ctx context.Context, repo *storage.Repository, key string) ([]Decision, error) {
	keys := []string{storage.ReviewKey(key)}
	if err := repo.Bucket().List(ctx, storage.ReviewDocsPrefix(key), func(oi storage.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		return nil, err
	}
	var out []Decision
	for _, k := range keys {
		var item ReviewItem
		switch err := repo.GetSealedJSON(ctx, k, &item); {
		case errors.Is(err, storage.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out = append(out, item.Documents...)
		}
	}
	return out, nil
}

func (in *Intake) getInput(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !validInputKey(key) {
		api.WriteError(w, http.StatusNotFound, "not_found", "no such input")
		return
	}
	st, err := in.Status(r.Context(), key)
	if errors.Is(err, storage.ErrNotFound) {
		api.WriteError(w, http.StatusNotFound, "not_found", "no such input")
		return
	}
	if err != nil {
		in.log.Error("input status failed", "input_key", key, "err", err)
		api.WriteError(w, http.StatusServiceUnavailable, "unavailable", "storage temporarily unavailable")
		return
	}
	api.WriteJSON(w, http.StatusOK, st)
}

func readSmallField(p *multipart.Part) string {
	b, _ := io.ReadAll(io.LimitReader(p, 256))
	return strings.TrimSpace(string(b))
}

// cleanName keeps only the base name of an uploaded file, bounded to 255
// bytes (a file-system name) on a rune boundary, so it never becomes a path
// or breaks a log line. It is metadata only: keys use the content hash.
func cleanName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == "/" {
		name = "unnamed"
	}
	return name
}

var errTooSlow = errors.New("upload too slow or too long; send the files again")

// rateGuard ends uploads that stall, crawl or last too long (see
// Intake.UploadIdle): each read gets a rolling deadline on the connection.
type rateGuard struct {
	rc    *http.ResponseController
	body  io.ReadCloser
	in    *Intake
	start time.Time
	n     int64
}

func (g *rateGuard) Read(p []byte) (int, error) {
	now := time.Now()
	el := now.Sub(g.start)
	if el > g.in.MaxUploadTime || el > g.in.UploadIdle && float64(g.n)/el.Seconds() < g.in.MinUploadRate {
		return 0, errTooSlow
	}
	_ = g.rc.SetReadDeadline(now.Add(g.in.UploadIdle)) // not every connection supports it
	n, err := g.body.Read(p)
	g.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = errTooSlow
	}
	return n, err
}

func (g *rateGuard) Close() error { return g.body.Close() }
