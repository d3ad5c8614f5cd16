// This file owns the repository's generic objects: create-once JSON and
// sealed JSON, checksummed, and existence checks.

package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

func (r *Repository) putOnce(ctx context.Context, key string, body []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := PutBytes(ctx, r.b, key, body); err != nil {
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
