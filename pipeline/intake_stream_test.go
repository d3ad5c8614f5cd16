package pipeline

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sohoa/storage"
	"sohoa/storage/mem"
)

// spoolWatch is a bucket that, when the scan itself is uploaded, records
// whether its body was in memory and which files the temporary folder
// holds at that moment.
type spoolWatch struct {
	storage.Bucket
	dir string

	mu       sync.Mutex
	inMemory bool     // the scan's body was a bytes.Reader
	spooled  []string // the temporary files during its upload
}

func (b *spoolWatch) Upload(ctx context.Context, key string, body io.Reader, size int64, sum string) error {
	if strings.HasPrefix(key, "intake/") && !strings.HasSuffix(key, ".json") {
		b.mu.Lock()
		_, b.inMemory = body.(*bytes.Reader)
		ents, _ := os.ReadDir(b.dir)
		for _, e := range ents {
			b.spooled = append(b.spooled, e.Name())
		}
		b.mu.Unlock()
	}
	return b.Bucket.Upload(ctx, key, body, size, sum)
}

// TestIntakeStreamsUploads: an uploaded file is spooled to a temporary
// file of the intake's TempDir (not held in memory) and stored from there
// through the bucket's streaming Upload; the stored scan is the uploaded
// bytes under their content address, and no temporary file is left.
func TestIntakeStreamsUploads(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir) // the repository's encryption spool, too
	b := &spoolWatch{Bucket: mem.New(), dir: dir}
	repo, err := storage.New(b, storage.Options{Keys: testKeys()})
	if err != nil {
		t.Fatal(err)
	}
	in := NewIntake(repo, &fakeQueue{}, "000.00.31.H29", nil)
	in.Token, in.TempDir = "counter-secret", dir
	srv := httptest.NewServer(in.Handler())
	defer srv.Close()

	scan := bytes.Repeat([]byte("scan bytes \x00\xff "), 200_000) // 2.8 MB
	status, br := postBatch(t, srv.URL, "", map[string][]byte{"big.tif": scan})
	if status != http.StatusCreated || len(br.Files) != 1 || br.Files[0].Status != StatusQueued {
		t.Fatalf("upload: %d %+v, want 201 queued", status, br)
	}
	if got, want := br.Files[0].InputKey, storage.InputKeyOf(scan); got != want {
		t.Errorf("input key %s, want %s (the SHA-256 of the bytes)", got, want)
	}
	if b.inMemory {
		t.Error("the scan was uploaded from memory (bytes.Reader), want a stream from a file")
	}
	var uploads, blobs int
	for _, n := range b.spooled {
		switch {
		case strings.HasPrefix(n, "sohoa-upload-"):
			uploads++
		case strings.HasPrefix(n, "sohoa-blob-"):
			blobs++
		}
	}
	if uploads != 1 || blobs != 1 {
		t.Errorf("temporary files while the scan was stored: %v, want one upload spool and one encrypted spool", b.spooled)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "sohoa-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	got, meta, err := repo.Intake(t.Context(), br.Files[0].InputKey)
	if err != nil || !bytes.Equal(got, scan) || meta.Size != int64(len(scan)) {
		t.Fatalf("stored scan: %d bytes, size %d, err %v; want the %d uploaded bytes", len(got), meta.Size, err, len(scan))
	}

	// A file over the limit is refused while it streams, and leaves nothing.
	in.MaxFileBytes = 1 << 20
	status, br = postBatch(t, srv.URL, "", map[string][]byte{"huge.tif": append(scan, 1)})
	if len(br.Files) != 1 || br.Files[0].Reason != RefusedTooLarge {
		t.Fatalf("oversized upload: %d %+v, want refused too_large", status, br)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "sohoa-*")); len(left) > 0 {
		t.Errorf("temporary files left after a refused upload: %v", left)
	}
}
