package api_test

import (
	"net/http"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/engine/issuertest"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Cards at a real issuer through the REST API: create, the agent's default
// issuer, a failing issuer, a freeze that waits in the queue, and the sync.
func TestIssuerCards(t *testing.T) {
	stripe := issuertest.New(engine.IssuerStripe)
	env := sqlitetest.NewWith(t, sqlitetest.Options{Engine: engine.Options{Issuers: []engine.CardIssuer{stripe}}})
	r := newRigOn(t, env, api.Options{})
	_, agent, _ := env.Setup(10_000, engine.Policy{})

	card := r.ok(http.MethodPost, "/v1/agents/"+agent.ID+"/cards", map[string]any{"issuer": "stripe"})
	assert.Equal(t, "stripe", card["issuer"])
	assert.Regexp(t, `^ic_`, card["issuer_card_id"])
	assert.NotContains(t, card, "pan")

	got := r.call(http.MethodPost, "/v1/agents/"+agent.ID+"/cards", r.admin, map[string]any{"issuer": "lithic"})
	assert.Equal(t, http.StatusBadRequest, got.status, string(got.body))
	assert.Equal(t, "issuer", got.json(t)["error"].(map[string]any)["field"], "lithic is not configured here")

	stripe.Fail("CreateCard", issuertest.Refused)
	got = r.call(http.MethodPost, "/v1/agents/"+agent.ID+"/cards", r.admin, map[string]any{"issuer": "stripe"})
	assert.Equal(t, http.StatusBadGateway, got.status, string(got.body))
	assert.Equal(t, engine.CodeIssuerRefused, got.code(t))
	stripe.Fail("CreateCard", issuertest.Unreached, issuertest.Unreached)
	got = r.call(http.MethodPost, "/v1/agents/"+agent.ID+"/cards", r.admin, map[string]any{"issuer": "stripe"})
	assert.Equal(t, http.StatusServiceUnavailable, got.status, string(got.body))
	assert.Equal(t, engine.CodeIssuerUnavailable, got.code(t))

	a := r.ok(http.MethodPatch, "/v1/agents/"+agent.ID, map[string]any{"default_issuer": "stripe"})
	assert.Equal(t, "stripe", a["default_issuer"])
	byDefault := r.ok(http.MethodPost, "/v1/agents/"+agent.ID+"/cards", map[string]any{})
	assert.Equal(t, "stripe", byDefault["issuer"])
	both := r.call(http.MethodPatch, "/v1/agents/"+agent.ID, r.admin, map[string]any{"default_issuer": "none", "mode": "live"})
	assert.Equal(t, http.StatusBadRequest, both.status)
	a = r.ok(http.MethodPatch, "/v1/agents/"+agent.ID, map[string]any{"default_issuer": "none"})
	assert.NotContains(t, a, "default_issuer")

	stripe.Fail("UpdateCard", issuertest.Unreached)
	frozen := r.ok(http.MethodPost, "/v1/cards/"+card["id"].(string)+"/freeze", nil)
	assert.Equal(t, "frozen", frozen["status"], "the freeze happens here at once")
	assert.Contains(t, frozen["issuer_sync"], "pending: ")

	dry := r.ok(http.MethodPost, "/v1/issuers/sync", map[string]any{"dry_run": true})
	require.Len(t, dry["queued"], 2)
	kinds := map[string]bool{}
	for _, q := range dry["queued"].([]any) {
		kinds[q.(map[string]any)["kind"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"change": true, "cancel_abandoned": true}, kinds,
		"the freeze, and the card whose create got no answer")
	synced := r.ok(http.MethodPost, "/v1/issuers/sync", nil)
	assert.Empty(t, synced["queued"])
	at, _ := stripe.Card(card["issuer_card_id"].(string))
	assert.Equal(t, engine.CardFrozen, at.Status)

	viewer := r.call(http.MethodPost, "/v1/issuers/sync", r.viewer, nil)
	assert.Equal(t, http.StatusForbidden, viewer.status)
}
