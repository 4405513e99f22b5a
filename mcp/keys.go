package mcp

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// KeyCacheTTL is how long a checked API key is trusted without looking it
// up again: a key revoked with the CLI stops working within this time.
// Looking a key up costs a read transaction, which after every write has
// to reload its pages; on every call that doubled the cost of a
// policy_check.
const KeyCacheTTL = 2 * time.Second

// keyCache remembers which keys were valid, by their hash. Failures are
// not remembered.
type keyCache struct {
	mu      sync.Mutex
	entries map[[32]byte]cachedKey
	ttl     time.Duration
}

type cachedKey struct {
	actor   engine.Actor
	checked time.Time
}

// authenticate returns the key's actor, from the cache while it is fresh.
func (c *keyCache) authenticate(ctx context.Context, eng *engine.Engine, secret string) (engine.Actor, error) {
	sum := sha256.Sum256([]byte(secret))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[sum]
	c.mu.Unlock()
	if ok && now.Sub(e.checked) < c.ttl {
		return e.actor, nil
	}
	actor, err := eng.Authenticate(ctx, secret)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		delete(c.entries, sum)
		return engine.Actor{}, err
	}
	if len(c.entries) > 10_000 { // bounded: a flood of keys just empties it
		clear(c.entries)
	}
	c.entries[sum] = cachedKey{actor: actor, checked: now}
	return actor, nil
}
