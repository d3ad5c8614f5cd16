package s3

import (
	"fmt"
	"testing"
	"time"

	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// BenchmarkSearchS3 measures one holder's search on the real server at two
// repository sizes (the 100k size runs on mem, see storage.BenchmarkSearch).
func BenchmarkSearchS3(b *testing.B) {
	for _, n := range []int{1_000, 5_000} {
		b.Run(fmt.Sprintf("results=%d", n), func(b *testing.B) {
			bkt := newBucket(b)
			r, err := storage.New(bkt, storage.Options{Keys: storagetest.Keys()})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			storagetest.Fill(b, r, n, 4)
			b.Logf("filled %d results in %v", n, time.Since(start).Round(time.Millisecond))
			q := storage.Query{IDType: "CCCD", ID: storagetest.HolderID(storagetest.QueriedHolder),
				ValidAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), IncludeHistory: true}
			for b.Loop() {
				hits, err := r.Search(b.Context(), q)
				if err != nil || len(hits) != storagetest.FillHits {
					b.Fatalf("Search = %d hits, %v; want %d", len(hits), err, storagetest.FillHits)
				}
			}
		})
	}
}
