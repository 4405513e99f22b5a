package engine

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultKeyCacheTTL is how long a checked API key is trusted without
// looking it up again: a revoked key stops working within this time.
// Looking a key up costs a read transaction, which after every write has to
// reload its pages; on every call that doubled the cost of a policy_check.
const DefaultKeyCacheTTL = 2 * time.Second

// KeyCache remembers, by their hash, which keys were valid, for the servers
// (MCP over HTTP, the REST API) that authenticate every request. Failures
// are not remembered. Requests that find a key stale at once wait for one
// lookup: an issuer's adapter sends every authorization with one key, and
// each expiry otherwise had all its concurrent requests look it up.
type KeyCache struct {
	eng      *Engine
	ttl      time.Duration
	mu       sync.Mutex
	entries  map[[32]byte]cachedKey
	inflight map[[32]byte]*keyLookup
}

// keyLookup is a lookup in progress; done closes when actor and err are set.
type keyLookup struct {
	done  chan struct{}
	actor Actor
	err   error
}

type cachedKey struct {
	actor   Actor
	checked time.Time
}

// NewKeyCache returns a cache trusting a checked key for ttl
// (DefaultKeyCacheTTL when zero or negative).
func NewKeyCache(e *Engine, ttl time.Duration) *KeyCache {
	if ttl <= 0 {
		ttl = DefaultKeyCacheTTL
	}
	return &KeyCache{eng: e, ttl: ttl, entries: map[[32]byte]cachedKey{}, inflight: map[[32]byte]*keyLookup{}}
}

// Authenticate returns the key's actor, from the cache while it is fresh;
// its errors are those of Engine.Authenticate.
func (c *KeyCache) Authenticate(ctx context.Context, secret string) (Actor, error) {
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[sum]
	if ok && now.Sub(e.checked) < c.ttl {
		c.mu.Unlock()
		return e.actor, nil
	}
	if l := c.inflight[sum]; l != nil {
		c.mu.Unlock()
		select {
		case <-l.done:
			return l.actor, l.err
		case <-ctx.Done():
			return Actor{}, ctx.Err()
		}
	}
	l := &keyLookup{done: make(chan struct{})}
	c.inflight[sum] = l
	c.mu.Unlock()

	// The lookup is shared: a waiter's cancelled request must not fail
	// the others', nor the first caller's its waiters'.
	l.actor, l.err = c.eng.Authenticate(context.WithoutCancel(ctx), secret)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, sum)
	close(l.done)
	if l.err != nil {
		delete(c.entries, sum)
		return Actor{}, l.err
	}
	if len(c.entries) > 10_000 { // bounded: a flood of keys just empties it
		clear(c.entries)
	}
	c.entries[sum] = cachedKey{actor: l.actor, checked: now}
	return l.actor, nil
}
