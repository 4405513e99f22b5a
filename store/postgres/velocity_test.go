package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openVelocityDB opens a store on a fresh database and a raw connection to
// it, for planting rows.
func openVelocityDB(t *testing.T) (*postgres.DB, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url, postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	raw, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close(context.Background()) })
	return db, raw
}

func addVelocity(t *testing.T, db *postgres.DB, deltas ...engine.VelocityDelta) error {
	t.Helper()
	return db.Update(context.Background(), func(tx engine.Tx) error { return tx.AddVelocity(deltas) })
}

func countVelocity(t *testing.T, db *postgres.DB, scope string, since time.Time) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		var err error
		n, err = tx.CountVelocity(scope, since)
		return err
	}))
	return n
}

// Spends started in and out of order, some at the same microsecond, some
// stopped, count exactly at every probe, a microsecond either side of
// each spend included, across second, minute, hour and day buckets.
func TestPostgresCountVelocityIsExact(t *testing.T) {
	db, _ := openVelocityDB(t)
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 1, 31, 23, 59, 59, 999_999_000, time.UTC)
	const span = int64(3 * 24 * time.Hour / time.Microsecond)
	type spend struct {
		at      time.Time
		stopped bool
	}
	var spends []*spend
	at := int64(0)
	for range 400 {
		var s *spend
		switch r := rng.IntN(20); {
		case r == 0 && len(spends) > 0: // the same microsecond as another
			s = &spend{at: spends[rng.IntN(len(spends))].at}
		case r < 4: // out of order, up to two hours back
			s = &spend{at: base.Add(time.Duration(max(at-rng.Int64N(7_200_000_000), 0)) * time.Microsecond)}
		default:
			at += rng.Int64N(2 * span / 400)
			s = &spend{at: base.Add(time.Duration(at) * time.Microsecond)}
		}
		spends = append(spends, s)
		require.NoError(t, addVelocity(t, db, engine.VelocityDelta{Scope: "agent:a", At: s.at, Count: 1}))
	}
	var stops []engine.VelocityDelta
	for _, s := range spends {
		if rng.IntN(3) == 0 {
			s.stopped = true
			stops = append(stops, engine.VelocityDelta{Scope: "agent:a", At: s.at, Count: -1})
		}
	}
	rng.Shuffle(len(stops), func(i, j int) { stops[i], stops[j] = stops[j], stops[i] })
	require.NoError(t, addVelocity(t, db, stops...))

	probes := []time.Time{base.Add(-time.Hour), base.Add(time.Duration(span) * time.Microsecond)}
	for i := 0; i < len(spends); i += 3 {
		for _, d := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
			probes = append(probes, spends[i].at.Add(d))
		}
	}
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		for _, since := range probes {
			var want int64
			for _, s := range spends {
				if !s.stopped && !s.at.Before(since) {
					want++
				}
			}
			got, err := tx.CountVelocity("agent:a", since)
			require.NoError(t, err)
			require.Equal(t, want, got, "since %s", since.Format(time.RFC3339Nano))
			got, err = tx.CountVelocity("agent:b", since)
			require.NoError(t, err)
			require.Zero(t, got, "a scope that never spent")
		}
		return nil
	}))
}

// The window's edge is exact to the microsecond, for spends started and
// stopped, and scopes keep apart.
func TestPostgresVelocityWindowEdges(t *testing.T) {
	db, _ := openVelocityDB(t)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	us := time.Microsecond
	require.NoError(t, addVelocity(t, db,
		engine.VelocityDelta{Scope: "card:c", At: t0.Add(10 * us), Count: 1},
		engine.VelocityDelta{Scope: "card:c", At: t0, Count: 2},              // before the last: out of order
		engine.VelocityDelta{Scope: "card:c", At: t0.Add(-us), Count: 1},     // further back
		engine.VelocityDelta{Scope: "card:c", At: t0.Add(10 * us), Count: 1}, // the same microsecond again
		engine.VelocityDelta{Scope: "card:d", At: t0, Count: 5},
	))
	require.NoError(t, addVelocity(t, db, engine.VelocityDelta{Scope: "card:c", At: t0, Count: -1}))
	cases := []struct {
		since time.Time
		want  int64
	}{
		{t0.Add(-2 * us), 4}, // 1 + (2−1) + 2
		{t0.Add(-us), 4},
		{t0, 3},
		{t0.Add(us), 2},
		{t0.Add(10 * us), 2},
		{t0.Add(11 * us), 0},
		{t0.Add(-48 * time.Hour), 4},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, countVelocity(t, db, "card:c", c.since), "since %s", c.since.Format(time.RFC3339Nano))
	}
	assert.EqualValues(t, 5, countVelocity(t, db, "card:d", t0))

	// A spend never started cannot stop; more stops than spends neither.
	err := addVelocity(t, db, engine.VelocityDelta{Scope: "card:c", At: t0.Add(5 * us), Count: -1})
	assert.ErrorContains(t, err, "no spend at")
	err = addVelocity(t, db, engine.VelocityDelta{Scope: "card:c", At: t0.Add(-us), Count: -2})
	assert.Error(t, err)
	assert.EqualValues(t, 4, countVelocity(t, db, "card:c", t0.Add(-us)), "nothing of a failed update is kept")

	// A read-only view refuses to write; ClearVelocity empties one scope.
	err = db.View(context.Background(), func(tx engine.Tx) error {
		return tx.AddVelocity([]engine.VelocityDelta{{Scope: "card:c", At: t0, Count: 1}})
	})
	assert.Error(t, err)
	require.NoError(t, db.Update(context.Background(), func(tx engine.Tx) error { return tx.ClearVelocity("card:c") }))
	assert.Zero(t, countVelocity(t, db, "card:c", t0.Add(-time.Hour)))
	assert.EqualValues(t, 5, countVelocity(t, db, "card:d", t0))
}

const (
	velUser  = "usr_01900000-0000-7000-8000-000000000001"
	velAgent = "agt_01900000-0000-7000-8000-000000000001"
	velCard  = "card_01900000-0000-7000-8000-000000000001"
)

// plantAgent inserts a user, an agent with a velocity limit and its card.
func plantAgent(t *testing.T, raw *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	_, err := raw.Exec(ctx, `INSERT INTO users (id, name, kyc_status, created_at, updated_at)
		VALUES ($1, 'u', 'approved', 0, 0)`, velUser)
	require.NoError(t, err)
	_, err = raw.Exec(ctx, `INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at)
		VALUES ($1, 'a', $2, 'live', '{"velocity": {"count": 100, "window_seconds": 3600}}', 0, 0)`, velAgent, velUser)
	require.NoError(t, err)
	_, err = raw.Exec(ctx, `INSERT INTO cards (id, agent_id, type, status, last4, exp_month, exp_year, currency, limits,
		pan_fingerprint, secret, created_at, updated_at)
		VALUES ($1, $2, 'multi_use', 'active', '4242', 1, 2099, 'USD', '{}', '\x01', '\x00', 0, 0)`, velCard, velAgent)
	require.NoError(t, err)
}

// plantCharge inserts a charge of the agent created at at, in a status.
func plantCharge(t *testing.T, raw *pgx.Conn, i int, at time.Time, status string) {
	t.Helper()
	id := fmt.Sprintf("%s-7000-8000-%012x", engine.IDFloor(engine.PrefixAuthorization, at), i)
	_, err := raw.Exec(context.Background(), `INSERT INTO authorizations (id, network_id, card_id, agent_id, user_id,
		status, reason, amount, currency, merchant_name, risk_score, risk_signals, risk_review, checks, paper,
		created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'r', 100, 'USD', 'Shop', 0, '[]', false, '[]', false, $7, $7)`,
		id, fmt.Sprint("net", i), velCard, velAgent, velUser, status, at.UnixMicro())
	require.NoError(t, err)
}

// plantDecision inserts a policy check that counted at at.
func plantDecision(t *testing.T, raw *pgx.Conn, i int, at time.Time, counted int64) {
	t.Helper()
	_, err := raw.Exec(context.Background(), `INSERT INTO decisions (id, agent_id, kind, action_type, amount, currency,
		status, reason, requires_human_approval, policy_checks, risk_score, dry_run, paper, counted, counted_at,
		created_at, updated_at)
		VALUES ($1, $2, 'policy_check', 'purchase', 100, 'USD', 'approved', 'r', false, '[]', 0, false, false, $3, $4, $4, $4)`,
		fmt.Sprintf("dec_%012x", i), velAgent, counted, at.UnixMicro())
	require.NoError(t, err)
}

// A fill takes the agent's approved and settled charges and counted
// decisions from since on, with a running count in order; a stop of a spend
// older than since is skipped, of a newer one recorded, of one never
// started an error.
func TestPostgresFillAgentVelocity(t *testing.T) {
	db, raw := openVelocityDB(t)
	ctx := context.Background()
	plantAgent(t, raw)
	since := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	us := time.Microsecond
	plantCharge(t, raw, 1, since.Add(-us), "approved") // before since
	plantCharge(t, raw, 2, since, "approved")
	plantCharge(t, raw, 3, since.Add(time.Second), "settled")
	plantCharge(t, raw, 4, since.Add(time.Second), "approved") // the same microsecond
	plantCharge(t, raw, 5, since.Add(2*time.Second), "reversed")
	plantCharge(t, raw, 6, since.Add(2*time.Second), "declined")
	plantCharge(t, raw, 7, since.Add(time.Minute), "approved")
	plantDecision(t, raw, 1, since.Add(-time.Second), 100) // before since
	plantDecision(t, raw, 2, since.Add(us), 100)
	plantDecision(t, raw, 3, since.Add(time.Second), 100) // with two charges
	plantDecision(t, raw, 4, since.Add(3*time.Second), 0) // did not count
	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error { return tx.FillAgentVelocity(velAgent, since) }))

	scope := engine.AgentCountScope(velAgent)
	rows, err := raw.Query(ctx, `SELECT at, n, cum FROM velocity_spends WHERE scope = $1 ORDER BY at`, scope)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]int64, error) {
		var v [3]int64
		return v, r.Scan(&v[0], &v[1], &v[2])
	})
	require.NoError(t, err)
	at := func(d time.Duration) int64 { return since.Add(d).UnixMicro() }
	assert.Equal(t, [][3]int64{{at(0), 1, 1}, {at(us), 1, 2}, {at(time.Second), 3, 5}, {at(time.Minute), 1, 6}}, got)
	assert.EqualValues(t, 6, countVelocity(t, db, scope, since.Add(-time.Hour)))
	assert.EqualValues(t, 4, countVelocity(t, db, scope, since.Add(time.Second)))

	require.NoError(t, addVelocity(t, db,
		engine.VelocityDelta{Scope: scope, At: since.Add(-us), Count: -1},            // older than the fill: skipped
		engine.VelocityDelta{Scope: scope, At: since.Add(time.Second), Count: -1},    // recorded
		engine.VelocityDelta{Scope: scope, At: since.Add(2 * time.Minute), Count: 1}, // started after the fill
	))
	assert.EqualValues(t, 6, countVelocity(t, db, scope, since.Add(-time.Hour)))
	err = addVelocity(t, db, engine.VelocityDelta{Scope: scope, At: since.Add(3 * time.Second), Count: -1})
	assert.ErrorContains(t, err, "no spend at", "a spend after the fill that never started")

	// A second fill starts over, from its own since.
	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
		return tx.FillAgentVelocity(velAgent, since.Add(time.Second))
	}))
	assert.EqualValues(t, 4, countVelocity(t, db, scope, since.Add(-time.Hour)))
	var removed int64
	require.NoError(t, raw.QueryRow(ctx, `SELECT count(*) FROM velocity_removed WHERE scope = $1`, scope).Scan(&removed))
	assert.Zero(t, removed, "the buckets of the old fill are gone")
}

// VerifyLedger finds nothing wrong with an empty database and reports each
// planted fault, ledger and velocity alike.
func TestPostgresVerifyLedger(t *testing.T) {
	ctx := context.Background()
	db, _ := openVelocityDB(t)
	report, err := db.VerifyLedger(ctx)
	require.NoError(t, err)
	assert.True(t, report.OK)
	assert.Empty(t, report.Faults)

	cases := []struct {
		name   string
		plant  []string
		expect string
	}{
		{"an account off its transfers", []string{
			`INSERT INTO accounts (id, kind, owner_id, currency, credits_posted) VALUES ('user:u:USD', 'user', 'u', 'USD', 500)`,
		}, "account user:u:USD stores debits 0/0 credits 0/500 (pending/posted) but its transfers sum to 0/0 and 0/0"},
		{"a transfer between currencies", []string{
			`INSERT INTO accounts (id, kind, owner_id, currency) VALUES ('system:s:USD', 'system', 's', 'USD')`,
			`INSERT INTO accounts (id, kind, owner_id, currency, credits_posted) VALUES ('user:u:EUR', 'user', 'u', 'EUR', 5)`,
			`UPDATE accounts SET debits_posted = 5 WHERE id = 'system:s:USD'`,
			`INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, currency, created_at)
				VALUES ('xfr_1', 'posted', 'system:s:USD', 'user:u:EUR', 5, 'USD', 0)`,
		}, "transfer xfr_1 in USD does not balance: it touches accounts in USD and EUR"},
		{"a counter with no spends", []string{
			`INSERT INTO counters (scope, period, amount, count) VALUES ('card:c', 'lifetime', 100, 1)`,
		}, "spend counter card:c lifetime is 100 in 1 spends, but the spends add up to 0 in 0"},
		{"a velocity spend with no charge", []string{
			`INSERT INTO velocity_spends (scope, at, n, cum) VALUES ('card:c', 1000000, 1, 1)`,
		}, "velocity card:c at 1970-01-01T00:00:01Z counts 1 spends, but 0 counted then"},
		{"a velocity running count off", []string{
			`INSERT INTO velocity_spends (scope, at, n, removed, cum) VALUES ('card:c', 1000000, 1, 1, 2)`,
		}, "running count 2, but its spends up to then add up to 1"},
		{"a stopped spend unrecorded", []string{
			`INSERT INTO velocity_spends (scope, at, n, removed, cum) VALUES ('card:c', 1000000, 1, 1, 1)`,
		}, "velocity card:c: no stopped spends recorded in the 1000000 µs from 1970-01-01T00:00:01Z, but its spends say 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, raw := openVelocityDB(t)
			for _, q := range c.plant {
				_, err := raw.Exec(ctx, q)
				require.NoError(t, err)
			}
			report, err := db.VerifyLedger(ctx)
			require.NoError(t, err)
			assert.False(t, report.OK)
			assert.Contains(t, strings.Join(report.Faults, "\n"), c.expect)
		})
	}
}
