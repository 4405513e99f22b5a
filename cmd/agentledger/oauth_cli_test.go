package main

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The operator registers a client by hand, sees it and its grants, and
// revokes a grant and then the client.
func TestOAuthFromTheCommandLine(t *testing.T) {
	c := newCLI(t)
	var ignored any
	c.json(&ignored, "init")
	c.json(&ignored, "user", "create", "acme")
	var agent engine.Agent
	c.json(&agent, "agent", "create", "buyer", "--user", "acme")

	var public engine.NewOAuthClient
	c.json(&public, "oauth", "register", "--name", "Desk app", "--redirect-uri", "http://127.0.0.1:9/cb")
	assert.Equal(t, engine.OAuthAuthNone, public.AuthMethod)
	assert.Empty(t, public.Secret, "a public client has no secret")
	assert.Equal(t, "operator", public.RegisteredBy)
	out := c.ok("oauth", "register", "--name", "Server app", "--redirect-uri", "https://app.example/cb", "--confidential")
	assert.Contains(t, out, "client_secret (shown once")
	assert.Contains(t, out, engine.OAuthClientSecretPrefix)

	assert.Contains(t, c.fail(exitError, "oauth", "register", "--name", "x", "--redirect-uri", "http://evil.example/cb"),
		"must use https")
	assert.Contains(t, c.fail(exitError, "oauth", "register", "--name", "x"), "redirect_uris")

	// A consent, as the dashboard records it.
	code := c.approveOAuth(public.ID, agent.ID)
	require.NotEmpty(t, code.Grant.ID)
	var listed struct {
		Clients []engine.OAuthClient `json:"clients"`
		Grants  []engine.OAuthGrant  `json:"grants"`
	}
	c.json(&listed, "oauth", "list")
	require.Len(t, listed.Clients, 2)
	require.Len(t, listed.Grants, 1)
	assert.Equal(t, agent.ID, listed.Grants[0].AgentID)
	table := c.ok("oauth", "list")
	assert.Contains(t, table, "Desk app")
	assert.Contains(t, table, "pending", "not yet traded its code")

	var res engine.RevokeOAuthResult
	c.json(&res, "oauth", "revoke", code.Grant.ID)
	require.Len(t, res.Grants, 1)
	assert.Equal(t, "revoked", res.Grants[0].Status())
	out = c.ok("oauth", "revoke", public.ID)
	assert.Contains(t, out, "Client "+public.ID+" (Desk app) revoked.")
	assert.Contains(t, c.fail(exitError, "oauth", "revoke", "key_nope"), "neither an OAuth client")
	assert.Contains(t, c.fail(exitError, "oauth", "revoke", "oac_01a2328b-15f9-7000-b194-1e42b19f1035"), "not found")
}

// approveOAuth records an operator's consent for a client to act as an
// agent, as the dashboard's consent page does.
func (c *cli) approveOAuth(clientID, agentID string) *engine.AuthorizationCode {
	c.t.Helper()
	a := &app{streams: streams{}, ctx: c.t.Context(), clock: c.clock, getenv: func(k string) string {
		if k == "AGENTLEDGER_DB" {
			return c.db
		}
		return c.env[k]
	}}
	a.dbPath = c.db
	require.NoError(c.t, a.open())
	defer a.close()
	code, err := a.engine.ApproveAuthorization(c.t.Context(), engine.Operator, engine.ApproveAuthorizationInput{
		Agent: agentID, Request: engine.AuthorizationRequest{ClientID: clientID, RedirectURI: "http://127.0.0.1:9/cb",
			ResponseType: "code", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
			CodeChallengeMethod: "S256", ServerResource: "http://127.0.0.1:8765/mcp"}})
	require.NoError(c.t, err)
	return code
}
