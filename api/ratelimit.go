package api

import (
	"math"
	"slices"
	"sync"
	"time"
)

// limiter is a set of token buckets keyed by client ID (or, for public
// routes, by remote IP). At most maxKeys buckets are kept; when full, idle
// buckets are dropped (an idle bucket is full anyway).
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	maxKeys int
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(maxKeys int) *limiter {
	return &limiter{buckets: map[string]*bucket{}, maxKeys: maxKeys}
}

// allow takes one token from key's bucket (rate rps, capacity burst). When
// empty it reports how long until a token is available.
func (l *limiter) allow(key string, rl RateLimit, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.maxKeys {
			l.evictIdle(rl, now)
		}
		b = &bucket{tokens: float64(rl.Burst), last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(rl.Burst), b.tokens+el*rl.RPS)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / rl.RPS * float64(time.Second))
	return false, wait
}

func (l *limiter) evictIdle(rl RateLimit, now time.Time) {
	full := time.Duration(float64(rl.Burst) / rl.RPS * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.maxKeys {
		// All busy: forget the longest-idle half rather than grow, so the
		// keys under attack (the most recent) keep their state.
		keys := make([]string, 0, len(l.buckets))
		for k := range l.buckets {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int { return l.buckets[a].last.Compare(l.buckets[b].last) })
		for _, k := range keys[:len(keys)/2] {
			delete(l.buckets, k)
		}
	}
}

// Limiter is the token-bucket limiter for other front doors of sohoa (the
// counter intake limits uploads per caller with it). It keeps at most
// maxKeys buckets, as the API's own limiters do.
type Limiter struct{ l *limiter }

// NewLimiter returns a Limiter with at most maxKeys buckets.
func NewLimiter(maxKeys int) *Limiter { return &Limiter{l: newLimiter(maxKeys)} }

// Allow takes one token from key's bucket (rl.RPS a second, at most
// rl.Burst); when it is empty it reports how long until a token is back.
func (l *Limiter) Allow(key string, rl RateLimit, now time.Time) (bool, time.Duration) {
	return l.l.allow(key, rl, now)
}
