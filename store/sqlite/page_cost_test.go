package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sqlite "modernc.org/sqlite"
)

// pagesRead is how many pages the writer connection has asked its page
// cache for (hits and misses): the work of a query, whatever the machine's
// speed, and whether or not the pages happen to be cached.
func (db *DB) pagesRead(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, db.conn.Raw(func(dc any) error {
		for _, op := range []sqlite.DBStatusOp{sqlite.DBStatusCacheHit, sqlite.DBStatusCacheMiss} {
			cur, _, err := dc.(sqlite.DBStatus).Status(op, false)
			if err != nil {
				return err
			}
			n += cur
		}
		return nil
	}))
	return n
}

// seedHistory gives one agent, on one card and one endpoint, n rows of a
// common status in every listed table (and n cards, and n agents of its
// user), none of the rare statuses the pages below ask for.
func seedHistory(t *testing.T, db *DB, n int) {
	t.Helper()
	const ts = 1_700_000_000_000_000
	rows := fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < %d) `, n)
	stmts := []string{
		`INSERT INTO users (id, name, kyc_status, created_at, updated_at) VALUES ('usr_01900000-0000-7000-8000-000000000000', 'u', 'approved', 0, 0)`,
		`INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at) VALUES ('agt_01900000-0000-7000-8000-000000000000', 'a', 'usr_01900000-0000-7000-8000-000000000000', 'live', '{}', 0, 0)`,
		rows + `INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at)
			SELECT 'agt_01800000-0000-7000-8000-' || printf('%012x', i), 'a' || i, 'usr_01900000-0000-7000-8000-000000000000', 'live', '{}', 0, 0 FROM n`,
		`INSERT INTO cards (id, agent_id, type, status, last4, exp_month, exp_year, currency, limits, pan_fingerprint, secret, created_at, updated_at)
			VALUES ('card_01900000-0000-7000-8000-000000000000', 'agt_01900000-0000-7000-8000-000000000000', 'multi_use', 'active', '4242', 1, 2030, 'USD', '{}', randomblob(32), x'00', 0, 0)`,
		rows + `INSERT INTO cards (id, agent_id, type, status, last4, exp_month, exp_year, currency, limits, pan_fingerprint, secret, created_at, updated_at)
			SELECT 'card_01800000-0000-7000-8000-' || printf('%012x', i), 'agt_01900000-0000-7000-8000-000000000000', 'multi_use', 'closed', '4242', 1, 2030, 'USD', '{}', randomblob(32), x'00', 0, 0 FROM n`,
		rows + `INSERT INTO authorizations (id, network_id, card_id, agent_id, user_id, status, reason, amount, currency, merchant_name, risk_score, risk_signals, risk_review, checks, paper, created_at, updated_at)
			SELECT 'txn_01800000-0000-7000-8000-' || printf('%012x', i), 'net' || i, 'card_01900000-0000-7000-8000-000000000000', 'agt_01900000-0000-7000-8000-000000000000',
				'usr_01900000-0000-7000-8000-000000000000', 'settled', '', 100, 'USD', 'm', 0, '[]', 0, '[]', 0, ` + fmt.Sprint(ts) + `, 0 FROM n`,
		rows + `INSERT INTO intents (id, agent_id, card_id, summary, amount, currency, status, ttl_seconds, expires_at, attestation, created_at)
			SELECT 'int_01800000-0000-7000-8000-' || printf('%012x', i), 'agt_01900000-0000-7000-8000-000000000000', 'card_01900000-0000-7000-8000-000000000000',
				's', 100, 'USD', 'matched', 60, ` + fmt.Sprint(ts) + `, '{}', 0 FROM n`,
		rows + `INSERT INTO decisions (id, agent_id, kind, action_type, amount, currency, status, reason, requires_human_approval, policy_checks, risk_score, dry_run, paper, approval_status, created_at, updated_at)
			SELECT 'dec_01800000-0000-7000-8000-' || printf('%012x', i), 'agt_01900000-0000-7000-8000-000000000000', 'policy_check', 'x', 100, 'USD',
				'requires_approval', '', 1, '[]', 0, 0, 0, 'executed', 0, 0 FROM n`,
		`INSERT INTO webhook_endpoints (id, url, events, secret, created_at) VALUES ('whk_01900000-0000-7000-8000-000000000000', 'https://example.com', '[]', x'00', 0)`,
		rows + `INSERT INTO events (id, type, created_at, data) SELECT 'evt_01800000-0000-7000-8000-' || printf('%012x', 2*i), 'authorization.created', 0, '{}' FROM n`,
		`INSERT INTO deliveries (endpoint_id, event_seq, status, next_attempt_at, created_at)
			SELECT 'whk_01900000-0000-7000-8000-000000000000', seq, 'delivered', 0, 0 FROM events`,
	}
	ctx := context.Background()
	sqlTx, err := db.conn.BeginTx(ctx, nil)
	require.NoError(t, err)
	for _, q := range stmts {
		_, err := sqlTx.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, sqlTx.Commit())
}

// Every page costs the same however long the history behind it: seeded
// with thousands of rows that do not match, a page of a rare status (or a
// page of everything) reads a few dozen pages of the database, not the
// agent's whole history. A table walk with a row filter, or a sort of every
// matching row, reads thousands.
func TestPagesStayFlatAsHistoryGrows(t *testing.T) {
	const n = 6000
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	seedHistory(t, db, n)
	ctx := context.Background()
	const (
		usr  = "usr_01900000-0000-7000-8000-000000000000"
		agt  = "agt_01900000-0000-7000-8000-000000000000"
		card = "card_01900000-0000-7000-8000-000000000000"
		whk  = "whk_01900000-0000-7000-8000-000000000000"
		// an event id between the seeded ones (their hex suffixes are even)
		gap = "evt_01800000-0000-7000-8000-000000000101"
	)
	every := func(statuses ...string) []string { return statuses }
	intentExpired := every(engine.IntentExpired, engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed)
	cases := []struct {
		name string
		list func(tx engine.Tx) (int, error)
	}{
		{"authorizations of an agent, reversed", func(tx engine.Tx) (int, error) {
			l, err := tx.ListAuthorizations(engine.AuthorizationFilter{AgentID: agt, Statuses: every(engine.AuthReversed), Limit: 11})
			return len(l), err
		}},
		{"authorizations of a card, reversed", func(tx engine.Tx) (int, error) {
			l, err := tx.ListAuthorizations(engine.AuthorizationFilter{CardID: card, Statuses: every(engine.AuthReversed), Limit: 11})
			return len(l), err
		}},
		{"authorizations of an agent and card, expired", func(tx engine.Tx) (int, error) {
			l, err := tx.ListAuthorizations(engine.AuthorizationFilter{AgentID: agt, CardID: card, Statuses: every(engine.AuthExpired), Limit: 11})
			return len(l), err
		}},
		{"authorizations of an agent", func(tx engine.Tx) (int, error) {
			l, err := tx.ListAuthorizations(engine.AuthorizationFilter{AgentID: agt, After: "txn_01800000-0000-7000-8000-000000000100", Limit: 11})
			return len(l), err
		}},
		{"authorizations of a card", func(tx engine.Tx) (int, error) {
			l, err := tx.ListAuthorizations(engine.AuthorizationFilter{CardID: card, Limit: 11})
			return len(l), err
		}},
		{"intents of an agent, denied", func(tx engine.Tx) (int, error) {
			l, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, Statuses: every(engine.IntentDenied), Limit: 11})
			return len(l), err
		}},
		{"intents of a card, cancelled", func(tx engine.Tx) (int, error) {
			l, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, CardID: card, Statuses: every(engine.IntentCancelled), Limit: 11})
			return len(l), err
		}},
		{"intents of an agent, expired", func(tx engine.Tx) (int, error) {
			l, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, Statuses: intentExpired, Limit: 11})
			return len(l), err
		}},
		{"intents of a card, expired", func(tx engine.Tx) (int, error) {
			l, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, CardID: card, Statuses: intentExpired, Limit: 11})
			return len(l), err
		}},
		{"intents of an agent", func(tx engine.Tx) (int, error) {
			l, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, After: "int_01800000-0000-7000-8000-000000000100", Limit: 11})
			return len(l), err
		}},
		{"approvals, denied", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDecisions(engine.DecisionFilter{ApprovalStatuses: every(engine.ApprovalDenied), Limit: 11})
			return len(l), err
		}},
		{"approvals of an agent, expired", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDecisions(engine.DecisionFilter{AgentID: agt, ApprovalStatuses: every(engine.ApprovalExpired, engine.ApprovalPending, engine.ApprovalApproved), Limit: 11})
			return len(l), err
		}},
		{"every approval of an agent", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDecisions(engine.DecisionFilter{AgentID: agt, ApprovalStatuses: every(engine.ApprovalPending, engine.ApprovalApproved,
				engine.ApprovalDenied, engine.ApprovalExpired, engine.ApprovalExecuted), Limit: 11})
			return len(l), err
		}},
		{"cards of an agent", func(tx engine.Tx) (int, error) {
			l, err := tx.ListCards(engine.CardFilter{AgentID: agt, After: "card_01800000-0000-7000-8000-000000000100", Limit: 11})
			return len(l), err
		}},
		{"agents of a user", func(tx engine.Tx) (int, error) {
			l, err := tx.ListAgents(engine.AgentFilter{UserID: usr, After: "agt_01800000-0000-7000-8000-000000000100", Limit: 11})
			return len(l), err
		}},
		{"deliveries, failed", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDeliveries(engine.DeliveryFilter{Status: engine.DeliveryFailed, Limit: 11})
			return len(l), err
		}},
		{"deliveries of an endpoint, failed", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDeliveries(engine.DeliveryFilter{EndpointID: whk, Status: engine.DeliveryFailed, Limit: 11})
			return len(l), err
		}},
		{"deliveries of an endpoint", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDeliveries(engine.DeliveryFilter{EndpointID: whk, After: gap + ":" + whk, Limit: 11})
			return len(l), err
		}},
		{"deliveries", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDeliveries(engine.DeliveryFilter{After: gap + ":" + whk, Limit: 11})
			return len(l), err
		}},
		{"deliveries of an event", func(tx engine.Tx) (int, error) {
			l, err := tx.ListDeliveries(engine.DeliveryFilter{EventID: "evt_01800000-0000-7000-8000-000000000100", Limit: 11})
			return len(l), err
		}},
		{"events after an id naming no event", func(tx engine.Tx) (int, error) {
			l, err := tx.ListEvents(engine.EventFilter{After: gap, Limit: 11})
			return len(l), err
		}},
	}
	// An empty transaction's own reads, taken off each page's.
	base := db.pagesRead(t)
	require.NoError(t, db.Update(ctx, func(engine.Tx) error { return nil }))
	overhead := db.pagesRead(t) - base
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got int
			before := db.pagesRead(t)
			require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
				var err error
				got, err = c.list(tx)
				return err
			}))
			pages := db.pagesRead(t) - before - overhead
			t.Logf("%d rows, %d pages read", got, pages)
			// 11 rows found through an index cost at most 5 pages each; a walk
			// of the history costs n/50 pages at the least.
			assert.Less(t, pages, 80, "a page of at most 11 rows read %d pages of the database over a history of %d", pages, n)
		})
	}
}
