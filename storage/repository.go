package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Options configure a Repository. Keys is required; the rest have useful
// zero values.
type Options struct {
	Keys Keys
	// Logger receives one line per filed result and per status change,
	// never personal data. Nil discards.
	Logger *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Repository is the e-result repository over a Bucket: intake, results with
// their manifests and lookups, the keyed citizen index, and status events.
// Every write is create-once, so every operation is safe to retry and to run
// concurrently with itself.
type Repository struct {
	b    Bucket
	keys Keys
	log  *slog.Logger
	now  func() time.Time
}

// New returns a Repository over b.
func New(b Bucket, opts Options) (*Repository, error) {
	if b == nil {
		return nil, fmt.Errorf("new repository: nil bucket: %w", ErrInvalid)
	}
	if err := opts.Keys.validate(); err != nil {
		return nil, fmt.Errorf("new repository: %w", err)
	}
	r := &Repository{b: b, keys: opts.Keys, log: opts.Logger, now: opts.Now}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Bucket is the underlying store.
func (r *Repository) Bucket() Bucket { return r.b }

// ---- small objects ----

func sumHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (r *Repository) putOnce(ctx context.Context, key string, body []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := r.b.PutOnce(ctx, key, body, sumHex(body)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// PutJSON writes v as JSON to key, create-once. An existing key yields
// ErrExists (wrapped); idempotent callers treat that as success.
func (r *Repository) PutJSON(ctx context.Context, key string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %s: encode: %w", key, err)
	}
	return r.putOnce(ctx, key, body)
}

// GetJSON reads the JSON object at key into v, checksum-verified.
func (r *Repository) GetJSON(ctx context.Context, key string, v any) error {
	return r.getJSON(ctx, key, v, 64<<20)
}

func (r *Repository) getJSON(ctx context.Context, key string, v any, limit int) error {
	body, _, err := r.b.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	if len(body) > limit {
		return fmt.Errorf("get %s: %d bytes exceed %d: %w", key, len(body), limit, ErrInvalid)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("get %s: decode: %w", key, err)
	}
	return nil
}

// sealedObject is the body of an object written by PutSealedJSON.
type sealedObject struct {
	Sealed Envelope `json:"sealed"`
}

func objectAAD(key string) []byte { return []byte("sohoa-sealed-object\x00" + key) }

// PutSealedJSON writes v as JSON to key, create-once, encrypted with the
// current seal key and bound to key (a body copied under another key does
// not open). Use it for every stage object that may name a person: OCR
// records, review items and decisions, intake metadata.
func (r *Repository) PutSealedJSON(ctx context.Context, key string, v any) error {
	plain, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put %s: encode: %w", key, err)
	}
	env, err := sealBytes(r.keys, objectAAD(key), plain)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	body, err := json.Marshal(sealedObject{Sealed: env})
	if err != nil {
		return fmt.Errorf("put %s: encode: %w", key, err)
	}
	return r.putOnce(ctx, key, body)
}

// GetSealedJSON reads an object written by PutSealedJSON into v.
func (r *Repository) GetSealedJSON(ctx context.Context, key string, v any) error {
	var so sealedObject
	if err := r.getJSON(ctx, key, &so, 64<<20); err != nil {
		return err
	}
	plain, err := openBytes(r.keys, objectAAD(key), so.Sealed)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("get %s: decode: %w", key, err)
	}
	return nil
}

// Exists reports whether key is stored.
func (r *Repository) Exists(ctx context.Context, key string) (bool, error) {
	_, err := r.b.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("stat %s: %w", key, err)
	}
}

// ---- intake ----

// Intake sources.
const (
	SourceCounter  = "counter"
	SourceBackfill = "backfill"
)

// IntakeMeta describes an uploaded scan. It is stored beside the scan, not
// in any key.
type IntakeMeta struct {
	Name          string    `json:"name"`
	BatchID       string    `json:"batch_id"`
	Source        string    `json:"source"` // "counter" (default) or "backfill"
	DossierCode   string    `json:"dossier_code,omitempty"`
	ProcedureCode string    `json:"procedure_code,omitempty"`
	UploadedAt    time.Time `json:"uploaded_at"`
	Size          int64     `json:"size"`
}

// PutIntake stores an uploaded scan create-once under its SHA-256 and
// returns that inputKey. A re-upload of the same bytes returns the same key
// and nil; the first upload's meta is kept.
func (r *Repository) PutIntake(ctx context.Context, data []byte, meta IntakeMeta) (string, error) {
	if len(data) == 0 {
		return "", fmt.Errorf("put intake: empty: %w", ErrInvalid)
	}
	switch meta.Source {
	case "":
		meta.Source = SourceCounter
	case SourceCounter, SourceBackfill:
	default:
		return "", fmt.Errorf("put intake: source %q: want counter or backfill: %w", meta.Source, ErrInvalid)
	}
	inputKey := InputKeyOf(data)
	if meta.UploadedAt.IsZero() {
		meta.UploadedAt = r.now()
	}
	meta.Size = int64(len(data))
	if err := r.putOnce(ctx, IntakeKey(inputKey), data); err != nil && !errors.Is(err, ErrExists) {
		return "", fmt.Errorf("put intake: %w", err)
	}
	if err := r.PutSealedJSON(ctx, IntakeMetaKey(inputKey), meta); err != nil && !errors.Is(err, ErrExists) {
		return "", fmt.Errorf("put intake: %w", err)
	}
	return inputKey, nil
}

// Intake returns an uploaded scan and its meta. A scan whose meta write was
// interrupted comes back with a meta that has only Size set.
func (r *Repository) Intake(ctx context.Context, inputKey string) ([]byte, IntakeMeta, error) {
	if !ValidInputKey(inputKey) {
		return nil, IntakeMeta{}, fmt.Errorf("intake: malformed input key: %w", ErrInvalid)
	}
	data, _, err := r.b.Get(ctx, IntakeKey(inputKey))
	if err != nil {
		return nil, IntakeMeta{}, fmt.Errorf("intake %s: %w", inputKey, err)
	}
	var meta IntakeMeta
	err = r.GetSealedJSON(ctx, IntakeMetaKey(inputKey), &meta)
	switch {
	case errors.Is(err, ErrNotFound):
		meta = IntakeMeta{Size: int64(len(data))}
	case err != nil:
		return nil, IntakeMeta{}, fmt.Errorf("intake: %w", err)
	}
	return data, meta, nil
}

// ---- results ----

// NewResult is what File needs: the signed PDF, the manifest fields the
// caller knows, and the holder data that File seals.
type NewResult struct {
	PDF          []byte
	Manifest     Manifest // ID, Holder, File.{ObjectKey,SHA256,Size}, CreatedAt, SchemaVersion are set by File
	HolderIDType string
	HolderID     string
	HolderName   string
	Extracted    map[string]ExtractedField
	Actor        string // who filed it, recorded in the issued event
}

// pointer is the body of every lookup object (codes/, sha256/, inputs/).
type pointer struct {
	ID          string `json:"id"`
	ResultCode  string `json:"result_code"`
	ManifestKey string `json:"manifest_key"`
}

// indexEntry is the body of an index object: enough to skip a result by
// type or dates without reading its manifest. It is a pure function of the
// manifest, so RebuildIndex reproduces it byte for byte.
type indexEntry struct {
	ID            string `json:"id"`
	ResultCode    string `json:"result_code"`
	ManifestKey   string `json:"manifest_key"`
	DocType       string `json:"doc_type"`
	IssuedAt      Date   `json:"issued_at"`
	EffectiveFrom Date   `json:"effective_from"`
	ValidUntil    *Date  `json:"valid_until"`
}

func entryOf(m Manifest, manifestKey string) indexEntry {
	return indexEntry{
		ID: m.ID, ResultCode: m.ResultCode, ManifestKey: manifestKey, DocType: m.DocType,
		IssuedAt: m.IssuedAt, EffectiveFrom: m.Effective(), ValidUntil: m.ValidUntil,
	}
}

// File files a signed result: the PDF, its manifest, the code, sha256 and
// input lookups, the citizen index entry and the initial "active" event,
// each create-once. It is idempotent by result code: a retried or
// concurrent call returns the stored manifest and nil, and completes any
// write an interrupted earlier call left out. If the stored PDF differs
// from req.PDF (a retry re-signed), the stored bytes win and the manifest
// describes them. Filing a code already filed for a different holder
// returns the stored manifest and an error wrapping ErrExists.
func (r *Repository) File(ctx context.Context, req NewResult) (Manifest, error) {
	m := req.Manifest
	if err := m.check(); err != nil {
		return Manifest{}, fmt.Errorf("file result: %w", err)
	}
	if !bytes.HasPrefix(req.PDF, []byte("%PDF-")) {
		return Manifest{}, fmt.Errorf("file result %s: body is not a PDF: %w", m.ResultCode, ErrInvalid)
	}
	idType, id, err := NormalizeHolderID(req.HolderIDType, req.HolderID)
	if err != nil {
		return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
	}
	ptr, err := r.claimCode(ctx, m)
	if err != nil {
		return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
	}

	pdfKey := strings.TrimSuffix(ptr.ManifestKey, manifestSuffix) + ".pdf"
	m.File.SHA256, m.File.Size = sumHex(req.PDF), int64(len(req.PDF))
	if err := r.putOnce(ctx, pdfKey, req.PDF); errors.Is(err, ErrExists) {
		info, err := r.b.Stat(ctx, pdfKey)
		if err != nil {
			return Manifest{}, fmt.Errorf("file result %s: stat stored pdf: %w", m.ResultCode, err)
		}
		m.File.SHA256, m.File.Size = info.SHA256, info.Size
	} else if err != nil {
		return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
	}

	m.SchemaVersion = SchemaVersion
	m.ID = ptr.ID
	m.File.ObjectKey = pdfKey
	m.CreatedAt = r.now().In(vnZone()).Truncate(time.Millisecond)
	kid := r.keys.IndexKID
	m.Holder = Holder{IDType: idType, KID: kid, IDHMAC: indexHMAC(r.keys.IndexKeys[kid], idType, id)}
	m.Holder.IDEnc, err = seal(r.keys, holderAAD(m.ID, m.ResultCode, r.keys.SealKID),
		Sealed{IDType: idType, ID: id, Name: req.HolderName, Extracted: req.Extracted})
	if err != nil {
		return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
	}

	stored := m
	created := true
	if err := r.PutJSON(ctx, ptr.ManifestKey, m); errors.Is(err, ErrExists) {
		created = false
		if stored, err = r.readManifest(ctx, ptr.ManifestKey); err != nil {
			return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
		}
	} else if err != nil {
		return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
	}
	if err := r.writeLookups(ctx, stored, ptr.ManifestKey, req.Actor); err != nil {
		return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
	}
	if !created {
		if k, ok := r.keys.IndexKeys[stored.Holder.KID]; ok && indexHMAC(k, idType, id) != stored.Holder.IDHMAC {
			return stored, fmt.Errorf("file result %s: already filed for a different holder: %w", m.ResultCode, ErrExists)
		}
		r.log.InfoContext(ctx, "result already filed", "result_code", stored.ResultCode, "id", stored.ID)
		return stored, nil
	}
	r.log.InfoContext(ctx, "result filed", "result_code", stored.ResultCode, "id", stored.ID,
		"sha256", stored.File.SHA256, "size", stored.File.Size)
	return stored, nil
}

// claimCode reserves the result code for a new UUID, or returns the pointer
// an earlier call stored.
func (r *Repository) claimCode(ctx context.Context, m Manifest) (pointer, error) {
	id, err := newResultID()
	if err != nil {
		return pointer{}, err
	}
	month, err := uuidTime(id)
	if err != nil {
		return pointer{}, err
	}
	ptr := pointer{ID: id, ResultCode: m.ResultCode, ManifestKey: ResultManifestKey(m.Issuer.AgencyCode, month, id)}
	err = r.PutJSON(ctx, CodeKey(m.ResultCode), ptr)
	if err == nil {
		return ptr, nil
	}
	if !errors.Is(err, ErrExists) {
		return pointer{}, err
	}
	return r.pointer(ctx, CodeKey(m.ResultCode))
}

func (r *Repository) pointer(ctx context.Context, key string) (pointer, error) {
	var p pointer
	if err := r.getJSON(ctx, key, &p, maxPointerBytes); err != nil {
		return pointer{}, err
	}
	if _, err := uuidTime(p.ID); err != nil || !IsManifestKey(p.ManifestKey) {
		return pointer{}, fmt.Errorf("lookup %s: malformed pointer: %w", key, ErrCorrupt)
	}
	return p, nil
}

// writeLookups writes everything derived from a stored manifest, each
// create-once, treating ErrExists as done.
func (r *Repository) writeLookups(ctx context.Context, m Manifest, manifestKey, actor string) error {
	ptr := pointer{ID: m.ID, ResultCode: m.ResultCode, ManifestKey: manifestKey}
	puts := []struct {
		key string
		v   any
	}{
		{SHA256Key(m.File.SHA256), ptr},
		{IndexKey(m.Holder.KID, m.Holder.IDHMAC, m.ID), entryOf(m, manifestKey)},
		{EventKey(m.ID, 0, StatusActive), StatusEvent{At: m.CreatedAt, Status: StatusActive, ReasonCode: ReasonCodeIssued, Actor: actor}},
	}
	if m.InputKey != "" {
		puts = append(puts, struct {
			key string
			v   any
		}{InputKey(m.InputKey, m.ID), ptr})
	}
	for _, p := range puts {
		if err := r.PutJSON(ctx, p.key, p.v); err != nil && !errors.Is(err, ErrExists) {
			return err
		}
	}
	return nil
}

func (r *Repository) readManifest(ctx context.Context, key string) (Manifest, error) {
	var m Manifest
	if err := r.getJSON(ctx, key, &m, maxManifestBytes); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func (r *Repository) byPointer(ctx context.Context, key string) (Manifest, error) {
	p, err := r.pointer(ctx, key)
	if err != nil {
		return Manifest{}, err
	}
	m, err := r.readManifest(ctx, p.ManifestKey)
	if err != nil {
		return Manifest{}, err
	}
	if m.ID != p.ID || m.ResultCode != p.ResultCode {
		return Manifest{}, fmt.Errorf("lookup %s: manifest %s does not match: %w", key, p.ManifestKey, ErrCorrupt)
	}
	return m, nil
}

// Get returns the manifest of a result code (KQ(n) accepted).
func (r *Repository) Get(ctx context.Context, resultCode string) (Manifest, error) {
	code, _, _, err := ParseResultCode(resultCode)
	if err != nil {
		return Manifest{}, err
	}
	m, err := r.byPointer(ctx, CodeKey(code))
	if err != nil {
		return Manifest{}, fmt.Errorf("result %s: %w", code, err)
	}
	return m, nil
}

// BySHA256 returns the manifest of the result whose signed PDF has this
// SHA-256 (hex, case-insensitive).
func (r *Repository) BySHA256(ctx context.Context, sha256hex string) (Manifest, error) {
	h := strings.ToLower(strings.TrimPrefix(sha256hex, "sha256:"))
	if !isHex64(h) {
		return Manifest{}, fmt.Errorf("by sha256: not a hex SHA-256: %w", ErrInvalid)
	}
	m, err := r.byPointer(ctx, SHA256Key(h))
	if err != nil {
		return Manifest{}, fmt.Errorf("by sha256: %w", err)
	}
	return m, nil
}

// ByInputKey returns the manifests of the results made from one intake,
// ordered by result code. None is an empty slice and nil.
func (r *Repository) ByInputKey(ctx context.Context, inputKey string) ([]Manifest, error) {
	if !ValidInputKey(inputKey) {
		return nil, fmt.Errorf("by input key: malformed input key: %w", ErrInvalid)
	}
	var keys []string
	if err := r.b.List(ctx, InputsPrefix(inputKey), func(o ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("by input key %s: %w", inputKey, err)
	}
	out := make([]Manifest, 0, len(keys))
	for _, k := range keys {
		m, err := r.byPointer(ctx, k)
		if err != nil {
			return nil, fmt.Errorf("by input key: %w", err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResultCode < out[j].ResultCode })
	return out, nil
}

// OpenPDF returns the signed PDF of a result, verified against both the
// store's recorded checksum and the manifest's sha256: a mismatch is
// ErrCorrupt and no bytes.
func (r *Repository) OpenPDF(ctx context.Context, resultCode string) (io.ReadCloser, Manifest, error) {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return nil, Manifest{}, err
	}
	data, _, err := r.b.Get(ctx, m.File.ObjectKey)
	if err != nil {
		return nil, Manifest{}, fmt.Errorf("open pdf %s: %w", m.ResultCode, err)
	}
	if got := sumHex(data); got != m.File.SHA256 {
		return nil, Manifest{}, fmt.Errorf("open pdf %s: sha256 %s, manifest says %s: %w", m.ResultCode, got, m.File.SHA256, ErrCorrupt)
	}
	return io.NopCloser(bytes.NewReader(data)), m, nil
}

// ---- status ----

// Events returns a result's status events in append order.
func (r *Repository) Events(ctx context.Context, resultCode string) ([]StatusEvent, error) {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return nil, err
	}
	evs, _, err := r.events(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("events of %s: %w", m.ResultCode, err)
	}
	return evs, nil
}

// events lists a result's events and the next free sequence number (≥1:
// 0 is the issued event File writes).
func (r *Repository) events(ctx context.Context, id string) ([]StatusEvent, int, error) {
	var keys []string
	if err := r.b.List(ctx, EventsPrefix(id), func(o ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return nil, 0, err
	}
	next := 1
	evs := make([]StatusEvent, 0, len(keys))
	for _, k := range keys {
		var seq int
		if _, err := fmt.Sscanf(strings.TrimPrefix(k, EventsPrefix(id)), "%06d-", &seq); err != nil {
			return nil, 0, fmt.Errorf("event key %s: %w", k, ErrCorrupt)
		}
		next = max(next, seq+1)
		var e StatusEvent
		if err := r.getJSON(ctx, k, &e, maxEventBytes); err != nil {
			return nil, 0, err
		}
		evs = append(evs, e)
	}
	return evs, next, nil
}

// Validity evaluates a result's validity at t (ValidAt over its manifest and
// events).
func (r *Repository) Validity(ctx context.Context, resultCode string, at time.Time) (Validity, error) {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return Validity{}, err
	}
	evs, _, err := r.events(ctx, m.ID)
	if err != nil {
		return Validity{}, fmt.Errorf("validity of %s: %w", m.ResultCode, err)
	}
	return ValidAt(m, evs, at), nil
}

// AppendStatus appends a status event to a result. A zero At is now.
// Suspension and revocation need a DecisionRef; revoked and superseded are
// final; re-appending the same decision is a no-op, so retries are safe.
func (r *Repository) AppendStatus(ctx context.Context, resultCode string, e StatusEvent) error {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return err
	}
	if e.At.IsZero() {
		e.At = r.now()
	}
	e.At = e.At.In(vnZone()).Truncate(time.Millisecond)
	if err := e.check(); err != nil {
		return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
	}
	for range maxAppendAttempts {
		evs, next, err := r.events(ctx, m.ID)
		if err != nil {
			return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
		}
		cur := StatusActive
		for _, old := range evs {
			if old.sameChange(e) && e.ReasonCode != ReasonCodeIssued {
				return nil
			}
		}
		if len(evs) > 0 {
			cur = latest(evs).Status
		}
		if !transitionAllowed(cur, e) {
			return fmt.Errorf("append status to %s: %s → %s is not allowed: %w", m.ResultCode, cur, e.Status, ErrInvalid)
		}
		err = r.PutJSON(ctx, EventKey(m.ID, next, e.Status), e)
		if err == nil {
			r.log.InfoContext(ctx, "result status changed", "result_code", m.ResultCode, "status", e.Status,
				"decision_ref", e.DecisionRef, "seq", next)
			return nil
		}
		if !errors.Is(err, ErrExists) {
			return fmt.Errorf("append status to %s: %w", m.ResultCode, err)
		}
		// Another writer took this sequence number: re-read and re-judge.
	}
	return fmt.Errorf("append status to %s: too many concurrent appends: %w", m.ResultCode, ErrExists)
}

// latest is the event in force last: greatest At, ties to the later append.
func latest(evs []StatusEvent) StatusEvent {
	l := evs[0]
	for _, e := range evs[1:] {
		if !e.At.Before(l.At) {
			l = e
		}
	}
	return l
}

// Supersede marks oldCode superseded by newCode and records the link on the
// new result too. Both results must exist. Safe to retry.
func (r *Repository) Supersede(ctx context.Context, oldCode, newCode, actor string) error {
	oldM, err := r.Get(ctx, oldCode)
	if err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	newM, err := r.Get(ctx, newCode)
	if err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	if oldM.ID == newM.ID {
		return fmt.Errorf("supersede %s: a result cannot supersede itself: %w", oldM.ResultCode, ErrInvalid)
	}
	at := r.now()
	if err := r.AppendStatus(ctx, oldM.ResultCode, StatusEvent{At: at, Status: StatusSuperseded,
		ReasonCode: ReasonSuperseded, Actor: actor, SupersededBy: newM.ResultCode}); err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	if err := r.AppendStatus(ctx, newM.ResultCode, StatusEvent{At: at, Status: StatusActive,
		ReasonCode: "SUPERSEDES", Actor: actor, Supersedes: oldM.ResultCode}); err != nil {
		return fmt.Errorf("supersede: %w", err)
	}
	return nil
}

// ---- holder data ----

// Sealed decrypts a manifest's holder envelope for an authorised use
// (rendering, an authorised search answer, index rebuild).
func (r *Repository) Sealed(ctx context.Context, m Manifest) (Sealed, error) {
	s, err := open(r.keys, holderAAD(m.ID, m.ResultCode, m.Holder.IDEnc.KID), m.Holder.IDEnc)
	if err != nil {
		return Sealed{}, fmt.Errorf("holder of %s: %w", m.ResultCode, err)
	}
	return s, nil
}

// HolderID decrypts a manifest's holder ID type and ID.
func (r *Repository) HolderID(ctx context.Context, m Manifest) (idType, id string, err error) {
	s, err := r.Sealed(ctx, m)
	if err != nil {
		return "", "", err
	}
	return s.IDType, s.ID, nil
}

// IndexHMAC is the holder's index hash under the current index key, over
// the normalised type and ID. Validate with NormalizeHolderID first: an
// invalid ID is hashed as given (trimmed, upper-cased).
func (r *Repository) IndexHMAC(idType, id string) string {
	t, i, err := NormalizeHolderID(idType, id)
	if err != nil {
		t, i = strings.ToUpper(strings.TrimSpace(idType)), strings.ToUpper(strings.Join(strings.Fields(id), ""))
	}
	return indexHMAC(r.keys.IndexKeys[r.keys.IndexKID], t, i)
}

// IndexKID is the current index key id.
func (r *Repository) IndexKID() string { return r.keys.IndexKID }

// ---- search ----

// Query selects a holder's results.
type Query struct {
	IDType string
	ID     string
	// DocType, when set, keeps only that document type.
	DocType string
	// ValidAt is when validity is judged; zero is now.
	ValidAt time.Time
	// IncludeHistory returns invalid results too (revoked, expired, …);
	// otherwise only results valid at ValidAt.
	IncludeHistory bool
}

// Hit is one search result with its validity at the query time.
type Hit struct {
	Manifest
	Validity Validity
}

// Search returns a holder's results, newest issue date first. Its cost is
// proportional to that holder's results: it lists the holder's index
// prefix under every known index kid and never scans the repository.
func (r *Repository) Search(ctx context.Context, q Query) ([]Hit, error) {
	idType, id, err := NormalizeHolderID(q.IDType, q.ID)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	t := q.ValidAt
	if t.IsZero() {
		t = r.now()
	}
	kids := make([]string, 0, len(r.keys.IndexKeys))
	for kid := range r.keys.IndexKeys {
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	seen := make(map[string]bool)
	var hits []Hit
	for _, kid := range kids {
		var keys []string
		prefix := IndexPrefix(kid, indexHMAC(r.keys.IndexKeys[kid], idType, id))
		if err := r.b.List(ctx, prefix, func(o ObjectInfo) error {
			keys = append(keys, o.Key)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("search index %s: %w", kid, err)
		}
		for _, k := range keys {
			h, ok, err := r.searchEntry(ctx, k, q, t, seen)
			if err != nil {
				return nil, fmt.Errorf("search: %w", err)
			}
			if ok {
				hits = append(hits, h)
			}
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i].IssuedAt, hits[j].IssuedAt
		if a != b {
			return b.Before(a)
		}
		return hits[i].ResultCode < hits[j].ResultCode
	})
	return hits, nil
}

func (r *Repository) searchEntry(ctx context.Context, key string, q Query, t time.Time, seen map[string]bool) (Hit, bool, error) {
	var e indexEntry
	if err := r.getJSON(ctx, key, &e, maxIndexEntryBytes); err != nil {
		return Hit{}, false, err
	}
	if seen[e.ID] || (q.DocType != "" && e.DocType != q.DocType) {
		return Hit{}, false, nil
	}
	seen[e.ID] = true
	if !q.IncludeHistory {
		// Dates alone rule these out; no manifest read needed.
		if t.Before(e.EffectiveFrom.Start()) || (e.ValidUntil != nil && !t.Before(e.ValidUntil.Start().AddDate(0, 0, 1))) {
			return Hit{}, false, nil
		}
	}
	m, err := r.readManifest(ctx, e.ManifestKey)
	if err != nil {
		return Hit{}, false, err
	}
	if m.ID != e.ID {
		return Hit{}, false, fmt.Errorf("index entry %s: manifest %s does not match: %w", key, e.ManifestKey, ErrCorrupt)
	}
	evs, _, err := r.events(ctx, m.ID)
	if err != nil {
		return Hit{}, false, err
	}
	v := ValidAt(m, evs, t)
	if !v.Valid && !q.IncludeHistory {
		return Hit{}, false, nil
	}
	return Hit{Manifest: m, Validity: v}, true, nil
}

// RebuildIndex recreates every index entry from the manifests alone,
// decrypting each holder ID and hashing it under the current index key. It
// returns the number of manifests indexed. Entries that exist are left as
// they are (they are identical: entries are a pure function of the manifest).
func (r *Repository) RebuildIndex(ctx context.Context) (int, error) {
	var keys []string
	if err := r.b.List(ctx, prefixResults, func(o ObjectInfo) error {
		if IsManifestKey(o.Key) {
			keys = append(keys, o.Key)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("rebuild index: %w", err)
	}
	kid := r.keys.IndexKID
	n := 0
	for _, k := range keys {
		m, err := r.readManifest(ctx, k)
		if err != nil {
			return n, fmt.Errorf("rebuild index: %w", err)
		}
		idType, id, err := r.HolderID(ctx, m)
		if err != nil {
			return n, fmt.Errorf("rebuild index: %w", err)
		}
		h := indexHMAC(r.keys.IndexKeys[kid], idType, id)
		if m.Holder.KID == kid && m.Holder.IDHMAC != h {
			return n, fmt.Errorf("rebuild index: manifest %s: id_hmac does not match its sealed ID: %w", k, ErrCorrupt)
		}
		if err := r.PutJSON(ctx, IndexKey(kid, h, m.ID), entryOf(m, k)); err != nil && !errors.Is(err, ErrExists) {
			return n, fmt.Errorf("rebuild index: %w", err)
		}
		n++
	}
	r.log.InfoContext(ctx, "index rebuilt", "kid", kid, "manifests", n)
	return n, nil
}

// ---- dossier codes ----

// AllocateDossierCode claims the next dossier code {agency}-{yymmdd}-{seq}
// of an agency and day (Vietnam time) by a create-once write under
// dossiers/, so concurrent callers never get the same code.
func (r *Repository) AllocateDossierCode(ctx context.Context, agency string, day time.Time) (string, error) {
	if !ValidAgencyCode(agency) {
		return "", fmt.Errorf("allocate dossier code: agency %q: %w", agency, ErrInvalid)
	}
	seq := 0
	if err := r.b.List(ctx, DossierDayPrefix(agency, day), func(o ObjectInfo) error {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(o.Key, DossierDayPrefix(agency, day)), "%d", &n); err == nil {
			seq = max(seq, n)
		}
		return nil
	}); err != nil {
		return "", fmt.Errorf("allocate dossier code: %w", err)
	}
	claim := struct {
		ClaimedAt time.Time `json:"claimed_at"`
	}{r.now()}
	for range maxDossierAllocAttempts {
		seq++
		if seq > maxDossierSeq {
			return "", fmt.Errorf("allocate dossier code: %s has used all %d codes of %s: %w",
				agency, maxDossierSeq, day.In(vnZone()).Format(time.DateOnly), ErrExists)
		}
		err := r.PutJSON(ctx, DossierKey(agency, day, seq), claim)
		if err == nil {
			return FormatDossierCode(agency, day, seq), nil
		}
		if !errors.Is(err, ErrExists) {
			return "", fmt.Errorf("allocate dossier code: %w", err)
		}
	}
	return "", fmt.Errorf("allocate dossier code: too much contention: %w", ErrExists)
}

// ---- ids ----

// newResultID is a UUIDv7 whose last group is not all decimal digits: that
// 12-character group would otherwise look like a citizen ID in a key
// (p ≈ 0.4 %), and CheckKey refuses such keys (validResultID).
func newResultID() (string, error) {
	for {
		u, err := uuid.NewV7()
		if err != nil {
			return "", fmt.Errorf("new result id: %w", err)
		}
		if s := u.String(); validResultID(s) {
			return s, nil
		}
	}
}

// uuidTime is the creation time carried by a UUIDv7.
func uuidTime(id string) (time.Time, error) {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 || u.String() != id {
		return time.Time{}, fmt.Errorf("result id %q: not a canonical UUIDv7: %w", id, ErrInvalid)
	}
	var b [8]byte
	copy(b[2:], u[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:]))), nil
}
