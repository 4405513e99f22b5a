// Package metrics is agentledger's Prometheus face: counters and histograms
// fed by the engine's, the store's and the servers' hooks, gauges of the
// queues read from the database at scrape time, and the Go runtime's and the
// process's own, served in the text exposition format.
//
// Every label takes its value from a known, small set, so that no input can
// grow the number of series: a face rather than a path, a status class
// rather than a status, a known tool, action or code or else "other"; never
// an id.
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric of agentledger's own.
const Namespace = "agentledger"

// StatsTTL is how long a read of the gauges serves further scrapes: a storm
// of scrapes reads the database at most once in it.
const StatsTTL = time.Second

// Buckets of the histograms, in seconds (batch sizes in transactions).
var (
	// DecisionBuckets: the engine's part of a decision, a group commit
	// included.
	DecisionBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	// RequestBuckets: a whole answer, up to an issuer's budget (about 2 s)
	// and past it.
	RequestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10}
	// CommitBuckets: BEGIN to COMMIT of one group commit, the fsync in it.
	CommitBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
	// BatchBuckets: 1, 2, 4, … 256 transactions a commit.
	BatchBuckets = prometheus.ExponentialBuckets(1, 2, 9)
)

// Metrics holds the collectors in a registry of their own (never the
// global one), with the Go runtime's and the process's collectors. Its
// methods match the hooks and are safe for concurrent use; each is a few
// atomic adds, fit for the deciding goroutine.
type Metrics struct {
	reg      *prometheus.Registry
	statsTTL time.Duration // StatsTTL; tests shorten it

	decisions       *prometheus.CounterVec
	decisionSeconds *prometheus.HistogramVec
	checks          *prometheus.CounterVec
	requests        *prometheus.CounterVec
	requestSeconds  *prometheus.HistogramVec
	calls           *prometheus.CounterVec
	callSeconds     *prometheus.HistogramVec
	deliveries      *prometheus.CounterVec
	fallbacks       *prometheus.CounterVec
	batchSize       prometheus.Histogram
	commitSeconds   prometheus.Histogram
	statsErrors     prometheus.Counter
}

// New builds the collectors and registers them.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), statsTTL: StatsTTL}
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "decisions_total",
		Help: "Committed money decisions (card authorizations and policy checks) by kind, status and decline code " +
			"(a check's first failing rule; none when nothing failed).",
	}, []string{"kind", "status", "decline_code"})
	m.decisionSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "decision_duration_seconds",
		Help:    "The engine's part of a decision, from the call to its commit, by kind.",
		Buckets: DecisionBuckets,
	}, []string{"kind"})
	m.checks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "policy_checks_total",
		Help: "Committed policy checks by status (approved, blocked, requires_approval, reduced).",
	}, []string{"status"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_requests_total",
		Help: "Answered HTTP requests by face (mcp, rest, capped, network, issuer, dashboard, health, metrics) " +
			"and status class.",
	}, []string{"face", "status_class"})
	m.requestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "http_request_duration_seconds",
		Help: "End-to-end time of an HTTP answer by face, method and status class " +
			"(not an MCP client's listening GET stream, open for as long as the client stays).",
		Buckets: RequestBuckets,
	}, []string{"face", "method", "status_class"})
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "mcp_calls_total",
		Help: "Answered MCP tool calls by tool, action and result (ok, or the error or decline code).",
	}, []string{"tool", "action", "result"})
	m.callSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "mcp_call_duration_seconds",
		Help:    "Time of an MCP tool call's handler by tool.",
		Buckets: RequestBuckets,
	}, []string{"tool"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "webhook_deliveries_total",
		Help: "Recorded webhook delivery attempts by outcome (delivered; retry: failed, to be tried again; " +
			"failed: failed for good).",
	}, []string{"outcome"})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "issuer_fallbacks_total",
		Help: "Issuer authorizations answered with the fallback (no decision within the budget) by issuer and answer.",
	}, []string{"issuer", "answer"})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "store_commit_batch_size",
		Help:    "Write transactions carried by one group commit of the store.",
		Buckets: BatchBuckets,
	})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "store_commit_duration_seconds",
		Help:    "Time of one group commit of the store, BEGIN to COMMIT.",
		Buckets: CommitBuckets,
	})
	m.statsErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "stats_read_errors_total",
		Help: "Scrapes whose read of the queue gauges failed (the gauges are left out of that scrape).",
	})
	m.reg.MustRegister(m.decisions, m.decisionSeconds, m.checks, m.requests, m.requestSeconds, m.calls,
		m.callSeconds, m.deliveries, m.fallbacks, m.batchSize, m.commitSeconds, m.statsErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series that alerts divide by exist from the start, at zero.
	for _, s := range checkStatuses {
		m.checks.WithLabelValues(s)
	}
	for _, o := range []string{outcomeDelivered, outcomeRetry, outcomeFailed} {
		m.deliveries.WithLabelValues(o)
	}
	return m
}

// Registry is the registry of the collectors, for tests and for embedding.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Decided implements engine.Observer.
func (m *Metrics) Decided(o engine.Observation) {
	kind := oneOf(o.Kind, engine.ObservedAuthorization, engine.ObservedCheck)
	status := known(o.Status, decisionStatuses)
	m.decisions.WithLabelValues(kind, status, declineCode(o.DeclineCode)).Inc()
	m.decisionSeconds.WithLabelValues(kind).Observe(o.Duration.Seconds())
	if o.Kind == engine.ObservedCheck {
		m.checks.WithLabelValues(status).Inc()
	}
}

// Committed is the store's OnCommit.
func (m *Metrics) Committed(transactions int, took time.Duration) {
	m.batchSize.Observe(float64(transactions))
	m.commitSeconds.Observe(took.Seconds())
}

// ToolCall is the MCP server's OnToolCall.
func (m *Metrics) ToolCall(c mcp.ToolCall) {
	tool := known(c.Tool, toolActions)
	action := c.Action
	if action == "" && tool == "policy_check" {
		action = "check" // its default
	}
	action = oneOf(action, toolActions[tool]...)
	result := "ok"
	if c.Code != "" {
		result = known(c.Code, resultCodes)
	}
	m.calls.WithLabelValues(tool, action, result).Inc()
	m.callSeconds.WithLabelValues(tool).Observe(c.Duration.Seconds())
}

// Request is the HTTP server's OnRequest.
func (m *Metrics) Request(r mcp.RequestInfo) {
	f, class := Face(r.Path), statusClass(r.Status)
	m.requests.WithLabelValues(f, class).Inc()
	if f == "mcp" && r.Method == http.MethodGet {
		return // a listening stream: its length is the client's, not an answer's
	}
	m.requestSeconds.WithLabelValues(f, known(r.Method, methods), class).Observe(r.Duration.Seconds())
}

// Delivery is the webhook sender's OnDelivery: the delivery's status after
// the attempt and whether the attempt succeeded.
func (m *Metrics) Delivery(status string, ok bool) {
	outcome := outcomeRetry
	switch {
	case ok:
		outcome = outcomeDelivered
	case status == engine.DeliveryFailed:
		outcome = outcomeFailed
	}
	m.deliveries.WithLabelValues(outcome).Inc()
}

// Fallback is the issuer endpoints' OnFallback: an issuer (stripe, lithic)
// was answered with the fallback (approved or declined).
func (m *Metrics) Fallback(issuer, answer string) {
	m.fallbacks.WithLabelValues(oneOf(issuer, engine.IssuerStripe, engine.IssuerLithic),
		oneOf(answer, engine.FallbackApprove, engine.FallbackDecline)).Inc()
}

// Handler serves the metrics in the text exposition format. The queue
// gauges come from stats, read at most once a StatsTTL whatever the
// scrapes; nil leaves them out.
func (m *Metrics) Handler(stats func(context.Context) (*engine.Stats, error)) http.Handler {
	g := &gauges{read: stats, ttl: m.statsTTL, errors: m.statsErrors}
	var gatherer prometheus.Gatherer = m.reg
	if stats != nil {
		own := prometheus.NewRegistry()
		own.MustRegister(g)
		gatherer = prometheus.Gatherers{m.reg, own}
	}
	serve := promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stats != nil {
			g.refresh(r.Context())
		}
		serve.ServeHTTP(w, r)
	})
}

// gauges is the collector of the queue gauges: the last read, kept for ttl.
type gauges struct {
	read   func(context.Context) (*engine.Stats, error)
	ttl    time.Duration
	errors prometheus.Counter

	mu     sync.Mutex
	readAt time.Time
	last   *engine.Stats // nil when the last read failed
}

var (
	approvalsDesc = prometheus.NewDesc(Namespace+"_approvals_pending",
		"Approval requests waiting on a human that have not lapsed.", nil, nil)
	queueDesc = prometheus.NewDesc(Namespace+"_webhook_queue_depth",
		"Webhook deliveries still to be made, those waiting to be retried included.", nil, nil)
	oldestDesc = prometheus.NewDesc(Namespace+"_webhook_queue_oldest_age_seconds",
		"How long ago the head of the webhook queue (the pending delivery of the oldest event) was queued; "+
			"0 when the queue is empty.", nil, nil)
	issuerQueueDesc = prometheus.NewDesc(Namespace+"_issuer_queue_depth",
		"Issuer cards whose state has still to reach the issuer, and half-made cards still to cancel there.", nil, nil)
)

// refresh reads the gauges unless the last read is fresh. Concurrent
// scrapes wait for one read.
func (g *gauges) refresh(ctx context.Context) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.readAt.IsZero() && time.Since(g.readAt) < g.ttl {
		return
	}
	s, err := g.read(ctx)
	if err != nil {
		g.errors.Inc()
		s = nil
	}
	g.last, g.readAt = s, time.Now()
}

// Describe implements prometheus.Collector.
func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- approvalsDesc
	ch <- queueDesc
	ch <- oldestDesc
	ch <- issuerQueueDesc
}

// Collect implements prometheus.Collector: the last read, as it was.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	s := g.last
	g.mu.Unlock()
	if s == nil {
		return
	}
	age := 0.0
	if s.OldestPendingDelivery != nil {
		age = max(0, s.At.Sub(*s.OldestPendingDelivery).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(approvalsDesc, prometheus.GaugeValue, float64(s.ApprovalsPending))
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(s.DeliveriesPending))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age)
	ch <- prometheus.MustNewConstMetric(issuerQueueDesc, prometheus.GaugeValue, float64(s.IssuerQueue))
}
