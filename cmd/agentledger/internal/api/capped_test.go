package api_test

import (
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCappedCheck(t *testing.T) {
	r := newRig(t, api.Options{})
	u := r.env.User("acme", 10_000_00)
	policy := engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](500_00),
		DailyLimit: sqlitetest.Ptr[int64](5000_00)}, ApprovalThreshold: sqlitetest.Ptr[int64](300_00), AllowReduce: true, BlockedActionTypes: []string{"trade"}}
	agent := r.env.Agent("agent_abc123", u, policy)
	key := r.agentKey(agent)
	check := func(body map[string]any) map[string]any {
		a := r.call("POST", "/api/v1/actions/check", key, body)
		require.Equal(t, 200, a.status, "%s", a.body)
		return a.json(t)
	}
	ok := check(map[string]any{"agent_id": "agent_abc123", "action_type": "purchase", "amount_usd": 120,
		"reason": "Compute instance for data pipeline"})
	assert.Equal(t, "approved", ok["status"])
	assert.Equal(t, false, ok["requires_human_approval"])
	assert.Nil(t, ok["allowed_amount_usd"])
	rules := map[string]string{}
	for _, c := range ok["policy_checks"].([]any) {
		m := c.(map[string]any)
		rules[m["rule"].(string)] = m["message"].(string)
	}
	assert.Equal(t, "$120.00 ≤ $500.00 limit", rules["per_txn_limit"], "capped.ai's rule names")
	assert.Contains(t, rules["daily_volume"], "$120.00 of $5,000.00")
	d, err := r.env.Engine.GetDecision(r.env.Ctx, engine.Operator, ok["decision_id"].(string))
	require.NoError(t, err)
	assert.EqualValues(t, 120_00, d.Amount, "120 dollars is 12000 cents")

	d, err = r.env.Engine.GetDecision(r.env.Ctx, engine.Operator, check(map[string]any{"agent_id": agent.ID,
		"action_type": "api_spend", "amount_usd": 0.29})["decision_id"].(string))
	require.NoError(t, err)
	assert.EqualValues(t, 29, d.Amount, "0.29 is 29 cents exactly, not 28.999…")

	r.ok("PATCH", "/v1/agents/"+agent.ID+"/policy", map[string]any{"approval_threshold": nil})
	reduced := check(map[string]any{"agent_id": agent.ID, "action_type": "purchase", "amount_usd": 750.5})
	assert.Equal(t, "reduced", reduced["status"])
	assert.Equal(t, 500.0, reduced["allowed_amount_usd"])
	raw := r.call("POST", "/api/v1/actions/check", key, map[string]any{"agent_id": agent.ID, "action_type": "purchase",
		"amount_usd": 750.5})
	assert.Contains(t, string(raw.body), `"allowed_amount_usd":500.00`, "written as exact decimal dollars")

	r.ok("PATCH", "/v1/agents/"+agent.ID+"/policy", map[string]any{"approval_threshold": 300_00})
	queued := check(map[string]any{"agent_id": agent.ID, "action_type": "purchase", "amount_usd": 350})
	assert.Equal(t, "requires_approval", queued["status"])
	assert.Equal(t, true, queued["requires_human_approval"])
	id := queued["decision_id"].(string)
	early := r.call("POST", "/api/v1/actions/"+id+"/execute", key, nil)
	assert.Equal(t, 422, early.status, "not approved yet: %s", early.body)
	assert.Equal(t, engine.CodeApprovalRequired, early.code(t))
	r.ok("POST", "/v1/approvals/"+id+"/approve", nil)
	done := r.call("POST", "/api/v1/actions/"+id+"/execute", key, nil)
	require.Equal(t, 200, done.status, "%s", done.body)
	assert.Equal(t, "executed", done.json(t)["approval_status"])

	blocked := check(map[string]any{"agent_id": agent.ID, "action_type": "trade", "amount_usd": 10})
	assert.Equal(t, "blocked", blocked["status"])
	assert.NotEmpty(t, blocked["reason"])

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"zero", `{"agent_id":"agent_abc123","action_type":"purchase","amount_usd":0}`, "amount_usd"},
		{"a fraction of a cent", `{"agent_id":"agent_abc123","action_type":"purchase","amount_usd":1.005}`, "amount_usd"},
		{"a string amount", `{"agent_id":"agent_abc123","action_type":"purchase","amount_usd":"120"}`, "amount_usd"},
		{"no amount", `{"agent_id":"agent_abc123","action_type":"purchase"}`, "amount_usd"},
		{"no agent", `{"action_type":"purchase","amount_usd":1}`, "agent_id"},
		{"another currency", `{"agent_id":"agent_abc123","action_type":"purchase","amount_usd":1,"currency":"EUR"}`, "currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := r.call("POST", "/api/v1/actions/check", key, tc.body)
			require.Equal(t, 400, a.status, "%s", a.body)
			assert.Equal(t, tc.field, a.json(t)["error"].(map[string]any)["field"], "%s", a.body)
		})
	}

	euro := r.env.Agent("euro-bot", u, engine.Policy{Currency: "EUR"})
	a := r.call("POST", "/api/v1/actions/check", r.admin, map[string]any{"agent_id": euro.ID, "action_type": "purchase",
		"amount_usd": 10})
	require.Equal(t, 422, a.status, "%s", a.body)
	assert.Equal(t, engine.CodeCurrencyMismatch, a.code(t))
	assert.Contains(t, a.json(t)["error"].(map[string]any)["message"], "spends in EUR")
	other := r.call("POST", "/api/v1/actions/check", key, map[string]any{"agent_id": euro.ID, "action_type": "purchase",
		"amount_usd": 10})
	assert.Equal(t, 404, other.status, "an agent key sees only its own agent")
}

func TestCappedAgents(t *testing.T) {
	r := newRig(t, api.Options{})
	r.env.User("acme", 1000_00)
	created := r.ok("POST", "/api/agents", map[string]any{"name": "research-agent", "mode": "paper",
		"virtualBalanceUsd": 5000})["agent"].(map[string]any)
	id := created["id"].(string)
	assert.Equal(t, "paper", created["mode"])
	assert.Equal(t, "active", created["status"])
	assert.Equal(t, 5000.0, created["virtualBalanceUsd"])
	assert.Nil(t, created["cardStatus"], "no card yet")

	agent, err := r.env.Engine.GetAgent(r.env.Ctx, engine.Operator, id)
	require.NoError(t, err)
	card := r.env.Card(agent)
	_, err = r.env.Engine.LinkCard(r.env.Ctx, engine.Operator, engine.LinkCardInput{CardID: card.ID, Issuer: "stripe",
		ExternalID: "ic_xyz789"})
	require.NoError(t, err)
	_, err = r.env.Engine.PolicyCheck(r.env.Ctx, engine.Operator, engine.PolicyCheckInput{Agent: id, Amount: 167_50})
	require.NoError(t, err)
	raw := r.call("GET", "/api/agents/"+id, r.admin, nil)
	require.Equal(t, 200, raw.status)
	assert.Contains(t, string(raw.body), `"virtualBalanceUsd":4832.50`, "paper spend is drawn from the balance, exactly")
	got := raw.json(t)["agent"].(map[string]any)
	assert.Equal(t, "open", got["cardStatus"])
	assert.Equal(t, "ic_xyz789", got["stripeCardId"])

	frozen := r.ok("PATCH", "/api/agents/"+id+"/card", map[string]any{"action": "freeze"})["agent"].(map[string]any)
	assert.Equal(t, "paused", frozen["cardStatus"])
	c, err := r.env.Engine.GetCard(r.env.Ctx, engine.Operator, card.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.CardFrozen, c.Status)
	assert.Equal(t, "open", r.ok("PATCH", "/api/agents/"+id+"/card", map[string]any{"action": "unfreeze"})["agent"].(map[string]any)["cardStatus"])
	assert.Equal(t, "paused", r.ok("PATCH", "/api/agents/"+card.ID+"/card", map[string]any{"action": "freeze"})["agent"].(map[string]any)["cardStatus"],
		"capped.ai's incident response passes a card id")

	for _, mode := range []string{"approval_only", "live_disabled", "paper"} {
		got := r.ok("PATCH", "/api/agents/"+id, map[string]any{"mode": mode})["agent"].(map[string]any)
		assert.Equal(t, mode, got["mode"])
	}
	agent, err = r.env.Engine.GetAgent(r.env.Ctx, engine.Operator, id)
	require.NoError(t, err)
	assert.Contains(t, agent.Policy.BlockedActionTypes, "trade", "live_disabled blocked trade actions")
	assert.Equal(t, "live_disabled", r.ok("PATCH", "/api/agents/"+id, map[string]any{"mode": "live"})["agent"].(map[string]any)["mode"],
		"from paper, live keeps the block (it may be the operator's)")
	assert.Equal(t, "live", r.ok("PATCH", "/api/agents/"+id, map[string]any{"mode": "live"})["agent"].(map[string]any)["mode"],
		"from live_disabled, live allows trade again")
	agent, err = r.env.Engine.GetAgent(r.env.Ctx, engine.Operator, id)
	require.NoError(t, err)
	assert.NotContains(t, agent.Policy.BlockedActionTypes, "trade")

	// An operator's own block of trade on a paper agent survives capped.ai's mode changes to live.
	r.ok("PATCH", "/api/agents/"+id, map[string]any{"mode": "paper"})
	r.ok("PATCH", "/v1/agents/"+id+"/policy", map[string]any{"blocked_action_types": []string{"trade"}})
	r.ok("PATCH", "/api/agents/"+id, map[string]any{"mode": "live"})
	agent, err = r.env.Engine.GetAgent(r.env.Ctx, engine.Operator, id)
	require.NoError(t, err)
	assert.Contains(t, agent.Policy.BlockedActionTypes, "trade")

	// One Idempotency-Key, one request, on the capped endpoints too.
	first := r.call("PATCH", "/api/agents/"+id, r.admin, map[string]any{"mode": "paper"}, "Idempotency-Key", "m1")
	require.Equal(t, 200, first.status)
	other := r.call("PATCH", "/api/agents/"+id, r.admin, map[string]any{"mode": "live_disabled"}, "Idempotency-Key", "m1")
	assert.Equal(t, 409, other.status, "%s", other.body)
	c1 := r.call("PATCH", "/api/agents/"+id+"/card", r.admin, map[string]any{"action": "freeze"}, "Idempotency-Key", "c1")
	require.Equal(t, 200, c1.status)
	c2 := r.call("PATCH", "/api/agents/"+id+"/card", r.admin, map[string]any{"action": "unfreeze"}, "Idempotency-Key", "c1")
	assert.Equal(t, 409, c2.status, "%s", c2.body)

	for _, path := range []string{"/api/agents/nobody", "/api/agents/nobody/transactions"} {
		missing := r.call("GET", path, r.admin, nil)
		require.Equal(t, 404, missing.status)
		assert.Equal(t, "id", missing.json(t)["error"].(map[string]any)["field"], "the path's {id}: %s", missing.body)
	}
	missing := r.call("PATCH", "/api/agents/nobody/card", r.admin, map[string]any{"action": "freeze"})
	assert.Equal(t, "id", missing.json(t)["error"].(map[string]any)["field"], "%s", missing.body)

	list := r.ok("GET", "/api/agents", nil)["agents"].([]any)
	assert.Len(t, list, 1)
	bad := r.call("PATCH", "/api/agents/"+id, r.admin, map[string]any{"mode": "blocked"})
	assert.Equal(t, 400, bad.status, "blocked is a policy tradingMode, not an agent mode")
}

func TestCappedTransactions(t *testing.T) {
	r := newRig(t, api.Options{})
	_, agent, card := r.env.Setup(1000_00, engine.Policy{IntentRequired: sqlitetest.Ptr(false),
		SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](100_00)}})
	r.env.Charge(card, 120_00, "AWS Marketplace", "5734")
	r.env.Charge(card, 50_00, "AWS Marketplace", "5734")
	_, err := r.env.Engine.AuthorizeCredit(r.env.Ctx, engine.Actor{Role: engine.RoleNetwork}, engine.AuthorizeInput{
		CardID: card.ID, Amount: 10_00, Merchant: engine.Merchant{Name: "AWS Marketplace"}, NetworkID: "refund-1"})
	require.NoError(t, err)
	list := r.call("GET", "/api/agents/"+agent.ID+"/transactions", r.viewer, nil)
	require.Equal(t, 200, list.status)
	txns := list.json(t)["transactions"].([]any)
	require.Len(t, txns, 3)
	assert.EqualValues(t, -1000, txns[0].(map[string]any)["amount"], "a credit (a refund) is money back")
	newest, oldest := txns[1].(map[string]any), txns[2].(map[string]any)
	assert.Equal(t, "approved", newest["status"])
	assert.EqualValues(t, 5000, newest["amount"])
	assert.Nil(t, newest["declineReason"])
	assert.Equal(t, "declined", oldest["status"])
	assert.Equal(t, "SPEND_LIMIT_EXCEEDED", oldest["declineReason"])
	assert.Equal(t, "AWS Marketplace", oldest["merchant"])
	assert.Equal(t, agent.ID, oldest["agentId"])
}
