package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryEndpointAnswers drives each /v1 endpoint through its happy path
// as an operator would, and checks what a user of the answer relies on.
func TestEveryEndpointAnswers(t *testing.T) {
	r := newRig(t, api.Options{})

	// Users.
	u := r.ok("POST", "/v1/users", map[string]any{"name": "Acme Corp", "email": "ops@acme.example"})
	userID := u["id"].(string)
	assert.Equal(t, "pending", u["kyc_status"])
	other := r.ok("POST", "/v1/users", map[string]any{"name": "Shady LLC"})
	assert.Equal(t, "rejected", r.ok("POST", "/v1/users/"+other["id"].(string)+"/reject", nil)["kyc_status"])
	assert.Equal(t, "approved", r.ok("POST", "/v1/users/Acme%20Corp/approve", nil)["kyc_status"])
	assert.Equal(t, "Acme Corp", r.ok("GET", "/v1/users/"+userID, nil)["name"])
	bal := r.ok("POST", "/v1/users/"+userID+"/fund", map[string]any{"amount": 100000, "currency": "USD"})
	assert.EqualValues(t, 100000, bal["available"])
	assert.EqualValues(t, 100000, r.ok("GET", "/v1/users/"+userID+"/balance?currency=USD", nil)["available"])
	users := r.ok("GET", "/v1/users", nil)
	assert.Equal(t, "list", users["object"])
	assert.Len(t, users["data"], 2)
	assert.Equal(t, false, users["has_more"])

	// Agents and policies.
	ag := r.ok("POST", "/v1/agents", map[string]any{"name": "checkout-bot", "user": "Acme Corp",
		"policy": map[string]any{"per_transaction_limit": 50000, "approval_threshold": 20000}})
	agentID := ag["id"].(string)
	assert.Equal(t, "live", ag["mode"])
	assert.Equal(t, "paper", r.ok("PATCH", "/v1/agents/"+agentID, map[string]any{"mode": "paper"})["mode"])
	assert.EqualValues(t, 5000, r.ok("POST", "/v1/agents/checkout-bot/paper_funding", map[string]any{"amount": 5000})["available"])
	assert.EqualValues(t, 5000, r.ok("GET", "/v1/agents/checkout-bot/paper_balance", nil)["available"])
	assert.Equal(t, "live", r.ok("PATCH", "/v1/agents/checkout-bot", map[string]any{"mode": "live"})["mode"])
	assert.Len(t, r.ok("GET", "/v1/agents?user=Acme%20Corp", nil)["data"], 1)
	assert.Equal(t, "checkout-bot", r.ok("GET", "/v1/agents/"+agentID, nil)["name"])
	limits := r.ok("GET", "/v1/agents/"+agentID+"/policy", nil)
	assert.EqualValues(t, 50000, limits["per_transaction_limit"])
	limits = r.ok("PUT", "/v1/agents/"+agentID+"/policy", map[string]any{"per_transaction_limit": 60000,
		"daily_limit": 100000, "approval_threshold": 20000})
	assert.EqualValues(t, 60000, limits["policy"].(map[string]any)["per_transaction_limit"])
	assert.EqualValues(t, 100000, limits["daily"].(map[string]any)["limit"])
	limits = r.ok("PATCH", "/v1/agents/"+agentID+"/policy", map[string]any{"daily_limit": nil, "monthly_limit": 300000})
	policy := limits["policy"].(map[string]any)
	assert.Nil(t, policy["daily_limit"], "null clears a field")
	assert.EqualValues(t, 300000, policy["monthly_limit"])
	assert.EqualValues(t, 60000, policy["per_transaction_limit"], "a field left out is kept")

	// Cards, in both request shapes.
	card := r.ok("POST", "/v1/agents/"+agentID+"/cards", map[string]any{"purpose": "Cloud credits",
		"limits": map[string]any{"daily_limit": 40000}})
	cardID := card["id"].(string)
	assert.Equal(t, "multi_use", card["type"])
	assert.Len(t, card["last4"], 4)
	single := r.ok("POST", "/v1/agents/checkout-bot/cards", map[string]any{"purpose": "Buy office supplies",
		"type": "single", "maxAmount": 10000})
	assert.Equal(t, "single_use", single["type"])
	assert.EqualValues(t, 10000, single["limits"].(map[string]any)["lifetime_limit"])
	assert.Len(t, r.ok("GET", "/v1/agents/"+agentID+"/cards", nil)["data"], 2)
	assert.Len(t, r.ok("GET", "/v1/cards?agent_id=checkout-bot", nil)["data"], 2)
	assert.Equal(t, "frozen", r.ok("POST", "/v1/cards/"+cardID+"/freeze", nil)["status"])
	assert.Equal(t, "active", r.ok("POST", "/v1/cards/"+cardID+"/unfreeze", nil)["status"])
	assert.Equal(t, "closed", r.ok("POST", "/v1/cards/"+single["id"].(string)+"/close", nil)["status"])
	assert.Equal(t, cardID, r.ok("GET", "/v1/cards/"+cardID, nil)["id"])
	link := r.ok("POST", "/v1/cards/"+cardID+"/links", map[string]any{"issuer": "stripe", "external_id": "ic_123"})
	assert.Equal(t, "ic_123", link["external_id"])
	assert.Len(t, r.ok("GET", "/v1/cards/"+cardID+"/links", nil)["data"], 1)

	// Checks and approvals.
	check := r.ok("POST", "/v1/agents/"+agentID+"/checks", map[string]any{"amount": 12000, "reason": "API credits",
		"action_type": "api_spend"})
	assert.Equal(t, "approved", check["status"])
	assert.Equal(t, check["id"], check["decision_id"])
	assert.Equal(t, check["id"], r.ok("GET", "/v1/decisions/"+check["id"].(string), nil)["id"])
	big := r.ok("POST", "/v1/agents/"+agentID+"/checks", map[string]any{"amount": 30000, "reason": "A GPU hour"})
	assert.Equal(t, "requires_approval", big["status"])
	bigID := big["id"].(string)
	queue := r.ok("GET", "/v1/approvals", nil)
	require.Len(t, queue["data"], 1)
	assert.Equal(t, bigID, queue["data"].([]any)[0].(map[string]any)["id"])
	assert.Equal(t, "pending", r.ok("GET", "/v1/approvals/"+bigID, nil)["approval_status"])
	approved := r.ok("POST", "/v1/approvals/"+bigID+"/approve", map[string]any{"reason": "budgeted"})
	assert.Equal(t, "approved", approved["approval_status"])
	assert.Equal(t, "budgeted", approved["decision_note"])
	assert.Equal(t, "executed", r.ok("POST", "/v1/decisions/"+bigID+"/execute", nil)["approval_status"])
	denied := r.ok("POST", "/v1/agents/"+agentID+"/checks", map[string]any{"amount": 30000, "reason": "Another"})
	assert.Equal(t, "denied", r.ok("POST", "/v1/approvals/"+denied["id"].(string)+"/deny", nil)["approval_status"])

	// Intents, as an agent declares them over MCP.
	agent, err := r.env.Engine.GetAgent(r.env.Ctx, engine.Operator, agentID)
	require.NoError(t, err)
	c, err := r.env.Engine.GetCard(r.env.Ctx, engine.Operator, cardID)
	require.NoError(t, err)
	spent := r.env.Reveal(agent, c, 2500, "AWS")
	auth := r.env.Charge(c, 2500, "AWS", "5734")
	require.Equal(t, engine.AuthApproved, auth.Status)
	open, err := r.env.Engine.DeclareIntent(r.env.Ctx, sqlitetest.AgentActor(agent),
		engine.DeclareIntentInput{CardID: cardID, Summary: "Office chairs", Amount: 9000})
	require.NoError(t, err)
	intents := r.ok("GET", "/v1/intents?agent_id=checkout-bot", nil)
	assert.Len(t, intents["data"], 2)
	assert.Equal(t, "matched", r.ok("GET", "/v1/intents/"+spent.ID, nil)["status"])
	assert.Equal(t, "cancelled", r.ok("POST", "/v1/intents/"+open.ID+"/cancel", nil)["status"])
	assert.Len(t, r.ok("GET", "/v1/intents?status=cancelled", nil)["data"], 1)

	// Transactions, with every check and risk signal.
	txns := r.ok("GET", "/v1/transactions?card_id="+cardID, nil)
	require.Len(t, txns["data"], 1)
	txn := r.ok("GET", "/v1/transactions/"+auth.ID, nil)
	assert.Equal(t, "approved", txn["status"])
	assert.NotEmpty(t, txn["checks"])
	assert.NotEmpty(t, txn["risk_signals"])
	assert.Equal(t, spent.ID, txn["intent_id"])

	// The ledger.
	assert.EqualValues(t, 2500, r.ok("GET", "/v1/users/"+userID+"/balance", nil)["pending"])
	verify := r.ok("GET", "/v1/ledger/verify", nil)
	assert.Equal(t, true, verify["ok"])

	// Webhooks.
	wh := r.ok("POST", "/v1/webhook_endpoints", map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"card.frozen"}})
	assert.NotEmpty(t, wh["secret"], "the signing secret is shown once, at creation")
	whID := wh["id"].(string)
	listed := r.ok("GET", "/v1/webhook_endpoints", nil)["data"].([]any)
	require.Len(t, listed, 1)
	assert.NotContains(t, listed[0], "secret")
	r.ok("POST", "/v1/cards/"+cardID+"/freeze", nil)
	events := r.ok("GET", "/v1/events?type=card.frozen", nil)["data"].([]any)
	require.NotEmpty(t, events)
	eventID := events[0].(map[string]any)["id"].(string)
	dels := r.ok("GET", "/v1/webhook_deliveries?endpoint_id="+whID, nil)["data"].([]any)
	require.Len(t, dels, 1)
	assert.Equal(t, eventID, dels[0].(map[string]any)["event_id"])
	replayed := r.ok("POST", "/v1/events/"+eventID+"/replay", map[string]any{"endpoint": whID})["data"].([]any)
	assert.Len(t, replayed, 1)
	assert.NotNil(t, r.ok("DELETE", "/v1/webhook_endpoints/"+whID, nil)["removed_at"])

	// Settings and the sweep.
	assert.Equal(t, "UTC", r.ok("GET", "/v1/settings", nil)["timezone"])
	change := r.ok("PUT", "/v1/settings/timezone", map[string]any{"timezone": "Europe/Berlin"})
	assert.Equal(t, "UTC", change["from"])
	assert.Equal(t, "Europe/Berlin", r.ok("GET", "/v1/settings", nil)["timezone"])
	assert.Contains(t, r.ok("POST", "/v1/ledger/sweep", nil), "holds")

	// Keys.
	k := r.ok("POST", "/v1/keys", map[string]any{"role": "agent", "agent": "checkout-bot", "name": "bot"})
	secret := k["key"].(string)
	assert.True(t, strings.HasPrefix(secret, "al_"), secret)
	keys := r.call("GET", "/v1/keys?limit=100", r.admin, nil)
	require.Equal(t, http.StatusOK, keys.status)
	assert.NotContains(t, string(keys.body), secret, "a key's secret is shown only at creation")
	assert.NotEmpty(t, r.ok("POST", "/v1/keys/"+k["id"].(string)+"/revoke", nil)["revoked_at"])
}

// TestOpenAPIIsServed checks the served document is the one the tests
// check answers against.
func TestOpenAPIIsServed(t *testing.T) {
	r := newRig(t, api.Options{})
	ops := r.doc.Operations()
	assert.Contains(t, ops, "POST /v1/agents/{agent}/cards")
	assert.Contains(t, ops, "POST /api/v1/actions/check")
	raw := r.call("GET", "/v1/openapi.json", r.viewer, nil)
	require.Equal(t, http.StatusOK, raw.status)
	m := raw.json(t)
	assert.Equal(t, "3.1.0", m["openapi"])
	assert.Len(t, m["paths"], len(pathsOf(ops)), "the served document is the one the tests check against")
}

func pathsOf(ops []string) map[string]bool {
	out := map[string]bool{}
	for _, op := range ops {
		out[strings.SplitN(op, " ", 2)[1]] = true
	}
	return out
}
