package web_test

import (
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/web"
	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheLedgerPage(t *testing.T) {
	r := newRig(t)
	s := r.shop("shop-bot")
	r.env.Charge(s.card, 25_00, "Bookshop", "")
	b := r.browser()
	b.signIn(engine.RoleViewer)
	body := b.get("/ledger")
	for _, want := range []string{"Acme Corp", "$1,000.00", "shop-bot owner", "$25.00", "$975.00", "Verify the ledger"} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "verify-result", "verifying reads the whole ledger: only when asked")
	body = b.get("/ledger?verify=1")
	assert.Contains(t, body, `id="verify-result"`)
	assert.Contains(t, body, "The ledger is consistent")
}

func TestLedgerUsersPaginate(t *testing.T) {
	web.SetRecordsPageSize(t, 2)
	r := newRig(t)
	for _, name := range []string{"Beta", "Gamma", "Delta"} {
		r.env.User(name, 1_00)
	}
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	body := b.get("/ledger?verify=1")
	assert.Contains(t, body, "Acme Corp")
	assert.NotContains(t, body, "Delta")
	n := next(body)
	require.NotEmpty(t, n)
	assert.NotContains(t, n, "verify", "the next page does not verify again")
	body = b.get(n)
	assert.Contains(t, body, "Gamma")
	assert.NotContains(t, body, "Acme Corp")
	body = b.get(next(body))
	assert.Contains(t, body, "Delta")
	assert.Empty(t, next(body))
}
