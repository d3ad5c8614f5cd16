// Package mem is an in-memory storage.Bucket with the same semantics as
// storage/s3: create-once writes, versions counted, checksum-verified reads.
// It is for tests and benchmarks; nothing survives the process.
package mem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"sohoa/storage"
)

type object struct {
	body    []byte
	sha256  string
	version int
	mod     time.Time
}

// Bucket is an in-memory storage.Bucket. The zero value is not usable; call
// New.
type Bucket struct {
	mu      sync.RWMutex
	objects map[string]*object
	sorted  []string // keys in lexical order, except the unsorted tail below
	tail    int      // number of keys appended to sorted since the last sort
	// versions counts every version ever written per key (a create-once
	// store keeps it at 1; the conformance suite checks that).
	versions map[string]int
}

// New returns an empty Bucket.
func New() *Bucket {
	return &Bucket{objects: make(map[string]*object), versions: make(map[string]int)}
}

var _ storage.Bucket = (*Bucket)(nil)

// PutOnce writes body create-once (Upload of body with its checksum
// sha256hex): a convenience for tests.
func (b *Bucket) PutOnce(ctx context.Context, key string, body []byte, sha256hex string) error {
	return b.Upload(ctx, key, bytes.NewReader(body), int64(len(body)), sha256hex)
}

// Upload implements storage.Bucket. The bytes are held in memory (this is
// the in-memory bucket), checked against size and sha256hex first.
func (b *Bucket) Upload(ctx context.Context, key string, r io.Reader, size int64, sha256hex string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem put %s: %w", key, err)
	}
	if key == "" {
		return fmt.Errorf("mem put: empty key: %w", storage.ErrInvalid)
	}
	if size < 0 {
		return fmt.Errorf("mem put %s: size %d: %w", key, size, storage.ErrInvalid)
	}
	h := sha256.New()
	var buf bytes.Buffer
	buf.Grow(int(min(size, 64<<20)))
	n, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(r, size+1))
	if err != nil {
		return fmt.Errorf("mem put %s: read body: %w", key, err)
	}
	if n != size {
		return fmt.Errorf("mem put %s: body has %d bytes or more, caller says %d: %w", key, n, size, storage.ErrCorrupt)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha256hex {
		return fmt.Errorf("mem put %s: body sha256 %s, caller says %s: %w", key, got, sha256hex, storage.ErrCorrupt)
	}
	body := buf.Bytes()
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[key]; ok {
		return fmt.Errorf("mem put %s: %w", key, storage.ErrExists)
	}
	b.versions[key]++
	b.objects[key] = &object{body: body, sha256: sha256hex, version: b.versions[key], mod: time.Now()}
	b.sorted = append(b.sorted, key)
	b.tail++
	return nil
}

func (b *Bucket) info(key string, o *object) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, Size: int64(len(o.body)), SHA256: o.sha256,
		VersionID: fmt.Sprint(o.version), ModTime: o.mod}
}

func (b *Bucket) lookup(ctx context.Context, op, key string) (*object, storage.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("mem %s %s: %w", op, key, err)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	o, ok := b.objects[key]
	if !ok {
		return nil, storage.ObjectInfo{}, fmt.Errorf("mem %s %s: %w", op, key, storage.ErrNotFound)
	}
	return o, b.info(key, o), nil
}

// Get implements storage.Bucket.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error) {
	o, info, err := b.lookup(ctx, "get", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	b.mu.RLock()
	body := bytes.Clone(o.body)
	b.mu.RUnlock()
	if got := storage.SHA256Hex(body); got != info.SHA256 {
		return nil, storage.ObjectInfo{}, fmt.Errorf("mem get %s: %w", key, storage.ErrCorrupt)
	}
	return body, info, nil
}

// Open implements storage.Bucket.
func (b *Bucket) Open(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	o, info, err := b.lookup(ctx, "open", key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	b.mu.RLock()
	body := bytes.Clone(o.body)
	b.mu.RUnlock()
	return storage.VerifyReader(io.NopCloser(bytes.NewReader(body)), key, info.SHA256), info, nil
}

// Stat implements storage.Bucket.
func (b *Bucket) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	_, info, err := b.lookup(ctx, "stat", key)
	return info, err
}

// List implements storage.Bucket. It costs O(log n + matches) once the key
// list is sorted; writes since the last listing are sorted in lazily.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	b.mu.Lock()
	if b.tail > 0 {
		b.mergeTail()
	}
	i := sort.SearchStrings(b.sorted, prefix)
	var infos []storage.ObjectInfo
	for ; i < len(b.sorted) && strings.HasPrefix(b.sorted[i], prefix); i++ {
		k := b.sorted[i]
		infos = append(infos, b.info(k, b.objects[k]))
	}
	b.mu.Unlock()
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// mergeTail sorts the keys appended since the last listing and merges them
// into the sorted head. Callers hold mu.
func (b *Bucket) mergeTail() {
	n := len(b.sorted) - b.tail
	head, tail := b.sorted[:n], b.sorted[n:]
	sort.Strings(tail)
	if n > 0 && head[n-1] <= tail[0] {
		b.tail = 0
		return
	}
	merged := make([]string, 0, len(b.sorted))
	i, j := 0, 0
	for i < len(head) && j < len(tail) {
		if head[i] <= tail[j] {
			merged = append(merged, head[i])
			i++
		} else {
			merged = append(merged, tail[j])
			j++
		}
	}
	merged = append(merged, head[i:]...)
	merged = append(merged, tail[j:]...)
	b.sorted, b.tail = merged, 0
}

// Versions is the number of versions ever written to key.
func (b *Bucket) Versions(key string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.versions[key]
}

// Tamper rewrites a stored object's bytes in place without updating its
// recorded checksum, as disk corruption would. It is a test hook.
func (b *Bucket) Tamper(key string, f func([]byte) []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	if !ok {
		return fmt.Errorf("mem tamper %s: %w", key, storage.ErrNotFound)
	}
	o.body = f(bytes.Clone(o.body))
	return nil
}

// Delete removes key as a delete marker would (its version count stays),
// simulating a lost object. It is a test hook: the storage.Bucket contract
// has no delete.
func (b *Bucket) Delete(key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.objects[key]; !ok {
		return fmt.Errorf("mem delete %s: %w", key, storage.ErrNotFound)
	}
	delete(b.objects, key)
	if b.tail > 0 {
		b.mergeTail()
	}
	i := sort.SearchStrings(b.sorted, key)
	b.sorted = append(b.sorted[:i], b.sorted[i+1:]...)
	return nil
}
