package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// oauthRun is what testdata/e2e/oauth.mjs reports.
type oauthRun struct {
	RegisteredClientID     string   `json:"registeredClientId"`
	AuthorizationURL       string   `json:"authorizationUrl"`
	ConsentText            string   `json:"consentText"`
	ReturnedIss            string   `json:"returnedIss"`
	TokensAfterConsent     int      `json:"tokensAfterConsent"`
	ExpiresIn              int      `json:"expiresIn"`
	Tools                  []string `json:"tools"`
	AgentIDInSchema        bool     `json:"agentIdInSchema"`
	CardID                 string   `json:"cardId"`
	CardAgentID            string   `json:"cardAgentId"`
	DetailsBeforeIntent    string   `json:"detailsBeforeIntent"`
	IntentID               string   `json:"intentId"`
	PanLength              int      `json:"panLength"`
	CheckStatus            string   `json:"checkStatus"`
	AfterExpiry            string   `json:"afterExpiry"`
	Refreshed              bool     `json:"refreshed"`
	RefreshTokenRotated    bool     `json:"refreshTokenRotated"`
	ClientsPageGrant       string   `json:"clientsPageGrant"`
	ClientsPageAfterRevoke string   `json:"clientsPageAfterRevoke"`
	RevokedStatus          int      `json:"revokedStatus"`
	RevokedChallenge       string   `json:"revokedChallenge"`
	RevokedRefresh         struct {
		Status int `json:"status"`
		Body   struct {
			Error string `json:"error"`
		} `json:"body"`
	} `json:"revokedRefresh"`
}

// The TypeScript SDK's OAuth client connects by URL with no key: it
// discovers the metadata from the 401, registers, the operator consents in
// Chromium choosing the agent, and the client runs the intent flow as that
// agent; its access token expires and is refreshed; the operator revokes it
// in the dashboard and its next call is 401.
func TestSDKClientConnectsWithOAuth(t *testing.T) {
	nodeBin := node(t)
	chromium := chromiumPath(t)
	p, _ := e2eLedger(t)
	var admin engine.NewKey
	p.json(&admin, "key", "create", "--admin")
	var buyer engine.Agent
	p.json(&buyer, "agent", "show", "buyer")
	const ttl = 2 * time.Second
	srv := p.serveHTTPWith(t, []string{"--oauth-token-ttl", ttl.String()})

	cmd := exec.Command(nodeBin, "oauth.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "AGENTLEDGER_URL="+srv.url, "ADMIN_KEY="+admin.Secret, "AGENT=buyer",
		"TOKEN_TTL_MS="+strconv.FormatInt(ttl.Milliseconds(), 10), "CHROMIUM="+chromium)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "oauth.mjs failed:\n%s%s\nserver log:\n%s", stderr.String(), stdout.String(), srv.log())
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("oauth.mjs timed out:\n%s%s\nserver log:\n%s", stderr.String(), stdout.String(), srv.log())
	}
	var run oauthRun
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &run), stdout.String())

	assert.True(t, strings.HasPrefix(run.RegisteredClientID, engine.PrefixOAuthClient), "registered: %q", run.RegisteredClientID)
	assert.True(t, strings.HasPrefix(run.AuthorizationURL, srv.url+"/oauth/authorize?"), run.AuthorizationURL)
	assert.Contains(t, run.AuthorizationURL, "code_challenge_method=S256")
	assert.Contains(t, run.ConsentText, "e2e OAuth client", "the consent page names the client")
	assert.Contains(t, run.ConsentText, "http://127.0.0.1:47615/oauth/callback", "and where the answer goes")
	assert.Equal(t, srv.url, run.ReturnedIss)
	assert.Equal(t, 1, run.TokensAfterConsent)
	assert.Equal(t, int(ttl.Seconds()), run.ExpiresIn, "serve --oauth-token-ttl")

	assert.Equal(t, []string{"ledger_card", "ledger_intent", "policy_check"}, run.Tools)
	assert.False(t, run.AgentIDInSchema, "the client acts as one agent and sees the agent's tools")
	assert.Equal(t, buyer.ID, run.CardAgentID, "the card is the chosen agent's")
	assert.Equal(t, engine.CodeIntentRequired, run.DetailsBeforeIntent)
	assert.Equal(t, 16, run.PanLength)
	assert.Equal(t, engine.DecisionApproved, run.CheckStatus)

	assert.Equal(t, engine.DecisionApproved, run.AfterExpiry, "a call after the token expired went through")
	assert.True(t, run.Refreshed, "with a refreshed access token")
	assert.True(t, run.RefreshTokenRotated, "and a new refresh token")

	assert.Contains(t, run.ClientsPageGrant, "buyer")
	assert.Contains(t, run.ClientsPageGrant, "active")
	assert.Contains(t, run.ClientsPageAfterRevoke, "revoked")
	assert.Equal(t, 401, run.RevokedStatus, "a revoked client's next call")
	assert.Contains(t, run.RevokedChallenge, `error="invalid_token"`)
	assert.Contains(t, run.RevokedChallenge, `resource_metadata="`+srv.url+`/.well-known/oauth-protected-resource/mcp"`)
	assert.Equal(t, 401, run.RevokedRefresh.Status)
	assert.Equal(t, "invalid_client", run.RevokedRefresh.Body.Error, "a revoked client cannot refresh")

	// What the client did was the agent's, and is recorded as its.
	var a engine.Authorization
	p.json(&a, "network", "authorize", run.CardID, "--amount", "2499", "--merchant", "OFFICE DEPOT #1138")
	assert.Equal(t, engine.AuthApproved, a.Status, a.Reason)
	assert.Equal(t, run.IntentID, a.IntentID)
	var intent engine.Intent
	p.json(&intent, "intent", "show", run.IntentID)
	assert.Equal(t, "e2e-sdk-oauth", intent.Attestation.ClientName)
	assert.Equal(t, buyer.ID, intent.AgentID)
}
