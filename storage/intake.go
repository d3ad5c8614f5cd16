// This file owns intake: an uploaded scan stored create-once under its
// content address, with its sealed metadata beside it.

package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Intake sources.
const (
	SourceCounter  = "counter"
	SourceBackfill = "backfill"
)

// IntakeMeta describes an uploaded scan. It is stored beside the scan, not
// in any key.
type IntakeMeta struct {
	Name          string `json:"name"`
	BatchID       string `json:"batch_id"`
	Source        string `json:"source"` // "counter" (default) or "backfill"
	DossierCode   string `json:"dossier_code,omitempty"`
	ProcedureCode string `json:"procedure_code,omitempty"`
	// Office is the code of the office (one-stop unit) that received the
	// dossier, and Staff the staff account ID (storage.StaffAccount) of
	// the clerk who uploaded it; both empty for script and backfill
	// uploads.
	Office     string    `json:"office,omitempty"`
	Staff      string    `json:"staff,omitempty"`
	UploadedAt time.Time `json:"uploaded_at"`
	Size       int64     `json:"size"`
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
	if err := r.putBlob(ctx, IntakeKey(inputKey), data); err != nil && !errors.Is(err, ErrExists) {
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
	data, err := r.getBlob(ctx, IntakeKey(inputKey))
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
