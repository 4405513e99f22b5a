package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/oauth"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/web"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	redirectURI = "http://127.0.0.1:47615/cb"
	verifier    = "e2e-verifier-0123456789-0123456789-0123456789-abcdef"
)

func challenge(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// rig is the whole HTTP face (MCP at /mcp, the OAuth endpoints, the
// dashboard's consent page) over a real engine on a loopback server.
type rig struct {
	t        *testing.T
	env      *sqlitetest.Env
	url      string
	admin    string
	agent    *engine.Agent
	browser  *http.Client // the operator's, with the dashboard's cookie
	clientID string
}

func newRig(t *testing.T, opts oauth.Options) *rig {
	if opts.RatePerMinute == 0 {
		opts.RatePerMinute = -1
	}
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(100_000, engine.Policy{})
	face, err := oauth.New(env.Engine, opts)
	require.NoError(t, err)
	srv := mcp.New(env.Engine, mcp.Options{KeyCacheTTL: -1})
	dashboard := web.New(env.Engine, web.Options{OAuth: face})
	h := srv.NewHTTP(mcp.HTTPOptions{OAuthResource: face.Resource, Mount: func(mux *http.ServeMux) {
		face.Mount(mux)
		dashboard.Mount(mux)
	}})
	ts := httptest.NewServer(h.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		ts.Close()
	})
	k, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAdmin})
	require.NoError(t, err)
	jar, _ := cookiejar.New(nil)
	r := &rig{t: t, env: env, url: ts.URL, admin: k.Secret, agent: agent,
		browser: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the test follows redirects itself, to see them
		}}}
	return r
}

// register registers a public client through the endpoint.
func (r *rig) register() string {
	r.t.Helper()
	res, body := r.postJSON(oauth.RegisterPath, `{"client_name":"Rig client","redirect_uris":["`+redirectURI+`"],
		"token_endpoint_auth_method":"none"}`)
	require.Equal(r.t, http.StatusCreated, res.StatusCode, body)
	var c struct {
		ClientID string `json:"client_id"`
	}
	require.NoError(r.t, json.Unmarshal([]byte(body), &c))
	r.clientID = c.ClientID
	return c.ClientID
}

func (r *rig) postJSON(path, body string) (*http.Response, string) {
	r.t.Helper()
	res, err := http.Post(r.url+path, "application/json", strings.NewReader(body))
	require.NoError(r.t, err)
	return res, readAll(r.t, res)
}

func (r *rig) postForm(path string, form url.Values, basic ...string) (*http.Response, map[string]any) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+path, strings.NewReader(form.Encode()))
	require.NoError(r.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	body := readAll(r.t, res)
	out := map[string]any{}
	if body != "" {
		require.NoError(r.t, json.Unmarshal([]byte(body), &out), body)
	}
	return res, out
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

// authorizeQuery is the client's authorization request.
func (r *rig) authorizeQuery(change func(url.Values)) url.Values {
	q := url.Values{"client_id": {r.clientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"code_challenge": {challenge(verifier)}, "code_challenge_method": {"S256"}, "state": {"st4te"},
		"resource": {r.url + "/mcp"}}
	if change != nil {
		change(q)
	}
	return q
}

// signIn signs the operator's browser in to the dashboard with key.
func (r *rig) signIn(key string) {
	r.t.Helper()
	res, err := r.browser.PostForm(r.url+"/signin", url.Values{"key": {key}})
	require.NoError(r.t, err)
	readAll(r.t, res)
	require.Equal(r.t, http.StatusSeeOther, res.StatusCode)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// consentPage opens the consent page, as the signed-in operator.
func (r *rig) consentPage(q url.Values) (*http.Response, string) {
	r.t.Helper()
	res, err := r.browser.Get(r.url + oauth.AuthorizePath + "?" + q.Encode())
	require.NoError(r.t, err)
	return res, readAll(r.t, res)
}

// answer opens the consent page and answers it; it returns where the
// browser is sent.
func (r *rig) answer(q url.Values, decision string, fields url.Values) *url.URL {
	r.t.Helper()
	res, page := r.consentPage(q)
	require.Equal(r.t, http.StatusOK, res.StatusCode, page)
	m := csrfField.FindStringSubmatch(page)
	require.NotNil(r.t, m, page)
	form := url.Values{"csrf": {m[1]}, "decision": {decision}, "agent": {r.agent.ID}}
	for k, v := range q {
		form[k] = v
	}
	for k, v := range fields {
		form[k] = v
	}
	res, err := r.browser.PostForm(r.url+oauth.AuthorizePath, form)
	require.NoError(r.t, err)
	body := readAll(r.t, res)
	require.Equal(r.t, http.StatusSeeOther, res.StatusCode, body)
	to, err := url.Parse(res.Header.Get("Location"))
	require.NoError(r.t, err)
	return to
}

// code runs the authorization to its code.
func (r *rig) code(fields url.Values) string {
	r.t.Helper()
	to := r.answer(r.authorizeQuery(nil), "allow", fields)
	require.Equal(r.t, redirectURI, to.Scheme+"://"+to.Host+to.Path)
	assert.Equal(r.t, "st4te", to.Query().Get("state"))
	assert.Equal(r.t, r.url, to.Query().Get("iss"))
	require.NotEmpty(r.t, to.Query().Get("code"), to.String())
	return to.Query().Get("code")
}

func (r *rig) exchange(code string, change func(url.Values)) (*http.Response, map[string]any) {
	r.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {r.clientID}, "code_verifier": {verifier}, "resource": {r.url + "/mcp"}}
	if change != nil {
		change(form)
	}
	return r.postForm(oauth.TokenPath, form)
}

// tokens runs the whole flow to an access and refresh token.
func (r *rig) tokens(fields url.Values) (access, refresh string) {
	r.t.Helper()
	res, body := r.exchange(r.code(fields), nil)
	require.Equal(r.t, http.StatusOK, res.StatusCode, body)
	assert.Equal(r.t, "no-store", res.Header.Get("Cache-Control"))
	assert.Equal(r.t, "Bearer", body["token_type"])
	return body["access_token"].(string), body["refresh_token"].(string)
}

// mcpStatus is the status /mcp answers an initialize with token.
func (r *rig) mcpStatus(token string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+"/mcp", strings.NewReader(
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},`+
			`"clientInfo":{"name":"raw","version":"1"}}}`))
	require.NoError(r.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	readAll(r.t, res)
	return res.StatusCode, res.Header.Get("WWW-Authenticate")
}

// dial connects an MCP client with an access token.
func (r *rig) dial(token string) *client.Client {
	r.t.Helper()
	tr, err := transport.NewStreamableHTTP(r.url+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	require.NoError(r.t, err)
	c := client.NewClient(tr)
	var init mcpgo.InitializeRequest
	init.Params.ClientInfo = mcpgo.Implementation{Name: "oauth-rig", Version: "1"}
	_, err = c.Initialize(context.Background(), init)
	require.NoError(r.t, err)
	r.t.Cleanup(func() { c.Close() })
	return c
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcpgo.CallToolResult {
	t.Helper()
	var req mcpgo.CallToolRequest
	req.Params.Name, req.Params.Arguments = name, args
	res, err := c.CallTool(context.Background(), req)
	require.NoError(t, err)
	return res
}

func TestDiscovery(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	status, challenge := r.mcpStatus("")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, `Bearer realm="agentledger", resource_metadata="`+r.url+`/.well-known/oauth-protected-resource/mcp"`, challenge)

	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		res, err := http.Get(r.url + path)
		require.NoError(t, err)
		var md struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		require.NoError(t, json.Unmarshal([]byte(readAll(t, res)), &md))
		assert.Equal(t, r.url+"/mcp", md.Resource, path)
		assert.Equal(t, []string{r.url}, md.AuthorizationServers, path)
	}
	res, err := http.Get(r.url + "/.well-known/oauth-authorization-server")
	require.NoError(t, err)
	var md map[string]any
	require.NoError(t, json.Unmarshal([]byte(readAll(t, res)), &md))
	assert.Equal(t, r.url, md["issuer"])
	assert.Equal(t, r.url+"/oauth/authorize", md["authorization_endpoint"])
	assert.Equal(t, r.url+"/oauth/register", md["registration_endpoint"])
	assert.Equal(t, []any{"S256"}, md["code_challenge_methods_supported"])
}

func TestRegistrationTurnedOff(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: false})
	res, err := http.Get(r.url + "/.well-known/oauth-authorization-server")
	require.NoError(t, err)
	var md map[string]any
	require.NoError(t, json.Unmarshal([]byte(readAll(t, res)), &md))
	assert.NotContains(t, md, "registration_endpoint")
	res, _ = r.postJSON(oauth.RegisterPath, `{"redirect_uris":["`+redirectURI+`"]}`)
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	// The operator registers the client instead, and the flow works.
	c, err := r.env.Engine.CreateOAuthClient(r.env.Ctx, engine.Operator, engine.RegisterClientInput{Name: "By hand",
		RedirectURIs: []string{redirectURI}, AuthMethod: engine.OAuthAuthNone})
	require.NoError(t, err)
	r.clientID = c.ID
	r.signIn(r.admin)
	access, _ := r.tokens(nil)
	status, _ := r.mcpStatus(access)
	assert.Equal(t, http.StatusOK, status)
}

func TestRegistrationRefusals(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	for name, tc := range map[string]struct{ body, want string }{
		"not JSON":       {`redirect_uris=x`, "invalid_client_metadata"},
		"wrong type":     {`{"redirect_uris":"` + redirectURI + `"}`, "invalid_client_metadata"},
		"no redirect":    {`{"client_name":"x"}`, "invalid_redirect_uri"},
		"remote http":    {`{"redirect_uris":["http://evil.example/cb"]}`, "invalid_redirect_uri"},
		"implicit grant": {`{"redirect_uris":["` + redirectURI + `"],"grant_types":["implicit"]}`, "invalid_client_metadata"},
	} {
		res, body := r.postJSON(oauth.RegisterPath, tc.body)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode, name)
		assert.Contains(t, body, `"error":"`+tc.want+`"`, name)
	}
}

func TestFlowAndNegatives(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	r.register()

	// Not signed in: the consent link goes to sign-in, which returns to it.
	q := r.authorizeQuery(nil)
	res, err := r.browser.Get(r.url + oauth.AuthorizePath + "?" + q.Encode())
	require.NoError(t, err)
	readAll(t, res)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	signin, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/signin", signin.Path)
	next := signin.Query().Get("next")
	res, err = r.browser.PostForm(r.url+"/signin", url.Values{"key": {r.admin}, "next": {next}})
	require.NoError(t, err)
	readAll(t, res)
	assert.Equal(t, oauth.AuthorizePath+"?"+q.Encode(), res.Header.Get("Location"))

	_, page := r.consentPage(q)
	assert.Contains(t, page, "Rig client", "the consent page names the client")
	assert.Contains(t, page, redirectURI, "and where the answer goes")
	assert.Contains(t, page, r.agent.Name, "and offers the agents")

	t.Run("the code works once, with its verifier", func(t *testing.T) {
		code := r.code(nil)
		res, body := r.exchange(code, func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 43)) })
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Equal(t, "invalid_grant", body["error"], "wrong PKCE verifier")
		res, body = r.exchange(code, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		access := body["access_token"].(string)
		res, body = r.exchange(code, nil)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Equal(t, "invalid_grant", body["error"], "reused code")
		status, challenge := r.mcpStatus(access)
		assert.Equal(t, http.StatusUnauthorized, status, "a reused code revokes what it issued")
		assert.Contains(t, challenge, `error="invalid_token"`)
	})

	t.Run("redirect URI not registered: refused on the page, never sent there", func(t *testing.T) {
		res, page := r.consentPage(r.authorizeQuery(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:1/evil") }))
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Empty(t, res.Header.Get("Location"))
		assert.Contains(t, page, "redirect_uri: not one this client registered")
		assert.NotContains(t, page, "consent-form")
	})

	t.Run("errors the client may hear go back to it, on a click", func(t *testing.T) {
		for name, tc := range map[string]struct {
			change func(url.Values)
			want   string
		}{
			"plain PKCE":     {func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
			"no PKCE":        {func(q url.Values) { q.Del("code_challenge") }, "invalid_request"},
			"other resource": {func(q url.Values) { q.Set("resource", "https://other.example/mcp") }, "invalid_target"},
			"implicit":       {func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		} {
			// A self-registered client must not make this page a redirector
			// (RFC 9700 §4.11.2): the error is shown, with a link back.
			res, page := r.consentPage(r.authorizeQuery(tc.change))
			require.Equal(t, http.StatusBadRequest, res.StatusCode, name)
			assert.Empty(t, res.Header.Get("Location"), name)
			m := regexp.MustCompile(`<a href="([^"]+)" rel="noreferrer">Return to the client</a>`).FindStringSubmatch(page)
			require.NotNil(t, m, "%s: %s", name, page)
			to, err := url.Parse(html.UnescapeString(m[1]))
			require.NoError(t, err)
			assert.Equal(t, tc.want, to.Query().Get("error"), name)
			assert.Equal(t, "st4te", to.Query().Get("state"), name)
			assert.True(t, strings.HasPrefix(to.String(), redirectURI+"?"), name)
		}
		// A client the operator registered gets its error at once, as RFC 6749 §4.1.2.1 says.
		c, err := r.env.Engine.CreateOAuthClient(r.env.Ctx, engine.Operator, engine.RegisterClientInput{Name: "Known",
			RedirectURIs: []string{redirectURI}, AuthMethod: engine.OAuthAuthNone})
		require.NoError(t, err)
		res, _ := r.consentPage(r.authorizeQuery(func(q url.Values) {
			q.Set("client_id", c.ID)
			q.Set("code_challenge_method", "plain")
		}))
		require.Equal(t, http.StatusSeeOther, res.StatusCode)
		to, err := url.Parse(res.Header.Get("Location"))
		require.NoError(t, err)
		assert.Equal(t, "invalid_request", to.Query().Get("error"))
	})

	t.Run("a parameter given twice", func(t *testing.T) {
		q := r.authorizeQuery(nil)
		q.Add("redirect_uri", "http://127.0.0.1:1/evil")
		res, page := r.consentPage(q)
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Contains(t, page, "redirect_uri is given more than once")
		res, body := r.postForm(oauth.TokenPath, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {"al_rt_1", "al_rt_2"}, "client_id": {r.clientID}})
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Equal(t, "invalid_request", body["error"])
	})

	t.Run("consent denied", func(t *testing.T) {
		to := r.answer(r.authorizeQuery(nil), "deny", nil)
		assert.Equal(t, "access_denied", to.Query().Get("error"))
		assert.Equal(t, "st4te", to.Query().Get("state"))
		assert.Empty(t, to.Query().Get("code"))
	})

	t.Run("a consent form without its CSRF token", func(t *testing.T) {
		form := r.authorizeQuery(nil)
		form.Set("decision", "allow")
		form.Set("agent", r.agent.ID)
		res, err := r.browser.PostForm(r.url+oauth.AuthorizePath, form)
		require.NoError(t, err)
		readAll(t, res)
		assert.Equal(t, http.StatusForbidden, res.StatusCode)
	})

	t.Run("an unknown agent is the operator's to fix, on the page", func(t *testing.T) {
		res, page := r.consentPage(r.authorizeQuery(nil))
		require.Equal(t, http.StatusOK, res.StatusCode)
		form := r.authorizeQuery(nil)
		form.Set("csrf", csrfField.FindStringSubmatch(page)[1])
		form.Set("decision", "allow")
		form.Set("agent", "nobody")
		res, err := r.browser.PostForm(r.url+oauth.AuthorizePath, form)
		require.NoError(t, err)
		body := readAll(t, res)
		assert.Equal(t, http.StatusNotFound, res.StatusCode)
		assert.Contains(t, body, `agent &#34;nobody&#34; not found`)
	})

	t.Run("a token for another resource is refused", func(t *testing.T) {
		// The engine issues one as it would for another agentledger on this database.
		other := engine.AuthorizationRequest{ClientID: r.clientID, RedirectURI: redirectURI, ResponseType: "code",
			CodeChallenge: challenge(verifier), CodeChallengeMethod: "S256", ServerResource: "http://other.example/mcp"}
		code, err := r.env.Engine.ApproveAuthorization(r.env.Ctx, engine.Operator,
			engine.ApproveAuthorizationInput{Request: other, Agent: r.agent.ID})
		require.NoError(t, err)
		tokens, err := r.env.Engine.Token(r.env.Ctx, engine.TokenRequest{GrantType: "authorization_code",
			ClientID: r.clientID, Code: code.Code, RedirectURI: redirectURI, CodeVerifier: verifier})
		require.NoError(t, err)
		status, challenge := r.mcpStatus(tokens.AccessToken)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, challenge, `error="invalid_token"`)
		res, body := r.postForm(oauth.TokenPath, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {tokens.RefreshToken}, "client_id": {r.clientID}, "resource": {r.url + "/mcp"}})
		assert.Equal(t, http.StatusBadRequest, res.StatusCode)
		assert.Equal(t, "invalid_target", body["error"], "nor refreshed for this one")
	})

	t.Run("an expired access token is refused; its refresh token gets a new one", func(t *testing.T) {
		access, refresh := r.tokens(nil)
		status, _ := r.mcpStatus(access)
		require.Equal(t, http.StatusOK, status)
		r.env.Clock.Advance(engine.DefaultOAuthAccessTTL)
		status, challenge := r.mcpStatus(access)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, challenge, `error="invalid_token"`)
		res, body := r.postForm(oauth.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh},
			"client_id": {r.clientID}})
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		status, _ = r.mcpStatus(body["access_token"].(string))
		assert.Equal(t, http.StatusOK, status)
	})

	t.Run("the client revokes its token (RFC 7009)", func(t *testing.T) {
		access, refresh := r.tokens(nil)
		res, _ := r.postForm(oauth.RevokePath, url.Values{"token": {refresh}, "client_id": {r.clientID}})
		assert.Equal(t, http.StatusOK, res.StatusCode)
		status, _ := r.mcpStatus(access)
		assert.Equal(t, http.StatusUnauthorized, status)
		res, _ = r.postForm(oauth.RevokePath, url.Values{"token": {"whatever"}, "client_id": {r.clientID}})
		assert.Equal(t, http.StatusOK, res.StatusCode, "an unknown token is no error")
		res, body := r.postForm(oauth.RevokePath, url.Values{"token": {refresh}})
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
		assert.Equal(t, "invalid_client", body["error"])
	})

	t.Run("token endpoint refusals", func(t *testing.T) {
		for name, tc := range map[string]struct {
			form   url.Values
			status int
			want   string
		}{
			"no grant type":  {url.Values{"client_id": {r.clientID}}, 400, "invalid_request"},
			"password grant": {url.Values{"grant_type": {"password"}, "client_id": {r.clientID}}, 400, "unsupported_grant_type"},
			"unknown client": {url.Values{"grant_type": {"refresh_token"}, "client_id": {"oac_x"},
				"refresh_token": {"al_rt_00"}}, 401, "invalid_client"},
			"no refresh token": {url.Values{"grant_type": {"refresh_token"}, "client_id": {r.clientID}}, 400,
				"invalid_request"},
			"unknown refresh": {url.Values{"grant_type": {"refresh_token"}, "client_id": {r.clientID}, "refresh_token": {"al_rt_00"}}, 400, "invalid_grant"},
		} {
			res, body := r.postForm(oauth.TokenPath, tc.form)
			assert.Equal(t, tc.status, res.StatusCode, name)
			assert.Equal(t, tc.want, body["error"], name)
		}
		req, err := http.NewRequest(http.MethodPost, r.url+oauth.TokenPath, strings.NewReader(`{"grant_type":"x"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		assert.Contains(t, readAll(t, res), `"invalid_request"`, "JSON is not the token endpoint's format")
	})
}

func TestReadOnlyGrantOverMCP(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	r.register()
	r.signIn(r.admin)
	access, _ := r.tokens(url.Values{"access": {"read"}})
	c := r.dial(access)
	tools, err := c.ListTools(context.Background(), mcpgo.ListToolsRequest{})
	require.NoError(t, err)
	require.Len(t, tools.Tools, 3)
	for _, tool := range tools.Tools {
		assert.NotContains(t, string(tool.RawInputSchema), `"agent_id"`, "%s: the grant's one agent", tool.Name)
	}
	res := callTool(t, c, "ledger_card", map[string]any{"action": "list"})
	assert.False(t, res.IsError, "it may read the agent's cards: %v", res.Content)
	res = callTool(t, c, "ledger_intent", map[string]any{"action": "declare", "summary": "Paper", "amount": 500,
		"merchant": "Office Depot"})
	require.True(t, res.IsError, "but not attest an intent")
	assert.Contains(t, mcpgo.GetTextFromContent(res.Content[0]), engine.CodeForbidden)
}

func TestFullGrantActsAsTheChosenAgentOnly(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	other := r.env.Agent("other", r.env.User("someone", 0), engine.Policy{})
	r.register()
	r.signIn(r.admin)
	access, _ := r.tokens(nil)
	c := r.dial(access)
	res := callTool(t, c, "ledger_card", map[string]any{"action": "create", "purpose": "tests"})
	require.False(t, res.IsError, "%v", res.Content)
	card := res.StructuredContent.(map[string]any)
	assert.Equal(t, r.agent.ID, card["agent_id"])
	res = callTool(t, c, "policy_check", map[string]any{"agent_id": other.ID, "action_type": "api_spend", "amount": 100,
		"reason": "someone else's"})
	require.True(t, res.IsError, "naming another agent")
	assert.Contains(t, mcpgo.GetTextFromContent(res.Content[0]), engine.CodeNotFound)
}

func TestAViewerCannotConsent(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	r.register()
	k, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleViewer})
	require.NoError(t, err)
	r.signIn(k.Secret)
	res, page := r.consentPage(r.authorizeQuery(nil))
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Contains(t, page, "only an admin may connect a client")
	assert.NotContains(t, page, "consent-form")
}

func TestConfidentialClientAtTheTokenEndpoint(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	_, body := r.postJSON(oauth.RegisterPath, `{"client_name":"Server app","redirect_uris":["`+redirectURI+`"]}`)
	var c struct {
		ClientID                string `json:"client_id"`
		ClientSecret            string `json:"client_secret"`
		TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &c))
	assert.Equal(t, engine.OAuthAuthClientSecretBasic, c.TokenEndpointAuthMethod, "RFC 7591's default")
	require.NotEmpty(t, c.ClientSecret)
	r.clientID = c.ClientID
	r.signIn(r.admin)
	code := r.code(nil)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier}}
	res, out := r.postForm(oauth.TokenPath, form, c.ClientID, "al_cs_wrong")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "invalid_client", out["error"])
	assert.Contains(t, res.Header.Get("WWW-Authenticate"), "Basic")
	both := url.Values{"client_secret": {c.ClientSecret}}
	for k, v := range form {
		both[k] = v
	}
	res, out = r.postForm(oauth.TokenPath, both, c.ClientID, c.ClientSecret)
	assert.Equal(t, "invalid_request", out["error"], "two ways at once")
	res, out = r.postForm(oauth.TokenPath, form, c.ClientID, c.ClientSecret)
	assert.Equal(t, http.StatusOK, res.StatusCode, out)
}

func TestAnonymousEndpointsAreRateLimited(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true, RatePerMinute: 3})
	for i := range 3 {
		res, _ := r.postForm(oauth.TokenPath, url.Values{"grant_type": {"refresh_token"}, "client_id": {"oac_x"},
			"refresh_token": {"al_rt_0"}})
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "request %d", i)
	}
	res, body := r.postForm(oauth.TokenPath, url.Values{"grant_type": {"refresh_token"}})
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "slow_down", body["error"])
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
	res, _ = r.postJSON(oauth.RegisterPath, `{"redirect_uris":["`+redirectURI+`"]}`)
	assert.Equal(t, http.StatusTooManyRequests, res.StatusCode, "one budget per address, for every endpoint")
	status, _ := r.mcpStatus("")
	assert.Equal(t, http.StatusUnauthorized, status, "/mcp is not limited here")
}

func TestRegistrationNeedsJSON(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	res, err := http.Post(r.url+oauth.RegisterPath, "text/plain", strings.NewReader(`{"redirect_uris":["`+redirectURI+`"]}`))
	require.NoError(t, err)
	assert.Contains(t, readAll(t, res), "application/json")
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
}

func TestHostNamingElsewhereGetsNoOAuth(t *testing.T) {
	r := newRig(t, oauth.Options{Registration: true})
	for _, host := range []string{"evil.example", "127.evil.example:80", "localhost.evil.example"} {
		req, err := http.NewRequest(http.MethodGet, r.url+"/.well-known/oauth-authorization-server", nil)
		require.NoError(t, err)
		req.Host = host // a page that rebound its DNS to this server
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		readAll(t, res)
		assert.Equal(t, http.StatusNotFound, res.StatusCode, host)
	}
	req, err := http.NewRequest(http.MethodGet, r.url+"/.well-known/oauth-authorization-server", nil)
	require.NoError(t, err)
	req.Host = strings.Replace(strings.TrimPrefix(r.url, "http://"), "127.0.0.1", "localhost", 1)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	assert.Contains(t, readAll(t, res), `"issuer":"http://localhost:`, "localhost is loopback too")
}

func TestPublicURL(t *testing.T) {
	for _, bad := range []string{"ledger.example.com", "ftp://x", "https://x/path", "https://x?q=1", "https://",
		"http://ledger.example.com"} {
		_, err := oauth.New(nil, oauth.Options{PublicURL: bad})
		assert.ErrorContains(t, err, "--public-url", bad)
	}
	_, err := oauth.New(nil, oauth.Options{PublicURL: "http://ledger.example.com", AllowHTTP: true})
	assert.NoError(t, err, "behind a proxy that terminates TLS (--insecure-http)")
	_, err = oauth.New(nil, oauth.Options{PublicURL: "http://127.0.0.1:8765"})
	assert.NoError(t, err, "loopback needs no TLS")
	face, err := oauth.New(nil, oauth.Options{PublicURL: "https://Ledger.Example.com/"})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "http://10.0.0.5/mcp", nil)
	resource, metadata := face.Resource(req)
	assert.Equal(t, "https://ledger.example.com/mcp", resource, "the public URL, whatever the Host says")
	assert.Equal(t, "https://ledger.example.com/.well-known/oauth-protected-resource/mcp", metadata)

	// Without it, a request that did not come to a loopback address gets no OAuth.
	face, err = oauth.New(nil, oauth.Options{})
	require.NoError(t, err)
	resource, _ = face.Resource(req)
	assert.Empty(t, resource)
}
