// Package storage is the e-result repository: the object-key layout (keys.go
// is the only place keys are formatted), the e-result manifest and its sealed
// holder data, the keyed citizen index, status events and validity.
//
// Everything is built on one small driver contract, Bucket, with two
// implementations: storage/s3 (a real S3 server with versioning and Object
// Lock) and storage/mem (in memory, for tests). storage/storagetest is the
// conformance suite both run.
package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"time"
)

// Sentinel errors returned by every Bucket implementation and by Repository.
// Callers test them with errors.Is; the wrapping error names the operation
// and the key (keys never carry personal data).
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrCorrupt: stored bytes do not match their recorded checksum.
	ErrCorrupt = errors.New("checksum mismatch")
	// ErrUnsafeBucket: the bucket lacks versioning or object lock.
	ErrUnsafeBucket = errors.New("bucket is not versioned and locked")
	// ErrInvalid: an argument is malformed or implausible (bad code, key,
	// ID format, a status change dated before the result was issued).
	ErrInvalid = errors.New("invalid argument")
	// ErrConflict: the change conflicts with the current state (a status
	// transition the rules forbid, such as revoking a revoked result).
	ErrConflict = errors.New("conflicts with the current state")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key  string
	Size int64
	// SHA256 is the lowercase hex SHA-256 recorded at write time. List may
	// leave it empty when the server does not return user metadata in
	// listings; Get, Open and Stat always set it.
	SHA256    string
	VersionID string
	ModTime   time.Time
}

// SHA256Hex is the lowercase hex SHA-256 of b: the checksum form of
// Bucket.Upload and ObjectInfo.SHA256.
func SHA256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Bucket is the driver contract every object store implements (storage/s3 on
// a real S3 server, storage/mem in memory). It is deliberately small: the
// repository semantics (layout, index, validity) are built once on top of it.
// There is no delete: stored objects are immutable.
type Bucket interface {
	// Upload writes key only if it does not exist yet (If-None-Match: *),
	// reading exactly size bytes from body, which it streams (go-cloud's
	// blob.Bucket.Upload is the model): a driver never needs the object in
	// memory. sha256hex is the lowercase hex SHA-256 of those bytes, known
	// to the caller beforehand (it hashed them while producing them); a
	// body that does not match it, or is shorter or longer than size, is
	// refused with ErrCorrupt and nothing is stored. An existing key
	// yields ErrExists (callers retrying an idempotent write treat that as
	// success). A body that is also an io.Seeker can be sent again after
	// a lost answer; any other body is sent once.
	Upload(ctx context.Context, key string, body io.Reader, size int64, sha256hex string) error
	// Get returns the object's bytes after checking them against the
	// recorded SHA-256; a mismatch yields ErrCorrupt, never the bytes.
	Get(ctx context.Context, key string) ([]byte, ObjectInfo, error)
	// Open streams the object; the reader returns ErrCorrupt at EOF if the
	// bytes do not match the recorded SHA-256, so a caller must read to EOF
	// before trusting what it read.
	Open(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// List calls fn for every key under prefix in lexical order. An error
	// from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
}

// PutBytes writes body to key create-once through b.Upload, with its
// SHA-256 (one pass over body).
func PutBytes(ctx context.Context, b Bucket, key string, body []byte) error {
	return b.Upload(ctx, key, bytes.NewReader(body), int64(len(body)), SHA256Hex(body))
}
