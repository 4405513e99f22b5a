package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mcp-remote pointed at the URL with no header signs in with OAuth: it
// finds the metadata from the 401, registers, and prints an authorization
// URL; the operator consents in Chromium as an admin choosing buyer, and the
// browser takes the code to mcp-remote's callback server. The SDK client
// behind mcp-remote then runs the intent flow, as buyer, under that grant.
func TestMCPRemoteOAuth(t *testing.T) {
	node(t)
	t.Setenv("CHROMIUM", chromiumPath(t)) // for consent.mjs, in agent.mjs
	p, _ := e2eLedger(t)
	var admin engine.NewKey
	p.json(&admin, "key", "create", "--admin")
	var buyer engine.Agent
	p.json(&buyer, "agent", "show", "buyer")
	srv := p.serveHTTP(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", srv.log())
		}
	})
	configDir := t.TempDir()

	run := runAgent(t, "remote-oauth", srv.url+"/mcp", admin.Secret, "buyer", configDir)
	checkAgentRun(t, p, run)

	// It was OAuth: a client registered itself and holds an active grant of
	// buyer, for this server's /mcp, and the intent was made under it.
	var list struct {
		Clients []engine.OAuthClient `json:"clients"`
		Grants  []engine.OAuthGrant  `json:"grants"`
	}
	p.json(&list, "oauth", "list")
	require.Len(t, list.Clients, 1, "one client registered")
	client := list.Clients[0]
	assert.Equal(t, "dynamic", client.RegisteredBy)
	assert.Equal(t, "MCP CLI Proxy", client.Name, "mcp-remote's name for itself")
	require.Len(t, client.RedirectURIs, 1)
	assert.Regexp(t, regexp.MustCompile(`^http://localhost:\d+/oauth/callback$`), client.RedirectURIs[0])
	require.Len(t, list.Grants, 1, "one consent")
	grant := list.Grants[0]
	assert.Equal(t, client.ID, grant.ClientID)
	assert.Equal(t, buyer.ID, grant.AgentID, "the agent the operator chose")
	assert.False(t, grant.ReadOnly)
	assert.Equal(t, srv.url+"/mcp", grant.Resource)
	assert.Equal(t, "active", grant.Status())

	var intent engine.Intent
	p.json(&intent, "intent", "show", run.IntentID)
	assert.Equal(t, buyer.ID, intent.AgentID)
	assert.Equal(t, grant.ID, intent.Attestation.KeyID, "the intent was made with the grant's token")

	// mcp-remote kept its tokens where it was told to.
	tokens, err := filepath.Glob(filepath.Join(configDir, "mcp-remote-*", "*_tokens.json"))
	require.NoError(t, err)
	assert.Len(t, tokens, 1)
	srv.stop(t)
}
