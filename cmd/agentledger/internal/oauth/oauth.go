// Package oauth is the OAuth 2.1 face of serve --http: the metadata MCP
// clients discover (RFC 9728 for the resource, RFC 8414 for the
// authorization server), dynamic client registration (RFC 7591), the token
// endpoint and revocation (RFC 7009). The consent page is the dashboard's;
// every rule is the engine's. Errors are OAuth's own shape,
// {"error","error_description"}, as clients expect.
package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/ratelimit"
	"github.com/agentledger/agentledger/engine"
	"github.com/mark3labs/mcp-go/server"
)

// Paths of the endpoints.
const (
	AuthorizePath = "/oauth/authorize" // served by the dashboard: it signs the operator in
	TokenPath     = "/oauth/token"
	RegisterPath  = "/oauth/register"
	RevokePath    = "/oauth/revoke"
	// ResourcePath is the protected resource: the MCP endpoint.
	ResourcePath         = "/mcp"
	authServerMetadata   = "/.well-known/oauth-authorization-server"
	resourceMetadataPath = server.WellKnownProtectedResourcePath + ResourcePath
)

// Options configure the face.
type Options struct {
	// PublicURL is the URL clients reach the server at, such as
	// https://ledger.example.com: the issuer, and with /mcp the resource
	// tokens are bound to. When empty, a request that came to a loopback
	// address is served at its own scheme and Host; others get no OAuth,
	// since a Host header from the network could name any resource.
	PublicURL string
	// Registration allows dynamic client registration (RFC 7591). When off,
	// the operator registers clients with the CLI.
	Registration bool
	// AllowHTTP accepts a PublicURL of plain http on a host other than
	// loopback (serve --insecure-http: a proxy in front terminates TLS).
	AllowHTTP bool
	// RatePerMinute bounds the requests each remote address may make to the
	// registration, token and revocation endpoints (DefaultRatePerMinute
	// when zero; negative: no limit).
	RatePerMinute int
	Logger        *slog.Logger
	// Now is the rate limiter's clock; time.Now when nil.
	Now func() time.Time
}

// DefaultRatePerMinute is Options.RatePerMinute's default: far more than a
// client signing in needs, and little enough that nobody floods the writer.
const DefaultRatePerMinute = 60

// Server serves the OAuth endpoints over one engine.
type Server struct {
	eng     *engine.Engine
	opts    Options
	base    string // PublicURL, canonical; "" when requests name it
	log     *slog.Logger
	limiter *ratelimit.Limiter
}

// New checks the options and returns the face.
func New(eng *engine.Engine, opts Options) (*Server, error) {
	if opts.RatePerMinute == 0 {
		opts.RatePerMinute = DefaultRatePerMinute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{eng: eng, opts: opts, log: opts.Logger, limiter: ratelimit.New(opts.RatePerMinute)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.PublicURL != "" {
		u, err := url.Parse(opts.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" ||
			u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("--public-url: %q must be an http or https URL with a host and no path, "+
				"such as https://ledger.example.com", opts.PublicURL)
		}
		if u.Scheme == "http" && !engine.IsLoopbackHost(strings.ToLower(u.Hostname())) && !opts.AllowHTTP {
			return nil, fmt.Errorf("--public-url: %q is plain http: OAuth needs https (or --insecure-http when a "+
				"proxy in front terminates TLS)", opts.PublicURL)
		}
		s.base = u.Scheme + "://" + strings.ToLower(u.Host)
	}
	return s, nil
}

// BaseURL is the issuer for a request: the public URL, or for a request to
// a loopback address that names loopback in its Host, its own scheme and
// Host; "" when OAuth is not offered to the request. A Host naming anything
// else (a page rebinding its DNS to 127.0.0.1, a proxy in front) gets no
// OAuth without a public URL.
func (s *Server) BaseURL(r *http.Request) string {
	if s.base != "" {
		return s.base
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	tcp, isTCP := local.(*net.TCPAddr)
	host := r.Host
	if h, _, err := net.SplitHostPort(r.Host); err == nil {
		host = h
	}
	if !ok || !isTCP || !tcp.IP.IsLoopback() || !engine.IsLoopbackHost(strings.ToLower(strings.Trim(host, "[]"))) {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// Resource is the resource URL a request's tokens must be bound to, and the
// URL of its metadata; both "" when OAuth is not offered to the request.
func (s *Server) Resource(r *http.Request) (resource, metadataURL string) {
	base := s.BaseURL(r)
	if base == "" {
		return "", ""
	}
	return base + ResourcePath, base + resourceMetadataPath
}

// Mount adds the endpoints to mux.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+server.WellKnownProtectedResourcePath, s.resourceMetadata)
	mux.HandleFunc("GET "+resourceMetadataPath, s.resourceMetadata)
	mux.HandleFunc("GET "+authServerMetadata, s.serverMetadata)
	mux.HandleFunc("POST "+TokenPath, s.limited(s.token))
	mux.HandleFunc("POST "+RevokePath, s.limited(s.revoke))
	if s.opts.Registration {
		mux.HandleFunc("POST "+RegisterPath, s.limited(s.register))
	}
}

// limited answers 429 to a remote address past its rate: these endpoints
// take anonymous requests, which must not crowd the writer that decides
// card authorizations.
func (s *Server) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		addr := r.RemoteAddr
		if h, _, err := net.SplitHostPort(addr); err == nil {
			addr = h
		}
		if wait, ok := s.limiter.Take(addr, s.opts.Now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "slow_down",
				Description: "too many requests from this address: retry later"})
			return
		}
		next(w, r)
	}
}

// resourceMetadata serves RFC 9728's document through mcp-go's handler.
func (s *Server) resourceMetadata(w http.ResponseWriter, r *http.Request) {
	resource, _ := s.Resource(r)
	if resource == "" {
		s.notOffered(w)
		return
	}
	server.NewProtectedResourceMetadataHandler(server.ProtectedResourceMetadataConfig{
		Resource:               resource,
		AuthorizationServers:   []string{s.BaseURL(r)},
		ScopesSupported:        engine.OAuthScopes,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "agentledger",
	}).ServeHTTP(w, r)
}

// serverMetadata is RFC 8414's document.
type serverMetadata struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RegistrationEndpoint              string   `json:"registration_endpoint,omitempty"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	IssParameterSupported             bool     `json:"authorization_response_iss_parameter_supported"`
}

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	base := s.BaseURL(r)
	if base == "" {
		s.notOffered(w)
		return
	}
	methods := []string{engine.OAuthAuthNone, engine.OAuthAuthClientSecretPost, engine.OAuthAuthClientSecretBasic}
	md := serverMetadata{Issuer: base, AuthorizationEndpoint: base + AuthorizePath, TokenEndpoint: base + TokenPath,
		RevocationEndpoint: base + RevokePath, ScopesSupported: engine.OAuthScopes,
		ResponseTypesSupported: []string{"code"}, GrantTypesSupported: []string{"authorization_code", "refresh_token"},
		TokenEndpointAuthMethodsSupported: methods, RevocationEndpointAuthMethods: methods,
		CodeChallengeMethodsSupported: []string{"S256"}, IssParameterSupported: true}
	if s.opts.Registration {
		md.RegistrationEndpoint = base + RegisterPath
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, md)
}

func (s *Server) notOffered(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, errorBody{Error: "not_found",
		Description: "OAuth is offered on loopback addresses, or with serve --public-url"})
}

// clientMetadata is RFC 7591's registration request and answer.
type clientMetadata struct {
	ClientID                string   `json:"client_id,omitempty"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	if s.BaseURL(r) == "" {
		s.notOffered(w)
		return
	}
	var in clientMetadata
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.fail(w, r, &engine.OAuthError{Code: "invalid_client_metadata",
			Description: "send the client metadata as application/json (RFC 7591)"})
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.fail(w, r, &engine.OAuthError{Code: "invalid_client_metadata",
			Description: "the body must be a JSON object of client metadata (RFC 7591): " + jsonProblem(err)})
		return
	}
	c, err := s.eng.RegisterOAuthClient(r.Context(), engine.RegisterClientInput{Name: in.ClientName,
		RedirectURIs: in.RedirectURIs, AuthMethod: in.TokenEndpointAuthMethod, GrantTypes: in.GrantTypes,
		ResponseTypes: in.ResponseTypes})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := clientMetadata{ClientID: c.ID, ClientSecret: c.Secret, ClientIDIssuedAt: c.CreatedAt.Unix(),
		ClientName: c.Name, RedirectURIs: c.RedirectURIs, GrantTypes: []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"}, TokenEndpointAuthMethod: c.AuthMethod,
		Scope: strings.Join(engine.OAuthScopes, " ")}
	if c.Secret != "" {
		never := int64(0)
		out.ClientSecretExpiresAt = &never
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
}

// jsonProblem says what is wrong with a body without quoting it.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return typeErr.Field + " has the wrong type"
	}
	return "it is not valid JSON"
}

// tokenResponse is RFC 6749 §5.1's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if s.BaseURL(r) == "" {
		s.notOffered(w)
		return
	}
	c, err := clientCredentials(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := r.PostForm
	tokens, err := s.eng.Token(r.Context(), engine.TokenRequest{GrantType: f.Get("grant_type"), ClientID: c.id,
		ClientSecret: c.secret, AuthMethod: c.method, Code: f.Get("code"), RedirectURI: f.Get("redirect_uri"),
		CodeVerifier: f.Get("code_verifier"), RefreshToken: f.Get("refresh_token"), Resource: f.Get("resource")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tokens.AccessToken, TokenType: "Bearer",
		ExpiresIn: int64(tokens.ExpiresIn.Seconds()), RefreshToken: tokens.RefreshToken, Scope: tokens.Scope})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c, err := clientCredentials(r)
	if err == nil {
		err = s.eng.RevokeToken(r.Context(), engine.RevokeTokenRequest{ClientID: c.id, ClientSecret: c.secret,
			AuthMethod: c.method, Token: r.PostForm.Get("token")})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// credentials are a client's, as a request presented them.
type credentials struct {
	id, secret string
	method     string // none, client_secret_post or client_secret_basic
}

// clientCredentials reads the form and the client's credentials: HTTP Basic
// (RFC 6749 §2.3.1, form-encoded inside) or client_id and client_secret in
// the form, never both. A parameter given twice is refused (§3.2).
func clientCredentials(r *http.Request) (credentials, error) {
	invalid := func(d string) error { return &engine.OAuthError{Code: "invalid_request", Description: d} }
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return credentials{}, invalid("send the parameters as application/x-www-form-urlencoded")
	}
	if err := r.ParseForm(); err != nil {
		return credentials{}, invalid("the form does not parse")
	}
	for name, values := range r.PostForm {
		if len(values) > 1 {
			return credentials{}, invalid(name + " is given more than once")
		}
	}
	c := credentials{id: r.PostForm.Get("client_id"), secret: r.PostForm.Get("client_secret"),
		method: engine.OAuthAuthNone}
	if c.secret != "" {
		c.method = engine.OAuthAuthClientSecretPost
	}
	if user, pass, ok := r.BasicAuth(); ok {
		if c.secret != "" {
			return credentials{}, invalid("authenticate the client one way: HTTP Basic or client_secret, not both")
		}
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (c.id != "" && c.id != u) {
			return credentials{}, &engine.OAuthError{Code: "invalid_client",
				Description: "client authentication failed"}
		}
		c.id, c.secret, c.method = u, p, engine.OAuthAuthClientSecretBasic
	}
	return c, nil
}

// errorBody is RFC 6749 §5.2's error shape.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// fail answers an error as OAuth does: the protocol's code with 400 (401 for
// a client that failed to authenticate); the engine's own errors as
// server_error or temporarily_unavailable, without their text.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var oe *engine.OAuthError
	if errors.As(err, &oe) {
		status := http.StatusBadRequest
		if oe.Code == "invalid_client" {
			status = http.StatusUnauthorized
			if _, _, basic := r.BasicAuth(); basic {
				w.Header().Set("WWW-Authenticate", `Basic realm="agentledger"`)
			}
		}
		writeJSON(w, status, errorBody{Error: oe.Code, Description: oe.Description})
		return
	}
	switch engine.ErrorCode(err) {
	case engine.CodeBusy, engine.CodeUnavailable:
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "temporarily_unavailable",
			Description: engine.ErrorMessage(err)})
		return
	case engine.CodeInternal:
		s.log.ErrorContext(r.Context(), "oauth: internal error", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "server_error", Description: "Internal error."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
