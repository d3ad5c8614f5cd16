package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"sohoa/storage"
)

// memStore is a create-once in-memory store for tests.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
	fail error // when set, Upload fails with it
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Upload(_ context.Context, key string, r io.Reader, size int64, _ string) error {
	body, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.objs[key]; ok {
		return storage.ErrExists
	}
	m.objs[key] = bytes.Clone(body)
	return nil
}

func (m *memStore) Get(_ context.Context, key string) ([]byte, storage.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, storage.ObjectInfo{}, storage.ErrNotFound
	}
	return bytes.Clone(b), storage.ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

func (m *memStore) List(_ context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	m.mu.Lock()
	var keys []string
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.Unlock()
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(storage.ObjectInfo{Key: k}); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) set(key string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objs[key] = b
}

func (m *memStore) del(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
}

func (m *memStore) get(key string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.objs[key]
}

// chainKeys lists the batch keys of writer's chain in order.
func (m *memStore) chainKeys(t *testing.T, writer string) []string {
	t.Helper()
	var keys []string
	m.List(t.Context(), storage.AuditChainPrefix(writer), func(oi storage.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if len(keys) == 0 {
		t.Fatalf("chain %s has no batch", writer)
	}
	return keys
}

func openTest(t *testing.T, st Store, wal string, batch int) *Log {
	t.Helper()
	l, err := Open(t.Context(), Options{Store: st, WALDir: wal, MaxBatch: batch, MaxDelay: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func appendN(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := range n {
		_, err := l.Append(t.Context(), Record{RequestID: fmt.Sprintf("%s-r%d", l.Writer(), i), Method: "GET",
			Endpoint: "GET /v1/results/{code}", Decision: Allow, Rule: "ok", Status: 200})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func closeTest(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// requestIDs lists every stored request's ID, over all chains.
func requestIDs(t *testing.T, st Reader) map[string]int {
	t.Helper()
	ids := map[string]int{}
	err := Scan(t.Context(), st, func(_ string, recs []Record) error {
		for _, r := range recs {
			if r.Event == "" {
				ids[r.RequestID]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return ids
}

func TestLogBatchesAndVerify(t *testing.T) {
	st := newMemStore()
	l := openTest(t, st, t.TempDir(), 10)
	appendN(t, l, 25)
	closeTest(t, l)
	rep, err := Verify(t.Context(), st)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The open batch, 10 + 10 requests, 5 requests and the close record.
	if rep.Records != 25 || rep.Batches != 4 || len(rep.Chains) != 1 || !rep.Chains[0].Closed {
		t.Errorf("got %d records in %d batches, chains %+v; want 25 in 4, one closed chain", rep.Records, rep.Batches, rep.Chains)
	}
	for _, k := range []string{storage.AuditKey(l.Writer(), 1, 1), storage.AuditKey(l.Writer(), 12, 10), storage.AuditKey(l.Writer(), 22, 6)} {
		if st.get(k) == nil {
			t.Errorf("batch %s missing; have %v", k, st.chainKeys(t, l.Writer()))
		}
	}

	// A second writer starts its own chain, whose open record names the
	// first chain's close record.
	l2 := openTest(t, st, t.TempDir(), 10)
	appendN(t, l2, 5)
	closeTest(t, l2)
	rep, err = Verify(t.Context(), st)
	if err != nil || rep.Records != 30 || len(rep.Chains) != 2 || len(rep.Open()) != 0 {
		t.Fatalf("after a second writer: got %d records in %d chains (open %v), err %v; want 30 in 2, none open", rep.Records, len(rep.Chains), rep.Open(), err)
	}
	open, err := parseBatch(st.get(storage.AuditKey(l2.Writer(), 1, 1)))
	if err != nil || len(open) != 1 {
		t.Fatalf("open batch: %v", err)
	}
	want := []Head{{Writer: l.Writer(), Seq: 27, Hash: rep.Chains[slices.IndexFunc(rep.Chains, func(c Chain) bool { return c.Writer == l.Writer() })].Tail.Hash}}
	if o := open[0]; o.Event != EventOpen || o.Writer != l2.Writer() || !slices.Equal(o.Heads, want) {
		t.Errorf("got open record %+v, want writer %s and heads %+v", o, l2.Writer(), want)
	}
}

// TestTwoWritersOneBucket: two logs on one store and one WAL folder, as two
// `sohoa serve` processes on one machine: nothing collides, nothing is
// dropped, and the result verifies.
func TestTwoWritersOneBucket(t *testing.T) {
	st := newMemStore()
	wal := t.TempDir()
	a, b := openTest(t, st, wal, 7), openTest(t, st, wal, 7)
	var wg sync.WaitGroup
	for _, l := range []*Log{a, b} {
		wg.Go(func() { appendN(t, l, 100) })
	}
	wg.Wait()
	closeTest(t, a)
	closeTest(t, b)
	rep, err := Verify(t.Context(), st)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 200 || len(rep.Chains) != 2 || len(rep.Open()) != 0 {
		t.Errorf("got %d records in %d chains (open %v), want 200 in 2, none open", rep.Records, len(rep.Chains), rep.Open())
	}
	if ids := requestIDs(t, st); len(ids) != 200 {
		t.Errorf("got %d distinct request IDs, want 200", len(ids))
	}
	if left, _ := os.ReadDir(wal); len(left) != 0 {
		t.Errorf("got %d entries left in the WAL folder after Close, want none", len(left))
	}
}

// twoChains writes chain a (closed), chain b (open until the end, so its
// head in c's open record is mid-chain) and chain c, opened after a closed.
func twoChains(t *testing.T) (st *memStore, a, b, c string) {
	st = newMemStore()
	la, lb := openTest(t, st, "", 4), openTest(t, st, "", 4)
	for range 6 {
		appendN(t, la, 2)
		appendN(t, lb, 2)
	}
	closeTest(t, la)
	if err := lb.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	lc := openTest(t, st, "", 4)
	appendN(t, lc, 3)
	appendN(t, lb, 3)
	closeTest(t, lc)
	closeTest(t, lb)
	return st, la.Writer(), lb.Writer(), lc.Writer()
}

func rewrite(t *testing.T, st *memStore, key string, edit func(recs []Record) []Record) []byte {
	t.Helper()
	recs, err := parseBatch(st.get(key))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, r := range edit(recs) {
		b, _ := jsonLine(r)
		buf.Write(b)
	}
	return buf.Bytes()
}

func TestVerifyDetectsBreaks(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, st *memStore, a, b, c string) (batch string)
		reason string
	}{
		{"edited field", func(t *testing.T, st *memStore, a, _, _ string) string {
			k := st.chainKeys(t, a)[1]
			st.set(k, bytes.Replace(st.get(k), []byte(`"status":200`), []byte(`"status":403`), 1))
			return k
		}, "record altered"},
		{"missing batch inside a chain", func(t *testing.T, st *memStore, a, _, _ string) string {
			ks := st.chainKeys(t, a)
			st.del(ks[2])
			return ks[3]
		}, "are missing"},
		{"dropped record", func(t *testing.T, st *memStore, a, _, _ string) string {
			k := st.chainKeys(t, a)[1]
			lines := bytes.SplitAfter(st.get(k), []byte("\n"))
			st.set(k, bytes.Join(append(lines[:1:1], lines[2:]...), nil))
			return k
		}, "its key says"},
		{"last batch of an open chain cut short", func(t *testing.T, st *memStore, _, b, _ string) string {
			ks := st.chainKeys(t, b)
			k := ks[len(ks)-1]
			lines := bytes.SplitAfter(st.get(k), []byte("\n"))
			st.set(k, bytes.Join(lines[:1], nil))
			return k
		}, "its key says"},
		{"closed chain's last batches removed", func(t *testing.T, st *memStore, a, _, c string) string {
			ks := st.chainKeys(t, a)
			st.del(ks[len(ks)-1])
			st.del(ks[len(ks)-2])
			return storage.AuditKey(c, 1, 1)
		}, "chain cut short"},
		{"whole chain removed", func(t *testing.T, st *memStore, a, _, c string) string {
			for _, k := range st.chainKeys(t, a) {
				st.del(k)
			}
			return storage.AuditKey(c, 1, 1)
		}, "no such chain"},
		{"batch of another chain spliced in", func(t *testing.T, st *memStore, a, b, _ string) string {
			ka, kb := st.chainKeys(t, a)[2], st.chainKeys(t, b)[2]
			st.set(ka, st.get(kb))
			return ka
		}, "spliced in from another chain"},
		{"spliced batch relabelled and rehashed", func(t *testing.T, st *memStore, a, b, _ string) string {
			ka, kb := st.chainKeys(t, a)[2], st.chainKeys(t, b)[2]
			st.set(ka, rewrite(t, st, kb, func(recs []Record) []Record {
				for i := range recs {
					recs[i].Writer = a
					recs[i].Hash, _ = recs[i].computeHash()
				}
				return recs
			}))
			return ka
		}, "prev_hash"},
		{"garbage", func(t *testing.T, st *memStore, a, _, _ string) string {
			k := st.chainKeys(t, a)[1]
			st.set(k, []byte("not json\n"))
			return k
		}, "unparsable"},
		{"rehashed record without relinking", func(t *testing.T, st *memStore, a, _, _ string) string {
			k := st.chainKeys(t, a)[1]
			st.set(k, rewrite(t, st, k, func(recs []Record) []Record {
				recs[1].Rule = "forged"
				recs[1].Hash, _ = recs[1].computeHash()
				return recs
			}))
			return k
		}, "prev_hash"},
		{"chain without its open batch", func(t *testing.T, st *memStore, _, b, _ string) string {
			ks := st.chainKeys(t, b)
			st.del(ks[0])
			return ks[1]
		}, "records 1 to 1 are missing"},
		{"foreign object", func(t *testing.T, st *memStore, _, _, _ string) string {
			k := "audit/00000000/000000-000001.json"
			st.set(k, []byte("{}\n"))
			return k
		}, "not an audit batch key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, a, b, c := twoChains(t)
			rep, err := Verify(t.Context(), st)
			if err != nil || rep.Records != 12*2+3+3 || len(rep.Chains) != 3 || len(rep.Open()) != 0 {
				t.Fatalf("untampered: got %d records, chains %+v, err %v", rep.Records, rep.Chains, err)
			}
			batch := tc.tamper(t, st, a, b, c)
			rep, err = Verify(t.Context(), st)
			var be *BreakError
			if !errors.As(err, &be) {
				t.Fatalf("got err %v, want *BreakError", err)
			}
			i := slices.IndexFunc(rep.Breaks, func(be *BreakError) bool { return be.Batch == batch })
			if i < 0 {
				t.Fatalf("got breaks %v, want one in batch %s", rep.Breaks, batch)
			}
			if !strings.Contains(rep.Breaks[i].Reason, tc.reason) {
				t.Errorf("got %v, want reason %q", rep.Breaks[i], tc.reason)
			}
		})
	}
}

// kill simulates SIGKILL of l's process: its WAL lock goes away, nothing
// else happens (no flush, no close record).
func kill(l *Log) {
	close(l.stop)
	<-l.done
	l.lock.Close()
}

func TestWALReplayAfterKill(t *testing.T) {
	st := newMemStore()
	wal := t.TempDir()
	dead := openTest(t, st, wal, 1000) // never reaches a batch boundary
	appendN(t, dead, 7)
	// A torn line: the process died inside write(2), before Append returned.
	dead.mu.Lock()
	f, err := os.OpenFile(dead.cur.walPath, os.O_APPEND|os.O_WRONLY, 0)
	dead.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"writer":"x","seq":9,"ti`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	kill(dead)
	if got := len(st.chainKeys(t, dead.Writer())); got != 1 {
		t.Fatalf("got %d stored batches before the replay, want only the open batch", got)
	}

	l := openTest(t, st, wal, 1000)
	appendN(t, l, 3)
	closeTest(t, l)
	rep, err := Verify(t.Context(), st)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 10 || len(rep.Open()) != 0 {
		t.Errorf("got %d records, open chains %v; want 10 (7 replayed + 3 new), none open", rep.Records, rep.Open())
	}
	ks := st.chainKeys(t, dead.Writer())
	closeRec, err := parseBatch(st.get(ks[len(ks)-1]))
	if err != nil || closeRec[0].Event != EventClose || closeRec[0].Rule != "replayed" {
		t.Errorf("dead chain ends with %+v (%v), want a close record by replay", closeRec, err)
	}
	if left, _ := os.ReadDir(wal); len(left) != 0 {
		t.Errorf("got WAL entries %v left after Close, want none", left)
	}
}

// TestLiveWriterIsNotReplayed: a writer starting beside a live one leaves
// the live one's WAL alone, also when its periodic replay runs.
func TestLiveWriterIsNotReplayed(t *testing.T) {
	st := newMemStore()
	wal := t.TempDir()
	live := openTest(t, st, wal, 1000)
	appendN(t, live, 4)
	other, err := Open(t.Context(), Options{Store: st, WALDir: wal, MaxBatch: 1000, MaxDelay: time.Hour, ReplayEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(st.chainKeys(t, live.Writer())); n != 1 {
		t.Fatalf("the live writer's chain got %d batches from another writer, want 1", n)
	}
	appendN(t, live, 2)
	closeTest(t, live)
	closeTest(t, other)
	if rep, err := Verify(t.Context(), st); err != nil || rep.Records != 6 {
		t.Fatalf("got %d records, err %v; want 6, nil", rep.Records, err)
	}
}

// TestPeriodicReplay: a dead writer's records reach the bucket through a
// live writer on the same machine, without any restart.
func TestPeriodicReplay(t *testing.T) {
	st := newMemStore()
	wal := t.TempDir()
	live, err := Open(t.Context(), Options{Store: st, WALDir: wal, MaxBatch: 1000, MaxDelay: time.Hour, ReplayEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	dead := openTest(t, st, wal, 1000)
	appendN(t, dead, 5)
	kill(dead)
	deadline := time.Now().Add(5 * time.Second)
	for len(st.chainKeys(t, dead.Writer())) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	closeTest(t, live)
	rep, err := Verify(t.Context(), st)
	if err != nil || rep.Records != 5 || len(rep.Open()) != 0 {
		t.Fatalf("got %d records, open %v, err %v; want 5, none open", rep.Records, rep.Open(), err)
	}
}

// TestConflictNeverDrops: when the store already holds other bytes under a
// writer's batch key, the log fails closed and keeps its records; the next
// Open re-chains them, so every acknowledged request is stored.
func TestConflictNeverDrops(t *testing.T) {
	st := newMemStore()
	wal := t.TempDir()
	l := openTest(t, st, wal, 3)
	intruder, _ := jsonLine(Record{Writer: l.Writer(), Seq: 2, RequestID: "intruder", Method: "GET", Endpoint: "e", Decision: Allow})
	st.set(storage.AuditKey(l.Writer(), 2, 3), intruder)
	appendN(t, l, 3) // seals a batch: its upload meets the conflict
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := l.Append(t.Context(), Record{RequestID: "after", Method: "GET", Endpoint: "e", Decision: Allow})
		if errors.Is(err, ErrConflict) {
			break
		}
		if err != nil {
			t.Fatalf("got %v, want ErrConflict", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("Append still succeeds after the conflict")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Close(t.Context()); !errors.Is(err, ErrConflict) {
		t.Fatalf("Close: got %v, want ErrConflict", err)
	}
	acked := l.seq - 1 // every record after the open record

	next := openTest(t, st, wal, 3)
	closeTest(t, next)
	ids := requestIDs(t, st)
	delete(ids, "intruder")
	total := 0
	for _, n := range ids {
		total += n
	}
	if uint64(total) != acked {
		t.Errorf("got %d stored requests, want the %d acknowledged (%v)", total, acked, ids)
	}
	if _, err := Verify(t.Context(), st); err == nil {
		t.Error("Verify accepts a chain holding a foreign batch")
	}
}

// TestLegacyWALSegments: segments of the single-chain WAL (records without
// a writer) are re-chained into the new writer's chain.
func TestLegacyWALSegments(t *testing.T) {
	st := newMemStore()
	wal := t.TempDir()
	var seg bytes.Buffer
	for i := range 3 {
		fmt.Fprintf(&seg, `{"seq":%d,"time":"2026-01-02T03:04:05Z","request_id":"old%d","method":"GET","endpoint":"e","decision":"allow","rule":"ok","status":200,"latency_us":1,"prev_hash":"x","hash":"y"}`+"\n", 41+i, i)
	}
	if err := os.WriteFile(filepath.Join(wal, "0000000000000041.wal"), seg.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	l := openTest(t, st, wal, 10)
	closeTest(t, l)
	if ids := requestIDs(t, st); len(ids) != 3 || ids["old0"] != 1 {
		t.Errorf("got requests %v, want old0..old2", ids)
	}
	if _, err := Verify(t.Context(), st); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if left, _ := os.ReadDir(wal); len(left) != 0 {
		t.Errorf("got WAL entries %v left, want none", left)
	}
}

func TestAppendRefusesEvents(t *testing.T) {
	l := openTest(t, newMemStore(), "", 10)
	defer l.Close(context.Background())
	if _, err := l.Append(t.Context(), Record{Event: EventClose}); err == nil {
		t.Error("Append accepted a close record from a caller")
	}
}

func TestStoreOutageKeepsRecordsAndFailsClosed(t *testing.T) {
	st := newMemStore()
	l, err := Open(t.Context(), Options{Store: st, WALDir: t.TempDir(), MaxBatch: 2, MaxDelay: time.Hour, MaxBacklog: 6})
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.fail = errors.New("s3 down")
	st.mu.Unlock()
	appendN(t, l, 6)
	_, err = l.Append(t.Context(), Record{Method: "GET", Endpoint: "x", Decision: Deny})
	if !errors.Is(err, ErrBacklog) {
		t.Fatalf("got %v, want ErrBacklog", err)
	}
	if err := l.Flush(t.Context()); err == nil {
		t.Fatal("Flush with store down: got nil error")
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close after recovery: %v", err)
	}
	rep, err := Verify(t.Context(), st)
	if err != nil || rep.Records != 6 {
		t.Fatalf("got %d records, err %v; want 6, nil", rep.Records, err)
	}
	if got := l.Pending(); got != 0 {
		t.Errorf("got %d pending, want 0", got)
	}
}

func TestOpenFailsWithoutStore(t *testing.T) {
	st := newMemStore()
	st.fail = errors.New("s3 down")
	wal := t.TempDir()
	if _, err := Open(t.Context(), Options{Store: st, WALDir: wal}); err == nil {
		t.Fatal("Open with the store down: got nil error")
	}
	// The unstored open record waits in the WAL; the next writer stores
	// and closes that chain.
	st.fail = nil
	l := openTest(t, st, wal, 10)
	closeTest(t, l)
	rep, err := Verify(t.Context(), st)
	if err != nil || len(rep.Chains) != 2 || len(rep.Open()) != 0 {
		t.Fatalf("got chains %+v, err %v; want 2 closed", rep.Chains, err)
	}
}

func TestTimeFlush(t *testing.T) {
	st := newMemStore()
	l, err := Open(t.Context(), Options{Store: st, MaxBatch: 1000, MaxDelay: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	appendN(t, l, 3)
	deadline := time.Now().Add(5 * time.Second)
	for l.Pending() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := l.Pending(); got != 0 {
		t.Fatalf("got %d pending after MaxDelay, want 0", got)
	}
}

func TestCitizenHash(t *testing.T) {
	k1, k2 := []byte("audit-key-1"), []byte("audit-key-2")
	a := CitizenHash(k1, "CCCD", "001199012345")
	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"case and spaces normalised", CitizenHash(k1, " cccd ", " 001199012345"), true},
		{"other key", CitizenHash(k2, "CCCD", "001199012345"), false},
		{"other id", CitizenHash(k1, "CCCD", "001199012346"), false},
		{"other type", CitizenHash(k1, "PASSPORT", "001199012345"), false},
	}
	for _, tc := range tests {
		if (tc.got == a) != tc.same {
			t.Errorf("%s: got equal=%v, want %v", tc.name, tc.got == a, tc.same)
		}
	}
	if strings.Contains(a, "001199012345") || len(a) != 64 {
		t.Errorf("got %q, want 64 hex chars without the ID", a)
	}
}

func TestQuery(t *testing.T) {
	st := newMemStore()
	clock := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	open := func() *Log {
		l, err := Open(t.Context(), Options{Store: st, MaxBatch: 2, MaxDelay: time.Hour, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	la, lb := open(), open()
	key := []byte("k-audit-for-tests")
	a, b := CitizenHash(key, "CCCD", "001199012345"), CitizenHash(key, "CCCD", "079203004567")
	for i, h := range []string{a, b, a, "", a, a} {
		l := []*Log{la, lb}[i%2]
		if _, err := l.Append(t.Context(), Record{RequestID: fmt.Sprint(i), ClientID: "c", CitizenHash: h, Decision: Allow}); err != nil {
			t.Fatal(err)
		}
	}
	closeTest(t, la)
	closeTest(t, lb)
	var got []string
	if err := Query(t.Context(), st, a, func(r Record) error { got = append(got, r.RequestID); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "0,2,4,5" {
		t.Errorf("got requests %v, want 0,2,4,5 (both chains, in time order)", got)
	}
}

// FuzzParseBatch: arbitrary batch bytes never panic the parser, and a
// parsed record re-hashes deterministically.
func FuzzParseBatch(f *testing.F) {
	r := Record{Writer: "k3xq7mbn2vzrt4wa", Seq: 1, Event: EventOpen, Heads: []Head{{"abcdefghabcdefgh", 7, GenesisHash}}, PrevHash: GenesisHash}
	r.Hash, _ = r.computeHash()
	line, _ := jsonLine(r)
	f.Add(line)
	f.Add([]byte("{}\n{\"seq\":2}\n"))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := parseBatch(b)
		if err != nil {
			return
		}
		for _, r := range recs {
			h1, err1 := r.computeHash()
			h2, err2 := r.computeHash()
			if err1 != nil || err2 != nil || h1 != h2 {
				t.Fatalf("unstable hash: %v %v %s %s", err1, err2, h1, h2)
			}
		}
	})
}

// TestStaffRecords: a staff record chains and verifies like a request, and
// a record without staff fields encodes as before they existed (so chains
// written earlier still verify).
func TestStaffRecords(t *testing.T) {
	st := newMemStore()
	l := openTest(t, st, t.TempDir(), 10)
	staff := storage.StaffAccount(bytes.Repeat([]byte{7}, 32), "nguyenvana")
	got, err := l.Append(t.Context(), Record{RequestID: "r1", ClientID: "web", AuthMethod: "password", Method: "POST",
		Endpoint: "POST /signin", Staff: staff, StaffRole: "counter", Office: "000.00.31.H29", Decision: Allow, Rule: "signed_in", Status: 303})
	if err != nil {
		t.Fatal(err)
	}
	closeTest(t, l)
	if rep, err := Verify(t.Context(), st); err != nil || len(rep.Breaks) != 0 || rep.Records != 1 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
	line, err := jsonLine(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(line, []byte(`"staff":"`+staff+`","staff_role":"counter","office":"000.00.31.H29"`)) {
		t.Errorf("staff record encodes as %s", line)
	}
	plain, err := jsonLine(Record{RequestID: "r2", Method: "GET", Endpoint: "GET /healthz", Decision: Allow, Rule: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain, []byte("staff")) || bytes.Contains(plain, []byte("office")) {
		t.Errorf("a record without staff fields encodes them: %s", plain)
	}
}
