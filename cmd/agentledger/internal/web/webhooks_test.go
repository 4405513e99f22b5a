package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/web"
	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (r *rig) webhook(u string, events ...string) *engine.NewWebhook {
	r.t.Helper()
	w, err := r.env.Engine.AddWebhook(r.env.Ctx, engine.Operator, engine.AddWebhookInput{URL: u, Events: events})
	require.NoError(r.t, err)
	return w
}

func (r *rig) events() []*engine.Event {
	r.t.Helper()
	l, err := r.env.Engine.ListEvents(r.env.Ctx, engine.Operator, engine.ListEventsInput{})
	require.NoError(r.t, err)
	return l.Items
}

func (r *rig) deliveries(eventID string) []*engine.Delivery {
	r.t.Helper()
	l, err := r.env.Engine.ListDeliveries(r.env.Ctx, engine.Operator, engine.ListDeliveriesInput{EventID: eventID})
	require.NoError(r.t, err)
	return l.Items
}

func TestTheWebhooksPage(t *testing.T) {
	r := newRig(t)
	all := r.webhook("https://hooks.example.com/all")
	some := r.webhook("https://hooks.example.com/intents", engine.EventIntentCancelled)
	i := r.declare("A GPU hour", 30_00)
	_, err := r.env.Engine.CancelIntent(r.env.Ctx, engine.Operator, engine.CancelIntentInput{IntentID: i.ID})
	require.NoError(t, err)
	events := r.events()
	require.NotEmpty(t, events)
	deliveries := 0
	for _, ev := range events {
		deliveries += len(r.deliveries(ev.ID))
	}
	require.Greater(t, deliveries, 1)

	b := r.browser()
	b.signIn(engine.RoleAdmin)
	body := b.get("/webhooks")
	for _, want := range []string{"https://hooks.example.com/all", "every event", "https://hooks.example.com/intents",
		engine.EventIntentCancelled, "pending"} {
		assert.Contains(t, body, want)
	}
	for _, ev := range events {
		assert.Contains(t, body, `action="/webhooks/events/`+ev.ID+`/replay"`)
	}
	assert.Equal(t, deliveries, strings.Count(body, `class="delivery"`))

	body = b.get("/webhooks?endpoint_id=" + some.ID)
	assert.Equal(t, 1, strings.Count(body, `class="delivery"`), "the second endpoint's")
	assert.Contains(t, body, `value="`+some.ID+`"`)
	assert.Equal(t, 0, strings.Count(b.get("/webhooks?status=delivered"), `class="delivery"`))
	assert.Equal(t, deliveries, strings.Count(b.get("/webhooks?status=pending"), `class="delivery"`))
	bad := b.do("GET", "/webhooks?status=nope", nil)
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, bad.body, `role="alert"`)
	assert.Equal(t, deliveries-1, strings.Count(b.get("/webhooks?endpoint_id="+all.ID), `class="delivery"`))
}

func TestReplayAnEvent(t *testing.T) {
	r := newRig(t)
	w := r.webhook("https://hooks.example.com/all")
	r.declare("A GPU hour", 30_00)
	ev := r.events()[0]
	before := r.deliveries(ev.ID)
	require.Len(t, before, 1)
	r.env.Clock.Advance(time.Hour)

	viewer := r.browser()
	viewer.signIn(engine.RoleViewer)
	body := viewer.get("/webhooks")
	assert.Contains(t, body, ev.ID)
	assert.NotContains(t, body, "/replay", "no buttons for a viewer")
	forged := viewer.do("POST", "/webhooks/events/"+ev.ID+"/replay", url.Values{"csrf": {viewer.csrf()}})
	assert.Equal(t, http.StatusForbidden, forged.status)
	assert.Equal(t, before, r.deliveries(ev.ID), "a viewer's replay changed nothing")

	b := r.browser()
	b.signIn(engine.RoleAdmin)
	assert.Equal(t, http.StatusForbidden, b.do("POST", "/webhooks/events/"+ev.ID+"/replay", url.Values{}).status, "no CSRF token")
	assert.Equal(t, before, r.deliveries(ev.ID))
	p := b.do("POST", "/webhooks/events/"+ev.ID+"/replay", url.Values{"csrf": {b.csrf()}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	assert.Equal(t, "/webhooks", p.location)
	after := r.deliveries(ev.ID)
	require.Len(t, after, 1)
	assert.Equal(t, w.ID, after[0].EndpointID)
	assert.True(t, after[0].NextAttemptAt.After(before[0].NextAttemptAt), "queued afresh, due now")

	missing := b.do("POST", "/webhooks/events/evt_nosuch/replay", url.Values{"csrf": {b.csrf()}})
	assert.Equal(t, http.StatusNotFound, missing.status)
	assert.Contains(t, missing.body, `role="alert"`)
}

func TestWebhookListsPaginate(t *testing.T) {
	web.SetRecordsPageSize(t, 2)
	r := newRig(t)
	for _, u := range []string{"https://a.example.com", "https://b.example.com", "https://c.example.com"} {
		r.webhook(u)
	}
	for range 3 {
		r.declare("Tokens", 1_00)
	}
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	body := b.get("/webhooks")
	assert.NotContains(t, body, "https://c.example.com")
	for _, param := range []string{"endpoints_after", "deliveries_after", "events_after"} {
		assert.Contains(t, body, param+"=", "each list has its own next link")
	}
	m := regexpNext(body, "More endpoints")
	require.NotEmpty(t, m)
	assert.Contains(t, b.get(m), "https://c.example.com")
}
