package s3

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"sohoa/storage"
	"sohoa/storage/storagetest"
)

var day = time.Date(2025, 7, 18, 9, 0, 0, 0, storage.Vietnam())

func newRepo(t *testing.T) (*storage.Repository, *Bucket) {
	t.Helper()
	b := newBucket(t)
	r, err := storage.New(b, storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func allKeys(t *testing.T, b *Bucket, prefix string) []string {
	t.Helper()
	var out []string
	if err := b.List(t.Context(), prefix, func(o storage.ObjectInfo) error {
		out = append(out, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFileConcurrentOnceOnS3: 100 workers file one result at once; every
// object of it exists in exactly one version.
func TestFileConcurrentOnceOnS3(t *testing.T) {
	r, b := newRepo(t)
	const n = 100
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			req := storagetest.Result(11, 1, day)
			req.PDF = append(req.PDF, byte('a'+i%26)) // each worker signed its own bytes
			m, err := r.File(context.WithoutCancel(t.Context()), req)
			ids[i], errs[i] = m.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("worker %d: id %s, %v; want %s, nil", i, ids[i], errs[i], ids[0])
		}
	}
	keys := allKeys(t, b, "") // pdf, manifest, code, sha256, index entry, issued event, its outbox event
	for _, k := range keys {
		v, err := b.Versions(t.Context(), k)
		if err != nil || v != 1 {
			t.Errorf("%s: %d versions, %v; want 1", k, v, err)
		}
	}
	if want := 7; len(keys) != want {
		t.Errorf("objects after 100 concurrent files = %d (%q), want %d", len(keys), keys, want)
	}
}

func TestCorruptPDFDetectedOnS3(t *testing.T) {
	r, b := newRepo(t)
	m, err := r.File(t.Context(), storagetest.Result(12, 1, day))
	if err != nil {
		t.Fatal(err)
	}
	path := backingFile(t, b, m.File.ObjectKey)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("backing file of %s: %v", m.File.ObjectKey, err)
	}
	data[len(data)-3] ^= 0x01
	if err := os.WriteFile(path, data, 0); err != nil {
		t.Fatal(err)
	}
	rc, _, err := r.OpenPDF(t.Context(), m.ResultCode)
	if !errors.Is(err, storage.ErrCorrupt) || rc != nil {
		t.Errorf("OpenPDF of a corrupted backing file = %v, %v; want nil, ErrCorrupt", rc, err)
	}
}

// TestServerKeepsSHA256Checksum: the server received and stored the SHA-256
// checksum, and it equals ours.
func TestServerKeepsSHA256Checksum(t *testing.T) {
	b := newBucket(t)
	body := []byte("checksummed body")
	sum := storage.SHA256Hex(body)
	if err := b.PutOnce(t.Context(), "c", body, sum); err != nil {
		t.Fatal(err)
	}
	opts := minio.StatObjectOptions{Checksum: true}
	o, err := b.Client().StatObject(t.Context(), b.Name(), "c", opts)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := hex.DecodeString(sum)
	if want := base64.StdEncoding.EncodeToString(raw); o.ChecksumSHA256 != want {
		t.Errorf("server ChecksumSHA256 = %q, want %q", o.ChecksumSHA256, want)
	}
}

// TestRebuildIndexOnS3: index entries removed from the server are recreated
// byte for byte by RebuildIndex.
func TestRebuildIndexOnS3(t *testing.T) {
	r, b := newRepo(t)
	for i := range 5 {
		if _, err := r.File(t.Context(), storagetest.Result(20+i, i%2, day)); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, k := range allKeys(t, b, "index/") {
			body, _, err := b.Get(t.Context(), k)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = string(body)
		}
		return out
	}
	want := snapshot()
	if len(want) != 5 {
		t.Fatalf("index entries = %d, want 5", len(want))
	}
	// Wipe the index as an administrator would: remove each version with
	// governance bypass. (A plain delete only adds a delete marker, and
	// versitygw v1.8.0 answers If-None-Match on a delete-marked key with
	// 412, so a create-once rebuild could not recreate it.)
	for k := range want {
		info, err := b.Stat(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Client().RemoveObject(t.Context(), b.Name(), k,
			minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true}); err != nil {
			t.Fatalf("remove %s: %v", k, err)
		}
	}
	if left := allKeys(t, b, "index/"); len(left) != 0 {
		t.Fatalf("index after delete = %q, want empty", left)
	}
	n, err := r.RebuildIndex(t.Context())
	if err != nil || n != 5 {
		t.Fatalf("RebuildIndex = %d, %v; want 5, nil", n, err)
	}
	got := snapshot()
	for k, body := range want {
		if got[k] != body {
			t.Errorf("rebuilt %s = %q, want %q", k, got[k], body)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rebuilt %d entries, want %d", len(got), len(want))
	}
	hits, err := r.Search(t.Context(), storage.Query{IDType: "CCCD", ID: storagetest.HolderID(0)})
	if err != nil || len(hits) != 3 {
		t.Errorf("Search after rebuild = %d hits, %v; want 3", len(hits), err)
	}
}

// TestNoPersonalDataInKeysOnS3 files results with lookups, intakes, status
// changes and dossier claims, then checks every key in the bucket.
func TestNoPersonalDataInKeysOnS3(t *testing.T) {
	r, b := newRepo(t)
	ctx := t.Context()
	const holders = 10
	for i := range holders * 2 {
		req := storagetest.Result(40+i, i%holders, day)
		in, err := r.PutIntake(ctx, append([]byte("scan of "), storagetest.HolderName(i%holders)...),
			storage.IntakeMeta{Name: storagetest.HolderID(i%holders) + ".jpg"})
		if err != nil {
			t.Fatal(err)
		}
		req.Manifest.InputKey = in
		if _, err := r.File(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	first := storagetest.Result(40, 0, day).Manifest.ResultCode
	if err := r.AppendStatus(ctx, first, storage.StatusEvent{Status: storage.StatusRevoked, DecisionRef: "12/QĐ-UBND"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "b1"}); err != nil {
		t.Fatal(err)
	}
	n := storagetest.CheckKeysPrivate(t, b, holders)
	if n < holders*2*7 {
		t.Errorf("checked %d keys, want at least %d", n, holders*2*7)
	}
}

// TestCodesConcurrentOnS3: concurrent dossier allocations and result-code
// reservations on a real S3 server never hand one code out twice, and a
// named code is never allocated.
func TestCodesConcurrentOnS3(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.WithoutCancel(t.Context())
	named := storagetest.Agency + "-250718-0003"
	if err := r.ReserveDossierCode(ctx, named, storage.DossierClaim{BatchID: "named"}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	dossiers, results := make([]string, n), make([]string, n)
	errs := make([]error, 2*n)
	for i := range n {
		wg.Go(func() {
			dossiers[i], errs[i] = r.AllocateDossierCode(ctx, storagetest.Agency, day, storage.DossierClaim{BatchID: "b"})
		})
		wg.Go(func() {
			results[i], errs[n+i] = r.ReserveResultCode(ctx, storage.CodeRequest{Dossier: named, Agency: storagetest.Agency,
				Owner: storage.CodeOwner{InputKey: storage.InputKeyOf([]byte{byte(i)}), BatchID: "named"}})
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, c := range append(dossiers, results...) {
		if errs[i] != nil || seen[c] || c == named {
			t.Errorf("code %d = %q, %v; want a fresh code", i, c, errs[i])
		}
		seen[c] = true
	}
	if !seen[named+"-KQ20"] || !seen[storagetest.Agency+"-250718-0021"] {
		t.Errorf("codes are not dense: %v %v", dossiers, results)
	}
}
