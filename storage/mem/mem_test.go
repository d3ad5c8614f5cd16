package mem_test

import (
	"testing"

	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) storage.Bucket { return mem.New() },
		Corrupt: func(t *testing.T, b storage.Bucket, key string) {
			if err := b.(*mem.Bucket).Tamper(key, func(p []byte) []byte { p[0] ^= 0x01; return p }); err != nil {
				t.Fatal(err)
			}
		},
		Versions: func(t *testing.T, b storage.Bucket, key string) int { return b.(*mem.Bucket).Versions(key) },
	})
}
