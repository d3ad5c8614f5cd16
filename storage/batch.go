// This file owns upload batches: one batch is one dossier received at the
// counter. Its record (sealed, create-once) and one sealed pointer per file
// live in the bucket, so a batch, its files and an office's history survive
// any restart; Redis never holds them.

package storage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Batch is the record of one upload batch.
type Batch struct {
	ID string `json:"batch_id"`
	// DossierCode is the code every file of the batch shares: allocated
	// when the batch was opened, or named by the uploader (reserved for
	// the batch). Empty with PerFile (each file gets its own) and for a
	// one-request batch whose files were all known already.
	DossierCode   string `json:"dossier_code,omitempty"`
	PerFile       bool   `json:"dossier_per_file,omitempty"`
	ProcedureCode string `json:"procedure_code,omitempty"`
	// Office and Staff are the receiving office (an agency code) and the
	// clerk's staff account ID; both empty for a script's batch.
	Office    string    `json:"office,omitempty"`
	Staff     string    `json:"staff,omitempty"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// BatchFile is one file received in a batch.
type BatchFile struct {
	InputKey string `json:"input_key"`
	// Name is the file's name in this batch (a re-upload of bytes already
	// stored keeps the intake's first metadata, but is listed here under
	// the name it came with).
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	DossierCode string    `json:"dossier_code,omitempty"`
	AddedAt     time.Time `json:"added_at"`
}

// batchIDRandLen is the length of a batch ID's random part.
const batchIDRandLen = 10

// NewBatchID returns a fresh batch ID: the time (UTC, so IDs sort by it)
// and 50 random bits, "20260302-080000-k3xq7mbn2v". No run of digits is
// longer than 8, so it never reads as a citizen ID.
func NewBatchID(now time.Time) string {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		r := keyHash(b[:])[:batchIDRandLen]
		id := now.UTC().Format("20060102-150405") + "-" + r
		if ValidBatchID(id) {
			return id
		}
	}
}

// ValidBatchID reports whether s has the shape NewBatchID produces.
func ValidBatchID(s string) bool {
	if len(s) != 16+batchIDRandLen || s[8] != '-' || s[15] != '-' {
		return false
	}
	if _, err := time.Parse("20060102-150405", s[:15]); err != nil || !allDigits(s[:8]) || !allDigits(s[9:15]) {
		return false
	}
	for i := 16; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return maxDigitRun(s) <= maxKIDDigits
}

// BatchTime is the time a batch ID was made.
func BatchTime(id string) (time.Time, error) {
	if !ValidBatchID(id) {
		return time.Time{}, fmt.Errorf("batch id: %w", ErrInvalid)
	}
	return time.Parse("20060102-150405", id[:15])
}

// PutBatch stores a batch's record create-once (ErrExists when the ID is
// taken) and lists it in its office's history. The history entry is written
// first: one left by a failed write points at no record and is skipped.
func (r *Repository) PutBatch(ctx context.Context, b Batch) error {
	opened, err := BatchTime(b.ID)
	if err != nil {
		return fmt.Errorf("put batch: %w", err)
	}
	if b.Office != "" && !ValidAgencyCode(b.Office) {
		return fmt.Errorf("put batch: office %q: %w", b.Office, ErrInvalid)
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = r.now()
	}
	if err := r.indexBatch(ctx, b, opened); err != nil {
		return err
	}
	if err := r.PutSealedJSON(ctx, BatchKey(b.ID), b); err != nil {
		return fmt.Errorf("put batch: %w", err)
	}
	return nil
}

func (r *Repository) indexBatch(ctx context.Context, b Batch, opened time.Time) error {
	if b.Office == "" {
		return nil
	}
	err := r.PutJSON(ctx, OfficeBatchKey(b.Office, opened, b.ID), struct {
		BatchID string `json:"batch_id"`
	}{b.ID})
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("put batch: office history: %w", err)
	}
	return nil
}

// Batch returns a batch's record (ErrNotFound when there is none).
func (r *Repository) Batch(ctx context.Context, id string) (Batch, error) {
	if !ValidBatchID(id) {
		return Batch{}, fmt.Errorf("batch: malformed id: %w", ErrNotFound)
	}
	var b Batch
	if err := r.GetSealedJSON(ctx, BatchKey(id), &b); err != nil {
		return Batch{}, fmt.Errorf("batch %s: %w", id, err)
	}
	return b, nil
}

// AddBatchFile records that f was received in batch, create-once: the same
// bytes received twice in one batch keep their first entry (nil).
func (r *Repository) AddBatchFile(ctx context.Context, batch string, f BatchFile) error {
	if !ValidBatchID(batch) || !ValidInputKey(f.InputKey) {
		return fmt.Errorf("add batch file: malformed batch or input key: %w", ErrInvalid)
	}
	if f.AddedAt.IsZero() {
		f.AddedAt = r.now()
	}
	if err := r.PutSealedJSON(ctx, BatchFileKey(batch, f.InputKey), f); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("add batch file: %w", err)
	}
	return nil
}

// BatchFileKeys lists the input keys of a batch's files (in key order).
func (r *Repository) BatchFileKeys(ctx context.Context, batch string) ([]string, error) {
	if !ValidBatchID(batch) {
		return nil, fmt.Errorf("batch files: malformed id: %w", ErrInvalid)
	}
	prefix := BatchFilesPrefix(batch)
	var keys []string
	err := r.b.List(ctx, prefix, func(o ObjectInfo) error {
		k, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), jsonSuffix)
		if ok && ValidInputKey(k) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("batch files %s: %w", batch, err)
	}
	return keys, nil
}

// BatchFile reads one file entry of a batch.
func (r *Repository) BatchFile(ctx context.Context, batch, inputKey string) (BatchFile, error) {
	if !ValidBatchID(batch) || !ValidInputKey(inputKey) {
		return BatchFile{}, fmt.Errorf("batch file: malformed batch or input key: %w", ErrInvalid)
	}
	var f BatchFile
	if err := r.GetSealedJSON(ctx, BatchFileKey(batch, inputKey), &f); err != nil {
		return BatchFile{}, fmt.Errorf("batch file: %w", err)
	}
	return f, nil
}

// OfficeBatchIDs lists the batches an office opened in the month of month
// (Vietnam time), newest first.
func (r *Repository) OfficeBatchIDs(ctx context.Context, office string, month time.Time) ([]string, error) {
	if !ValidAgencyCode(office) {
		return nil, fmt.Errorf("office batches: office %q: %w", office, ErrInvalid)
	}
	prefix := OfficeBatchesPrefix(office, month)
	var ids []string
	err := r.b.List(ctx, prefix, func(o ObjectInfo) error {
		if id := strings.TrimPrefix(o.Key, prefix); ValidBatchID(id) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("office batches: %w", err)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids, nil
}
