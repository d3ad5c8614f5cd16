package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors returned by every Bucket implementation and by Repository.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrCorrupt: stored bytes do not match their recorded checksum.
	ErrCorrupt = errors.New("checksum mismatch")
	// ErrUnsafeBucket: the bucket lacks versioning or object lock.
	ErrUnsafeBucket = errors.New("bucket is not versioned and locked")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key       string
	Size      int64
	SHA256    string // lowercase hex, as recorded at write time
	VersionID string
	ModTime   time.Time
}

// Bucket is the driver contract every object store implements (storage/s3 on
// a real S3 server, storage/mem in memory). It is deliberately small: the
// repository semantics (layout, index, validity) are built once on top of it.
type Bucket interface {
	// PutOnce writes key only if it does not exist yet (If-None-Match: *).
	// sha256hex is the lowercase hex SHA-256 of body; the store verifies it.
	// An existing key yields ErrExists (callers retrying an idempotent write
	// treat that as success).
	PutOnce(ctx context.Context, key string, body []byte, sha256hex string) error
	// Get returns the object's bytes after checking them against the
	// recorded SHA-256; a mismatch yields ErrCorrupt, never the bytes.
	Get(ctx context.Context, key string) ([]byte, ObjectInfo, error)
	// Open streams the object; the reader returns ErrCorrupt at EOF if the
	// bytes do not match the recorded SHA-256.
	Open(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for every key under prefix in lexical order.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
}
