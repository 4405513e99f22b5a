package engine_test

import (
	"fmt"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pageThrough reads a list two at a time and checks that the pages give
// want in order, each but the last saying more follow; and that a limit of
// 0 gives everything at once.
func pageThrough[T any](t *testing.T, want []string, id func(*T) string, list func(engine.Page) (engine.List[T], error)) {
	t.Helper()
	require.NotEmpty(t, want)
	var got []string
	page := engine.Page{Limit: 2}
	for n := 0; ; n++ {
		require.Less(t, n, len(want), "too many pages")
		l, err := list(page)
		require.NoError(t, err)
		require.NotEmpty(t, l.Items)
		require.LessOrEqual(t, len(l.Items), 2)
		for _, v := range l.Items {
			got = append(got, id(v))
		}
		last := len(got) >= len(want)
		assert.Equal(t, !last, l.HasMore, "page %d", n)
		if !l.HasMore {
			break
		}
		page.StartingAfter = id(l.Items[len(l.Items)-1])
	}
	assert.Equal(t, want, got)
	all, err := list(engine.Page{})
	require.NoError(t, err)
	assert.False(t, all.HasMore)
	assert.Len(t, all.Items, len(want))
}

func ids[T any](list []*T, id func(*T) string) []string {
	out := []string{}
	for _, v := range list {
		out = append(out, id(v))
	}
	return out
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// pagingRig has five objects of every kind for one agent, "mine", with
// objects of another agent made between them, and webhook endpoints that
// receive the user.approved events (and three that receive nothing).
type pagingRig struct {
	env                                       *sqlitetest.Env
	mine, other                               *engine.Agent
	users, agents, keys, endpoints            []string
	cards, intents, decisions, authorizations []string // mine, oldest first
	approvedEvents                            []string // user.approved, oldest first
	deliveries                                []string // of approvedEvents to endpoints[:2], newest event first
}

func newPagingRig(t *testing.T) *pagingRig {
	env := sqlitetest.New(t)
	r := &pagingRig{env: env}
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	for i := range 2 {
		w, err := e.AddWebhook(ctx, op, engine.AddWebhookInput{URL: fmt.Sprintf("https://hooks.example/%d", i), Events: []string{engine.EventUserApproved}})
		require.NoError(t, err)
		r.endpoints = append(r.endpoints, w.ID)
	}
	for i := 2; i < 5; i++ {
		w, err := e.AddWebhook(ctx, op, engine.AddWebhookInput{URL: fmt.Sprintf("https://hooks.example/%d", i), Events: []string{engine.EventIssuerFallback}})
		require.NoError(t, err)
		r.endpoints = append(r.endpoints, w.ID)
	}
	policy := engine.Policy{ApprovalThreshold: ptr(5000)}
	owner := env.User("owner", 1_000_000)
	r.users = append(r.users, owner.ID)
	r.mine, r.other = env.Agent("mine", owner, policy), env.Agent("other", owner, policy)
	r.agents = append(r.agents, r.mine.ID, r.other.ID)
	for i := range 4 {
		u := env.User(fmt.Sprintf("user-%d", i), 0)
		r.users = append(r.users, u.ID)
		r.agents = append(r.agents, env.Agent(fmt.Sprintf("agent-%d", i), u, policy).ID)
	}
	events, err := e.ListEvents(ctx, op, engine.ListEventsInput{Type: engine.EventUserApproved})
	require.NoError(t, err)
	r.approvedEvents = reversed(ids(events.Items, func(ev *engine.Event) string { return ev.ID }))
	for _, ev := range reversed(r.approvedEvents) {
		for _, w := range r.endpoints[:2] {
			r.deliveries = append(r.deliveries, engine.DeliveryID(ev, w))
		}
	}
	for range 5 {
		k, err := e.CreateKey(ctx, op, engine.CreateKeyInput{Role: engine.RoleViewer})
		require.NoError(t, err)
		r.keys = append(r.keys, k.ID)
	}
	for _, a := range []*engine.Agent{r.mine, r.other, r.mine, r.other, r.mine, r.mine, r.other, r.mine} {
		c := env.Card(a)
		if a == r.mine {
			r.cards = append(r.cards, c.ID)
		}
	}
	for i, a := range []*engine.Agent{r.other, r.mine, r.mine, r.other, r.mine, r.mine, r.other, r.mine} {
		// above the threshold: each intent waits on a decision
		in := declare(t, env, a, engine.DeclareIntentInput{Amount: 8000, Summary: fmt.Sprintf("purchase %d", i)})
		if a == r.mine {
			r.intents, r.decisions = append(r.intents, in.ID), append(r.decisions, in.DecisionID)
		}
		card, err := e.ListCards(ctx, op, a.ID, engine.Page{Limit: 1})
		require.NoError(t, err)
		auth := env.Charge(card.Items[0], 1000, "Shop", "")
		if a == r.mine {
			r.authorizations = append(r.authorizations, auth.ID)
		}
	}
	return r
}

func TestPagination(t *testing.T) {
	r := newPagingRig(t)
	e, ctx, op := r.env.Engine, r.env.Ctx, engine.Operator
	mine := sqlitetest.AgentActor(r.mine)
	cardID := func(c *engine.Card) string { return c.ID }
	intentID := func(i *engine.Intent) string { return i.ID }
	decisionID := func(d *engine.Decision) string { return d.ID }
	authID := func(a *engine.Authorization) string { return a.ID }

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"users", func(t *testing.T) {
			pageThrough(t, r.users, func(u *engine.User) string { return u.ID }, func(p engine.Page) (engine.List[engine.User], error) {
				return e.ListUsers(ctx, op, p)
			})
		}},
		{"agents", func(t *testing.T) {
			pageThrough(t, r.agents, func(a *engine.Agent) string { return a.ID }, func(p engine.Page) (engine.List[engine.Agent], error) {
				return e.ListAgents(ctx, op, "", p)
			})
		}},
		{"agents, as an agent", func(t *testing.T) {
			pageThrough(t, []string{r.mine.ID}, func(a *engine.Agent) string { return a.ID }, func(p engine.Page) (engine.List[engine.Agent], error) {
				return e.ListAgents(ctx, mine, "", p)
			})
			after, err := e.ListAgents(ctx, mine, "", engine.Page{Limit: 2, StartingAfter: r.mine.ID})
			require.NoError(t, err)
			assert.Empty(t, after.Items)
			assert.False(t, after.HasMore)
		}},
		{"keys", func(t *testing.T) {
			pageThrough(t, r.keys, func(k *engine.APIKey) string { return k.ID }, func(p engine.Page) (engine.List[engine.APIKey], error) {
				return e.ListKeys(ctx, op, p)
			})
		}},
		{"webhooks", func(t *testing.T) {
			pageThrough(t, r.endpoints, func(w *engine.WebhookEndpoint) string { return w.ID }, func(p engine.Page) (engine.List[engine.WebhookEndpoint], error) {
				return e.ListWebhooks(ctx, op, p)
			})
		}},
		{"cards of an agent", func(t *testing.T) {
			pageThrough(t, r.cards, cardID, func(p engine.Page) (engine.List[engine.Card], error) { return e.ListCards(ctx, op, r.mine.ID, p) })
		}},
		{"cards, as an agent", func(t *testing.T) {
			pageThrough(t, r.cards, cardID, func(p engine.Page) (engine.List[engine.Card], error) { return e.ListCards(ctx, mine, "", p) })
		}},
		{"intents of an agent", func(t *testing.T) {
			pageThrough(t, r.intents, intentID, func(p engine.Page) (engine.List[engine.Intent], error) {
				return e.ListIntents(ctx, op, engine.ListIntentsInput{Agent: r.mine.ID, Page: p})
			})
		}},
		{"intents, as an agent, by status", func(t *testing.T) {
			pageThrough(t, r.intents, intentID, func(p engine.Page) (engine.List[engine.Intent], error) {
				return e.ListIntents(ctx, mine, engine.ListIntentsInput{Status: engine.IntentAwaitingApproval, Page: p})
			})
		}},
		{"approvals of an agent", func(t *testing.T) {
			pageThrough(t, r.decisions, decisionID, func(p engine.Page) (engine.List[engine.Decision], error) {
				return e.ListApprovals(ctx, op, engine.ListApprovalsInput{Agent: r.mine.ID, Page: p})
			})
		}},
		{"approvals, as an agent, of every status", func(t *testing.T) {
			pageThrough(t, r.decisions, decisionID, func(p engine.Page) (engine.List[engine.Decision], error) {
				return e.ListApprovals(ctx, mine, engine.ListApprovalsInput{Status: "all", Page: p})
			})
		}},
		{"authorizations of an agent, newest first", func(t *testing.T) {
			pageThrough(t, reversed(r.authorizations), authID, func(p engine.Page) (engine.List[engine.Authorization], error) {
				return e.ListAuthorizations(ctx, op, engine.ListAuthorizationsInput{Agent: r.mine.ID, Page: p})
			})
		}},
		{"authorizations, as an agent", func(t *testing.T) {
			pageThrough(t, reversed(r.authorizations), authID, func(p engine.Page) (engine.List[engine.Authorization], error) {
				return e.ListAuthorizations(ctx, mine, engine.ListAuthorizationsInput{Status: engine.AuthDeclined, Page: p})
			})
		}},
		{"events of a type, newest first", func(t *testing.T) {
			pageThrough(t, reversed(r.approvedEvents), func(ev *engine.Event) string { return ev.ID }, func(p engine.Page) (engine.List[engine.Event], error) {
				return e.ListEvents(ctx, op, engine.ListEventsInput{Type: engine.EventUserApproved, Page: p})
			})
		}},
		{"deliveries, newest event first, then by endpoint", func(t *testing.T) {
			pageThrough(t, r.deliveries, func(d *engine.Delivery) string { return d.ID }, func(p engine.Page) (engine.List[engine.Delivery], error) {
				l, err := e.ListDeliveries(ctx, op, engine.ListDeliveriesInput{Page: p})
				for _, d := range l.Items {
					assert.Equal(t, engine.DeliveryID(d.EventID, d.EndpointID), d.ID)
				}
				return l, err
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// A cursor shaped like an id but naming nothing starts where it would sit
// in the order.
func TestPageCursorNamingNothing(t *testing.T) {
	r := newPagingRig(t)
	e, ctx, op := r.env.Engine, r.env.Ctx, engine.Operator
	const lowest, highest = "00000000-0000-7000-8000-000000000000", "ffffffff-ffff-7fff-bfff-ffffffffffff"

	users, err := e.ListUsers(ctx, op, engine.Page{StartingAfter: engine.PrefixUser + lowest})
	require.NoError(t, err)
	assert.Len(t, users.Items, len(r.users))
	users, err = e.ListUsers(ctx, op, engine.Page{StartingAfter: engine.PrefixUser + highest})
	require.NoError(t, err)
	assert.Empty(t, users.Items)

	auths, err := e.ListAuthorizations(ctx, op, engine.ListAuthorizationsInput{Agent: r.mine.ID, Page: engine.Page{StartingAfter: engine.PrefixAuthorization + highest}})
	require.NoError(t, err)
	assert.Len(t, auths.Items, len(r.authorizations))

	// Events are in commit order; a missing event sits by its id.
	events, err := e.ListEvents(ctx, op, engine.ListEventsInput{Type: engine.EventUserApproved, Page: engine.Page{StartingAfter: engine.PrefixEvent + highest}})
	require.NoError(t, err)
	assert.Len(t, events.Items, len(r.approvedEvents))
	events, err = e.ListEvents(ctx, op, engine.ListEventsInput{Page: engine.Page{StartingAfter: engine.PrefixEvent + lowest}})
	require.NoError(t, err)
	assert.Empty(t, events.Items)
	between := r.approvedEvents[2][:len(engine.PrefixEvent)+18] + "-bfff-ffffffffffff" // after the third, before the fourth
	require.Less(t, r.approvedEvents[2], between)
	require.Greater(t, r.approvedEvents[3], between)
	events, err = e.ListEvents(ctx, op, engine.ListEventsInput{Type: engine.EventUserApproved, Page: engine.Page{StartingAfter: between}})
	require.NoError(t, err)
	assert.Equal(t, reversed(r.approvedEvents[:3]), ids(events.Items, func(ev *engine.Event) string { return ev.ID }))

	deliveries, err := e.ListDeliveries(ctx, op, engine.ListDeliveriesInput{Page: engine.Page{StartingAfter: engine.DeliveryID(between, r.endpoints[0])}})
	require.NoError(t, err)
	assert.Equal(t, r.deliveries[2*(len(r.approvedEvents)-3):], ids(deliveries.Items, func(d *engine.Delivery) string { return d.ID }))
}

func TestPageBadLimitOrCursor(t *testing.T) {
	env := sqlitetest.New(t)
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	user := "usr_01900000-0000-7000-8000-000000000000"
	lists := map[string]func(engine.Page) error{
		"users":  func(p engine.Page) error { _, err := e.ListUsers(ctx, op, p); return err },
		"agents": func(p engine.Page) error { _, err := e.ListAgents(ctx, op, "", p); return err },
		"cards":  func(p engine.Page) error { _, err := e.ListCards(ctx, op, "", p); return err },
		"keys":   func(p engine.Page) error { _, err := e.ListKeys(ctx, op, p); return err },
		"webhooks": func(p engine.Page) error {
			_, err := e.ListWebhooks(ctx, op, p)
			return err
		},
		"intents": func(p engine.Page) error {
			_, err := e.ListIntents(ctx, op, engine.ListIntentsInput{Page: p})
			return err
		},
		"approvals": func(p engine.Page) error {
			_, err := e.ListApprovals(ctx, op, engine.ListApprovalsInput{Page: p})
			return err
		},
		"authorizations": func(p engine.Page) error {
			_, err := e.ListAuthorizations(ctx, op, engine.ListAuthorizationsInput{Page: p})
			return err
		},
		"events": func(p engine.Page) error {
			_, err := e.ListEvents(ctx, op, engine.ListEventsInput{Page: p})
			return err
		},
		"deliveries": func(p engine.Page) error {
			_, err := e.ListDeliveries(ctx, op, engine.ListDeliveriesInput{Page: p})
			return err
		},
	}
	bad := []struct {
		name  string
		page  engine.Page
		field string
	}{
		{"negative limit", engine.Page{Limit: -1}, "limit"},
		{"limit above the maximum", engine.Page{Limit: engine.MaxPageLimit + 1}, "limit"},
		{"cursor that is no id", engine.Page{StartingAfter: "bob"}, "starting_after"},
		{"cursor of another type", engine.Page{StartingAfter: "fbk_01900000-0000-7000-8000-000000000000"}, "starting_after"},
	}
	for name, list := range lists {
		for _, b := range bad {
			t.Run(name+": "+b.name, func(t *testing.T) {
				err := list(b.page)
				var ee *engine.Error
				require.ErrorAs(t, err, &ee)
				assert.Equal(t, engine.CodeInvalidInput, ee.Code)
				assert.Equal(t, b.field, ee.Field)
			})
		}
		t.Run(name+": the maximum limit", func(t *testing.T) { assert.NoError(t, list(engine.Page{Limit: engine.MaxPageLimit})) })
	}
	assert.NoError(t, lists["users"](engine.Page{StartingAfter: user}))
	err := lists["deliveries"](engine.Page{StartingAfter: "evt_01900000-0000-7000-8000-000000000000"})
	assert.Equal(t, "starting_after", err.(*engine.Error).Field, "a delivery id names its endpoint too")
}

// A cursor must be an id as the engine writes it: the other spellings
// uuid.Parse takes name the same uuid but sort elsewhere among ids, so a
// page after one would start in the wrong place.
func TestPageCursorMustBeCanonical(t *testing.T) {
	env := sqlitetest.New(t)
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	const u = "01900000-0000-7000-8000-00000000abcd"
	for _, spelling := range []string{
		"01900000-0000-7000-8000-00000000ABCD",
		"{" + u + "}",
		"urn:uuid:" + u,
		"01900000000070008000" + "00000000abcd",
	} {
		t.Run(spelling, func(t *testing.T) {
			_, err := e.ListUsers(ctx, op, engine.Page{StartingAfter: engine.PrefixUser + spelling})
			var ee *engine.Error
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, engine.CodeInvalidInput, ee.Code)
			assert.Equal(t, "starting_after", ee.Field)
			_, err = e.ListDeliveries(ctx, op, engine.ListDeliveriesInput{Page: engine.Page{StartingAfter: engine.PrefixEvent + spelling + ":" + engine.PrefixWebhook + u}})
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, "starting_after", ee.Field)
		})
	}
	_, err := e.ListUsers(ctx, op, engine.Page{StartingAfter: engine.PrefixUser + u})
	assert.NoError(t, err, "the canonical form")
}
