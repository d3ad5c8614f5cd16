package api

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/signing"
	"sohoa/storage"
	"sohoa/storage/storagetest"
)

// mix returns request i of the load mix: allowed and denied reads over
// every route, several credentials, public pages.
func (f *fixture) mix(i int) (string, call) {
	code := f.gks[i%2]
	switch i % 16 {
	case 0, 1:
		return "demo-mtls", call{method: "POST", path: "/v1/results:search", body: searchBody(i%2, "")}
	case 2:
		return "demo-jwt", call{method: "POST", path: "/v1/results:search", body: searchBody(0, `,"include_history":true`)}
	case 3, 4:
		return "demo-mtls", call{method: "GET", path: "/v1/results/" + code}
	case 5:
		return "demo-jwt", call{method: "GET", path: "/v1/results/" + code + "/pdf"}
	case 6:
		return "demo-mtls", call{method: "GET", path: "/v1/results/" + code + "/status"}
	case 7:
		return "demo-mtls", call{method: "POST", path: "/v1/verify", body: []byte(`{"sha256":"` + f.sha[code] + `"}`)}
	case 8:
		return "none", call{method: "POST", path: "/v1/results:search", body: searchBody(1, "")}
	case 9:
		return "wrong-ca", call{method: "POST", path: "/v1/results:search", body: searchBody(0, "")}
	case 10:
		return "alg-none", call{method: "GET", path: "/v1/results/" + code}
	case 11:
		return "limited", call{method: "GET", path: "/v1/results/" + f.gplx[0]}
	case 12:
		return "search-only", call{method: "GET", path: "/v1/results/" + code + "/pdf"}
	case 13:
		return "none", call{method: "GET", path: "/v/" + code + "?k=" + signing.VerifyToken(f.qrKey, code), noPurpose: true}
	case 14:
		return "none", call{method: "GET", path: "/v/" + code + "?k=WRONGWRONGWR", noPurpose: true}
	default:
		return "demo-mtls", call{method: "POST", path: "/v1/results/" + f.revoked + "/revoke", body: []byte(`{"decision_ref":"QD-9/2025"}`)}
	}
}

func TestLoadAuditCompleteAndPrivate(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	f := newFixture(t, fixtureOpts{rps: 1e6})
	runLoad(t, f, n)

	if err := f.log.Close(t.Context()); err != nil {
		t.Fatalf("audit Close: %v", err)
	}
	rep, err := audit.Verify(t.Context(), f.bucket)
	if err != nil {
		t.Fatalf("audit Verify: %v", err)
	}
	if rep.Records != uint64(n) {
		t.Errorf("got %d audit records, want %d (one per request)", rep.Records, n)
	}
	t.Logf("%d requests, %d audit records in %d batches", n, rep.Records, rep.Batches)

	// Privacy: no ID and no holder name in any log line or audit record.
	var auditBytes strings.Builder
	err = f.bucket.List(t.Context(), storage.AuditPrefix(), func(oi storage.ObjectInfo) error {
		b, _, err := f.bucket.Get(t.Context(), oi.Key)
		auditBytes.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids, names []string
	for _, h := range holders {
		ids, names = append(ids, h.id), append(names, h.name)
	}
	for name, text := range map[string]string{"logs": f.logs.String(), "audit": auditBytes.String()} {
		t.Run(name, func(t *testing.T) {
			n := storagetest.CheckLog(t, text, ids, names)
			t.Logf("%d lines checked", n)
		})
	}
	// The audit does hold the keyed hash of the searched citizen.
	if !strings.Contains(auditBytes.String(), audit.CitizenHash(f.auditKey, "CCCD", holders[1].id)) {
		t.Error("audit lacks the K_audit hash of a searched citizen")
	}
}

// runLoad sends n requests of the mix from 8 workers.
func runLoad(t *testing.T, f *fixture, n int) {
	t.Helper()
	clients := map[string]*http.Client{}
	for name, c := range f.creds {
		clients[name] = f.client(c)
	}
	var next atomic.Int64
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				name, k := f.mix(i)
				got := f.do(clients[name], f.creds[name], k)
				mu.Lock()
				statuses[got.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("status histogram: %v", statuses)
	for _, s := range []int{200, 401, 403, 404, 409} {
		if statuses[s] == 0 {
			t.Errorf("got no %d responses; the mix is not mixed", s)
		}
	}
}

// BenchmarkSearchUnderLoad: 50 concurrent clients, each on its own TLS
// connection over loopback, each op a search then a metadata read, with the
// real audit log (WAL + batches) in the path. Reports p50/p99 per request.
func BenchmarkSearchUnderLoad(b *testing.B) {
	f := newFixture(b, fixtureOpts{rps: 1e9})
	const conc = 50
	c := f.creds["demo-mtls"]
	hcs := make([]*http.Client, conc)
	for i := range hcs {
		hcs[i] = f.client(c)
	}
	// Warm up: one TLS handshake per client before timing, so the numbers
	// are steady-state request latency.
	for _, hc := range hcs {
		if r := f.do(hc, c, call{method: "GET", path: "/v1/results/" + f.gks[0] + "/status"}); r.status != 200 {
			b.Fatalf("warm-up: got %d", r.status)
		}
	}
	var search, meta []time.Duration
	var mu sync.Mutex
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			var s, m []time.Duration
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				r := f.do(hcs[w], c, call{method: "POST", path: "/v1/results:search", body: searchBody(w%2, "")})
				t1 := time.Now()
				r2 := f.do(hcs[w], c, call{method: "GET", path: "/v1/results/" + f.gks[w%2], access: true})
				t2 := time.Now()
				if r.status != 200 || r2.status != 200 {
					b.Errorf("got %d, %d; want 200, 200", r.status, r2.status)
					return
				}
				s, m = append(s, t1.Sub(t0)), append(m, t2.Sub(t1))
			}
			mu.Lock()
			search, meta = append(search, s...), append(meta, m...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	report := func(name string, d []time.Duration) {
		if len(d) == 0 {
			return
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
		b.ReportMetric(ms(0.50), name+"-p50-ms")
		b.ReportMetric(ms(0.99), name+"-p99-ms")
	}
	report("search", search)
	report("meta", meta)
	f.log.Close(context.Background())
}
