package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Session is the server-side state of one signed-in browser. It names the
// account by its ID only: no user name, no password.
type Session struct {
	Account string `json:"account"` // storage.StaffAccount
	Role    Role   `json:"role"`
	Office  string `json:"office"`
	Version int    `json:"version"` // the account's version at sign-in
	// CSRF is the session's anti-forgery token: every form carries it in a
	// hidden field, every state-changing fetch in the X-CSRF-Token header.
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"` // sign-in: the absolute lifetime counts from here
	Seen    time.Time `json:"seen"`    // last request: the idle timeout counts from here
	Checked time.Time `json:"checked"` // last time the account was read from the repository
}

// Errors of a Store.
var (
	// ErrNoSession: the store has no such session (signed out, ended, expired).
	ErrNoSession = errors.New("no such session")
	// ErrSessionExists: CreateSession was given the ID of a stored session
	// (never handed out twice).
	ErrSessionExists = errors.New("session ID already in use")
)

// Store keeps what every serve process must agree on: sessions, and failed
// sign-ins with the lockouts they cause. RedisStore is the real one.
// Session IDs given to a store are already hashed (sessionKey): a store's
// contents never hold a usable cookie.
type Store interface {
	// CreateSession stores a new session that expires after ttl, and
	// indexes it under its account for EndSessions; an ID in use is
	// ErrSessionExists.
	CreateSession(ctx context.Context, id string, s Session, ttl time.Duration) error
	// Session returns a stored session or ErrNoSession.
	Session(ctx context.Context, id string) (Session, error)
	// UpdateSession rewrites a stored session with a new ttl; a session
	// deleted meanwhile stays deleted (ErrNoSession).
	UpdateSession(ctx context.Context, id string, s Session, ttl time.Duration) error
	DeleteSession(ctx context.Context, id string) error
	// EndSessions deletes every session of an account.
	EndSessions(ctx context.Context, account string) error
	// AddFailure counts a failed sign-in of account and returns the count
	// in the current window, which starts at the first failure and lasts
	// window.
	AddFailure(ctx context.Context, account string, window time.Duration) (int64, error)
	ClearFailures(ctx context.Context, account string) error
	// Lock refuses account's sign-ins until until (by the caller's clock);
	// the record is dropped after ttl.
	Lock(ctx context.Context, account string, until time.Time, ttl time.Duration) error
	// LockedUntil returns the end of account's lockout, zero if none.
	LockedUntil(ctx context.Context, account string) (time.Time, error)

	// Claim gives the work item key to owner for ttl unless another owner
	// holds it, and returns the holder: owner when granted (a claim owner
	// already holds is renewed for ttl), else the other owner.
	Claim(ctx context.Context, key, owner string, ttl time.Duration) (string, error)
	// ReleaseClaim ends owner's claim on key; another owner's claim stays.
	ReleaseClaim(ctx context.Context, key, owner string) error
	// ClaimHolders returns the holder of each of keys that is claimed.
	ClaimHolders(ctx context.Context, keys []string) (map[string]string, error)
}

// RedisStore is Store on the Redis every serve process shares (the queues'
// Redis). Every key has a TTL, so Redis's noeviction policy is never
// strained by sessions; a Redis that loses them signs staff out (fail
// closed), and the audit log, not Redis, is the record of sign-ins.
//
// Keys, under Prefix: session:{sha256 of the cookie} (JSON, TTL = the idle
// timeout, at most the rest of the absolute lifetime), account:{id} (set of
// the account's session keys), failures:{id} (INCR, TTL = the window),
// lock:{id} (end of the lockout), claim:{item} (the account working on a
// review item, TTL = the claim's).
type RedisStore struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewRedisStore returns a store on rdb whose keys start with prefix
// (default "sohoa:web:").
func NewRedisStore(rdb redis.UniversalClient, prefix string) *RedisStore {
	if prefix == "" {
		prefix = "sohoa:web:"
	}
	return &RedisStore{rdb: rdb, prefix: prefix}
}

func (s *RedisStore) sessionKey(id string) string       { return s.prefix + "session:" + id }
func (s *RedisStore) accountKey(account string) string  { return s.prefix + "account:" + account }
func (s *RedisStore) failuresKey(account string) string { return s.prefix + "failures:" + account }
func (s *RedisStore) lockKey(account string) string     { return s.prefix + "lock:" + account }
func (s *RedisStore) claimKey(item string) string       { return s.prefix + "claim:" + item }

// CreateSession implements Store.
func (s *RedisStore) CreateSession(ctx context.Context, id string, sess Session, ttl time.Duration) error {
	body, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	ak := s.accountKey(sess.Account)
	var created *redis.BoolCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		created = p.SetNX(ctx, s.sessionKey(id), body, ttl)
		p.SAdd(ctx, ak, id)
		// The index lives as long as its longest session.
		p.ExpireNX(ctx, ak, ttl)
		p.ExpireGT(ctx, ak, ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if !created.Val() {
		return ErrSessionExists
	}
	return nil
}

// Session implements Store.
func (s *RedisStore) Session(ctx context.Context, id string) (Session, error) {
	body, err := s.rdb.Get(ctx, s.sessionKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(body, &sess); err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	return sess, nil
}

// UpdateSession implements Store: SET … XX, so a session another process
// deleted is not brought back.
func (s *RedisStore) UpdateSession(ctx context.Context, id string, sess Session, ttl time.Duration) error {
	body, err := json.Marshal(sess)
	if err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	ak := s.accountKey(sess.Account)
	cmds, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetXX(ctx, s.sessionKey(id), body, ttl)
		p.ExpireGT(ctx, ak, ttl)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("update session: %w", err)
	}
	if ok, _ := cmds[0].(*redis.BoolCmd).Result(); !ok {
		return ErrNoSession
	}
	return nil
}

// DeleteSession implements Store.
func (s *RedisStore) DeleteSession(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, s.sessionKey(id)).Err(); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// EndSessions implements Store.
func (s *RedisStore) EndSessions(ctx context.Context, account string) error {
	ak := s.accountKey(account)
	ids, err := s.rdb.SMembers(ctx, ak).Result()
	if err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	keys := []string{ak}
	for _, id := range ids {
		keys = append(keys, s.sessionKey(id))
	}
	if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// AddFailure implements Store: INCR, and EXPIRE NX opens the window at the
// first failure.
func (s *RedisStore) AddFailure(ctx context.Context, account string, window time.Duration) (int64, error) {
	k := s.failuresKey(account)
	var n *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, k)
		p.ExpireNX(ctx, k, window)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count failed sign-in: %w", err)
	}
	return n.Val(), nil
}

// ClearFailures implements Store.
func (s *RedisStore) ClearFailures(ctx context.Context, account string) error {
	if err := s.rdb.Del(ctx, s.failuresKey(account)).Err(); err != nil {
		return fmt.Errorf("clear failed sign-ins: %w", err)
	}
	return nil
}

// Lock implements Store.
func (s *RedisStore) Lock(ctx context.Context, account string, until time.Time, ttl time.Duration) error {
	if err := s.rdb.Set(ctx, s.lockKey(account), strconv.FormatInt(until.UnixNano(), 10), ttl).Err(); err != nil {
		return fmt.Errorf("lock sign-ins: %w", err)
	}
	return nil
}

// LockedUntil implements Store.
func (s *RedisStore) LockedUntil(ctx context.Context, account string) (time.Time, error) {
	v, err := s.rdb.Get(ctx, s.lockKey(account)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read lockout: %w", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("read lockout: %w", err)
	}
	return time.Unix(0, n), nil
}

// claimScript is SET NX PX, renewing the owner's own claim: one step, so
// two reviewers opening an item at once never both get it.
var claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return cur
`)

// releaseScript deletes a claim only if owner holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Claim implements Store.
func (s *RedisStore) Claim(ctx context.Context, key, owner string, ttl time.Duration) (string, error) {
	if owner == "" || ttl < time.Millisecond {
		return "", errors.New("claim: owner and ttl are required")
	}
	holder, err := claimScript.Run(ctx, s.rdb, []string{s.claimKey(key)}, owner, ttl.Milliseconds()).Text()
	if err != nil {
		return "", fmt.Errorf("claim: %w", err)
	}
	return holder, nil
}

// ReleaseClaim implements Store.
func (s *RedisStore) ReleaseClaim(ctx context.Context, key, owner string) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.claimKey(key)}, owner).Err(); err != nil {
		return fmt.Errorf("release claim: %w", err)
	}
	return nil
}

// ClaimHolders implements Store.
func (s *RedisStore) ClaimHolders(ctx context.Context, keys []string) (map[string]string, error) {
	out := map[string]string{}
	if len(keys) == 0 {
		return out, nil
	}
	ks := make([]string, len(keys))
	for i, k := range keys {
		ks[i] = s.claimKey(k)
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	for i, v := range vals {
		if h, ok := v.(string); ok {
			out[keys[i]] = h
		}
	}
	return out, nil
}
