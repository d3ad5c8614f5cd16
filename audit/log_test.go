package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	fail error // when set, PutOnce fails with it
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) PutOnce(_ context.Context, key string, body []byte, _ string) error {
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
		_, err := l.Append(t.Context(), Record{RequestID: fmt.Sprintf("r%d", i), Method: "GET",
			Endpoint: "GET /v1/results/{code}", Decision: Allow, Rule: "ok", Status: 200})
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func TestLogBatchesAndVerify(t *testing.T) {
	st := newMemStore()
	l := openTest(t, st, t.TempDir(), 10)
	appendN(t, l, 25)
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rep, err := Verify(t.Context(), st)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 25 || rep.Batches != 3 {
		t.Errorf("got %d records in %d batches, want 25 in 3", rep.Records, rep.Batches)
	}
	if _, ok := st.objs[storage.AuditKey(21)]; !ok {
		t.Errorf("batch %s missing; have %d objects", storage.AuditKey(21), len(st.objs))
	}

	// A reopened log continues the same chain.
	l2 := openTest(t, st, t.TempDir(), 10)
	appendN(t, l2, 5)
	if err := l2.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rep, err = Verify(t.Context(), st)
	if err != nil || rep.Records != 30 {
		t.Fatalf("after reopen: got %d records, err %v; want 30, nil", rep.Records, err)
	}
}

func TestVerifyDetectsBreaks(t *testing.T) {
	build := func(t *testing.T) *memStore {
		st := newMemStore()
		l := openTest(t, st, "", 4)
		appendN(t, l, 12)
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		return st
	}
	second := storage.AuditKey(5)
	tests := []struct {
		name   string
		tamper func(st *memStore)
		batch  string
	}{
		{"edited field", func(st *memStore) {
			st.set(second, bytes.Replace(st.objs[second], []byte(`"status":200`), []byte(`"status":403`), 1))
		}, second},
		{"deleted batch", func(st *memStore) {
			st.mu.Lock()
			delete(st.objs, second)
			st.mu.Unlock()
		}, storage.AuditKey(9)},
		{"dropped record", func(st *memStore) {
			lines := bytes.SplitAfter(st.objs[second], []byte("\n"))
			st.set(second, bytes.Join(append(lines[:1:1], lines[2:]...), nil))
		}, second},
		{"garbage", func(st *memStore) { st.set(second, []byte("not json\n")) }, second},
		{"rehashed record without relinking", func(st *memStore) {
			recs, _ := parseBatch(st.objs[second])
			recs[1].Rule = "forged"
			recs[1].Hash, _ = recs[1].computeHash()
			var buf bytes.Buffer
			for _, r := range recs {
				b, _ := jsonLine(r)
				buf.Write(b)
			}
			st.set(second, buf.Bytes())
		}, second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := build(t)
			if _, err := Verify(t.Context(), st); err != nil {
				t.Fatalf("untampered Verify: %v", err)
			}
			tc.tamper(st)
			_, err := Verify(t.Context(), st)
			var be *BreakError
			if !errors.As(err, &be) {
				t.Fatalf("got err %v, want *BreakError", err)
			}
			if be.Batch != tc.batch {
				t.Errorf("got batch %s, want %s (%v)", be.Batch, tc.batch, be)
			}
		})
	}
}

func TestWALRecoveryAfterCrash(t *testing.T) {
	st := newMemStore()
	wal := t.TempDir()
	crashed := openTest(t, st, wal, 1000) // never reaches a batch boundary
	appendN(t, crashed, 7)
	// Simulate a crash: the process dies without Close; add a torn line.
	crashed.mu.Lock()
	f, err := os.OpenFile(crashed.cur.walPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	crashed.mu.Unlock()
	if _, err := f.WriteString(`{"seq":8,"ti`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if got := len(st.objs); got != 0 {
		t.Fatalf("got %d stored objects before recovery, want 0", got)
	}

	l := openTest(t, st, wal, 1000)
	appendN(t, l, 3)
	if err := l.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rep, err := Verify(t.Context(), st)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Records != 10 {
		t.Errorf("got %d records, want 10 (7 recovered + 3 new)", rep.Records)
	}
	left, _ := filepath.Glob(filepath.Join(wal, "*.wal"))
	if len(left) != 0 {
		t.Errorf("got WAL segments %v left after Close, want none", left)
	}
}

func TestStoreOutageKeepsRecordsAndFailsClosed(t *testing.T) {
	st := newMemStore()
	st.fail = errors.New("s3 down")
	l, err := Open(t.Context(), Options{Store: st, WALDir: t.TempDir(), MaxBatch: 2, MaxDelay: time.Hour, MaxBacklog: 6})
	if err != nil {
		t.Fatal(err)
	}
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
	l := openTest(t, st, "", 3)
	key := []byte("k-audit-for-tests")
	a, b := CitizenHash(key, "CCCD", "001199012345"), CitizenHash(key, "CCCD", "079203004567")
	for i, h := range []string{a, b, a, "", a} {
		if _, err := l.Append(t.Context(), Record{RequestID: fmt.Sprint(i), ClientID: "c", CitizenHash: h, Decision: Allow}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := Query(t.Context(), st, a, func(r Record) error { got = append(got, r.RequestID); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "0,2,4" {
		t.Errorf("got requests %v, want 0,2,4", got)
	}
}

// FuzzParseBatch: arbitrary batch bytes never panic the parser, and a
// parsed record re-hashes deterministically.
func FuzzParseBatch(f *testing.F) {
	r := Record{Seq: 1, RequestID: "x", Method: "GET", Endpoint: "e", Decision: Allow, PrevHash: GenesisHash}
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
