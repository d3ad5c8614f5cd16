package signing_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"sohoa/signing"
)

// BenchmarkIssueOnePage is the signing throughput of one-page e-results
// with a file key (the development PKCS#12-free PEM key): render the page
// with its text layer, stamp and QR, sign (detached CMS, no TSA), and verify
// the output as the issuer does before filing. results/s is per core when
// run with -cpu 1 on an idle core; results/cpu-s is the same figure from
// the process's CPU time (user + system), which other load on the machine
// does not change. The steps are also measured alone.
//
//	go test -run '^$' -bench BenchmarkIssueOnePage -cpu 1 ./signing/
func BenchmarkIssueOnePage(b *testing.B) {
	keys, caFile := devKeys(b)
	roots := rootsFrom(b, caFile)
	r := newRenderer(b)
	ctx := context.Background()
	for _, name := range []string{"scan_0002.jpg", "scan_0005.png"} {
		s := loadSample(b, filepath.Join(corpusDir, name))
		s.in.Pages = s.in.Pages[:1]
		unsigned, err := r.Render(ctx, s.in)
		if err != nil {
			b.Fatal(err)
		}
		sign := func(pdf []byte) []byte {
			out, err := signing.Sign(ctx, pdf, keys, signing.SignOptions{Reason: "Ket qua dien tu", Time: time.Now()})
			if err != nil {
				b.Fatal(err)
			}
			return out
		}
		signed := sign(unsigned)
		verify := func(pdf []byte) {
			v, err := signing.Verify(pdf, roots)
			if err != nil || !v.Valid {
				b.Fatalf("verify: %v %v", err, v.Reasons)
			}
		}
		b.Run(name+"/render", func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Render(ctx, s.in); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/sign", func(b *testing.B) {
			for b.Loop() {
				sign(unsigned)
			}
		})
		b.Run(name+"/verify", func(b *testing.B) {
			for b.Loop() {
				verify(signed)
			}
		})
		b.Run(name+"/all", func(b *testing.B) {
			cpu0 := cpuSeconds(b)
			for b.Loop() {
				pdf, err := r.Render(ctx, s.in)
				if err != nil {
					b.Fatal(err)
				}
				verify(sign(pdf))
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
			// On a shared machine wall time lies; CPU time does not.
			b.ReportMetric(float64(b.N)/(cpuSeconds(b)-cpu0), "results/cpu-s")
		})
	}
}

// cpuSeconds is the CPU time (user + system) this process has used.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
