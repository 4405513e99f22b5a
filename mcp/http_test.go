package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// httpRig serves the rig over a real HTTP server on loopback.
type httpRig struct {
	*rig
	h   *mcp.HTTPServer
	url string
	key string // the agent's API key
}

func newHTTPRig(t *testing.T, policy engine.Policy) *httpRig {
	return newHTTPRigWith(t, policy, mcp.HTTPOptions{})
}

// newHTTPRigWith is newHTTPRig with further options.
func newHTTPRigWith(t *testing.T, policy engine.Policy, opts mcp.HTTPOptions) *httpRig {
	r := newRig(t, policy)
	opts.Health = r.env.Store.Ping
	opts.AllowedOrigins = []string{"https://dashboard.example"}
	h := r.srv.NewHTTP(opts)
	ts := httptest.NewServer(h.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		ts.Close()
	})
	k, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: r.agent.ID})
	require.NoError(t, err)
	return &httpRig{rig: r, h: h, url: ts.URL, key: k.Secret}
}

// dial connects an mcp-go client over streamable HTTP; version pins the
// protocol ("" lets the client choose the newest, 2026-07-28).
func (r *httpRig) dial(key, version string, opts ...client.ClientOption) (*session, *transport.StreamableHTTP) {
	r.t.Helper()
	tr, err := transport.NewStreamableHTTP(r.url+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + key}))
	require.NoError(r.t, err)
	if version != "" {
		opts = append(opts, client.WithProtocolVersion(version))
	}
	c := client.NewClient(tr, opts...)
	ctx := context.Background()
	require.NoError(r.t, c.Start(ctx))
	var init mcpgo.InitializeRequest
	init.Params.ClientInfo = mcpgo.Implementation{Name: "http-test", Version: "2.0"}
	res, err := c.Initialize(ctx, init)
	require.NoError(r.t, err)
	want := version
	if want == "" {
		want = mcpgo.ProtocolVersion20260728
	}
	require.Equal(r.t, want, res.ProtocolVersion)
	r.t.Cleanup(func() { c.Close() })
	return &session{t: r.t, c: c, ctx: ctx}, tr
}

// post sends one raw JSON-RPC message to /mcp.
func (r *httpRig) post(headers map[string]string, body string) *http.Response {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+"/mcp", strings.NewReader(body))
	require.NoError(r.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	r.t.Cleanup(func() { res.Body.Close() })
	return res
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

func TestHTTPRequiresABearerKey(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	for name, headers := range map[string]map[string]string{
		"no header":      {},
		"wrong scheme":   {"Authorization": "Token " + r.key},
		"unknown key":    {"Authorization": "Bearer al_0000"},
		"no bearer text": {"Authorization": "Bearer "},
	} {
		res := r.post(headers, initialize)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode, name)
		assert.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer", name)
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		assert.Equal(t, "UNAUTHORIZED", body.Error.Code)
	}

	// A revoked key stops working within the key cache's TTL.
	k, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: r.agent.ID})
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, r.post(map[string]string{"Authorization": "Bearer " + k.Secret}, initialize).StatusCode)
	_, err = r.env.Engine.RevokeKey(r.env.Ctx, engine.Operator, engine.RevokeKeyInput{KeyID: k.ID})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return r.post(map[string]string{"Authorization": "Bearer " + k.Secret}, initialize).StatusCode == http.StatusUnauthorized
	}, 2*mcp.KeyCacheTTL, 50*time.Millisecond)
}

func TestHTTPRefusesForeignOrigins(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	auth := "Bearer " + r.key
	host := strings.TrimPrefix(r.url, "http://")
	for origin, want := range map[string]int{
		"https://evil.example":      http.StatusForbidden,
		"http://localhost:1":        http.StatusForbidden,
		"null":                      http.StatusForbidden,
		"http://" + host:            http.StatusOK, // the server's own origin
		"https://dashboard.example": http.StatusOK, // configured
	} {
		res := r.post(map[string]string{"Authorization": auth, "Origin": origin}, initialize)
		assert.Equal(t, want, res.StatusCode, origin)
	}
	assert.Equal(t, http.StatusOK, r.post(map[string]string{"Authorization": auth}, initialize).StatusCode, "no Origin: not a browser")
	res := r.post(map[string]string{"Origin": "https://evil.example"}, initialize)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "the origin is refused before the key is even looked at")
}

func TestHealthz(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	res, err := http.Get(r.url + "/healthz")
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)
	body, _ := io.ReadAll(res.Body)
	assert.JSONEq(t, `{"status":"ok"}`, string(body))
}

// Sessions are kept for 2025-11-25 clients: initialize hands out an
// Mcp-Session-Id, which later requests must carry and which is validated.
func TestHTTPSessionsAreKept(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	auth := map[string]string{"Authorization": "Bearer " + r.key}
	res := r.post(auth, initialize)
	require.Equal(t, http.StatusOK, res.StatusCode)
	id := res.Header.Get("Mcp-Session-Id")
	require.NotEmpty(t, id)

	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	with := map[string]string{"Authorization": "Bearer " + r.key, "Mcp-Session-Id": id, "MCP-Protocol-Version": "2025-11-25"}
	assert.Equal(t, http.StatusOK, r.post(with, list).StatusCode)
	with["Mcp-Session-Id"] = "mcp-session-00000000-0000-0000-0000-000000000000"
	assert.Equal(t, http.StatusNotFound, r.post(with, list).StatusCode, "an unknown session is refused")
	delete(with, "Mcp-Session-Id")
	assert.Equal(t, http.StatusNotFound, r.post(with, list).StatusCode, "a missing session is refused")
}

// Both protocol generations mcp-go serves work end to end.
func TestHTTPBothProtocolGenerations(t *testing.T) {
	for _, version := range []string{mcpgo.ProtocolVersion20251125, ""} {
		name := version
		if name == "" {
			name = "2026-07-28"
		}
		t.Run(name, func(t *testing.T) {
			r := newHTTPRig(t, engine.Policy{})
			s, tr := r.dial(r.key, version)
			if version != "" {
				assert.NotEmpty(t, tr.GetSessionId(), "2025-11-25 keeps a session")
			}
			var intent engine.Intent
			s.ok("ledger_intent", args{"action": "declare", "summary": "Cable", "amount": 1500, "card_id": r.card.ID}, &intent)
			assert.Equal(t, "http-test", intent.Attestation.ClientName)
			assert.Equal(t, "2.0", intent.Attestation.ClientVersion)
			var details engine.CardDetails
			s.ok("ledger_card", args{"action": "details", "card_id": r.card.ID}, &details)
			assert.True(t, engine.LuhnValid(details.PAN))
			code, _ := s.fail("ledger_card", args{"action": "get", "card_id": "card_nope"})
			assert.Equal(t, engine.CodeNotFound, code)
		})
	}
}

// Approval through the client works with both protocol generations: the
// multi-round-trip result for 2026-07-28, the elicitation/create request
// mcp-go bridges it to for 2025-11-25.
func TestHTTPApprovalThroughTheClient(t *testing.T) {
	for _, version := range []string{mcpgo.ProtocolVersion20251125, ""} {
		for _, approve := range []bool{true, false} {
			t.Run(version+map[bool]string{true: "/approve", false: "/decline"}[approve], func(t *testing.T) {
				r := newHTTPRig(t, clientApproval(true))
				h := &human{action: mcpgo.ElicitationResponseActionAccept, approve: true}
				if !approve {
					h = &human{action: mcpgo.ElicitationResponseActionDecline}
				}
				s, _ := r.dial(r.key, version, client.WithElicitationHandler(h))
				var intent engine.Intent
				s.ok("ledger_intent", args{"action": "declare", "summary": "Monitor", "amount": 9000, "card_id": r.card.ID}, &intent)
				assert.Equal(t, int32(1), h.asked.Load())
				if approve {
					assert.Equal(t, engine.IntentPending, intent.Status)
				} else {
					assert.Equal(t, engine.IntentDenied, intent.Status)
				}
			})
		}
	}
}

// A call that commits money is neither lost nor doubled when the client
// goes away mid-call and retries with its idempotency key.
func TestHTTPDisconnectAndRetry(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	s, tr := r.dial(r.key, mcpgo.ProtocolVersion20251125)
	headers := map[string]string{"Authorization": "Bearer " + r.key, "Mcp-Session-Id": tr.GetSessionId(), "MCP-Protocol-Version": "2025-11-25",
		"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"policy_check","arguments":{"amount":1234,"idempotency_key":"pay-7"}}}`

	var wg sync.WaitGroup
	for range 5 { // several clients that give up almost at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url+"/mcp", bytes.NewReader([]byte(body)))
			for k, v := range headers {
				req.Header.Set(k, v)
			}
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	var d engine.Decision
	s.ok("policy_check", args{"amount": 1234, "idempotency_key": "pay-7"}, &d)
	assert.Equal(t, engine.DecisionApproved, d.Status)
	var limits engine.LimitsReport
	s.ok("policy_check", args{"action": "limits"}, &limits)
	assert.Equal(t, int64(1234), limits.Daily.Spent, "counted exactly once")
	r.env.Verify()
}

// Serve shuts down gracefully when its context ends: open streams close,
// and Serve returns.
func TestHTTPGracefulShutdown(t *testing.T) {
	r := newRig(t, engine.Policy{})
	h := r.srv.NewHTTP(mcp.HTTPOptions{ShutdownTimeout: 5 * time.Second})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()
	k, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: r.agent.ID})
	require.NoError(t, err)

	// An open listening stream.
	hr := &httpRig{rig: r, url: url, key: k.Secret}
	res := hr.post(map[string]string{"Authorization": "Bearer " + k.Secret}, initialize)
	sid := res.Header.Get("Mcp-Session-Id")
	req, _ := http.NewRequest(http.MethodGet, url+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+k.Secret)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Accept", "text/event-stream")
	stream, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer stream.Body.Close()
	assert.Equal(t, http.StatusOK, stream.StatusCode)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	_, err = io.ReadAll(stream.Body)
	assert.NoError(t, err, "the stream was closed cleanly")
}
