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
// are not remembered.
type KeyCache struct {
	eng     *Engine
	ttl     time.Duration
	mu      sync.Mutex
	entries map[[32]byte]cachedKey
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
	return &KeyCache{eng: e, ttl: ttl, entries: map[[32]byte]cachedKey{}}
}

// Authenticate returns the key's actor, from the cache while it is fresh;
// its errors are those of Engine.Authenticate.
func (c *KeyCache) Authenticate(ctx context.Context, secret string) (Actor, error) {
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[sum]
	c.mu.Unlock()
	if ok && now.Sub(e.checked) < c.ttl {
		return e.actor, nil
	}
	actor, err := c.eng.Authenticate(ctx, secret)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.entries, sum)
		return Actor{}, err
	}
	if len(c.entries) > 10_000 { // bounded: a flood of keys just empties it
		clear(c.entries)
	}
	c.entries[sum] = cachedKey{actor: actor, checked: now}
	return actor, nil
}
