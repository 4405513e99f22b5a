package engine_test

import (
	"encoding/json"
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

func TestFreezeAndUnfreezeEveryCardOfAnAgent(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("acme", 100_00)
	agent := env.Agent("bot", u, engine.Policy{})
	other := env.Agent("other", u, engine.Policy{})
	a, b, closed, theirs := env.Card(agent), env.Card(agent), env.Card(agent), env.Card(other)
	_, err := env.Engine.CloseCard(env.Ctx, engine.Operator, engine.CardActionInput{CardID: closed.ID})
	require.NoError(t, err)
	_, err = env.Engine.FreezeCard(env.Ctx, engine.Operator, engine.CardActionInput{CardID: b.ID})
	require.NoError(t, err)
	status := func(c *engine.Card) string {
		got, err := env.Engine.GetCard(env.Ctx, engine.Operator, c.ID)
		require.NoError(t, err)
		return got.Status
	}

	frozen, err := env.Engine.FreezeAgentCards(env.Ctx, engine.Operator, engine.AgentCardsInput{Agent: "bot", IdempotencyKey: "f1"})
	require.NoError(t, err)
	require.Len(t, frozen, 2, "the cards not closed")
	assert.Equal(t, engine.CardFrozen, status(a))
	assert.Equal(t, engine.CardFrozen, status(b))
	assert.Equal(t, engine.CardClosed, status(closed))
	assert.Equal(t, engine.CardActive, status(theirs), "another agent's card is untouched")

	_, err = env.Engine.UnfreezeAgentCards(env.Ctx, sqlitetest.AgentActor(agent), engine.AgentCardsInput{})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err), "an agent may not unfreeze what an operator froze")
	assert.Equal(t, engine.CardFrozen, status(a), "and nothing changed")

	_, err = env.Engine.UnfreezeAgentCards(env.Ctx, engine.Operator, engine.AgentCardsInput{Agent: "bot", IdempotencyKey: "f1"})
	assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err), "one key, one request")
	open, err := env.Engine.UnfreezeAgentCards(env.Ctx, engine.Operator, engine.AgentCardsInput{Agent: "bot"})
	require.NoError(t, err)
	assert.Len(t, open, 2)
	assert.Equal(t, engine.CardActive, status(a))
	assert.Equal(t, engine.CardActive, status(b))

	_, err = env.Engine.FreezeAgentCards(env.Ctx, sqlitetest.AgentActor(agent), engine.AgentCardsInput{Agent: "other"})
	assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
	_, err = env.Engine.FreezeAgentCards(env.Ctx, engine.Actor{Role: engine.RoleViewer}, engine.AgentCardsInput{Agent: "bot"})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
}

func TestAModeChangeMayBlockAndUnblockActionTypes(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("acme", 100_00)
	agent := env.Agent("bot", u, engine.Policy{BlockedActionTypes: []string{"transfer"}})
	set := func(in engine.SetModeInput) *engine.Agent {
		in.Agent = agent.ID
		a, err := env.Engine.SetAgentMode(env.Ctx, engine.Operator, in)
		require.NoError(t, err)
		return a
	}
	a := set(engine.SetModeInput{Mode: engine.ModeLive, BlockActionTypes: []string{"trade"}, IdempotencyKey: "k"})
	assert.Equal(t, []string{"transfer", "trade"}, a.Policy.BlockedActionTypes)
	d, err := env.Engine.PolicyCheck(env.Ctx, engine.Operator, engine.PolicyCheckInput{Agent: agent.ID, ActionType: "trade", Amount: 100})
	require.NoError(t, err)
	assert.Equal(t, engine.DecisionBlocked, d.Status)
	a = set(engine.SetModeInput{Mode: engine.ModeLive, BlockActionTypes: []string{"trade"}, IdempotencyKey: "k"})
	assert.Equal(t, []string{"transfer", "trade"}, a.Policy.BlockedActionTypes, "a retry changes nothing")
	_, err = env.Engine.SetAgentMode(env.Ctx, engine.Operator, engine.SetModeInput{Agent: agent.ID, Mode: engine.ModePaper, IdempotencyKey: "k"})
	assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err))
	a = set(engine.SetModeInput{Mode: engine.ModeLive, UnblockIfLive: []string{"trade"}})
	assert.Equal(t, []string{"transfer"}, a.Policy.BlockedActionTypes, "an operator's own block of another type stays")
	a = set(engine.SetModeInput{Mode: engine.ModePaper})
	assert.Equal(t, engine.ModePaper, a.Mode)
	assert.Equal(t, []string{"transfer"}, a.Policy.BlockedActionTypes, "a plain mode change leaves the policy alone")

	// A block of trade set while the agent is paper survives its going live.
	_, err = env.Engine.PatchPolicy(env.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: agent.ID,
		Patch: map[string]json.RawMessage{"blocked_action_types": json.RawMessage(`["transfer","trade"]`)}})
	require.NoError(t, err)
	a = set(engine.SetModeInput{Mode: engine.ModeLive, UnblockIfLive: []string{"trade"}})
	assert.Equal(t, []string{"transfer", "trade"}, a.Policy.BlockedActionTypes, "only a live agent's block is lifted")
	a = set(engine.SetModeInput{Mode: engine.ModeLive, UnblockIfLive: []string{"trade"}})
	assert.Equal(t, []string{"transfer"}, a.Policy.BlockedActionTypes)
}

func TestTheApprovalsQueueNewestFirst(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("acme", 100_00)
	a := env.Agent("bot", u, engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](1_00)})
	var ids []string
	for range 5 {
		d, err := env.Engine.PolicyCheck(env.Ctx, sqlitetest.AgentActor(a), engine.PolicyCheckInput{Amount: 5_00})
		require.NoError(t, err)
		ids = append(ids, d.ID)
	}
	var got []string
	cursor := ""
	for {
		l, err := env.Engine.ListApprovals(env.Ctx, engine.Operator, engine.ListApprovalsInput{Newest: true,
			Page: engine.Page{Limit: 2, StartingAfter: cursor}})
		require.NoError(t, err)
		for _, d := range l.Items {
			got = append(got, d.ID)
		}
		if !l.HasMore {
			break
		}
		cursor = l.Items[len(l.Items)-1].ID
	}
	assert.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, got)
	_, err := env.Engine.ListApprovals(env.Ctx, engine.Operator, engine.ListApprovalsInput{Newest: true, Status: "denied"})
	assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
}
