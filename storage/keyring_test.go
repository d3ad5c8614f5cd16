package storage_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

// TestCheckKeys: a bucket remembers the key IDs it was written with; opening
// it with a ring that lacks one, or holds another key under one, is refused
// naming the IDs, and a rotated ring that keeps the old keys is accepted.
func TestCheckKeys(t *testing.T) {
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	ring := func(kids ...string) storage.Keys {
		k := storage.Keys{IndexKeys: map[string][]byte{}, SealKeys: map[string][]byte{}, IndexKID: kids[0], SealKID: "s-" + kids[0]}
		for _, kid := range kids {
			k.IndexKeys[kid] = key(kid[len(kid)-1])
			k.SealKeys["s-"+kid] = key(kid[len(kid)-1] + 100)
		}
		return k
	}
	b := mem.New()
	open := func(k storage.Keys) error {
		_, err := storage.Open(t.Context(), b, storage.Options{Keys: k})
		return err
	}
	sameKidOtherKey := ring("dev-a")
	sameKidOtherKey.IndexKeys["dev-a"] = key('z')
	tests := []struct {
		name string
		keys storage.Keys
		want []string // in the error; nil: accepted
	}{
		{"first open records keys A", ring("dev-a"), nil},
		{"keys A again", ring("dev-a"), nil},
		{"a fresh ring B", ring("dev-b"), []string{"dev-a", "dev-b", "s-dev-a", "s-dev-b"}},
		{"kid A with another key", sameKidOtherKey, []string{"dev-a", "different key"}},
		{"rotation: B current, A kept", ring("dev-b", "dev-a"), nil},
		{"back to A alone, after B wrote", ring("dev-a"), []string{"dev-b", "lacks"}},
		{"A current again, B kept", ring("dev-a", "dev-b"), nil},
	}
	for _, tc := range tests {
		err := open(tc.keys)
		if tc.want == nil {
			if err != nil {
				t.Errorf("%s: %v, want accepted", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, storage.ErrKeyMismatch) {
			t.Errorf("%s: %v, want ErrKeyMismatch", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not name %q", tc.name, err, w)
			}
		}
	}
	var markers []string
	b.List(t.Context(), storage.KeyringPrefix(), func(o storage.ObjectInfo) error {
		markers = append(markers, o.Key)
		body, _, _ := b.Get(t.Context(), o.Key)
		for _, c := range []byte{'a', 'b', 'z'} {
			if bytes.Contains(body, key(c)) || strings.Contains(string(body), strings.Repeat("61", 8)) {
				t.Errorf("marker %s holds key material", o.Key)
			}
		}
		return nil
	})
	if want := "keyring/index/dev-a.json keyring/index/dev-b.json keyring/seal/s-dev-a.json keyring/seal/s-dev-b.json"; strings.Join(markers, " ") != want {
		t.Errorf("markers %v, want %s", markers, want)
	}
	// The conformance fixture's keys open a fresh bucket too.
	if _, err := storage.Open(t.Context(), mem.New(), storage.Options{Keys: storagetest.Keys()}); err != nil {
		t.Errorf("Open with the fixture keys: %v", err)
	}
}
