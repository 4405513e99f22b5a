package engine_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	oauthResource = "http://127.0.0.1:8765/mcp"
	oauthRedirect = "http://127.0.0.1:33418/callback"
	oauthVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-the-verifier"
)

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// oauthRig is a registered public client, an agent to act as, and the
// authorization request the client would send.
type oauthRig struct {
	env    *sqlitetest.Env
	client *engine.NewOAuthClient
	agent  *engine.Agent
	req    engine.AuthorizationRequest
}

func newOAuthRig(t testing.TB) *oauthRig {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(10_000, engine.Policy{})
	c, err := env.Engine.RegisterOAuthClient(env.Ctx, engine.RegisterClientInput{Name: "Test client",
		RedirectURIs: []string{oauthRedirect}, AuthMethod: engine.OAuthAuthNone})
	require.NoError(t, err)
	return &oauthRig{env: env, client: c, agent: agent, req: engine.AuthorizationRequest{
		ClientID: c.ID, RedirectURI: oauthRedirect, ResponseType: "code", CodeChallenge: challengeOf(oauthVerifier),
		CodeChallengeMethod: "S256", Resource: oauthResource, State: "xyz", ServerResource: oauthResource}}
}

func (r *oauthRig) approve(t testing.TB, readOnly bool) *engine.AuthorizationCode {
	code, err := r.env.Engine.ApproveAuthorization(r.env.Ctx, engine.Operator,
		engine.ApproveAuthorizationInput{Request: r.req, Agent: r.agent.Name, ReadOnly: readOnly})
	require.NoError(t, err)
	return code
}

func (r *oauthRig) exchange(code string) (*engine.TokenSet, error) {
	return r.env.Engine.Token(r.env.Ctx, engine.TokenRequest{GrantType: "authorization_code", ClientID: r.client.ID,
		Code: code, RedirectURI: oauthRedirect, CodeVerifier: oauthVerifier, Resource: oauthResource})
}

func (r *oauthRig) refresh(token string) (*engine.TokenSet, error) {
	return r.env.Engine.Token(r.env.Ctx, engine.TokenRequest{GrantType: "refresh_token", ClientID: r.client.ID,
		RefreshToken: token})
}

func oauthCode(err error) string {
	var oe *engine.OAuthError
	if errors.As(err, &oe) {
		return oe.Code
	}
	return "not an OAuth error: " + engine.ErrorCode(err)
}

func TestOAuthCodeFlow(t *testing.T) {
	r := newOAuthRig(t)
	check, err := r.env.Engine.CheckAuthorization(r.env.Ctx, r.req)
	require.NoError(t, err)
	assert.Equal(t, "Test client", check.Client.Name)
	assert.Equal(t, oauthRedirect, check.RedirectURI)

	code := r.approve(t, false)
	assert.True(t, strings.HasPrefix(code.Code, engine.OAuthCodePrefix))
	assert.Equal(t, "xyz", code.State)
	tokens, err := r.exchange(code.Code)
	require.NoError(t, err)
	assert.Equal(t, engine.DefaultOAuthAccessTTL, tokens.ExpiresIn)
	assert.Equal(t, engine.OAuthScopeFull, tokens.Scope)

	actor, err := r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	require.NoError(t, err)
	assert.Equal(t, engine.Actor{Role: engine.RoleAgent, AgentID: r.agent.ID, KeyID: tokens.Grant.ID}, actor)
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource+"/")
	assert.NoError(t, err, "a trailing slash names the same resource")

	// The refresh token rotates: the new pair works, the old refresh token is spent.
	next, err := r.refresh(tokens.RefreshToken)
	require.NoError(t, err)
	assert.NotEqual(t, tokens.RefreshToken, next.RefreshToken)
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, next.AccessToken, oauthResource)
	require.NoError(t, err)

	grants, err := r.env.Engine.ListOAuthGrants(r.env.Ctx, engine.Operator, r.client.ID, engine.Page{})
	require.NoError(t, err)
	require.Len(t, grants.Items, 1)
	assert.Equal(t, "active", grants.Items[0].Status())
}

func TestOAuthReadOnlyGrantIsAViewerOfItsAgent(t *testing.T) {
	r := newOAuthRig(t)
	tokens, err := r.exchange(r.approve(t, true).Code)
	require.NoError(t, err)
	assert.Equal(t, engine.OAuthScopeRead, tokens.Scope)
	actor, err := r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	require.NoError(t, err)
	assert.Equal(t, engine.Actor{Role: engine.RoleViewer, AgentID: r.agent.ID, KeyID: tokens.Grant.ID}, actor)

	_, err = r.env.Engine.DeclareIntent(r.env.Ctx, actor, engine.DeclareIntentInput{Amount: 500, Merchant: "Acme",
		Summary: "a test"})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err), "read-only may not attest an intent")
	cards, err := r.env.Engine.ListCards(r.env.Ctx, actor, "", engine.Page{})
	require.NoError(t, err)
	assert.Len(t, cards.Items, 1, "it reads its agent's cards")
	_, err = r.env.Engine.ListUsers(r.env.Ctx, actor, engine.Page{})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err), "but nothing organisation-wide")
	_, err = r.env.Engine.ListOAuthGrants(r.env.Ctx, actor, "", engine.Page{})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	_, err = r.env.Engine.Stats(r.env.Ctx, actor)
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))

	// A client that asks only for ledger:read cannot be widened by consent.
	r.req.Scope = engine.OAuthScopeRead
	tokens, err = r.exchange(r.approve(t, false).Code)
	require.NoError(t, err)
	assert.Equal(t, engine.OAuthScopeRead, tokens.Scope)
}

func TestOAuthTokenRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*engine.TokenRequest)
		want   string
	}{
		"wrong PKCE verifier": {func(q *engine.TokenRequest) { q.CodeVerifier = strings.Repeat("a", 43) }, "invalid_grant"},
		"no PKCE verifier":    {func(q *engine.TokenRequest) { q.CodeVerifier = "" }, "invalid_grant"},
		"other redirect_uri":  {func(q *engine.TokenRequest) { q.RedirectURI = "http://127.0.0.1:1/cb" }, "invalid_grant"},
		"unknown code":        {func(q *engine.TokenRequest) { q.Code = engine.OAuthCodePrefix + strings.Repeat("0", 64) }, "invalid_grant"},
		"not a code":          {func(q *engine.TokenRequest) { q.Code = "hello" }, "invalid_grant"},
		"other resource":      {func(q *engine.TokenRequest) { q.Resource = "https://other.example/mcp" }, "invalid_target"},
		"unknown client":      {func(q *engine.TokenRequest) { q.ClientID = "oac_nope" }, "invalid_client"},
		"no client":           {func(q *engine.TokenRequest) { q.ClientID = "" }, "invalid_client"},
		"no grant_type":       {func(q *engine.TokenRequest) { q.GrantType = "" }, "invalid_request"},
		"no code":             {func(q *engine.TokenRequest) { q.Code = "" }, "invalid_request"},
		"password grant":      {func(q *engine.TokenRequest) { q.GrantType = "password" }, "unsupported_grant_type"},
	} {
		t.Run(name, func(t *testing.T) {
			r := newOAuthRig(t)
			code := r.approve(t, false)
			q := engine.TokenRequest{GrantType: "authorization_code", ClientID: r.client.ID, Code: code.Code,
				RedirectURI: oauthRedirect, CodeVerifier: oauthVerifier}
			tc.change(&q)
			_, err := r.env.Engine.Token(r.env.Ctx, q)
			assert.Equal(t, tc.want, oauthCode(err))
		})
	}
}

func TestOAuthCodeOfAnotherClientIsRefused(t *testing.T) {
	r := newOAuthRig(t)
	code := r.approve(t, false)
	other, err := r.env.Engine.RegisterOAuthClient(r.env.Ctx, engine.RegisterClientInput{Name: "Thief",
		RedirectURIs: []string{oauthRedirect}, AuthMethod: engine.OAuthAuthNone})
	require.NoError(t, err)
	_, err = r.env.Engine.Token(r.env.Ctx, engine.TokenRequest{GrantType: "authorization_code", ClientID: other.ID,
		Code: code.Code, RedirectURI: oauthRedirect, CodeVerifier: oauthVerifier})
	assert.Equal(t, "invalid_grant", oauthCode(err))
	_, err = r.exchange(code.Code)
	assert.NoError(t, err, "the code is still its own client's")
}

func TestOAuthReusedCodeRevokesTheGrant(t *testing.T) {
	r := newOAuthRig(t)
	code := r.approve(t, false)
	tokens, err := r.exchange(code.Code)
	require.NoError(t, err)
	_, err = r.exchange(code.Code)
	assert.Equal(t, "invalid_grant", oauthCode(err))
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), "the tokens of a reused code are revoked")
	_, err = r.refresh(tokens.RefreshToken)
	assert.Equal(t, "invalid_grant", oauthCode(err))
}

func TestOAuthReusedRefreshTokenRevokesTheGrant(t *testing.T) {
	r := newOAuthRig(t)
	tokens, err := r.exchange(r.approve(t, false).Code)
	require.NoError(t, err)
	next, err := r.refresh(tokens.RefreshToken)
	require.NoError(t, err)

	// At once again: a client's retry (a lost answer, two processes on one token file), only refused.
	_, err = r.refresh(tokens.RefreshToken)
	assert.Equal(t, "invalid_grant", oauthCode(err))
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, next.AccessToken, oauthResource)
	require.NoError(t, err, "the winner's tokens still work")

	// Later: a replay, and the grant is revoked.
	r.env.Clock.Advance(time.Minute)
	_, err = r.refresh(tokens.RefreshToken)
	assert.Equal(t, "invalid_grant", oauthCode(err))
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, next.AccessToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err))
	_, err = r.refresh(next.RefreshToken)
	assert.Equal(t, "invalid_grant", oauthCode(err))
}

func TestOAuthLoopbackRedirectOnAnyPort(t *testing.T) {
	r := newOAuthRig(t)
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1:40000/callback", true},
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:40000/other", false},
		{"http://localhost:33418/callback", false},
		{"http://127.0.0.1:40000/callback?x=1", false},
	} {
		r.req.RedirectURI = tc.uri
		check, err := r.env.Engine.CheckAuthorization(r.env.Ctx, r.req)
		if !tc.ok {
			assert.Equal(t, "invalid_request", oauthCode(err), tc.uri)
			continue
		}
		require.NoError(t, err, tc.uri)
		assert.Equal(t, tc.uri, check.RedirectURI, "the answer goes to the port asked for")
		code := r.approve(t, false)
		_, err = r.env.Engine.Token(r.env.Ctx, engine.TokenRequest{GrantType: "authorization_code",
			ClientID: r.client.ID, Code: code.Code, RedirectURI: tc.uri, CodeVerifier: oauthVerifier})
		assert.NoError(t, err, "and the token request names it again")
	}
}

func TestOAuthConcurrentCodeExchangesIssueOnePair(t *testing.T) {
	r := newOAuthRig(t)
	code := r.approve(t, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*engine.TokenSet
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tokens, err := r.exchange(code.Code); err == nil {
				mu.Lock()
				won = append(won, tokens)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, won, 1, "a code is spent once")
	_, err := r.env.Engine.AuthenticateOAuth(r.env.Ctx, won[0].AccessToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), "and the losers' reuse revoked the grant")
}

func TestOAuthExpiry(t *testing.T) {
	r := newOAuthRig(t)
	code := r.approve(t, false)
	r.env.Clock.Advance(engine.OAuthCodeTTL)
	_, err := r.exchange(code.Code)
	assert.Equal(t, "invalid_grant", oauthCode(err), "an expired code")

	tokens, err := r.exchange(r.approve(t, false).Code)
	require.NoError(t, err)
	r.env.Clock.Advance(engine.DefaultOAuthAccessTTL - time.Microsecond)
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	require.NoError(t, err)
	r.env.Clock.Advance(time.Microsecond)
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), "an expired access token")
	next, err := r.refresh(tokens.RefreshToken)
	require.NoError(t, err, "the refresh token outlives it")
	r.env.Clock.Advance(engine.DefaultOAuthRefreshTTL)
	_, err = r.refresh(next.RefreshToken)
	assert.Equal(t, "invalid_grant", oauthCode(err), "an expired refresh token")
}

func TestOAuthAudience(t *testing.T) {
	r := newOAuthRig(t)
	tokens, err := r.exchange(r.approve(t, false).Code)
	require.NoError(t, err)
	for _, other := range []string{"https://127.0.0.1:8765/mcp", "http://127.0.0.1:8766/mcp", "http://127.0.0.1:8765/v1"} {
		_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, other)
		assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), other)
	}
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.RefreshToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), "a refresh token is not an access token")
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, "al_at_short", oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err))

	r.req.Resource = "https://other.example/mcp"
	_, err = r.env.Engine.CheckAuthorization(r.env.Ctx, r.req)
	assert.Equal(t, "invalid_target", oauthCode(err), "no code is issued for another resource")
}

func TestOAuthAuthorizationRequestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		change     func(*engine.AuthorizationRequest)
		want       string
		noRedirect bool
	}{
		"unknown client":       {func(q *engine.AuthorizationRequest) { q.ClientID = "oac_x" }, "invalid_client", true},
		"no client":            {func(q *engine.AuthorizationRequest) { q.ClientID = "" }, "invalid_request", true},
		"unregistered":         {func(q *engine.AuthorizationRequest) { q.RedirectURI = "http://127.0.0.1:1/evil" }, "invalid_request", true},
		"prefix of registered": {func(q *engine.AuthorizationRequest) { q.RedirectURI = oauthRedirect + "/x" }, "invalid_request", true},
		"token response":       {func(q *engine.AuthorizationRequest) { q.ResponseType = "token" }, "unsupported_response_type", false},
		"no challenge":         {func(q *engine.AuthorizationRequest) { q.CodeChallenge = "" }, "invalid_request", false},
		"plain PKCE":           {func(q *engine.AuthorizationRequest) { q.CodeChallengeMethod = "plain" }, "invalid_request", false},
		"bad challenge":        {func(q *engine.AuthorizationRequest) { q.CodeChallenge = "short" }, "invalid_request", false},
		"other resource":       {func(q *engine.AuthorizationRequest) { q.Resource = "http://evil/mcp" }, "invalid_target", false},
	} {
		t.Run(name, func(t *testing.T) {
			r := newOAuthRig(t)
			tc.change(&r.req)
			_, err := r.env.Engine.CheckAuthorization(r.env.Ctx, r.req)
			assert.Equal(t, tc.want, oauthCode(err))
			var oe *engine.OAuthError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, tc.noRedirect, oe.NoRedirect)
			_, err = r.env.Engine.ApproveAuthorization(r.env.Ctx, engine.Operator,
				engine.ApproveAuthorizationInput{Request: r.req, Agent: r.agent.ID})
			assert.Equal(t, tc.want, oauthCode(err), "consent re-checks the request")
		})
	}
}

func TestOAuthApprovalNeedsAnAdminAndAnAgent(t *testing.T) {
	r := newOAuthRig(t)
	for _, actor := range []engine.Actor{{Role: engine.RoleViewer, KeyID: "key_v"}, sqlitetest.AgentActor(r.agent), {}} {
		_, err := r.env.Engine.ApproveAuthorization(r.env.Ctx, actor,
			engine.ApproveAuthorizationInput{Request: r.req, Agent: r.agent.ID})
		assert.Contains(t, []string{engine.CodeForbidden, engine.CodeUnauthorized}, engine.ErrorCode(err))
	}
	_, err := r.env.Engine.ApproveAuthorization(r.env.Ctx, engine.Operator,
		engine.ApproveAuthorizationInput{Request: r.req, Agent: "nobody"})
	assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
	_, err = r.env.Engine.ApproveAuthorization(r.env.Ctx, engine.Operator, engine.ApproveAuthorizationInput{Request: r.req})
	assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
}

func TestOAuthRegistration(t *testing.T) {
	env := sqlitetest.New(t)
	for name, tc := range map[string]struct {
		in   engine.RegisterClientInput
		want string // "" when accepted
	}{
		"loopback http":      {engine.RegisterClientInput{RedirectURIs: []string{"http://localhost:9/cb"}, AuthMethod: "none"}, ""},
		"https":              {engine.RegisterClientInput{RedirectURIs: []string{"https://app.example/cb"}, AuthMethod: "none"}, ""},
		"native scheme":      {engine.RegisterClientInput{RedirectURIs: []string{"cursor://anysphere.cursor-mcp/oauth"}}, ""},
		"no redirect":        {engine.RegisterClientInput{AuthMethod: "none"}, "invalid_redirect_uri"},
		"remote http":        {engine.RegisterClientInput{RedirectURIs: []string{"http://app.example/cb"}}, "invalid_redirect_uri"},
		"fragment":           {engine.RegisterClientInput{RedirectURIs: []string{"https://app.example/cb#x"}}, "invalid_redirect_uri"},
		"relative":           {engine.RegisterClientInput{RedirectURIs: []string{"/cb"}}, "invalid_redirect_uri"},
		"javascript":         {engine.RegisterClientInput{RedirectURIs: []string{"javascript:alert(1)"}}, "invalid_redirect_uri"},
		"127 as a name":      {engine.RegisterClientInput{RedirectURIs: []string{"http://127.evil.example/cb"}}, "invalid_redirect_uri"},
		"a name after 127":   {engine.RegisterClientInput{RedirectURIs: []string{"http://127.0.0.1.nip.io/cb"}}, "invalid_redirect_uri"},
		"loopback v6":        {engine.RegisterClientInput{RedirectURIs: []string{"http://[::1]:9/cb"}, AuthMethod: "none"}, ""},
		"user info":          {engine.RegisterClientInput{RedirectURIs: []string{"https://trusted.example@evil.example/cb"}}, "invalid_redirect_uri"},
		"wildcard host":      {engine.RegisterClientInput{RedirectURIs: []string{"https://*/cb"}}, "invalid_redirect_uri"},
		"directive in host":  {engine.RegisterClientInput{RedirectURIs: []string{"https://evil.example;script-src/cb"}}, "invalid_redirect_uri"},
		"view-source":        {engine.RegisterClientInput{RedirectURIs: []string{"view-source:https://a.example/"}}, "invalid_redirect_uri"},
		"unknown auth":       {engine.RegisterClientInput{RedirectURIs: []string{"https://a.example/cb"}, AuthMethod: "private_key_jwt"}, "invalid_client_metadata"},
		"implicit grant":     {engine.RegisterClientInput{RedirectURIs: []string{"https://a.example/cb"}, GrantTypes: []string{"implicit"}}, "invalid_client_metadata"},
		"token response":     {engine.RegisterClientInput{RedirectURIs: []string{"https://a.example/cb"}, ResponseTypes: []string{"token"}}, "invalid_client_metadata"},
		"control characters": {engine.RegisterClientInput{Name: "a\x00b", RedirectURIs: []string{"https://a.example/cb"}}, "invalid_client_metadata"},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := env.Engine.RegisterOAuthClient(env.Ctx, tc.in)
			if tc.want != "" {
				assert.Equal(t, tc.want, oauthCode(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "dynamic", c.RegisteredBy)
			if c.AuthMethod == engine.OAuthAuthNone {
				assert.Empty(t, c.Secret)
			} else {
				assert.Equal(t, engine.OAuthAuthClientSecretBasic, c.AuthMethod, "RFC 7591's default")
				assert.True(t, strings.HasPrefix(c.Secret, engine.OAuthClientSecretPrefix))
			}
		})
	}
}

func TestOAuthConfidentialClientMustAuthenticate(t *testing.T) {
	r := newOAuthRig(t)
	c, err := r.env.Engine.CreateOAuthClient(r.env.Ctx, engine.Operator, engine.RegisterClientInput{Name: "Server app",
		RedirectURIs: []string{oauthRedirect}, AuthMethod: engine.OAuthAuthClientSecretPost})
	require.NoError(t, err)
	assert.Equal(t, "operator", c.RegisteredBy)
	r.client, r.req.ClientID = c, c.ID
	code := r.approve(t, false)
	q := engine.TokenRequest{GrantType: "authorization_code", ClientID: c.ID, Code: code.Code, RedirectURI: oauthRedirect,
		CodeVerifier: oauthVerifier}
	for _, secret := range []string{"", "al_cs_" + strings.Repeat("0", 64)} {
		q.ClientSecret = secret
		_, err = r.env.Engine.Token(r.env.Ctx, q)
		assert.Equal(t, "invalid_client", oauthCode(err))
	}
	q.ClientSecret, q.AuthMethod = c.Secret, engine.OAuthAuthClientSecretBasic
	_, err = r.env.Engine.Token(r.env.Ctx, q)
	assert.Equal(t, "invalid_client", oauthCode(err), "not the way it registered")
	q.AuthMethod = engine.OAuthAuthClientSecretPost
	_, err = r.env.Engine.Token(r.env.Ctx, q)
	assert.NoError(t, err)

	_, err = r.env.Engine.CreateOAuthClient(r.env.Ctx, engine.Actor{Role: engine.RoleViewer, KeyID: "key_v"},
		engine.RegisterClientInput{RedirectURIs: []string{oauthRedirect}})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	_, err = r.env.Engine.CreateOAuthClient(r.env.Ctx, engine.Operator, engine.RegisterClientInput{})
	assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err), "the operator's errors are agentledger's")
}

func TestOAuthRevocation(t *testing.T) {
	r := newOAuthRig(t)
	tokens, err := r.exchange(r.approve(t, false).Code)
	require.NoError(t, err)
	second, err := r.exchange(r.approve(t, true).Code)
	require.NoError(t, err)

	// RFC 7009: a client revokes its own tokens; another's or an unknown token changes nothing, without error.
	other, err := r.env.Engine.RegisterOAuthClient(r.env.Ctx, engine.RegisterClientInput{
		RedirectURIs: []string{oauthRedirect}, AuthMethod: engine.OAuthAuthNone})
	require.NoError(t, err)
	require.NoError(t, r.env.Engine.RevokeToken(r.env.Ctx, engine.RevokeTokenRequest{ClientID: other.ID, Token: tokens.AccessToken}))
	require.NoError(t, r.env.Engine.RevokeToken(r.env.Ctx, engine.RevokeTokenRequest{ClientID: r.client.ID, Token: "junk"}))
	assert.Equal(t, "invalid_request", oauthCode(r.env.Engine.RevokeToken(r.env.Ctx,
		engine.RevokeTokenRequest{ClientID: r.client.ID})))
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	require.NoError(t, err)
	assert.Equal(t, "invalid_client", oauthCode(r.env.Engine.RevokeToken(r.env.Ctx, engine.RevokeTokenRequest{Token: tokens.AccessToken})))

	require.NoError(t, r.env.Engine.RevokeToken(r.env.Ctx, engine.RevokeTokenRequest{ClientID: r.client.ID, Token: tokens.RefreshToken}))
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), "revoking the refresh token ends the grant")
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, second.AccessToken, oauthResource)
	require.NoError(t, err, "the client's other grant lives on")

	// The operator revokes the client: every grant ends, and the client can no longer ask.
	res, err := r.env.Engine.RevokeOAuth(r.env.Ctx, engine.Operator, engine.RevokeOAuthInput{ID: r.client.ID})
	require.NoError(t, err)
	assert.Len(t, res.Grants, 1, "the grant still active")
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, second.AccessToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err))
	_, err = r.refresh(second.RefreshToken)
	assert.Equal(t, "invalid_client", oauthCode(err))
	_, err = r.env.Engine.CheckAuthorization(r.env.Ctx, r.req)
	assert.Equal(t, "invalid_client", oauthCode(err))

	_, err = r.env.Engine.RevokeOAuth(r.env.Ctx, engine.Operator, engine.RevokeOAuthInput{ID: "key_x"})
	assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
	_, err = r.env.Engine.RevokeOAuth(r.env.Ctx, engine.Actor{Role: engine.RoleViewer, KeyID: "key_v"},
		engine.RevokeOAuthInput{ID: r.client.ID})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
}

func TestOAuthRevokingOneGrant(t *testing.T) {
	r := newOAuthRig(t)
	tokens, err := r.exchange(r.approve(t, false).Code)
	require.NoError(t, err)
	res, err := r.env.Engine.RevokeOAuth(r.env.Ctx, engine.Operator, engine.RevokeOAuthInput{ID: tokens.Grant.ID})
	require.NoError(t, err)
	require.Len(t, res.Grants, 1)
	assert.Equal(t, "revoked", res.Grants[0].Status())
	assert.Equal(t, "revoked by operator", res.Grants[0].RevokedReason)
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, tokens.AccessToken, oauthResource)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err))
	_, err = r.exchange(r.approve(t, false).Code)
	assert.NoError(t, err, "the client itself may be approved again")
}

func TestOAuthSecretsAreMasked(t *testing.T) {
	for _, prefix := range []string{engine.OAuthAccessTokenPrefix, engine.OAuthRefreshTokenPrefix,
		engine.OAuthCodePrefix, engine.OAuthClientSecretPrefix, engine.KeyPrefix} {
		secret := prefix + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
		masked := engine.MaskSecrets("got " + secret + " here")
		assert.Equal(t, "got "+prefix+"01234567… here", masked)
	}
}

func TestPruneRemovesExpiredOAuthTokensOnly(t *testing.T) {
	r := newOAuthRig(t)
	tokens, err := r.exchange(r.approve(t, false).Code)
	require.NoError(t, err)
	r.env.Clock.Advance(2 * engine.MinRetention)
	res, err := r.env.Engine.Prune(r.env.Ctx, engine.Operator, engine.PruneInput{Before: r.env.Clock.Now().Add(-engine.MinRetention)})
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.OAuthTokens, "the spent code and the expired access token")
	assert.Equal(t, int64(0), res.OAuthClients, "a client with a consent stays")
	next, err := r.refresh(tokens.RefreshToken)
	require.NoError(t, err, "the refresh token, not expired, is kept")
	_, err = r.env.Engine.AuthenticateOAuth(r.env.Ctx, next.AccessToken, oauthResource)
	assert.NoError(t, err)
}

func TestPruneRemovesSelfRegisteredClientsNobodyApproved(t *testing.T) {
	r := newOAuthRig(t) // its client is never approved
	byOperator, err := r.env.Engine.CreateOAuthClient(r.env.Ctx, engine.Operator, engine.RegisterClientInput{
		RedirectURIs: []string{oauthRedirect}, AuthMethod: engine.OAuthAuthNone})
	require.NoError(t, err)
	r.env.Clock.Advance(2 * engine.MinRetention)
	recent, err := r.env.Engine.RegisterOAuthClient(r.env.Ctx, engine.RegisterClientInput{
		RedirectURIs: []string{oauthRedirect}, AuthMethod: engine.OAuthAuthNone})
	require.NoError(t, err)
	res, err := r.env.Engine.Prune(r.env.Ctx, engine.Operator, engine.PruneInput{Before: r.env.Clock.Now().Add(-engine.MinRetention)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.OAuthClients)
	left, err := r.env.Engine.ListOAuthClients(r.env.Ctx, engine.Operator, engine.Page{})
	require.NoError(t, err)
	var ids []string
	for _, c := range left.Items {
		ids = append(ids, c.ID)
	}
	assert.ElementsMatch(t, []string{byOperator.ID, recent.ID}, ids, "the operator's and the recent one stay")
}
