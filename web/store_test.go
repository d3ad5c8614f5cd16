package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sohoa/internal/testenv"
)

// testStore runs the Store contract against one implementation. advance
// moves the store's notion of time on (real sleeps for Redis).
func testStore(t *testing.T, st Store, advance func(time.Duration)) {
	ctx := context.Background()
	now := time.Now()
	sess := func(account string) Session {
		return Session{Account: account, Role: RoleCounter, Office: "000.00.31.H29", Version: 1, CSRF: newToken(), Created: now, Seen: now, Checked: now}
	}
	a, b := "account-a", "account-b"

	if _, err := st.Session(ctx, "missing"); !errors.Is(err, ErrNoSession) {
		t.Errorf("Session(missing) = %v, want ErrNoSession", err)
	}
	if err := st.UpdateSession(ctx, "missing", sess(a), time.Minute); !errors.Is(err, ErrNoSession) {
		t.Errorf("UpdateSession(missing) = %v, want ErrNoSession (never brought back)", err)
	}
	s1, s2, s3 := sess(a), sess(a), sess(b)
	for id, s := range map[string]Session{"s1": s1, "s2": s2, "s3": s3} {
		if err := st.CreateSession(ctx, id, s, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateSession(ctx, "s1", sess(b), time.Minute); !errors.Is(err, ErrSessionExists) {
		t.Errorf("CreateSession of an ID in use = %v, want ErrSessionExists", err)
	}
	got, err := st.Session(ctx, "s1")
	if err != nil || got.CSRF != s1.CSRF || got.Account != a || !got.Created.Equal(now) {
		t.Errorf("Session(s1) = %+v, %v", got, err)
	}
	s1.Seen = now.Add(time.Second)
	if err := st.UpdateSession(ctx, "s1", s1, time.Minute); err != nil {
		t.Errorf("UpdateSession: %v", err)
	}
	if got, _ := st.Session(ctx, "s1"); !got.Seen.Equal(s1.Seen) {
		t.Errorf("after update Seen = %v, want %v", got.Seen, s1.Seen)
	}
	if err := st.DeleteSession(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, "s2"); !errors.Is(err, ErrNoSession) {
		t.Errorf("deleted session: %v", err)
	}
	if err := st.EndSessions(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Session(ctx, "s1"); !errors.Is(err, ErrNoSession) {
		t.Errorf("session of an ended account: %v", err)
	}
	if _, err := st.Session(ctx, "s3"); err != nil {
		t.Errorf("another account's session ended too: %v", err)
	}

	// A session expires after its ttl.
	st.CreateSession(ctx, "short", sess(b), time.Second)
	advance(1500 * time.Millisecond)
	if _, err := st.Session(ctx, "short"); !errors.Is(err, ErrNoSession) {
		t.Errorf("session past its ttl: %v", err)
	}

	// Failures count within a window, then start again.
	for i := 1; i <= 3; i++ {
		n, err := st.AddFailure(ctx, a, time.Second)
		if err != nil || n != int64(i) {
			t.Fatalf("AddFailure %d = %d, %v", i, n, err)
		}
	}
	if n, _ := st.AddFailure(ctx, b, time.Second); n != 1 {
		t.Errorf("failures of another account: %d, want 1", n)
	}
	advance(1500 * time.Millisecond)
	if n, _ := st.AddFailure(ctx, a, time.Second); n != 1 {
		t.Errorf("after the window: %d failures, want 1", n)
	}
	st.ClearFailures(ctx, a)
	if n, _ := st.AddFailure(ctx, a, time.Second); n != 1 {
		t.Errorf("after ClearFailures: %d, want 1", n)
	}

	if u, err := st.LockedUntil(ctx, a); err != nil || !u.IsZero() {
		t.Errorf("LockedUntil before Lock = %v, %v", u, err)
	}
	until := now.Add(15 * time.Minute).Round(0)
	if err := st.Lock(ctx, a, until, time.Minute); err != nil {
		t.Fatal(err)
	}
	if u, err := st.LockedUntil(ctx, a); err != nil || !u.Equal(until) {
		t.Errorf("LockedUntil = %v, %v; want %v", u, err, until)
	}
}

func TestMemStore(t *testing.T) {
	clk := newClock()
	testStore(t, newMemStore(clk.Now), clk.Add)
	testClaims(t, newMemStore(clk.Now), clk.Add)
}

// testClaims runs the claim contract: one holder at a time (SET NX),
// renewed by its owner, released only by its owner, gone after its ttl.
func testClaims(t *testing.T, st Store, advance func(time.Duration)) {
	ctx := context.Background()
	a, b := "account-a", "account-b"
	claim := func(key, owner string, ttl time.Duration) string {
		t.Helper()
		h, err := st.Claim(ctx, key, owner, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if h := claim("item1", a, time.Second); h != a {
		t.Fatalf("first claim: holder %q, want %q", h, a)
	}
	if h := claim("item1", b, time.Second); h != a {
		t.Errorf("second reviewer's claim: holder %q, want %q kept", h, a)
	}
	if h := claim("item2", b, time.Second); h != b {
		t.Errorf("claim of another item: holder %q, want %q", h, b)
	}
	st.ReleaseClaim(ctx, "item1", b) // not b's: stays
	if hs, err := st.ClaimHolders(ctx, []string{"item1", "item2", "item3"}); err != nil || len(hs) != 2 || hs["item1"] != a || hs["item2"] != b {
		t.Errorf("holders = %v, %v; want item1 by a, item2 by b", hs, err)
	}
	// Renewed by its owner, it outlives its first ttl.
	advance(600 * time.Millisecond)
	if h := claim("item1", a, 2*time.Second); h != a {
		t.Errorf("renewal: holder %q", h)
	}
	advance(900 * time.Millisecond)
	if h := claim("item1", b, time.Second); h != a {
		t.Errorf("renewed claim lapsed: holder %q, want %q", h, a)
	}
	if err := st.ReleaseClaim(ctx, "item1", a); err != nil {
		t.Fatal(err)
	}
	if h := claim("item1", b, time.Second); h != b {
		t.Errorf("after release: holder %q, want %q", h, b)
	}
	// A claim not renewed lapses.
	advance(1500 * time.Millisecond)
	if h := claim("item2", a, time.Minute); h != a {
		t.Errorf("lapsed claim still held: holder %q, want %q", h, a)
	}
	if hs, _ := st.ClaimHolders(ctx, nil); len(hs) != 0 {
		t.Errorf("holders of no keys: %v", hs)
	}
}

// redisForTest connects to the local stack's Redis; every key the test
// writes is under a prefix of its own.
func redisForTest(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	env := testenv.MustHaveEnv(t, "SOHOA_REDIS_ADDR")
	rdb := redis.NewClient(&redis.Options{Addr: env[0]})
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(t.Context()).Err(); err != nil {
		testenv.Missing(t, "Redis at "+env[0]+": "+err.Error(), testenv.StackHint)
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "test:web:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	return rdb, prefix
}

func TestRedisStore(t *testing.T) {
	rdb, prefix := redisForTest(t)
	st := NewRedisStore(rdb, prefix)
	testStore(t, st, time.Sleep)
	testClaims(t, st, time.Sleep)

	// Every key has a TTL (Redis runs noeviction).
	ctx := context.Background()
	st.Claim(ctx, "ttl-item", "account-c", time.Minute)
	st.CreateSession(ctx, "ttl", Session{Account: "account-c"}, time.Minute)
	st.AddFailure(ctx, "account-c", time.Minute)
	st.Lock(ctx, "account-c", time.Now().Add(time.Minute), time.Minute)
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) < 5 {
		t.Fatalf("keys under %s: %v, %v", prefix, keys, err)
	}
	for _, k := range keys {
		if ttl := rdb.TTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("%s has no TTL (%v)", k, ttl)
		}
	}
}
