// This file owns the Repository type: its options, its construction and the
// bucket beneath it. The other repository files add one concern each.

package storage

import (
	"context"
	"fmt"
	"log/slog"
	"time"
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
	// notify is told of each outbox event stored (WithOutboxNotify).
	notify func(ctx context.Context, resultID string)
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
