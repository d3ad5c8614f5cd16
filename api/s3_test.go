package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/minio/minio-go/v7"

	"sohoa/audit"
	"sohoa/internal/testenv"
	"sohoa/storage"
	"sohoa/storage/s3"
)

// testBucket opens a bucket of its own on the local stack's S3 server.
func testBucket(t *testing.T, what string) *s3.Bucket {
	t.Helper()
	s3env := testenv.MustHaveEnv(t, "SOHOA_S3_ENDPOINT", "SOHOA_S3_ACCESS_KEY", "SOHOA_S3_SECRET_KEY")
	testenv.MustHaveService(t, "S3", s3env[0])
	var rb [6]byte
	rand.Read(rb[:])
	b, err := s3.Open(t.Context(), s3.Config{Endpoint: s3env[0], AccessKey: s3env[1], SecretKey: s3env[2],
		Bucket: "sohoa-test-" + what + "-" + hex.EncodeToString(rb[:]), Create: true, RetentionDays: 1})
	if err != nil {
		t.Fatalf("s3.Open: %v", err)
	}
	t.Logf("bucket %s", b.Name())
	return b
}

// TestJWTAcceptedOnceS3: two API handlers over one S3 bucket (create-once
// with If-None-Match) refuse a token's second use.
func TestJWTAcceptedOnceS3(t *testing.T) { checkJWTAcceptedOnce(t, testBucket(t, "jti")) }

// TestS3RepositoryAndAudit runs the API over the real repository and audit
// log on the local stack's S3 server (versitygw with versioning and object
// lock), in a bucket of its own.
func TestS3RepositoryAndAudit(t *testing.T) {
	b := testBucket(t, "api")
	f := newFixture(t, fixtureOpts{bucket: b, rps: 1e6})
	const n = 320 // 20 rounds of the 16-request mix
	runLoad(t, f, n)
	if err := f.log.Close(t.Context()); err != nil {
		t.Fatalf("audit Close: %v", err)
	}
	rep, err := audit.Verify(t.Context(), b)
	if err != nil {
		t.Fatalf("audit Verify on S3: %v", err)
	}
	if rep.Records != n || rep.Batches < 2 {
		t.Errorf("got %d records in %d batches, want %d in ≥2", rep.Records, rep.Batches, n)
	}
	// The audit batches are locked: no overwrite, no delete of a version.
	first := storage.AuditKey(f.log.Writer(), 1, 1) // the open batch
	if err := b.PutOnce(t.Context(), first, []byte("forged\n"), storage.SHA256Hex([]byte("forged\n"))); !errors.Is(err, storage.ErrExists) {
		t.Errorf("overwrite of %s: got %v, want ErrExists", first, err)
	}
	oi, err := b.Stat(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Client().RemoveObject(t.Context(), b.Name(), first, minio.RemoveObjectOptions{VersionID: oi.VersionID})
	if err == nil || oi.VersionID == "" {
		t.Errorf("delete of %s version %q: got %v, want refused by object lock", first, oi.VersionID, err)
	} else {
		t.Logf("delete of a locked audit batch refused: %v", err)
	}
	if _, err := audit.Verify(t.Context(), b); err != nil {
		t.Errorf("Verify after the attempts: %v", err)
	}

	// Who read holder 1's results: the mix searches holder 1 once per
	// round with the demo client (the unauthenticated attempt is refused
	// before its body is read, so it carries no citizen hash).
	var readers []audit.Record
	err = audit.Query(t.Context(), b, audit.CitizenHash(f.auditKey, "CCCD", holders[1].id), func(r audit.Record) error {
		readers = append(readers, r)
		return nil
	})
	if err != nil {
		t.Fatalf("audit Query: %v", err)
	}
	if len(readers) != n/16 {
		t.Fatalf("got %d reads of holder 1, want %d", len(readers), n/16)
	}
	for _, r := range readers {
		if r.ClientID != DevClient || r.Status != 200 || len(r.Returned) != 1 || r.PurposeDossier != testDossier {
			t.Errorf("got record %+v, want demo-agency 200 with one result and the purpose", r)
		}
	}
}
