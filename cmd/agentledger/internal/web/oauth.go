package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

// OAuthResource tells the consent page which resource and issuer a request
// stands for (the oauth face's Resource and BaseURL); "" when OAuth is not
// offered to it.
type OAuthResource interface {
	Resource(r *http.Request) (resource, metadataURL string)
	BaseURL(r *http.Request) string
}

// authorizeParams are the authorization request's parameters the consent
// form carries back.
var authorizeParams = []string{"client_id", "redirect_uri", "response_type", "code_challenge",
	"code_challenge_method", "resource", "scope", "state"}

func (h *Handler) registerOAuth() {
	for _, page := range []string{"consent", "clients"} {
		h.pages[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/"+page+".html"))
	}
	h.mux.HandleFunc("GET /clients", h.signedIn(h.clients))
	h.mux.HandleFunc("POST /clients/{id}/revoke", h.signedIn(h.revokeClient))
	if h.opts.OAuth != nil {
		h.mux.HandleFunc("GET /oauth/authorize", h.signedIn(h.authorize))
		h.mux.HandleFunc("POST /oauth/authorize", h.signedIn(h.consent))
	}
}

type consentData struct {
	// ReturnURL, on a refused request, takes the error back to the client
	// when the operator clicks it.
	ReturnURL   string
	Client      *engine.OAuthClient
	RedirectURI string
	Resource    string
	ReadOnly    bool
	CanApprove  bool
	Params      map[string]string
	Agents      []*engine.Agent
	MoreAgents  bool
}

// authorizationRequest reads the request's parameters, from the query (the
// client's link) or the consent form.
func (h *Handler) authorizationRequest(r *http.Request, values url.Values) engine.AuthorizationRequest {
	resource, _ := h.opts.OAuth.Resource(r)
	return engine.AuthorizationRequest{ClientID: values.Get("client_id"), RedirectURI: values.Get("redirect_uri"),
		ResponseType: values.Get("response_type"), CodeChallenge: values.Get("code_challenge"),
		CodeChallengeMethod: values.Get("code_challenge_method"), Resource: values.Get("resource"),
		Scope: values.Get("scope"), State: values.Get("state"), ServerResource: resource}
}

// authorize is the consent page: who asks, where the answer goes, and
// which agent the client will act as.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Connect a client", Session: sess}
	req := h.authorizationRequest(r, r.URL.Query())
	if req.ServerResource == "" {
		h.fail(w, r, "consent", v, engine.Errorf(engine.CodeNotFound,
			"OAuth is offered on loopback addresses, or with serve --public-url"))
		return
	}
	if p := repeatedParam(r.URL.Query()); p != "" {
		h.render(w, http.StatusBadRequest, "consent", view{Title: "Connect a client", Session: sess,
			Error: "This connection request is not valid: " + p + " is given more than once."})
		return
	}
	check, err := h.eng.CheckAuthorization(r.Context(), req)
	var oe *engine.OAuthError
	if errors.As(err, &oe) && !oe.NoRedirect && check != nil && check.Client.RegisteredBy == "dynamic" {
		// A client anyone may register must not turn this page into a
		// redirector to its own address: the error goes back on a click.
		h.render(w, http.StatusBadRequest, "consent", view{Title: "Connect a client", Session: sess,
			Error: "This connection request is not valid: " + oe.Description,
			Data:  &consentData{ReturnURL: h.errorRedirect(r, check, req, oe)}})
		return
	}
	if err != nil {
		h.refuseAuthorization(w, r, sess, check, req, err)
		return
	}
	d := &consentData{Client: check.Client, RedirectURI: check.RedirectURI, Resource: check.Resource,
		ReadOnly: check.ReadOnly, CanApprove: sess.actor.Role == engine.RoleAdmin, Params: map[string]string{}}
	v.Data = d
	for _, p := range authorizeParams {
		if val := r.URL.Query().Get(p); val != "" {
			d.Params[p] = val
		}
	}
	if !d.CanApprove {
		h.fail(w, r, "consent", v, engine.Errorf(engine.CodeForbidden,
			"only an admin may connect a client: sign in with an admin key"))
		return
	}
	agents, err := h.eng.ListAgents(r.Context(), sess.actor, "", engine.Page{Limit: engine.MaxPageLimit})
	if err != nil {
		h.fail(w, r, "consent", v, err)
		return
	}
	d.Agents, d.MoreAgents = agents.Items, agents.HasMore
	// The form's answer is a redirect to the client: the page's
	// form-action must allow the client's origin, or the browser stops it.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self' "+
		cspSource(check.RedirectURI))
	h.render(w, http.StatusOK, "consent", v)
}

// cspSource is the CSP source expression of a redirect URI's origin.
func cspSource(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	switch {
	case err != nil:
		return "'none'"
	case u.Scheme == "http" || u.Scheme == "https":
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + ":" // a native app's private-use scheme
}

// consent carries out the operator's answer: a code for the client, or
// access_denied; either way back to the client's redirect URI.
func (h *Handler) consent(w http.ResponseWriter, r *http.Request, sess *session) {
	req := h.authorizationRequest(r, r.PostForm)
	if r.PostFormValue("decision") != "allow" {
		check, err := h.eng.CheckAuthorization(r.Context(), req)
		if err == nil {
			err = &engine.OAuthError{Code: "access_denied", Description: "the operator denied the request"}
		}
		h.refuseAuthorization(w, r, sess, check, req, err)
		return
	}
	agent := r.PostFormValue("agent")
	if ref := strings.TrimSpace(r.PostFormValue("agent_ref")); ref != "" {
		agent = ref
	}
	code, err := h.eng.ApproveAuthorization(r.Context(), sess.actor, engine.ApproveAuthorizationInput{Request: req,
		Agent: strings.TrimSpace(agent), ReadOnly: r.PostFormValue("access") == "read"})
	var oe *engine.OAuthError
	switch {
	case errors.As(err, &oe):
		check, _ := h.eng.CheckAuthorization(r.Context(), req)
		h.refuseAuthorization(w, r, sess, check, req, err)
		return
	case err != nil: // the operator's mistake (an unknown agent): say so, on the page
		h.fail(w, r, "consent", view{Title: "Connect a client", Session: sess}, err)
		return
	}
	h.log.InfoContext(r.Context(), "oauth client approved", "client_id", code.Grant.ClientID,
		"grant_id", code.Grant.ID, "agent_id", code.Grant.AgentID, "read_only", code.Grant.ReadOnly)
	http.Redirect(w, r, withParams(code.RedirectURI, map[string]string{"code": code.Code, "state": code.State,
		"iss": h.opts.OAuth.BaseURL(r)}), http.StatusSeeOther)
}

// refuseAuthorization answers a refused authorization request: on the page
// when the client or its redirect URI cannot be trusted (RFC 6749
// §4.1.2.1), else by sending the error back to the client.
func (h *Handler) refuseAuthorization(w http.ResponseWriter, r *http.Request, sess *session,
	check *engine.AuthorizationCheck, req engine.AuthorizationRequest, err error) {
	var oe *engine.OAuthError
	if !errors.As(err, &oe) {
		h.fail(w, r, "consent", view{Title: "Connect a client", Session: sess}, err)
		return
	}
	if oe.NoRedirect || check == nil {
		h.render(w, http.StatusBadRequest, "consent", view{Title: "Connect a client", Session: sess,
			Error: "This connection request is not valid, and was not sent back to the client: " + oe.Description})
		return
	}
	http.Redirect(w, r, h.errorRedirect(r, check, req, oe), http.StatusSeeOther)
}

// errorRedirect is the client's redirect URI with the error (RFC 6749
// §4.1.2.1).
func (h *Handler) errorRedirect(r *http.Request, check *engine.AuthorizationCheck, req engine.AuthorizationRequest,
	oe *engine.OAuthError) string {
	return withParams(check.RedirectURI, map[string]string{"error": oe.Code, "error_description": oe.Description,
		"state": req.State, "iss": h.opts.OAuth.BaseURL(r)})
}

// repeatedParam names a parameter given more than once, which OAuth
// refuses (RFC 6749 §3.1): "" when there is none.
func repeatedParam(values url.Values) string {
	for _, p := range authorizeParams {
		if len(values[p]) > 1 {
			return p
		}
	}
	return ""
}

// withParams adds query parameters (those not empty) to a redirect URI,
// keeping its own.
func withParams(redirectURI string, params map[string]string) string {
	u, err := url.Parse(redirectURI)
	if err != nil {
		return redirectURI // checked at registration: never happens
	}
	q := u.Query()
	for k, v := range params {
		if v != "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

type clientRow struct {
	Client     *engine.OAuthClient
	Grants     []grantRow
	MoreGrants bool
}

type grantRow struct {
	Grant     *engine.OAuthGrant
	AgentName string
}

type clientsData struct {
	Clients []clientRow
	Next    string
}

// clients lists the OAuth clients and their grants, newest client last.
func (h *Handler) clients(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := h.clientsData(r, sess.actor)
	v := view{Title: "Clients", Nav: "clients", Session: sess, Data: d}
	if err != nil {
		h.fail(w, r, "clients", v, err)
		return
	}
	h.render(w, http.StatusOK, "clients", v)
}

func (h *Handler) clientsData(r *http.Request, a engine.Actor) (*clientsData, error) {
	ctx := r.Context()
	d := &clientsData{}
	clients, err := h.eng.ListOAuthClients(ctx, a, engine.Page{Limit: recordsPageSize,
		StartingAfter: r.URL.Query().Get("after")})
	if err != nil {
		return d, err
	}
	names := map[string]string{}
	for _, c := range clients.Items {
		grants, err := h.eng.ListOAuthGrants(ctx, a, c.ID, engine.Page{Limit: recordsPageSize})
		if err != nil {
			return d, err
		}
		row := clientRow{Client: c, MoreGrants: grants.HasMore}
		for _, g := range grants.Items {
			if _, ok := names[g.AgentID]; !ok {
				names[g.AgentID] = g.AgentID
				if ag, err := h.eng.GetAgent(ctx, a, g.AgentID); err == nil {
					names[g.AgentID] = ag.Name
				}
			}
			row.Grants = append(row.Grants, grantRow{Grant: g, AgentName: names[g.AgentID]})
		}
		d.Clients = append(d.Clients, row)
	}
	if n := len(clients.Items); n > 0 {
		d.Next = nextPage(r, "after", clients.HasMore, clients.Items[n-1].ID)
	}
	return d, nil
}

// revokeClient revokes a client (oac_…) or one grant (ogr_…).
func (h *Handler) revokeClient(w http.ResponseWriter, r *http.Request, sess *session) {
	res, err := h.eng.RevokeOAuth(r.Context(), sess.actor, engine.RevokeOAuthInput{ID: r.PathValue("id")})
	if err != nil {
		d, _ := h.clientsData(r, sess.actor)
		h.fail(w, r, "clients", view{Title: "Clients", Nav: "clients", Session: sess, Data: d}, err)
		return
	}
	h.log.InfoContext(r.Context(), "oauth access revoked", "id", r.PathValue("id"), "grants", len(res.Grants))
	back(w, r, "/clients")
}
