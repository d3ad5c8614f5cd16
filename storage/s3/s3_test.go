package s3

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"sohoa/internal/testenv"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// env is the local stack's S3 settings; without them (or without the
// server) the test skips, or fails in strict mode (internal/testenv).
type env struct {
	endpoint, access, secret string
}

func stackEnv(t testing.TB) env {
	t.Helper()
	v := testenv.MustHaveEnv(t, "SOHOA_S3_ENDPOINT", "SOHOA_S3_ACCESS_KEY", "SOHOA_S3_SECRET_KEY")
	testenv.MustHaveService(t, "S3", v[0])
	return env{endpoint: v[0], access: v[1], secret: v[2]}
}

func bucketName(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "sohoa-test-" + hex.EncodeToString(b[:])
}

func (e env) config(name string) Config {
	return Config{Endpoint: e.endpoint, AccessKey: e.access, SecretKey: e.secret, Bucket: name, Create: true, RetentionDays: 1}
}

func newBucket(t testing.TB) *Bucket {
	t.Helper()
	e := stackEnv(t)
	b, err := Open(t.Context(), e.config(bucketName(t)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return b
}

// backingFile is where versitygw's posix backend keeps the current version
// of key: <data dir>/<bucket>/<key>.
func backingFile(t *testing.T, b *Bucket, key string) string {
	t.Helper()
	// The server's backing files are under the stack's local folder.
	dir := testenv.MustHaveEnv(t, "SOHOA_LOCAL_DIR")[0]
	return filepath.Join(dir, "s3", "data", b.Name(), filepath.FromSlash(key))
}

func TestConformance(t *testing.T) {
	stackEnv(t)
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Bucket { return newBucket(t) },
		Corrupt: func(t *testing.T, sb storage.Bucket, key string) {
			path := backingFile(t, sb.(*Bucket), key)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read backing file: %v", err)
			}
			data[len(data)/2] ^= 0x20 // same size, one bit flipped
			if err := os.WriteFile(path, data, 0); err != nil {
				t.Fatalf("write backing file: %v", err)
			}
		},
		Versions: func(t *testing.T, sb storage.Bucket, key string) int {
			n, err := sb.(*Bucket).Versions(t.Context(), key)
			if err != nil {
				t.Fatalf("Versions: %v", err)
			}
			return n
		},
	})
}

func TestOpenRefusesUnsafeBucket(t *testing.T) {
	e := stackEnv(t)
	c, err := minio.New(e.endpoint, &minio.Options{Creds: credentialsFor(e)})
	if err != nil {
		t.Fatal(err)
	}
	plain := bucketName(t)
	if err := c.MakeBucket(t.Context(), plain, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("MakeBucket: %v", err)
	}
	_, err = Open(t.Context(), e.config(plain))
	if !errors.Is(err, storage.ErrUnsafeBucket) {
		t.Fatalf("Open(bucket without versioning or lock) error = %v, want ErrUnsafeBucket", err)
	}
	if !contains(err.Error(), plain) {
		t.Errorf("error %q does not name the bucket %s", err, plain)
	}

	// Versioned but not locked is refused too.
	if err := c.EnableVersioning(t.Context(), plain); err != nil {
		t.Fatalf("EnableVersioning: %v", err)
	}
	if _, err := Open(t.Context(), e.config(plain)); !errors.Is(err, storage.ErrUnsafeBucket) {
		t.Errorf("Open(versioned, unlocked bucket) error = %v, want ErrUnsafeBucket", err)
	}
}

func TestOpenMissingWithoutCreate(t *testing.T) {
	e := stackEnv(t)
	cfg := e.config(bucketName(t))
	cfg.Create = false
	if _, err := Open(t.Context(), cfg); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open(missing bucket, Create false) error = %v, want ErrNotFound", err)
	}
}

func TestOpenIsIdempotent(t *testing.T) {
	e := stackEnv(t)
	cfg := e.config(bucketName(t))
	for i := range 2 {
		if _, err := Open(t.Context(), cfg); err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
	}
}

// TestObjectVersionsOnceAcrossPages: a paged ListObjectVersions lists every
// stored version once. versitygw v1.8.0 lists the last version of each
// truncated page again at the top of the next page (its markers are
// inclusive, versity/versitygw#2178); that repeat is not a second write and
// must not count as one, while a real second write still does.
func TestObjectVersionsOnceAcrossPages(t *testing.T) {
	b := newBucket(t)
	ctx := t.Context()
	const n = 7
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("v/k%d.json", i)
		body := fmt.Appendf(nil, `{"n":%d}`, i)
		if err := b.PutOnce(ctx, keys[i], body, storage.SHA256Hex(body)); err != nil {
			t.Fatalf("PutOnce %s: %v", keys[i], err)
		}
	}
	// A create-once key written again is refused, and stays one version.
	again := []byte(`{"n":0}`)
	if err := b.PutOnce(ctx, keys[0], again, storage.SHA256Hex(again)); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second PutOnce %s: %v, want ErrExists", keys[0], err)
	}

	raw := 0
	for o := range b.Client().ListObjects(ctx, b.Name(), minio.ListObjectsOptions{Prefix: "v/", Recursive: true, WithVersions: true, MaxKeys: 2}) {
		if o.Err != nil {
			t.Fatalf("raw list: %v", o.Err)
		}
		raw++
	}
	t.Logf("raw paged listing: %d entries for %d versions", raw, n)

	for _, page := range []int{0, 2, 3} {
		vs, repeats, err := b.ObjectVersions(ctx, "v/", page)
		if err != nil {
			t.Fatalf("ObjectVersions(page %d): %v", page, err)
		}
		if len(vs) != n {
			t.Errorf("page %d: %d keys, want %d", page, len(vs), n)
		}
		for _, k := range keys {
			if got := len(vs[k]); got != 1 {
				t.Errorf("page %d: %s has %d versions, want 1", page, k, got)
			}
		}
		if page == 2 && raw != n+repeats {
			t.Errorf("page 2: %d raw entries, %d repeats dropped, want %d versions", raw, repeats, n)
		}
	}
	if _, _, err := b.ObjectVersions(ctx, "v/", 1); !errors.Is(err, storage.ErrInvalid) {
		t.Errorf("ObjectVersions(page 1): %v, want ErrInvalid (versitygw never ends such a listing)", err)
	}
	if v, err := b.Versions(ctx, keys[0]); err != nil || v != 1 {
		t.Errorf("Versions(%s) = %d, %v; want 1", keys[0], v, err)
	}

	// A real second version (an unconditional overwrite, which our writes
	// never make) is still seen, on every page size.
	body := []byte(`{"n":"overwritten"}`)
	if _, err := b.Client().PutObject(ctx, b.Name(), keys[3], bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{DisableContentSha256: true}); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	for _, page := range []int{0, 2, 3} {
		vs, _, err := b.ObjectVersions(ctx, "v/", page)
		if err != nil {
			t.Fatalf("ObjectVersions(page %d): %v", page, err)
		}
		if got := len(vs[keys[3]]); got != 2 {
			t.Errorf("page %d: overwritten %s has %d versions, want 2", page, keys[3], got)
		}
	}
}

// dropFirstPutAnswer delivers the first object PUT (If-None-Match) it
// carries to the server and
// then loses the answer, as a connection cut or a server stopped between
// committing and answering would.
type dropFirstPutAnswer struct {
	mu      sync.Mutex
	dropped int
}

func (d *dropFirstPutAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.Method != http.MethodPut || r.Header.Get("If-None-Match") == "" {
		return resp, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dropped == 0 && resp.StatusCode == http.StatusOK {
		d.dropped++
		resp.Body.Close()
		return nil, errors.New("connection reset by peer (test)")
	}
	return resp, nil
}

// TestPutOnceAnswerLost: a create-once PUT that was stored but never
// answered is sent again; the retry meets 412 and PutOnce recognises its
// own write (success, not ErrExists, so a claim is not taken for another's),
// and the key holds one version.
func TestPutOnceAnswerLost(t *testing.T) {
	e := stackEnv(t)
	cfg := e.config(bucketName(t))
	drop := &dropFirstPutAnswer{}
	cfg.transport = drop
	b, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := t.Context()
	body := []byte(`{"claim":"batch-1"}`)
	if err := b.PutOnce(ctx, "dossiers/x.json", body, storage.SHA256Hex(body)); err != nil {
		t.Fatalf("PutOnce with its answer lost: %v, want nil (our own write)", err)
	}
	if drop.dropped != 1 {
		t.Fatalf("the transport dropped %d answers, want 1", drop.dropped)
	}
	if v, err := b.Versions(ctx, "dossiers/x.json"); err != nil || v != 1 {
		t.Fatalf("Versions = %d, %v; want 1", v, err)
	}
	// Another body under the same key is still refused.
	other := []byte(`{"claim":"batch-2"}`)
	if err := b.PutOnce(ctx, "dossiers/x.json", other, storage.SHA256Hex(other)); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("PutOnce of another body: %v, want ErrExists", err)
	}
	// And the same body, written again by a caller whose first attempt
	// was answered, is ErrExists as before (idempotent callers see it).
	if err := b.PutOnce(ctx, "dossiers/x.json", body, storage.SHA256Hex(body)); !errors.Is(err, storage.ErrExists) {
		t.Fatalf("PutOnce again: %v, want ErrExists", err)
	}
	if v, err := b.Versions(ctx, "dossiers/x.json"); err != nil || v != 1 {
		t.Fatalf("Versions = %d, %v; want 1", v, err)
	}
}

// countRequests counts the requests it carries, by method.
type countRequests struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countRequests) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// TestGetOneRequest: reading an object, found or not, is one GET (body,
// metadata and its recorded SHA-256 in one answer), not a HEAD and a GET.
func TestGetOneRequest(t *testing.T) {
	e := stackEnv(t)
	cfg := e.config(bucketName(t))
	count := &countRequests{n: map[string]int{}}
	cfg.transport = count
	b, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := t.Context()
	body := []byte(`{"state":"issued"}`)
	if err := b.PutOnce(ctx, "one/get.json", body, storage.SHA256Hex(body)); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		key     string
		wantErr error
	}{{"one/get.json", nil}, {"one/missing.json", storage.ErrNotFound}} {
		count.mu.Lock()
		count.n = map[string]int{}
		count.mu.Unlock()
		got, info, err := b.Get(ctx, tt.key)
		if !errors.Is(err, tt.wantErr) {
			t.Fatalf("Get(%s): %v, want %v", tt.key, err, tt.wantErr)
		}
		if err == nil && (string(got) != string(body) || info.SHA256 != storage.SHA256Hex(body)) {
			t.Errorf("Get(%s) = %q sha256 %s, want the stored body and its hash", tt.key, got, info.SHA256)
		}
		count.mu.Lock()
		if count.n[http.MethodGet] != 1 || len(count.n) != 1 {
			t.Errorf("Get(%s) sent %v, want one GET", tt.key, count.n)
		}
		count.mu.Unlock()
	}
}
