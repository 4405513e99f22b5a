package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve --http's /metrics after known traffic, scraped as Prometheus does
// and parsed with its own text parser: behind a viewer key on the main
// server, without one on --metrics-addr.
func TestServeMetricsAfterKnownTraffic(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var card struct{ ID string }
	p.json(&card, "card", "create", "--agent", "buyer")
	var viewer, agentKey, network struct{ ID, Key string }
	p.json(&viewer, "key", "create", "--viewer")
	p.json(&agentKey, "key", "create", "--agent", "buyer")
	p.json(&network, "key", "create", "--network")
	s := p.serveHTTPWith(t, []string{"--metrics-addr", "127.0.0.1:0"})

	do := func(method, url, key, body string) int {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	authorize := `{"card_id":"` + card.ID + `","amount":500,"currency":"USD","merchant":{"name":"Shop"}}`
	for range 2 { // no intent: both declined
		require.Equal(t, http.StatusOK, do(http.MethodPost, s.url+"/v1/network/authorize", network.Key, authorize))
	}
	require.Equal(t, http.StatusOK, do(http.MethodPost, s.url+"/v1/agents/buyer/checks", agentKey.Key,
		`{"action_type":"api_call","amount":100}`))
	assert.Equal(t, http.StatusUnauthorized, do(http.MethodGet, s.url+"/metrics", "", ""), "no key")
	assert.Equal(t, http.StatusForbidden, do(http.MethodGet, s.url+"/metrics", agentKey.Key, ""), "an agent key")

	scrape := func(url, key string) map[string]*dto.MetricFamily {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(res.Body)
		require.NoError(t, err)
		return fams
	}
	value := func(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
		t.Helper()
		fam := fams[name]
		require.NotNil(t, fam, "no %s", name)
	next:
		for _, m := range fam.Metric {
			matched := 0
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok {
					if want != l.GetValue() {
						continue next
					}
					matched++
				}
			}
			if matched != len(labels) {
				continue // a series without one of the labels asked for
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	fams := scrape(s.url+"/metrics", viewer.Key)
	assert.Equal(t, 2.0, value(fams, "agentledger_decisions_total",
		map[string]string{"kind": "authorization", "status": "declined", "decline_code": "INTENT_REQUIRED"}))
	assert.Equal(t, 1.0, value(fams, "agentledger_policy_checks_total", map[string]string{"status": "approved"}))
	assert.Equal(t, 2.0, value(fams, "agentledger_decision_duration_seconds", map[string]string{"kind": "authorization"}))
	assert.GreaterOrEqual(t, value(fams, "agentledger_http_requests_total",
		map[string]string{"face": "network", "status_class": "2xx"}), 2.0)
	assert.GreaterOrEqual(t, value(fams, "agentledger_store_commit_batch_size", nil), 3.0)
	assert.Equal(t, 0.0, value(fams, "agentledger_approvals_pending", nil))
	assert.NotNil(t, fams["go_goroutines"])

	m := regexp.MustCompile(`metrics on (http://[0-9.:]+)/metrics`).FindStringSubmatch(s.log())
	require.NotNil(t, m, s.log())
	keyless := scrape(m[1]+"/metrics", "")
	assert.Equal(t, 2.0, value(keyless, "agentledger_decisions_total",
		map[string]string{"kind": "authorization", "status": "declined", "decline_code": "INTENT_REQUIRED"}),
		"the same registry, without a key on --metrics-addr")
	s.stop(t)
}
