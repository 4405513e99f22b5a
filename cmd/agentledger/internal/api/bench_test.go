package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/require"
)

// BenchmarkCheckOverHTTP makes the same policy check in-process and through
// POST /v1/agents/{agent}/checks on a loopback server, alternately in one
// loop, and reports each one's p50 and the difference: what the HTTP face
// (auth, rate limit, decoding, validation, encoding, the loopback round
// trip) adds to a decision. A no-op handler on the same server measures the
// loopback round trip alone.
//
//	go test -run '^$' -bench CheckOverHTTP ./cmd/agentledger/internal/api/
func BenchmarkCheckOverHTTP(b *testing.B) {
	env := sqlitetest.New(b)
	u := env.User("acme", engine.MaxAmount)
	agent := env.Agent("bot", u, engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](500_00)}})
	key, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: agent.ID})
	require.NoError(b, err)
	h := api.New(env.Engine, api.Options{RatePerMinute: -1})
	mount := func(mux *http.ServeMux) {
		h.Mount(mux)
		// The transport alone: the same request to a handler that reads it
		// and answers a small JSON object.
		mux.HandleFunc("POST /bench/noop", func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":"approved"}`))
		})
	}
	// Served as serve --http serves it: behind the MCP server's body bound.
	web := mcp.New(env.Engine, mcp.Options{}).NewHTTP(mcp.HTTPOptions{Mount: mount})
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	actor := sqlitetest.AgentActor(agent)
	actor.KeyID = key.ID
	body := []byte(`{"action_type":"api_spend","amount":120,"reason":"bench"}`)
	url := srv.URL + "/v1/agents/" + agent.ID + "/checks"
	client := srv.Client()

	inProcess := func() {
		_, err := env.Engine.PolicyCheck(env.Ctx, actor, engine.PolicyCheckInput{Agent: agent.ID,
			ActionType: "api_spend", Amount: 120, Reason: "bench"})
		if err != nil {
			b.Fatal(err)
		}
	}
	post := func(url string) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key.Secret)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	overHTTP := func() { post(url) }
	noop := func() { post(srv.URL + "/bench/noop") }
	inProcess()
	overHTTP()
	var direct, viaHTTP, transport []time.Duration
	for b.Loop() {
		t0 := time.Now()
		inProcess()
		t1 := time.Now()
		overHTTP()
		t2 := time.Now()
		noop()
		direct, viaHTTP = append(direct, t1.Sub(t0)), append(viaHTTP, t2.Sub(t1))
		transport = append(transport, time.Since(t2))
	}
	b.StopTimer()
	p50 := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds())
	}
	engineP50, httpP50 := p50(direct), p50(viaHTTP)
	b.ReportMetric(engineP50, "engine-p50-µs")
	b.ReportMetric(httpP50, "http-p50-µs")
	b.ReportMetric(httpP50-engineP50, "added-p50-µs")
	b.ReportMetric(p50(transport), "noop-http-p50-µs")
}
