package engine_test

import (
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func intentStatus(t *testing.T, env *sqlitetest.Env, id string) string {
	t.Helper()
	i, err := env.Engine.GetIntent(env.Ctx, engine.Operator, id)
	require.NoError(t, err)
	return i.Status
}

func declare(t *testing.T, env *sqlitetest.Env, agent *engine.Agent, in engine.DeclareIntentInput) *engine.Intent {
	t.Helper()
	if in.Summary == "" {
		in.Summary = "buy something"
	}
	i, err := env.Engine.DeclareIntent(env.Ctx, sqlitetest.AgentActor(agent), in)
	require.NoError(t, err)
	return i
}

func reveal(env *sqlitetest.Env, agent *engine.Agent, cardID, intentID string) (*engine.CardDetails, error) {
	return env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: cardID, IntentID: intentID})
}

func TestIntentTransitions(t *testing.T) {
	ttl := time.Duration(engine.DefaultIntentTTLSeconds) * time.Second
	cases := []struct {
		name string
		// run drives the intent and returns the status it must end in.
		run func(t *testing.T, env *sqlitetest.Env, agent *engine.Agent, card *engine.Card) (intentID, want string)
	}{
		{"pending after declare", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			return declare(t, env, a, engine.DeclareIntentInput{CardID: c.ID, Amount: 1000}).ID, engine.IntentPending
		}},
		{"pending → revealed by details", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := declare(t, env, a, engine.DeclareIntentInput{CardID: c.ID, Amount: 1000})
			_, err := reveal(env, a, c.ID, "")
			require.NoError(t, err)
			return i.ID, engine.IntentRevealed
		}},
		{"revealed → matched by a matching charge", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := env.Reveal(a, c, 1000, "Shop")
			requireApproved(t, env.Charge(c, 1000, "Shop", ""))
			return i.ID, engine.IntentMatched
		}},
		{"revealed → mismatched by another charge", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := env.Reveal(a, c, 1000, "Shop")
			assert.Equal(t, engine.CodeIntentMismatch, env.Charge(c, 1000, "Other Store", "").DeclineCode)
			return i.ID, engine.IntentMismatched
		}},
		{"pending → cancelled", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := declare(t, env, a, engine.DeclareIntentInput{CardID: c.ID, Amount: 1000})
			_, err := env.Engine.CancelIntent(env.Ctx, sqlitetest.AgentActor(a), engine.CancelIntentInput{IntentID: i.ID})
			require.NoError(t, err)
			return i.ID, engine.IntentCancelled
		}},
		{"revealed → cancelled, and a charge then needs a new intent", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := env.Reveal(a, c, 1000, "Shop")
			_, err := env.Engine.CancelIntent(env.Ctx, sqlitetest.AgentActor(a), engine.CancelIntentInput{IntentID: i.ID})
			require.NoError(t, err)
			assert.Equal(t, engine.CodeIntentRequired, env.Charge(c, 1000, "Shop", "").DeclineCode)
			return i.ID, engine.IntentCancelled
		}},
		{"pending → expired by TTL", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := declare(t, env, a, engine.DeclareIntentInput{CardID: c.ID, Amount: 1000})
			env.Clock.Advance(ttl)
			_, err := reveal(env, a, c.ID, i.ID)
			assert.Equal(t, engine.CodeIntentExpired, engine.ErrorCode(err))
			return i.ID, engine.IntentExpired
		}},
		{"pending stays pending one second before its TTL", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := declare(t, env, a, engine.DeclareIntentInput{CardID: c.ID, Amount: 1000})
			env.Clock.Advance(ttl - time.Second)
			return i.ID, engine.IntentPending
		}},
		{"revealed → expired by TTL", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := env.Reveal(a, c, 1000, "Shop")
			env.Clock.Advance(ttl + time.Minute)
			assert.Equal(t, engine.CodeIntentExpired, env.Charge(c, 1000, "Shop", "").DeclineCode)
			return i.ID, engine.IntentExpired
		}},
		{"a shorter expires_in_seconds is honoured", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := declare(t, env, a, engine.DeclareIntentInput{CardID: c.ID, Amount: 1000, ExpiresInSeconds: 60})
			assert.Equal(t, env.Clock.Now().Add(time.Minute), i.ExpiresAt)
			env.Clock.Advance(time.Minute)
			return i.ID, engine.IntentExpired
		}},
		{"matched stays matched after its TTL", func(t *testing.T, env *sqlitetest.Env, a *engine.Agent, c *engine.Card) (string, string) {
			i := env.Reveal(a, c, 1000, "Shop")
			requireApproved(t, env.Charge(c, 1000, "Shop", ""))
			env.Clock.Advance(ttl * 2)
			return i.ID, engine.IntentMatched
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			_, agent, card := env.Setup(100_000, engine.Policy{})
			id, want := tc.run(t, env, agent, card)
			assert.Equal(t, want, intentStatus(t, env, id))
			// A sweep records lapsed intents; nothing else changes.
			_, err := env.Engine.Sweep(env.Ctx, engine.Operator)
			require.NoError(t, err)
			assert.Equal(t, want, intentStatus(t, env, id))
			env.Verify()
		})
	}
}

func TestIntentApprovalTransitions(t *testing.T) {
	policy := engine.Policy{ApprovalThreshold: ptr(5000)}
	t.Run("above the threshold waits for approval; approve → pending → revealed → matched", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, policy)
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 8000, Merchant: "Laptop Store"})
		assert.Equal(t, engine.IntentAwaitingApproval, i.Status)
		require.NotEmpty(t, i.DecisionID)

		_, err := reveal(env, agent, card.ID, "")
		assert.Equal(t, engine.CodeApprovalRequired, engine.ErrorCode(err))

		queue, err := items(env.Engine.ListApprovals(env.Ctx, engine.Operator, engine.ListApprovalsInput{}))
		require.NoError(t, err)
		require.Len(t, queue, 1)
		assert.Equal(t, i.DecisionID, queue[0].ID)
		assert.Equal(t, i.ID, queue[0].IntentID)

		env.Clock.Advance(time.Hour) // the intent's TTL runs from the approval
		d, err := env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: i.DecisionID, Note: "ok"})
		require.NoError(t, err)
		assert.Equal(t, engine.ApprovalApproved, d.ApprovalStatus)
		assert.Equal(t, "operator", d.DecidedBy)
		assert.Equal(t, engine.IntentPending, intentStatus(t, env, i.ID))

		_, err = reveal(env, agent, card.ID, "")
		require.NoError(t, err)
		auth := env.Charge(card, 8000, "Laptop Store", "")
		requireApproved(t, auth)
		assert.Equal(t, engine.IntentMatched, intentStatus(t, env, i.ID))
		env.Verify()
	})
	t.Run("deny → denied", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, policy)
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 8000})
		d, err := env.Engine.Deny(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: i.DecisionID, Note: "too expensive"})
		require.NoError(t, err)
		assert.Equal(t, engine.ApprovalDenied, d.ApprovalStatus)
		assert.Equal(t, "too expensive", d.DecisionNote)
		assert.Equal(t, engine.IntentDenied, intentStatus(t, env, i.ID))
		_, err = env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: i.DecisionID})
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
	})
	t.Run("nobody answers → approval and intent expire", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, policy)
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 8000})
		env.Clock.Advance(engine.DefaultApprovalTTL)
		assert.Equal(t, engine.IntentExpired, intentStatus(t, env, i.ID))
		res, err := env.Engine.Sweep(env.Ctx, engine.Operator)
		require.NoError(t, err)
		assert.Equal(t, 1, res.Intents)
		d, err := env.Engine.GetDecision(env.Ctx, engine.Operator, i.DecisionID)
		require.NoError(t, err)
		assert.Equal(t, engine.ApprovalExpired, d.ApprovalStatus)
		_, err = env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: i.DecisionID})
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
	})
	t.Run("cancel while awaiting → cancelled, request withdrawn", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, policy)
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 8000})
		_, err := env.Engine.CancelIntent(env.Ctx, sqlitetest.AgentActor(agent), engine.CancelIntentInput{IntentID: i.ID})
		require.NoError(t, err)
		assert.Equal(t, engine.IntentCancelled, intentStatus(t, env, i.ID))
		queue, err := items(env.Engine.ListApprovals(env.Ctx, engine.Operator, engine.ListApprovalsInput{}))
		require.NoError(t, err)
		assert.Empty(t, queue)
	})
	t.Run("approval_only agents need approval at any amount", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		_, err := env.Engine.SetAgentMode(env.Ctx, engine.Operator, engine.SetModeInput{Agent: agent.ID, Mode: engine.ModeApprovalOnly})
		require.NoError(t, err)
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 1})
		assert.Equal(t, engine.IntentAwaitingApproval, i.Status)
		// and a charge without an approved intent is declined
		_, err = env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID, Policy: noIntent(engine.Policy{})})
		require.NoError(t, err)
		assert.Equal(t, engine.CodeApprovalRequired, env.Charge(card, 1, "Shop", "").DeclineCode)
	})
}

// A charge may land within intent_tolerance_pct above the declared amount
// (default 10%), and anywhere below it.
func TestIntentTolerance(t *testing.T) {
	cases := []struct {
		name      string
		tolerance *int64
		declared  int64
		charged   int64
		match     bool
	}{
		{"exact", nil, 10_000, 10_000, true},
		{"below", nil, 10_000, 4_000, true},
		{"at +10%", nil, 10_000, 11_000, true},
		{"one cent above +10%", nil, 10_000, 11_001, false},
		{"zero tolerance, exact", ptr(0), 9_999, 9_999, true},
		{"zero tolerance, one cent more", ptr(0), 9_999, 10_000, false},
		{"25% tolerance", ptr(25), 8_000, 10_000, true},
		{"25% tolerance exceeded", ptr(25), 8_000, 10_001, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			_, agent, card := env.Setup(100_000, engine.Policy{IntentTolerancePct: tc.tolerance})
			i := env.Reveal(agent, card, tc.declared, "Shop")
			auth := env.Charge(card, tc.charged, "Shop", "")
			if tc.match {
				requireApproved(t, auth)
				assert.Equal(t, engine.IntentMatched, intentStatus(t, env, i.ID))
			} else {
				assert.Equal(t, engine.CodeIntentMismatch, auth.DeclineCode)
				assert.Contains(t, auth.Reason, "tolerance")
				assert.Equal(t, engine.IntentMismatched, intentStatus(t, env, i.ID))
			}
		})
	}
}

// Merchant names compare case- and punctuation-insensitively, either
// containing the other; a declared MCC must be the charged one.
func TestIntentMerchantMatching(t *testing.T) {
	cases := []struct {
		declared, declaredMCC string
		charged, chargedMCC   string
		match                 bool
	}{
		{"Amazon", "", "AMAZON.COM*2K4LL9", "", true},
		{"amazon.com", "", "Amazon", "", false}, // the charge names less than was declared
		{"Best Buy", "", "BESTBUY #1234", "", true},
		{"O'Reilly Media", "", "oreilly media inc", "", true},
		{"Delta Air Lines", "", "DELTA AIR LINES 0062341", "", true},
		{"Delta Air Lines", "", "DELTA AIR 0062341", "", false}, // a truncated descriptor contains neither
		{"", "", "Anything Goes", "", true},                     // no merchant declared: any merchant
		{"Amazon", "", "AMZN Mktp US", "", false},
		{"Delta Air Lines", "", "United Airlines", "", false},
		{"GitHub", "", "GitLab Inc", "", false},
		{"Best Buy", "5732", "BESTBUY #1234", "5732", true},
		{"Best Buy", "5732", "BESTBUY #1234", "5999", false},
		{"", "5732", "Any Electronics", "", false}, // a declared MCC must be present
	}
	for _, tc := range cases {
		t.Run(tc.declared+"~"+tc.charged, func(t *testing.T) {
			env := sqlitetest.New(t)
			_, agent, card := env.Setup(100_000, engine.Policy{})
			i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 1000, Merchant: tc.declared, MCC: tc.declaredMCC})
			_, err := reveal(env, agent, card.ID, i.ID)
			require.NoError(t, err)
			auth := env.Charge(card, 1000, tc.charged, tc.chargedMCC)
			if tc.match {
				requireApproved(t, auth)
			} else {
				assert.Equal(t, engine.CodeIntentMismatch, auth.DeclineCode)
			}
		})
	}
}

func TestIntentReveal(t *testing.T) {
	t.Run("an intent without a card is bound to the card revealed for it", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		i := declare(t, env, agent, engine.DeclareIntentInput{Amount: 1000})
		assert.Empty(t, i.CardID)
		d, err := reveal(env, agent, card.ID, "")
		require.NoError(t, err)
		assert.Equal(t, i.ID, d.IntentID)
		got, err := env.Engine.GetIntent(env.Ctx, engine.Operator, i.ID)
		require.NoError(t, err)
		assert.Equal(t, card.ID, got.CardID)
	})
	t.Run("revealing again for the same intent shows the same card", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 1000})
		first, err := reveal(env, agent, card.ID, "")
		require.NoError(t, err)
		second, err := reveal(env, agent, card.ID, i.ID)
		require.NoError(t, err)
		assert.Equal(t, first, second)
	})
	t.Run("an intent declared for another card does not unlock this one", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		other := env.Card(agent)
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: other.ID, Amount: 1000})
		_, err := reveal(env, agent, card.ID, "")
		assert.Equal(t, engine.CodeIntentRequired, engine.ErrorCode(err))
		_, err = reveal(env, agent, card.ID, i.ID)
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
	})
	t.Run("one intent covers one authorization", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		env.Reveal(agent, card, 1000, "Shop")
		requireApproved(t, env.Charge(card, 1000, "Shop", ""))
		assert.Equal(t, engine.CodeIntentRequired, env.Charge(card, 1000, "Shop", "").DeclineCode)
	})
	t.Run("the oldest matching intent is matched first", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		first := env.Reveal(agent, card, 1000, "Shop")
		second := env.Reveal(agent, card, 1000, "Shop")
		auth := env.Charge(card, 900, "Shop", "")
		requireApproved(t, auth)
		assert.Equal(t, first.ID, auth.IntentID)
		assert.Equal(t, engine.IntentRevealed, intentStatus(t, env, second.ID))
	})
	t.Run("the intent records who attested it", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		actor := engine.Actor{Role: engine.RoleAgent, AgentID: agent.ID, KeyID: "key_x", ClientName: "claude-desktop", ClientVersion: "1.2.3"}
		i, err := env.Engine.DeclareIntent(env.Ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "s", Amount: 1})
		require.NoError(t, err)
		assert.Equal(t, engine.Attestation{AgentID: agent.ID, KeyID: "key_x", ClientName: "claude-desktop", ClientVersion: "1.2.3"}, i.Attestation)
	})
	t.Run("listing shows lapsed intents as expired", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 1000})
		env.Clock.Advance(time.Hour)
		expired, err := items(env.Engine.ListIntents(env.Ctx, engine.Operator, engine.ListIntentsInput{Status: engine.IntentExpired}))
		require.NoError(t, err)
		require.Len(t, expired, 1)
		assert.Equal(t, i.ID, expired[0].ID)
		pending, err := items(env.Engine.ListIntents(env.Ctx, engine.Operator, engine.ListIntentsInput{Status: engine.IntentPending}))
		require.NoError(t, err)
		assert.Empty(t, pending)
	})
	t.Run("a closed card cancels its open intents", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		i := env.Reveal(agent, card, 1000, "Shop")
		_, err := env.Engine.CloseCard(env.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
		require.NoError(t, err)
		assert.Equal(t, engine.IntentCancelled, intentStatus(t, env, i.ID))
	})
}

// details without intent_id reveals only for an intent that is clearly
// meant: one bound to the card, else the only pending one without a card.
// When more could be meant it refuses and lists them, so that a stale
// intent is never revealed (and spent) for the purchase just declared.
func TestRevealWithoutIntentIDRefusesToGuess(t *testing.T) {
	t.Run("two pending intents without a card", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		book := declare(t, env, agent, engine.DeclareIntentInput{Summary: "Book", Amount: 1500, Merchant: "Amazon"})
		env.Clock.Advance(time.Minute)
		mouse := declare(t, env, agent, engine.DeclareIntentInput{Summary: "Mouse", Amount: 3000, Merchant: "Logitech"})
		_, err := reveal(env, agent, card.ID, "")
		var ee *engine.Error
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, engine.CodeInvalidInput, ee.Code)
		assert.Equal(t, "intent_id", ee.Field)
		for _, want := range []string{book.ID, mouse.ID, "Book", "Mouse", "$15.00", "$30.00", "Logitech", "intent_id"} {
			assert.Contains(t, ee.Message, want)
		}
		assert.Equal(t, engine.IntentPending, intentStatus(t, env, book.ID), "nothing revealed")
		assert.Equal(t, engine.IntentPending, intentStatus(t, env, mouse.ID))

		d, err := reveal(env, agent, card.ID, mouse.ID)
		require.NoError(t, err)
		assert.Equal(t, mouse.ID, d.IntentID)
		requireApproved(t, env.Charge(card, 3000, "LOGITECH INC", ""))
		assert.Equal(t, engine.IntentPending, intentStatus(t, env, book.ID), "the stale intent is untouched")
	})
	t.Run("one bound to the card is meant", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		declare(t, env, agent, engine.DeclareIntentInput{Summary: "Book", Amount: 1500})
		bound := declare(t, env, agent, engine.DeclareIntentInput{Summary: "Mouse", Amount: 3000, CardID: card.ID})
		declare(t, env, agent, engine.DeclareIntentInput{Summary: "Pen", Amount: 300})
		d, err := reveal(env, agent, card.ID, "")
		require.NoError(t, err)
		assert.Equal(t, bound.ID, d.IntentID)
	})
	t.Run("two bound to the card", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		declare(t, env, agent, engine.DeclareIntentInput{Summary: "Book", Amount: 1500, CardID: card.ID})
		declare(t, env, agent, engine.DeclareIntentInput{Summary: "Mouse", Amount: 3000, CardID: card.ID})
		_, err := reveal(env, agent, card.ID, "")
		assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
	})
	t.Run("a retry of the one revealed on the card", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, card := env.Setup(100_000, engine.Policy{})
		i := declare(t, env, agent, engine.DeclareIntentInput{Summary: "Book", Amount: 1500})
		first, err := reveal(env, agent, card.ID, "")
		require.NoError(t, err)
		again, err := reveal(env, agent, card.ID, "")
		require.NoError(t, err)
		assert.Equal(t, first, again)
		assert.Equal(t, i.ID, again.IntentID)
	})
}

// Declaring a purchase that could never pass fails at once.
func TestDeclareIntentRefusesHopelessPurchases(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_000, engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(5000), BlockedMerchants: []string{"casino"}}})
	cases := []struct {
		in   engine.DeclareIntentInput
		code string
	}{
		{engine.DeclareIntentInput{CardID: card.ID, Summary: "big", Amount: 5001}, engine.CodeSpendLimitExceeded},
		{engine.DeclareIntentInput{CardID: card.ID, Summary: "bet", Amount: 100, Merchant: "Lucky Casino"}, engine.CodeMerchantBlocked},
		{engine.DeclareIntentInput{CardID: card.ID, Summary: "euro", Amount: 100, Currency: "EUR"}, engine.CodeCurrencyMismatch},
		{engine.DeclareIntentInput{CardID: card.ID, Summary: "long", Amount: 100, ExpiresInSeconds: engine.DefaultIntentTTLSeconds + 1}, engine.CodeInvalidInput},
	}
	for _, tc := range cases {
		_, err := env.Engine.DeclareIntent(env.Ctx, sqlitetest.AgentActor(agent), tc.in)
		assert.Equal(t, tc.code, engine.ErrorCode(err), engine.ErrorMessage(err))
	}
	list, err := items(env.Engine.ListIntents(env.Ctx, engine.Operator, engine.ListIntentsInput{}))
	require.NoError(t, err)
	assert.Empty(t, list)
}

// A human may answer through the MCP client only when the policy allows it;
// a refusal is always taken.
func TestClientApproval(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		t.Run(map[bool]string{false: "not allowed", true: "allowed"}[allowed], func(t *testing.T) {
			env := sqlitetest.New(t)
			_, agent, card := env.Setup(100_000, engine.Policy{ApprovalThreshold: ptr(1000), ClientApproval: allowed})
			i := declare(t, env, agent, engine.DeclareIntentInput{CardID: card.ID, Amount: 5000})
			answer := engine.ClientAnswerInput{DecisionID: i.DecisionID, Approve: true, AnsweredBy: "client:claude-desktop"}
			d, err := env.Engine.AnswerApproval(env.Ctx, sqlitetest.AgentActor(agent), answer)
			if !allowed {
				assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
				answer.Approve = false
				d, err = env.Engine.AnswerApproval(env.Ctx, sqlitetest.AgentActor(agent), answer)
				require.NoError(t, err)
				assert.Equal(t, engine.ApprovalDenied, d.ApprovalStatus)
				assert.Equal(t, engine.IntentDenied, intentStatus(t, env, i.ID))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, engine.ApprovalApproved, d.ApprovalStatus)
			assert.Equal(t, "client:claude-desktop", d.DecidedBy)
			assert.Equal(t, engine.IntentPending, intentStatus(t, env, i.ID))
		})
	}
}
