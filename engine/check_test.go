package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func check(t *testing.T, env *sqlitetest.Env, agent *engine.Agent, in engine.PolicyCheckInput) *engine.Decision {
	t.Helper()
	d, err := env.Engine.PolicyCheck(env.Ctx, sqlitetest.AgentActor(agent), in)
	require.NoError(t, err)
	return d
}

func rule(d *engine.Decision, name string) *engine.Check {
	for i := range d.PolicyChecks {
		if d.PolicyChecks[i].Rule == name {
			return &d.PolicyChecks[i]
		}
	}
	return nil
}

func spentToday(t *testing.T, env *sqlitetest.Env, agent *engine.Agent) int64 {
	t.Helper()
	l, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
	require.NoError(t, err)
	return l.Daily.Spent
}

// The example of DESIGN §5, to the character.
func TestPolicyCheckDesignExample(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(50_000), DailyLimit: ptr(100_000)}})
	check(t, env, agent, engine.PolicyCheckInput{ActionType: "api_spend", Amount: 20_000, Reason: "earlier today"})

	d := check(t, env, agent, engine.PolicyCheckInput{ActionType: "purchase", Amount: 12_000, Reason: "Compute instance for data pipeline"})
	assert.Equal(t, engine.DecisionApproved, d.Status)
	assert.Equal(t, "All policy checks passed", d.Reason)
	assert.False(t, d.RequiresHumanApproval)
	assert.Nil(t, d.AllowedAmount)
	assert.Equal(t, engine.Check{Rule: "per_transaction_limit", Result: "pass", Message: "$120.00 ≤ $500.00 limit"}, *rule(d, "per_transaction_limit"))
	assert.Equal(t, engine.Check{Rule: "daily_limit", Result: "pass", Message: "$320.00 of $1,000.00 daily limit"}, *rule(d, "daily_limit"))
	assert.Equal(t, int64(32_000), spentToday(t, env, agent))
}

func TestPolicyCheckStatuses(t *testing.T) {
	limits := engine.SpendLimits{PerTransactionLimit: ptr(50_000), DailyLimit: ptr(100_000)}
	cases := []struct {
		name     string
		funds    int64
		policy   engine.Policy
		mode     string
		in       engine.PolicyCheckInput
		status   string
		failRule string // the rule that decides a blocked decision
		allowed  *int64
	}{
		{"within every limit", 1_000_000, engine.Policy{SpendLimits: limits}, "", engine.PolicyCheckInput{Amount: 10_000}, engine.DecisionApproved, "", nil},
		{"over the per-transaction limit", 1_000_000, engine.Policy{SpendLimits: limits}, "", engine.PolicyCheckInput{Amount: 60_000}, engine.DecisionBlocked, "per_transaction_limit", nil},
		{"reduced when allowed", 1_000_000, engine.Policy{SpendLimits: limits, AllowReduce: true}, "", engine.PolicyCheckInput{Amount: 60_000}, engine.DecisionReduced, "", ptr(50_000)},
		{"not reduced when the reduced amount breaks another limit", 1_000_000,
			engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(50_000), DailyLimit: ptr(40_000)}, AllowReduce: true}, "",
			engine.PolicyCheckInput{Amount: 60_000}, engine.DecisionBlocked, "per_transaction_limit", nil},
		{"over the daily limit", 1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(5_000)}}, "", engine.PolicyCheckInput{Amount: 6_000}, engine.DecisionBlocked, "daily_limit", nil},
		{"over the monthly limit", 1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{MonthlyLimit: ptr(5_000)}}, "", engine.PolicyCheckInput{Amount: 6_000}, engine.DecisionBlocked, "monthly_limit", nil},
		{"over the lifetime limit", 1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{LifetimeLimit: ptr(5_000)}}, "", engine.PolicyCheckInput{Amount: 6_000}, engine.DecisionBlocked, "lifetime_limit", nil},
		{"above the approval threshold", 1_000_000, engine.Policy{SpendLimits: limits, ApprovalThreshold: ptr(20_000)}, "", engine.PolicyCheckInput{Amount: 30_000}, engine.DecisionRequiresApproval, "", nil},
		{"a failing limit beats the approval threshold", 1_000_000, engine.Policy{SpendLimits: limits, ApprovalThreshold: ptr(20_000)}, "", engine.PolicyCheckInput{Amount: 60_000}, engine.DecisionBlocked, "per_transaction_limit", nil},
		{"approval_only agent", 1_000_000, engine.Policy{}, engine.ModeApprovalOnly, engine.PolicyCheckInput{Amount: 1}, engine.DecisionRequiresApproval, "", nil},
		{"disabled agent", 1_000_000, engine.Policy{}, engine.ModeDisabled, engine.PolicyCheckInput{Amount: 1}, engine.DecisionBlocked, "agent_mode", nil},
		{"blocked action type", 1_000_000, engine.Policy{BlockedActionTypes: []string{"trade"}}, "", engine.PolicyCheckInput{ActionType: "TRADE", Amount: 1}, engine.DecisionBlocked, "action_type", nil},
		{"blocked merchant", 1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{BlockedMerchants: []string{"casino"}}}, "", engine.PolicyCheckInput{Amount: 1, Merchant: "Royal Casino"}, engine.DecisionBlocked, "merchant", nil},
		{"blocked mcc", 1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{BlockedMCCs: []string{"7995"}}}, "", engine.PolicyCheckInput{Amount: 1, MCC: "7995"}, engine.DecisionBlocked, "mcc", nil},
		{"not enough funds", 500, engine.Policy{}, "", engine.PolicyCheckInput{Amount: 501}, engine.DecisionBlocked, "funds", nil},
		{"another currency than the limits", 1_000_000, engine.Policy{SpendLimits: limits}, "", engine.PolicyCheckInput{Amount: 1, Currency: "EUR"}, engine.DecisionBlocked, "currency", nil},
		{"risk at the review score", 1_000_000, engine.Policy{RiskReviewScore: ptr(1)}, "", engine.PolicyCheckInput{Amount: 100}, engine.DecisionApproved, "", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			_, agent, _ := env.Setup(tc.funds, tc.policy)
			if tc.mode != "" {
				_, err := env.Engine.SetAgentMode(env.Ctx, engine.Operator, engine.SetModeInput{Agent: agent.ID, Mode: tc.mode})
				require.NoError(t, err)
			}
			d := check(t, env, agent, tc.in)
			assert.Equal(t, tc.status, d.Status, d.Reason)
			assert.Equal(t, tc.allowed, d.AllowedAmount)
			assert.Equal(t, tc.status == engine.DecisionRequiresApproval, d.RequiresHumanApproval)
			if tc.failRule != "" {
				r := rule(d, tc.failRule)
				require.NotNil(t, r, "rule %s missing from %+v", tc.failRule, d.PolicyChecks)
				assert.Equal(t, engine.CheckFail, r.Result)
				assert.Equal(t, upperFirst(r.Message), d.Reason)
			}
			named := map[string]bool{"per_transaction_limit": true, "daily_limit": true, "monthly_limit": true, "lifetime_limit": true,
				"max_transactions_per_day": true, "velocity": true, "approval_threshold": true, "merchant": true, "mcc": true,
				"action_type": true, "agent_mode": true, "funds": true, "risk": true, "currency": true}
			for _, c := range d.PolicyChecks {
				assert.True(t, named[c.Rule], "unexpected rule %q", c.Rule)
				assert.Contains(t, []string{engine.CheckPass, engine.CheckFail, engine.CheckSkip}, c.Result)
				assert.NotEmpty(t, c.Message)
			}
		})
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func TestPolicyCheckCounting(t *testing.T) {
	policy := engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(5_000), DailyLimit: ptr(20_000)}, AllowReduce: true, ApprovalThreshold: ptr(4_000)}
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(1_000_000, policy)

	check(t, env, agent, engine.PolicyCheckInput{Amount: 3_000})
	assert.Equal(t, int64(3_000), spentToday(t, env, agent), "approved counts")
	check(t, env, agent, engine.PolicyCheckInput{Amount: 3_000, DryRun: true})
	assert.Equal(t, int64(3_000), spentToday(t, env, agent), "dry_run does not count")
	check(t, env, agent, engine.PolicyCheckInput{Amount: 30_000})
	assert.Equal(t, int64(3_000), spentToday(t, env, agent), "blocked does not count")

	waiting := check(t, env, agent, engine.PolicyCheckInput{Amount: 4_500})
	require.Equal(t, engine.DecisionRequiresApproval, waiting.Status)
	assert.Equal(t, engine.ApprovalPending, waiting.ApprovalStatus)
	assert.Equal(t, int64(3_000), spentToday(t, env, agent), "waiting for approval does not count")

	_, err := env.Engine.ExecuteDecision(env.Ctx, sqlitetest.AgentActor(agent), engine.ExecuteInput{DecisionID: waiting.ID})
	assert.Equal(t, engine.CodeApprovalRequired, engine.ErrorCode(err), "not approved yet")
	_, err = env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: waiting.ID})
	require.NoError(t, err)
	assert.Equal(t, int64(3_000), spentToday(t, env, agent), "approved but not executed does not count")
	d, err := env.Engine.ExecuteDecision(env.Ctx, sqlitetest.AgentActor(agent), engine.ExecuteInput{DecisionID: waiting.ID})
	require.NoError(t, err)
	assert.Equal(t, engine.ApprovalExecuted, d.ApprovalStatus)
	assert.NotNil(t, d.ExecutedAt)
	assert.Equal(t, int64(7_500), spentToday(t, env, agent), "executed counts")
	again, err := env.Engine.ExecuteDecision(env.Ctx, sqlitetest.AgentActor(agent), engine.ExecuteInput{DecisionID: waiting.ID})
	require.NoError(t, err)
	assert.Equal(t, d.ExecutedAt, again.ExecutedAt)
	assert.Equal(t, int64(7_500), spentToday(t, env, agent), "executing twice counts once")

	// A reduced decision counts at its allowed amount... but 6,000 is above
	// the 4,000 approval threshold, so it needs a human first.
	reduced := check(t, env, agent, engine.PolicyCheckInput{Amount: 6_000})
	assert.Equal(t, engine.DecisionRequiresApproval, reduced.Status)
	assert.Equal(t, int64(5_000), *reduced.AllowedAmount)
	env.Verify()
}

func TestPolicyCheckReducedCountsAtAllowedAmount(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(5_000)}, AllowReduce: true})
	d := check(t, env, agent, engine.PolicyCheckInput{Amount: 6_000})
	assert.Equal(t, engine.DecisionReduced, d.Status)
	assert.Equal(t, "Reduced to $50.00, the per-transaction limit", d.Reason)
	assert.Equal(t, int64(5_000), spentToday(t, env, agent))
}

// Execution checks the limits again: they may have been used while the
// request waited for a human.
func TestExecuteRechecksLimits(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(1_000_000, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000)}, ApprovalThreshold: ptr(5_000)})
	waiting := check(t, env, agent, engine.PolicyCheckInput{Amount: 8_000})
	_, err := env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: waiting.ID})
	require.NoError(t, err)
	check(t, env, agent, engine.PolicyCheckInput{Amount: 5_000})
	_, err = env.Engine.ExecuteDecision(env.Ctx, sqlitetest.AgentActor(agent), engine.ExecuteInput{DecisionID: waiting.ID})
	assert.Equal(t, engine.CodeDailyLimitExceeded, engine.ErrorCode(err))
	d, err := env.Engine.GetDecision(env.Ctx, engine.Operator, waiting.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.ApprovalApproved, d.ApprovalStatus, "still approved: executable once there is room, until the approval expires")
}

// A card charge above the threshold may be covered by an approved
// policy_check decision, which it then executes.
func TestCardChargeExecutesAnApprovedDecision(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1_000_000, noIntent(engine.Policy{ApprovalThreshold: ptr(5_000)}))
	waiting := check(t, env, agent, engine.PolicyCheckInput{Amount: 9_000, Merchant: "Dell"})
	assert.Equal(t, engine.CodeApprovalRequired, env.Charge(card, 9_000, "Dell", "").DeclineCode)
	_, err := env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: waiting.ID})
	require.NoError(t, err)
	assert.Equal(t, engine.CodeApprovalRequired, env.Charge(card, 9_000, "HP", "").DeclineCode, "another merchant is not covered")
	auth := env.Charge(card, 8_500, "DELL MARKETING", "")
	requireApproved(t, auth)
	assert.Equal(t, waiting.ID, auth.DecisionID)
	d, err := env.Engine.GetDecision(env.Ctx, engine.Operator, waiting.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.ApprovalExecuted, d.ApprovalStatus)
	assert.Equal(t, auth.ID, d.AuthorizationID)
	assert.Equal(t, engine.CodeApprovalRequired, env.Charge(card, 8_500, "Dell", "").DeclineCode, "one approval, one charge")
	env.Verify()
}

func TestPolicyCheckPaperAgentSpendsPaperMoney(t *testing.T) {
	env := sqlitetest.New(t)
	user := env.User("u", 50_000)
	agent, err := env.Engine.CreateAgent(env.Ctx, engine.Operator, engine.CreateAgentInput{Name: "p", User: user.ID, Mode: engine.ModePaper})
	require.NoError(t, err)
	assert.Equal(t, engine.DecisionBlocked, check(t, env, agent, engine.PolicyCheckInput{Amount: 1_000}).Status)
	_, err = env.Engine.FundPaper(env.Ctx, engine.Operator, engine.FundPaperInput{Agent: agent.ID, Amount: 5_000})
	require.NoError(t, err)
	d := check(t, env, agent, engine.PolicyCheckInput{Amount: 1_000})
	assert.Equal(t, engine.DecisionApproved, d.Status)
	assert.True(t, d.Paper)
	b, err := env.Engine.PaperBalance(env.Ctx, engine.Operator, agent.ID, "")
	require.NoError(t, err)
	assert.Equal(t, int64(4_000), b.Available)
	assert.Equal(t, int64(50_000), balance(t, env, user).Available)
	env.Verify()
}

func TestLimitsReport(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{
		PerTransactionLimit: ptr(5_000), DailyLimit: ptr(10_000), MonthlyLimit: ptr(50_000), LifetimeLimit: ptr(200_000),
		MaxTransactionsPerDay: ptr(5), Velocity: &engine.Velocity{Count: 3, WindowSeconds: 3600},
	}}))
	requireApproved(t, env.Charge(card, 2_000, "Shop", ""))
	check(t, env, agent, engine.PolicyCheckInput{Amount: 1_000})

	l, err := env.Engine.Limits(env.Ctx, sqlitetest.AgentActor(agent), "")
	require.NoError(t, err)
	assert.Equal(t, agent.ID, l.AgentID)
	assert.Equal(t, "USD", l.Currency)
	assert.Equal(t, int64(5_000), *l.PerTransactionLimit)
	assert.Equal(t, engine.WindowReport{Limit: ptr(10_000), Spent: 3_000, Remaining: ptr(7_000), ResetsAt: l.Daily.ResetsAt}, l.Daily)
	assert.Equal(t, int64(47_000), *l.Monthly.Remaining)
	assert.Equal(t, int64(197_000), *l.Lifetime.Remaining)
	assert.Equal(t, int64(2), l.TransactionsToday.Used)
	assert.Equal(t, int64(3), *l.TransactionsToday.Remaining)
	require.NotNil(t, l.Velocity)
	assert.Equal(t, int64(2), l.Velocity.Used)
	assert.Equal(t, int64(1), *l.Velocity.Remaining)
	assert.Equal(t, int64(98_000), l.Available, "the charge holds funds; a live policy check does not move money")
	assert.True(t, *l.Policy.IntentRequired == false)
	assert.Equal(t, int64(engine.DefaultIntentTTLSeconds), *l.Policy.IntentTTLSeconds, "effective policy has defaults filled in")
}

// A human's approval of a policy_check is for that spend, soon: it expires
// (approval_ttl_seconds, default an hour), covers a card charge only for a
// card-like action type (purchase, payment) and only at the merchant it
// named, and one that named none covers no card charge.
func TestApprovedDecisionCoversACardChargeOnlyAsApproved(t *testing.T) {
	policy := noIntent(engine.Policy{ApprovalThreshold: ptr(10_000)})
	approved := func(t *testing.T, env *sqlitetest.Env, agent *engine.Agent, in engine.PolicyCheckInput) *engine.Decision {
		t.Helper()
		d := check(t, env, agent, in)
		require.Equal(t, engine.DecisionRequiresApproval, d.Status, d.Reason)
		d, err := env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: d.ID})
		require.NoError(t, err)
		return d
	}
	cases := []struct {
		name     string
		policy   engine.Policy
		check    engine.PolicyCheckInput
		after    time.Duration // between the approval and the charge
		merchant string
		covered  bool
	}{
		{"a purchase at its merchant, soon", policy, engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell"}, time.Minute, "DELL MARKETING", true},
		{"a payment at its merchant", policy, engine.PolicyCheckInput{ActionType: "payment", Amount: 30_000, Merchant: "Dell"}, 0, "Dell", true},
		{"an API spend covers no card charge", policy, engine.PolicyCheckInput{ActionType: "api_spend", Amount: 30_000, Merchant: "Casino"}, 0, "Casino", false},
		{"another merchant", policy, engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell"}, 0, "LUCKY CASINO", false},
		{"no merchant named", policy, engine.PolicyCheckInput{Amount: 30_000}, 0, "LUCKY CASINO", false},
		{"90 days later", policy, engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell"}, 90 * 24 * time.Hour, "Dell", false},
		{"just past the default hour", policy, engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell"}, time.Hour, "Dell", false},
		{"a shorter approval_ttl_seconds", withApprovalTTL(policy, 600), engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell"}, 11 * time.Minute, "Dell", false},
		{"a longer approval_ttl_seconds", withApprovalTTL(policy, 86_400), engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell"}, 23 * time.Hour, "Dell", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			_, agent, card := env.Setup(1_000_000, tc.policy)
			d := approved(t, env, agent, tc.check)
			env.Clock.Advance(tc.after)
			auth := env.Charge(card, 30_000, tc.merchant, "")
			if tc.covered {
				requireApproved(t, auth)
				assert.Equal(t, d.ID, auth.DecisionID)
				return
			}
			assert.Equal(t, engine.CodeApprovalRequired, auth.DeclineCode, auth.Reason)
			got, err := env.Engine.GetDecision(env.Ctx, engine.Operator, d.ID)
			require.NoError(t, err)
			if tc.after >= time.Hour || tc.after > 10*time.Minute && tc.policy.ApprovalTTLSeconds != nil && *tc.policy.ApprovalTTLSeconds < 3600 {
				assert.Equal(t, engine.ApprovalExpired, got.ApprovalStatus, "the approval lapsed")
				_, err := env.Engine.ExecuteDecision(env.Ctx, sqlitetest.AgentActor(agent), engine.ExecuteInput{DecisionID: d.ID})
				assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err), "an expired approval cannot be executed either")
			} else {
				assert.Equal(t, engine.ApprovalApproved, got.ApprovalStatus, "still there for the spend it approved")
			}
			env.Verify()
		})
	}

	t.Run("the sweep records the expiry", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, agent, _ := env.Setup(1_000_000, policy)
		d := approved(t, env, agent, engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell"})
		env.Clock.Advance(2 * time.Hour)
		res, err := env.Engine.Sweep(env.Ctx, engine.Operator)
		require.NoError(t, err)
		assert.Equal(t, 1, res.Approvals)
		got, err := items(env.Engine.ListApprovals(env.Ctx, engine.Operator, engine.ListApprovalsInput{Status: engine.ApprovalExpired}))
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, d.ID, got[0].ID)
	})
}

func withApprovalTTL(p engine.Policy, seconds int64) engine.Policy {
	p.ApprovalTTLSeconds = &seconds
	return p
}

// However many approvals an agent holds, the one that covers a charge is
// found, and one that named an MCC covers only that category.
func TestApprovalCoverageAmongManyAndByCategory(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1_000_000, noIntent(engine.Policy{ApprovalThreshold: ptr(10_000)}))
	approve := func(in engine.PolicyCheckInput) *engine.Decision {
		d := check(t, env, agent, in)
		d, err := env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: d.ID})
		require.NoError(t, err)
		return d
	}
	for range 25 {
		approve(engine.PolicyCheckInput{ActionType: "api_spend", Amount: 30_000, Merchant: "OpenAI"})
	}
	dell := approve(engine.PolicyCheckInput{Amount: 30_000, Merchant: "Dell", MCC: "5732"})
	assert.Equal(t, engine.CodeApprovalRequired, env.Charge(card, 30_000, "Dell", "5999").DeclineCode, "another category")
	auth := env.Charge(card, 30_000, "Dell", "5732")
	requireApproved(t, auth)
	assert.Equal(t, dell.ID, auth.DecisionID)
}
