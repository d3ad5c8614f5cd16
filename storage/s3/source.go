package s3

import (
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"sohoa/storage"
)

// Source reads an archive of scans under a prefix of any bucket, for
// backfill. It only lists and reads: the archive bucket needs neither
// versioning nor object lock, and nothing is ever written to it.
type Source struct {
	c        *minio.Client
	bucket   string
	prefix   string
	exts     []string
	maxBytes int64
}

// OpenSource opens bucket cfg.Bucket for reading the keys under prefix whose
// extension is one of exts (lower case, with dot); objects larger than
// maxBytes are reported by Read instead of being read.
func OpenSource(ctx context.Context, cfg Config, prefix string, exts []string, maxBytes int64) (*Source, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, fmt.Errorf("s3 source: endpoint and bucket are required: %w", storage.ErrInvalid)
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: cfg.creds(), Secure: cfg.Secure, Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("s3 source %s: %w", cfg.Endpoint, err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 source bucket %s: %w", cfg.Bucket, mapErr(err))
	}
	if !ok {
		return nil, fmt.Errorf("s3 source bucket %s: %w", cfg.Bucket, storage.ErrNotFound)
	}
	return &Source{c: c, bucket: cfg.Bucket, prefix: prefix, exts: exts, maxBytes: maxBytes}, nil
}

// ID names the source stably, for the backfill checkpoint.
func (s *Source) ID() string { return "s3:" + s.bucket + "/" + s.prefix }

// Walk calls fn for every matching key under the prefix, in the lexical
// order S3 lists them, with names relative to the prefix.
func (s *Source) Walk(ctx context.Context, fn func(name string) error) error {
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("s3 source: list %s/%s: %w", s.bucket, s.prefix, mapErr(o.Err))
		}
		name := strings.TrimPrefix(o.Key, s.prefix)
		if name == "" || strings.HasSuffix(o.Key, "/") {
			continue
		}
		if len(s.exts) > 0 && !slices.Contains(s.exts, strings.ToLower(path.Ext(name))) {
			continue
		}
		if err := fn(name); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// Read returns one object's bytes, refusing objects over the size limit.
func (s *Source) Read(ctx context.Context, name string) ([]byte, error) {
	key := s.prefix + name
	obj, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3 source: get %s: %w", key, mapErr(err))
	}
	defer obj.Close()
	limit := s.maxBytes
	if limit <= 0 {
		limit = 1 << 30
	}
	data, err := io.ReadAll(io.LimitReader(obj, limit+1))
	if err != nil {
		return nil, fmt.Errorf("s3 source: read %s: %w", key, mapErr(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("s3 source: %s exceeds the %d-byte limit: %w", name, limit, storage.ErrInvalid)
	}
	return data, nil
}

func (cfg Config) creds() *credentials.Credentials {
	return credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
}
