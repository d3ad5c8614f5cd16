package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// VerifyReader wraps a stream so that it hashes what passes through and, at
// EOF, returns ErrCorrupt instead of io.EOF when the bytes do not match
// sha256hex. Drivers use it for Bucket.Open.
func VerifyReader(rc io.ReadCloser, key, sha256hex string) io.ReadCloser {
	return &verifyReader{rc: rc, key: key, want: sha256hex, h: sha256.New()}
}

type verifyReader struct {
	rc   io.ReadCloser
	key  string
	want string
	h    hash.Hash
	err  error
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			v.err = fmt.Errorf("read %s: sha256 %s, recorded %s: %w", v.key, got, v.want, ErrCorrupt)
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.rc.Close() }
