package engine_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuthorizationTransfers(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(10_000, noIntent(engine.Policy{}))
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	a := env.Charge(card, 2500, "Shop", "")
	requireApproved(t, a)

	got, err := e.AuthorizationTransfers(ctx, op, a.ID)
	require.NoError(t, err)
	require.Len(t, got, 1, "the hold")
	assert.Equal(t, a.HoldID, got[0].ID)
	assert.Equal(t, engine.TransferPending, got[0].Kind)
	assert.Equal(t, engine.UserAccountID(user.ID, "USD"), got[0].DebitAccountID)

	_, err = e.Settle(ctx, op, engine.SettleInput{AuthorizationID: a.ID, Amount: ptr(2000)})
	require.NoError(t, err)
	_, err = e.Refund(ctx, op, engine.RefundInput{AuthorizationID: a.ID, Amount: ptr(500)})
	require.NoError(t, err)
	for _, actor := range []engine.Actor{op, {Role: engine.RoleViewer}, sqlitetest.AgentActor(agent)} {
		got, err = e.AuthorizationTransfers(ctx, actor, a.ID)
		require.NoError(t, err, actor.Role)
		require.Len(t, got, 3)
		assert.Equal(t, []string{engine.TransferPending, engine.TransferPostPending, engine.TransferPosted},
			[]string{got[0].Kind, got[1].Kind, got[2].Kind})
		assert.Equal(t, a.HoldID, got[1].PendingID)
		assert.Equal(t, int64(2000), got[1].Amount)
		assert.Equal(t, int64(500), got[2].Amount)
	}

	other := env.Agent("other-bot", user, noIntent(engine.Policy{}))
	_, err = e.AuthorizationTransfers(ctx, sqlitetest.AgentActor(other), a.ID)
	assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), "another agent's")
	_, err = e.AuthorizationTransfers(ctx, engine.Actor{Role: engine.RoleNetwork}, a.ID)
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	_, err = e.AuthorizationTransfers(ctx, op, "txn_nosuch")
	assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))

	declined := env.Charge(card, 1_000_000, "Shop", "")
	require.Equal(t, engine.AuthDeclined, declined.Status)
	got, err = e.AuthorizationTransfers(ctx, op, declined.ID)
	require.NoError(t, err)
	assert.Empty(t, got, "a decline moved no money")
}

func TestListAuthorizationsByDeclineCode(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{
		DailyLimit: ptr(5000), BlockedMerchants: []string{"Casino"}}}))
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	env.Charge(card, 4000, "Shop", "")
	over := env.Charge(card, 2000, "Shop", "")
	require.Equal(t, engine.CodeDailyLimitExceeded, over.DeclineCode)
	blocked := env.Charge(card, 100, "Casino", "")
	require.Equal(t, engine.CodeMerchantBlocked, blocked.DeclineCode)

	for _, in := range []engine.ListAuthorizationsInput{{}, {Agent: agent.ID}, {CardID: card.ID}, {Status: engine.AuthDeclined}} {
		in.DeclineCode = engine.CodeDailyLimitExceeded
		l, err := e.ListAuthorizations(ctx, op, in)
		require.NoError(t, err)
		require.Len(t, l.Items, 1, "%+v", in)
		assert.Equal(t, over.ID, l.Items[0].ID)
	}
	l, err := e.ListAuthorizations(ctx, sqlitetest.AgentActor(agent), engine.ListAuthorizationsInput{DeclineCode: engine.CodeMerchantBlocked})
	require.NoError(t, err)
	require.Len(t, l.Items, 1)
	assert.Equal(t, blocked.ID, l.Items[0].ID)

	_, err = e.ListAuthorizations(ctx, op, engine.ListAuthorizationsInput{DeclineCode: "NOPE"})
	requireField(t, err, "decline_code")
	_, err = e.ListAuthorizations(ctx, op, engine.ListAuthorizationsInput{Status: engine.AuthSettled, DeclineCode: engine.CodeDailyLimitExceeded})
	requireField(t, err, "decline_code")
}

func requireField(t *testing.T, err error, field string) {
	t.Helper()
	var ee *engine.Error
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, engine.CodeInvalidInput, ee.Code)
	assert.Equal(t, field, ee.Field)
}
