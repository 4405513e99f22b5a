package engine_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The engine calls the REST face needs beyond the CLI's.

func TestCreateAgentFundsItsPaperBalanceAtOnce(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("acme", 0)
	a, err := env.Engine.CreateAgent(env.Ctx, engine.Operator, engine.CreateAgentInput{Name: "sim", User: u.ID,
		Mode: engine.ModePaper, PaperFunding: 5000_00})
	require.NoError(t, err)
	bal, err := env.Engine.PaperBalance(env.Ctx, engine.Operator, a.ID, "")
	require.NoError(t, err)
	assert.EqualValues(t, 5000_00, bal.Available)
	assert.Contains(t, eventTypes(t, env), engine.EventAccountFunded)

	for _, tc := range []struct {
		name string
		in   engine.CreateAgentInput
		code string
	}{
		{"negative", engine.CreateAgentInput{Name: "neg", User: u.ID, PaperFunding: -1}, engine.CodeInvalidInput},
		{"too much", engine.CreateAgentInput{Name: "big", User: u.ID, PaperFunding: engine.MaxAmount + 1}, engine.CodeInvalidInput},
		{"name taken: nothing funded", engine.CreateAgentInput{Name: "sim", User: u.ID, PaperFunding: 100}, engine.CodeConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := env.Snapshot()
			_, err := env.Engine.CreateAgent(env.Ctx, engine.Operator, tc.in)
			require.Error(t, err)
			assert.Equal(t, tc.code, engine.ErrorCode(err))
			assert.Equal(t, before, env.Snapshot())
		})
	}
	assert.True(t, env.Verify().OK)
}

func TestReplayWithAKeyQueuesOnce(t *testing.T) {
	env := sqlitetest.New(t)
	wh, err := env.Engine.AddWebhook(env.Ctx, engine.Operator, engine.AddWebhookInput{URL: "https://example.com/hook"})
	require.NoError(t, err)
	env.User("acme", 0)
	for _, job := range claim(t, env, "sender") {
		complete(t, env, job, 200)
	}
	events, err := items(env.Engine.ListEvents(env.Ctx, engine.Operator, engine.ListEventsInput{}))
	require.NoError(t, err)
	replay := func(key string) []*engine.Delivery {
		d, err := env.Engine.ReplayEvent(env.Ctx, engine.Operator, engine.ReplayInput{EventID: events[0].ID,
			EndpointID: wh.ID, IdempotencyKey: key})
		require.NoError(t, err)
		return d
	}
	first := replay("replay-1")
	require.Len(t, first, 1)
	assert.Equal(t, engine.DeliveryPending, first[0].Status)
	jobs := claim(t, env, "sender")
	require.Len(t, jobs, 1)
	complete(t, env, jobs[0], 200)
	again := replay("replay-1")
	assert.Equal(t, first, again, "the retry answers the first result")
	assert.Empty(t, claim(t, env, "sender"), "and queues nothing again")
	replay("replay-2")
	assert.Len(t, claim(t, env, "sender"), 1, "a new key replays again")
}

func TestAnAgentKeyMayNameItsOwnAgent(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("acme", 100_00)
	me := env.Agent("me-bot", u, engine.Policy{})
	other := env.Agent("other-bot", u, engine.Policy{})
	actor := sqlitetest.AgentActor(me)
	for _, ref := range []string{"", me.ID, "me-bot"} {
		d, err := env.Engine.PolicyCheck(env.Ctx, actor, engine.PolicyCheckInput{Agent: ref, Amount: 100})
		require.NoError(t, err, ref)
		assert.Equal(t, me.ID, d.AgentID)
		l, err := env.Engine.Limits(env.Ctx, actor, ref)
		require.NoError(t, err, ref)
		assert.Equal(t, me.ID, l.AgentID)
	}
	for _, ref := range []string{other.ID, "other-bot", "nobody"} {
		_, err := env.Engine.PolicyCheck(env.Ctx, actor, engine.PolicyCheckInput{Agent: ref, Amount: 100})
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), ref)
		_, err = items(env.Engine.ListAuthorizations(env.Ctx, actor, engine.ListAuthorizationsInput{Agent: ref}))
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), ref)
		_, err = env.Engine.CreateCard(env.Ctx, actor, engine.CreateCardInput{Agent: ref})
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), ref)
	}
}

func TestVerifyLedgerIsForOperatorsAndViewers(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(100_00, engine.Policy{})
	for _, actor := range []engine.Actor{engine.Operator, {Role: engine.RoleViewer}} {
		r, err := env.Engine.VerifyLedger(env.Ctx, actor)
		require.NoError(t, err)
		assert.True(t, r.OK)
	}
	_, err := env.Engine.VerifyLedger(env.Ctx, sqlitetest.AgentActor(agent))
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
}
