package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cardNow is a card as the engine has it.
func (r *rig) cardNow(c *engine.Card) *engine.Card {
	r.t.Helper()
	got, err := r.env.Engine.GetCard(r.env.Ctx, engine.Operator, c.ID)
	require.NoError(r.t, err)
	return got
}

// otherAgent is a second agent of the rig's user.
func (r *rig) otherAgent(name string) *engine.Agent {
	r.t.Helper()
	u, err := r.env.Engine.GetUser(r.env.Ctx, engine.Operator, r.agent.UserID)
	require.NoError(r.t, err)
	return r.env.Agent(name, u, engine.Policy{})
}

func TestTheCardsList(t *testing.T) {
	r := newRig(t)
	mine, theirs := r.env.Card(r.agent), r.env.Card(r.otherAgent("research-bot"))
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/cards", nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, "•••• "+mine.Last4)
	assert.Contains(t, p.body, "•••• "+theirs.Last4)
	assert.Contains(t, p.body, "research-bot")
	assert.Contains(t, p.body, `formaction="/cards/`+mine.ID+`/freeze"`)
	assert.Contains(t, p.body, `action="/cards/freeze-all"`)
	assert.NotContains(t, p.body, "Next page")

	one := b.do("GET", "/cards?agent_id="+r.agent.ID, nil)
	require.Equal(t, http.StatusOK, one.status)
	assert.Contains(t, one.body, mine.ID)
	assert.NotContains(t, one.body, theirs.ID, "one agent's cards")
	assert.Contains(t, one.body, `name="back" value="/cards?agent_id=`+r.agent.ID+`"`)
	assert.Equal(t, http.StatusNotFound, b.do("GET", "/cards?agent_id=nosuch", nil).status)
	assert.Equal(t, http.StatusBadRequest, b.do("GET", "/cards?starting_after=agt_x", nil).status)
}

func TestTheCardsListPages(t *testing.T) {
	r := newRig(t)
	var last *engine.Card
	for range 51 {
		last = r.env.Card(r.agent)
	}
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/cards?agent_id="+r.agent.ID, nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, 50, strings.Count(p.body, `<tr id="card-`))
	i := strings.Index(p.body, `rel="next"`)
	require.Positive(t, i)
	start := strings.LastIndex(p.body[:i], `href="`) + len(`href="`)
	next := html.UnescapeString(p.body[start : i-2])
	assert.Contains(t, next, "agent_id="+r.agent.ID, "the next page keeps the filter")
	p = b.do("GET", next, nil)
	require.Equal(t, http.StatusOK, p.status, next)
	assert.Equal(t, 1, strings.Count(p.body, `<tr id="card-`))
	assert.Contains(t, p.body, last.ID)
}

func TestFreezeUnfreezeAndCloseACard(t *testing.T) {
	r := newRig(t)
	card := r.env.Card(r.agent)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	token := b.csrf()
	post := func(action string, extra url.Values) page {
		f := url.Values{"csrf": {token}, "back": {"/agents/" + r.agent.ID}}
		for k, v := range extra {
			f[k] = v
		}
		return b.do("POST", "/cards/"+card.ID+"/"+action, f)
	}

	assert.Equal(t, http.StatusForbidden, b.do("POST", "/cards/"+card.ID+"/freeze", url.Values{}).status, "no CSRF token")
	assert.Equal(t, engine.CardActive, r.cardNow(card).Status)

	p := post("freeze", nil)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	assert.Equal(t, "/agents/"+r.agent.ID, p.location, "back where the button was")
	got := r.cardNow(card)
	assert.Equal(t, engine.CardFrozen, got.Status)
	list := b.do("GET", "/cards", nil).body
	assert.Contains(t, list, got.FrozenBy, "who froze it")
	assert.Contains(t, list, `formaction="/cards/`+card.ID+`/unfreeze"`)
	assert.NotContains(t, list, `formaction="/cards/`+card.ID+`/freeze"`)

	require.Equal(t, http.StatusSeeOther, post("unfreeze", nil).status)
	assert.Equal(t, engine.CardActive, r.cardNow(card).Status)
	assert.Empty(t, r.cardNow(card).FrozenBy)

	ask := post("close", nil)
	require.Equal(t, http.StatusOK, ask.status, "closing asks first")
	assert.Contains(t, ask.body, "Close card •••• "+card.Last4+"?")
	assert.Contains(t, ask.body, `name="confirmed" value="yes"`)
	assert.Contains(t, ask.body, `<a href="/agents/`+r.agent.ID+`">Cancel</a>`)
	assert.Equal(t, engine.CardActive, r.cardNow(card).Status, "nothing closed yet")
	confirm := form(t, ask.body, "/cards/"+card.ID+"/close")
	require.Equal(t, http.StatusSeeOther, b.do("POST", "/cards/"+card.ID+"/close", confirm).status)
	assert.Equal(t, engine.CardClosed, r.cardNow(card).Status)
	assert.NotContains(t, b.do("GET", "/cards", nil).body, `formaction="/cards/`+card.ID+`/`, "a closed card has no buttons")

	again := post("freeze", nil)
	assert.Equal(t, http.StatusConflict, again.status)
	assert.Contains(t, again.body, `role="alert"`)
	assert.Contains(t, again.body, "is closed")

	r2 := r.env.Card(r.agent)
	p = b.do("POST", "/cards/"+r2.ID+"/freeze", url.Values{"csrf": {token}, "back": {"//evil.example/x"}})
	assert.Equal(t, "/cards", p.location, "a return address off the site is ignored")
	p = b.do("POST", "/cards/"+r2.ID+"/unfreeze", url.Values{"csrf": {token}, "back": {"https://evil.example/"}})
	assert.Equal(t, "/cards", p.location)
	assert.Equal(t, http.StatusNotFound, b.do("POST", "/cards/"+r2.ID+"/melt", url.Values{"csrf": {token}}).status)
}

func TestFreezeEveryCardOfAnAgent(t *testing.T) {
	r := newRig(t)
	other := r.otherAgent("research-bot")
	a, c, theirs := r.env.Card(r.agent), r.env.Card(r.agent), r.env.Card(other)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/agents/"+r.agent.ID, nil)
	ask := b.do("POST", "/agents/"+r.agent.ID+"/freeze-cards", form(t, p.body, "/agents/"+r.agent.ID+"/freeze-cards"))
	require.Equal(t, http.StatusOK, ask.status, ask.body)
	assert.Contains(t, ask.body, "Freeze every card of checkout-bot?")
	assert.Equal(t, engine.CardActive, r.cardNow(a).Status, "nothing frozen before the confirmation")
	done := b.do("POST", "/agents/"+r.agent.ID+"/freeze-cards", form(t, ask.body, "/agents/"+r.agent.ID+"/freeze-cards"))
	require.Equal(t, http.StatusSeeOther, done.status, done.body)
	assert.Equal(t, "/agents/"+r.agent.ID, done.location)
	assert.Equal(t, engine.CardFrozen, r.cardNow(a).Status)
	assert.Equal(t, engine.CardFrozen, r.cardNow(c).Status)
	assert.Equal(t, engine.CardActive, r.cardNow(theirs).Status, "another agent's card is untouched")
	assert.Contains(t, b.do("GET", "/agents/"+r.agent.ID, nil).body, r.cardNow(a).FrozenBy)
}

func TestFreezeEveryCard(t *testing.T) {
	r := newRig(t)
	other := r.otherAgent("research-bot")
	a, theirs, closed := r.env.Card(r.agent), r.env.Card(other), r.env.Card(other)
	_, err := r.env.Engine.CloseCard(r.env.Ctx, engine.Operator, engine.CardActionInput{CardID: closed.ID})
	require.NoError(t, err)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/cards", nil)
	ask := b.do("POST", "/cards/freeze-all", form(t, p.body, "/cards/freeze-all"))
	require.Equal(t, http.StatusOK, ask.status, ask.body)
	assert.Contains(t, ask.body, "Freeze every card?")
	assert.Equal(t, engine.CardActive, r.cardNow(a).Status, "nothing frozen before the confirmation")
	done := b.do("POST", "/cards/freeze-all", form(t, ask.body, "/cards/freeze-all"))
	require.Equal(t, http.StatusSeeOther, done.status, done.body)
	assert.Equal(t, "/cards", done.location)
	assert.Equal(t, engine.CardFrozen, r.cardNow(a).Status)
	assert.Equal(t, engine.CardFrozen, r.cardNow(theirs).Status)
	assert.Equal(t, engine.CardClosed, r.cardNow(closed).Status)
	assert.Equal(t, 2, strings.Count(b.do("GET", "/cards", nil).body, r.cardNow(a).FrozenBy+"<br>"), "both show who froze them")
}

func TestAViewerSeesTheCardsAndChangesNothing(t *testing.T) {
	r := newRig(t)
	card := r.env.Card(r.agent)
	_, err := r.env.Engine.FreezeCard(r.env.Ctx, sqlitetest.AgentActor(r.agent), engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	active := r.env.Card(r.agent)
	b := r.browser()
	b.signIn(engine.RoleViewer)
	p := b.do("GET", "/cards", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "•••• "+card.Last4)
	assert.Contains(t, p.body, "agent:"+r.agent.ID, "who froze it")
	assert.NotContains(t, p.body, "formaction", "no buttons for a viewer")
	assert.NotContains(t, p.body, "/freeze-all")

	token := b.csrf()
	for _, path := range []string{"/cards/" + active.ID + "/freeze", "/cards/" + card.ID + "/unfreeze", "/cards/" + active.ID + "/close",
		"/cards/freeze-all"} {
		p := b.do("POST", path, url.Values{"csrf": {token}, "confirmed": {"yes"}})
		assert.Equal(t, http.StatusForbidden, p.status, path)
		assert.Contains(t, p.body, `role="alert"`, path)
	}
	unasked := b.do("POST", "/cards/"+active.ID+"/close", url.Values{"csrf": {token}})
	assert.Equal(t, http.StatusForbidden, unasked.status, "a viewer is not offered a confirmation button")
	assert.NotContains(t, unasked.body, "confirmed")
	assert.Equal(t, engine.CardFrozen, r.cardNow(card).Status)
	assert.Equal(t, engine.CardActive, r.cardNow(active).Status)
}
