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
}

// RedisStore is Store on the Redis every serve process shares (the queues'
// Redis). Every key has a TTL, so Redis's noeviction policy is never
// strained by sessions; a Redis that loses them signs staff out (fail
// closed), and the audit log, not Redis, is the record of sign-ins.
//
// Keys, under Prefix: session:{sha256 of the cookie} (JSON, TTL = the idle
// timeout, at most the rest of the absolute lifetime), account:{id} (set of
// the account's session keys), failures:{id} (INCR, TTL = the window),
// lock:{id} (end of the lockout).
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
