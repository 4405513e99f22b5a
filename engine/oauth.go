package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// agentledger is its own OAuth 2.1 authorization server for one resource:
// its MCP endpoint. A client registers (RFC 7591, or the operator registers
// it), a signed-in operator consents and picks the agent the client acts as,
// and the client trades the code (PKCE S256) for short-lived access tokens
// and rotating refresh tokens. Tokens are opaque and stored hashed, like API
// keys: looked up on every request, a revocation takes effect at once, and
// there is no signing key to keep.

// Token and secret prefixes: every one starts with KeyPrefix, so the masking
// of log lines and errors finds them as it finds keys.
const (
	OAuthAccessTokenPrefix  = KeyPrefix + "at_"
	OAuthRefreshTokenPrefix = KeyPrefix + "rt_"
	OAuthCodePrefix         = KeyPrefix + "ac_"
	OAuthClientSecretPrefix = KeyPrefix + "cs_"
)

// Lifetimes of what the authorization server issues.
const (
	OAuthCodeTTL           = 5 * time.Minute
	DefaultOAuthAccessTTL  = 15 * time.Minute
	DefaultOAuthRefreshTTL = 30 * 24 * time.Hour
)

const (
	maxRedirectURIs       = 10
	maxOAuthClientNameLen = 200
)

// Scopes: a grant is one or the other, as the operator chose.
const (
	OAuthScopeFull = "ledger"      // act as the chosen agent
	OAuthScopeRead = "ledger:read" // only read what the chosen agent may read
)

// How a client authenticates at the token endpoint.
const (
	OAuthAuthNone              = "none" // a public client: PKCE alone
	OAuthAuthClientSecretPost  = "client_secret_post"
	OAuthAuthClientSecretBasic = "client_secret_basic"
)

// OAuth token kinds, as stored.
const (
	OAuthKindCode    = "code"
	OAuthKindAccess  = "access"
	OAuthKindRefresh = "refresh"
)

// OAuthScopes are the scopes a client may ask for.
var OAuthScopes = []string{OAuthScopeFull, OAuthScopeRead}

// OAuthError is an error of the OAuth protocol, with the error code the RFC
// names for it (invalid_request, invalid_client, invalid_grant,
// invalid_target, …). Faces answer it as the RFC says: a JSON body at the
// token endpoint, a redirect back to the client from the authorization
// endpoint, except when NoRedirect says the redirect URI cannot be trusted.
type OAuthError struct {
	Code        string
	Description string
	NoRedirect  bool
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(code, format string, args ...any) *OAuthError {
	return &OAuthError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// OAuthClient is a client application registered with the authorization
// server. A confidential client's secret is shown once; only its SHA-256 is
// kept.
type OAuthClient struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	// AuthMethod is how the client authenticates at the token endpoint:
	// none (a public client, PKCE alone), client_secret_post or
	// client_secret_basic.
	AuthMethod string `json:"token_endpoint_auth_method"`
	SecretHash []byte `json:"-"`
	// RegisteredBy is "dynamic" (RFC 7591) or the operator who registered it.
	RegisteredBy string     `json:"registered_by"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
}

// OAuthGrant is one consent: an operator let a client act as an agent, for
// one resource. Its tokens are valid while the grant, its client and its
// agent are.
type OAuthGrant struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	AgentID  string `json:"agent_id"`
	// ReadOnly narrows the client to what the agent may read: it acts as a
	// viewer of that agent.
	ReadOnly bool   `json:"read_only"`
	Resource string `json:"resource"`
	Scope    string `json:"scope"`
	// RedirectURI is the redirect_uri the authorization request gave (empty
	// when it named none); the token request must give the same.
	RedirectURI   string     `json:"redirect_uri,omitempty"`
	CodeChallenge string     `json:"-"`
	ApprovedBy    string     `json:"approved_by"`
	CreatedAt     time.Time  `json:"created_at"`
	ConnectedAt   *time.Time `json:"connected_at,omitempty"` // when its code was exchanged
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
	RevokedReason string     `json:"revoked_reason,omitempty"`
}

// Status is active (tokens issued), pending (the client has not yet traded
// its code) or revoked.
func (g *OAuthGrant) Status() string {
	switch {
	case g.RevokedAt != nil:
		return "revoked"
	case g.ConnectedAt == nil:
		return "pending"
	}
	return "active"
}

// OAuthToken is an issued code, access token or refresh token, by the
// SHA-256 of its secret.
type OAuthToken struct {
	Hash      []byte
	Kind      string // OAuthKindCode, OAuthKindAccess or OAuthKindRefresh
	GrantID   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time // a code or refresh token is used once
}

// OAuthClientFilter selects clients, oldest first.
type OAuthClientFilter struct {
	After string
	Limit int
}

// OAuthGrantFilter selects grants, oldest first.
type OAuthGrantFilter struct {
	ClientID string
	After    string
	Limit    int
}

// RegisterClientInput is a client's registration (RFC 7591's metadata).
type RegisterClientInput struct {
	Name         string
	RedirectURIs []string
	// AuthMethod is token_endpoint_auth_method; RFC 7591's default,
	// client_secret_basic, when empty.
	AuthMethod    string
	GrantTypes    []string
	ResponseTypes []string
}

// NewOAuthClient is a registered client with its secret (confidential
// clients only), shown once.
type NewOAuthClient struct {
	OAuthClient
	Secret string `json:"client_secret,omitempty"`
}

// RegisterOAuthClient registers a client dynamically (RFC 7591): anyone who
// can reach the server may, since a client gets nothing until an operator
// consents. Errors are *OAuthError (invalid_redirect_uri,
// invalid_client_metadata).
func (e *Engine) RegisterOAuthClient(ctx context.Context, in RegisterClientInput) (*NewOAuthClient, error) {
	return e.registerOAuthClient(ctx, in, "dynamic")
}

// CreateOAuthClient registers a client for the operator, for servers that
// turned dynamic registration off. Operators only.
func (e *Engine) CreateOAuthClient(ctx context.Context, actor Actor, in RegisterClientInput) (*NewOAuthClient, error) {
	if err := actor.requireRole("register OAuth client", RoleAdmin); err != nil {
		return nil, err
	}
	c, err := e.registerOAuthClient(ctx, in, actor.String())
	var oe *OAuthError
	if errors.As(err, &oe) { // the CLI speaks agentledger's errors: the field is the description's first word
		field, _, _ := strings.Cut(oe.Description, ":")
		return nil, &Error{Code: CodeInvalidInput, Field: field, Message: oe.Description}
	}
	return c, err
}

func (e *Engine) registerOAuthClient(ctx context.Context, in RegisterClientInput, by string) (*NewOAuthClient, error) {
	c, err := checkClientMetadata(in)
	if err != nil {
		return nil, err
	}
	c.RegisteredBy = by
	out := &NewOAuthClient{}
	if c.AuthMethod != OAuthAuthNone {
		out.Secret = newToken(OAuthClientSecretPrefix)
		c.SecretHash = tokenHash(out.Secret)
	}
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		c.ID, c.CreatedAt = e.newID(PrefixOAuthClient, now), now
		return tx.InsertOAuthClient(c)
	})
	if err != nil {
		return nil, err
	}
	out.OAuthClient = *c
	return out, nil
}

// checkClientMetadata validates a registration as RFC 7591 and OAuth 2.1
// ask: redirect URIs exact, absolute, without fragments; https, or http only
// to loopback (a native app's local listener); a private-use scheme for
// native apps (cursor://…), but never one a browser would run.
func checkClientMetadata(in RegisterClientInput) (*OAuthClient, error) {
	name, err := checkFreeText("client_name", in.Name, maxOAuthClientNameLen, false)
	if err != nil {
		return nil, oauthErr("invalid_client_metadata", "%s", err.Error())
	}
	if len(in.RedirectURIs) == 0 || len(in.RedirectURIs) > maxRedirectURIs {
		return nil, oauthErr("invalid_redirect_uri", "redirect_uris: give between 1 and %d", maxRedirectURIs)
	}
	for _, u := range in.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, err
		}
	}
	method := in.AuthMethod
	if method == "" {
		method = OAuthAuthClientSecretBasic
	}
	if !slices.Contains([]string{OAuthAuthNone, OAuthAuthClientSecretPost, OAuthAuthClientSecretBasic}, method) {
		return nil, oauthErr("invalid_client_metadata",
			"token_endpoint_auth_method: %q is not supported (none, client_secret_post, client_secret_basic)", method)
	}
	for _, g := range in.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return nil, oauthErr("invalid_client_metadata",
				"grant_types: %q is not supported (authorization_code, refresh_token)", g)
		}
	}
	for _, r := range in.ResponseTypes {
		if r != "code" {
			return nil, oauthErr("invalid_client_metadata", "response_types: %q is not supported (code)", r)
		}
	}
	if name == "" {
		name = "unnamed client"
	}
	return &OAuthClient{Name: name, RedirectURIs: slices.Clone(in.RedirectURIs), AuthMethod: method}, nil
}

func checkRedirectURI(raw string) error {
	bad := func(why string) error {
		return oauthErr("invalid_redirect_uri", "redirect_uris: %q %s", maskSecrets(raw), why)
	}
	if len(raw) > 2000 || strings.IndexFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return bad("is too long or holds spaces or control characters")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return bad("is not an absolute URI")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("must not have a fragment")
	case u.User != nil:
		return bad("must not carry a user name (it would show a misleading host)")
	case strings.ContainsAny(u.Host, "*;,'\"\\"):
		return bad("has a host that is not a host name")
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" {
			return bad("has no host")
		}
	case "http":
		if !IsLoopbackHost(u.Hostname()) {
			return bad("must use https (http is allowed only to localhost, 127.0.0.1 or [::1])")
		}
	case "javascript", "data", "file", "vbscript", "about", "blob", "ftp", "ws", "wss", "chrome", "chrome-extension",
		"view-source", "jar", "mailto", "tel", "sms", "intent", "filesystem":
		return bad("has a scheme that cannot receive a code")
	}
	return nil
}

// IsLoopbackHost reports whether a URI's host is this machine: localhost or
// a loopback IP literal, never a name that merely starts like one
// (127.evil.example). The OAuth face asks it of Host headers too.
func IsLoopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// redirectMatches reports whether the redirect URI a request names is one
// the client registered: exactly, or (RFC 8252 §7.3) a loopback http URI on
// any port, since a native app listens on whichever port is free.
func redirectMatches(registered []string, asked string) bool {
	if slices.Contains(registered, asked) {
		return true
	}
	a, err := url.Parse(asked)
	if err != nil || a.Scheme != "http" || !IsLoopbackHost(a.Hostname()) {
		return false
	}
	for _, r := range registered {
		u, err := url.Parse(r)
		if err == nil && u.Scheme == "http" && u.Hostname() == a.Hostname() && u.Path == a.Path &&
			u.RawQuery == a.RawQuery && u.User == nil && a.User == nil {
			return true
		}
	}
	return false
}

// AuthorizationRequest is what a client sends to the authorization
// endpoint, plus the resource the serving face stands for.
type AuthorizationRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	CodeChallenge       string
	CodeChallengeMethod string
	Resource            string // RFC 8707; the server's own when empty
	Scope               string
	State               string
	// ServerResource is the resource the serving face protects (its MCP
	// URL): the only one tokens are issued for.
	ServerResource string
}

// AuthorizationCheck is a valid authorization request, resolved: what the
// consent page shows, and where the answer goes.
type AuthorizationCheck struct {
	Client      *OAuthClient
	RedirectURI string // where to send the answer
	Resource    string
	// ReadOnly is set when the client asked only for ledger:read: the
	// operator may not widen it.
	ReadOnly bool
}

// CheckAuthorization validates an authorization request before the operator
// is asked. Errors are *OAuthError; NoRedirect is set when the client or the
// redirect URI is unknown or wrong, since the answer must then not be sent
// to it (RFC 6749 §4.1.2.1).
func (e *Engine) CheckAuthorization(ctx context.Context, req AuthorizationRequest) (*AuthorizationCheck, error) {
	var out *AuthorizationCheck
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = checkAuthorization(tx, req)
		return err
	})
	return out, err
}

func checkAuthorization(tx Tx, req AuthorizationRequest) (*AuthorizationCheck, error) {
	noRedirect := func(code, format string, args ...any) error {
		e := oauthErr(code, format, args...)
		e.NoRedirect = true
		return e
	}
	if req.ClientID == "" {
		return nil, noRedirect("invalid_request", "client_id is required")
	}
	client, err := findLiveClient(tx, req.ClientID)
	if err != nil {
		if IsNotFound(err) {
			return nil, noRedirect("invalid_client", "client_id: no such client (or it was revoked)")
		}
		return nil, err
	}
	redirect := req.RedirectURI
	switch {
	case redirect == "" && len(client.RedirectURIs) == 1:
		redirect = client.RedirectURIs[0]
	case redirect == "":
		return nil, noRedirect("invalid_request", "redirect_uri is required: the client registered several")
	case !redirectMatches(client.RedirectURIs, redirect):
		return nil, noRedirect("invalid_request", "redirect_uri: not one this client registered")
	}
	out := &AuthorizationCheck{Client: client, RedirectURI: redirect}
	switch {
	case req.ResponseType != "code":
		return out, oauthErr("unsupported_response_type", "response_type must be code")
	case req.CodeChallenge == "":
		return out, oauthErr("invalid_request", "code_challenge is required (PKCE, S256)")
	case req.CodeChallengeMethod != "S256":
		return out, oauthErr("invalid_request", "code_challenge_method must be S256")
	case !validChallenge(req.CodeChallenge):
		return out, oauthErr("invalid_request", "code_challenge is not a base64url SHA-256")
	}
	if out.Resource, err = checkResource(req.Resource, req.ServerResource); err != nil {
		return out, err
	}
	scopes := strings.Fields(req.Scope)
	out.ReadOnly = slices.Contains(scopes, OAuthScopeRead) && !slices.Contains(scopes, OAuthScopeFull)
	return out, nil
}

// checkResource resolves the resource a request asks for (RFC 8707): the
// server's own, the only one this authorization server issues tokens for.
func checkResource(asked, server string) (string, error) {
	if server == "" {
		return "", fmt.Errorf("engine: no server resource given")
	}
	if asked == "" || canonicalResource(asked) == canonicalResource(server) {
		return canonicalResource(server), nil
	}
	return "", oauthErr("invalid_target", "resource: this server issues tokens only for %s", server)
}

// canonicalResource is a resource URL compared as RFC 3986 says: scheme and
// host in lower case, without a trailing slash.
func canonicalResource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath, u.Fragment = "", ""
	return u.String()
}

func validChallenge(c string) bool {
	return len(c) == 43 && strings.Trim(c, base64urlAlphabet) == ""
}

const base64urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// ApproveAuthorizationInput is an operator's consent.
type ApproveAuthorizationInput struct {
	Request  AuthorizationRequest
	Agent    string // the agent the client will act as, by id or name
	ReadOnly bool
}

// AuthorizationCode is the answer to an approved request: the code and
// where to send it.
type AuthorizationCode struct {
	Code        string
	RedirectURI string
	State       string
	Grant       *OAuthGrant
}

// ApproveAuthorization records an operator's consent and issues a code the
// client trades for tokens within OAuthCodeTTL. The request is checked
// again (the client may have been revoked meanwhile): its errors are those
// of CheckAuthorization. Admins only; an unknown agent is NOT_FOUND.
func (e *Engine) ApproveAuthorization(ctx context.Context, actor Actor,
	in ApproveAuthorizationInput) (*AuthorizationCode, error) {
	if err := actor.requireRole("approve an OAuth client", RoleAdmin); err != nil {
		return nil, err
	}
	if in.Agent == "" {
		return nil, invalid("agent", "choose the agent the client will act as")
	}
	var out *AuthorizationCode
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		check, err := checkAuthorization(tx, in.Request)
		if err != nil {
			return err
		}
		agent, err := findAgentFor(tx, actor, "agent", in.Agent)
		if err != nil {
			return err
		}
		readOnly := in.ReadOnly || check.ReadOnly
		g := &OAuthGrant{ID: e.newID(PrefixOAuthGrant, now), ClientID: check.Client.ID, AgentID: agent.ID,
			ReadOnly: readOnly, Resource: check.Resource, Scope: grantScope(readOnly),
			RedirectURI: in.Request.RedirectURI, CodeChallenge: in.Request.CodeChallenge,
			ApprovedBy: actor.String(), CreatedAt: now}
		if err := tx.InsertOAuthGrant(g); err != nil {
			return err
		}
		code := newToken(OAuthCodePrefix)
		if err := tx.InsertOAuthToken(&OAuthToken{Hash: tokenHash(code), Kind: OAuthKindCode, GrantID: g.ID,
			CreatedAt: now, ExpiresAt: now.Add(OAuthCodeTTL)}); err != nil {
			return err
		}
		out = &AuthorizationCode{Code: code, RedirectURI: check.RedirectURI, State: in.Request.State, Grant: g}
		return nil
	})
	return out, err
}

func grantScope(readOnly bool) string {
	if readOnly {
		return OAuthScopeRead
	}
	return OAuthScopeFull
}

// TokenRequest is a request to the token endpoint (RFC 6749 §4.1.3, §6).
type TokenRequest struct {
	GrantType    string // authorization_code or refresh_token
	ClientID     string
	ClientSecret string
	// AuthMethod is how the request authenticated the client: none,
	// client_secret_post or client_secret_basic. A confidential client must
	// use the method it registered.
	AuthMethod   string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Resource     string
}

// TokenSet is what the token endpoint answers.
type TokenSet struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	Scope        string
	Grant        *OAuthGrant
}

// oauthReuseGrace is how long after a refresh token was spent presenting it
// again is taken for a client's retry (its answer was lost, or two of its
// processes share one token file) and only refused; later, a replay revokes
// the grant.
const oauthReuseGrace = time.Minute

// Token trades a code or a refresh token for a new access token and a new
// refresh token; the code or the refresh token is spent. A code presented a
// second time, or a refresh token presented again after oauthReuseGrace,
// revokes its grant, as OAuth 2.1 asks: one of the two presenters stole it.
// A request that names no live client or no token of that client is refused
// from a read, so that anonymous requests never take the writer. Errors are
// *OAuthError (invalid_client, invalid_grant, invalid_request,
// invalid_target, unsupported_grant_type).
func (e *Engine) Token(ctx context.Context, req TokenRequest) (*TokenSet, error) {
	if err := checkTokenRequest(req); err != nil {
		return nil, err
	}
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		client, err := authenticateClient(tx, req.ClientID, req.ClientSecret, req.AuthMethod)
		if err != nil {
			return err
		}
		secret, kind := req.Code, OAuthKindCode
		if req.GrantType == "refresh_token" {
			secret, kind = req.RefreshToken, OAuthKindRefresh
		}
		_, grant, err := findToken(tx, secret, kind)
		if err != nil || grant.ClientID != client.ID {
			return orInternal(err, oauthErr("invalid_grant", "the %s is unknown or not this client's", kind))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out *TokenSet
	var refused error // refusals that still commit (a revocation on reuse)
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		client, err := authenticateClient(tx, req.ClientID, req.ClientSecret, req.AuthMethod)
		if err != nil {
			return err
		}
		var grant *OAuthGrant
		if req.GrantType == "authorization_code" {
			grant, refused, err = e.redeemCode(tx, client, req, now)
		} else {
			grant, refused, err = e.redeemRefresh(tx, client, req, now)
		}
		if err != nil || refused != nil {
			return err
		}
		out, err = e.issueTokens(tx, grant, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return out, nil
}

// checkTokenRequest refuses a request missing what its grant type needs.
func checkTokenRequest(req TokenRequest) error {
	switch {
	case req.GrantType == "":
		return oauthErr("invalid_request", "grant_type is required")
	case req.GrantType != "authorization_code" && req.GrantType != "refresh_token":
		return oauthErr("unsupported_grant_type", "grant_type %q is not supported", req.GrantType)
	case req.GrantType == "authorization_code" && req.Code == "":
		return oauthErr("invalid_request", "code is required")
	case req.GrantType == "refresh_token" && req.RefreshToken == "":
		return oauthErr("invalid_request", "refresh_token is required")
	}
	return nil
}

// redeemCode spends a code. A refusal that must still be committed (a
// reused code revokes its grant) comes back as refused, with err nil.
func (e *Engine) redeemCode(tx Tx, client *OAuthClient, req TokenRequest,
	now time.Time) (grant *OAuthGrant, refused, err error) {
	invalidGrant := oauthErr("invalid_grant", "the code is unknown, expired, already used or not this client's")
	tok, grant, err := findToken(tx, req.Code, OAuthKindCode)
	if err != nil || grant.ClientID != client.ID {
		return nil, nil, orInternal(err, invalidGrant)
	}
	switch {
	case tok.UsedAt != nil:
		return nil, invalidGrant, e.revokeGrant(tx, grant, "its code was used twice", now)
	case !now.Before(tok.ExpiresAt) || grant.RevokedAt != nil:
		return nil, nil, invalidGrant
	case req.RedirectURI != grant.RedirectURI:
		return nil, nil, oauthErr("invalid_grant", "redirect_uri differs from the authorization request's")
	case !pkceMatches(req.CodeVerifier, grant.CodeChallenge):
		return nil, nil, oauthErr("invalid_grant", "code_verifier does not match the code_challenge (PKCE)")
	}
	if _, err := checkResource(req.Resource, grant.Resource); err != nil {
		return nil, nil, err
	}
	if err := tx.MarkOAuthTokenUsed(tok.Hash, now); err != nil {
		return nil, nil, err
	}
	grant.ConnectedAt = &now
	return grant, nil, tx.UpdateOAuthGrant(grant)
}

func (e *Engine) redeemRefresh(tx Tx, client *OAuthClient, req TokenRequest,
	now time.Time) (grant *OAuthGrant, refused, err error) {
	invalidGrant := oauthErr("invalid_grant", "the refresh token is unknown, expired, revoked or not this client's")
	tok, grant, err := findToken(tx, req.RefreshToken, OAuthKindRefresh)
	if err != nil || grant.ClientID != client.ID {
		return nil, nil, orInternal(err, invalidGrant)
	}
	switch {
	case grant.RevokedAt != nil || !now.Before(tok.ExpiresAt):
		return nil, nil, invalidGrant
	case tok.UsedAt != nil && now.Sub(*tok.UsedAt) < oauthReuseGrace:
		return nil, nil, oauthErr("invalid_grant", "the refresh token was just spent: use the one that replaced it")
	case tok.UsedAt != nil:
		return nil, invalidGrant, e.revokeGrant(tx, grant, "a spent refresh token was presented again", now)
	}
	if _, err := checkResource(req.Resource, grant.Resource); err != nil {
		return nil, nil, err
	}
	if _, err := tx.FindAgent(grant.AgentID); err != nil {
		return nil, nil, orInternal(err, invalidGrant)
	}
	return grant, nil, tx.MarkOAuthTokenUsed(tok.Hash, now)
}

// orInternal returns protocolErr for a token or grant not found, and any
// other (internal) error as it is.
func orInternal(err error, protocolErr *OAuthError) error {
	if err == nil || IsNotFound(err) {
		return protocolErr
	}
	return err
}

func (e *Engine) issueTokens(tx Tx, g *OAuthGrant, now time.Time) (*TokenSet, error) {
	out := &TokenSet{AccessToken: newToken(OAuthAccessTokenPrefix), RefreshToken: newToken(OAuthRefreshTokenPrefix),
		ExpiresIn: e.oauthAccessTTL, Scope: g.Scope, Grant: g}
	for _, t := range []*OAuthToken{
		{Hash: tokenHash(out.AccessToken), Kind: OAuthKindAccess, ExpiresAt: now.Add(e.oauthAccessTTL)},
		{Hash: tokenHash(out.RefreshToken), Kind: OAuthKindRefresh, ExpiresAt: now.Add(e.oauthRefreshTTL)},
	} {
		t.GrantID, t.CreatedAt = g.ID, now
		if err := tx.InsertOAuthToken(t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// authenticateClient checks a client at the token or revocation endpoint:
// a public client by its id, a confidential one by its secret too, sent the
// way it registered.
func authenticateClient(tx Tx, id, secret, method string) (*OAuthClient, error) {
	refused := oauthErr("invalid_client", "client authentication failed")
	if id == "" {
		return nil, refused
	}
	c, err := findLiveClient(tx, id)
	if err != nil {
		return nil, orInternal(err, refused)
	}
	if c.AuthMethod == OAuthAuthNone {
		return c, nil
	}
	if secret == "" || subtle.ConstantTimeCompare(tokenHash(secret), c.SecretHash) != 1 ||
		(method != "" && method != c.AuthMethod) {
		return nil, refused
	}
	return c, nil
}

func findLiveClient(tx Tx, id string) (*OAuthClient, error) {
	if !isID(id, PrefixOAuthClient) {
		return nil, notFound("client_id", "OAuth client", id)
	}
	c, err := tx.FindOAuthClient(id)
	if err == nil && c.RevokedAt != nil {
		return nil, notFound("client_id", "OAuth client", id)
	}
	return c, err
}

// findToken finds a token of the kind by its secret, and its grant; a token
// not found, of another kind, or malformed is NOT_FOUND.
func findToken(tx Tx, secret, kind string) (*OAuthToken, *OAuthGrant, error) {
	if len(secret) > 200 || !strings.HasPrefix(secret, tokenPrefix(kind)) {
		return nil, nil, notFound("token", "token", "")
	}
	tok, err := tx.FindOAuthToken(tokenHash(secret))
	if err != nil {
		return nil, nil, err
	}
	if tok.Kind != kind {
		return nil, nil, notFound("token", "token", "")
	}
	g, err := tx.FindOAuthGrant(tok.GrantID)
	return tok, g, err
}

func tokenPrefix(kind string) string {
	switch kind {
	case OAuthKindCode:
		return OAuthCodePrefix
	case OAuthKindAccess:
		return OAuthAccessTokenPrefix
	}
	return OAuthRefreshTokenPrefix
}

func pkceMatches(verifier, challenge string) bool {
	// RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
	if len(verifier) < 43 || len(verifier) > 128 || strings.Trim(verifier, base64urlAlphabet+".~") != "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

func (e *Engine) revokeGrant(tx Tx, g *OAuthGrant, reason string, now time.Time) error {
	if g.RevokedAt != nil {
		return nil
	}
	g.RevokedAt, g.RevokedReason = &now, reason
	return tx.UpdateOAuthGrant(g)
}

// AuthenticateOAuth turns an access token into the actor it stands for: the
// grant's agent (a viewer of it when the grant is read-only), with the
// grant's id as KeyID. The token must be for resource, the serving face's
// own (the audience check). A token unknown, expired, revoked, for another
// resource, or whose client or agent is gone is UNAUTHORIZED; the message
// never says which.
func (e *Engine) AuthenticateOAuth(ctx context.Context, token, resource string) (Actor, error) {
	unauthorized := Errorf(CodeUnauthorized, "invalid or expired access token")
	var actor Actor
	err := e.view(ctx, func(tx Tx, now time.Time) error {
		tok, g, err := findToken(tx, strings.TrimSpace(token), OAuthKindAccess)
		if err != nil {
			return orUnauthorized(err, unauthorized)
		}
		if !now.Before(tok.ExpiresAt) || g.RevokedAt != nil || canonicalResource(resource) != g.Resource {
			return unauthorized
		}
		if _, err := findLiveClient(tx, g.ClientID); err != nil {
			return orUnauthorized(err, unauthorized)
		}
		if _, err := tx.FindAgent(g.AgentID); err != nil {
			return orUnauthorized(err, unauthorized)
		}
		actor = Actor{Role: RoleAgent, AgentID: g.AgentID, KeyID: g.ID}
		if g.ReadOnly {
			actor.Role = RoleViewer
		}
		return nil
	})
	return actor, err
}

func orUnauthorized(err error, unauthorized *Error) error {
	if IsNotFound(err) {
		return unauthorized
	}
	return err
}

// RevokeTokenRequest is a request to the revocation endpoint (RFC 7009).
type RevokeTokenRequest struct {
	ClientID, ClientSecret string
	AuthMethod             string // as TokenRequest's
	Token                  string
}

// RevokeToken revokes, for its client, the grant of an access or refresh
// token: the client is disconnected. A token unknown, already revoked or
// another client's changes nothing and is no error, as RFC 7009 asks; it is
// found from a read, so such a request never takes the writer. A client
// that fails authentication is invalid_client; no token is invalid_request.
func (e *Engine) RevokeToken(ctx context.Context, req RevokeTokenRequest) error {
	token := strings.TrimSpace(req.Token)
	if token == "" {
		return oauthErr("invalid_request", "token is required")
	}
	var grantID string
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		client, err := authenticateClient(tx, req.ClientID, req.ClientSecret, req.AuthMethod)
		if err != nil {
			return err
		}
		for _, kind := range []string{OAuthKindAccess, OAuthKindRefresh} {
			_, g, err := findToken(tx, token, kind)
			if IsNotFound(err) {
				continue
			} else if err != nil {
				return err
			}
			if g.ClientID == client.ID && g.RevokedAt == nil {
				grantID = g.ID
			}
		}
		return nil
	})
	if err != nil || grantID == "" {
		return err
	}
	return e.update(ctx, func(tx Tx, now time.Time) error {
		g, err := tx.FindOAuthGrant(grantID)
		if err != nil {
			return err
		}
		return e.revokeGrant(tx, g, "revoked by the client", now)
	})
}

// ListOAuthClients returns a page of registered clients, oldest first.
// Admins and viewers.
func (e *Engine) ListOAuthClients(ctx context.Context, actor Actor, page Page) (List[OAuthClient], error) {
	if err := actor.requireRole("list OAuth clients", RoleAdmin, RoleViewer); err != nil {
		return List[OAuthClient]{}, err
	}
	if err := page.check(PrefixOAuthClient); err != nil {
		return List[OAuthClient]{}, err
	}
	var out List[OAuthClient]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = paginate(page, func(c *OAuthClient) string { return c.ID },
			func(after string, limit int) ([]*OAuthClient, error) {
				return tx.ListOAuthClients(OAuthClientFilter{After: after, Limit: limit})
			}, keepAll)
		return err
	})
	return out, err
}

// ListOAuthGrants returns a page of consents, oldest first, of one client
// when clientID is set. Admins and viewers.
func (e *Engine) ListOAuthGrants(ctx context.Context, actor Actor, clientID string,
	page Page) (List[OAuthGrant], error) {
	if err := actor.requireRole("list OAuth grants", RoleAdmin, RoleViewer); err != nil {
		return List[OAuthGrant]{}, err
	}
	if err := page.check(PrefixOAuthGrant); err != nil {
		return List[OAuthGrant]{}, err
	}
	var out List[OAuthGrant]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = paginate(page, func(g *OAuthGrant) string { return g.ID },
			func(after string, limit int) ([]*OAuthGrant, error) {
				return tx.ListOAuthGrants(OAuthGrantFilter{ClientID: clientID, After: after, Limit: limit})
			}, keepAll)
		return err
	})
	return out, err
}

// RevokeOAuthInput names what an operator revokes: a client (oac_…), which
// ends every grant it holds and refuses its registration from now on, or a
// single grant (ogr_…).
type RevokeOAuthInput struct {
	ID string
}

// RevokeOAuthResult is what a revocation ended.
type RevokeOAuthResult struct {
	Client *OAuthClient  `json:"client,omitempty"`
	Grants []*OAuthGrant `json:"grants"`
}

// RevokeOAuth revokes a client or a grant; revoking what is revoked changes
// nothing. Admins only; an unknown id is NOT_FOUND.
func (e *Engine) RevokeOAuth(ctx context.Context, actor Actor, in RevokeOAuthInput) (*RevokeOAuthResult, error) {
	if err := actor.requireRole("revoke OAuth access", RoleAdmin); err != nil {
		return nil, err
	}
	out := &RevokeOAuthResult{Grants: []*OAuthGrant{}}
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		reason := "revoked by " + actor.String()
		switch {
		case isID(in.ID, PrefixOAuthGrant):
			g, err := tx.FindOAuthGrant(in.ID)
			if IsNotFound(err) {
				return notFound("id", "OAuth grant", in.ID)
			} else if err != nil {
				return err
			}
			out.Grants = append(out.Grants, g)
			return e.revokeGrant(tx, g, reason, now)
		case isID(in.ID, PrefixOAuthClient):
			c, err := tx.FindOAuthClient(in.ID)
			if IsNotFound(err) {
				return notFound("id", "OAuth client", in.ID)
			} else if err != nil {
				return err
			}
			if c.RevokedAt == nil {
				c.RevokedAt = &now
				if err := tx.UpdateOAuthClient(c); err != nil {
					return err
				}
			}
			out.Client = c
			grants, err := tx.ListOAuthGrants(OAuthGrantFilter{ClientID: c.ID})
			if err != nil {
				return err
			}
			for _, g := range grants {
				if g.RevokedAt == nil {
					if err := e.revokeGrant(tx, g, reason, now); err != nil {
						return err
					}
					out.Grants = append(out.Grants, g)
				}
			}
			return nil
		}
		return invalid("id", "%q is neither an OAuth client (%s…) nor a grant (%s…)", in.ID, PrefixOAuthClient,
			PrefixOAuthGrant)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// newToken returns a fresh secret: prefix and 64 hex digits.
func newToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("engine: crypto/rand failed: " + err.Error())
	}
	return prefix + hex.EncodeToString(b)
}

func tokenHash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
