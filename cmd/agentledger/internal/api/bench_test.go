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
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/require"
)

// BenchmarkCheckOverHTTP makes the same policy check in-process and through
// POST /v1/agents/{agent}/checks on a loopback server, alternately in one
// loop, and reports each one's p50 and the difference: what the HTTP face
// (auth, rate limit, decoding, validation, encoding, the loopback round
// trip) adds to a decision.
//
//	go test -run '^$' -bench CheckOverHTTP ./cmd/agentledger/internal/api/
func BenchmarkCheckOverHTTP(b *testing.B) {
	env := sqlitetest.New(b)
	u := env.User("acme", engine.MaxAmount)
	agent := env.Agent("bot", u, engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](500_00)}})
	key, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: agent.ID})
	require.NoError(b, err)
	h := api.New(env.Engine, api.Options{RatePerMinute: -1})
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
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
	overHTTP := func() {
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
	inProcess()
	overHTTP()
	direct := make([]time.Duration, 0, b.N)
	viaHTTP := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		inProcess()
		t1 := time.Now()
		overHTTP()
		direct, viaHTTP = append(direct, t1.Sub(t0)), append(viaHTTP, time.Since(t1))
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
}
