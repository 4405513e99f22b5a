package engine_test

import (
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Prune removes old events, their finished deliveries and idempotency
// records, in batches, and no money: an event still pending for an endpoint
// stays, the ledger verifies, balances and authorizations are untouched.
func TestPruneRemovesOldHistoryNotMoney(t *testing.T) {
	defer engine.SetPruneBatch(3)() // several batches
	env, w := webhookEnv(t)
	u, agent, card := env.Setup(100_000, engine.Policy{})
	for i := range 4 {
		_, err := env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: 100,
			IdempotencyKey: "fund-" + string(rune('a'+i))})
		require.NoError(t, err)
	}
	env.Reveal(agent, card, 500, "Shop")
	env.Charge(card, 500, "Shop", "5999")
	// Deliver everything (one event at a time: an endpoint's queue is in
	// order), then one more event whose delivery stays pending.
	delivered := 0
	for jobs := claim(t, env, "sender"); len(jobs) > 0; jobs = claim(t, env, "sender") {
		for _, job := range jobs {
			complete(t, env, job, 200)
			delivered++
		}
	}
	_, err := env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: 100})
	require.NoError(t, err)
	oldEvents := count(t, env, engine.ListEventsInput{})
	balance, err := env.Engine.UserBalance(env.Ctx, engine.Operator, u.ID, "")
	require.NoError(t, err)
	auths, err := items(env.Engine.ListAuthorizations(env.Ctx, engine.Operator, engine.ListAuthorizationsInput{}))
	require.NoError(t, err)

	env.Clock.Advance(3 * 24 * time.Hour)
	cutoff := env.Clock.Now().Add(-2 * 24 * time.Hour)
	_, err = env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: 100, IdempotencyKey: "recent"})
	require.NoError(t, err)

	_, err = env.Engine.Prune(env.Ctx, engine.Operator, engine.PruneInput{Before: env.Clock.Now().Add(-time.Hour)})
	assert.Equal(t, "before", fieldOf(err), "history younger than a day is kept")
	_, err = env.Engine.Prune(env.Ctx, sqlitetest.AgentActor(agent), engine.PruneInput{Before: cutoff})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))

	r, err := env.Engine.Prune(env.Ctx, engine.Operator, engine.PruneInput{Before: cutoff})
	require.NoError(t, err)
	assert.Equal(t, int64(oldEvents-1), r.Events, "every old event but the one still pending")
	assert.Equal(t, int64(delivered), r.Deliveries, "the finished deliveries")
	assert.Equal(t, oldEvents-1, delivered)
	assert.Equal(t, int64(4), r.IdempotencyKeys, "the old keys, not the recent one")

	assert.Equal(t, 2, count(t, env, engine.ListEventsInput{}), "the pending event and the recent one")
	pending, err := items(env.Engine.ListDeliveries(env.Ctx, engine.Operator, engine.ListDeliveriesInput{EndpointID: w.ID}))
	require.NoError(t, err)
	assert.Len(t, pending, 2, "the pending delivery, and the recent event's")
	after, err := env.Engine.UserBalance(env.Ctx, engine.Operator, u.ID, "")
	require.NoError(t, err)
	assert.Equal(t, balance.Posted+100, after.Posted, "money untouched (the recent deposit added)")
	authsAfter, err := items(env.Engine.ListAuthorizations(env.Ctx, engine.Operator, engine.ListAuthorizationsInput{}))
	require.NoError(t, err)
	assert.Len(t, authsAfter, len(auths))
	env.Verify()

	again, err := env.Engine.Prune(env.Ctx, engine.Operator, engine.PruneInput{Before: cutoff})
	require.NoError(t, err)
	assert.Equal(t, engine.PruneResult{Before: cutoff.UTC()}, *again, "nothing left to remove")
	// The recent key still answers its retry; an old one is a new request.
	_, err = env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: 100, IdempotencyKey: "recent"})
	require.NoError(t, err)
	same, err := env.Engine.UserBalance(env.Ctx, engine.Operator, u.ID, "")
	require.NoError(t, err)
	assert.Equal(t, after.Posted, same.Posted, "the recent key was kept: its retry moved nothing")
}

func count(t *testing.T, env *sqlitetest.Env, in engine.ListEventsInput) int {
	t.Helper()
	list, err := items(env.Engine.ListEvents(env.Ctx, engine.Operator, in))
	require.NoError(t, err)
	return len(list)
}
