package web_test

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/require"
)

// seedAuthorizations adds n settled authorizations of the rig's agent on
// one card, straight into the file (a second connection, as another
// process would), spread over the last 60 days.
func seedAuthorizations(b *testing.B, r *rig, n int) {
	b.Helper()
	r.env.SQLiteOnly("seeds the SQLite file directly")
	card := r.env.Card(r.agent)
	db, err := sql.Open("sqlite", r.env.Path)
	require.NoError(b, err)
	defer db.Close()
	start := r.now.Add(-60 * 24 * time.Hour).UnixMicro()
	step := int64(60*24*time.Hour/time.Microsecond) / int64(n)
	_, err = db.Exec(fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d)
		INSERT INTO authorizations (id, network_id, card_id, agent_id, user_id, status, reason, amount, currency,
			merchant_name, risk_score, risk_signals, risk_review, checks, paper, created_at, updated_at)
		SELECT 'txn_01800000-0000-7000-8000-' || printf('%%012x', i), 'seed' || i, ?, ?, ?, 'settled', '', 100, 'USD',
			'AWS', 0, '[]', 0, '[]', 0, ? + i * ?, 0 FROM n`, n), card.ID, r.agent.ID, r.agent.UserID, start, step)
	require.NoError(b, err)
	var count int
	require.NoError(b, db.QueryRow(`SELECT count(*) FROM authorizations`).Scan(&count))
	require.GreaterOrEqual(b, count, n)
}

// BenchmarkPages renders the dashboard's pages, signed in, over a database
// of 100,000 authorizations, and reports each page's p50.
//
//	go test -run '^$' -bench Pages ./cmd/agentledger/internal/web/
func BenchmarkPages(b *testing.B) {
	r := newRig(b)
	seedAuthorizations(b, r, 100_000)
	for range 5 {
		r.requestApproval(250_00, "A GPU hour")
	}
	br := r.browser()
	p := br.do("POST", "/signin", url.Values{"key": {r.keys[engine.RoleAdmin]}})
	require.Equal(b, http.StatusSeeOther, p.status)
	txns, err := r.env.Engine.ListAuthorizations(r.env.Ctx, engine.Operator, engine.ListAuthorizationsInput{Page: engine.Page{Limit: 1}})
	require.NoError(b, err)
	require.NotEmpty(b, txns.Items)
	for _, path := range []string{"/", "/approvals", "/approvals/rows", "/agents", "/agents/" + r.agent.Name, "/cards",
		"/transactions", "/transactions?status=settled&agent_id=" + r.agent.ID, "/transactions/" + txns.Items[0].ID,
		"/intents", "/webhooks", "/ledger"} {
		b.Run(strings.ReplaceAll(path, "/", "_"), func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				t0 := time.Now()
				res, err := br.client.Get(r.srv.URL + path)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("%s: %d", path, res.StatusCode)
				}
				times = append(times, time.Since(t0))
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		})
	}
}
