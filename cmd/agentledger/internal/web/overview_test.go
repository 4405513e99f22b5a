package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOverviewShowsFundsSpendDeclinesAndTheQueue(t *testing.T) {
	r := newRig(t)
	u, err := r.env.Engine.GetUser(r.env.Ctx, engine.Operator, "Acme Corp")
	require.NoError(t, err)
	shopper := r.env.Agent("shopper", u, engine.Policy{IntentRequired: sqlitetest.Ptr(false),
		SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](50_00), DailyLimit: sqlitetest.Ptr[int64](200_00)}})
	card := r.env.Card(shopper)
	r.env.Charge(card, 40_00, "AWS", "5734")
	r.env.Charge(card, 12_50, "AWS", "5734")
	declined := r.env.Charge(card, 75_00, "AWS", "5734")
	require.Equal(t, engine.CodeSpendLimitExceeded, declined.DeclineCode)
	r.requestApproval(250_00, "A GPU hour")

	b := r.browser()
	b.signIn(engine.RoleViewer)
	p := b.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	for _, want := range []string{
		`id="pending-count">1<`,             // the queue
		"$947.50",                           // Acme's available funds: $1,000 − $52.50 held
		"$52.50 of $200.00",                 // shopper's day against its limit
		"<code>SPEND_LIMIT_EXCEEDED</code>", // declines by code
		"$52.50 in 30 days",                 // the chart's total
		"<title>2026-03-11: $52.50</title>", // today's bar
		"<title>2026-02-10: $0.00</title>",  // the first of 30 days
	} {
		assert.Contains(t, p.body, want)
	}
	assert.Equal(t, 30, strings.Count(p.body, "<rect "), "one bar a day")
}
