package web

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"sohoa/audit"
	"sohoa/storage"
	"sohoa/storage/mem"
	"sohoa/storage/storagetest"
)

// cheapArgon2 keeps tests fast; production uses DefaultArgon2.
var cheapArgon2 = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

var testStaffKey = bytes.Repeat([]byte{0x5a}, 32)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)} }

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

func newRepo(t *testing.T) (*storage.Repository, *mem.Bucket) {
	t.Helper()
	b := mem.New()
	repo, err := storage.New(b, storage.Options{Keys: storagetest.Keys()})
	if err != nil {
		t.Fatal(err)
	}
	return repo, b
}

func newAccounts(t *testing.T, repo *storage.Repository, sessions SessionEnder, now func() time.Time) *Accounts {
	t.Helper()
	a, err := NewAccounts(AccountsOptions{Repo: repo, Key: testStaffKey, Sessions: sessions, Argon2: cheapArgon2, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// memAudit is an Auditor in memory; fail makes Append fail.
type memAudit struct {
	mu   sync.Mutex
	recs []audit.Record
	fail bool
}

func (m *memAudit) Append(_ context.Context, r audit.Record) (audit.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return audit.Record{}, errors.New("audit store down")
	}
	m.recs = append(m.recs, r)
	return r, nil
}

func (m *memAudit) records() []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Record(nil), m.recs...)
}

// memStore is Store in memory, on a test clock: the twin of RedisStore
// (TTLs measured by the clock).
type memStore struct {
	mu       sync.Mutex
	now      func() time.Time
	sessions map[string]memSession
	accounts map[string]map[string]bool
	failures map[string]memCount
	locks    map[string]time.Time
	claims   map[string]memClaim
}

type memClaim struct {
	owner   string
	expires time.Time
}

type memSession struct {
	s       Session
	expires time.Time
}

type memCount struct {
	n       int64
	expires time.Time
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{now: now, sessions: map[string]memSession{}, accounts: map[string]map[string]bool{},
		failures: map[string]memCount{}, locks: map[string]time.Time{}, claims: map[string]memClaim{}}
}

func (m *memStore) CreateSession(_ context.Context, id string, s Session, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.live(id); ok {
		return ErrSessionExists
	}
	m.sessions[id] = memSession{s, m.now().Add(ttl)}
	if m.accounts[s.Account] == nil {
		m.accounts[s.Account] = map[string]bool{}
	}
	m.accounts[s.Account][id] = true
	return nil
}

func (m *memStore) live(id string) (memSession, bool) {
	ms, ok := m.sessions[id]
	if ok && !m.now().Before(ms.expires) {
		delete(m.sessions, id)
		return memSession{}, false
	}
	return ms, ok
}

func (m *memStore) Session(_ context.Context, id string) (Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, ok := m.live(id)
	if !ok {
		return Session{}, ErrNoSession
	}
	return ms.s, nil
}

func (m *memStore) UpdateSession(_ context.Context, id string, s Session, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.live(id); !ok {
		return ErrNoSession
	}
	m.sessions[id] = memSession{s, m.now().Add(ttl)}
	return nil
}

func (m *memStore) DeleteSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

func (m *memStore) EndSessions(_ context.Context, account string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.accounts[account] {
		delete(m.sessions, id)
	}
	delete(m.accounts, account)
	return nil
}

func (m *memStore) AddFailure(_ context.Context, account string, window time.Duration) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.failures[account]
	if !ok || !m.now().Before(c.expires) {
		c = memCount{expires: m.now().Add(window)}
	}
	c.n++
	m.failures[account] = c
	return c.n, nil
}

func (m *memStore) ClearFailures(_ context.Context, account string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.failures, account)
	return nil
}

func (m *memStore) Lock(_ context.Context, account string, until time.Time, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.locks[account] = until
	return nil
}

func (m *memStore) LockedUntil(_ context.Context, account string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.locks[account], nil
}

func (m *memStore) Claim(_ context.Context, key, owner string, ttl time.Duration) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.claims[key]
	if ok && m.now().Before(c.expires) && c.owner != owner {
		return c.owner, nil
	}
	m.claims[key] = memClaim{owner, m.now().Add(ttl)}
	return owner, nil
}

func (m *memStore) ReleaseClaim(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.claims[key]; ok && c.owner == owner {
		delete(m.claims, key)
	}
	return nil
}

func (m *memStore) ClaimHolders(_ context.Context, keys []string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for _, k := range keys {
		if c, ok := m.claims[k]; ok && m.now().Before(c.expires) {
			out[k] = c.owner
		}
	}
	return out, nil
}
