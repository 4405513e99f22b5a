package mcp_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// toolsOnTheWire is tools/list as a client receives it, in JSON.
func toolsOnTheWire(t *testing.T, r *rig) map[string]map[string]any {
	return toolsOnTheWireAs(t, r, context.Background())
}

// toolsOnTheWireAs is toolsOnTheWire for the session of ctx.
func toolsOnTheWireAs(t *testing.T, r *rig, ctx context.Context) map[string]map[string]any {
	resp := r.srv.MCPServer().HandleMessage(ctx, []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	raw, err := json.Marshal(resp)
	require.NoError(t, err)
	var msg struct {
		Result struct {
			Tools []map[string]any `json:"tools"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(raw, &msg), string(raw))
	tools := map[string]map[string]any{}
	for _, tool := range msg.Result.Tools {
		tools[tool["name"].(string)] = tool
	}
	return tools
}

func TestToolsAreDescribedHonestly(t *testing.T) {
	r := newRig(t, engine.Policy{})
	tools := toolsOnTheWire(t, r)
	require.Len(t, tools, 3)
	for name, want := range map[string]map[string]bool{
		"ledger_card":   {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": false},
		"ledger_intent": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false},
		"policy_check":  {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false},
	} {
		tool, found := tools[name]
		require.True(t, found, name)
		hints := tool["annotations"].(map[string]any)
		for hint, v := range want {
			assert.Equal(t, v, hints[hint], "%s %s is set explicitly", name, hint)
		}
		assert.NotEmpty(t, tool["title"], name)
		assert.NotEmpty(t, tool["description"], name)

		in := tool["inputSchema"].(map[string]any)
		assert.Equal(t, "object", in["type"])
		assert.Equal(t, false, in["additionalProperties"])
		props := in["properties"].(map[string]any)
		assert.NotEmpty(t, props["action"].(map[string]any)["enum"], "%s: actions are an enum", name)
		amount := props["amount"]
		if amount != nil {
			assert.Equal(t, "integer", amount.(map[string]any)["type"])
			assert.Contains(t, amount.(map[string]any)["description"], "9999 means $99.99")
		}
		out := tool["outputSchema"].(map[string]any)
		assert.Equal(t, "object", out["type"])
		assert.NotEmpty(t, out["anyOf"], "%s: an output schema per result shape", name)
	}

	s := r.agentSession()
	assert.NotNil(t, s.c.GetServerCapabilities().Tools)
	assert.Contains(t, mcpInstructions(t, s), "ledger_intent declare")
}

func mcpInstructions(t *testing.T, s *session) string {
	var init mcpgo.InitializeRequest
	res, err := s.c.Initialize(s.ctx, init)
	require.NoError(t, err)
	return res.Instructions
}

// The flow of the seed documents, verbatim: create a card → details fails
// "Declare intent first" → declare → details returns PAN/CVV/expiry → a
// matching charge is approved and the intent matched; one that does not
// match is declined and the intent mismatched.
func TestSeedFlowOverMCP(t *testing.T) {
	r := newRig(t, engine.Policy{})
	s := r.agentSession()

	var card engine.Card
	s.ok("ledger_card", args{"action": "create", "purpose": "Buy headphones"}, &card)
	assert.Equal(t, engine.CardActive, card.Status)

	code, msg := s.fail("ledger_card", args{"action": "details", "card_id": card.ID})
	assert.Equal(t, engine.CodeIntentRequired, code)
	assert.Contains(t, msg, "Declare intent first")

	var intent engine.Intent
	s.ok("ledger_intent", args{"action": "declare", "summary": "Buy headphones", "amount": 9999, "merchant": "Amazon"}, &intent)
	assert.Equal(t, engine.IntentPending, intent.Status)
	assert.Equal(t, "rig-test", intent.Attestation.ClientName, "the intent records the MCP client")
	assert.Equal(t, "key_test", intent.Attestation.KeyID)

	var details engine.CardDetails
	txt := s.ok("ledger_card", args{"action": "details", "card_id": card.ID}, &details)
	assert.True(t, engine.LuhnValid(details.PAN))
	assert.Len(t, details.CVV, 3)
	assert.Equal(t, card.ExpYear, details.ExpYear)
	assert.Equal(t, intent.ID, details.IntentID)
	assert.Contains(t, txt, details.PAN)

	a := r.charge(card.ID, 9999, "AMAZON.COM*A1B2")
	assert.Equal(t, engine.AuthApproved, a.Status, a.Reason)
	s.ok("ledger_intent", args{"action": "get", "intent_id": intent.ID}, &intent)
	assert.Equal(t, engine.IntentMatched, intent.Status)

	var second engine.Intent
	s.ok("ledger_intent", args{"action": "declare", "summary": "A cable", "amount": 1500, "merchant": "Best Buy", "card_id": card.ID}, &second)
	s.ok("ledger_card", args{"action": "details", "card_id": card.ID}, nil)
	a = r.charge(card.ID, 1500, "Newegg")
	assert.Equal(t, engine.CodeIntentMismatch, a.DeclineCode)
	s.ok("ledger_intent", args{"action": "get", "intent_id": second.ID}, &second)
	assert.Equal(t, engine.IntentMismatched, second.Status)

	var txns struct {
		Transactions []engine.Authorization `json:"transactions"`
	}
	s.ok("ledger_card", args{"action": "transactions", "card_id": card.ID}, &txns)
	require.Len(t, txns.Transactions, 2)
	assert.Equal(t, engine.AuthDeclined, txns.Transactions[0].Status)
	r.env.Verify()
}

func TestEveryAction(t *testing.T) {
	r := newRig(t, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](50_000)}, ApprovalThreshold: sqlitetest.Ptr[int64](20_000)})
	s := r.agentSession()

	var card engine.Card
	s.ok("ledger_card", args{"action": "create", "type": "single_use", "purpose": "one-off", "currency": "usd",
		"limits": args{"per_transaction_limit": 5000, "blocked_mccs": []string{"7995"}}}, &card)
	assert.Equal(t, engine.CardSingleUse, card.Type)
	assert.Equal(t, int64(5000), *card.Limits.PerTransactionLimit)

	var cards struct {
		Cards []engine.Card `json:"cards"`
	}
	s.ok("ledger_card", args{"action": "list"}, &cards)
	assert.Len(t, cards.Cards, 2)
	var got engine.Card
	s.ok("ledger_card", args{"action": "get", "card_id": card.ID}, &got)
	assert.Equal(t, card.ID, got.ID)
	s.ok("ledger_card", args{"action": "freeze", "card_id": card.ID}, &got)
	assert.Equal(t, engine.CardFrozen, got.Status)
	assert.Equal(t, "agent:"+r.agent.ID, got.FrozenBy)
	s.ok("ledger_card", args{"action": "unfreeze", "card_id": card.ID}, &got)
	assert.Equal(t, engine.CardActive, got.Status)
	s.ok("ledger_card", args{"action": "close", "card_id": card.ID}, &got)
	assert.Equal(t, engine.CardClosed, got.Status)

	var intent engine.Intent
	s.ok("ledger_intent", args{"action": "declare", "summary": "Paper", "amount": 2500, "currency": "USD", "card_id": r.card.ID,
		"merchant": "Staples", "mcc": "5943", "expires_in_seconds": 300}, &intent)
	assert.Equal(t, int64(300), intent.TTLSeconds)
	var intents struct {
		Intents []engine.Intent `json:"intents"`
	}
	s.ok("ledger_intent", args{"action": "list"}, &intents)
	assert.Len(t, intents.Intents, 1)
	s.ok("ledger_intent", args{"action": "cancel", "intent_id": intent.ID}, &intent)
	assert.Equal(t, engine.IntentCancelled, intent.Status)
	txt := s.ok("ledger_intent", args{"action": "declare", "summary": "Laptop", "amount": 30_000}, &intent)
	assert.Equal(t, engine.IntentAwaitingApproval, intent.Status)
	assert.Contains(t, txt, "approvals queue", "without client approval the request waits for the operator")

	var d engine.Decision
	txt = s.ok("policy_check", args{"action_type": "api_spend", "amount": 1200, "reason": "model credits"}, &d)
	assert.Equal(t, engine.DecisionApproved, d.Status)
	assert.Contains(t, txt, "APPROVED")
	s.ok("policy_check", args{"action": "status", "decision_id": d.ID}, &d)
	assert.Equal(t, engine.DecisionApproved, d.Status)

	var big engine.Decision
	s.ok("policy_check", args{"action": "check", "amount": 25_000, "dry_run": false}, &big)
	assert.Equal(t, engine.DecisionRequiresApproval, big.Status)
	code, _ := s.fail("policy_check", args{"action": "execute", "decision_id": big.ID})
	assert.Equal(t, engine.CodeApprovalRequired, code)
	_, err := r.env.Engine.Approve(r.env.Ctx, engine.Operator, engine.DecideInput{DecisionID: big.ID})
	require.NoError(t, err)
	s.ok("policy_check", args{"action": "execute", "decision_id": big.ID}, &big)
	assert.Equal(t, engine.ApprovalExecuted, big.ApprovalStatus)

	var limits engine.LimitsReport
	txt = s.ok("policy_check", args{"action": "limits"}, &limits)
	assert.Equal(t, int64(26_200), limits.Daily.Spent)
	assert.Equal(t, int64(23_800), *limits.Daily.Remaining)
	assert.Contains(t, txt, "$262.00 of $500.00 spent")
	r.env.Verify()
}

// Every error code a tool can produce reaches the agent as an isError
// result with {"error":{"code","message"}}.
func TestErrorsReachTheAgent(t *testing.T) {
	r := newRig(t, engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](10_000), BlockedMerchants: []string{"casino"}},
		ApprovalThreshold: sqlitetest.Ptr[int64](5_000)})
	s := r.agentSession()
	e, ctx := r.env.Engine, r.env.Ctx
	frozen := r.env.Card(r.agent)
	_, err := e.FreezeCard(ctx, engine.Operator, engine.CardActionInput{CardID: frozen.ID})
	require.NoError(t, err)
	closed := r.env.Card(r.agent)
	_, err = e.CloseCard(ctx, engine.Operator, engine.CardActionInput{CardID: closed.ID})
	require.NoError(t, err)
	var lapsing, awaiting engine.Intent
	s.ok("ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "card_id": r.card.ID, "expires_in_seconds": 10}, &lapsing)
	r.env.Clock.Advance(11e9)
	s.ok("ledger_intent", args{"action": "declare", "summary": "y", "amount": 6000, "card_id": r.card.ID}, &awaiting)
	s.ok("ledger_intent", args{"action": "declare", "summary": "z", "amount": 100, "card_id": r.card.ID, "idempotency_key": "k1"}, nil)
	fresh := r.env.Card(r.agent)

	cases := []struct {
		code string
		tool string
		args args
	}{
		{engine.CodeInvalidInput, "ledger_intent", args{"action": "declare", "summary": "x", "amount": -5}},
		{engine.CodeNotFound, "ledger_card", args{"action": "get", "card_id": "card_nope"}},
		{engine.CodeInvalidState, "ledger_intent", args{"action": "cancel", "intent_id": lapsing.ID}},
		{engine.CodeForbidden, "ledger_card", args{"action": "unfreeze", "card_id": frozen.ID}},
		{engine.CodeIdempotencyConflict, "ledger_intent", args{"action": "declare", "summary": "z", "amount": 200, "card_id": r.card.ID, "idempotency_key": "k1"}},
		{engine.CodeIntentRequired, "ledger_card", args{"action": "details", "card_id": fresh.ID}},
		{engine.CodeIntentExpired, "ledger_card", args{"action": "details", "card_id": r.card.ID, "intent_id": lapsing.ID}},
		{engine.CodeApprovalRequired, "ledger_card", args{"action": "details", "card_id": r.card.ID, "intent_id": awaiting.ID}},
		{engine.CodeCardFrozen, "ledger_card", args{"action": "details", "card_id": frozen.ID}},
		{engine.CodeCardCancelled, "ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "card_id": closed.ID}},
		{engine.CodeCurrencyMismatch, "ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "card_id": r.card.ID, "currency": "EUR"}},
		{engine.CodeMerchantBlocked, "ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "merchant": "Grand Casino"}},
		{engine.CodeSpendLimitExceeded, "ledger_intent", args{"action": "declare", "summary": "x", "amount": 10_001}},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			s.t = t
			code, msg := s.fail(tc.tool, tc.args)
			assert.Equal(t, tc.code, code, msg)
		})
	}
	s.t = t

	// The rest need the agent's situation to change.
	_, err = e.SetAgentMode(ctx, engine.Operator, engine.SetModeInput{Agent: r.agent.ID, Mode: engine.ModeDisabled})
	require.NoError(t, err)
	code, _ := s.fail("ledger_intent", args{"action": "declare", "summary": "x", "amount": 100})
	assert.Equal(t, engine.CodeAgentDisabled, code)
	_, err = e.SetAgentMode(ctx, engine.Operator, engine.SetModeInput{Agent: r.agent.ID, Mode: engine.ModeLive})
	require.NoError(t, err)
	_, err = e.SetKYC(ctx, engine.Operator, engine.SetKYCInput{User: r.user.ID, Status: engine.KYCRejected})
	require.NoError(t, err)
	code, _ = s.fail("ledger_card", args{"action": "create"})
	assert.Equal(t, engine.CodeKYCRequired, code)
	_, err = e.SetKYC(ctx, engine.Operator, engine.SetKYCInput{User: r.user.ID, Status: engine.KYCApproved})
	require.NoError(t, err)

	// Limits and funds are checked again when an approved spend is executed.
	var d engine.Decision
	s.ok("policy_check", args{"amount": 8_000}, &d)
	_, err = e.Approve(ctx, engine.Operator, engine.DecideInput{DecisionID: d.ID})
	require.NoError(t, err)
	_, err = e.SetPolicy(ctx, engine.Operator, engine.SetPolicyInput{Agent: r.agent.ID, Policy: engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](1000)}}})
	require.NoError(t, err)
	code, _ = s.fail("policy_check", args{"action": "execute", "decision_id": d.ID})
	assert.Equal(t, engine.CodeDailyLimitExceeded, code)

	// Unauthenticated calls fail too.
	anon := r.connect(engine.Actor{})
	code, _ = anon.fail("ledger_card", args{"action": "list"})
	assert.Equal(t, engine.CodeUnauthorized, code)
}

// Bad arguments get an INVALID_INPUT result naming the argument; nothing is
// written.
func TestBadArguments(t *testing.T) {
	r := newRig(t, engine.Policy{})
	s := r.agentSession()
	cases := []struct {
		tool  string
		args  args
		field string
	}{
		{"ledger_card", args{}, "action"},
		{"ledger_card", args{"action": "launch"}, "action"},
		{"ledger_card", args{"action": 5}, "action"},
		{"ledger_card", args{"action": "list", "colour": "red"}, "colour"},
		{"ledger_card", args{"action": "get"}, "card_id"},
		{"ledger_card", args{"action": "create", "type": "prepaid"}, "type"},
		{"ledger_card", args{"action": "create", "limits": args{"daily": 5}}, "limits"},
		{"ledger_card", args{"action": "create", "limits": args{"daily_limit": "lots"}}, "limits"},
		{"ledger_card", args{"action": "create", "currency": "DOLLARS"}, "currency"},
		{"ledger_intent", args{"action": "declare", "amount": 100}, "summary"},
		{"ledger_intent", args{"action": "declare", "summary": "x"}, "amount"},
		{"ledger_intent", args{"action": "declare", "summary": "x", "amount": "100"}, "amount"},
		{"ledger_intent", args{"action": "declare", "summary": "x", "amount": 12.5}, "amount"},
		{"ledger_intent", args{"action": "declare", "summary": "x", "amount": 0}, "amount"},
		{"ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "mcc": "12"}, "mcc"},
		{"ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "expires_in_seconds": "soon"}, "expires_in_seconds"},
		{"ledger_intent", args{"action": "get"}, "intent_id"},
		{"policy_check", args{"amount": 100, "dry_run": "yes"}, "dry_run"},
		{"policy_check", args{"action": "status"}, "decision_id"},
		{"policy_check", args{"action": "check"}, "amount"},
		{"policy_check", args{"amount": 100, "agent_id": 7}, "agent_id"},
	}
	for _, tc := range cases {
		name, _ := json.Marshal(tc.args)
		t.Run(tc.tool+string(name), func(t *testing.T) {
			s.t = t
			before := r.env.Snapshot()
			code, msg := s.fail(tc.tool, tc.args)
			assert.Equal(t, engine.CodeInvalidInput, code, msg)
			assert.Contains(t, msg, tc.field+":")
			assert.Equal(t, before, r.env.Snapshot(), "nothing is written")
		})
	}
}

// An agent never sees or touches another agent's objects: to it they do
// not exist.
func TestAgentsAreIsolated(t *testing.T) {
	r := newRig(t, engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](5_000)})
	alice := r.agentSession()
	bobAgent := r.env.Agent("bob", r.user, engine.Policy{})
	bob := r.connect(engine.Actor{Role: engine.RoleAgent, AgentID: bobAgent.ID})

	var intent engine.Intent
	alice.ok("ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "card_id": r.card.ID}, &intent)
	var d engine.Decision
	alice.ok("policy_check", args{"amount": 6000}, &d)

	for _, tc := range []struct {
		tool string
		args args
	}{
		{"ledger_card", args{"action": "get", "card_id": r.card.ID}},
		{"ledger_card", args{"action": "details", "card_id": r.card.ID}},
		{"ledger_card", args{"action": "freeze", "card_id": r.card.ID}},
		{"ledger_card", args{"action": "unfreeze", "card_id": r.card.ID}},
		{"ledger_card", args{"action": "close", "card_id": r.card.ID}},
		{"ledger_card", args{"action": "transactions", "card_id": r.card.ID}},
		{"ledger_card", args{"action": "details", "card_id": r.card.ID, "intent_id": intent.ID}},
		{"ledger_card", args{"action": "list", "agent_id": r.agent.ID}},
		{"ledger_card", args{"action": "create", "agent_id": r.agent.Name}},
		{"ledger_intent", args{"action": "get", "intent_id": intent.ID}},
		{"ledger_intent", args{"action": "cancel", "intent_id": intent.ID}},
		{"ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "card_id": r.card.ID}},
		{"ledger_intent", args{"action": "list", "agent_id": r.agent.ID}},
		{"policy_check", args{"action": "status", "decision_id": d.ID}},
		{"policy_check", args{"action": "execute", "decision_id": d.ID}},
		{"policy_check", args{"action": "limits", "agent_id": r.agent.ID}},
		{"policy_check", args{"amount": 100, "agent_id": r.agent.ID}},
	} {
		before := r.env.Snapshot()
		code, _ := bob.fail(tc.tool, tc.args)
		assert.Equal(t, engine.CodeNotFound, code, "%s %v", tc.tool, tc.args)
		assert.Equal(t, before, r.env.Snapshot())
	}
	var cards struct {
		Cards []engine.Card `json:"cards"`
	}
	bob.ok("ledger_card", args{"action": "list"}, &cards)
	assert.Empty(t, cards.Cards)
	var intents struct {
		Intents []engine.Intent `json:"intents"`
	}
	bob.ok("ledger_intent", args{"action": "list"}, &intents)
	assert.Empty(t, intents.Intents)
}

func TestAdminAndViewerKeys(t *testing.T) {
	r := newRig(t, engine.Policy{})
	admin := r.connect(engine.Actor{Role: engine.RoleAdmin, KeyID: "key_admin"})
	code, msg := admin.fail("ledger_card", args{"action": "list"})
	assert.Equal(t, engine.CodeInvalidInput, code)
	assert.Contains(t, msg, "agent_id: required with an admin key")

	var intent engine.Intent
	admin.ok("ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "agent_id": r.agent.Name}, &intent)
	assert.Equal(t, r.agent.ID, intent.AgentID, "an admin key acts as the named agent")
	assert.Equal(t, "key_admin", intent.Attestation.KeyID)

	viewer := r.connect(engine.Actor{Role: engine.RoleViewer, KeyID: "key_viewer"})
	code, _ = viewer.fail("ledger_card", args{"action": "list"})
	assert.Equal(t, engine.CodeInvalidInput, code)
	var cards struct {
		Cards []engine.Card `json:"cards"`
	}
	viewer.ok("ledger_card", args{"action": "list", "agent_id": r.agent.ID}, &cards)
	assert.Len(t, cards.Cards, 1)
	viewer.ok("ledger_intent", args{"action": "get", "intent_id": intent.ID, "agent_id": r.agent.ID}, nil)
	viewer.ok("policy_check", args{"action": "limits", "agent_id": r.agent.ID}, nil)
	for _, tc := range []struct {
		tool string
		args args
	}{
		{"ledger_card", args{"action": "create", "agent_id": r.agent.ID}},
		{"ledger_card", args{"action": "freeze", "card_id": r.card.ID, "agent_id": r.agent.ID}},
		{"ledger_card", args{"action": "details", "card_id": r.card.ID, "agent_id": r.agent.ID}},
		{"ledger_intent", args{"action": "declare", "summary": "x", "amount": 1, "agent_id": r.agent.ID}},
		{"ledger_intent", args{"action": "cancel", "intent_id": intent.ID, "agent_id": r.agent.ID}},
		{"policy_check", args{"amount": 1, "agent_id": r.agent.ID}},
	} {
		code, _ := viewer.fail(tc.tool, tc.args)
		assert.Equal(t, engine.CodeForbidden, code, "viewers only read: %s %v", tc.tool, tc.args)
	}

	// A viewer named for one agent sees nothing of another.
	other := r.env.Agent("other", r.user, engine.Policy{})
	otherCard := r.env.Card(other)
	code, _ = viewer.fail("ledger_card", args{"action": "get", "card_id": otherCard.ID, "agent_id": r.agent.ID})
	assert.Equal(t, engine.CodeNotFound, code)

	// A card network's key is for the network endpoints, not for tools.
	network := r.connect(engine.Actor{Role: engine.RoleNetwork, KeyID: "key_network"})
	code, msg = network.fail("ledger_card", args{"action": "list", "agent_id": r.agent.ID})
	assert.Equal(t, engine.CodeForbidden, code)
	assert.Contains(t, msg, "network key")
}

// The same idempotency key returns the first result and acts once.
func TestIdempotentToolCalls(t *testing.T) {
	r := newRig(t, engine.Policy{})
	s := r.agentSession()
	var first, again engine.Intent
	s.ok("ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "idempotency_key": "retry-1"}, &first)
	s.ok("ledger_intent", args{"action": "declare", "summary": "x", "amount": 100, "idempotency_key": "retry-1"}, &again)
	assert.Equal(t, first.ID, again.ID)
	var d1, d2 engine.Decision
	s.ok("policy_check", args{"amount": 700, "idempotency_key": "check-1"}, &d1)
	s.ok("policy_check", args{"amount": 700, "idempotency_key": "check-1"}, &d2)
	assert.Equal(t, d1.ID, d2.ID)
	var limits engine.LimitsReport
	s.ok("policy_check", args{"action": "limits"}, &limits)
	assert.Equal(t, int64(700), limits.Daily.Spent, "counted once")
}
