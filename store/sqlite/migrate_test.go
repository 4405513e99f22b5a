package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Migration 3 upgrades a version-2 database in place: the agents' counts
// across currencies are backfilled from their per-currency counters, every
// authorization gets its network answer, and the time zone is UTC.
func TestMigrationThreeUpgradesInPlace(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	databaseAt(t, path, 2, []string{`
		INSERT INTO counters (scope, period, amount, count) VALUES
			('agent:agt_a:USD', 'day:2026-03-11', 500, 2), ('agent:agt_a:EUR', 'day:2026-03-11', 300, 1),
			('agent:agt_a:USD', 'lifetime', 900, 4), ('agent:agt_b:USD', 'day:2026-03-11', 0, 0),
			('card:card_a', 'day:2026-03-11', 500, 2);
		INSERT INTO authorizations (id, network_id, status, reason, amount, currency, merchant_name, risk_score, risk_signals,
			risk_review, checks, paper, created_at, updated_at) VALUES
			('txn_live', 'n1', 'settled', 'Approved', 100, 'USD', 'Shop', 0, '[]', 0, '[]', 0, 1, 1),
			('txn_paper', 'n2', 'approved', 'Approved', 100, 'USD', 'Shop', 0, '[]', 0, '[]', 1, 1, 1),
			('txn_declined', 'n3', 'declined', 'No', 100, 'USD', 'Shop', 0, '[]', 0, '[]', 0, 1, 1);`})

	db, err := Open(path, Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	counts := map[string]int64{}
	rows, err := db.reader.QueryContext(ctx, `SELECT scope || ' ' || period, count FROM counters WHERE scope NOT LIKE '%:___' AND scope NOT LIKE 'card:%'`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		var n int64
		require.NoError(t, rows.Scan(&k, &n))
		counts[k] = n
	}
	require.NoError(t, rows.Close())
	assert.Equal(t, map[string]int64{"agent:agt_a day:2026-03-11": 3, "agent:agt_a lifetime": 4}, counts)
	answers := map[string]string{}
	rows, err = db.reader.QueryContext(ctx, `SELECT id, network_answer, kind FROM authorizations`)
	require.NoError(t, err)
	for rows.Next() {
		var id, answer, kind string
		require.NoError(t, rows.Scan(&id, &answer, &kind))
		answers[id] = answer + " " + kind
	}
	require.NoError(t, rows.Close())
	assert.Equal(t, map[string]string{"txn_live": "approve charge", "txn_paper": "decline charge", "txn_declined": "decline charge"}, answers)
	var zone string
	require.NoError(t, db.reader.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = 'timezone'`).Scan(&zone))
	assert.Equal(t, "UTC", zone)
}

// Migration 10 keeps the velocity scopes of agents whose policy has a
// velocity limit, and of cards, and removes those of the other agents.
func TestMigrationTenKeepsTheScopesOfLimits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	databaseAt(t, path, 9, []string{`
		INSERT INTO users (id, name, kyc_status, created_at, updated_at) VALUES ('usr_u', 'u', 'approved', 1, 1);
		INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at) VALUES
			('agt_limited', 'limited', 'usr_u', 'live', '{"velocity":{"count":5,"window_seconds":60}}', 1, 1),
			('agt_free', 'free', 'usr_u', 'live', '{"velocity":null,"daily_limit":100}', 1, 1),
			('agt_bare', 'bare', 'usr_u', 'live', '{}', 1, 1);
		INSERT INTO velocity_spends (scope, at, n, removed, cum) VALUES
			('agent:agt_limited', 10, 2, 1, 2), ('agent:agt_free', 10, 1, 1, 1), ('agent:agt_free', 20, 1, 0, 2),
			('agent:agt_bare', 10, 1, 0, 1), ('card:card_a', 10, 1, 0, 1);
		INSERT INTO velocity_removed (scope, width, start, n) VALUES
			('agent:agt_limited', 1000000, 0, 1), ('agent:agt_free', 1000000, 0, 1);`})

	db, err := Open(path, Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	var spends, removed string
	require.NoError(t, db.reader.QueryRowContext(ctx, `SELECT group_concat(scope, ' ') FROM
		(SELECT scope FROM velocity_spends ORDER BY scope, at)`).Scan(&spends))
	assert.Equal(t, "agent:agt_limited card:card_a", spends)
	require.NoError(t, db.reader.QueryRowContext(ctx,
		`SELECT group_concat(scope, ' ') FROM velocity_removed`).Scan(&removed))
	assert.Equal(t, "agent:agt_limited", removed)
	var fills int
	require.NoError(t, db.reader.QueryRowContext(ctx, `SELECT count(*) FROM velocity_fills`).Scan(&fills))
	assert.Zero(t, fills)
}

// databaseAt makes the database at path as the migrations up to version
// leave it, runs each of seed with args on it, and closes it, for Open to
// upgrade the rest of the way.
func databaseAt(tb testing.TB, path string, version int, seed []string, args ...any) {
	tb.Helper()
	ctx := context.Background()
	raw, err := sql.Open("sqlite", dsn(path, DefaultBusyTimeout, false))
	require.NoError(tb, err)
	conn, err := raw.Conn(ctx)
	require.NoError(tb, err)
	migrations, err := loadMigrations()
	require.NoError(tb, err)
	for _, m := range migrations {
		if m.Version > version {
			break
		}
		require.NoError(tb, applyMigration(ctx, conn, m))
	}
	for _, q := range seed {
		_, err := conn.ExecContext(ctx, q, args...)
		require.NoError(tb, err, q)
	}
	require.NoError(tb, conn.Close())
	require.NoError(tb, raw.Close())
}
