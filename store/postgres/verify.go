package postgres

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/jackc/pgx/v5"
)

// verifyMaxFaults bounds the report; past it, verification stops listing.
const verifyMaxFaults = 100

// VerifyLedger implements engine.Store, with the SQLite store's checks and
// fault texts. In one REPEATABLE READ snapshot it recomputes every account's
// balances from the transfers and checks the invariants of DESIGN §6 —
// every transfer balances between two existing accounts of its currency,
// every account's stored sums equal those of its transfers, no hold is
// resolved twice, no user or paper account is below zero, and all balances
// together sum to zero — and, beyond the ledger, that each authorization's
// hold agrees with its status and that the spend counters and velocity
// spends equal what the authorizations and decisions add up to.
func (db *DB) VerifyLedger(ctx context.Context) (*engine.LedgerReport, error) {
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, mapError(err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	v := &ledgerVerifier{ctx: ctx, q: ptx, report: &engine.LedgerReport{Faults: []string{}}}
	steps := []func() error{v.replayTransfers, v.checkAccounts, v.checkAuthorizations, v.checkCounters, v.checkVelocity}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	v.report.OK = len(v.report.Faults) == 0
	return v.report, nil
}

type ledgerVerifier struct {
	ctx    context.Context
	q      pgx.Tx
	report *engine.LedgerReport

	accounts  map[string]*engine.Account // recomputed from transfers
	currency  map[string]string          // stored currency of each account
	holds     map[string]verifyHold      // pending transfer id → what became of it
	refundsOf map[string]int64           // authorization id → refunded via posted transfers
}

type verifyHold struct {
	amount    int64
	resolved  string // "", post_pending or void_pending
	posted    int64
	reference string
}

func (v *ledgerVerifier) fault(format string, args ...any) {
	if len(v.report.Faults) < verifyMaxFaults {
		v.report.Faults = append(v.report.Faults, fmt.Sprintf(format, args...))
	}
}

func (v *ledgerVerifier) rows(query string, scan func(pgx.Rows) error) error {
	rows, err := v.q.Query(v.ctx, query)
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

// replayTransfers replays every transfer into fresh balances.
func (v *ledgerVerifier) replayTransfers() error {
	v.accounts, v.currency = map[string]*engine.Account{}, map[string]string{}
	v.holds, v.refundsOf = map[string]verifyHold{}, map[string]int64{}
	if err := v.rows(`SELECT id, currency FROM accounts`, func(r pgx.Rows) error {
		var id, cur string
		if err := r.Scan(&id, &cur); err != nil {
			return err
		}
		v.currency[id] = cur
		v.accounts[id] = &engine.Account{ID: id}
		return nil
	}); err != nil {
		return err
	}
	// Holds first, so that every resolution finds the hold it resolves.
	return v.rows(`SELECT id, kind, debit_account_id, credit_account_id, amount, currency, coalesce(pending_id, ''), reference
		FROM transfers ORDER BY kind = 'pending' DESC, id`, func(r pgx.Rows) error {
		var t engine.Transfer
		if err := r.Scan(&t.ID, &t.Kind, &t.DebitAccountID, &t.CreditAccountID, &t.Amount, &t.Currency, &t.PendingID,
			&t.Reference); err != nil {
			return err
		}
		v.report.Checked++
		debit, credit := v.accounts[t.DebitAccountID], v.accounts[t.CreditAccountID]
		switch {
		case debit == nil || credit == nil:
			v.fault("transfer %s moves money between accounts that do not exist (%s → %s)", t.ID, t.DebitAccountID,
				t.CreditAccountID)
			return nil
		case t.DebitAccountID == t.CreditAccountID:
			v.fault("transfer %s debits and credits the same account %s", t.ID, t.DebitAccountID)
		case v.currency[t.DebitAccountID] != t.Currency || v.currency[t.CreditAccountID] != t.Currency:
			v.fault("transfer %s in %s does not balance: it touches accounts in %s and %s", t.ID, t.Currency,
				v.currency[t.DebitAccountID], v.currency[t.CreditAccountID])
		case t.Amount <= 0:
			v.fault("transfer %s has non-positive amount %d", t.ID, t.Amount)
		}
		switch t.Kind {
		case engine.TransferPosted:
			debit.DebitsPosted += t.Amount
			credit.CreditsPosted += t.Amount
			v.refundsOf[t.Reference] += v.refundAmount(t)
		case engine.TransferPending:
			debit.DebitsPending += t.Amount
			credit.CreditsPending += t.Amount
			v.holds[t.ID] = verifyHold{amount: t.Amount, reference: t.Reference}
		case engine.TransferPostPending, engine.TransferVoidPending:
			h, ok := v.holds[t.PendingID]
			switch {
			case !ok:
				v.fault("transfer %s resolves %s, which is not a pending transfer", t.ID, t.PendingID)
				return nil
			case h.resolved != "":
				v.fault("hold %s is resolved twice (%s and %s)", t.PendingID, h.resolved, t.Kind)
				return nil
			case t.Kind == engine.TransferPostPending && t.Amount > h.amount:
				v.fault("transfer %s posts %d of hold %s, which held only %d", t.ID, t.Amount, t.PendingID, h.amount)
			case t.Kind == engine.TransferVoidPending && t.Amount != h.amount:
				v.fault("transfer %s voids %d of hold %s, which held %d", t.ID, t.Amount, t.PendingID, h.amount)
			}
			debit.DebitsPending -= h.amount
			credit.CreditsPending -= h.amount
			if t.Kind == engine.TransferPostPending {
				debit.DebitsPosted += t.Amount
				credit.CreditsPosted += t.Amount
				h.posted = t.Amount
			}
			h.resolved = t.Kind
			v.holds[t.PendingID] = h
		default:
			v.fault("transfer %s has unknown kind %q", t.ID, t.Kind)
		}
		return nil
	})
}

// refundAmount is the amount of a posted transfer that returns money from a
// spend account (settlement or paper mint) to a user or paper account.
func (v *ledgerVerifier) refundAmount(t engine.Transfer) int64 {
	dk, _, _, _ := engine.ParseAccountID(t.DebitAccountID)
	ck, _, _, _ := engine.ParseAccountID(t.CreditAccountID)
	if dk == engine.AccountSystem && ck != engine.AccountSystem && strings.HasPrefix(t.Reference, engine.PrefixAuthorization) {
		return t.Amount
	}
	return 0
}

// checkAccounts compares stored balances with the replayed ones.
func (v *ledgerVerifier) checkAccounts() error {
	var sumPosted, sumPending int64
	err := v.rows(`SELECT id, kind, owner_id, currency, debits_pending, debits_posted, credits_pending, credits_posted
		FROM accounts ORDER BY id`, func(r pgx.Rows) error {
		var stored engine.Account
		if err := r.Scan(&stored.ID, &stored.Kind, &stored.OwnerID, &stored.Currency, &stored.DebitsPending,
			&stored.DebitsPosted, &stored.CreditsPending, &stored.CreditsPosted); err != nil {
			return err
		}
		v.report.Checked++
		want := v.accounts[stored.ID]
		if stored.DebitsPending != want.DebitsPending || stored.DebitsPosted != want.DebitsPosted ||
			stored.CreditsPending != want.CreditsPending || stored.CreditsPosted != want.CreditsPosted {
			v.fault("account %s stores debits %d/%d credits %d/%d (pending/posted) but its transfers sum to %d/%d and %d/%d",
				stored.ID, stored.DebitsPending, stored.DebitsPosted, stored.CreditsPending, stored.CreditsPosted,
				want.DebitsPending, want.DebitsPosted, want.CreditsPending, want.CreditsPosted)
		}
		if stored.Kind != engine.AccountSystem && stored.Available() < 0 {
			v.fault("account %s is below zero: available %d", stored.ID, stored.Available())
		}
		sumPosted += stored.CreditsPosted - stored.DebitsPosted
		sumPending += stored.CreditsPending - stored.DebitsPending
		return nil
	})
	if err != nil {
		return err
	}
	if sumPosted != 0 || sumPending != 0 {
		v.fault("the ledger does not balance: posted balances sum to %d and pending to %d, not zero", sumPosted, sumPending)
	}
	return nil
}

// checkAuthorizations checks each authorization's hold against its status.
func (v *ledgerVerifier) checkAuthorizations() error {
	return v.rows(`SELECT id, kind, status, amount, settled_amount, refunded_amount, hold_id FROM authorizations`,
		func(r pgx.Rows) error {
			var id, kind, status, holdID string
			var amount, settled, refunded int64
			if err := r.Scan(&id, &kind, &status, &amount, &settled, &refunded, &holdID); err != nil {
				return err
			}
			v.report.Checked++
			h, hasHold := v.holds[holdID]
			switch {
			case kind == engine.KindCredit:
				// A credit holds nothing; settled, it moved its settled amount
				// back to the card's funding account.
				if holdID != "" {
					v.fault("credit authorization %s has a hold %s", id, holdID)
				}
				if status == engine.AuthSettled && v.refundsOf[id] != settled {
					v.fault("credit authorization %s settled %d but %d was transferred back", id, settled, v.refundsOf[id])
				} else if status != engine.AuthSettled && v.refundsOf[id] != 0 {
					v.fault("%s credit authorization %s moved %d", status, id, v.refundsOf[id])
				}
				return nil
			case status == engine.AuthDeclined:
				if holdID != "" {
					v.fault("declined authorization %s has a hold %s", id, holdID)
				}
				return nil
			case !hasHold:
				v.fault("%s authorization %s has no hold", status, id)
				return nil
			case h.amount != amount || h.reference != id:
				v.fault("authorization %s of %d has hold %s of %d for %s", id, amount, holdID, h.amount, h.reference)
			}
			want := map[string]string{engine.AuthApproved: "", engine.AuthSettled: engine.TransferPostPending,
				engine.AuthReversed: engine.TransferVoidPending, engine.AuthExpired: engine.TransferVoidPending}[status]
			if h.resolved != want {
				resolved := h.resolved
				if resolved == "" {
					resolved = "open"
				}
				v.fault("%s authorization %s has its hold %s in state %q", status, id, holdID, resolved)
			}
			if status == engine.AuthSettled && h.posted != settled {
				v.fault("authorization %s settled %d but its hold posted %d", id, settled, h.posted)
			}
			if v.refundsOf[id] != refunded {
				v.fault("authorization %s records %d refunded but %d was transferred back", id, refunded, v.refundsOf[id])
			}
			return nil
		})
}

// checkCounters recomputes every spend counter from the authorizations and
// decisions that count and compares it with the stored one.
func (v *ledgerVerifier) checkCounters() error {
	want := map[engine.CounterKey]engine.Counter{}
	// add counts one spend in its scopes and in the agent's count across
	// currencies, which holds no amount.
	add := func(agentID string, scopes []string, day, month string, amount int64) {
		for _, p := range []string{engine.DayPeriod(day), engine.MonthPeriod(month), engine.LifetimePeriod} {
			for _, s := range scopes {
				c := want[engine.CounterKey{Scope: s, Period: p}]
				c.Amount += amount
				c.Count++
				want[engine.CounterKey{Scope: s, Period: p}] = c
			}
			k := engine.CounterKey{Scope: engine.AgentCountScope(agentID), Period: p}
			c := want[k]
			c.Count++
			want[k] = c
		}
	}
	err := v.rows(`SELECT coalesce(agent_id, ''), coalesce(card_id, ''), currency, status, amount, settled_amount, day, month
		FROM authorizations WHERE status IN ('approved', 'settled') AND kind = 'charge'`, func(r pgx.Rows) error {
		var agentID, cardID, currency, status, day, month string
		var amount, settled int64
		if err := r.Scan(&agentID, &cardID, &currency, &status, &amount, &settled, &day, &month); err != nil {
			return err
		}
		if status == engine.AuthSettled {
			amount = settled
		}
		add(agentID, []string{engine.AgentScope(agentID, currency), engine.CardScope(cardID)}, day, month, amount)
		return nil
	})
	if err != nil {
		return err
	}
	err = v.rows(`SELECT agent_id, currency, counted, day, month FROM decisions WHERE counted > 0`, func(r pgx.Rows) error {
		var agentID, currency, day, month string
		var counted int64
		if err := r.Scan(&agentID, &currency, &counted, &day, &month); err != nil {
			return err
		}
		add(agentID, []string{engine.AgentScope(agentID, currency)}, day, month, counted)
		return nil
	})
	if err != nil {
		return err
	}
	stored := map[engine.CounterKey]engine.Counter{}
	err = v.rows(`SELECT scope, period, amount, count FROM counters`, func(r pgx.Rows) error {
		var k engine.CounterKey
		var c engine.Counter
		if err := r.Scan(&k.Scope, &k.Period, &c.Amount, &c.Count); err != nil {
			return err
		}
		stored[k] = c
		return nil
	})
	if err != nil {
		return err
	}
	keys := make([]engine.CounterKey, 0, len(want)+len(stored))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range stored {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].Scope+" "+keys[i].Period < keys[j].Scope+" "+keys[j].Period
	})
	for _, k := range keys {
		if want[k] != stored[k] {
			v.fault("spend counter %s %s is %d in %d spends, but the spends add up to %d in %d",
				k.Scope, k.Period, stored[k].Amount, stored[k].Count, want[k].Amount, want[k].Count)
		}
	}
	return nil
}

// velocityKey is one microsecond of a velocity scope; velocityBucket one
// bucket of its stopped spends.
type velocityKey struct {
	scope string
	at    int64
}

type velocityBucket struct {
	scope        string
	width, start int64
}

// checkVelocity recomputes the spends of every velocity scope from the
// authorizations and decisions that count and compares them with
// velocity_spends (each row's live spends, and cum as a running sum) and
// velocity_removed (the stopped spends of each bucket).
func (v *ledgerVerifier) checkVelocity() error {
	filled := map[string]int64{} // a refilled scope holds its spends from then on
	err := v.rows(`SELECT scope, since FROM velocity_fills`, func(r pgx.Rows) error {
		var scope string
		var since int64
		err := r.Scan(&scope, &since)
		filled[scope] = since
		return err
	})
	if err != nil {
		return err
	}
	want := map[velocityKey]int64{}
	// The JSON columns are text; ->> is NULL for a missing key and for null,
	// as SQLite's is.
	err = v.rows(`WITH limited AS (SELECT id FROM agents WHERE policy::jsonb ->> 'velocity' IS NOT NULL)
		SELECT 'agent:' || agent_id, created_at FROM authorizations
			WHERE status IN ('approved', 'settled') AND kind = 'charge' AND agent_id IN (SELECT id FROM limited)
		UNION ALL SELECT 'card:' || card_id, created_at FROM authorizations
			WHERE status IN ('approved', 'settled') AND kind = 'charge'
				AND card_id IN (SELECT id FROM cards WHERE limits::jsonb ->> 'velocity' IS NOT NULL)
		UNION ALL SELECT 'agent:' || agent_id, counted_at FROM decisions
			WHERE counted > 0 AND agent_id IN (SELECT id FROM limited)`,
		func(r pgx.Rows) error {
			var k velocityKey
			if err := r.Scan(&k.scope, &k.at); err != nil {
				return err
			}
			if since, ok := filled[k.scope]; !ok || k.at >= since {
				want[k]++
			}
			return nil
		})
	if err != nil {
		return err
	}
	when := func(at int64) string { return fromMicros(at).Format(time.RFC3339Nano) }
	stopped := map[velocityBucket]int64{}
	var last velocityKey
	var lastCum int64
	err = v.rows(`SELECT scope, at, n, removed, cum FROM velocity_spends ORDER BY scope, at`, func(r pgx.Rows) error {
		var k velocityKey
		var n, gone, cum int64
		if err := r.Scan(&k.scope, &k.at, &n, &gone, &cum); err != nil {
			return err
		}
		if k.scope != last.scope {
			lastCum = 0
		}
		if cum != lastCum+n {
			v.fault("velocity %s at %s: running count %d, but its spends up to then add up to %d",
				k.scope, when(k.at), cum, lastCum+n)
		}
		if live := n - gone; live != want[k] {
			v.fault("velocity %s at %s counts %d spends, but %d counted then", k.scope, when(k.at), live, want[k])
		}
		delete(want, k)
		for _, w := range velocityWidths {
			stopped[velocityBucket{k.scope, w, velocityFloor(k.at, w)}] += gone
		}
		last, lastCum = k, cum
		return nil
	})
	if err != nil {
		return err
	}
	missing := make([]velocityKey, 0, len(want))
	for k := range want {
		missing = append(missing, k)
	}
	sort.Slice(missing, func(i, j int) bool {
		return missing[i].scope < missing[j].scope || missing[i].scope == missing[j].scope && missing[i].at < missing[j].at
	})
	for _, k := range missing {
		v.fault("velocity %s has no spends at %s, but %d counted then", k.scope, when(k.at), want[k])
	}
	err = v.rows(`SELECT scope, width, start, n FROM velocity_removed ORDER BY scope, width, start`, func(r pgx.Rows) error {
		var b velocityBucket
		var n int64
		if err := r.Scan(&b.scope, &b.width, &b.start, &n); err != nil {
			return err
		}
		if stopped[b] != n {
			v.fault("velocity %s: %d spends stopped in the %d µs from %s, but its spends say %d",
				b.scope, n, b.width, when(b.start), stopped[b])
		}
		stopped[b] = 0
		return nil
	})
	if err != nil {
		return err
	}
	var unrecorded []velocityBucket
	for b, n := range stopped {
		if n != 0 {
			unrecorded = append(unrecorded, b)
		}
	}
	sort.Slice(unrecorded, func(i, j int) bool {
		a, b := unrecorded[i], unrecorded[j]
		return a.scope < b.scope || a.scope == b.scope && (a.width < b.width || a.width == b.width && a.start < b.start)
	})
	for _, b := range unrecorded {
		v.fault("velocity %s: no stopped spends recorded in the %d µs from %s, but its spends say %d",
			b.scope, b.width, when(b.start), stopped[b])
	}
	return nil
}
