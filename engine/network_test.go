package engine_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issuerAuth authorizes the requests of one issuer authorization (the first
// and its incremental ones) and returns them.
func issuerAuth(t *testing.T, env *sqlitetest.Env, card *engine.Card, networkID string, amounts ...int64) []*engine.Authorization {
	t.Helper()
	var out []*engine.Authorization
	for n, amount := range amounts {
		a, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: amount,
			Merchant: engine.Merchant{Name: "Acme"}, NetworkID: engine.IncrementNetworkID(networkID, n+1)})
		require.NoError(t, err)
		requireApproved(t, a)
		out = append(out, a)
	}
	return out
}

// Captures and refunds of an issuer authorization are allocated over its
// requests by the engine, oldest first, in one transaction.
func TestCapturesAndRefundsOverAnIssuersRequests(t *testing.T) {
	env := sqlitetest.New(t)
	user, _, card := env.Setup(100_00, noIntent(engine.Policy{}))
	issuerAuth(t, env, card, "iauth_1", 4_00, 82)
	network := engine.Actor{Role: engine.RoleNetwork}
	e, ctx := env.Engine, env.Ctx

	c, err := e.CaptureNetwork(ctx, network, engine.NetworkChangeInput{NetworkID: "iauth_1", Amount: 5_00, IdempotencyKey: "cap_1"})
	require.NoError(t, err)
	assert.Equal(t, int64(4_82), c.Applied)
	assert.Equal(t, int64(18), c.NotApplied, "captured beyond what was approved")
	assert.Len(t, c.Authorizations, 2)
	again, err := e.CaptureNetwork(ctx, network, engine.NetworkChangeInput{NetworkID: "iauth_1", Amount: 5_00, IdempotencyKey: "cap_1"})
	require.NoError(t, err)
	assert.Equal(t, c, again, "the same capture again changes nothing")

	for _, r := range []struct {
		key              string
		amount, applied  int64
		notApplied       int64
		refundedPerAuths []int64
	}{
		{"ref_1", 3_00, 3_00, 0, []int64{3_00, 0}},
		{"ref_2", 1_50, 1_50, 0, []int64{4_00, 50}},
		{"ref_3", 1_00, 32, 68, []int64{4_00, 82}},
	} {
		c, err := e.RefundNetwork(ctx, network, engine.NetworkChangeInput{NetworkID: "iauth_1", Amount: r.amount, IdempotencyKey: r.key})
		require.NoError(t, err)
		assert.Equal(t, r.applied, c.Applied, r.key)
		assert.Equal(t, r.notApplied, c.NotApplied, r.key)
		for n, want := range r.refundedPerAuths {
			a, err := e.GetAuthorizationByNetworkID(ctx, engine.Operator, engine.IncrementNetworkID("iauth_1", n+1))
			require.NoError(t, err)
			assert.Equal(t, want, a.RefundedAmount, "%s, request %d", r.key, n+1)
		}
	}
	b := balance(t, env, user)
	assert.Equal(t, int64(100_00), b.Available, "all of it came back")

	_, err = e.CaptureNetwork(ctx, network, engine.NetworkChangeInput{NetworkID: "iauth_unknown", Amount: 1_00})
	assert.True(t, engine.IsNotFound(err))
	_, err = e.RefundNetwork(ctx, network, engine.NetworkChangeInput{NetworkID: "iauth_1", Amount: 0})
	assertInvalid(t, err, "amount")
	_, err = e.CaptureNetwork(ctx, engine.Actor{Role: engine.RoleViewer}, engine.NetworkChangeInput{NetworkID: "iauth_1", Amount: 1})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	env.Verify()
}

// A reversal from the issuer releases the requests it did not carry out,
// but leaves a paper agent's approvals: the network declining them is what
// agentledger asked for.
func TestIssuerReversalLeavesPaperApprovals(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("u", 100_00)
	paper, err := env.Engine.CreateAgent(env.Ctx, engine.Operator, engine.CreateAgentInput{Name: "p", User: u.ID, Mode: engine.ModePaper,
		Policy: &engine.Policy{IntentRequired: sqlitetest.Ptr(false)}})
	require.NoError(t, err)
	_, err = env.Engine.FundPaper(env.Ctx, engine.Operator, engine.FundPaperInput{Agent: paper.ID, Amount: 50_00})
	require.NoError(t, err)
	live := env.Agent("live", u, noIntent(engine.Policy{}))
	paperAuth := issuerAuth(t, env, env.Card(paper), "iauth_paper", 10_00)[0]
	assert.Equal(t, engine.NetworkDecline, paperAuth.NetworkAnswer)
	liveAuths := issuerAuth(t, env, env.Card(live), "iauth_live", 10_00, 5_00)
	assert.Equal(t, engine.NetworkApprove, liveAuths[0].NetworkAnswer)

	network := engine.Actor{Role: engine.RoleNetwork}
	c, err := env.Engine.ReverseNetwork(env.Ctx, network, engine.NetworkChangeInput{NetworkID: "iauth_paper", IdempotencyKey: "rev_p"})
	require.NoError(t, err)
	assert.Empty(t, c.Authorizations)
	c, err = env.Engine.ReverseNetwork(env.Ctx, network, engine.NetworkChangeInput{NetworkID: "iauth_live", IdempotencyKey: "rev_l"})
	require.NoError(t, err)
	require.Len(t, c.Authorizations, 2)
	for _, a := range c.Authorizations {
		assert.Equal(t, engine.AuthReversed, a.Status)
	}
	got, err := env.Engine.GetAuthorization(env.Ctx, engine.Operator, paperAuth.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.AuthApproved, got.Status)
	env.Verify()
}

// A credit authorization spends nothing: approved whatever the card's state,
// no hold, no window; settled it credits the funding account.
func TestCreditAuthorizations(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(10_00, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(1_00), MaxTransactionsPerDay: ptr(1)}})
	_, err := env.Engine.CloseCard(env.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	network := engine.Actor{Role: engine.RoleNetwork}
	in := engine.AuthorizeInput{CardID: card.ID, Amount: 25_00, Merchant: engine.Merchant{Name: "Returns Dept"}, NetworkID: "cr_1"}
	a, err := env.Engine.AuthorizeCredit(env.Ctx, network, in)
	require.NoError(t, err)
	assert.Equal(t, engine.KindCredit, a.Kind)
	assert.Equal(t, engine.AuthApproved, a.Status)
	assert.Equal(t, engine.NetworkApprove, a.NetworkAnswer)
	assert.Empty(t, a.HoldID)
	again, err := env.Engine.AuthorizeCredit(env.Ctx, network, in)
	require.NoError(t, err)
	assert.Equal(t, a.ID, again.ID)
	limits, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
	require.NoError(t, err)
	assert.Zero(t, limits.Daily.Spent)
	assert.Zero(t, limits.TransactionsToday.Used)

	_, err = env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID})
	assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
	c, err := env.Engine.CaptureNetwork(env.Ctx, network, engine.NetworkChangeInput{NetworkID: "cr_1", Amount: 25_00, IdempotencyKey: "clr"})
	require.NoError(t, err)
	assert.Equal(t, int64(25_00), c.Applied)
	assert.Equal(t, int64(35_00), balance(t, env, user).Available, "the credit reached the user")

	b, err := env.Engine.AuthorizeCredit(env.Ctx, network, engine.AuthorizeInput{CardID: card.ID, Amount: 5_00, Merchant: engine.Merchant{Name: "X"}, NetworkID: "cr_2"})
	require.NoError(t, err)
	c, err = env.Engine.ReverseNetwork(env.Ctx, network, engine.NetworkChangeInput{NetworkID: "cr_2"})
	require.NoError(t, err)
	require.Len(t, c.Authorizations, 1)
	assert.Equal(t, engine.AuthReversed, c.Authorizations[0].Status)
	assert.Equal(t, b.ID, c.Authorizations[0].ID)
	assert.Equal(t, int64(35_00), balance(t, env, user).Available, "a voided credit moved nothing")

	unknown, err := env.Engine.AuthorizeCredit(env.Ctx, network, engine.AuthorizeInput{CardID: "card_nope", Amount: 1, Merchant: engine.Merchant{Name: "X"}})
	require.NoError(t, err)
	assert.Equal(t, engine.CodeCardNotFound, unknown.DeclineCode)
	_, err = env.Engine.AuthorizeCredit(env.Ctx, sqlitetest.AgentActor(agent), in)
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	env.Verify()
}

// Idempotency keys are scoped to the API key: a network key (or a sandbox
// adapter) cannot take the key an issuer's event will use, and two network
// keys do not share keys.
func TestIdempotencyKeysBelongToTheirAPIKey(t *testing.T) {
	env := sqlitetest.New(t)
	_, _, card := env.Setup(100_00, noIntent(engine.Policy{}))
	issuerAuth(t, env, card, "iauth_1", 4_00)
	adapter := engine.Actor{Role: engine.RoleNetwork, KeyID: "key_adapter"}
	other := engine.Actor{Role: engine.RoleNetwork, KeyID: "key_other"}
	stripe := engine.Actor{Role: engine.RoleNetwork, KeyID: engine.IssuerStripe}
	charge := engine.AuthorizeInput{CardID: card.ID, Amount: 1_00, Merchant: engine.Merchant{Name: "Acme"}, IdempotencyKey: "stripe:ipi_1:iauth_1"}
	first, err := env.Engine.Authorize(env.Ctx, adapter, charge)
	require.NoError(t, err)
	c, err := env.Engine.CaptureNetwork(env.Ctx, stripe, engine.NetworkChangeInput{NetworkID: "iauth_1", Amount: 4_00, IdempotencyKey: "stripe:ipi_1:iauth_1"})
	require.NoError(t, err, "the issuer's event is not blocked by the adapter's key")
	assert.Equal(t, int64(4_00), c.Applied)
	second, err := env.Engine.Authorize(env.Ctx, other, charge)
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, second.ID, "another key's retry space")
	again, err := env.Engine.Authorize(env.Ctx, adapter, charge)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	env.Verify()
}

// A charge that arrives with the network id of a credit is not the credit's
// decision: no checks, no hold would follow.
func TestAChargeCannotReplayACredit(t *testing.T) {
	env := sqlitetest.New(t)
	_, _, card := env.Setup(100_00, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{BlockedMerchants: []string{"Casino"}}}))
	in := engine.AuthorizeInput{CardID: card.ID, Amount: 50_00, Merchant: engine.Merchant{Name: "Casino"}, NetworkID: "tok_1"}
	credit, err := env.Engine.AuthorizeCredit(env.Ctx, engine.Operator, in)
	require.NoError(t, err)
	require.Equal(t, engine.AuthApproved, credit.Status)
	_, err = env.Engine.Authorize(env.Ctx, engine.Operator, in)
	assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err))
	env.Verify()
}

// An idempotency key on a charge is bound to all of it: the card (however
// named), amount, currency and merchant.
func TestAuthorizeIdempotencyKeyBindsTheCharge(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(100_00, noIntent(engine.Policy{}))
	_, err := env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: user.ID, Amount: 100_00, Currency: "EUR"})
	require.NoError(t, err)
	other := env.Card(agent)
	i := env.Reveal(agent, card, 100, "Acme")
	d, err := env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: card.ID, IntentID: i.ID})
	require.NoError(t, err)
	base := engine.AuthorizeInput{CardID: card.ID, Amount: 1_00, Merchant: engine.Merchant{Name: "Acme"}, IdempotencyKey: "k"}
	first, err := env.Engine.Authorize(env.Ctx, engine.Operator, base)
	require.NoError(t, err)
	byNumber := base
	byNumber.CardID, byNumber.PAN = "", d.PAN
	again, err := env.Engine.Authorize(env.Ctx, engine.Operator, byNumber)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID, "the same card by its number is the same charge")
	for name, change := range map[string]func(*engine.AuthorizeInput){
		"card":     func(in *engine.AuthorizeInput) { in.CardID = other.ID },
		"amount":   func(in *engine.AuthorizeInput) { in.Amount = 2_00 },
		"currency": func(in *engine.AuthorizeInput) { in.Currency = "EUR" },
		"merchant": func(in *engine.AuthorizeInput) { in.Merchant.Name = "Other" },
		"mcc":      func(in *engine.AuthorizeInput) { in.Merchant.MCC = "5732" },
	} {
		in := base
		change(&in)
		_, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
		assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err), name)
	}
}

// Credits are not spends: they count toward no velocity.
func TestCreditsDoNotCountAsSpends(t *testing.T) {
	env := sqlitetest.New(t)
	_, _, card := env.Setup(100_00, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: &engine.Velocity{Count: 1, WindowSeconds: 3600}}}))
	_, err := env.Engine.AuthorizeCredit(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: 5_00, Merchant: engine.Merchant{Name: "Acme"}})
	require.NoError(t, err)
	requireApproved(t, env.Charge(card, 1_00, "Acme", ""))
	assert.Equal(t, engine.CodeVelocityExceeded, env.Charge(card, 1_00, "Acme", "").DeclineCode)
	env.Verify()
}
