package engine_test

import (
	"sync"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The same network id twice is one authorization: the first decision comes
// back and nothing is held twice.
func TestSameNetworkIDGivesTheFirstDecision(t *testing.T) {
	env := sqlitetest.New(t)
	user, _, card := env.Setup(10_000, noIntent(engine.Policy{}))
	in := engine.AuthorizeInput{CardID: card.ID, Amount: 2500, Currency: "USD", Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "visa-123"}
	first, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
	require.NoError(t, err)
	requireApproved(t, first)

	env.Clock.Advance(1000)
	again, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Equal(t, int64(2500), balance(t, env, user).Pending)

	in.Amount = 9999
	_, err = env.Engine.Authorize(env.Ctx, engine.Operator, in)
	assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err))
	assert.Contains(t, engine.ErrorMessage(err), "network_id")

	// A declined first answer is kept too.
	declined := engine.AuthorizeInput{CardID: card.ID, Amount: 50_000, Currency: "USD", Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "visa-456"}
	d1, err := env.Engine.Authorize(env.Ctx, engine.Operator, declined)
	require.NoError(t, err)
	assert.Equal(t, engine.CodeInsufficientFunds, d1.DeclineCode)
	_, err = env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: user.ID, Amount: 100_000})
	require.NoError(t, err)
	d2, err := env.Engine.Authorize(env.Ctx, engine.Operator, declined)
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "a retry is not a new attempt")

	list, err := items(env.Engine.ListAuthorizations(env.Ctx, engine.Operator, engine.ListAuthorizationsInput{CardID: card.ID}))
	require.NoError(t, err)
	assert.Len(t, list, 2)
	env.Verify()
}

// A network id reused on another card is not the first card's decision,
// however the charge names the card: by id, by PAN or by an issuer's id.
// The same card named another way is the same charge.
func TestNetworkIDOnAnotherCardIsAConflict(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, first := env.Setup(10_000, noIntent(engine.Policy{}))
	other := env.Card(agent)
	_, err := env.Engine.LinkCard(env.Ctx, engine.Operator, engine.LinkCardInput{CardID: other.ID, Issuer: engine.IssuerStripe, ExternalID: "ic_other"})
	require.NoError(t, err)
	_, err = env.Engine.LinkCard(env.Ctx, engine.Operator, engine.LinkCardInput{CardID: first.ID, Issuer: engine.IssuerStripe, ExternalID: "ic_first"})
	require.NoError(t, err)
	pan := func(c *engine.Card) string {
		i := env.Reveal(agent, c, 100, "Shop")
		d, err := env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: c.ID, IntentID: i.ID})
		require.NoError(t, err)
		return d.PAN
	}
	firstPAN, otherPAN := pan(first), pan(other)
	charge := engine.AuthorizeInput{CardID: first.ID, Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net-1"}
	a, err := env.Engine.Authorize(env.Ctx, engine.Operator, charge)
	require.NoError(t, err)
	requireApproved(t, a)

	same := []engine.AuthorizeInput{
		{PAN: firstPAN, Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net-1"},
		{Issuer: engine.IssuerStripe, IssuerCardID: "ic_first", Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net-1"},
	}
	for _, in := range same {
		again, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
		require.NoError(t, err)
		assert.Equal(t, a.ID, again.ID)
	}
	others := []engine.AuthorizeInput{
		{CardID: other.ID, Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net-1"},
		{PAN: otherPAN, Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net-1"},
		{Issuer: engine.IssuerStripe, IssuerCardID: "ic_other", Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net-1"},
		{PAN: "4242424242424242", Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net-1"}, // no such card
	}
	for n, in := range others {
		_, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
		assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err), "charge %d", n)
		assert.NotContains(t, engine.ErrorMessage(err), otherPAN)
	}
	assert.Equal(t, int64(2500), balance(t, env, user).Pending, "one hold, on the first card")
	list, err := items(env.Engine.ListAuthorizations(env.Ctx, engine.Operator, engine.ListAuthorizationsInput{CardID: other.ID}))
	require.NoError(t, err)
	assert.Empty(t, list)
	env.Verify()
}

// The same idempotency key with the same input returns the first result and
// has one effect; with other input it is IDEMPOTENCY_CONFLICT.
func TestIdempotencyKeys(t *testing.T) {
	type call func(env *sqlitetest.Env, s scenario, key string, variant int) (any, error)
	cases := []struct {
		name string
		call call
		// effect counts what the calls did, to show it happened once.
		effect func(t *testing.T, env *sqlitetest.Env, s scenario) int64
	}{
		{"fund user", func(env *sqlitetest.Env, s scenario, key string, v int) (any, error) {
			return env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: s.user.ID, Amount: int64(1000 + v), IdempotencyKey: key})
		}, func(t *testing.T, env *sqlitetest.Env, s scenario) int64 { return balance(t, env, s.user).Posted }},
		{"create card", func(env *sqlitetest.Env, s scenario, key string, v int) (any, error) {
			return env.Engine.CreateCard(env.Ctx, sqlitetest.AgentActor(s.agent), engine.CreateCardInput{Purpose: []string{"a", "b"}[v], IdempotencyKey: key})
		}, func(t *testing.T, env *sqlitetest.Env, s scenario) int64 {
			cards, err := items(env.Engine.ListCards(env.Ctx, engine.Operator, s.agent.ID, engine.Page{}))
			require.NoError(t, err)
			return int64(len(cards))
		}},
		{"declare intent", func(env *sqlitetest.Env, s scenario, key string, v int) (any, error) {
			return env.Engine.DeclareIntent(env.Ctx, sqlitetest.AgentActor(s.agent), engine.DeclareIntentInput{Summary: "x", Amount: int64(100 + v), IdempotencyKey: key})
		}, func(t *testing.T, env *sqlitetest.Env, s scenario) int64 {
			list, err := items(env.Engine.ListIntents(env.Ctx, engine.Operator, engine.ListIntentsInput{}))
			require.NoError(t, err)
			return int64(len(list))
		}},
		{"policy check", func(env *sqlitetest.Env, s scenario, key string, v int) (any, error) {
			return env.Engine.PolicyCheck(env.Ctx, sqlitetest.AgentActor(s.agent), engine.PolicyCheckInput{Amount: int64(700 + v), IdempotencyKey: key})
		}, func(t *testing.T, env *sqlitetest.Env, s scenario) int64 { return spentToday(t, env, s.agent) }},
		{"settle", func(env *sqlitetest.Env, s scenario, key string, v int) (any, error) {
			return env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: s.auth.ID, Amount: ptr(int64(500 + v)), IdempotencyKey: key})
		}, func(t *testing.T, env *sqlitetest.Env, s scenario) int64 { return balance(t, env, s.user).Posted }},
		{"create key", func(env *sqlitetest.Env, s scenario, key string, v int) (any, error) {
			return env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: []string{engine.RoleViewer, engine.RoleAdmin}[v], IdempotencyKey: key})
		}, func(t *testing.T, env *sqlitetest.Env, s scenario) int64 {
			keys, err := items(env.Engine.ListKeys(env.Ctx, engine.Operator, engine.Page{}))
			require.NoError(t, err)
			return int64(len(keys))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			s := newScenario(t, env)
			before := tc.effect(t, env, s)
			first, err := tc.call(env, s, "key-1", 0)
			require.NoError(t, err)
			once := tc.effect(t, env, s)
			require.NotEqual(t, before, once, "the first call has an effect")

			again, err := tc.call(env, s, "key-1", 0)
			require.NoError(t, err)
			assert.Equal(t, first, again, "the first result comes back")
			assert.Equal(t, once, tc.effect(t, env, s), "and nothing happens twice")

			_, err = tc.call(env, s, "key-1", 1)
			assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err))
			assert.Equal(t, once, tc.effect(t, env, s))

			_, err = tc.call(env, s, "key-2", 1)
			if tc.name == "settle" {
				assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err), "a new key is a new request: settling again")
			} else {
				require.NoError(t, err, "a new key is a new request")
			}
			env.Verify()
		})
	}
}

type scenario struct {
	user  *engine.User
	agent *engine.Agent
	auth  *engine.Authorization
}

func newScenario(t *testing.T, env *sqlitetest.Env) scenario {
	user, agent, card := env.Setup(100_000, noIntent(engine.Policy{}))
	auth := env.Charge(card, 1000, "Shop", "")
	requireApproved(t, auth)
	return scenario{user, agent, auth}
}

// Idempotency keys belong to the caller: two agents may use the same key.
func TestIdempotencyKeysAreScopedPerAgent(t *testing.T) {
	env := sqlitetest.New(t)
	user := env.User("u", 100_000)
	a := env.Agent("a", user, engine.Policy{})
	b := env.Agent("b", user, engine.Policy{})
	ia, err := env.Engine.DeclareIntent(env.Ctx, sqlitetest.AgentActor(a), engine.DeclareIntentInput{Summary: "x", Amount: 1, IdempotencyKey: "same"})
	require.NoError(t, err)
	ib, err := env.Engine.DeclareIntent(env.Ctx, sqlitetest.AgentActor(b), engine.DeclareIntentInput{Summary: "x", Amount: 1, IdempotencyKey: "same"})
	require.NoError(t, err)
	assert.NotEqual(t, ia.ID, ib.ID)
	assert.Equal(t, b.ID, ib.AgentID)
}

// Many concurrent retries of one keyed deposit deposit once.
func TestConcurrentRetriesWithOneKeyActOnce(t *testing.T) {
	env := sqlitetest.New(t)
	user := env.User("u", 0)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: user.ID, Amount: 1000, IdempotencyKey: "deposit-1"})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1000), balance(t, env, user).Posted)
	env.Verify()
}
