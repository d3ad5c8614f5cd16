package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
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
	// Token is the bearer token intake clients (scripts) must present.
	Token string
	// Authorize, when set, admits a request that has no valid bearer
	// token: the staff web app's sessions (web.App.Authorize). It returns
	// who is calling. With neither a Token nor Authorize every data route
	// refuses.
	Authorize func(r *http.Request) (caller string, ok bool)
	callers   *api.Limiter
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
// dossier code gets one from the agency's intake sequence; a dossier code
// the uploader names must be this agency's, of a plausible day, and not
// another upload's: it is reserved for meta.BatchID (one is made when it is
// empty), or the file is refused with the reason. A re-upload of stored
// bytes keeps its first metadata.
func (in *Intake) Submit(ctx context.Context, data []byte, meta storage.IntakeMeta) (Submission, error) {
	sub := Submission{Name: meta.Name}
	if len(data) == 0 {
		// Nothing to keep or recognise: refuse it at the door, by name.
		return refuse(sub, RefusedEmpty, meta.Name+": empty file (0 bytes)"), nil
	}
	if meta.BatchID == "" {
		meta.BatchID = newBatchID()
	}
	key := storage.InputKeyOf(data)
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
		if meta.DossierCode == "" {
			code, err := in.repo.AllocateDossierCode(ctx, in.agency, in.Now(), storage.DossierClaim{BatchID: meta.BatchID, InputKey: key})
			if err != nil {
				return sub, fmt.Errorf("allocate dossier code: %w", err)
			}
			meta.DossierCode = code
		} else {
			if reason, msg := in.checkDossierCode(meta.DossierCode); reason != "" {
				return refuse(sub, reason, meta.Name+": "+msg), nil
			}
			err := in.repo.ReserveDossierCode(ctx, meta.DossierCode, storage.DossierClaim{BatchID: meta.BatchID})
			if errors.Is(err, storage.ErrTaken) {
				return refuse(sub, RefusedDossierTaken, fmt.Sprintf("%s: dossier code %s is already used by another upload; check it, or leave it empty to get one",
					meta.Name, meta.DossierCode)), nil
			}
			if err != nil {
				return sub, fmt.Errorf("reserve dossier code: %w", err)
			}
		}
		meta.UploadedAt = in.Now().UTC()
		meta.Size = int64(len(data))
		if key, err = in.repo.PutIntake(ctx, data, meta); err != nil {
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

// Handler serves the counter intake API: POST /v1/batches and
// GET /v1/inputs/{key} (the staff web app, package web, serves the pages
// beside it).
//
// Every route that takes or shows data needs the bearer token (Token) or
// a caller Authorize admits; with neither they refuse (fail closed). State
// changes from another origin are refused (Origin / Sec-Fetch-Site).
func (in *Intake) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/batches", in.auth(in.postBatch))
	mux.HandleFunc("GET /v1/inputs/{key}", in.auth(in.getInput))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return securityHeaders(sameOrigin(mux))
}

func (in *Intake) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller := ""
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case in.Token != "" && ok && subtle.ConstantTimeCompare([]byte(got), []byte(in.Token)) == 1:
			caller = "token"
		case !ok && in.Authorize != nil:
			caller, ok = in.Authorize(r)
		default:
			ok = false
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sohoa-intake"`)
			api.WriteError(w, http.StatusUnauthorized, "unauthenticated", "a valid bearer token or a signed-in counter session is required")
			return
		}
		in.log.Debug("intake request", "caller", caller, "route", r.Pattern)
		h(w, r)
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

// BatchResponse answers POST /v1/batches.
type BatchResponse struct {
	BatchID string       `json:"batch_id"`
	Files   []Submission `json:"files"`
}

func (in *Intake) postBatch(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, &rateGuard{rc: http.NewResponseController(w), body: r.Body, in: in, start: time.Now()}, in.MaxBatchBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "bad_request", "expected multipart/form-data with one or more files")
		return
	}
	batch := newBatchID()
	resp := BatchResponse{BatchID: batch}
	var dossier, procedure string
	unavailable := false
	caller := callerOf(r)
	limited, retryAfter := 0, time.Duration(0)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errors.Is(err, errTooSlow) {
				api.WriteError(w, http.StatusRequestTimeout, "too_slow", err.Error())
				return
			}
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				api.WriteError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("batch exceeds %d bytes", in.MaxBatchBytes))
				return
			}
			api.WriteError(w, http.StatusBadRequest, "bad_request", "malformed multipart body")
			return
		}
		switch part.FormName() {
		case "dossier_code":
			dossier = readSmallField(part)
			continue
		case "procedure_code":
			procedure = readSmallField(part)
			continue
		}
		if part.FileName() == "" {
			continue
		}
		name := cleanName(part.FileName())
		if in.MaxFiles > 0 && len(resp.Files) >= in.MaxFiles {
			resp.Files = append(resp.Files, refuse(Submission{Name: name}, RefusedTooManyFiles,
				fmt.Sprintf("%s: one upload holds at most %d files; send the rest in another", name, in.MaxFiles)))
			continue
		}
		if ok, wait := in.allowCaller(caller); !ok {
			limited, retryAfter = limited+1, wait
			resp.Files = append(resp.Files, refuse(Submission{Name: name}, RefusedRateLimited,
				fmt.Sprintf("%s: too many files from this caller; retry in %d s", name, int(wait.Seconds())+1)))
			continue
		}
		sub := in.submitPart(r.Context(), part, storage.IntakeMeta{
			Name: name, BatchID: batch, Source: SourceCounter,
			DossierCode: dossier, ProcedureCode: procedure,
		})
		if sub.Status == StatusStoredNotQueued {
			unavailable = true
		}
		resp.Files = append(resp.Files, sub)
	}
	if len(resp.Files) == 0 {
		api.WriteError(w, http.StatusBadRequest, "no_files", "the request carried no file")
		return
	}
	rejected := 0
	for _, f := range resp.Files {
		if f.Status == StatusRejected {
			rejected++
		}
	}
	// 201 when anything was stored; otherwise why nothing was, with the
	// per-file reasons in the body all the same.
	status := http.StatusCreated
	switch {
	case unavailable:
		status = http.StatusServiceUnavailable
	case limited == len(resp.Files):
		w.Header().Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())+1))
		status = http.StatusTooManyRequests
	case rejected == len(resp.Files):
		status = http.StatusUnprocessableEntity
	}
	api.WriteJSON(w, status, resp)
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

func (in *Intake) submitPart(ctx context.Context, part *multipart.Part, meta storage.IntakeMeta) Submission {
	data, err := io.ReadAll(io.LimitReader(part, in.MaxFileBytes+1))
	if err != nil {
		return refuse(Submission{Name: meta.Name}, RefusedInterrupted, fmt.Sprintf("%s: upload interrupted: %v", meta.Name, err))
	}
	if int64(len(data)) > in.MaxFileBytes {
		return refuse(Submission{Name: meta.Name}, RefusedTooLarge, fmt.Sprintf("%s: file exceeds %d bytes", meta.Name, in.MaxFileBytes))
	}
	sub, err := in.Submit(ctx, data, meta)
	if err != nil {
		in.log.Error("intake failed", "input_key", sub.InputKey, "status", sub.Status, "err", err)
		if sub.Status == "" {
			sub.Status = StatusRejected
		}
		sub.Reason, sub.Error = RefusedUnavailable, "temporarily unavailable, retry later"
		if sub.Status == StatusStoredNotQueued {
			sub.Reason, sub.Error = RefusedStoredNotQueued, "stored; queued automatically once the queue is back"
		}
	}
	return sub
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
}

// Status reports where one intake object is in the pipeline.
func (in *Intake) Status(ctx context.Context, key string) (InputStatus, error) {
	return statusOf(ctx, in.repo, key)
}

func statusOf(ctx context.Context, repo *storage.Repository, key string) (InputStatus, error) {
	st := InputStatus{InputKey: key, State: "processing"}
	_, meta, err := repo.Intake(ctx, key)
	if err != nil {
		return st, err
	}
	st.File, st.DossierCode = meta.Name, meta.DossierCode
	ms, err := repo.ByInputKey(ctx, key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return st, err
	}
	for _, m := range ms {
		st.Results = append(st.Results, m.ResultCode)
	}
	var q QuarantineItem
	if err := repo.GetSealedJSON(ctx, storage.QuarantineKey(key), &q); err == nil {
		// Results filed before a later document failed stay listed.
		st.State, st.Quarantine = "quarantined", &q
		return st, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return st, err
	}
	items, err := reviewItems(ctx, repo, key)
	if err != nil {
		return st, err
	}
	// Per document: waiting for a person, approved, or rejected.
	pending, approved, rejected := map[int]bool{}, map[int]bool{}, map[int]bool{}
	for _, d := range items {
		var a Approval
		switch err := repo.GetSealedJSON(ctx, storage.ApprovalKey(key, d.Doc), &a); {
		case errors.Is(err, storage.ErrNotFound):
			if !pending[d.Doc] {
				pending[d.Doc] = true
				st.Review = append(st.Review, d) // still waiting for a person
			}
		case err != nil:
			return st, err
		case a.Approved:
			approved[d.Doc] = true
		default:
			rejected[d.Doc] = true
		}
	}
	var rec Record
	recErr := repo.GetSealedJSON(ctx, storage.RecordKey(key), &rec)
	switch {
	case errors.Is(recErr, storage.ErrNotFound):
		return st, nil
	case recErr != nil:
		return st, recErr
	}
	// toIssue counts the documents that should have a result by now: auto-
	// accepted ones not sent to review later, and approved ones.
	toIssue := len(approved)
	for _, d := range rec.Decisions {
		if d.Action == ActionIssue && !pending[d.Doc] && !approved[d.Doc] && !rejected[d.Doc] {
			toIssue++
		}
	}
	switch {
	case len(st.Results) >= toIssue && len(st.Review) > 0 && len(st.Results) > 0:
		st.State = "partly_issued"
	case len(st.Results) >= toIssue && len(st.Review) > 0:
		st.State = "review"
	case len(st.Results) >= toIssue && toIssue > 0:
		st.State = "issued"
	case toIssue == 0 && len(st.Review) == 0 && len(rejected) > 0:
		st.State = "rejected" // a person decided that nothing is issued
	case toIssue == 0 && len(st.Review) == 0:
		st.State = "kept"
	}
	return st, nil
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

func newBatchID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
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
