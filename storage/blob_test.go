package storage_test

import (
	"bytes"
	"errors"
	"testing"

	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// TestScansPagesAndPDFsAreEncryptedAtRest: what the bucket holds for a scan,
// a page image and a result PDF is ciphertext; the repository opens it; a
// flipped byte or a body moved to another key is ErrCorrupt; after a seal
// key rotation old objects still open and new ones use the new key.
func TestScansPagesAndPDFsAreEncryptedAtRest(t *testing.T) {
	r, b := newRepo(t)
	ctx := t.Context()
	scan := append([]byte("\xff\xd8\xff\xe0 JPEG scan of "), storagetest.HolderID(7)...)
	in, err := r.PutIntake(ctx, scan, storage.IntakeMeta{Name: "a.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	page := append([]byte("\x89PNG page image "), storagetest.HolderID(7)...)
	pageKey, err := r.PutPage(ctx, in, 1, "png", page)
	if err != nil {
		t.Fatal(err)
	}
	m := file(t, r, storagetest.Result(7, 1, day))

	for key, plain := range map[string][]byte{storage.IntakeKey(in): scan, pageKey: page, m.File.ObjectKey: nil} {
		raw, _, err := b.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(raw, []byte("sohoa-blob-1\n")) {
			t.Errorf("%s: stored without the encryption header", key)
		}
		// Long strings only: random ciphertext holds a short one by chance.
		for _, clear := range [][]byte{[]byte(storagetest.HolderID(7)), []byte("JPEG scan of"), []byte("PNG page image")} {
			if bytes.Contains(raw, clear) {
				t.Errorf("%s shows %q in clear", key, clear)
			}
		}
		if plain != nil && bytes.Contains(raw, plain) {
			t.Errorf("%s holds its plaintext", key)
		}
	}
	if got, _, err := r.Intake(ctx, in); err != nil || !bytes.Equal(got, scan) {
		t.Errorf("Intake = %d bytes, %v; want the scan", len(got), err)
	}
	if got, err := r.Page(ctx, pageKey); err != nil || !bytes.Equal(got, page) {
		t.Errorf("Page = %d bytes, %v; want the page", len(got), err)
	}
	if rc, _, err := r.OpenPDF(ctx, m.ResultCode); err != nil {
		t.Errorf("OpenPDF: %v", err)
	} else {
		rc.Close()
	}

	// A body moved under another key does not open.
	other := storage.PageKey(in, 2, "png")
	raw, _, _ := b.Get(ctx, pageKey)
	if err := b.PutOnce(ctx, other, raw, storage.SHA256Hex(raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Page(ctx, other); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("moved body: %v, want ErrCorrupt", err)
	}
	// A flipped byte is caught (the bucket's own checksum is recomputed by
	// Tamper, so only the AEAD can tell).
	if err := b.Tamper(pageKey, func(p []byte) []byte { p[len(p)-5] ^= 1; return p }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Page(ctx, pageKey); err == nil {
		t.Error("tampered page opened")
	}
	// The same for a scan, which is read as a stream (readBlob): a flipped
	// byte in its ciphertext, or its body cut short, does not open.
	big := bytes.Repeat(scan, 20000) // several DARE packages
	bigKey, err := r.PutIntake(ctx, big, storage.IntakeMeta{Name: "big.jpg"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := r.Intake(ctx, bigKey); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("streamed Intake = %d bytes, %v; want the %d-byte scan", len(got), err, len(big))
	}
	if err := b.Tamper(storage.IntakeKey(bigKey), func(p []byte) []byte { p[len(p)/2] ^= 1; return p }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Intake(ctx, bigKey); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("tampered scan: %v, want ErrCorrupt", err)
	}
	if err := b.Tamper(storage.IntakeKey(bigKey), func(p []byte) []byte { return p[:len(p)-70000] }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Intake(ctx, bigKey); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("truncated scan: %v, want ErrCorrupt", err)
	}

	// Rotation: a ring whose current seal key is new still opens old
	// objects; new objects are written under the new kid.
	keys := storagetest.Keys()
	keys.SealKeys["s2"] = bytes.Repeat([]byte{'Z'}, 32)
	keys.SealKID = "s2"
	rotated, err := storage.New(b, storage.Options{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := rotated.Intake(ctx, in); err != nil || !bytes.Equal(got, scan) {
		t.Errorf("old scan after rotation: %v", err)
	}
	k3, err := rotated.PutPage(ctx, in, 3, "png", page)
	if err != nil {
		t.Fatal(err)
	}
	if raw, _, _ := b.Get(ctx, k3); !bytes.HasPrefix(raw, []byte("sohoa-blob-1\ns2\n")) {
		t.Errorf("new page not under the current kid: %q", raw[:20])
	}
	// Without the old key the old objects do not open (and say why).
	delete(keys.SealKeys, "s1")
	if lost, err := storage.New(b, storage.Options{Keys: keys}); err == nil {
		if _, _, err := lost.Intake(ctx, in); err == nil {
			t.Error("a scan opened without its seal key")
		}
	}
}
