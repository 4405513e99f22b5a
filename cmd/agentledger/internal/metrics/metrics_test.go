package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// families is one scrape, parsed by the Prometheus library's own parser.
type families map[string]*dto.MetricFamily

func scrape(t *testing.T, h http.Handler) families {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	return fams
}

// metric finds the series of name with exactly these labels.
func (f families) metric(t *testing.T, name string, labels ...string) *dto.Metric {
	t.Helper()
	fam := f[name]
	require.NotNil(t, fam, "no %s", name)
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range fam.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return m
		}
	}
	require.Failf(t, "no such series", "%s%v among %v", name, want, fam.Metric)
	return nil
}

func (f families) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return f.metric(t, name, labels...).GetCounter().GetValue()
}

func (f families) gauge(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return f.metric(t, name, labels...).GetGauge().GetValue()
}

func (f families) histogram(t *testing.T, name string, labels ...string) *dto.Histogram {
	t.Helper()
	return f.metric(t, name, labels...).GetHistogram()
}

// A real engine and store feed the metrics through their hooks; the other
// hooks are called as the servers would. One scrape shows each.
func TestScrapeAfterKnownTraffic(t *testing.T) {
	m := New()
	env := sqlitetest.NewWith(t, sqlitetest.Options{Engine: engine.Options{Observer: m},
		Store: sqlite.Options{OnCommit: m.Committed}})
	e, op, ctx := env.Engine, engine.Operator, env.Ctx
	_, err := e.AddWebhook(ctx, op, engine.AddWebhookInput{URL: "https://hooks.example.com/in"})
	require.NoError(t, err)
	_, agent, card := env.Setup(1000_00, engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](100_00)})
	for range 3 {
		env.Reveal(agent, card, 10_00, "Acme")
		require.Equal(t, engine.AuthApproved, env.Charge(card, 10_00, "Acme", "").Status)
	}
	a := env.Charge(card, 10_00, "Acme", "") // no intent declared
	require.Equal(t, engine.CodeIntentRequired, a.DeclineCode)
	a, err = e.Authorize(ctx, op, engine.AuthorizeInput{CardID: "card_019cdcc4-a200-7000-9866-000000000000",
		Amount: 100, Currency: "USD", Merchant: engine.Merchant{Name: "Acme"}})
	require.NoError(t, err)
	require.Equal(t, engine.CodeCardNotFound, a.DeclineCode)
	d, err := e.PolicyCheck(ctx, op, engine.PolicyCheckInput{Agent: agent.ID, Amount: 500_00, Merchant: "Dell"})
	require.NoError(t, err)
	require.Equal(t, engine.DecisionRequiresApproval, d.Status)
	env.Clock.Advance(90 * time.Second)

	m.ToolCall(mcp.ToolCall{Tool: "ledger_card", Action: "create", AgentID: agent.ID, KeyID: "key_1",
		Duration: 3 * time.Millisecond})
	m.ToolCall(mcp.ToolCall{Tool: "policy_check", Code: engine.CodeIntentRequired, Duration: time.Millisecond})
	m.ToolCall(mcp.ToolCall{Tool: "ledger_intent", Action: "'; DROP TABLE", Duration: time.Millisecond})
	m.ToolCall(mcp.ToolCall{Tool: "made_up", Action: "x", Code: "WHATEVER", Duration: time.Millisecond})
	for _, r := range []mcp.RequestInfo{
		{Method: "POST", Path: "/mcp", Status: 200, KeyID: "key_1", Duration: 4 * time.Millisecond},
		{Method: "GET", Path: "/mcp", Status: 200, Duration: 20 * time.Minute}, // a listening stream
		{Method: "GET", Path: "/v1/agents/" + agent.ID, Status: 404, Duration: time.Millisecond},
		{Method: "POST", Path: "/v1/network/authorize", Status: 200, Duration: 2 * time.Millisecond},
		{Method: "POST", Path: "/v1/issuers/stripe/authorization", Status: 200, Duration: 1600 * time.Millisecond},
		{Method: "GET", Path: "/api/agents", Status: 200, Duration: time.Millisecond},
		{Method: "GET", Path: "/healthz", Status: 200, Duration: time.Microsecond},
		{Method: "GET", Path: "/metrics", Status: 401, Duration: time.Microsecond},
		{Method: "GET", Path: "/agents/" + agent.ID, Status: 200, Duration: time.Millisecond},
		{Method: "BREW", Path: "/coffee", Status: 418, Duration: time.Millisecond},
	} {
		m.Request(r)
	}
	for _, d := range []struct {
		status string
		ok     bool
	}{{engine.DeliveryDelivered, true}, {engine.DeliveryPending, false}, {engine.DeliveryPending, false},
		{engine.DeliveryFailed, false}} {
		m.Delivery(d.status, d.ok)
	}
	m.Fallback(engine.IssuerStripe, engine.FallbackDecline)
	m.Fallback(engine.IssuerStripe, engine.FallbackDecline)
	m.Fallback(engine.IssuerLithic, engine.FallbackApprove)
	m.Fallback("acme", "maybe")

	h := m.Handler(func(ctx context.Context) (*engine.Stats, error) { return e.Stats(ctx, op) })
	f := scrape(t, h)

	const decisions = "agentledger_decisions_total"
	assert.Equal(t, 3.0, f.counter(t, decisions, "kind", "authorization", "status", "approved", "decline_code", "none"))
	assert.Equal(t, 1.0, f.counter(t, decisions, "kind", "authorization", "status", "declined",
		"decline_code", "INTENT_REQUIRED"))
	assert.Equal(t, 1.0, f.counter(t, decisions, "kind", "authorization", "status", "declined",
		"decline_code", "CARD_NOT_FOUND"))
	assert.Equal(t, 1.0, f.counter(t, decisions, "kind", "check", "status", "requires_approval",
		"decline_code", "approval_threshold"))
	assert.Len(t, f[decisions].Metric, 4)
	assert.EqualValues(t, 5, f.histogram(t, "agentledger_decision_duration_seconds", "kind", "authorization").
		GetSampleCount())
	assert.EqualValues(t, 1, f.histogram(t, "agentledger_decision_duration_seconds", "kind", "check").GetSampleCount())
	assert.Equal(t, 1.0, f.counter(t, "agentledger_policy_checks_total", "status", "requires_approval"))
	assert.Equal(t, 0.0, f.counter(t, "agentledger_policy_checks_total", "status", "blocked"), "there from the start")

	transactions, commits := env.Stats()
	batch := f.histogram(t, "agentledger_store_commit_batch_size")
	assert.EqualValues(t, commits, batch.GetSampleCount())
	assert.EqualValues(t, transactions, batch.GetSampleSum())
	var bounds []float64
	for _, b := range batch.Bucket {
		bounds = append(bounds, b.GetUpperBound())
	}
	assert.Equal(t, []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, math.Inf(1)}, bounds)
	assert.EqualValues(t, commits, f.histogram(t, "agentledger_store_commit_duration_seconds").GetSampleCount())

	const calls = "agentledger_mcp_calls_total"
	assert.Equal(t, 1.0, f.counter(t, calls, "tool", "ledger_card", "action", "create", "result", "ok"))
	assert.Equal(t, 1.0, f.counter(t, calls, "tool", "policy_check", "action", "check", "result", "INTENT_REQUIRED"))
	assert.Equal(t, 1.0, f.counter(t, calls, "tool", "ledger_intent", "action", "other", "result", "ok"))
	assert.Equal(t, 1.0, f.counter(t, calls, "tool", "other", "action", "other", "result", "other"))
	callTime := f.histogram(t, "agentledger_mcp_call_duration_seconds", "tool", "ledger_card")
	assert.EqualValues(t, 1, callTime.GetSampleCount())
	assert.InDelta(t, .003, callTime.GetSampleSum(), 1e-9)

	const requests, requestTime = "agentledger_http_requests_total", "agentledger_http_request_duration_seconds"
	for _, c := range []struct {
		face, class string
		n           float64
	}{{"mcp", "2xx", 2}, {"rest", "4xx", 1}, {"network", "2xx", 1}, {"issuer", "2xx", 1}, {"capped", "2xx", 1},
		{"health", "2xx", 1}, {"metrics", "4xx", 1}, {"dashboard", "2xx", 1}, {"dashboard", "4xx", 1}} {
		assert.Equal(t, c.n, f.counter(t, requests, "face", c.face, "status_class", c.class), "%+v", c)
	}
	mcpTime := f.histogram(t, requestTime, "face", "mcp", "method", "POST", "status_class", "2xx")
	assert.EqualValues(t, 1, mcpTime.GetSampleCount(), "the listening GET stream is counted, not timed")
	assert.Len(t, f[requestTime].Metric, 9)
	issuer := f.histogram(t, requestTime, "face", "issuer", "method", "POST", "status_class", "2xx")
	assert.EqualValues(t, 1, issuer.GetSampleCount())
	for _, b := range issuer.Bucket {
		assert.Equal(t, b.GetUpperBound() >= 2, b.GetCumulativeCount() == 1, "1.6 s in the %g bucket", b.GetUpperBound())
	}
	assert.EqualValues(t, 1, f.histogram(t, requestTime, "face", "dashboard", "method", "other", "status_class", "4xx").
		GetSampleCount())

	const deliveries = "agentledger_webhook_deliveries_total"
	assert.Equal(t, 1.0, f.counter(t, deliveries, "outcome", "delivered"))
	assert.Equal(t, 2.0, f.counter(t, deliveries, "outcome", "retry"))
	assert.Equal(t, 1.0, f.counter(t, deliveries, "outcome", "failed"))
	const fallbacks = "agentledger_issuer_fallbacks_total"
	assert.Equal(t, 2.0, f.counter(t, fallbacks, "issuer", "stripe", "answer", "declined"))
	assert.Equal(t, 1.0, f.counter(t, fallbacks, "issuer", "lithic", "answer", "approved"))
	assert.Equal(t, 1.0, f.counter(t, fallbacks, "issuer", "other", "answer", "other"))

	assert.Equal(t, 1.0, f.gauge(t, "agentledger_approvals_pending"))
	assert.GreaterOrEqual(t, f.gauge(t, "agentledger_webhook_queue_depth"), 1.0)
	assert.GreaterOrEqual(t, f.gauge(t, "agentledger_webhook_queue_oldest_age_seconds"), 90.0, "the manual clock moved")
	assert.Equal(t, 0.0, f.gauge(t, "agentledger_issuer_queue_depth"))
	assert.Equal(t, 0.0, f.counter(t, "agentledger_stats_read_errors_total"))

	assert.Greater(t, f.gauge(t, "go_goroutines"), 0.0)
	assert.Contains(t, f, "go_memstats_heap_alloc_bytes")
	assert.Contains(t, f, "process_start_time_seconds")

	// No id, path or free text reaches a label.
	for name, fam := range f {
		for _, s := range fam.Metric {
			for _, l := range s.Label {
				v := l.GetValue()
				assert.False(t, strings.ContainsAny(v, "/' ") || strings.Contains(v, agent.ID) ||
					strings.Contains(v, "key_"), "%s{%s=%q}", name, l.GetName(), v)
			}
		}
	}
}

// Whatever the hooks are told, each label keeps to its known values: a
// flood of made-up input adds one "other" series, not one a value.
func TestLabelsStayBounded(t *testing.T) {
	m := New()
	for i := range 500 {
		junk := fmt.Sprintf("junk-%d", i)
		m.Decided(engine.Observation{Kind: junk, Status: junk, DeclineCode: junk, ID: junk, AgentID: junk})
		m.ToolCall(mcp.ToolCall{Tool: junk, Action: junk, Code: junk, AgentID: junk, KeyID: junk})
		m.ToolCall(mcp.ToolCall{Tool: "ledger_card", Action: junk, Code: junk})
		m.Request(mcp.RequestInfo{Method: junk, Path: "/" + junk, Status: 1000 + i, KeyID: junk})
		m.Request(mcp.RequestInfo{Method: "GET", Path: "/v1/agents/agt_" + junk, Status: 200})
		m.Delivery(junk, false)
		m.Fallback(junk, junk)
	}
	f := scrape(t, m.Handler(nil))
	for name, n := range map[string]int{
		"agentledger_decisions_total":               1,
		"agentledger_decision_duration_seconds":     1,
		"agentledger_mcp_calls_total":               2,
		"agentledger_mcp_call_duration_seconds":     2,
		"agentledger_http_requests_total":           2,
		"agentledger_http_request_duration_seconds": 2,
		"agentledger_webhook_deliveries_total":      3, // the three outcomes, there from the start
		"agentledger_issuer_fallbacks_total":        1,
	} {
		require.Contains(t, f, name)
		assert.Len(t, f[name].Metric, n, name)
	}
	assert.NotContains(t, f, "agentledger_approvals_pending", "no stats, no gauges")
}

func TestFace(t *testing.T) {
	for path, want := range map[string]string{
		"/mcp": "mcp", "/mcp/x": "mcp", "/mcpx": "dashboard",
		"/v1/network/authorize": "network", "/v1/issuers/lithic/asa": "issuer", "/v1/issuers": "issuer",
		"/v1": "rest", "/v1/agents": "rest", "/v1/openapi.json": "rest", "/v1networks": "dashboard",
		"/api/agents": "capped", "/api": "capped",
		"/healthz": "health", "/metrics": "metrics", "/metrics/x": "dashboard",
		"/": "dashboard", "/approvals": "dashboard", "": "dashboard",
	} {
		assert.Equal(t, want, Face(path), path)
	}
}

// The gauges are read once a StatsTTL however many scrapes come; a failed
// read leaves them out and is counted.
func TestGaugesAreCached(t *testing.T) {
	m := New()
	var reads atomic.Int32
	fail := false
	at := time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)
	h := m.Handler(func(context.Context) (*engine.Stats, error) {
		reads.Add(1)
		if fail {
			return nil, errors.New("disk on fire")
		}
		oldest := at.Add(-2500 * time.Millisecond)
		return &engine.Stats{At: at, ApprovalsPending: int64(reads.Load()), DeliveriesPending: 7,
			OldestPendingDelivery: &oldest, IssuerQueue: 2}, nil
	})
	for range 5 {
		f := scrape(t, h)
		assert.Equal(t, 1.0, f.gauge(t, "agentledger_approvals_pending"))
		assert.Equal(t, 7.0, f.gauge(t, "agentledger_webhook_queue_depth"))
		assert.Equal(t, 2.5, f.gauge(t, "agentledger_webhook_queue_oldest_age_seconds"))
		assert.Equal(t, 2.0, f.gauge(t, "agentledger_issuer_queue_depth"))
	}
	assert.EqualValues(t, 1, reads.Load())

	// With no cache every scrape reads; a failure shows as no gauges.
	m.statsTTL = 0
	fail = true
	h = m.Handler(h2stats(&reads, &fail, at))
	f := scrape(t, h)
	assert.NotContains(t, f, "agentledger_approvals_pending")
	assert.Equal(t, 1.0, f.counter(t, "agentledger_stats_read_errors_total"))
	fail = false
	f = scrape(t, h)
	assert.Equal(t, 0.0, f.gauge(t, "agentledger_webhook_queue_oldest_age_seconds"), "an empty queue")
	assert.Equal(t, 1.0, f.counter(t, "agentledger_stats_read_errors_total"))
	assert.EqualValues(t, 3, reads.Load())
}

// h2stats reads an empty queue, or fails.
func h2stats(reads *atomic.Int32, fail *bool, at time.Time) func(context.Context) (*engine.Stats, error) {
	return func(context.Context) (*engine.Stats, error) {
		reads.Add(1)
		if *fail {
			return nil, errors.New("disk on fire")
		}
		return &engine.Stats{At: at}, nil
	}
}
