// This file owns filing a signed result and reading it back: the PDF, its
// manifest, the code, sha256 and input lookups, and result IDs.

package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

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
// Under codes/ it also names the document the code is reserved for
// (written by ReserveResultCode; pointers filed before codes had owners
// carry none).
type pointer struct {
	ID          string `json:"id"`
	ResultCode  string `json:"result_code"`
	ManifestKey string `json:"manifest_key"`
	CodeOwner
}

// CodeOwner is the document a result code is reserved for: document Doc of
// intake InputKey, uploaded in batch BatchID.
type CodeOwner struct {
	InputKey string `json:"input_key,omitempty"`
	Doc      int    `json:"doc,omitempty"`
	BatchID  string `json:"batch_id,omitempty"`
}

// CodeRequest asks ReserveResultCode for a result code of Dossier.
type CodeRequest struct {
	Dossier string
	Agency  string // the issuing agency: the folder the result will be filed in
	Owner   CodeOwner
	// Proposed is the code the document had before codes were reserved:
	// a pointer at Proposed without an owner whose manifest was made from
	// Owner.InputKey is Owner's.
	Proposed string
	// AcceptOthers skips codes of other batches instead of refusing them:
	// a person confirmed that the document is another result of Dossier.
	AcceptOthers bool
}

// ReserveResultCode reserves the lowest free result code {dossier}-KQ{n}
// for req.Owner by a create-once write of its codes/ pointer, before the
// result is rendered, and returns it; File then files under that pointer. A
// code already reserved for the owner is returned again, so retried and
// concurrent runs of one issue agree. Codes of other documents of the same
// batch are skipped: the files of one upload share their dossier's
// numbering. A code held by an intake of another batch (or one filed before
// codes had owners, from another intake) means the dossier code belongs to
// another dossier: ErrTaken, naming that code, unless req.AcceptOthers.
func (r *Repository) ReserveResultCode(ctx context.Context, req CodeRequest) (string, error) {
	if !ValidDossierCode(req.Dossier) || !ValidAgencyCode(req.Agency) || !ValidInputKey(req.Owner.InputKey) || req.Owner.Doc < 0 {
		return "", fmt.Errorf("reserve result code: malformed request: %w", ErrInvalid)
	}
	for n := 1; n <= maxResultsPerDossier; n++ {
		code := fmt.Sprintf("%s-KQ%d", req.Dossier, n)
		ptr, err := r.newPointer(code, req.Agency)
		if err != nil {
			return "", fmt.Errorf("reserve result code: %w", err)
		}
		ptr.CodeOwner = req.Owner
		err = r.PutJSON(ctx, CodeKey(code), ptr)
		if err == nil {
			return code, nil
		}
		if !errors.Is(err, ErrExists) {
			return "", fmt.Errorf("reserve result code %s: %w", code, err)
		}
		held, err := r.pointer(ctx, CodeKey(code))
		if err != nil {
			return "", fmt.Errorf("reserve result code %s: %w", code, err)
		}
		mine, sibling, err := r.codeHeldBy(ctx, held, req)
		switch {
		case err != nil:
			return "", fmt.Errorf("reserve result code %s: %w", code, err)
		case mine:
			return code, nil
		case !sibling && !req.AcceptOthers:
			return "", fmt.Errorf("reserve result code %s: held by an intake of another upload: %w", code, ErrTaken)
		}
	}
	return "", fmt.Errorf("reserve result code: dossier %s has %d results: %w", req.Dossier, maxResultsPerDossier, ErrExists)
}

// codeHeldBy says whether a reserved code is req.Owner's, or another
// document's of the same batch.
func (r *Repository) codeHeldBy(ctx context.Context, held pointer, req CodeRequest) (mine, sibling bool, err error) {
	o := held.CodeOwner
	if o.InputKey != "" {
		mine = o.InputKey == req.Owner.InputKey && o.Doc == req.Owner.Doc
		sibling = o.BatchID != "" && o.BatchID == req.Owner.BatchID
		return mine, sibling, nil
	}
	// Filed before codes had owners: the manifest tells whose it is.
	m, err := r.readManifest(ctx, held.ManifestKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, false, nil // an interrupted filing of nobody knows whom
	case err != nil:
		return false, false, err
	}
	return m.InputKey == req.Owner.InputKey && held.ResultCode == req.Proposed, false, nil
}

// newPointer makes the codes/ pointer of a result not filed yet: a fresh
// UUIDv7 and the manifest key it will be filed under.
func (r *Repository) newPointer(code, agency string) (pointer, error) {
	id, err := newResultID()
	if err != nil {
		return pointer{}, err
	}
	month, err := uuidTime(id)
	if err != nil {
		return pointer{}, err
	}
	return pointer{ID: id, ResultCode: code, ManifestKey: ResultManifestKey(agency, month, id)}, nil
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
	m.File.SHA256, m.File.Size = SHA256Hex(req.PDF), int64(len(req.PDF))
	if err := r.putBlob(ctx, pdfKey, req.PDF); errors.Is(err, ErrExists) {
		stored, err := r.getBlob(ctx, pdfKey)
		if err != nil {
			return Manifest{}, fmt.Errorf("file result %s: read stored pdf: %w", m.ResultCode, err)
		}
		m.File.SHA256, m.File.Size = SHA256Hex(stored), int64(len(stored))
	} else if err != nil {
		return Manifest{}, fmt.Errorf("file result %s: %w", m.ResultCode, err)
	}

	m.SchemaVersion = SchemaVersion
	m.ID = ptr.ID
	m.File.ObjectKey = pdfKey
	m.CreatedAt = r.now().In(Vietnam()).Truncate(time.Millisecond)
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
// an earlier call (or ReserveResultCode) stored. A code reserved for
// another intake is ErrTaken.
func (r *Repository) claimCode(ctx context.Context, m Manifest) (pointer, error) {
	ptr, err := r.newPointer(m.ResultCode, m.ConvertingAgency.Code)
	if err != nil {
		return pointer{}, err
	}
	err = r.PutJSON(ctx, CodeKey(m.ResultCode), ptr)
	if err == nil {
		return ptr, nil
	}
	if !errors.Is(err, ErrExists) {
		return pointer{}, err
	}
	held, err := r.pointer(ctx, CodeKey(m.ResultCode))
	if err != nil {
		return pointer{}, err
	}
	if held.InputKey != "" && held.InputKey != m.InputKey {
		return pointer{}, fmt.Errorf("code reserved for another intake: %w", ErrTaken)
	}
	return held, nil
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
	ptr := pointer{ID: m.ID, ResultCode: m.ResultCode, ManifestKey: manifestKey} // no owner: only codes/ has one
	issued := StatusEvent{At: m.CreatedAt, Status: StatusActive, ReasonCode: ReasonCodeIssued, Actor: actor}
	puts := []struct {
		key string
		v   any
	}{
		{SHA256Key(m.File.SHA256), ptr},
		{IndexKey(m.Holder.KID, m.Holder.IDHMAC, m.ID), entryOf(m, manifestKey)},
		{EventKey(m.ID, 0, StatusActive), issued},
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
	// After the issued event it announces (a retried File writes it if an
	// interrupted one did not).
	return r.putOutbox(ctx, m, 0, issued)
}

func (r *Repository) readManifest(ctx context.Context, key string) (Manifest, error) {
	var m Manifest
	if err := r.getJSON(ctx, key, &m, maxManifestBytes); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

func (r *Repository) byPointer(ctx context.Context, key string) (Manifest, error) {
	m, _, err := r.resolve(ctx, key)
	return m, err
}

// resolve reads the pointer at key and the manifest it names, and returns
// both the manifest and its object key.
func (r *Repository) resolve(ctx context.Context, key string) (Manifest, string, error) {
	p, err := r.pointer(ctx, key)
	if err != nil {
		return Manifest{}, "", err
	}
	m, err := r.readManifest(ctx, p.ManifestKey)
	if err != nil {
		return Manifest{}, "", err
	}
	if m.ID != p.ID || m.ResultCode != p.ResultCode {
		return Manifest{}, "", fmt.Errorf("lookup %s: manifest %s does not match: %w", key, p.ManifestKey, ErrCorrupt)
	}
	return m, p.ManifestKey, nil
}

// Get returns the manifest of a result code (KQ(n) accepted).
func (r *Repository) Get(ctx context.Context, resultCode string) (Manifest, error) {
	m, _, err := r.byCode(ctx, resultCode)
	return m, err
}

// byCode is the manifest filed under a result code and its object key.
func (r *Repository) byCode(ctx context.Context, resultCode string) (Manifest, string, error) {
	code, _, _, err := ParseResultCode(resultCode)
	if err != nil {
		return Manifest{}, "", err
	}
	m, key, err := r.resolve(ctx, CodeKey(code))
	if err != nil {
		return Manifest{}, "", fmt.Errorf("result %s: %w", code, err)
	}
	return m, key, nil
}

// Filed returns the manifest filed under a result code, like Get, and
// first completes, each create-once, every lookup and event that an
// interrupted File left out: a crash or an S3 outage between the manifest
// and its inputs/, sha256/ or index entries would otherwise leave them
// missing for good, since a retried stage finds the manifest and stops.
// Nothing filed under the code is ErrNotFound.
func (r *Repository) Filed(ctx context.Context, resultCode, actor string) (Manifest, error) {
	m, key, err := r.byCode(ctx, resultCode)
	if err != nil {
		return Manifest{}, err
	}
	if err := r.writeLookups(ctx, m, key, actor); err != nil {
		return Manifest{}, fmt.Errorf("result %s: complete lookups: %w", m.ResultCode, err)
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

// ByDossierCode returns the manifests of a dossier's results, ordered by
// result code. Result codes are {dossier}-KQ{n}, reserved lowest-first
// (ReserveResultCode), and codes/ keys are hashed, so there is no prefix to
// list: it probes KQ1, KQ2, … and stops after a few codes in a row nobody
// reserved. Its cost is one lookup per result of the dossier plus
// maxCodeGap. A code reserved but never filed (an interrupted issue) is
// skipped. None is an empty slice and nil.
func (r *Repository) ByDossierCode(ctx context.Context, dossier string) ([]Manifest, error) {
	if !ValidDossierCode(dossier) {
		return nil, fmt.Errorf("by dossier code: %w", ErrInvalid)
	}
	var out []Manifest
	for n, gap := 1, 0; n <= maxResultsPerDossier && gap < maxCodeGap; n++ {
		m, err := r.byPointer(ctx, CodeKey(fmt.Sprintf("%s-KQ%d", dossier, n)))
		switch {
		case errors.Is(err, ErrNotFound):
			gap++
			continue
		case err != nil:
			return nil, fmt.Errorf("by dossier code %s: %w", dossier, err)
		}
		gap = 0
		out = append(out, m)
	}
	if out == nil {
		out = []Manifest{}
	}
	return out, nil
}

// maxCodeGap is how many unreserved result codes in a row end
// ByDossierCode's probe.
const maxCodeGap = 3

// OpenPDF returns the signed PDF of a result, verified against both the
// store's recorded checksum and the manifest's sha256: a mismatch is
// ErrCorrupt and no bytes.
func (r *Repository) OpenPDF(ctx context.Context, resultCode string) (io.ReadCloser, Manifest, error) {
	m, err := r.Get(ctx, resultCode)
	if err != nil {
		return nil, Manifest{}, err
	}
	data, err := r.getBlob(ctx, m.File.ObjectKey)
	if err != nil {
		return nil, Manifest{}, fmt.Errorf("open pdf %s: %w", m.ResultCode, err)
	}
	if got := SHA256Hex(data); got != m.File.SHA256 {
		return nil, Manifest{}, fmt.Errorf("open pdf %s: sha256 %s, manifest says %s: %w", m.ResultCode, got, m.File.SHA256, ErrCorrupt)
	}
	return io.NopCloser(bytes.NewReader(data)), m, nil
}

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
