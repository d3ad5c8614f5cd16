package kho_test

// Tests on the real stack: the repository on the local S3 server
// (versitygw), the sync tasks on the local Redis through a real asynq
// server, and a Kho receiver started by the test on loopback.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"sohoa/internal/testenv"
	"sohoa/kho"
	"sohoa/storage"
	"sohoa/storage/s3"
	"sohoa/storage/storagetest"
)

// clock is the test's app clock: it moves only when the test says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// redisDB is the Redis database of these tests: asynq's keys of its own,
// so a worker of another test on the same Redis never takes their tasks
// (cmd/sohoa's stack tests use databases 2-15).
const redisDB = 1

type stack struct {
	repo   *storage.Repository
	clock  *clock
	client *asynq.Client
	redis  asynq.RedisClientOpt
}

func newStack(t *testing.T) *stack {
	t.Helper()
	env := testenv.MustHaveEnv(t, "SOHOA_S3_ENDPOINT", "SOHOA_S3_ACCESS_KEY", "SOHOA_S3_SECRET_KEY", "SOHOA_REDIS_ADDR")
	testenv.MustHaveService(t, "S3", env[0])
	testenv.MustHaveService(t, "Redis", env[3])
	var rb [6]byte
	rand.Read(rb[:])
	b, err := s3.Open(t.Context(), s3.Config{Endpoint: env[0], AccessKey: env[1], SecretKey: env[2],
		Bucket: "sohoa-test-kho-" + hex.EncodeToString(rb[:]), Create: true, RetentionDays: 1})
	if err != nil {
		t.Fatalf("s3.Open: %v", err)
	}
	st := &stack{clock: &clock{t: time.Now().Truncate(time.Millisecond)}, redis: asynq.RedisClientOpt{Addr: env[3], DB: redisDB}}
	repo, err := storage.New(b, storage.Options{Keys: storagetest.Keys(), Now: st.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	st.client = asynq.NewClient(st.redis)
	t.Cleanup(func() { st.client.Close() })
	// Enqueue at write time, as serve and the worker do.
	st.repo = repo.WithOutboxNotify(func(ctx context.Context, id string) {
		if err := kho.Enqueue(ctx, st.client, id); err != nil {
			t.Errorf("enqueue: %v", err)
		}
	})
	return st
}

// worker runs an asynq server with the sync handler until the test ends,
// and the worker's sweep loop when sweep.
func (st *stack) worker(t *testing.T, url string, sweep bool) *kho.Syncer {
	t.Helper()
	sender, err := kho.NewSender(kho.SenderOptions{URL: url, Token: "test-token", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := &kho.Syncer{Repo: st.repo, Sender: sender, DeadAfter: 7 * 24 * time.Hour, Now: st.clock.Now,
		VerifyURL: func(code string) string { return "https://verify.example/v/" + code + "?k=test" }}
	backoff := kho.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}
	srv := asynq.NewServer(st.redis, asynq.Config{
		Concurrency: 2, Queues: map[string]int{kho.Queue: 1},
		RetryDelayFunc:           func(n int, _ error, _ *asynq.Task) time.Duration { return backoff.Delay(n) },
		TaskCheckInterval:        20 * time.Millisecond,
		DelayedTaskCheckInterval: 20 * time.Millisecond,
		LogLevel:                 asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(kho.TypeSync, s)
	if err := srv.Start(mux); err != nil {
		t.Fatalf("asynq server: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	if !sweep {
		return s
	}
	// The worker's sweep, as often as the test's backoff.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		kho.SweepLoop(ctx, st.repo, st.client, 100*time.Millisecond, 10, func(_ kho.SweepReport, err error) {
			if err != nil {
				t.Errorf("sweep: %v", err)
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// receiver is a Kho endpoint that deduplicates by Idempotency-Key.
type receiver struct {
	t        *testing.T
	mu       sync.Mutex
	requests int
	// stored holds the first body of each idempotency key, in order.
	stored []kho.Payload
	byKey  map[string]int
	// failFirst answers the first n requests 503 without reading them.
	failFirst int
	// loseAnswer stores the event of this kind once, then answers 502
	// as if its answer were lost: the retry is a duplicate.
	loseAnswer string
	lost       bool
	// hang lets the first request of this kind time out.
	hang   string
	hung   bool
	errors []string
}

func newReceiver(t *testing.T) *receiver { return &receiver{t: t, byKey: map[string]int{}} }

func (rc *receiver) fail(format string, args ...any) {
	rc.errors = append(rc.errors, fmt.Sprintf(format, args...))
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	rc.mu.Unlock()
	if n <= rc.failFirst {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var p kho.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case r.Header.Get("Authorization") != "Bearer test-token":
		rc.fail("request without the token")
	case key == "" || key != p.EventID:
		rc.fail("Idempotency-Key %q, event_id %q", key, p.EventID)
	case strings.Contains(r.URL.String(), p.Holder.ID):
		rc.fail("holder ID in the URL")
	}
	if p.EventKind == rc.hang && !rc.hung {
		rc.hung = true
		rc.mu.Unlock()
		<-r.Context().Done() // the client gives up
		rc.mu.Lock()
		return
	}
	if _, dup := rc.byKey[key]; !dup {
		// In order per result: every earlier event of the result is here.
		for s := 0; s < p.EventSeq; s++ {
			if _, ok := rc.byKey[kho.EventID(strings.TrimSuffix(strings.TrimPrefix(key, "sohoa-"), fmt.Sprintf("-%06d", p.EventSeq)), s)]; !ok {
				rc.fail("event %s before its event %d", key, s)
			}
		}
		rc.byKey[key] = len(rc.stored)
		rc.stored = append(rc.stored, p)
	}
	if p.EventKind == rc.loseAnswer && !rc.lost {
		rc.lost = true
		http.Error(w, "stored, but the answer is lost", http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"portal_ref":"KHO-%d"}`, rc.byKey[key])
}

func (rc *receiver) check(t *testing.T) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, e := range rc.errors {
		t.Error("receiver: " + e)
	}
}

// serve starts h on addr ("" picks a port) and returns its URL.
func serve(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/kho/events"
}

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// results files three results of holder 1 and changes them: result A
// issued then revoked, B superseded by C. Six events.
func (st *stack) results(t *testing.T) []storage.Manifest {
	t.Helper()
	ctx := t.Context()
	day := st.clock.Now()
	var ms []storage.Manifest
	for i := range 3 {
		req := storagetest.Result(100+i, 1, day)
		m, err := st.repo.File(ctx, req)
		if err != nil {
			t.Fatalf("File: %v", err)
		}
		ms = append(ms, m)
	}
	if err := st.repo.AppendStatus(ctx, ms[0].ResultCode, storage.StatusEvent{Status: storage.StatusRevoked, DecisionRef: "15/QĐ-UBND"}); err != nil {
		t.Fatal(err)
	}
	if err := st.repo.SupersedeUnder(ctx, ms[1].ResultCode, ms[2].ResultCode, "test", "16/QĐ-UBND"); err != nil {
		t.Fatal(err)
	}
	return ms
}

type totals struct{ events, delivered, dead, pending, tries int }

func (st *stack) totals(t *testing.T, ms []storage.Manifest) totals {
	t.Helper()
	var tt totals
	for _, m := range ms {
		entries, err := st.repo.Outbox(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			tt.events++
			tt.tries += e.Tries
			switch e.State() {
			case storage.SyncDelivered:
				tt.delivered++
			case storage.SyncDead:
				tt.dead++
			default:
				tt.pending++
			}
		}
	}
	return tt
}

// waitFor polls cond until it holds (a generous bound; nothing is timed).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSyncExactlyOnce: a receiver that fails the first two tries, times
// out once and once stores an event but loses its answer (so that event is
// delivered twice) ends with every event exactly once, in order per
// result; sohoa records one delivery per event and every failed try.
func TestSyncExactlyOnce(t *testing.T) {
	st := newStack(t)
	rc := newReceiver(t)
	rc.failFirst, rc.loseAnswer, rc.hang = 2, storage.KindRevoked, storage.KindSuperseded
	url := serve(t, "", rc)
	st.worker(t, url, true)
	ms := st.results(t)

	waitFor(t, "every event delivered", func() bool { return st.totals(t, ms).delivered == 6 })
	rc.check(t)
	got := st.totals(t, ms)
	if got.events != 6 || got.delivered != 6 || got.dead != 0 || got.tries != 4 {
		t.Errorf("sohoa recorded %+v, want 6 events, 6 delivered, 4 failed tries (2 refused, 1 timed out, 1 answer lost)", got)
	}
	rc.mu.Lock()
	stored, requests := slices.Clone(rc.stored), rc.requests
	rc.mu.Unlock()
	if len(stored) != 6 || requests != 10 {
		t.Errorf("receiver stored %d events from %d requests, want 6 from 10 (6 + 4 retries)", len(stored), requests)
	}
	// What the Kho receives about each result.
	byCode := map[string][]string{}
	for _, p := range stored {
		byCode[p.ResultCode] = append(byCode[p.ResultCode], p.EventKind)
		if p.Holder.IDType != "CCCD" || p.Holder.ID != storagetest.HolderID(1) || p.DocumentType.Code != "GKS" ||
			!strings.HasPrefix(p.EResult.VerifyURL, "https://verify.example/v/"+p.ResultCode) || p.Schema != kho.Schema {
			t.Errorf("payload %s: %+v", p.EventID, p)
		}
	}
	want := map[string][]string{
		ms[0].ResultCode: {storage.KindIssued, storage.KindRevoked},
		ms[1].ResultCode: {storage.KindIssued, storage.KindSuperseded},
		ms[2].ResultCode: {storage.KindIssued, storage.KindSupersedes},
	}
	for code, kinds := range want {
		if !slices.Equal(byCode[code], kinds) {
			t.Errorf("%s: received %v, want %v", code, byCode[code], kinds)
		}
	}
	// The metadata's sync state.
	s, err := st.repo.SyncStateOfResult(t.Context(), ms[0])
	if err != nil || s.State != storage.SyncDelivered || s.Delivered != 2 || s.SyncedAt == nil || s.LastAttemptAt == nil || s.PortalRef == "" {
		t.Errorf("sync state of %s = %+v, %v", ms[0].ResultCode, s, err)
	}
	// A second run over a synced result sends nothing.
	syncer := &kho.Syncer{Repo: st.repo, Sender: failSender{t}, DeadAfter: time.Hour, Now: st.clock.Now}
	if err := syncer.SyncResult(t.Context(), ms[0].ID); err != nil {
		t.Errorf("SyncResult of a delivered result: %v", err)
	}
}

// failSender fails the test if anything is sent.
type failSender struct{ t *testing.T }

func (f failSender) Send(context.Context, kho.Payload) (kho.Ack, error) {
	f.t.Error("an acknowledged event was sent again")
	return kho.Ack{}, nil
}

// TestSyncReceiverDown: with the receiver down, every event stays pending
// and its tries are recorded; nothing is lost: when the receiver comes up
// at that address, everything is delivered once, in order.
func TestSyncReceiverDown(t *testing.T) {
	st := newStack(t)
	addr := freeAddr(t)
	st.worker(t, "http://"+addr+"/kho/events", true)
	ms := st.results(t)

	// Each result's first event failed at least twice (retries happen).
	waitFor(t, "retries while the receiver is down", func() bool {
		for _, m := range ms {
			entries, err := st.repo.Outbox(t.Context(), m.ID)
			if err != nil || len(entries) == 0 || entries[0].Tries < 2 {
				return false
			}
		}
		return true
	})
	got := st.totals(t, ms)
	if got.events != 6 || got.pending != 6 || got.delivered != 0 || got.dead != 0 {
		t.Fatalf("receiver down: %+v, want 6 events all pending", got)
	}
	for _, m := range ms {
		s, err := st.repo.SyncStateOfResult(t.Context(), m)
		if err != nil || s.State != storage.SyncPending || s.LastAttemptAt == nil {
			t.Errorf("sync state of %s = %+v, %v; want pending with a last attempt", m.ResultCode, s, err)
		}
	}

	rc := newReceiver(t)
	serve(t, addr, rc)
	waitFor(t, "delivery once the receiver is up", func() bool { return st.totals(t, ms).delivered == 6 })
	rc.check(t)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.stored) != 6 || rc.requests != 6 {
		t.Errorf("receiver stored %d events from %d requests, want 6 from 6", len(rc.stored), rc.requests)
	}
}

// TestSyncDeadLetter: an event failing for the dead-letter age (the app
// clock moved past it, no sleeping) is dead, the result's later events are
// dead with it, and the sweep counts them.
func TestSyncDeadLetter(t *testing.T) {
	st := newStack(t)
	st.worker(t, "http://"+freeAddr(t)+"/kho/events", true)
	ms := st.results(t)
	waitFor(t, "a failed try of each result", func() bool {
		for _, m := range ms {
			entries, err := st.repo.Outbox(t.Context(), m.ID)
			if err != nil || len(entries) == 0 || entries[0].Tries < 1 {
				return false
			}
		}
		return true
	})
	if got := st.totals(t, ms); got.dead != 0 {
		t.Fatalf("dead before the dead-letter age: %+v", got)
	}
	st.clock.Add(7*24*time.Hour + time.Minute)
	waitFor(t, "every event dead", func() bool { return st.totals(t, ms).dead == 6 })
	for _, m := range ms {
		entries, err := st.repo.Outbox(t.Context(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := entries[0].Dead; d.Reason != storage.DeadAfterAge || d.Tries < 2 || d.FirstAttemptAt.IsZero() {
			t.Errorf("%s event 0 dead = %+v", m.ResultCode, d)
		}
		if d := entries[1].Dead; d.Reason != storage.DeadBlocked || d.BlockedBy == nil || *d.BlockedBy != 0 {
			t.Errorf("%s event 1 dead = %+v", m.ResultCode, d)
		}
		if s, _ := st.repo.SyncStateOfResult(t.Context(), m); s.State != storage.SyncDead {
			t.Errorf("sync state of %s = %+v, want dead", m.ResultCode, s)
		}
	}
	// The sweep counts them and queues nothing (a fresh Redis DB view).
	rep, err := kho.Sweep(t.Context(), st.repo, st.client)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dead != 6 || rep.Pending != 0 || rep.Enqueued != 0 || rep.Repaired != 0 {
		t.Errorf("sweep = %+v, want 6 dead, none pending or enqueued", rep)
	}
}

// TestSweepRequeues: events whose enqueue was lost (written without the
// notifier) are found and delivered by the sweep.
func TestSweepRequeues(t *testing.T) {
	st := newStack(t)
	rc := newReceiver(t)
	url := serve(t, "", rc)
	quiet := &stack{repo: st.repo.WithOutboxNotify(nil), clock: st.clock, client: st.client, redis: st.redis}
	ms := quiet.results(t)
	st.worker(t, url, false)
	rep, err := kho.Sweep(t.Context(), st.repo, st.client)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Results < 3 || rep.Enqueued < 3 {
		t.Errorf("sweep = %+v, want 3 results enqueued", rep)
	}
	waitFor(t, "delivery after the sweep", func() bool { return st.totals(t, ms).delivered == 6 })
	rc.check(t)
}
