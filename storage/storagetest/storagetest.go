// Package storagetest is the conformance suite every storage.Bucket driver
// runs (storage/mem in memory, storage/s3 against a real server).
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"sohoa/storage"
)

// Harness tells the suite how to drive one implementation.
type Harness struct {
	// New returns an empty bucket, unique to the test.
	New func(t *testing.T) storage.Bucket
	// Corrupt changes the stored bytes of key behind the driver's back (as
	// disk rot would), keeping the recorded checksum. Nil skips the
	// corruption cases.
	Corrupt func(t *testing.T, b storage.Bucket, key string)
	// Versions counts the versions stored under key. Nil skips the version
	// check of the concurrency case.
	Versions func(t *testing.T, b storage.Bucket, key string) int
	// Writers is the number of concurrent create-once writers; 0 is 100.
	Writers int
}

func put(t *testing.T, b storage.Bucket, key string, body []byte) {
	t.Helper()
	if err := storage.PutBytes(t.Context(), b, key, body); err != nil {
		t.Fatalf("Upload(%s): %v", key, err)
	}
}

// putOnce uploads body from a bytes.Reader with the checksum sha.
func putOnce(ctx context.Context, b storage.Bucket, key string, body []byte, sha string) error {
	return b.Upload(ctx, key, bytes.NewReader(body), int64(len(body)), sha)
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	t.Run("PutOnceThenGet", func(t *testing.T) { testPutGet(t, h) })
	t.Run("PutOnceExisting", func(t *testing.T) { testExists(t, h) })
	t.Run("PutOnceWrongChecksum", func(t *testing.T) { testWrongChecksum(t, h) })
	t.Run("UploadStreams", func(t *testing.T) { testUploadStream(t, h) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, h) })
	t.Run("Stat", func(t *testing.T) { testStat(t, h) })
	t.Run("OpenStreams", func(t *testing.T) { testOpen(t, h) })
	t.Run("ListOrderAndPrefix", func(t *testing.T) { testList(t, h) })
	t.Run("ListStopsOnError", func(t *testing.T) { testListStop(t, h) })
	t.Run("EmptyObject", func(t *testing.T) { testEmpty(t, h) })
	t.Run("CorruptDetected", func(t *testing.T) { testCorrupt(t, h) })
	t.Run("ConcurrentPutOnce", func(t *testing.T) { testConcurrent(t, h) })
}

func testPutGet(t *testing.T, h Harness) {
	b := h.New(t)
	body := []byte("Giấy chứng nhận — bytes \x00\xff")
	put(t, b, "results/a/b.pdf", body)
	got, info, err := b.Get(t.Context(), "results/a/b.pdf")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("Get body = %q, want %q", got, body)
	}
	if info.Key != "results/a/b.pdf" || info.Size != int64(len(body)) || info.SHA256 != storage.SHA256Hex(body) {
		t.Errorf("Get info = %+v, want key results/a/b.pdf size %d sha256 %s", info, len(body), storage.SHA256Hex(body))
	}
}

func testExists(t *testing.T, h Harness) {
	b := h.New(t)
	put(t, b, "k", []byte("first"))
	err := putOnce(t.Context(), b, "k", []byte("second"), storage.SHA256Hex([]byte("second")))
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second PutOnce error = %v, want ErrExists", err)
	}
	got, _, err := b.Get(t.Context(), "k")
	if err != nil || string(got) != "first" {
		t.Errorf("after refused overwrite Get = %q, %v; want %q, nil", got, err, "first")
	}
}

func testWrongChecksum(t *testing.T, h Harness) {
	b := h.New(t)
	err := putOnce(t.Context(), b, "k", []byte("body"), storage.SHA256Hex([]byte("other")))
	if !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Upload with wrong sha256 error = %v, want ErrCorrupt", err)
	}
	if _, err := b.Stat(t.Context(), "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after refused put error = %v, want ErrNotFound", err)
	}
}

// onlyReader hides every method of its reader but Read (no Seek, no
// WriteTo, no Len): a body streamed from a pipe or a request.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// testUploadStream uploads a body larger than any single read from a
// plain reader, then bodies shorter and longer than their stated size,
// which are refused and leave nothing stored.
func testUploadStream(t *testing.T, h Harness) {
	b := h.New(t)
	ctx := t.Context()
	body := bytes.Repeat([]byte("0123456789abcdef"), 80<<10) // 1.25 MiB
	sha := storage.SHA256Hex(body)
	if err := b.Upload(ctx, "big", onlyReader{bytes.NewReader(body)}, int64(len(body)), sha); err != nil {
		t.Fatalf("Upload from a plain reader: %v", err)
	}
	got, info, err := b.Get(ctx, "big")
	if err != nil || !bytes.Equal(got, body) || info.Size != int64(len(body)) || info.SHA256 != sha {
		t.Fatalf("Get after streamed upload: %d bytes, info %+v, err %v; want %d bytes", len(got), info, err, len(body))
	}
	cases := []struct {
		name string
		body []byte
		size int64
	}{
		{"short", body[:len(body)-1], int64(len(body))},
		{"long", body, int64(len(body)) - 1},
	}
	for _, c := range cases {
		err := b.Upload(ctx, c.name, onlyReader{bytes.NewReader(c.body)}, c.size, storage.SHA256Hex(body[:c.size]))
		if !errors.Is(err, storage.ErrCorrupt) {
			t.Errorf("Upload of a %s body: error %v, want ErrCorrupt", c.name, err)
		}
		if _, err := b.Stat(ctx, c.name); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat after refused %s upload: error %v, want ErrNotFound", c.name, err)
		}
	}
}

func testNotFound(t *testing.T, h Harness) {
	b := h.New(t)
	ctx := t.Context()
	if _, _, err := b.Get(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get missing error = %v, want ErrNotFound", err)
	}
	if _, err := b.Stat(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat missing error = %v, want ErrNotFound", err)
	}
	if rc, _, err := b.Open(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Open missing error = %v, want ErrNotFound", err)
	}
	n := 0
	if err := b.List(ctx, "nope/", func(storage.ObjectInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List missing prefix = %d keys, %v; want 0, nil", n, err)
	}
}

func testStat(t *testing.T, h Harness) {
	b := h.New(t)
	body := bytes.Repeat([]byte("x"), 1000)
	put(t, b, "s/k.json", body)
	info, err := b.Stat(t.Context(), "s/k.json")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Size != 1000 || info.SHA256 != storage.SHA256Hex(body) || info.Key != "s/k.json" || info.ModTime.IsZero() {
		t.Errorf("Stat = %+v, want size 1000, sha256 %s, key s/k.json, a mod time", info, storage.SHA256Hex(body))
	}
}

func testOpen(t *testing.T, h Harness) {
	b := h.New(t)
	body := bytes.Repeat([]byte("0123456789"), 50_000) // 500 kB
	put(t, b, "big.bin", body)
	rc, info, err := b.Open(t.Context(), "big.bin")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, body) || info.SHA256 != storage.SHA256Hex(body) {
		t.Errorf("Open read %d bytes (sha256 %s), want %d (%s)", len(got), info.SHA256, len(body), storage.SHA256Hex(body))
	}
}

func testList(t *testing.T, h Harness) {
	b := h.New(t)
	keys := []string{"index/k1/bb/2", "index/k1/aa/1", "index/k1/aa/0", "index/k1/ab/9", "index/k2/aa/5", "other"}
	for _, k := range keys {
		put(t, b, k, []byte(k))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"index/k1/aa/", []string{"index/k1/aa/0", "index/k1/aa/1"}},
		{"index/k1/", []string{"index/k1/aa/0", "index/k1/aa/1", "index/k1/ab/9", "index/k1/bb/2"}},
		{"index/k1/a", []string{"index/k1/aa/0", "index/k1/aa/1", "index/k1/ab/9"}},
		{"", []string{"index/k1/aa/0", "index/k1/aa/1", "index/k1/ab/9", "index/k1/bb/2", "index/k2/aa/5", "other"}},
		{"index/k3/", nil},
	} {
		var got []string
		if err := b.List(t.Context(), tc.prefix, func(o storage.ObjectInfo) error {
			if o.Size != int64(len(o.Key)) {
				return fmt.Errorf("key %s: size %d, want %d", o.Key, o.Size, len(o.Key))
			}
			got = append(got, o.Key)
			return nil
		}); err != nil {
			t.Fatalf("List(%q): %v", tc.prefix, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

func testListStop(t *testing.T, h Harness) {
	b := h.New(t)
	for i := range 5 {
		put(t, b, fmt.Sprintf("p/%d", i), []byte{byte(i)})
	}
	stop := errors.New("stop")
	n := 0
	err := b.List(t.Context(), "p/", func(storage.ObjectInfo) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("List with fn error = %v after %d calls, want the fn error after 2", err, n)
	}
}

func testEmpty(t *testing.T, h Harness) {
	b := h.New(t)
	put(t, b, "empty", nil)
	got, info, err := b.Get(t.Context(), "empty")
	if err != nil || len(got) != 0 || info.SHA256 != storage.SHA256Hex(nil) {
		t.Errorf("Get empty = %d bytes, sha256 %s, %v; want 0, %s, nil", len(got), info.SHA256, err, storage.SHA256Hex(nil))
	}
}

func testCorrupt(t *testing.T, h Harness) {
	if h.Corrupt == nil {
		t.Skip("harness has no corruption hook")
	}
	b := h.New(t)
	body := []byte("%PDF-1.7 signed bytes that must never be served altered")
	put(t, b, "results/x.pdf", body)
	h.Corrupt(t, b, "results/x.pdf")
	if got, _, err := b.Get(t.Context(), "results/x.pdf"); !errors.Is(err, storage.ErrCorrupt) || got != nil {
		t.Errorf("Get corrupted = %d bytes, %v; want nil, ErrCorrupt", len(got), err)
	}
	rc, _, err := b.Open(t.Context(), "results/x.pdf")
	if err != nil {
		t.Fatalf("Open corrupted: %v (want the error at EOF)", err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("reading corrupted stream to EOF error = %v, want ErrCorrupt", err)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	b := h.New(t)
	n := h.Writers
	if n == 0 {
		n = 100
	}
	const key = "results/agency/2026/01/one.manifest.json"
	ctx := context.WithoutCancel(t.Context())
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   []int
		exists int
		other  []error
	)
	for i := range n {
		wg.Go(func() {
			body := []byte(fmt.Sprintf(`{"writer":%d}`, i))
			err := putOnce(ctx, b, key, body, storage.SHA256Hex(body))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins = append(wins, i)
			case errors.Is(err, storage.ErrExists):
				exists++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 || exists != n-1 || len(other) != 0 {
		t.Fatalf("%d concurrent PutOnce: %d successes, %d ErrExists, other errors %v; want 1, %d, none",
			n, len(wins), exists, other, n-1)
	}
	got, _, err := b.Get(t.Context(), key)
	if want := fmt.Sprintf(`{"writer":%d}`, wins[0]); err != nil || string(got) != want {
		t.Errorf("stored body = %q, %v; want the winner's %q", got, err, want)
	}
	if h.Versions != nil {
		if v := h.Versions(t, b, key); v != 1 {
			t.Errorf("versions of %s = %d, want 1", key, v)
		}
	}
}
