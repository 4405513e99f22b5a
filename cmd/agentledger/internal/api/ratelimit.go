package api

import (
	"sync"
	"time"
)

// limiter is a token bucket per API key: perMinute tokens, refilled evenly
// over a minute, one spent per request.
type limiter struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(perMinute int) *limiter {
	return &limiter{perMinute: perMinute, buckets: map[string]*bucket{}}
}

// take spends one request of the key's bucket; when it is empty it reports
// how long until the next request is allowed.
func (l *limiter) take(key string, now time.Time) (time.Duration, bool) {
	if l.perMinute < 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	capacity := float64(l.perMinute)
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
