// Package s3 is the storage.Bucket driver for S3-compatible servers
// (versitygw, MinIO, AWS) over minio-go. It refuses buckets without
// versioning and Object Lock, writes create-once with If-None-Match: *,
// sends a SHA-256 checksum the server verifies, records its own SHA-256 in
// user metadata and checks every read against it.
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"sohoa/storage"
)

// metaSHA256 is the user-metadata key (x-amz-meta-sha256) of our checksum.
const metaSHA256 = "Sha256"

// Config selects a server and bucket.
type Config struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	Bucket    string
	Secure    bool   // HTTPS
	Region    string // "" is us-east-1
	// Create makes the bucket, with versioning and Object Lock, when it is
	// missing. An existing bucket is never changed.
	Create bool
	// LockMode is the default retention mode of a created bucket:
	// "GOVERNANCE" (the default) or "COMPLIANCE".
	LockMode string
	// RetentionDays is the default retention of a created bucket; 0 is 1.
	RetentionDays int
	// ConflictRetries bounds retries of a 409 ConditionalRequestConflict;
	// 0 is 5.
	ConflictRetries int
	// transport, when set, carries every request (tests drop answers).
	transport http.RoundTripper
}

// Bucket is a storage.Bucket on an S3 server.
type Bucket struct {
	c *minio.Client
	// put sends create-once PUTs, one attempt each (minio-go retries
	// nothing): PutOnce retries itself, so it knows when an earlier attempt
	// of its own may have been stored unanswered.
	put     *minio.Client
	name    string
	retries int
}

var _ storage.Bucket = (*Bucket)(nil)

// Open connects to the server, creates the bucket when cfg.Create and it is
// missing, and refuses (storage.ErrUnsafeBucket) a bucket that lacks
// versioning or Object Lock.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, fmt.Errorf("s3 open: endpoint and bucket are required: %w", storage.ErrInvalid)
	}
	mode := minio.RetentionMode(strings.ToUpper(cfg.LockMode))
	if mode == "" {
		mode = minio.Governance
	}
	if !mode.IsValid() {
		return nil, fmt.Errorf("s3 open: lock mode %q: want GOVERNANCE or COMPLIANCE: %w", cfg.LockMode, storage.ErrInvalid)
	}
	days := uint(max(cfg.RetentionDays, 1))
	opts := func(maxRetries int) *minio.Options {
		return &minio.Options{
			Creds:           cfg.creds(),
			Secure:          cfg.Secure,
			Region:          cfg.Region,
			TrailingHeaders: true, // needed for Checksum: ChecksumSHA256
			Transport:       cfg.transport,
			MaxRetries:      maxRetries,
		}
	}
	c, err := minio.New(cfg.Endpoint, opts(0))
	if err != nil {
		return nil, fmt.Errorf("s3 open %s: %w", cfg.Endpoint, err)
	}
	put, err := minio.New(cfg.Endpoint, opts(1))
	if err != nil {
		return nil, fmt.Errorf("s3 open %s: %w", cfg.Endpoint, err)
	}
	b := &Bucket{c: c, put: put, name: cfg.Bucket, retries: cfg.ConflictRetries}
	if b.retries <= 0 {
		b.retries = 5
	}
	exists, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 open bucket %s: %w", cfg.Bucket, mapErr(err))
	}
	if !exists {
		if !cfg.Create {
			return nil, fmt.Errorf("s3 open: bucket %s does not exist (set Create to make it): %w", cfg.Bucket, storage.ErrNotFound)
		}
		if err := b.create(ctx, cfg.Region, mode, days); err != nil {
			return nil, err
		}
	}
	if err := b.checkSafe(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *Bucket) create(ctx context.Context, region string, mode minio.RetentionMode, days uint) error {
	err := b.c.MakeBucket(ctx, b.name, minio.MakeBucketOptions{Region: region, ObjectLocking: true})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
			return fmt.Errorf("s3 create bucket %s: %w", b.name, mapErr(err))
		}
		return nil // created concurrently by someone else; checkSafe judges it
	}
	if err := b.c.EnableVersioning(ctx, b.name); err != nil {
		return fmt.Errorf("s3 create bucket %s: enable versioning: %w", b.name, mapErr(err))
	}
	unit := minio.Days
	if err := b.c.SetObjectLockConfig(ctx, b.name, &mode, &days, &unit); err != nil {
		return fmt.Errorf("s3 create bucket %s: object lock config: %w", b.name, mapErr(err))
	}
	return nil
}

// checkSafe refuses a bucket without versioning or Object Lock.
// CheckSafe reports whether the bucket is reachable, versioned and under
// Object Lock (the readiness check).
func (b *Bucket) CheckSafe(ctx context.Context) error { return b.checkSafe(ctx) }

func (b *Bucket) checkSafe(ctx context.Context) error {
	v, err := b.c.GetBucketVersioning(ctx, b.name)
	if err != nil {
		return fmt.Errorf("s3 open: bucket %s: read versioning: %w", b.name, mapErr(err))
	}
	if !v.Enabled() {
		return fmt.Errorf("s3 open: bucket %s has versioning %q, want Enabled: %w", b.name, v.Status, storage.ErrUnsafeBucket)
	}
	lock, _, _, _, err := b.c.GetObjectLockConfig(ctx, b.name)
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "ObjectLockConfigurationNotFoundError" || code == "ObjectLockConfigurationNotFound" {
			return fmt.Errorf("s3 open: bucket %s has no Object Lock configuration: %w", b.name, storage.ErrUnsafeBucket)
		}
		return fmt.Errorf("s3 open: bucket %s: read object lock: %w", b.name, mapErr(err))
	}
	if lock != "Enabled" {
		return fmt.Errorf("s3 open: bucket %s has Object Lock %q, want Enabled: %w", b.name, lock, storage.ErrUnsafeBucket)
	}
	return nil
}

// Name is the bucket name.
func (b *Bucket) Name() string { return b.name }

// Client is the underlying minio client, for tests and admin tools that
// need calls outside the Bucket contract (ListObjectVersions, …).
func (b *Bucket) Client() *minio.Client { return b.c }

// mapErr maps minio errors to the storage sentinels, keeping the original
// wrapped.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return err
	}
	switch {
	case er.Code == "PreconditionFailed" || er.StatusCode == http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %w", storage.ErrExists, err)
	case er.Code == "NoSuchKey" || er.Code == "NoSuchBucket" || er.Code == "NoSuchVersion" || er.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
	case er.Code == "XAmzContentChecksumMismatch" || er.Code == "BadDigest" || er.Code == "InvalidDigest":
		return fmt.Errorf("%w: %w", storage.ErrCorrupt, err)
	}
	return err
}

func isConflict(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "ConditionalRequestConflict" || er.StatusCode == http.StatusConflict)
}

// isAmbiguous: the attempt may or may not have been stored (no answer, or
// a server error), as opposed to an answer that says what happened.
func isAmbiguous(err error) bool {
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.StatusCode != 0 || er.Code != "") {
		return er.StatusCode >= 500 // 0 with a code: refused before sending
	}
	return true // a transport error: the request may have been committed
}

// ambiguousRetries bounds the retries of a PUT whose answer was lost.
const ambiguousRetries = 4

// PutOnce writes body create-once (Upload of body with its checksum
// sha256hex): a convenience for tests and tools.
func (b *Bucket) PutOnce(ctx context.Context, key string, body []byte, sha256hex string) error {
	return b.Upload(ctx, key, bytes.NewReader(body), int64(len(body)), sha256hex)
}

// Upload implements storage.Bucket: one streamed PUT with If-None-Match: *.
// The caller's SHA-256 travels in the x-amz-checksum-sha256 header, which
// the server checks against the bytes it receives before storing anything
// (BadDigest: storage.ErrCorrupt); the driver never hashes the body itself.
// A 412 is storage.ErrExists; a 409 ConditionalRequestConflict (another
// conditional write in flight) is retried, and then usually becomes 412.
//
// A PUT without an answer (connection lost, server stopped, 5xx) may have
// been stored: Upload sends it again itself when body is an io.Seeker, and
// a 412 after such an attempt is our own write when the stored object
// carries our SHA-256, so it is success, not ErrExists (a caller claiming a
// code must not take its own claim for another's). Nothing is ever written
// twice: every attempt is conditional.
func (b *Bucket) Upload(ctx context.Context, key string, body io.Reader, size int64, sha256hex string) error {
	raw, err := hex.DecodeString(sha256hex)
	if err != nil || len(raw) != sha256.Size {
		return fmt.Errorf("s3 put %s: checksum %q is not a hex SHA-256: %w", key, sha256hex, storage.ErrCorrupt)
	}
	if size < 0 {
		return fmt.Errorf("s3 put %s: size %d: %w", key, size, storage.ErrInvalid)
	}
	opts := minio.PutObjectOptions{
		DisableMultipart: true,
		// Unsigned payload: the checksum header below is what the server
		// verifies (versitygw v1.8.0 rejects the signed streaming-trailer
		// encoding minio-go uses on plain HTTP).
		DisableContentSha256: true,
		UserMetadata: map[string]string{
			metaSHA256:              sha256hex,
			"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(raw),
		},
		ContentType: contentType(key),
	}
	opts.SetMatchETagExcept("*")
	seeker, _ := body.(io.Seeker)
	var start int64
	if seeker != nil {
		if start, err = seeker.Seek(0, io.SeekCurrent); err != nil {
			seeker = nil
		}
	}
	conflicts, unanswered := 0, 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if _, err := seeker.Seek(start, io.SeekStart); err != nil {
				return fmt.Errorf("s3 put %s: rewind body: %w", key, err)
			}
		}
		er := &exactReader{r: body, left: size}
		_, err = b.put.PutObject(ctx, b.name, key, er, size, opts)
		var delay time.Duration
		switch {
		case err == nil:
			return nil
		case er.err != nil:
			return fmt.Errorf("s3 put %s: %w", key, er.err)
		case ctx.Err() != nil:
			return fmt.Errorf("s3 put %s: %w", key, mapErr(err))
		case isConflict(err) && conflicts < b.retries && seeker != nil:
			conflicts++
			delay = time.Duration(conflicts) * 20 * time.Millisecond
		case isAmbiguous(err) && unanswered < ambiguousRetries && seeker != nil:
			unanswered++
			delay = time.Duration(1<<unanswered) * 100 * time.Millisecond
		}
		if delay == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("s3 put %s: %w", key, ctx.Err())
		case <-time.After(delay):
		}
	}
	err = mapErr(err)
	if unanswered > 0 && errors.Is(err, storage.ErrExists) {
		// An attempt of ours went unanswered: was it stored?
		if info, serr := b.Stat(ctx, key); serr == nil && info.SHA256 == sha256hex {
			return nil
		}
	}
	return fmt.Errorf("s3 put %s: %w", key, err)
}

// exactReader passes on exactly left bytes of r. A body shorter than that,
// or longer (probed before the last bytes are passed on, so the server
// never receives a complete request), fails the read with ErrCorrupt,
// recorded in err.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := io.ReadFull(e.r, p)
	e.left -= int64(n)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		e.err = fmt.Errorf("body ended %d bytes before its stated size: %w", e.left, storage.ErrCorrupt)
		return 0, e.err
	case err != nil:
		e.err = fmt.Errorf("read body: %w", err)
		return 0, e.err
	}
	if e.left == 0 {
		var one [1]byte
		if m, _ := e.r.Read(one[:]); m > 0 {
			e.err = fmt.Errorf("body longer than its stated size: %w", storage.ErrCorrupt)
			return 0, e.err
		}
	}
	return n, nil
}

func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	case strings.HasSuffix(key, ".pdf"):
		return "application/pdf"
	case strings.HasSuffix(key, ".png"):
		return "image/png"
	case strings.HasSuffix(key, ".jpg"):
		return "image/jpeg"
	}
	return "application/octet-stream"
}

func infoOf(o minio.ObjectInfo) storage.ObjectInfo {
	sha := ""
	for k, v := range o.UserMetadata {
		if strings.EqualFold(k, metaSHA256) || strings.EqualFold(k, "X-Amz-Meta-"+metaSHA256) {
			sha = v
		}
	}
	return storage.ObjectInfo{Key: o.Key, Size: o.Size, SHA256: sha, VersionID: o.VersionID, ModTime: o.LastModified}
}

// Stat implements storage.Bucket.
func (b *Bucket) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	o, err := b.c.StatObject(ctx, b.name, key, minio.StatObjectOptions{})
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("s3 stat %s: %w", key, mapErr(err))
	}
	info := infoOf(o)
	if info.SHA256 == "" {
		return storage.ObjectInfo{}, fmt.Errorf("s3 stat %s: no recorded sha256: %w", key, storage.ErrCorrupt)
	}
	return info, nil
}

// Open implements storage.Bucket.
func (b *Bucket) Open(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	// One GET answers with the body and the metadata: Client.GetObject's
	// Stat before the first read sends a HEAD first, doubling every read.
	obj, o, _, err := minio.Core{Client: b.c}.GetObject(ctx, b.name, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("s3 open %s: %w", key, mapErr(err))
	}
	info := infoOf(o)
	if info.SHA256 == "" {
		obj.Close()
		return nil, storage.ObjectInfo{}, fmt.Errorf("s3 open %s: no recorded sha256: %w", key, storage.ErrCorrupt)
	}
	return storage.VerifyReader(obj, key, info.SHA256), info, nil
}

// Get implements storage.Bucket: the bytes are returned only if they match
// the recorded SHA-256.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error) {
	rc, info, err := b.Open(ctx, key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("s3 get %s: %w", key, mapErr(err))
	}
	return body, info, nil
}

// List implements storage.Bucket. ObjectInfo.SHA256 is empty in listings
// (S3 does not return user metadata there).
func (b *Bucket) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine if fn returns early
	for o := range b.c.ListObjects(ctx, b.name, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("s3 list %s: %w", prefix, mapErr(o.Err))
		}
		if err := fn(infoOf(o)); err != nil {
			return err
		}
	}
	return nil
}

// Versions counts the stored versions of key (delete markers included),
// for create-once checks. Each version is counted once, however often the
// server lists it (ObjectVersions).
func (b *Bucket) Versions(ctx context.Context, key string) (int, error) {
	vs, _, err := b.ObjectVersions(ctx, key, 0)
	if err != nil {
		return 0, fmt.Errorf("s3 versions %s: %w", key, err)
	}
	return len(vs[key]), nil
}

// ObjectVersions lists every stored version (delete markers included) of
// every key under prefix, each version once, by key; repeats counts the
// listing entries dropped because they named a version already listed.
// pageSize is the ListObjectVersions max-keys: 0 is the server's default
// (1,000); 1 is refused (see below: such a listing never ends).
//
// Repeats are the server's, not stored objects: versitygw v1.8.0 (posix
// backend) treats the key-marker and version-id-marker of a paged listing
// as inclusive, so the last version of every truncated page is listed again
// as the first of the next one (versity/versitygw#2178). Two stored
// versions always have two version IDs, so a repeat is never a second
// write. With max-keys 1 every page is that repeat, so the listing would
// never end; a listing that repeats twice in a row (no progress) is an
// error.
func (b *Bucket) ObjectVersions(ctx context.Context, prefix string, pageSize int) (versions map[string][]storage.ObjectInfo, repeats int, err error) {
	if pageSize == 1 || pageSize < 0 {
		return nil, 0, fmt.Errorf("s3 list versions %s: page size %d: want 0 or at least 2: %w", prefix, pageSize, storage.ErrInvalid)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine on an error
	versions = map[string][]storage.ObjectInfo{}
	type version struct{ key, id string }
	seen := map[version]bool{}
	inRow := 0
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, WithVersions: true, MaxKeys: pageSize}
	for o := range b.c.ListObjects(ctx, b.name, opts) {
		if o.Err != nil {
			return nil, 0, fmt.Errorf("s3 list versions %s: %w", prefix, mapErr(o.Err))
		}
		v := version{o.Key, o.VersionID}
		if seen[v] {
			repeats++
			if inRow++; inRow > 1 {
				return nil, 0, fmt.Errorf("s3 list versions %s: the server lists %s version %s again and again (no progress)", prefix, o.Key, o.VersionID)
			}
			continue
		}
		inRow = 0
		seen[v] = true
		versions[o.Key] = append(versions[o.Key], infoOf(o))
	}
	return versions, repeats, nil
}
