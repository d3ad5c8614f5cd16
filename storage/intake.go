// This file owns intake: an uploaded scan stored create-once under its
// content address, with its sealed metadata beside it.

package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
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
// and nil; the first upload's meta is kept (StoreIntake returns it).
func (r *Repository) PutIntake(ctx context.Context, data []byte, meta IntakeMeta) (string, error) {
	key, _, err := r.StoreIntake(ctx, data, meta)
	return key, err
}

// StoreIntake stores an uploaded scan and its metadata, each create-once,
// in an order a crash cannot turn into a scan without metadata:
//
//  1. the open marker (OpenKey, in the index of open inputs the reconciler
//     lists), whose body is the sealed metadata;
//  2. the scan;
//  3. the metadata beside the scan (IntakeMetaKey).
//
// A crash after 1 leaves an upload that was never acknowledged and has no
// scan: nothing reads it, and sending the file again completes it. A crash
// after 2 leaves a scan whose metadata is in its open marker: Intake
// restores it from there. It returns the input key and the metadata
// stored, which is the first upload's when the bytes were stored before.
func (r *Repository) StoreIntake(ctx context.Context, data []byte, meta IntakeMeta) (string, IntakeMeta, error) {
	return r.StoreIntakeBody(ctx, IntakeBody{R: bytes.NewReader(data), Size: int64(len(data)), Key: InputKeyOf(data)}, meta)
}

// IntakeBody is an uploaded scan that need not be in memory: Size bytes
// readable from R (a temporary file the upload streamed into), and Key, its
// input key (InputKeyOf), computed by whoever wrote R while the bytes
// streamed in, so the scan is hashed once.
type IntakeBody struct {
	R    io.ReaderAt
	Size int64
	Key  string
}

// StoreIntakeBody is StoreIntake of a scan read from body.R, streamed:
// the scan is encrypted into a temporary file (hashed as it is written)
// and uploaded from there, so memory does not grow with its size. Key is
// trusted to be InputKeyOf the bytes (the intake computed it from them).
func (r *Repository) StoreIntakeBody(ctx context.Context, body IntakeBody, meta IntakeMeta) (string, IntakeMeta, error) {
	if body.Size == 0 {
		return "", meta, fmt.Errorf("put intake: empty: %w", ErrInvalid)
	}
	switch meta.Source {
	case "":
		meta.Source = SourceCounter
	case SourceCounter, SourceBackfill:
	default:
		return "", meta, fmt.Errorf("put intake: source %q: want counter or backfill: %w", meta.Source, ErrInvalid)
	}
	inputKey := body.Key
	if meta.UploadedAt.IsZero() {
		meta.UploadedAt = r.now()
	}
	meta.Size = body.Size
	if err := r.MarkOpen(ctx, inputKey, meta); err != nil {
		return "", meta, fmt.Errorf("put intake: %w", err)
	}
	if err := r.putBlobFrom(ctx, IntakeKey(inputKey), io.NewSectionReader(body.R, 0, body.Size)); err != nil && !errors.Is(err, ErrExists) {
		return "", meta, fmt.Errorf("put intake: %w", err)
	}
	err := r.PutSealedJSON(ctx, IntakeMetaKey(inputKey), meta)
	if errors.Is(err, ErrExists) {
		var stored IntakeMeta
		if err := r.GetSealedJSON(ctx, IntakeMetaKey(inputKey), &stored); err != nil {
			return "", meta, fmt.Errorf("put intake: read stored metadata: %w", err)
		}
		return inputKey, stored, nil
	}
	if err != nil {
		return "", meta, fmt.Errorf("put intake: %w", err)
	}
	return inputKey, meta, nil
}

// MarkOpen writes the open marker of inputKey for the current hour
// (create-once; an existing one is success), carrying meta sealed: the
// reconciler lists the markers of recent hours to find the inputs it must
// look at. StoreIntake calls it before it stores the scan; the pipeline
// calls it again when a task of the input has exhausted its retries, so the
// input is looked at soon whatever the hour it came in.
func (r *Repository) MarkOpen(ctx context.Context, inputKey string, meta IntakeMeta) error {
	if !ValidInputKey(inputKey) {
		return fmt.Errorf("mark open: malformed input key: %w", ErrInvalid)
	}
	if err := r.PutSealedJSON(ctx, OpenKey(r.now(), inputKey), meta); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("mark open: %w", err)
	}
	return nil
}

// IntakeInfo is what the repository holds of one intake, without its bytes.
type IntakeInfo struct {
	Meta IntakeMeta
	// HasMeta: the metadata beside the scan is stored. HasScan: the scan
	// is (known without a read when the metadata is: it is written
	// after the scan).
	HasMeta, HasScan bool
	// OpenKey is the open marker holding the metadata of a scan whose
	// own metadata write was interrupted ("" if none was found).
	OpenKey string
}

// IntakeInfo reads an intake's metadata without downloading the scan. When
// the metadata beside the scan is missing it looks for the metadata in the
// scan's open marker (and reports it as Meta, without writing anything).
// ErrNotFound when neither the scan nor its metadata is stored.
func (r *Repository) IntakeInfo(ctx context.Context, inputKey string) (IntakeInfo, error) {
	var in IntakeInfo
	if !ValidInputKey(inputKey) {
		return in, fmt.Errorf("intake: malformed input key: %w", ErrInvalid)
	}
	err := r.GetSealedJSON(ctx, IntakeMetaKey(inputKey), &in.Meta)
	switch {
	case err == nil:
		in.HasMeta, in.HasScan = true, true
		return in, nil
	case !errors.Is(err, ErrNotFound):
		return in, fmt.Errorf("intake: %w", err)
	}
	oi, err := r.b.Stat(ctx, IntakeKey(inputKey))
	switch {
	case errors.Is(err, ErrNotFound):
		return in, fmt.Errorf("intake %s: %w", inputKey, ErrNotFound)
	case err != nil:
		return in, fmt.Errorf("intake: %w", err)
	}
	in.HasScan = true
	in.Meta.Size = oi.Size
	key, meta, err := r.findOpenMarker(ctx, inputKey, oi.ModTime)
	if err != nil {
		return in, err
	}
	if key != "" {
		in.OpenKey, in.Meta = key, meta
	}
	return in, nil
}

// findOpenMarker looks for the open marker of inputKey on the days around
// the scan's store time and the repository clock's now (a development clock
// may be offset from the store's): a rare path, taken only for a scan
// whose metadata write was interrupted.
func (r *Repository) findOpenMarker(ctx context.Context, inputKey string, stored time.Time) (string, IntakeMeta, error) {
	days := map[string]bool{}
	var prefixes []string
	for _, t := range []time.Time{stored, r.now()} {
		if t.IsZero() {
			continue
		}
		for _, d := range []time.Duration{-24 * time.Hour, 0, 24 * time.Hour} {
			if p := OpenDayPrefix(t.Add(d)); !days[p] {
				days[p] = true
				prefixes = append(prefixes, p)
			}
		}
	}
	found := ""
	for _, p := range prefixes {
		err := r.b.List(ctx, p, func(oi ObjectInfo) error {
			if strings.HasSuffix(oi.Key, "/"+inputKey) && found == "" {
				found = oi.Key
			}
			return nil
		})
		if err != nil {
			return "", IntakeMeta{}, fmt.Errorf("intake: find open marker: %w", err)
		}
		if found != "" {
			break
		}
	}
	if found == "" {
		return "", IntakeMeta{}, nil
	}
	var meta IntakeMeta
	if err := r.GetSealedJSON(ctx, found, &meta); err != nil {
		return "", IntakeMeta{}, fmt.Errorf("intake: read open marker: %w", err)
	}
	return found, meta, nil
}

// Intake returns an uploaded scan and its meta. A scan whose metadata
// write was interrupted gets it back from its open marker (written again
// beside the scan, create-once); a scan stored before open markers existed
// whose metadata is lost comes back with a meta that has only Size set.
func (r *Repository) Intake(ctx context.Context, inputKey string) ([]byte, IntakeMeta, error) {
	if !ValidInputKey(inputKey) {
		return nil, IntakeMeta{}, fmt.Errorf("intake: malformed input key: %w", ErrInvalid)
	}
	data, err := r.readBlob(ctx, IntakeKey(inputKey))
	if err != nil {
		return nil, IntakeMeta{}, fmt.Errorf("intake %s: %w", inputKey, err)
	}
	meta, err := r.intakeMeta(ctx, inputKey, int64(len(data)))
	if err != nil {
		return nil, IntakeMeta{}, err
	}
	return data, meta, nil
}

// IntakeTo is Intake writing the scan to w as it is read and decrypted,
// so a large scan is never held in memory (the worker spools it for its
// OCR children). On an error, what was written is not to be used.
func (r *Repository) IntakeTo(ctx context.Context, inputKey string, w io.Writer) (IntakeMeta, error) {
	if !ValidInputKey(inputKey) {
		return IntakeMeta{}, fmt.Errorf("intake: malformed input key: %w", ErrInvalid)
	}
	n, err := r.copyBlob(ctx, IntakeKey(inputKey), func(int64) io.Writer { return errWriter{w} })
	if err != nil {
		return IntakeMeta{}, fmt.Errorf("intake %s: %w", inputKey, err)
	}
	return r.intakeMeta(ctx, inputKey, n)
}

// intakeMeta is the meta of a stored scan of size bytes (see Intake).
func (r *Repository) intakeMeta(ctx context.Context, inputKey string, size int64) (IntakeMeta, error) {
	var meta IntakeMeta
	err := r.GetSealedJSON(ctx, IntakeMetaKey(inputKey), &meta)
	switch {
	case errors.Is(err, ErrNotFound):
		info, err := r.IntakeInfo(ctx, inputKey)
		if err != nil {
			return IntakeMeta{}, err
		}
		meta = info.Meta
		meta.Size = size
		if info.OpenKey == "" {
			return IntakeMeta{Size: size}, nil
		}
		if err := r.PutSealedJSON(ctx, IntakeMetaKey(inputKey), meta); err != nil && !errors.Is(err, ErrExists) {
			return IntakeMeta{}, fmt.Errorf("intake: restore metadata: %w", err)
		} else if errors.Is(err, ErrExists) {
			if err := r.GetSealedJSON(ctx, IntakeMetaKey(inputKey), &meta); err != nil {
				return IntakeMeta{}, fmt.Errorf("intake: %w", err)
			}
		}
		r.log.Info("intake metadata restored from its open marker", "input_key", inputKey)
	case err != nil:
		return IntakeMeta{}, fmt.Errorf("intake: %w", err)
	}
	return meta, nil
}
