package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi/lithictest"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/stripeapi/stripemock"
	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The operator's side of real cards, from the command line, against the
// Lithic test server: provision, follow, drift, an issuer that is down.
func TestIssuerCardsFromTheCommandLine(t *testing.T) {
	c := newCLI(t)
	srv := lithictest.New(t)
	c.ok("init")
	c.ok("user", "create", "acme")
	c.ok("user", "approve", "acme")
	c.ok("user", "fund", "acme", "100000")
	c.ok("agent", "create", "buyer", "--user", "acme")

	errOut := c.fail(exitError, "card", "create", "--agent", "buyer", "--issuer", "lithic")
	assert.Contains(t, errOut, "AGENTLEDGER_LITHIC_API_KEY", "without a key the error says which variable")
	c.env["AGENTLEDGER_LITHIC_API_KEY"] = lithictest.APIKey
	c.env["AGENTLEDGER_LITHIC_API_BASE"] = srv.URL

	var card engine.Card
	c.json(&card, "card", "create", "--agent", "buyer", "--issuer", "lithic", "--lifetime-limit", "20000")
	assert.Equal(t, engine.IssuerLithic, card.Issuer)
	at, ok := srv.Card(card.IssuerCardID)
	require.True(t, ok)
	assert.Equal(t, "OPEN", at.State)
	assert.Equal(t, [2]any{int64(20000), "FOREVER"}, [2]any{at.SpendLimit, at.SpendLimitDuration}, "the lifetime limit is mirrored")
	assert.Contains(t, c.ok("card", "show", card.ID), "lithic "+card.IssuerCardID)

	out := c.ok("card", "freeze", card.ID)
	assert.Contains(t, out, "At lithic: synced.")
	at, _ = srv.Card(card.IssuerCardID)
	assert.Equal(t, "PAUSED", at.State)

	// The issuer is down: the freeze happens here, the unfreeze waits.
	c.ok("card", "unfreeze", card.ID) // back to active at both
	srv.FailNext(10, http.MethodPatch, "/v1/cards/*", 503)
	out = c.ok("card", "freeze", card.ID)
	assert.Contains(t, out, "is frozen")
	assert.Contains(t, out, "pending: lithic answered 503")
	out, _, code := c.run("issuer", "sync")
	assert.Equal(t, exitError, code, "sync fails while the change is still queued")
	assert.Contains(t, out, "1 queue entr(ies) waiting")
	srv.ClearFaults()
	out = c.ok("issuer", "sync")
	assert.Contains(t, out, "Nothing is left in the issuer queue.")
	at, _ = srv.Card(card.IssuerCardID)
	assert.Equal(t, "PAUSED", at.State, "the queued freeze reached Lithic")

	// Closed at Lithic alone: sync closes it here too.
	require.True(t, srv.SetState(card.IssuerCardID, "CLOSED"))
	out = c.ok("issuer", "sync", "--dry-run")
	assert.Contains(t, out, "none (dry run)")
	out = c.ok("issuer", "sync")
	assert.Contains(t, out, "closed here")
	c.json(&card, "card", "show", card.ID)
	assert.Equal(t, engine.CardClosed, card.Status)
	assert.Equal(t, "issuer:lithic", card.ClosedBy)

	// The agent's default issuer.
	assert.Contains(t, c.ok("agent", "issuer", "buyer", "lithic"), "provisioned at lithic")
	c.json(&card, "card", "create", "--agent", "buyer")
	assert.Equal(t, engine.IssuerLithic, card.Issuer)
	var sandbox engine.Card
	c.json(&sandbox, "card", "create", "--agent", "buyer", "--issuer", "none")
	assert.Empty(t, sandbox.Issuer)
	assert.True(t, strings.Contains(c.ok("agent", "show", "buyer"), "lithic"))
	assert.Len(t, srv.Cards(), 2)
	c.ok("ledger", "verify")
}

// The Stripe configuration from the environment, against stripe-mock.
func TestStripeCardFromTheCommandLine(t *testing.T) {
	mock := stripemock.Start(t)
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "acme", "--email", "ops@acme.example")
	c.ok("user", "approve", "acme")
	c.ok("agent", "create", "buyer", "--user", "acme")
	c.env["AGENTLEDGER_STRIPE_API_KEY"] = "sk_test_cli"
	c.env["AGENTLEDGER_STRIPE_API_BASE"] = mock.URL
	c.env["AGENTLEDGER_STRIPE_BILLING_ADDRESS"] = `{"line1":"1 Main St","city":"Oakland"}`
	errOut := c.fail(exitError, "card", "list")
	assert.Contains(t, errOut, "AGENTLEDGER_STRIPE_BILLING_ADDRESS", "a bad address is refused, naming the variable")
	c.env["AGENTLEDGER_STRIPE_BILLING_ADDRESS"] = ""
	errOut = c.fail(exitError, "card", "create", "--agent", "buyer", "--issuer", "stripe")
	assert.Contains(t, errOut, "AGENTLEDGER_STRIPE_BILLING_ADDRESS", "a cardholder needs the address")
	c.env["AGENTLEDGER_STRIPE_BILLING_ADDRESS"] = `{"line1":"1 Main St","city":"Oakland","state":"CA","postal_code":"94607","country":"US"}`

	var card engine.Card
	c.json(&card, "card", "create", "--agent", "buyer", "--issuer", "stripe")
	assert.Equal(t, engine.IssuerStripe, card.Issuer)
	assert.True(t, strings.HasPrefix(card.IssuerCardID, "ic_"), card.IssuerCardID)
	var frozen engine.Card
	c.json(&frozen, "card", "freeze", card.ID)
	assert.Equal(t, engine.IssuerSynced, frozen.IssuerSync)
	assert.NotContains(t, c.snapshot(), "sk_test_cli", "the API key is not stored")
}
