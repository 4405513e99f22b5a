package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/web"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rig is the dashboard on a loopback server over a real engine, with a
// funded user, an agent whose approval threshold is $100, and keys.
type rig struct {
	t     testing.TB
	env   *sqlitetest.Env
	srv   *httptest.Server
	agent *engine.Agent
	keys  map[string]string // role → secret
	now   time.Time
	mu    sync.Mutex
}

func newRig(t testing.TB) *rig {
	env := sqlitetest.New(t)
	r := &rig{t: t, env: env, now: sqlitetest.Epoch, keys: map[string]string{}}
	h := web.New(env.Engine, web.Options{SessionTTL: time.Hour, Now: func() time.Time {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.now
	}})
	mux := http.NewServeMux()
	h.Mount(mux)
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	u := env.User("Acme Corp", 1000_00)
	r.agent = env.Agent("checkout-bot", u, engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](100_00)})
	for _, in := range []engine.CreateKeyInput{{Role: engine.RoleAdmin}, {Role: engine.RoleViewer},
		{Role: engine.RoleAgent, Agent: r.agent.ID}, {Role: engine.RoleNetwork}} {
		k, err := env.Engine.CreateKey(env.Ctx, engine.Operator, in)
		require.NoError(t, err)
		r.keys[in.Role] = k.Secret
	}
	return r
}

// browser is one cookie jar: a signed-in (or not) browser.
type browser struct {
	r      *rig
	client *http.Client
}

func (r *rig) browser() *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(r.t, err)
	return &browser{r: r, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(method, path string, form url.Values) page {
	b.r.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.r.srv.URL+path, body)
	require.NoError(b.r.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.client.Do(req)
	require.NoError(b.r.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, body: string(raw), location: res.Header.Get("Location"), header: res.Header}
}

func (b *browser) signIn(role string) {
	b.r.t.Helper()
	p := b.do("POST", "/signin", url.Values{"key": {b.r.keys[role]}})
	require.Equal(b.r.t, http.StatusSeeOther, p.status, p.body)
	require.Equal(b.r.t, "/", p.location)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf reads the session's token from a page, as a form would carry it.
func (b *browser) csrf() string {
	b.r.t.Helper()
	m := csrfField.FindStringSubmatch(b.do("GET", "/", nil).body)
	require.NotNil(b.r.t, m, "no CSRF field")
	return m[1]
}

// requestApproval makes the agent ask for a spend above its threshold.
func (r *rig) requestApproval(amount int64, reason string) *engine.Decision {
	r.t.Helper()
	d, err := r.env.Engine.PolicyCheck(r.env.Ctx, sqlitetest.AgentActor(r.agent), engine.PolicyCheckInput{
		Amount: amount, Reason: reason, Merchant: "AWS"})
	require.NoError(r.t, err)
	require.Equal(r.t, engine.DecisionRequiresApproval, d.Status)
	return d
}

func TestSignInAndOut(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	p := b.do("GET", "/", nil)
	assert.Equal(t, http.StatusSeeOther, p.status, "signed out: to the sign-in page")
	assert.Equal(t, "/signin", p.location)
	assert.Contains(t, b.do("GET", "/signin", nil).body, `name="key"`)

	for _, tc := range []struct {
		name, key string
		status    int
		message   string
	}{
		{"unknown key", "al_nosuchkey", 401, "unknown or revoked key"},
		{"agent key", r.keys[engine.RoleAgent], 403, "not an agent key"},
		{"network key", r.keys[engine.RoleNetwork], 403, "only an admin or viewer key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.do("POST", "/signin", url.Values{"key": {tc.key}})
			assert.Equal(t, tc.status, p.status)
			assert.Contains(t, p.body, tc.message)
			assert.Empty(t, p.header.Values("Set-Cookie"))
			assert.NotContains(t, p.body, tc.key)
		})
	}

	p = b.do("POST", "/signin", url.Values{"key": {r.keys[engine.RoleAdmin]}})
	require.Equal(t, http.StatusSeeOther, p.status)
	cookie := p.header.Get("Set-Cookie")
	for _, attr := range []string{"agentledger_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		assert.Contains(t, cookie, attr)
	}
	assert.NotContains(t, cookie, "Secure", "plain HTTP on loopback")
	home := b.do("GET", "/", nil)
	require.Equal(t, http.StatusOK, home.status)
	assert.Contains(t, home.body, "Acme Corp")
	assert.Contains(t, home.body, "checkout-bot")
	assert.Contains(t, home.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")

	stolen := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "agentledger_session=")
	assert.Equal(t, http.StatusForbidden, b.do("POST", "/signout", url.Values{}).status, "sign-out needs the token too")
	p = b.do("POST", "/signout", url.Values{"csrf": {b.csrf()}})
	require.Equal(t, http.StatusSeeOther, p.status)
	assert.Equal(t, http.StatusSeeOther, b.do("GET", "/", nil).status, "signed out")

	// The old cookie is dead on the server too, not just cleared in the browser.
	req, _ := http.NewRequest("GET", r.srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "agentledger_session", Value: stolen})
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
}

func TestASessionExpires(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	assert.Equal(t, http.StatusOK, b.do("GET", "/", nil).status)
	r.mu.Lock()
	r.now = r.now.Add(time.Hour)
	r.mu.Unlock()
	assert.Equal(t, http.StatusSeeOther, b.do("GET", "/", nil).status)
}

func TestApproveAndDenyFromTheQueue(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	gpu := r.requestApproval(250_00, "A GPU hour for the nightly training run")
	books := r.requestApproval(150_00, "Books")
	p := b.do("GET", "/approvals", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "A GPU hour for the nightly training run")
	assert.Contains(t, p.body, "$250.00")
	assert.Contains(t, p.body, "checkout-bot")
	assert.Less(t, strings.Index(p.body, books.ID), strings.Index(p.body, gpu.ID), "newest first")

	rows := b.do("GET", "/approvals/rows", nil)
	assert.Contains(t, rows.body, gpu.ID, "the fragment the page polls")
	assert.NotContains(t, rows.body, "<html")

	forged := b.do("POST", "/approvals/"+gpu.ID+"/approve", url.Values{"reason": {"ok"}})
	assert.Equal(t, http.StatusForbidden, forged.status, "no CSRF token")
	wrong := b.do("POST", "/approvals/"+gpu.ID+"/approve", url.Values{"csrf": {strings.Repeat("0", 64)}})
	assert.Equal(t, http.StatusForbidden, wrong.status)
	d, err := r.env.Engine.GetDecision(r.env.Ctx, engine.Operator, gpu.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.ApprovalPending, d.ApprovalStatus, "a refused form changed nothing")

	token := b.csrf()
	ok := b.do("POST", "/approvals/"+gpu.ID+"/approve", url.Values{"csrf": {token}, "reason": {"budgeted"}})
	require.Equal(t, http.StatusSeeOther, ok.status, ok.body)
	d, err = r.env.Engine.GetDecision(r.env.Ctx, engine.Operator, gpu.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.ApprovalApproved, d.ApprovalStatus)
	assert.Equal(t, "budgeted", d.DecisionNote)
	require.Equal(t, http.StatusSeeOther, b.do("POST", "/approvals/"+books.ID+"/deny", url.Values{"csrf": {token}}).status)
	d, err = r.env.Engine.GetDecision(r.env.Ctx, engine.Operator, books.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.ApprovalDenied, d.ApprovalStatus)

	again := b.do("POST", "/approvals/"+books.ID+"/approve", url.Values{"csrf": {token}})
	assert.Equal(t, http.StatusConflict, again.status, "a decided request cannot be decided again")
	assert.Contains(t, again.body, `role="alert"`)
}

func TestAViewerSeesEverythingAndChangesNothing(t *testing.T) {
	r := newRig(t)
	d := r.requestApproval(250_00, "A GPU hour")
	b := r.browser()
	b.signIn(engine.RoleViewer)
	p := b.do("GET", "/approvals", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "A GPU hour")
	assert.NotContains(t, p.body, "/approve", "no buttons for a viewer")
	forced := b.do("POST", "/approvals/"+d.ID+"/approve", url.Values{"csrf": {b.csrf()}})
	assert.Equal(t, http.StatusForbidden, forced.status)
	got, err := r.env.Engine.GetDecision(r.env.Ctx, engine.Operator, d.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.ApprovalPending, got.ApprovalStatus)
}

func TestAssetsAreEmbedded(t *testing.T) {
	r := newRig(t)
	p := r.browser().do("GET", "/static/htmx-2.0.8.min.js", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "htmx")
	assert.Equal(t, http.StatusOK, r.browser().do("GET", "/static/app.css", nil).status)
}

// Revoking the key a browser signed in with ends its session.
func TestRevokingTheKeyEndsTheSession(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	require.Equal(t, http.StatusOK, b.do("GET", "/", nil).status)
	r.env.RevokeKeys(engine.RoleAdmin)
	require.Eventually(t, func() bool { return b.do("GET", "/", nil).status == http.StatusSeeOther },
		3*engine.DefaultKeyCacheTTL, 50*time.Millisecond, "within the key cache's 2 s")
}
