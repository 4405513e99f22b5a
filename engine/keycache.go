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
	l := &keyLookup{done: make(chan struct{}), err: errKeyLookupFailed}
	c.inflight[sum] = l
	c.mu.Unlock()
	// However the lookup ends (a panic included), its waiters are
	// released and the next request looks the key up again.
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.inflight, sum)
		close(l.done)
		if l.err != nil {
			delete(c.entries, sum)
			return
		}
		if len(c.entries) > 10_000 { // bounded: a flood of keys just empties it
			clear(c.entries)
		}
		c.entries[sum] = cachedKey{actor: l.actor, checked: now}
	}()

	// The lookup is shared: the first caller's cancelled request must not
	// fail its waiters'. It is bounded on its own instead.
	lookupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyLookupTimeout)
	defer cancel()
	actor, err := c.eng.Authenticate(lookupCtx, secret)
	l.actor, l.err = actor, err
	if err != nil {
		return Actor{}, err
	}
	return actor, nil
}

// keyLookupTimeout bounds a shared key lookup.
const keyLookupTimeout = 10 * time.Second

// errKeyLookupFailed is what waiters get when the lookup they waited for
// ended without an answer (it panicked).
var errKeyLookupFailed = Errorf(CodeUnavailable, "the API key could not be checked: try again")
