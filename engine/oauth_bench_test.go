package engine_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/require"
)

// BenchmarkAuthenticate compares what each request over HTTP pays to be
// authenticated: an OAuth access token (looked up every time, so that a
// revocation holds at the next call) beside an API key looked up and an
// API key from the 2-second cache, on one database in one run.
func BenchmarkAuthenticate(b *testing.B) {
	r := newOAuthRig(b)
	tokens, err := r.exchange(r.approve(b, false).Code)
	require.NoError(b, err)
	key, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent,
		Agent: r.agent.ID})
	require.NoError(b, err)
	cache := engine.NewKeyCache(r.env.Engine, engine.DefaultKeyCacheTTL)
	r.env.Clock.Set(r.env.Clock.Now()) // the clock stands still: the token never expires
	b.Run("oauth-token", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api-key", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.env.Engine.Authenticate(r.env.Ctx, key.Secret); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("api-key-cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := cache.Authenticate(r.env.Ctx, key.Secret); err != nil {
				b.Fatal(err)
			}
		}
	})
}
