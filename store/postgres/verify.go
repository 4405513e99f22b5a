package postgres

import (
	"context"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
	"github.com/jackc/pgx/v5"
)

// VerifyLedger implements engine.Store: storekit.CheckLedger over one
// REPEATABLE READ snapshot, the same checks and fault texts as SQLite's.
func (db *DB) VerifyLedger(ctx context.Context) (*engine.LedgerReport, error) {
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, mapError(err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	return storekit.CheckLedger(&ledgerRows{ctx: ctx, q: ptx})
}

// ledgerRows reads storekit.LedgerRows in one snapshot.
type ledgerRows struct {
	ctx context.Context
	q   pgx.Tx
}

// each runs query and scans every row with scan: a row's columns into its
// destinations, then handed on.
func (r *ledgerRows) each(query string, scan func(pgx.Rows) error) error {
	rows, err := r.q.Query(r.ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (r *ledgerRows) Accounts(fn func(engine.Account) error) error {
	return r.each(`SELECT `+shardedAccountColumns+` FROM accounts a `+shardSums+` ORDER BY a.id`,
		func(rows pgx.Rows) error {
			var a engine.Account
			if err := rows.Scan(&a.ID, &a.Kind, &a.OwnerID, &a.Currency, &a.DebitsPending, &a.DebitsPosted, &a.CreditsPending,
				&a.CreditsPosted); err != nil {
				return err
			}
			return fn(a)
		})
}

func (r *ledgerRows) Transfers(fn func(engine.Transfer) error) error {
	// Holds first, so that every resolution finds the hold it resolves.
	return r.each(`SELECT id, kind, debit_account_id, credit_account_id, amount, currency, coalesce(pending_id, ''), reference
		FROM transfers ORDER BY kind = 'pending' DESC, id`, func(rows pgx.Rows) error {
		var t engine.Transfer
		if err := rows.Scan(&t.ID, &t.Kind, &t.DebitAccountID, &t.CreditAccountID, &t.Amount, &t.Currency, &t.PendingID,
			&t.Reference); err != nil {
			return err
		}
		return fn(t)
	})
}

func (r *ledgerRows) Authorizations(fn func(*engine.Authorization) error) error {
	return r.each(`SELECT id, kind, status, amount, settled_amount, refunded_amount, hold_id, coalesce(agent_id, ''),
		coalesce(card_id, ''), currency, day, month FROM authorizations`, func(rows pgx.Rows) error {
		var a engine.Authorization
		if err := rows.Scan(&a.ID, &a.Kind, &a.Status, &a.Amount, &a.SettledAmount, &a.RefundedAmount, &a.HoldID, &a.AgentID,
			&a.CardID, &a.Currency, &a.Day, &a.Month); err != nil {
			return err
		}
		return fn(&a)
	})
}

func (r *ledgerRows) CountedDecisions(fn func(*engine.Decision) error) error {
	return r.each(`SELECT agent_id, currency, counted, day, month FROM decisions WHERE counted > 0`, func(rows pgx.Rows) error {
		var d engine.Decision
		if err := rows.Scan(&d.AgentID, &d.Currency, &d.Counted, &d.Day, &d.Month); err != nil {
			return err
		}
		return fn(&d)
	})
}

func (r *ledgerRows) Counters(fn func(engine.CounterKey, engine.Counter) error) error {
	return r.each(`SELECT scope, period, amount, count FROM counters`, func(rows pgx.Rows) error {
		var k engine.CounterKey
		var c engine.Counter
		if err := rows.Scan(&k.Scope, &k.Period, &c.Amount, &c.Count); err != nil {
			return err
		}
		return fn(k, c)
	})
}

func (r *ledgerRows) VelocityFills(fn func(scope string, since int64) error) error {
	return r.each(`SELECT scope, since FROM velocity_fills`, func(rows pgx.Rows) error {
		var scope string
		var since int64
		if err := rows.Scan(&scope, &since); err != nil {
			return err
		}
		return fn(scope, since)
	})
}

// VelocityCounted reads policy and limits (JSON text) with ->>, which is
// NULL for a missing or null velocity, as SQLite's ->> '$.velocity' is.
func (r *ledgerRows) VelocityCounted(fn func(scope string, at int64) error) error {
	return r.each(`WITH limited AS (SELECT id FROM agents WHERE policy::jsonb ->> 'velocity' IS NOT NULL)
		SELECT 'agent:' || agent_id, created_at FROM authorizations
			WHERE status IN ('approved', 'settled') AND kind = 'charge' AND agent_id IN (SELECT id FROM limited)
		UNION ALL SELECT 'card:' || card_id, created_at FROM authorizations
			WHERE status IN ('approved', 'settled') AND kind = 'charge'
				AND card_id IN (SELECT id FROM cards WHERE limits::jsonb ->> 'velocity' IS NOT NULL)
		UNION ALL SELECT 'agent:' || agent_id, counted_at FROM decisions
			WHERE counted > 0 AND agent_id IN (SELECT id FROM limited)`, func(rows pgx.Rows) error {
		var scope string
		var at int64
		if err := rows.Scan(&scope, &at); err != nil {
			return err
		}
		return fn(scope, at)
	})
}

func (r *ledgerRows) VelocitySpends(fn func(storekit.VelocitySpend) error) error {
	return r.each(`SELECT scope, at, n, removed, cum FROM velocity_spends ORDER BY scope, at`, func(rows pgx.Rows) error {
		var s storekit.VelocitySpend
		if err := rows.Scan(&s.Scope, &s.At, &s.N, &s.Removed, &s.Cum); err != nil {
			return err
		}
		return fn(s)
	})
}

func (r *ledgerRows) VelocityRemoved(fn func(storekit.VelocityBucket, int64) error) error {
	return r.each(`SELECT scope, width, start, n FROM velocity_removed ORDER BY scope, width, start`, func(rows pgx.Rows) error {
		var b storekit.VelocityBucket
		var n int64
		if err := rows.Scan(&b.Scope, &b.Width, &b.Start, &n); err != nil {
			return err
		}
		return fn(b, n)
	})
}
