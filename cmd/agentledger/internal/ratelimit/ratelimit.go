// Package ratelimit is a token bucket per key (an API key, a remote
// address), for the HTTP faces.
package ratelimit

import (
	"sync"
	"time"
)

// Limiter is a token bucket per key: PerMinute tokens, refilled evenly over
// a minute, one spent per request. It is safe for concurrent use.
type Limiter struct {
	PerMinute int // negative: no limit
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a limiter of perMinute requests a minute per key (negative:
// no limit).
func New(perMinute int) *Limiter {
	return &Limiter{PerMinute: perMinute, buckets: map[string]*bucket{}}
}

// Take spends one request of the key's bucket; when it is empty it reports
// how long until the next request is allowed.
func (l *Limiter) Take(key string, now time.Time) (time.Duration, bool) {
	if l.PerMinute < 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	capacity := float64(l.PerMinute)
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 100_000 { // keys are few; bound the map all the same
			clear(l.buckets)
		}
		b = &bucket{tokens: capacity, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(capacity, b.tokens+elapsed.Minutes()*capacity)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / capacity * float64(time.Minute)), false
}
