package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openApp opens an initialised database as serve would, with the test's
// clock.
func openApp(t *testing.T) *app {
	t.Helper()
	c := newCLI(t)
	c.ok("init")
	a := &app{streams: streams{in: strings.NewReader(""), out: io.Discard, err: io.Discard}, ctx: context.Background(),
		clock: c.clock, dbPath: c.db, getenv: func(string) string { return "" }}
	require.NoError(t, a.open())
	t.Cleanup(func() { a.close() })
	return a
}

func parseMetrics(t *testing.T, body io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	require.NoError(t, err)
	return fams
}

// value is the value of a counter or gauge series with exactly these labels
// (name, value, …), or -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	fam := fams[name]
	if fam == nil {
		return -1
	}
	for _, m := range fam.Metric {
		if len(m.Label)*2 != len(labels) {
			continue
		}
		match := true
		for i, l := range m.Label {
			match = match && l.GetName() == labels[2*i] && l.GetValue() == labels[2*i+1]
		}
		if match && m.Counter != nil {
			return m.Counter.GetValue()
		} else if match && m.Gauge != nil {
			return m.Gauge.GetValue()
		}
	}
	return -1
}

// On the main server /metrics needs an admin or viewer key; the hooks of
// the app feed it.
func TestMetricsBehindAViewerKey(t *testing.T) {
	a := openApp(t)
	e, ctx := a.engine, a.ctx
	h, m := a.metricsHandler()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", requireViewer(e, h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	u, err := e.CreateUser(ctx, op, engine.CreateUserInput{Name: "ada"})
	require.NoError(t, err)
	agent, err := e.CreateAgent(ctx, op, engine.CreateAgentInput{Name: "bot", User: u.ID})
	require.NoError(t, err)
	keys := map[string]string{}
	for _, role := range []string{engine.RoleAdmin, engine.RoleViewer, engine.RoleAgent, engine.RoleNetwork} {
		in := engine.CreateKeyInput{Role: role}
		if role == engine.RoleAgent {
			in.Agent = agent.ID
		}
		k, err := e.CreateKey(ctx, op, in)
		require.NoError(t, err)
		keys[role] = k.Secret
	}
	get := func(auth string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}
	for _, c := range []struct {
		name, auth string
		status     int
		code       string
	}{
		{"no key", "", http.StatusUnauthorized, engine.CodeUnauthorized},
		{"not Bearer", "Basic " + keys[engine.RoleViewer], http.StatusUnauthorized, engine.CodeUnauthorized},
		{"unknown key", "Bearer al_nope", http.StatusUnauthorized, engine.CodeUnauthorized},
		{"agent key", "Bearer " + keys[engine.RoleAgent], http.StatusForbidden, engine.CodeForbidden},
		{"network key", "Bearer " + keys[engine.RoleNetwork], http.StatusForbidden, engine.CodeForbidden},
	} {
		resp, body := get(c.auth)
		assert.Equal(t, c.status, resp.StatusCode, c.name)
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"), c.name)
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &e), c.name)
		assert.Equal(t, c.code, e.Error.Code, c.name)
		if c.status == http.StatusUnauthorized {
			assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer", c.name)
		}
		assert.NotContains(t, body, "agentledger_", c.name)
	}

	// What the app's hooks hear reaches the scrape: the engine's and the
	// store's own, and what the servers and the sender report.
	_, err = e.SetKYC(ctx, op, engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved})
	require.NoError(t, err)
	_, err = e.FundUser(ctx, op, engine.FundInput{User: u.ID, Amount: 100_00})
	require.NoError(t, err)
	d, err := e.PolicyCheck(ctx, op, engine.PolicyCheckInput{Agent: agent.ID, Amount: 100, Merchant: "Acme"})
	require.NoError(t, err)
	require.Equal(t, engine.DecisionApproved, d.Status, d.Reason)
	a.hooks.toolCall(mcp.ToolCall{Tool: "policy_check", Action: "check", Duration: time.Millisecond})
	a.hooks.request(mcp.RequestInfo{Method: "POST", Path: "/mcp", Status: 200, Duration: time.Millisecond})
	a.hooks.delivered(engine.DeliveryPending, false)
	m.Fallback(engine.IssuerStripe, engine.FallbackDecline)

	for _, role := range []string{engine.RoleViewer, engine.RoleAdmin} {
		resp, body := get("Bearer " + keys[role])
		require.Equal(t, http.StatusOK, resp.StatusCode, role)
		assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
		f := parseMetrics(t, strings.NewReader(body))
		assert.Equal(t, 1.0, value(f, "agentledger_policy_checks_total", "status", engine.DecisionApproved))
		assert.Equal(t, 1.0, value(f, "agentledger_decisions_total", "decline_code", "none", "kind", "check",
			"status", "approved"))
		assert.Equal(t, 1.0, value(f, "agentledger_mcp_calls_total", "action", "check", "result", "ok",
			"tool", "policy_check"))
		assert.Equal(t, 1.0, value(f, "agentledger_http_requests_total", "face", "mcp", "status_class", "2xx"))
		assert.Equal(t, 1.0, value(f, "agentledger_webhook_deliveries_total", "outcome", "retry"))
		assert.Equal(t, 1.0, value(f, "agentledger_issuer_fallbacks_total", "answer", "declined", "issuer", "stripe"))
		assert.Equal(t, 0.0, value(f, "agentledger_approvals_pending"))
		assert.Equal(t, 0.0, value(f, "agentledger_issuer_queue_depth"))
		require.Contains(t, f, "agentledger_store_commit_batch_size")
		assert.Positive(t, f["agentledger_store_commit_batch_size"].Metric[0].GetHistogram().GetSampleCount())
		assert.Positive(t, value(f, "go_goroutines"))
	}
}

// On --metrics-addr the metrics need no key; the server ends with ctx.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	a := openApp(t)
	h, _ := a.metricsHandler()
	ln, err := listenMetrics("0")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ln.Addr().String(), "127.0.0.1:"), "a bare port binds loopback")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveMetrics(ctx, ln, h) }()

	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	f := parseMetrics(t, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 0.0, value(f, "agentledger_webhook_queue_depth"))
	for _, path := range []string{"/", "/v1/agents", "/mcp"} {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "only /metrics, not %s", path)
	}
	resp, err = http.Post(base+"/metrics", "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serveMetrics did not stop")
	}
}
