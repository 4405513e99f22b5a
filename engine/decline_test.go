package engine_test

import (
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var ptr = sqlitetest.Ptr[int64]

// noIntent is a policy that does not require intents, so that a test can
// reach the checks after step 5 without declaring one.
func noIntent(p engine.Policy) engine.Policy {
	p.IntentRequired = sqlitetest.Ptr(false)
	return p
}

// Every decline code of DESIGN §4, each from the situation a user would meet.
func TestAuthorizeDeclineCodes(t *testing.T) {
	type scene struct {
		env   *sqlitetest.Env
		agent *engine.Agent
		card  *engine.Card
		user  *engine.User
	}
	cases := []struct {
		code   string
		rule   string
		funds  int64
		policy engine.Policy
		// prepare sets the scene and returns the charge to attempt.
		prepare func(t *testing.T, s scene) engine.AuthorizeInput
	}{
		{
			code: engine.CodeCardNotFound, rule: "card", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				return engine.AuthorizeInput{CardID: "card_019cdcc4-a200-7000-9866-000000000000", Amount: 100, Merchant: engine.Merchant{Name: "Shop"}}
			},
		},
		{
			code: engine.CodeCardFrozen, rule: "card", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 100, "Shop")
				_, err := s.env.Engine.FreezeCard(s.env.Ctx, engine.Operator, engine.CardActionInput{CardID: s.card.ID})
				require.NoError(t, err)
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeCardCancelled, rule: "card", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				_, err := s.env.Engine.CloseCard(s.env.Ctx, engine.Operator, engine.CardActionInput{CardID: s.card.ID})
				require.NoError(t, err)
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeExpiredCard, rule: "card", funds: 10_000, policy: noIntent(engine.Policy{}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Clock.Advance(4 * 365 * 24 * time.Hour) // past the three-year expiry
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeInvalidCVV, rule: "card", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				i, err := s.env.Engine.DeclareIntent(s.env.Ctx, sqlitetest.AgentActor(s.agent), engine.DeclareIntentInput{CardID: s.card.ID, Summary: "x", Amount: 100})
				require.NoError(t, err)
				d, err := s.env.Engine.RevealCard(s.env.Ctx, sqlitetest.AgentActor(s.agent), engine.RevealInput{CardID: s.card.ID, IntentID: i.ID})
				require.NoError(t, err)
				wrong := "000"
				if d.CVV == wrong {
					wrong = "111"
				}
				return engine.AuthorizeInput{PAN: d.PAN, CVV: wrong, Amount: 100, Merchant: engine.Merchant{Name: "Shop"}}
			},
		},
		{
			code: engine.CodeAgentDisabled, rule: "agent_mode", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 100, "Shop")
				_, err := s.env.Engine.SetAgentMode(s.env.Ctx, engine.Operator, engine.SetModeInput{Agent: s.agent.ID, Mode: engine.ModeDisabled})
				require.NoError(t, err)
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeKYCRequired, rule: "kyc", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 100, "Shop")
				_, err := s.env.Engine.SetKYC(s.env.Ctx, engine.Operator, engine.SetKYCInput{User: s.user.ID, Status: engine.KYCRejected})
				require.NoError(t, err)
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeCurrencyMismatch, rule: "currency", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 100, "Shop")
				in := charge(s.card, 100, "Shop")
				in.Currency = "EUR"
				return in
			},
		},
		{
			code: engine.CodeMerchantBlocked, rule: "mcc", funds: 10_000, policy: engine.Policy{SpendLimits: engine.SpendLimits{BlockedMCCs: []string{"7995"}}},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 100, "Lucky Casino")
				in := charge(s.card, 100, "Lucky Casino")
				in.Merchant.MCC = "7995"
				return in
			},
		},
		{
			code: engine.CodeIntentRequired, rule: "intent", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeIntentExpired, rule: "intent", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 100, "Shop")
				s.env.Clock.Advance(engine.DefaultIntentTTLSeconds * time.Second)
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeIntentMismatch, rule: "intent", funds: 10_000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 100, "Shop")
				return charge(s.card, 200, "Shop")
			},
		},
		{
			code: engine.CodeSpendLimitExceeded, rule: "per_transaction_limit", funds: 10_000,
			policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(5000)}}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				return charge(s.card, 5001, "Shop")
			},
		},
		{
			code: engine.CodeDailyLimitExceeded, rule: "daily_limit", funds: 100_000,
			policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000)}}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				requireApproved(t, s.env.Charge(s.card, 6000, "Shop", ""))
				return charge(s.card, 4001, "Shop")
			},
		},
		{
			code: engine.CodeCycleLimitExceeded, rule: "monthly_limit", funds: 100_000,
			policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{MonthlyLimit: ptr(10_000)}}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				requireApproved(t, s.env.Charge(s.card, 6000, "Shop", ""))
				s.env.Clock.Advance(3 * 24 * time.Hour) // another day, same month
				return charge(s.card, 4001, "Shop")
			},
		},
		{
			code: engine.CodeLifetimeLimitExceeded, rule: "lifetime_limit", funds: 100_000,
			policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{LifetimeLimit: ptr(10_000)}}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				requireApproved(t, s.env.Charge(s.card, 6000, "Shop", ""))
				s.env.Clock.Advance(40 * 24 * time.Hour) // another month
				return charge(s.card, 4001, "Shop")
			},
		},
		{
			code: engine.CodeVelocityExceeded, rule: "max_transactions_per_day", funds: 100_000,
			policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{MaxTransactionsPerDay: ptr(2)}}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				requireApproved(t, s.env.Charge(s.card, 100, "Shop", ""))
				requireApproved(t, s.env.Charge(s.card, 100, "Shop", ""))
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeVelocityExceeded, rule: "velocity", funds: 100_000,
			policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: &engine.Velocity{Count: 2, WindowSeconds: 60}}}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				requireApproved(t, s.env.Charge(s.card, 100, "Shop", ""))
				s.env.Clock.Advance(30 * time.Second)
				requireApproved(t, s.env.Charge(s.card, 100, "Shop", ""))
				s.env.Clock.Advance(29 * time.Second) // both still within the last 60 s
				return charge(s.card, 100, "Shop")
			},
		},
		{
			code: engine.CodeApprovalRequired, rule: "approval_threshold", funds: 100_000,
			policy: noIntent(engine.Policy{ApprovalThreshold: ptr(5000)}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				return charge(s.card, 5001, "Shop")
			},
		},
		{
			code: engine.CodeSuspectedFraud, rule: "risk", funds: 100_000,
			policy: noIntent(engine.Policy{RiskDeclineScore: ptr(30)}),
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				requireApproved(t, s.env.Charge(s.card, 1000, "Coffee Shop", "5814"))
				in := charge(s.card, 1000, "Crypto Exchange") // new merchant (20) and new MCC (15)
				in.Merchant.MCC = "6051"
				return in
			},
		},
		{
			code: engine.CodeInsufficientFunds, rule: "funds", funds: 5000, policy: engine.Policy{},
			prepare: func(t *testing.T, s scene) engine.AuthorizeInput {
				s.env.Reveal(s.agent, s.card, 5001, "Shop")
				return charge(s.card, 5001, "Shop")
			},
		},
	}

	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.code] = true
		t.Run(tc.code+"/"+tc.rule, func(t *testing.T) {
			env := sqlitetest.New(t)
			user, agent, card := env.Setup(tc.funds, tc.policy)
			in := tc.prepare(t, scene{env: env, agent: agent, card: card, user: user})
			before, err := env.Engine.UserBalance(env.Ctx, engine.Operator, user.ID, "USD")
			require.NoError(t, err)

			auth, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
			require.NoError(t, err)
			assert.Equal(t, engine.AuthDeclined, auth.Status)
			assert.Equal(t, tc.code, auth.DeclineCode, auth.Reason)
			assert.NotEmpty(t, auth.Reason)
			last := auth.Checks[len(auth.Checks)-1]
			assert.Equal(t, tc.rule, last.Rule)
			assert.Equal(t, engine.CheckFail, last.Result)

			// The decision is kept, with its checks, and no money moved.
			stored, err := env.Engine.GetAuthorization(env.Ctx, engine.Operator, auth.ID)
			require.NoError(t, err)
			assert.Equal(t, auth.DeclineCode, stored.DeclineCode)
			assert.Equal(t, auth.Checks, stored.Checks)
			after, err := env.Engine.UserBalance(env.Ctx, engine.Operator, user.ID, "USD")
			require.NoError(t, err)
			assert.Equal(t, before, after)
			env.Verify()
		})
	}
	for _, code := range engine.DeclineCodes {
		assert.True(t, seen[code], "no test for decline code %s", code)
	}
}

// charge is a network authorization on the card in its currency.
func charge(card *engine.Card, amount int64, merchant string) engine.AuthorizeInput {
	return engine.AuthorizeInput{CardID: card.ID, Amount: amount, Currency: card.Currency, Merchant: engine.Merchant{Name: merchant}}
}

func requireApproved(t *testing.T, a *engine.Authorization) {
	t.Helper()
	require.Equal(t, engine.AuthApproved, a.Status, "%s: %s", a.DeclineCode, a.Reason)
}

// Checks run in order: when several would fail, the first decides.
func TestAuthorizeFirstFailingCheckDecides(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1000, engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(500), BlockedMCCs: []string{"7995"}}})
	_, err := env.Engine.SetAgentMode(env.Ctx, engine.Operator, engine.SetModeInput{Agent: agent.ID, Mode: engine.ModeDisabled})
	require.NoError(t, err)
	in := charge(card, 5000, "Casino")
	in.Merchant.MCC = "7995"
	auth, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
	require.NoError(t, err)
	assert.Equal(t, engine.CodeAgentDisabled, auth.DeclineCode) // not MERCHANT_BLOCKED, limits or funds

	_, err = env.Engine.SetAgentMode(env.Ctx, engine.Operator, engine.SetModeInput{Agent: agent.ID, Mode: engine.ModeLive})
	require.NoError(t, err)
	auth, err = env.Engine.Authorize(env.Ctx, engine.Operator, in)
	require.NoError(t, err)
	assert.Equal(t, engine.CodeMerchantBlocked, auth.DeclineCode)
}

// Merchant controls on the card and on the policy, allow- and block-lists.
func TestAuthorizeMerchantControls(t *testing.T) {
	cases := []struct {
		name     string
		policy   engine.SpendLimits
		card     engine.SpendLimits
		merchant engine.Merchant
		blocked  bool
	}{
		{"policy blocks mcc", engine.SpendLimits{BlockedMCCs: []string{"7995"}}, engine.SpendLimits{}, engine.Merchant{Name: "Casino", MCC: "7995"}, true},
		{"policy allows other mcc", engine.SpendLimits{BlockedMCCs: []string{"7995"}}, engine.SpendLimits{}, engine.Merchant{Name: "Books", MCC: "5942"}, false},
		{"card blocks merchant by name", engine.SpendLimits{}, engine.SpendLimits{BlockedMerchants: []string{"amazon"}}, engine.Merchant{Name: "AMAZON.COM*XY12"}, true},
		{"card blocks merchant by id", engine.SpendLimits{}, engine.SpendLimits{BlockedMerchants: []string{"MID-42"}}, engine.Merchant{Name: "Corner Shop", ID: "mid-42"}, true},
		{"allow-list admits listed mcc", engine.SpendLimits{AllowedMCCs: []string{"5734", "7372"}}, engine.SpendLimits{}, engine.Merchant{Name: "GitHub", MCC: "7372"}, false},
		{"allow-list refuses other mcc", engine.SpendLimits{AllowedMCCs: []string{"5734"}}, engine.SpendLimits{}, engine.Merchant{Name: "Bar", MCC: "5813"}, true},
		{"allow-list refuses missing mcc", engine.SpendLimits{AllowedMCCs: []string{"5734"}}, engine.SpendLimits{}, engine.Merchant{Name: "Unknown"}, true},
		{"merchant allow-list admits listed", engine.SpendLimits{AllowedMerchants: []string{"AWS"}}, engine.SpendLimits{}, engine.Merchant{Name: "AWS EMEA"}, false},
		{"merchant allow-list refuses others", engine.SpendLimits{AllowedMerchants: []string{"AWS"}}, engine.SpendLimits{}, engine.Merchant{Name: "Google Cloud"}, true},
		{"card allow-list narrows policy", engine.SpendLimits{}, engine.SpendLimits{AllowedMerchants: []string{"OpenAI"}}, engine.Merchant{Name: "Anthropic"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			u := env.User("u", 10_000)
			a := env.Agent("a", u, noIntent(engine.Policy{SpendLimits: tc.policy}))
			card, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: a.ID, Limits: tc.card})
			require.NoError(t, err)
			auth, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: 100, Merchant: tc.merchant})
			require.NoError(t, err)
			if tc.blocked {
				assert.Equal(t, engine.CodeMerchantBlocked, auth.DeclineCode, auth.Reason)
			} else {
				assert.Equal(t, engine.AuthApproved, auth.Status, auth.Reason)
			}
		})
	}
}
