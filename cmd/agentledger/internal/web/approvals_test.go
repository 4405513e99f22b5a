package web_test

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Past a page of requests the newest still comes first, on the page and in
// the rows it polls, and the older ones are a link away.
func TestTheQueuePagesNewestFirst(t *testing.T) {
	r := newRig(t)
	var first, last *engine.Decision
	for i := range 51 {
		d := r.requestApproval(150_00, fmt.Sprintf("request %d", i))
		if i == 0 {
			first = d
		}
		last = d
	}
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/approvals", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, last.ID, "the newest request is on the first page")
	assert.NotContains(t, p.body, first.ID)
	assert.Contains(t, b.do("GET", "/approvals/rows", nil).body, last.ID, "and in the rows the page polls")
	next := regexp.MustCompile(`href="(/approvals\?starting_after=[^"]+)" rel="next"`).FindStringSubmatch(p.body)
	require.NotNil(t, next, "a link to older requests")
	older := b.do("GET", next[1], nil)
	assert.Contains(t, older.body, first.ID, "the oldest is on the next page")
	assert.NotContains(t, older.body, `rel="next"`)
}

// A currency change goes alone, as the engine takes it from the CLI and the
// REST API: every amount keeps its minor units.
func TestACurrencyChangeGoesAlone(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.editPolicy(map[string]string{"currency": "JPY", "daily_limit": "5000"})
	require.Equal(t, http.StatusBadRequest, p.status, p.body)
	assert.Contains(t, p.body, "change the currency on its own")
	assert.Equal(t, "USD", r.agentNow().Policy.Effective().Currency, "nothing saved")

	p = b.editPolicy(map[string]string{"currency": "JPY"})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	got := r.agentNow().Policy
	assert.Equal(t, "JPY", got.Currency)
	assert.Equal(t, int64(100_00), *got.ApprovalThreshold, "10000 minor units: $100.00 became ¥10,000")
}
