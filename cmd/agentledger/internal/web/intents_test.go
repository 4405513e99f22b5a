package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/web"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// declare makes the rig's agent declare an intent, as its own key would,
// naming its client.
func (r *rig) declare(summary string, amount int64) *engine.Intent {
	r.t.Helper()
	actor := sqlitetest.AgentActor(r.agent)
	actor.ClientName, actor.ClientVersion = "claude-desktop", "1.2.3"
	i, err := r.env.Engine.DeclareIntent(r.env.Ctx, actor, engine.DeclareIntentInput{Summary: summary, Amount: amount, Merchant: "AWS"})
	require.NoError(r.t, err)
	return i
}

func (r *rig) intent(id string) *engine.Intent {
	r.t.Helper()
	i, err := r.env.Engine.GetIntent(r.env.Ctx, engine.Operator, id)
	require.NoError(r.t, err)
	return i
}

func TestIntentsListAndFilter(t *testing.T) {
	r := newRig(t)
	gpu := r.declare("A GPU hour", 30_00)
	big := r.declare("A new server", 500_00) // above the threshold: awaiting approval
	require.Equal(t, engine.IntentAwaitingApproval, big.Status)
	b := r.browser()
	b.signIn(engine.RoleViewer)
	body := b.get("/intents")
	for _, want := range []string{"A GPU hour", "A new server", "$30.00", "$500.00", "checkout-bot", `href="/intents/` + gpu.ID + `"`} {
		assert.Contains(t, body, want)
	}
	assert.Less(t, strings.Index(body, gpu.ID), strings.Index(body, big.ID), "oldest first, as the engine lists them")

	body = b.get("/intents?status=awaiting_approval")
	assert.Contains(t, body, "intent-"+big.ID)
	assert.NotContains(t, body, "intent-"+gpu.ID)
	assert.Contains(t, body, `value="awaiting_approval" selected`)
	body = b.get("/intents?agent_id=checkout-bot&status=pending")
	assert.Contains(t, body, "intent-"+gpu.ID)
	assert.NotContains(t, body, "intent-"+big.ID)

	s := r.shop("other-bot")
	assert.Contains(t, b.get("/intents?agent_id="+s.agent.ID), "No intents match.")
	bad := b.do("GET", "/intents?status=nope", nil)
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, bad.body, `role="alert"`)
}

func TestIntentsPaginate(t *testing.T) {
	web.SetRecordsPageSize(t, 2)
	r := newRig(t)
	var ids []string
	for range 5 {
		ids = append(ids, r.declare("Tokens", 1_00).ID)
	}
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	seen := 0
	for path, pages := "/intents", 0; path != ""; pages++ {
		require.Less(t, pages, 5)
		body := b.get(path)
		for _, id := range ids {
			if strings.Contains(body, "intent-"+id) {
				seen++
			}
		}
		path = next(body)
	}
	assert.Equal(t, 5, seen)
}

func TestAnIntentPageAndCancel(t *testing.T) {
	r := newRig(t)
	i := r.declare("A GPU hour for the nightly run", 30_00)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	body := b.get("/intents/" + i.ID)
	for _, want := range []string{"A GPU hour for the nightly run", "$30.00", "AWS", "pending", "claude-desktop", "1.2.3", r.agent.ID,
		`action="/intents/` + i.ID + `/cancel"`} {
		assert.Contains(t, body, want)
	}

	assert.Equal(t, http.StatusForbidden, b.do("POST", "/intents/"+i.ID+"/cancel", url.Values{}).status, "no CSRF token")
	assert.Equal(t, engine.IntentPending, r.intent(i.ID).Status, "a refused form changed nothing")
	p := b.do("POST", "/intents/"+i.ID+"/cancel", url.Values{"csrf": {b.csrf()}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	assert.Equal(t, "/intents/"+i.ID, p.location)
	assert.Equal(t, engine.IntentCancelled, r.intent(i.ID).Status)
	body = b.get("/intents/" + i.ID)
	assert.Contains(t, body, "cancelled")
	assert.NotContains(t, body, "/cancel", "a cancelled intent has no button")

	card := r.env.Card(r.agent)
	used := r.env.Reveal(r.agent, card, 20_00, "AWS")
	r.env.Charge(card, 20_00, "AWS", "")
	require.Equal(t, engine.IntentMatched, r.intent(used.ID).Status)
	again := b.do("POST", "/intents/"+used.ID+"/cancel", url.Values{"csrf": {b.csrf()}})
	assert.Equal(t, http.StatusConflict, again.status, "a used intent cannot be cancelled")
	assert.Contains(t, again.body, `role="alert"`)
	assert.Contains(t, again.body, "can no longer be cancelled")

	assert.Equal(t, http.StatusNotFound, b.do("GET", "/intents/int_nosuch", nil).status)
}

func TestAViewerCannotCancelAnIntent(t *testing.T) {
	r := newRig(t)
	i := r.declare("A GPU hour", 30_00)
	b := r.browser()
	b.signIn(engine.RoleViewer)
	body := b.get("/intents/" + i.ID)
	assert.Contains(t, body, "A GPU hour")
	assert.NotContains(t, body, "/cancel", "no button for a viewer")
	forged := b.do("POST", "/intents/"+i.ID+"/cancel", url.Values{"csrf": {b.csrf()}})
	assert.Equal(t, http.StatusForbidden, forged.status)
	assert.Equal(t, engine.IntentPending, r.intent(i.ID).Status)
}
