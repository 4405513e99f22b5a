package engine_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func balance(t *testing.T, env *sqlitetest.Env, user *engine.User) engine.Balance {
	t.Helper()
	b, err := env.Engine.UserBalance(env.Ctx, engine.Operator, user.ID, "USD")
	require.NoError(t, err)
	return *b
}

func bal(posted, pending int64) engine.Balance {
	return engine.Balance{Currency: "USD", Posted: posted, Pending: pending, Available: posted - pending}
}

func TestSettlementReversalRefund(t *testing.T) {
	open := noIntent(engine.Policy{})
	t.Run("an approved charge holds funds; settling posts them", func(t *testing.T) {
		env := sqlitetest.New(t)
		user, _, card := env.Setup(10_000, open)
		a := env.Charge(card, 2500, "Shop", "")
		requireApproved(t, a)
		want := bal(10_000, 2500)
		want.UserID = user.ID
		assert.Equal(t, want, balance(t, env, user))

		a, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
		require.NoError(t, err)
		assert.Equal(t, engine.AuthSettled, a.Status)
		assert.Equal(t, int64(2500), a.SettledAmount)
		want = bal(7500, 0)
		want.UserID = user.ID
		assert.Equal(t, want, balance(t, env, user))
		env.Verify()
	})
	t.Run("a partial settlement releases the rest of the hold", func(t *testing.T) {
		env := sqlitetest.New(t)
		user, _, card := env.Setup(10_000, open)
		a := env.Charge(card, 2500, "Shop", "")
		a, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID, Amount: ptr(1800)})
		require.NoError(t, err)
		assert.Equal(t, int64(1800), a.SettledAmount)
		b := balance(t, env, user)
		assert.Equal(t, int64(8200), b.Available)
		assert.Equal(t, int64(0), b.Pending)
		env.Verify()
	})
	t.Run("settling more than was held, or twice, fails and changes nothing", func(t *testing.T) {
		env := sqlitetest.New(t)
		user, _, card := env.Setup(10_000, open)
		a := env.Charge(card, 2500, "Shop", "")
		_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID, Amount: ptr(2501)})
		assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
		assert.Contains(t, engine.ErrorMessage(err), "amount")
		assert.Equal(t, int64(2500), balance(t, env, user).Pending)
		_, err = env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
		require.NoError(t, err)
		_, err = env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
		assert.Equal(t, int64(7500), balance(t, env, user).Available)
		env.Verify()
	})
	t.Run("a reversal releases the hold; a reversed charge cannot be settled", func(t *testing.T) {
		env := sqlitetest.New(t)
		user, _, card := env.Setup(10_000, open)
		a := env.Charge(card, 2500, "Shop", "")
		a, err := env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: a.ID})
		require.NoError(t, err)
		assert.Equal(t, engine.AuthReversed, a.Status)
		assert.Equal(t, int64(10_000), balance(t, env, user).Available)
		_, err = env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
		_, err = env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: a.ID})
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
		env.Verify()
	})
	t.Run("refunds return money in parts up to the settled amount", func(t *testing.T) {
		env := sqlitetest.New(t)
		user, _, card := env.Setup(10_000, open)
		a := env.Charge(card, 2500, "Shop", "")
		_, err := env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID})
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err), "an unsettled charge is reversed, not refunded")
		_, err = env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID, Amount: ptr(2000)})
		require.NoError(t, err)

		a, err = env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID, Amount: ptr(500)})
		require.NoError(t, err)
		assert.Equal(t, int64(500), a.RefundedAmount)
		assert.Equal(t, int64(8500), balance(t, env, user).Available)

		_, err = env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID, Amount: ptr(1501)})
		assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
		a, err = env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID})
		require.NoError(t, err)
		assert.Equal(t, int64(2000), a.RefundedAmount)
		assert.Equal(t, int64(10_000), balance(t, env, user).Available)
		_, err = env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID})
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
		env.Verify()
	})
	t.Run("unknown authorizations are not found", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: "txn_nope"})
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
		assert.Contains(t, engine.ErrorMessage(err), "authorization_id")
	})
}

// Paper agents run every check, but spend a virtual balance.
func TestPaperMode(t *testing.T) {
	env := sqlitetest.New(t)
	user := env.User("u", 10_000)
	agent, err := env.Engine.CreateAgent(env.Ctx, engine.Operator, engine.CreateAgentInput{Name: "sim", User: user.ID, Mode: engine.ModePaper,
		Policy: &engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(5000)}}})
	require.NoError(t, err)
	card := env.Card(agent)

	env.Reveal(agent, card, 3000, "Shop")
	auth := env.Charge(card, 3000, "Shop", "")
	assert.Equal(t, engine.CodeInsufficientFunds, auth.DeclineCode, "no paper money yet")
	assert.True(t, auth.Paper)

	_, err = env.Engine.FundPaper(env.Ctx, engine.Operator, engine.FundPaperInput{Agent: agent.ID, Amount: 4000})
	require.NoError(t, err)
	env.Reveal(agent, card, 3000, "Shop")
	auth = env.Charge(card, 3000, "Shop", "")
	requireApproved(t, auth)
	assert.True(t, auth.Paper)
	assert.Contains(t, auth.Reason, "paper")

	paper, err := env.Engine.PaperBalance(env.Ctx, engine.Operator, agent.ID, "")
	require.NoError(t, err)
	assert.Equal(t, int64(1000), paper.Available)
	assert.Equal(t, int64(10_000), balance(t, env, user).Available, "the user's real money is untouched")

	_, err = env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: auth.ID})
	require.NoError(t, err)
	env.Reveal(agent, card, 800, "Shop")
	_, err = env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID,
		Policy: engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(500)}}})
	require.NoError(t, err)
	assert.Equal(t, engine.CodeSpendLimitExceeded, env.Charge(card, 800, "Shop", "").DeclineCode, "limits apply in paper mode too")
	env.Verify()
}

func TestSingleUseCardClosesAfterItsFirstApproval(t *testing.T) {
	env := sqlitetest.New(t)
	user := env.User("u", 10_000)
	agent := env.Agent("a", user, engine.Policy{})
	card, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID, Type: engine.CardSingleUse})
	require.NoError(t, err)

	assert.Equal(t, engine.CodeIntentRequired, env.Charge(card, 1000, "Shop", "").DeclineCode, "a decline does not use the card up")
	env.Reveal(agent, card, 1000, "Shop")
	leftover := env.Reveal(agent, card, 1000, "Shop")
	requireApproved(t, env.Charge(card, 1000, "Shop", ""))

	got, err := env.Engine.GetCard(env.Ctx, engine.Operator, card.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.CardClosed, got.Status)
	assert.Equal(t, "system", got.ClosedBy)
	assert.Equal(t, engine.IntentCancelled, intentStatus(t, env, leftover.ID))
	assert.Equal(t, engine.CodeCardCancelled, env.Charge(card, 1000, "Shop", "").DeclineCode)
	env.Verify()
}
