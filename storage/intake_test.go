package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

// crashBucket fails every write after the first `allow` ones, as a process
// killed between two writes leaves the store.
type crashBucket struct {
	storage.Bucket
	allow int32
	n     atomic.Int32
}

var errCrashed = errors.New("process killed")

func (b *crashBucket) Upload(ctx context.Context, key string, body io.Reader, size int64, sum string) error {
	if b.n.Add(1) > b.allow {
		return fmt.Errorf("put %s: %w", key, errCrashed)
	}
	return b.Bucket.Upload(ctx, key, body, size, sum)
}

// TestIntakeCrashBetweenWritesKeepsMetadata (finding 6): whatever write of
// an intake a crash interrupts, the store never holds a scan whose
// metadata (file name, dossier code) is lost: either nothing of the upload
// is readable (it was not acknowledged; sending it again completes it), or
// the scan and its metadata are.
func TestIntakeCrashBetweenWritesKeepsMetadata(t *testing.T) {
	data := []byte("scan bytes of one dossier")
	meta := storage.IntakeMeta{Name: "Nguyen Van A - ho so.pdf", BatchID: "b1", DossierCode: "000.00.31.H29-250718-0042"}
	key := storage.InputKeyOf(data)
	for allow := int32(0); allow <= 3; allow++ {
		t.Run(fmt.Sprintf("crash after %d writes", allow), func(t *testing.T) {
			ctx := t.Context()
			b := &crashBucket{Bucket: mem.New(), allow: allow}
			r, err := storage.New(b, storage.Options{Keys: storagetest.Keys()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.PutIntake(ctx, data, meta)
			if allow < 3 && !errors.Is(err, errCrashed) {
				t.Fatalf("PutIntake with %d writes allowed = %v, want the crash", allow, err)
			}
			b.allow = 1 << 20 // the store is back; a reader comes along
			info, err := r.IntakeInfo(ctx, key)
			switch {
			case errors.Is(err, storage.ErrNotFound):
				// Not stored: the client saw an error and sends it again.
			case err != nil:
				t.Fatal(err)
			default:
				if info.Meta.Name != meta.Name || info.Meta.DossierCode != meta.DossierCode {
					t.Errorf("the scan is stored but its metadata reads %+v: name and dossier code lost", info.Meta)
				}
				_, got, err := r.Intake(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				if got.Name != meta.Name || got.DossierCode != meta.DossierCode {
					t.Errorf("Intake after the crash: meta %+v, want the uploaded name and code", got)
				}
			}
			// Sending the file again completes the upload, keeping the
			// first metadata.
			again := meta
			again.Name = "second.pdf"
			if _, err := r.PutIntake(ctx, data, again); err != nil {
				t.Fatal(err)
			}
			_, got, err := r.Intake(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name == "" || got.DossierCode != meta.DossierCode {
				t.Errorf("after a re-upload: meta %+v", got)
			}
		})
	}
}

// TestIntakeInfoReadsNoScan: the metadata of an intake is read without
// downloading the scan (finding 9's status needs it).
func TestIntakeInfoReadsNoScan(t *testing.T) {
	mb := mem.New()
	b := &getCounter{Bucket: mb}
	r, err := storage.New(b, storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(strings.Repeat("x", 1000))
	key, err := r.PutIntake(t.Context(), data, storage.IntakeMeta{Name: "a.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.IntakeInfo(t.Context(), key)
	if err != nil || !info.HasMeta || !info.HasScan || info.Meta.Name != "a.pdf" || info.Meta.Size != 1000 {
		t.Fatalf("IntakeInfo = %+v, %v", info, err)
	}
	if b.scanGets.Load() != 0 {
		t.Errorf("IntakeInfo downloaded the scan %d times", b.scanGets.Load())
	}
	if _, err := r.IntakeInfo(t.Context(), storage.InputKeyOf([]byte("other"))); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("IntakeInfo of nothing = %v, want ErrNotFound", err)
	}
}

type getCounter struct {
	storage.Bucket
	scanGets atomic.Int32
}

func (b *getCounter) Get(ctx context.Context, key string) ([]byte, storage.ObjectInfo, error) {
	if strings.HasPrefix(key, "intake/") && !strings.HasSuffix(key, ".json") {
		b.scanGets.Add(1)
	}
	return b.Bucket.Get(ctx, key)
}
