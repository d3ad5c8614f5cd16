// This file owns upload batches at the intake door: one batch is one
// dossier, so all its files share one dossier code (unless the uploader
// asks for one per file). A batch is sent in one request (POST
// /v1/batches with files) or opened first and filled file by file
// (POST /v1/batches with a JSON body, then POST /v1/batches/{id}/files),
// so a browser can show each file's progress. The batch record and one
// pointer per file are stored create-once in the bucket (storage/batch.go).

package pipeline

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"sohoa/api"
	"sohoa/storage"
)

// BatchResponse answers POST /v1/batches and POST /v1/batches/{id}/files.
type BatchResponse struct {
	BatchID string `json:"batch_id"`
	// DossierCode is the code the batch's files share (empty with
	// dossier_per_file, or while a one-request batch stored no new file).
	DossierCode string       `json:"dossier_code,omitempty"`
	PerFile     bool         `json:"dossier_per_file,omitempty"`
	Files       []Submission `json:"files"`
}

// BatchRequest opens a batch: the body of POST /v1/batches as JSON, or the
// form fields of a one-request batch.
type BatchRequest struct {
	// DossierCode is a code the uploader names (from the one-stop
	// system); empty: the batch gets the agency's next code.
	DossierCode   string `json:"dossier_code,omitempty"`
	ProcedureCode string `json:"procedure_code,omitempty"`
	// PerFile gives every file a dossier code of its own (a stack of
	// unrelated dossiers scanned together).
	PerFile bool `json:"dossier_per_file,omitempty"`
}

// BatchRefusal is why a batch cannot be opened (or a one-request batch's
// files are refused): a Refused* reason and an English message.
type BatchRefusal struct{ Reason, Message string }

func (e *BatchRefusal) Error() string { return e.Message }

// procedureRe is the shape of a national procedure code (mã TTHC in the
// National Database on administrative procedures): "1.004873".
var procedureRe = regexp.MustCompile(`^[0-9]\.[0-9]{6}$`)

// ValidProcedureCode reports whether code can name a procedure: the
// national shape, or one of the configured codes.
func ValidProcedureCode(code string, configured map[string]string) bool {
	if procedureRe.MatchString(code) {
		return true
	}
	for _, c := range configured {
		if c == code {
			return true
		}
	}
	return false
}

// check judges a batch request before anything is reserved.
func (in *Intake) check(req BatchRequest) *BatchRefusal {
	switch {
	case req.PerFile && req.DossierCode != "":
		return &BatchRefusal{RefusedDossierPerFile, "a dossier code names one dossier: leave it empty to give each file its own"}
	case req.ProcedureCode != "" && !ValidProcedureCode(req.ProcedureCode, in.Procedures):
		return &BatchRefusal{RefusedProcedureFormat, fmt.Sprintf("procedure code %q is not a configured procedure nor of the national shape 1.004873", req.ProcedureCode)}
	case req.DossierCode != "":
		if reason, msg := in.checkDossierCode(req.DossierCode); reason != "" {
			return &BatchRefusal{reason, msg}
		}
	}
	return nil
}

// OpenBatch opens a batch for c: the dossier code is allocated (or the
// named one reserved) now, once for every file to come, and the record is
// stored before the batch ID is returned. A request the policy refuses
// returns a *BatchRefusal.
func (in *Intake) OpenBatch(ctx context.Context, c Caller, req BatchRequest) (storage.Batch, error) {
	if r := in.check(req); r != nil {
		return storage.Batch{}, r
	}
	now := in.Now()
	b := storage.Batch{ID: storage.NewBatchID(now), PerFile: req.PerFile, ProcedureCode: req.ProcedureCode,
		Office: c.Office, Staff: c.Staff, Source: SourceCounter, CreatedAt: now.UTC()}
	switch {
	case req.PerFile:
	case req.DossierCode != "":
		code, reason, msg, err := in.reserveNamed(ctx, req.DossierCode, b.ID)
		if err != nil {
			return storage.Batch{}, err
		}
		if reason != "" {
			return storage.Batch{}, &BatchRefusal{reason, msg}
		}
		b.DossierCode = code
	default:
		code, err := in.repo.AllocateDossierCode(ctx, in.agency, now, storage.DossierClaim{BatchID: b.ID})
		if err != nil {
			return storage.Batch{}, fmt.Errorf("open batch: allocate dossier code: %w", err)
		}
		b.DossierCode = code
	}
	if err := in.repo.PutBatch(ctx, b); err != nil {
		return storage.Batch{}, fmt.Errorf("open batch: %w", err)
	}
	return b, nil
}

// Batch returns a batch's record (ErrNotFound, wrapped, when there is
// none).
func (in *Intake) Batch(ctx context.Context, id string) (storage.Batch, error) {
	return in.repo.Batch(ctx, id)
}

// MayRead says whether c may see batch b: a clerk their office's batches,
// a script (the token) every batch.
func (c Caller) MayRead(b storage.Batch) bool {
	return c.Staff == "" && c.Office == "" || b.Office != "" && b.Office == c.Office
}

// MayAdd says whether c may add files to b: a clerk to their office's
// batches, a script to the batches scripts opened.
func (c Caller) MayAdd(b storage.Batch) bool {
	if c.Staff == "" && c.Office == "" {
		return b.Staff == ""
	}
	return b.Office != "" && b.Office == c.Office
}

// batchWriter gives the files of one batch their dossier code and lists
// them in the batch.
type batchWriter struct {
	in *Intake
	b  storage.Batch
	// named is the code the uploader named for a one-request batch: it
	// is reserved at its first new file.
	named   string
	stored  bool // the record is in the bucket
	refusal *BatchRefusal
}

// dossier is the dossierFunc of the batch's files.
func (bw *batchWriter) dossier(ctx context.Context, key string) (string, string, string, error) {
	if bw.refusal != nil {
		return "", bw.refusal.Reason, bw.refusal.Message, nil
	}
	in, b := bw.in, &bw.b
	switch {
	case b.PerFile:
		code, err := in.repo.AllocateDossierCode(ctx, in.agency, in.Now(), storage.DossierClaim{BatchID: b.ID, InputKey: key})
		if err != nil {
			return "", "", "", fmt.Errorf("allocate dossier code: %w", err)
		}
		return code, "", "", bw.record(ctx)
	case b.DossierCode != "":
		return b.DossierCode, "", "", nil
	}
	// The first new file of a one-request batch: the batch's code now.
	code := ""
	if bw.named != "" {
		c, reason, msg, err := in.reserveNamed(ctx, bw.named, b.ID)
		if err != nil {
			return "", "", "", err
		}
		if reason != "" {
			bw.refusal = &BatchRefusal{reason, msg}
			return "", reason, msg, nil
		}
		code = c
	} else {
		c, err := in.repo.AllocateDossierCode(ctx, in.agency, in.Now(), storage.DossierClaim{BatchID: b.ID})
		if err != nil {
			return "", "", "", fmt.Errorf("allocate dossier code: %w", err)
		}
		code = c
	}
	b.DossierCode = code
	return code, "", "", bw.record(ctx)
}

// record stores the batch's record once.
func (bw *batchWriter) record(ctx context.Context) error {
	if bw.stored {
		return nil
	}
	if err := bw.in.repo.PutBatch(ctx, bw.b); err != nil {
		return err
	}
	bw.stored = true
	return nil
}

// add stores one file of the batch, enqueues it and lists it in the batch.
func (bw *batchWriter) add(ctx context.Context, body storage.IntakeBody, name string) (Submission, error) {
	meta := storage.IntakeMeta{Name: name, BatchID: bw.b.ID, Source: SourceCounter,
		ProcedureCode: bw.b.ProcedureCode, Office: bw.b.Office, Staff: bw.b.Staff}
	sub, err := bw.in.submit(ctx, body, meta, bw.dossier)
	if sub.InputKey == "" || sub.Status == StatusRejected {
		return sub, err
	}
	// Listed even when the queue was down: the file is stored.
	ferr := bw.in.repo.AddBatchFile(ctx, bw.b.ID, storage.BatchFile{InputKey: sub.InputKey, Name: name,
		Size: body.Size, DossierCode: sub.DossierCode, AddedAt: bw.in.Now().UTC()})
	if ferr != nil {
		// Sending the file again lists it (every write is create-once).
		return Submission{Name: name, Status: StatusRejected}, ferr
	}
	return sub, err
}

// ---- HTTP ----

// postBatch serves POST /v1/batches: with a JSON body (BatchRequest) it
// opens an empty batch; with multipart files it is a one-request batch.
func (in *Intake) postBatch(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/json" {
		var req BatchRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			api.WriteError(w, http.StatusBadRequest, "bad_request", "expected a JSON object {dossier_code, procedure_code, dossier_per_file}")
			return
		}
		req.DossierCode, req.ProcedureCode = strings.TrimSpace(req.DossierCode), strings.TrimSpace(req.ProcedureCode)
		b, err := in.OpenBatch(r.Context(), c, req)
		var refusal *BatchRefusal
		if errors.As(err, &refusal) {
			api.WriteError(w, http.StatusUnprocessableEntity, refusal.Reason, refusal.Message)
			return
		}
		if err != nil {
			in.log.Error("open batch failed", "err", err)
			api.WriteError(w, http.StatusServiceUnavailable, "unavailable", "storage temporarily unavailable, retry later")
			return
		}
		if err := c.audit(r.Context(), true, http.StatusCreated, "batch_opened", b.ID); err != nil {
			in.log.Error("audit failed", "err", err)
			api.WriteError(w, http.StatusServiceUnavailable, "unavailable", "audit log temporarily unavailable, retry later")
			return
		}
		api.WriteJSON(w, http.StatusCreated, BatchResponse{BatchID: b.ID, DossierCode: b.DossierCode, PerFile: b.PerFile, Files: []Submission{}})
		return
	}
	now := in.Now()
	bw := &batchWriter{in: in, b: storage.Batch{ID: storage.NewBatchID(now), Office: c.Office, Staff: c.Staff,
		Source: SourceCounter, CreatedAt: now.UTC()}}
	in.receive(w, r, bw, true)
}

// postBatchFiles serves POST /v1/batches/{id}/files: more files of an open
// batch, sharing its dossier code.
func (in *Intake) postBatchFiles(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	b, ok := in.batchFor(w, r, c, c.MayAdd)
	if !ok {
		return
	}
	in.receive(w, r, &batchWriter{in: in, b: b, stored: true}, false)
}

// getBatch serves GET /v1/batches/{id}: the batch and each file's state.
func (in *Intake) getBatch(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	b, ok := in.batchFor(w, r, c, c.MayRead)
	if !ok {
		return
	}
	st, err := in.BatchStatus(r.Context(), b)
	if err != nil {
		in.log.Error("batch status failed", "batch_id", b.ID, "err", err)
		api.WriteError(w, http.StatusServiceUnavailable, "unavailable", "storage temporarily unavailable")
		return
	}
	api.WriteJSON(w, http.StatusOK, st)
}

// batchFor reads the batch of the request's path and checks that c may
// use it; otherwise it answers (404, or 403 audited).
func (in *Intake) batchFor(w http.ResponseWriter, r *http.Request, c Caller, may func(storage.Batch) bool) (storage.Batch, bool) {
	id := r.PathValue("id")
	b, err := in.repo.Batch(r.Context(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		api.WriteError(w, http.StatusNotFound, "not_found", "no such batch")
		return b, false
	case err != nil:
		in.log.Error("read batch failed", "batch_id", id, "err", err)
		api.WriteError(w, http.StatusServiceUnavailable, "unavailable", "storage temporarily unavailable")
		return b, false
	}
	if !may(b) {
		if err := c.audit(r.Context(), false, http.StatusForbidden, "batch_other_office", b.ID); err != nil {
			in.log.Error("audit failed", "err", err)
		}
		api.WriteError(w, http.StatusForbidden, "forbidden", "this batch belongs to another office (or to another kind of uploader)")
		return b, false
	}
	return b, true
}

// receive reads a multipart body of files into bw's batch and answers
// with each file's outcome. fields: the body may name the batch's dossier
// code, procedure code and dossier_per_file before its files (a
// one-request batch).
func (in *Intake) receive(w http.ResponseWriter, r *http.Request, bw *batchWriter, fields bool) {
	r.Body = http.MaxBytesReader(w, &rateGuard{rc: http.NewResponseController(w), body: r.Body, in: in, start: time.Now()}, in.MaxBatchBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		api.WriteError(w, http.StatusBadRequest, "bad_request", "expected multipart/form-data with one or more files")
		return
	}
	c := callerFrom(r.Context())
	resp := BatchResponse{BatchID: bw.b.ID}
	var req BatchRequest
	checked := !fields
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
		if fields {
			switch part.FormName() {
			case "dossier_code":
				req.DossierCode = readSmallField(part)
				continue
			case "procedure_code":
				req.ProcedureCode = readSmallField(part)
				continue
			case "dossier_per_file":
				v := readSmallField(part)
				req.PerFile = v == "1" || v == "true" || v == "on"
				continue
			}
		}
		if part.FileName() == "" {
			continue
		}
		if !checked {
			// The fields come before the files: judge them once.
			checked = true
			bw.refusal = in.check(req)
			bw.named, bw.b.PerFile, bw.b.ProcedureCode = req.DossierCode, req.PerFile, req.ProcedureCode
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
		sub := in.receivePart(r.Context(), part, name, bw)
		if sub.Status == StatusStoredNotQueued {
			unavailable = true
		}
		resp.Files = append(resp.Files, sub)
	}
	if len(resp.Files) == 0 {
		api.WriteError(w, http.StatusBadRequest, "no_files", "the request carried no file")
		return
	}
	rejected, accepted := 0, 0
	for _, f := range resp.Files {
		if f.Status == StatusRejected {
			rejected++
		} else {
			accepted++
		}
	}
	if accepted > 0 {
		// A one-request batch whose files were all known already: its
		// record, without a code of its own.
		if err := bw.record(r.Context()); err != nil {
			in.log.Error("store batch failed", "batch_id", bw.b.ID, "err", err)
			api.WriteError(w, http.StatusServiceUnavailable, "unavailable", "storage temporarily unavailable, send the files again")
			return
		}
	}
	resp.DossierCode, resp.PerFile = bw.b.DossierCode, bw.b.PerFile
	// 201 only when every file is stored; 207 when some are and some are
	// refused; otherwise why none is: 503 (storage or queue down: send them
	// again later), 429 (rate), 422 (every file refused). The per-file
	// statuses are in the body whatever the code.
	unstored := 0
	for _, f := range resp.Files {
		if f.Status == StatusRejected && f.Reason == RefusedUnavailable {
			unstored++
		}
	}
	status := http.StatusCreated
	switch {
	case unavailable, accepted == 0 && unstored > 0:
		w.Header().Set("Retry-After", "30")
		status = http.StatusServiceUnavailable
	case limited == len(resp.Files):
		w.Header().Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())+1))
		status = http.StatusTooManyRequests
	case rejected == len(resp.Files):
		status = http.StatusUnprocessableEntity
	case rejected > 0:
		status = http.StatusMultiStatus
	}
	if err := c.audit(r.Context(), true, status, "batch_files_added", bw.b.ID); err != nil {
		in.log.Error("audit failed", "err", err)
		api.WriteError(w, http.StatusServiceUnavailable, "unavailable", "audit log temporarily unavailable, send the files again")
		return
	}
	api.WriteJSON(w, status, resp)
}

// receivePart stores one uploaded file. The part is streamed to a
// temporary file and hashed on the way (its input key), then stored from
// there: memory does not grow with the file's size or the number of
// uploads at once.
func (in *Intake) receivePart(ctx context.Context, part *multipart.Part, name string, bw *batchWriter) Submission {
	body, cleanup, err := in.spool(part)
	defer cleanup()
	switch {
	case errors.Is(err, errTooLarge):
		return refuse(Submission{Name: name}, RefusedTooLarge, fmt.Sprintf("%s: file exceeds %d bytes", name, in.MaxFileBytes))
	case errors.Is(err, errSpool):
		in.log.Error("intake failed", "batch_id", bw.b.ID, "err", err)
		return refuse(Submission{Name: name}, RefusedUnavailable, "temporarily unavailable, retry later")
	case err != nil:
		return refuse(Submission{Name: name}, RefusedInterrupted, fmt.Sprintf("%s: upload interrupted: %v", name, err))
	}
	sub, err := bw.add(ctx, body, name)
	if err != nil {
		in.log.Error("intake failed", "input_key", sub.InputKey, "batch_id", bw.b.ID, "status", sub.Status, "err", err)
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

var (
	errTooLarge = errors.New("file too large")
	errSpool    = errors.New("temporary file")
)

// spool copies r (at most MaxFileBytes) into a temporary file (in TempDir,
// or os.TempDir), hashing it on the way. cleanup closes and removes the
// file; call it whatever the error. A read error of r is returned as is;
// errTooLarge and errSpool (the file system) wrap theirs.
func (in *Intake) spool(r io.Reader) (storage.IntakeBody, func(), error) {
	f, err := os.CreateTemp(in.TempDir, "sohoa-upload-*")
	if err != nil {
		return storage.IntakeBody{}, func() {}, fmt.Errorf("%w: %w", errSpool, err)
	}
	cleanup := func() {
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			in.log.Error("remove upload temporary file", "err", err)
		}
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 256<<10)
	n, err := io.Copy(w, io.LimitReader(r, in.MaxFileBytes+1))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return storage.IntakeBody{}, cleanup, fmt.Errorf("%w: %w", errSpool, err)
		}
		return storage.IntakeBody{}, cleanup, err
	}
	if n > in.MaxFileBytes {
		return storage.IntakeBody{}, cleanup, errTooLarge
	}
	if err := w.Flush(); err != nil {
		return storage.IntakeBody{}, cleanup, fmt.Errorf("%w: %w", errSpool, err)
	}
	return storage.IntakeBody{R: f, Size: n, Key: storage.InputKeyOfSHA256(h.Sum(nil))}, cleanup, nil
}

// ---- batch status ----

// BatchStatus is a batch with each of its files' state.
type BatchStatus struct {
	Batch storage.Batch `json:"batch"`
	Files []FileStatus  `json:"files"`
	// Counts counts the files by state; Final: no file is processing.
	Counts map[string]int `json:"counts"`
	Final  bool           `json:"final"`
}

// FileStatus is one file of a batch: its name and size there, and its
// state in the pipeline.
type FileStatus struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	AddedAt time.Time `json:"added_at"`
	InputStatus
}

// FinalState reports whether a file in state no longer waits for the
// machine: a result, a person's decision, or a person's attention.
func FinalState(state string) bool { return state != StateProcessing && state != "" }

// statusCache keeps what never changes: a batch's file entries
// (create-once) and the states no later event changes (issued, kept,
// rejected, quarantined), so following a batch of hundreds of files
// reads only the files still moving.
type statusCache struct {
	mu    sync.Mutex
	files map[string]storage.BatchFile
	final map[string]InputStatus
}

const maxCached = 50000

func (c *statusCache) file(key string) (storage.BatchFile, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.files[key]
	return f, ok
}

func (c *statusCache) putFile(key string, f storage.BatchFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil || len(c.files) >= maxCached {
		c.files = map[string]storage.BatchFile{}
	}
	c.files[key] = f
}

func (c *statusCache) status(key string) (InputStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.final[key]
	return s, ok
}

func (c *statusCache) putStatus(s InputStatus) {
	switch s.State {
	case StateIssued, StateKept, StateRejected, StateQuarantined:
	default:
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.final == nil || len(c.final) >= maxCached {
		c.final = map[string]InputStatus{}
	}
	c.final[s.InputKey] = s
}

// BatchStatus reads the state of every file of b.
func (in *Intake) BatchStatus(ctx context.Context, b storage.Batch) (BatchStatus, error) {
	keys, err := in.repo.BatchFileKeys(ctx, b.ID)
	if err != nil {
		return BatchStatus{}, err
	}
	out := BatchStatus{Batch: b, Files: make([]FileStatus, len(keys)), Counts: map[string]int{}, Final: true}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, key := range keys {
		g.Go(func() error {
			ck := b.ID + "/" + key
			f, ok := in.cache.file(ck)
			if !ok {
				if f, err = in.repo.BatchFile(gctx, b.ID, key); err != nil {
					return err
				}
				in.cache.putFile(ck, f)
			}
			st, ok := in.cache.status(key)
			if !ok {
				var err error
				if st, err = in.Status(gctx, key); err != nil {
					return fmt.Errorf("status of %s: %w", key, err)
				}
				in.cache.putStatus(st)
			}
			out.Files[i] = FileStatus{Name: f.Name, Size: f.Size, AddedAt: f.AddedAt, InputStatus: st}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return BatchStatus{}, err
	}
	slices.SortStableFunc(out.Files, func(a, b FileStatus) int {
		if c := a.AddedAt.Compare(b.AddedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, f := range out.Files {
		out.Counts[f.State]++
		if !FinalState(f.State) {
			out.Final = false
		}
	}
	return out, nil
}

// OfficeBatches lists the batches an office opened in the month of month
// (Vietnam time), newest first. A listed batch whose record is missing (a
// write cut short) is skipped.
func (in *Intake) OfficeBatches(ctx context.Context, office string, month time.Time) ([]storage.Batch, error) {
	ids, err := in.repo.OfficeBatchIDs(ctx, office, month)
	if err != nil {
		return nil, err
	}
	out := make([]storage.Batch, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			b, err := in.repo.Batch(gctx, id)
			if errors.Is(err, storage.ErrNotFound) {
				return nil
			}
			out[i] = b
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(b storage.Batch) bool { return b.ID == "" }), nil
}
