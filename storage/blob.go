package storage

// blob.go owns encryption at rest of the large objects that show a person:
// uploaded scans (intake/), page images (pages/) and signed result PDFs
// (results/…/*.pdf). Each is stored as
//
//	"sohoa-blob-1\n" kid "\n" DARE 2.0 stream
//
// where DARE is MinIO's Data At Rest Encryption format (github.com/minio/sio:
// AES-256-GCM in 64 KiB authenticated packages, tamper-evident, truncation
// detected), under a key derived for this object: HMAC-SHA256(seal key
// [kid], "sohoa-blob-v1" ‖ 0 ‖ object key). A body copied under another key
// does not open, and a flipped byte fails as ErrCorrupt. kid names the seal
// key it was written with, so seal keys rotate like the sealed JSON objects:
// make a new key current (first in SOHOA_SEAL_KEY), keep the old ones in the
// ring for reading.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minio/sio"
)

const blobMagic = "sohoa-blob-1\n"

func blobKey(key []byte, objectKey string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sohoa-blob-v1\x00"))
	m.Write([]byte(objectKey))
	return m.Sum(nil)
}

func blobConfig(key []byte) sio.Config {
	return sio.Config{Key: key, MinVersion: sio.Version20, CipherSuites: []byte{sio.AES_256_GCM}}
}

// sealBlob encrypts plain for objectKey with the current seal key.
func (r *Repository) sealBlob(objectKey string, plain []byte) ([]byte, error) {
	kid := r.keys.SealKID
	var out bytes.Buffer
	out.Grow(len(plain) + len(plain)/2048 + 64)
	out.WriteString(blobMagic)
	out.WriteString(kid)
	out.WriteByte('\n')
	if _, err := sio.Encrypt(&out, bytes.NewReader(plain), blobConfig(blobKey(r.keys.SealKeys[kid], objectKey))); err != nil {
		return nil, fmt.Errorf("encrypt %s: %w", objectKey, err)
	}
	return out.Bytes(), nil
}

// openBlob decrypts a body sealBlob wrote for objectKey.
func (r *Repository) openBlob(objectKey string, body []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(body, []byte(blobMagic))
	if !ok {
		return nil, fmt.Errorf("decrypt %s: not an encrypted object: %w", objectKey, ErrCorrupt)
	}
	kid, stream, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok || len(kid) > 16 {
		return nil, fmt.Errorf("decrypt %s: bad header: %w", objectKey, ErrCorrupt)
	}
	key, ok := r.keys.SealKeys[string(kid)]
	if !ok {
		return nil, fmt.Errorf("decrypt %s: seal key %q is not in the key ring: %w", objectKey, kid, ErrInvalid)
	}
	var out bytes.Buffer
	out.Grow(len(stream))
	if _, err := sio.Decrypt(&out, bytes.NewReader(stream), blobConfig(blobKey(key, objectKey))); err != nil {
		return nil, fmt.Errorf("decrypt %s: %w: %w", objectKey, err, ErrCorrupt)
	}
	return out.Bytes(), nil
}

// putBlob writes plain to objectKey create-once, encrypted.
func (r *Repository) putBlob(ctx context.Context, objectKey string, plain []byte) error {
	body, err := r.sealBlob(objectKey, plain)
	if err != nil {
		return err
	}
	return r.putOnce(ctx, objectKey, body)
}

// putBlobFrom writes what plain reads to objectKey create-once, encrypted,
// without holding it in memory: the ciphertext goes to a temporary file
// (os.TempDir) and is hashed on the way, then uploaded from the file with
// that checksum. One encryption and one hash pass; the file is removed.
func (r *Repository) putBlobFrom(ctx context.Context, objectKey string, plain io.Reader) (err error) {
	if err := CheckKey(objectKey); err != nil {
		return err
	}
	f, err := os.CreateTemp("", "sohoa-blob-*")
	if err != nil {
		return fmt.Errorf("encrypt %s: temporary file: %w", objectKey, err)
	}
	defer func() {
		f.Close()
		if rerr := os.Remove(f.Name()); rerr != nil && err == nil {
			err = fmt.Errorf("encrypt %s: remove temporary file: %w", objectKey, rerr)
		}
	}()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 256<<10)
	kid := r.keys.SealKID
	w.WriteString(blobMagic)
	w.WriteString(kid)
	w.WriteByte('\n')
	if _, err := sio.Encrypt(w, plain, blobConfig(blobKey(r.keys.SealKeys[kid], objectKey))); err != nil {
		return fmt.Errorf("encrypt %s: %w", objectKey, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("encrypt %s: write temporary file: %w", objectKey, err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("encrypt %s: %w", objectKey, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("encrypt %s: %w", objectKey, err)
	}
	if err := r.b.Upload(ctx, objectKey, f, size, hex.EncodeToString(h.Sum(nil))); err != nil {
		return fmt.Errorf("put %s: %w", objectKey, err)
	}
	return nil
}

// readBlob reads and decrypts objectKey as a stream, into one buffer of
// the plaintext's size: a large scan is in memory once, not twice
// (ciphertext and plaintext). The checksum of the stored bytes is checked
// at their end (Bucket.Open) and DARE authenticates every package.
func (r *Repository) readBlob(ctx context.Context, objectKey string) ([]byte, error) {
	var out *bytes.Buffer
	_, err := r.copyBlob(ctx, objectKey, func(size int64) io.Writer {
		// DARE adds 32 bytes to every 64 KiB package: the plaintext is a
		// little shorter than the object. The buffer has bytes.MinRead to
		// spare past the object's size: ReadFrom doubles a buffer with
		// less room left than that (a 44 MB scan was read into an 88 MB
		// buffer).
		out = bytes.NewBuffer(make([]byte, 0, max(0, size)+bytes.MinRead))
		return out
	})
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// copyBlob decrypts objectKey as a stream into the writer to returns for
// the object's stored size, and returns the plaintext's size. What was
// written before an error is not to be used: DARE authenticates every
// package as it comes, and the bucket's checksum of the stored bytes is
// checked at their end.
func (r *Repository) copyBlob(ctx context.Context, objectKey string, to func(size int64) io.Writer) (int64, error) {
	rc, info, err := r.b.Open(ctx, objectKey)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", objectKey, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	magic := make([]byte, len(blobMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != blobMagic {
		return 0, fmt.Errorf("decrypt %s: not an encrypted object: %w", objectKey, ErrCorrupt)
	}
	kid, err := br.ReadSlice('\n')
	if err != nil || len(kid) > 17 {
		return 0, fmt.Errorf("decrypt %s: bad header: %w", objectKey, ErrCorrupt)
	}
	key, ok := r.keys.SealKeys[string(kid[:len(kid)-1])]
	if !ok {
		return 0, fmt.Errorf("decrypt %s: seal key %q is not in the key ring: %w", objectKey, kid[:len(kid)-1], ErrInvalid)
	}
	dec, err := sio.DecryptReader(br, blobConfig(blobKey(key, objectKey)))
	if err != nil {
		return 0, fmt.Errorf("decrypt %s: %w: %w", objectKey, err, ErrCorrupt)
	}
	n, err := io.Copy(to(info.Size), dec)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return n, fmt.Errorf("decrypt %s: %w", objectKey, we.err)
		}
		return n, fmt.Errorf("decrypt %s: %w: %w", objectKey, err, ErrCorrupt)
	}
	// Read to the end, so the bucket's checksum of the stored bytes is
	// checked even if DARE stopped at its final package.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return n, fmt.Errorf("get %s: %w", objectKey, err)
	}
	return n, nil
}

// writeError marks an error of the writer copyBlob copies to (a full
// disk, say), which is not the object's corruption.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// errWriter wraps the errors of w in writeError.
type errWriter struct{ w io.Writer }

func (e errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// getBlob reads and decrypts objectKey.
func (r *Repository) getBlob(ctx context.Context, objectKey string) ([]byte, error) {
	body, _, err := r.b.Get(ctx, objectKey)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", objectKey, err)
	}
	return r.openBlob(objectKey, body)
}

// PutPage stores page n's image of an intake (ext "jpg" or "png"),
// encrypted, create-once, and returns its key. A page already stored is
// not an error.
func (r *Repository) PutPage(ctx context.Context, inputKey string, n int, ext string, data []byte) (string, error) {
	key := PageKey(inputKey, n, ext)
	if err := r.putBlob(ctx, key, data); err != nil && !errors.Is(err, ErrExists) {
		return "", fmt.Errorf("store page %d: %w", n, err)
	}
	return key, nil
}

// Page returns a page image PutPage stored under key.
func (r *Repository) Page(ctx context.Context, key string) ([]byte, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	return r.getBlob(ctx, key)
}
