package engine_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore counts the read transactions the engine opens.
type countingStore struct {
	engine.Store
	views atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, fn)
}

// Requests that find a key unknown or stale at the same moment wait for one
// lookup; a revoked key stops working once its check is stale, and a bad
// key is never remembered.
func TestKeyCacheLooksAKeyUpOnceForConcurrentRequests(t *testing.T) {
	env := sqlitetest.New(t)
	store := &countingStore{Store: env.Store}
	eng := engine.New(store, engine.Options{Clock: env.Clock})
	k, err := eng.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleNetwork, Name: "issuer"})
	require.NoError(t, err)
	const ttl = 200 * time.Millisecond
	cache := engine.NewKeyCache(eng, ttl)

	burst := func(secret string) (ok, refused int) {
		var wg sync.WaitGroup
		var okN, refusedN atomic.Int64
		start := make(chan struct{})
		for range 64 {
			wg.Go(func() {
				<-start
				a, err := cache.Authenticate(env.Ctx, secret)
				if err == nil && a.KeyID == k.ID {
					okN.Add(1)
				} else if engine.ErrorCode(err) == engine.CodeUnauthorized {
					refusedN.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		return int(okN.Load()), int(refusedN.Load())
	}
	views := func() int64 { return store.views.Swap(0) }

	views()
	ok, _ := burst(k.Secret)
	assert.Equal(t, 64, ok)
	assert.EqualValues(t, 1, views(), "one lookup for 64 requests")
	ok, _ = burst(k.Secret)
	assert.Equal(t, 64, ok)
	assert.EqualValues(t, 0, views(), "fresh: none")

	_, refused := burst(k.Secret + "x")
	assert.Equal(t, 64, refused)
	assert.LessOrEqual(t, views(), int64(64))
	_, refused = burst(k.Secret + "x")
	assert.Equal(t, 64, refused)
	assert.GreaterOrEqual(t, views(), int64(1), "a bad key is looked up again")

	_, err = eng.RevokeKey(env.Ctx, engine.Operator, engine.RevokeKeyInput{KeyID: k.ID})
	require.NoError(t, err)
	time.Sleep(ttl)
	_, refused = burst(k.Secret)
	assert.Equal(t, 64, refused, "revoked, once the check is stale")
}

// panickyStore panics in the next reads it is told to.
type panickyStore struct {
	engine.Store
	panics atomic.Int64
}

func (s *panickyStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	if s.panics.Add(-1) >= 0 {
		panic("reader broke")
	}
	return s.Store.View(ctx, fn)
}

// A lookup that panics (a server recovers the request) leaves nothing
// behind: the next request looks the key up again.
func TestKeyCacheRecoversFromALookupThatPanicked(t *testing.T) {
	env := sqlitetest.New(t)
	store := &panickyStore{Store: env.Store}
	eng := engine.New(store, engine.Options{Clock: env.Clock})
	k, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleNetwork, Name: "n"})
	require.NoError(t, err)
	cache := engine.NewKeyCache(eng, time.Second)
	store.panics.Store(1)
	assert.Panics(t, func() { _, _ = cache.Authenticate(env.Ctx, k.Secret) })
	ctx, cancel := context.WithTimeout(env.Ctx, 2*time.Second)
	defer cancel()
	a, err := cache.Authenticate(ctx, k.Secret)
	require.NoError(t, err)
	assert.Equal(t, k.ID, a.KeyID)
}
