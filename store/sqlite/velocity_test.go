package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// velocityScene is an agent and its card in a database whose history was
// written before the velocity migration, then opened, which upgraded it.
type velocityScene struct {
	db          *DB
	e           *engine.Engine
	agent, card string
}

const (
	sceneUser  = "usr_01900000-0000-7000-8000-000000000001"
	sceneAgent = "agt_01900000-0000-7000-8000-000000000001"
	sceneCard  = "card_01900000-0000-7000-8000-000000000001"
)

// newVelocityScene seeds spends settled charges of the card, spread evenly
// over the day before the clock's now, under the policy and the card's
// limits, for a funded user; then opens the file (migrating it).
func newVelocityScene(tb testing.TB, spends int, policy engine.Policy, card engine.SpendLimits,
	clock engine.Clock) *velocityScene {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "velocity.db")
	policyJSON, err := json.Marshal(policy)
	require.NoError(tb, err)
	limitsJSON, err := json.Marshal(card)
	require.NoError(tb, err)
	day := int64(24 * time.Hour / time.Microsecond)
	databaseAt(tb, path, 7, []string{ // before version 8, the velocity windows
		`INSERT INTO users (id, name, kyc_status, created_at, updated_at) VALUES (?1, 'u', 'approved', 0, 0)`,
		`INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at) VALUES (?2, 'a', ?1, 'live', ?4, 0, 0)`,
		`INSERT INTO cards (id, agent_id, type, status, last4, exp_month, exp_year, currency, limits, pan_fingerprint, secret,
			created_at, updated_at)
			VALUES (?3, ?2, 'multi_use', 'active', '4242', 1, 2099, 'USD', ?5, randomblob(32), x'00', 0, 0)`,
		`WITH RECURSIVE n(i) AS (SELECT 0 WHERE ?6 > 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?6),
			t(i, at) AS (SELECT i, ?7 + i * (?8 / ?6) FROM n)
		INSERT INTO authorizations (id, network_id, card_id, agent_id, user_id, status, reason, amount, currency, merchant_name,
			risk_score, risk_signals, risk_review, checks, paper, settled_amount, created_at, updated_at)
		SELECT printf('txn_%08x-%04x-7000-8000-%012x', (at / 1000) >> 16, (at / 1000) & 65535, i), 'seed' || i, ?3, ?2, ?1,
			'settled', 'Approved', 100, 'USD', 'Shop', 0, '[]', 0, '[]', 0, 100, at, at FROM t`,
	}, sceneUser, sceneAgent, sceneCard, string(policyJSON), string(limitsJSON), spends, clock.Now().UnixMicro()-day, day)

	db, err := Open(path, Options{Key: GenerateKey()})
	require.NoError(tb, err)
	tb.Cleanup(func() { db.Close() })
	e := engine.New(db, engine.Options{Clock: clock})
	_, err = e.FundUser(ctx, engine.Operator, engine.FundInput{User: sceneUser, Amount: engine.MaxAmount})
	require.NoError(tb, err)
	return &velocityScene{db: db, e: e, agent: sceneAgent, card: sceneCard}
}

// The migration fills the velocity scopes in from the charges that count:
// an upgraded database counts its window at once, the agent's and the
// card's, at the window's edge to the microsecond.
func TestVelocityMigrationFillsTheWindows(t *testing.T) {
	clock := engine.NewManualClock(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))
	v := &engine.Velocity{Count: 1_000, WindowSeconds: 3600}
	s := newVelocityScene(t, 240, engine.Policy{IntentRequired: new(false), SpendLimits: engine.SpendLimits{Velocity: v}},
		engine.SpendLimits{Velocity: v}, clock)
	// The seeded charges are 6 minutes apart: ten of them in the last hour.
	count := func(scope string, since time.Time) int64 {
		var n int64
		require.NoError(t, s.db.View(context.Background(), func(tx engine.Tx) error {
			var err error
			n, err = tx.CountVelocity(scope, since)
			return err
		}))
		return n
	}
	hourAgo := clock.Now().Add(-time.Hour)
	for _, scope := range []string{engine.AgentCountScope(s.agent), engine.CardScope(s.card)} {
		assert.Equal(t, int64(10), count(scope, hourAgo), scope)
		assert.Equal(t, int64(11), count(scope, hourAgo.Add(-6*time.Minute)), "%s: the one exactly 66 minutes ago", scope)
		assert.Equal(t, int64(10), count(scope, hourAgo.Add(-6*time.Minute+time.Microsecond)), scope)
		assert.Equal(t, int64(240), count(scope, clock.Now().Add(-48*time.Hour)), scope)
	}
	l, err := s.e.Limits(context.Background(), engine.Operator, s.agent)
	require.NoError(t, err)
	assert.Equal(t, int64(10), l.Velocity.Used)
	report, err := s.db.VerifyLedger(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, fmt.Sprint(report.Faults), "velocity")
}

// Counting a window reads a few dozen pages whether 2,400 or 24,000 spends
// are in it, a tenth of them reversed: the work grows with the depth of
// the b-trees, not with the history.
func TestVelocityCostsTheSameWhateverTheHistory(t *testing.T) {
	clock := engine.NewManualClock(time.Date(2026, 3, 11, 12, 0, 0, 123_456_000, time.UTC))
	v := &engine.Velocity{Count: 1_000_000, WindowSeconds: 2 * 86_400}
	pages := map[int]int{}
	for _, n := range []int{0, 2_400, 24_000} {
		s := newVelocityScene(t, n, engine.Policy{IntentRequired: new(false), SpendLimits: engine.SpendLimits{Velocity: v}},
			engine.SpendLimits{Velocity: v}, clock)
		if n > 0 {
			// Every tenth seeded charge reversed: buckets of stopped spends
			// all over the window.
			var reverse []engine.VelocityDelta
			rows, err := s.db.reader.Query(`SELECT created_at FROM authorizations WHERE rowid % 10 = 0`)
			require.NoError(t, err)
			for rows.Next() {
				var at int64
				require.NoError(t, rows.Scan(&at))
				for _, scope := range []string{engine.AgentCountScope(s.agent), engine.CardScope(s.card)} {
					reverse = append(reverse, engine.VelocityDelta{Scope: scope, At: fromMicros(at), Count: -1})
				}
			}
			require.NoError(t, rows.Close())
			require.NoError(t, s.db.Update(context.Background(), func(tx engine.Tx) error { return tx.AddVelocity(reverse) }))
		}
		base := s.db.pagesRead(t)
		require.NoError(t, s.db.Update(context.Background(), func(engine.Tx) error { return nil }))
		overhead := s.db.pagesRead(t) - base
		before := s.db.pagesRead(t)
		var got [2]int64
		require.NoError(t, s.db.Update(context.Background(), func(tx engine.Tx) error {
			var err error
			since := clock.Now().Add(-37*time.Hour - 61*time.Second) // in mid-bucket at every width
			if got[0], err = tx.CountVelocity(engine.AgentCountScope(s.agent), since); err != nil {
				return err
			}
			got[1], err = tx.CountVelocity(engine.CardScope(s.card), since)
			return err
		}))
		pages[n] = s.db.pagesRead(t) - before - overhead
		want := int64(n - n/10)
		assert.Equal(t, [2]int64{want, want}, got, "%d spends, a tenth reversed, all in the window", n)
	}
	t.Logf("pages read by two velocity counts, by spends in the window: %v", pages)
	// Each count descends the b-trees seven times: ten times the history
	// adds a level to them, no more. Counting the authorizations read an
	// index entry and a row for every spend.
	assert.LessOrEqual(t, pages[24_000], pages[2_400]+2*7)
	assert.Less(t, pages[24_000], 100)
}

// Spends started and stopped at random microseconds over five weeks — in
// order and out of it, several at once, many stopped later — and the count
// from any time is the number that started since and did not stop.
func TestCountVelocityIsExact(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	base := time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC)
	const span = int64(35 * 24 * time.Hour / time.Microsecond)
	type spend struct {
		at      time.Time
		stopped bool
	}
	var spends []*spend
	at := int64(0)
	for range 3_000 {
		var s *spend
		switch r := rng.IntN(20); {
		case r == 0 && len(spends) > 0: // the same microsecond as another
			s = &spend{at: spends[rng.IntN(len(spends))].at}
		case r < 3: // out of order, up to an hour back
			s = &spend{at: base.Add(time.Duration(max(at-rng.Int64N(3_600_000_000), 0)) * time.Microsecond)}
		default:
			at += rng.Int64N(2 * span / 3_000)
			s = &spend{at: base.Add(time.Duration(at) * time.Microsecond)}
		}
		spends = append(spends, s)
		require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
			return tx.AddVelocity([]engine.VelocityDelta{{Scope: "agent:a", At: s.at, Count: 1}})
		}))
	}
	var stops []engine.VelocityDelta
	for _, s := range spends {
		if rng.IntN(3) == 0 {
			s.stopped = true
			stops = append(stops, engine.VelocityDelta{Scope: "agent:a", At: s.at, Count: -1})
		}
	}
	rng.Shuffle(len(stops), func(i, j int) { stops[i], stops[j] = stops[j], stops[i] })
	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error { return tx.AddVelocity(stops) }))
	err = db.Update(ctx, func(tx engine.Tx) error {
		return tx.AddVelocity([]engine.VelocityDelta{{Scope: "agent:a", At: base.Add(-time.Second), Count: -1}})
	})
	assert.ErrorContains(t, err, "no spend at", "a stop of a spend never started")

	require.NoError(t, db.View(ctx, func(tx engine.Tx) error {
		probes := []time.Time{base.Add(-time.Hour), base.Add(time.Duration(span) * time.Microsecond)}
		for i := 0; i < len(spends); i += 5 {
			for _, d := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
				probes = append(probes, spends[i].at.Add(d))
			}
		}
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

// The ledger verifier recomputes the velocity scopes from the charges and
// decisions that count, and reports a scope that disagrees.
func TestVerifyFindsVelocityFaults(t *testing.T) {
	cases := []struct {
		name, tamper, fault string
	}{
		{"a spend forgotten",
			`DELETE FROM velocity_spends WHERE (scope, at) IN (
				SELECT scope, at FROM velocity_spends WHERE removed = 0 LIMIT 1)`,
			"has no spends at"},
		{"a spend stopped that counts",
			`UPDATE velocity_spends SET removed = 1 WHERE removed = 0 AND at = (SELECT max(at) FROM velocity_spends)`,
			"counts 0 spends, but 1 counted then"},
		{"a running count off",
			`UPDATE velocity_spends SET cum = cum + 1 WHERE at = (SELECT min(at) FROM velocity_spends)`, "running count"},
		{"a stopped spend unrecorded", `DELETE FROM velocity_removed WHERE width = 60000000`, "no stopped spends recorded"},
		{"a stopped spend too many",
			`UPDATE velocity_removed SET n = n + 1 WHERE width = 1000000`, "spends stopped in the 1000000 µs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := engine.NewManualClock(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))
			s := newVelocityScene(t, 0, engine.Policy{IntentRequired: new(false),
				SpendLimits: engine.SpendLimits{Velocity: &engine.Velocity{Count: 100, WindowSeconds: 3600}}},
				engine.SpendLimits{}, clock)
			var first *engine.Authorization
			for i := range 3 {
				a, err := s.e.Authorize(context.Background(), engine.Operator,
					engine.AuthorizeInput{CardID: s.card, Amount: 100, Currency: "USD", Merchant: engine.Merchant{Name: "Shop"}})
				require.NoError(t, err)
				if i == 0 {
					first = a
				}
				clock.Advance(time.Second)
			}
			_, err := s.e.Reverse(context.Background(), engine.Operator, engine.ReverseInput{AuthorizationID: first.ID})
			require.NoError(t, err)
			report, err := s.db.VerifyLedger(context.Background())
			require.NoError(t, err)
			require.Empty(t, report.Faults)

			_, err = s.db.conn.ExecContext(context.Background(), c.tamper)
			require.NoError(t, err)
			report, err = s.db.VerifyLedger(context.Background())
			require.NoError(t, err)
			assert.False(t, report.OK)
			assert.Contains(t, fmt.Sprint(report.Faults), c.fault)
		})
	}
}

// The migration run on a history the engine wrote — charges on a card with
// a velocity limit and on one without, reversed, expired, settled, a
// credit, a decline, policy checks counted, dry or executed later — leaves
// the ledger verified and every window as it was.
func TestVelocityMigrationOnAnEngineHistory(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewManualClock(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	e, op := engine.New(db, engine.Options{Clock: clock}), engine.Operator
	u, err := e.CreateUser(ctx, op, engine.CreateUserInput{Name: "u"})
	require.NoError(t, err)
	_, err = e.SetKYC(ctx, op, engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved})
	require.NoError(t, err)
	_, err = e.FundUser(ctx, op, engine.FundInput{User: u.ID, Amount: 1_000_000})
	require.NoError(t, err)
	v := &engine.Velocity{Count: 1_000, WindowSeconds: 10 * 86_400}
	agent, err := e.CreateAgent(ctx, op, engine.CreateAgentInput{Name: "a", User: u.ID,
		Policy: &engine.Policy{IntentRequired: new(false), ApprovalThreshold: new(int64(5_000)),
			SpendLimits: engine.SpendLimits{Velocity: v}}})
	require.NoError(t, err)
	limited, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID, Limits: engine.SpendLimits{Velocity: v}})
	require.NoError(t, err)
	plain, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID})
	require.NoError(t, err)
	charge := func(card *engine.Card, amount int64) *engine.Authorization {
		t.Helper()
		clock.Advance(17 * time.Minute)
		a, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, Amount: amount, Currency: "USD",
			Merchant: engine.Merchant{Name: "Shop"}})
		require.NoError(t, err)
		return a
	}
	expiring := charge(limited, 100)
	clock.Advance(engine.DefaultHoldTTL)
	_, err = e.Sweep(ctx, op)
	require.NoError(t, err)
	for range 3 {
		charge(limited, 100)
		charge(plain, 100)
	}
	_, err = e.Reverse(ctx, op, engine.ReverseInput{AuthorizationID: charge(limited, 100).ID})
	require.NoError(t, err)
	_, err = e.Settle(ctx, op, engine.SettleInput{AuthorizationID: charge(plain, 100).ID})
	require.NoError(t, err)
	require.Equal(t, engine.AuthDeclined, charge(plain, 2_000_000).Status)
	_, err = e.AuthorizeCredit(ctx, op, engine.AuthorizeInput{CardID: limited.ID, Amount: 100, Currency: "USD",
		Merchant: engine.Merchant{Name: "Shop"}})
	require.NoError(t, err)
	agentActor := engine.Actor{Role: engine.RoleAgent, AgentID: agent.ID}
	for _, in := range []engine.PolicyCheckInput{{Amount: 100}, {Amount: 100, DryRun: true}, {Amount: 6_000}} {
		clock.Advance(time.Minute)
		d, err := e.PolicyCheck(ctx, agentActor, in)
		require.NoError(t, err)
		if d.Status == engine.DecisionRequiresApproval {
			_, err = e.Approve(ctx, op, engine.DecideInput{DecisionID: d.ID})
			require.NoError(t, err)
			clock.Advance(time.Minute)
			_, err = e.ExecuteDecision(ctx, agentActor, engine.ExecuteInput{DecisionID: d.ID})
			require.NoError(t, err)
		}
	}
	require.Equal(t, engine.AuthExpired, mustAuthorization(t, e, expiring.ID).Status)
	used := func() []int64 {
		var out []int64
		require.NoError(t, db.View(ctx, func(tx engine.Tx) error {
			scopes := []string{engine.AgentCountScope(agent.ID), engine.CardScope(limited.ID), engine.CardScope(plain.ID)}
			for _, scope := range scopes {
				for _, ago := range []time.Duration{time.Hour, 2 * time.Hour, 20 * 24 * time.Hour} {
					n, err := tx.CountVelocity(scope, clock.Now().Add(-ago))
					if err != nil {
						return err
					}
					out = append(out, n)
				}
			}
			return nil
		}))
		return out
	}
	before := used()
	require.Equal(t, []int64{4, 7, 9, 0, 2, 3, 0, 0, 0}, before, "agent, limited card, plain card (no scope)")

	migrations, err := loadMigrations()
	require.NoError(t, err)
	var velocity storekit.Migration
	for _, m := range migrations {
		if strings.HasSuffix(m.Name, "_velocity.sql") {
			velocity = m
		}
	}
	for _, q := range []string{"BEGIN IMMEDIATE", "DROP TABLE velocity_spends", "DROP TABLE velocity_removed",
		velocity.SQL, "COMMIT"} {
		_, err := db.conn.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	db.stmts = map[string]*sql.Stmt{} // prepared on the dropped tables
	assert.Equal(t, before, used())
	report, err := db.VerifyLedger(ctx)
	require.NoError(t, err)
	assert.Empty(t, report.Faults)
}

func mustAuthorization(t *testing.T, e *engine.Engine, id string) *engine.Authorization {
	t.Helper()
	a, err := e.GetAuthorization(context.Background(), engine.Operator, id)
	require.NoError(t, err)
	return a
}
