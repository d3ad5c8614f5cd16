package storage_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

// BenchmarkSearch measures one holder's search at two repository sizes; the
// cost must not grow with the repository (ratio ≤ 1.5).
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("results=%d", n), func(b *testing.B) {
			r, err := storage.New(mem.New(), storage.Options{Keys: storagetest.Keys()})
			if err != nil {
				b.Fatal(err)
			}
			storagetest.Fill(b, r, n, 2)
			q := storage.Query{IDType: "CCCD", ID: storagetest.HolderID(storagetest.QueriedHolder), ValidAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), IncludeHistory: true}
			// Warm up: the first listing sorts mem's key list once.
			if _, err := r.Search(b.Context(), q); err != nil {
				b.Fatal(err)
			}
			runtime.GC() // collect the fill's garbage before measuring
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				hits, err := r.Search(b.Context(), q)
				if err != nil || len(hits) != storagetest.FillHits {
					b.Fatalf("Search = %d hits, %v; want %d", len(hits), err, storagetest.FillHits)
				}
			}
			// Wall time is noisy on a shared machine; the process's CPU time
			// per query is the steadier figure.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the user+system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
