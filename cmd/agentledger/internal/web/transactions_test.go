package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/web"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shop is an agent that needs no intent, with a $50 daily limit, and its
// card: its charges approve or decline at once.
type shop struct {
	agent *engine.Agent
	card  *engine.Card
}

func (r *rig) shop(name string) shop {
	r.t.Helper()
	u := r.env.User(name+" owner", 1000_00)
	a := r.env.Agent(name, u, engine.Policy{IntentRequired: sqlitetest.Ptr(false),
		SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](50_00), BlockedMerchants: []string{"Casino"}}})
	return shop{agent: a, card: r.env.Card(a)}
}

// get fetches a signed-in page and requires it to render.
func (b *browser) get(path string) string {
	b.r.t.Helper()
	p := b.do("GET", path, nil)
	require.Equal(b.r.t, http.StatusOK, p.status, p.body)
	return p.body
}

var nextLink = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)

// regexpNext is the unescaped href of the next link whose text starts with
// label; "" when there is none.
func regexpNext(body, label string) string {
	m := regexp.MustCompile(`<a href="([^"]+)" rel="next">` + regexp.QuoteMeta(label)).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// next is the page's next-page link, unescaped; "" when there is none.
func next(body string) string {
	m := nextLink.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestTransactionsListAndFilters(t *testing.T) {
	r := newRig(t)
	s := r.shop("shop-bot")
	ok := r.env.Charge(s.card, 40_00, "Bookshop", "5942")
	over := r.env.Charge(s.card, 20_00, "Bookshop", "5942")
	require.Equal(t, engine.CodeDailyLimitExceeded, over.DeclineCode)
	casino := r.env.Charge(s.card, 1_00, "Casino", "")
	require.Equal(t, engine.CodeMerchantBlocked, casino.DeclineCode)

	b := r.browser()
	b.signIn(engine.RoleAdmin)
	body := b.get("/transactions")
	for _, a := range []*engine.Authorization{ok, over, casino} {
		assert.Contains(t, body, `href="/transactions/`+a.ID+`"`)
	}
	assert.Contains(t, body, "$40.00")
	assert.Contains(t, body, "shop-bot")
	assert.Contains(t, body, "Bookshop")
	assert.Less(t, strings.Index(body, casino.ID), strings.Index(body, ok.ID), "newest first")
	assert.Contains(t, body, `<option value="DAILY_LIMIT_EXCEEDED"`, "every decline code to filter by")
	assert.Empty(t, next(body), "one page")

	for _, tc := range []struct {
		query    string
		want     []*engine.Authorization
		notWant  []*engine.Authorization
		selected string
	}{
		{"status=declined", []*engine.Authorization{over, casino}, []*engine.Authorization{ok}, `value="declined" selected`},
		{"status=approved", []*engine.Authorization{ok}, []*engine.Authorization{over, casino}, `value="approved" selected`},
		{"decline_code=DAILY_LIMIT_EXCEEDED", []*engine.Authorization{over}, []*engine.Authorization{ok, casino}, `value="DAILY_LIMIT_EXCEEDED" selected`},
		{"agent_id=shop-bot&status=declined&decline_code=MERCHANT_BLOCKED", []*engine.Authorization{casino}, []*engine.Authorization{ok, over}, `value="MERCHANT_BLOCKED" selected`},
		{"card_id=" + s.card.ID + "&decline_code=DAILY_LIMIT_EXCEEDED", []*engine.Authorization{over}, []*engine.Authorization{ok, casino}, `value="` + s.card.ID + `"`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			body := b.get("/transactions?" + tc.query)
			for _, a := range tc.want {
				assert.Contains(t, body, "txn-"+a.ID)
			}
			for _, a := range tc.notWant {
				assert.NotContains(t, body, "txn-"+a.ID)
			}
			assert.Contains(t, body, tc.selected, "the form keeps the filter")
		})
	}

	other := r.shop("other-bot")
	r.env.Charge(other.card, 1_00, "Cafe", "")
	assert.NotContains(t, b.get("/transactions?agent_id="+s.agent.ID), "Cafe", "another agent's")

	bad := b.do("GET", "/transactions?decline_code=NOPE", nil)
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, bad.body, `role="alert"`)
	assert.Contains(t, bad.body, "decline_code")
	assert.Contains(t, bad.body, `name="agent_id"`, "the form stays to fix the filter")
}

func TestTransactionsPaginate(t *testing.T) {
	web.SetRecordsPageSize(t, 2)
	r := newRig(t)
	s := r.shop("shop-bot")
	var ids []string
	for range 5 {
		ids = append(ids, r.env.Charge(s.card, 1_00, "Cafe", "").ID)
	}
	b := r.browser()
	b.signIn(engine.RoleViewer)
	var seen []string
	path := "/transactions?status=approved"
	for pages := 0; path != ""; pages++ {
		require.Less(t, pages, 5)
		body := b.get(path)
		for _, id := range ids {
			if strings.Contains(body, "txn-"+id) {
				seen = append(seen, id)
			}
		}
		path = next(body)
		if path != "" {
			assert.Contains(t, path, "status=approved", "the next page keeps the filter")
			assert.Contains(t, path, "starting_after=")
		}
	}
	assert.ElementsMatch(t, ids, seen)
	assert.Len(t, seen, 5, "each once")
}

func TestATransactionPage(t *testing.T) {
	r := newRig(t)
	s := r.shop("shop-bot")
	r.env.Charge(s.card, 1_00, "Cafe", "5814")
	a := r.env.Charge(s.card, 25_00, "Bookshop", "5942")
	require.Equal(t, engine.AuthApproved, a.Status)
	require.NotEmpty(t, a.Checks)
	require.NotEmpty(t, a.RiskSignals, "a first charge at a merchant, after others, is a signal")

	b := r.browser()
	b.signIn(engine.RoleViewer)
	body := b.get("/transactions/" + a.ID)
	for _, c := range a.Checks {
		assert.Contains(t, body, "<td>"+html.EscapeString(c.Rule)+"</td><td>"+c.Result+"</td><td>"+html.EscapeString(c.Message)+"</td>")
	}
	for _, sig := range a.RiskSignals {
		assert.Contains(t, body, "<td>"+sig.Signal+"</td>")
		assert.Contains(t, body, html.EscapeString(sig.Detail))
	}
	for _, want := range []string{"$25.00", "Bookshop", "MCC 5942", "shop-bot", s.card.ID, "transfer-" + a.HoldID, ">pending<", "approved"} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, ">post_pending<")

	_, err := r.env.Engine.Settle(r.env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
	require.NoError(t, err)
	body = b.get("/transactions/" + a.ID)
	assert.Contains(t, body, ">post_pending<", "the hold's posting")
	assert.Contains(t, body, "resolves "+a.HoldID)
	assert.Contains(t, body, "settled")

	declined := r.env.Charge(s.card, 40_00, "Bookshop", "5942")
	body = b.get("/transactions/" + declined.ID)
	assert.Contains(t, body, "DAILY_LIMIT_EXCEEDED")
	assert.Contains(t, body, "No money moved.")
	assert.Contains(t, body, "<td>fail</td>")

	missing := b.do("GET", "/transactions/txn_nosuch", nil)
	assert.Equal(t, http.StatusNotFound, missing.status)
	assert.Contains(t, missing.body, `role="alert"`)
}

func TestATransactionLinksItsIntent(t *testing.T) {
	r := newRig(t)
	card := r.env.Card(r.agent)
	i := r.env.Reveal(r.agent, card, 30_00, "AWS")
	a := r.env.Charge(card, 30_00, "AWS", "")
	require.Equal(t, engine.AuthApproved, a.Status, a.Reason)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	assert.Contains(t, b.get("/transactions/"+a.ID), `href="/intents/`+i.ID+`"`)
	assert.Contains(t, b.get("/intents/"+i.ID), `href="/transactions/`+a.ID+`"`)
}
