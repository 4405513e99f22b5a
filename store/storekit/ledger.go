package storekit

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// maxFaults bounds the report; past it, the check stops listing.
const maxFaults = 100

// LedgerRows is one consistent snapshot of a store's rows, as CheckLedger
// reads them. Each method calls fn once per row, in the order it states,
// and returns the first error of fn or of the reading.
type LedgerRows interface {
	// Accounts: every account with its stored sums, by id.
	Accounts(fn func(engine.Account) error) error
	// Transfers: every transfer, the pending ones first, then by id. A
	// transfer's PendingID is empty when it resolves none.
	Transfers(fn func(engine.Transfer) error) error
	// Authorizations: every authorization, with at least ID, Kind, Status,
	// Amount, SettledAmount, RefundedAmount, HoldID, AgentID, CardID,
	// Currency, Day and Month.
	Authorizations(fn func(*engine.Authorization) error) error
	// CountedDecisions: the decisions that count (Counted > 0), with at
	// least AgentID, Currency, Counted, Day and Month.
	CountedDecisions(fn func(*engine.Decision) error) error
	// Counters: every stored spend counter.
	Counters(fn func(engine.CounterKey, engine.Counter) error) error
	// VelocityFills: where each refilled velocity scope starts (unix µs).
	VelocityFills(fn func(scope string, since int64) error) error
	// VelocityCounted: each spend that must be in a velocity scope, at the
	// time it started counting (unix µs): the approved and settled charges
	// of agents whose policy has a velocity limit and of cards that have
	// one, and the counted decisions of those agents.
	VelocityCounted(fn func(scope string, at int64) error) error
	// VelocitySpends: every velocity_spends row, by scope and time.
	VelocitySpends(fn func(VelocitySpend) error) error
	// VelocityRemoved: every velocity_removed bucket, by scope, width and start.
	VelocityRemoved(fn func(VelocityBucket, int64) error) error
}

// VelocitySpend is one row of a velocity scope: N spends at At, Removed
// of them stopped since, and Cum the running sum of N up to it.
type VelocitySpend struct {
	Scope               string
	At, N, Removed, Cum int64
}

// VelocityBucket is one bucket of a scope's stopped spends.
type VelocityBucket struct {
	Scope        string
	Width, Start int64
}

// CheckLedger recomputes every account's balances from the transfers and
// checks the invariants of DESIGN §6 — every transfer balances between two
// existing accounts of its currency, every account's stored sums equal
// those of its transfers, no hold is resolved twice, no user or paper
// account is below zero, and all balances together sum to zero — and,
// beyond the ledger, that each authorization's hold agrees with its status
// and that the spend counters and velocity spends equal what the
// authorizations and decisions add up to. It returns an error only when
// rows cannot be read.
func CheckLedger(rows LedgerRows) (*engine.LedgerReport, error) {
	c := &checker{rows: rows, report: &engine.LedgerReport{Faults: []string{}}}
	for _, step := range []func() error{c.replayTransfers, c.checkAccounts, c.checkAuthorizations, c.checkCounters,
		c.checkVelocity} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	c.report.OK = len(c.report.Faults) == 0
	return c.report, nil
}

type checker struct {
	rows   LedgerRows
	report *engine.LedgerReport

	accounts  map[string]*engine.Account // recomputed from transfers
	currency  map[string]string          // stored currency of each account
	holds     map[string]holdState       // pending transfer id → what became of it
	refundsOf map[string]int64           // authorization id → refunded via posted transfers
}

type holdState struct {
	amount    int64
	resolved  string // "", post_pending or void_pending
	posted    int64
	reference string
}

func (c *checker) fault(format string, args ...any) {
	if len(c.report.Faults) < maxFaults {
		c.report.Faults = append(c.report.Faults, fmt.Sprintf(format, args...))
	}
}

// replayTransfers replays every transfer into fresh balances.
func (c *checker) replayTransfers() error {
	c.accounts, c.currency = map[string]*engine.Account{}, map[string]string{}
	c.holds, c.refundsOf = map[string]holdState{}, map[string]int64{}
	if err := c.rows.Accounts(func(a engine.Account) error {
		c.currency[a.ID] = a.Currency
		c.accounts[a.ID] = &engine.Account{ID: a.ID}
		return nil
	}); err != nil {
		return err
	}
	return c.rows.Transfers(func(t engine.Transfer) error {
		c.report.Checked++
		debit, credit := c.accounts[t.DebitAccountID], c.accounts[t.CreditAccountID]
		switch {
		case debit == nil || credit == nil:
			c.fault("transfer %s moves money between accounts that do not exist (%s → %s)", t.ID, t.DebitAccountID, t.CreditAccountID)
			return nil
		case t.DebitAccountID == t.CreditAccountID:
			c.fault("transfer %s debits and credits the same account %s", t.ID, t.DebitAccountID)
		case c.currency[t.DebitAccountID] != t.Currency || c.currency[t.CreditAccountID] != t.Currency:
			c.fault("transfer %s in %s does not balance: it touches accounts in %s and %s", t.ID, t.Currency,
				c.currency[t.DebitAccountID], c.currency[t.CreditAccountID])
		case t.Amount <= 0:
			c.fault("transfer %s has non-positive amount %d", t.ID, t.Amount)
		}
		switch t.Kind {
		case engine.TransferPosted:
			debit.DebitsPosted += t.Amount
			credit.CreditsPosted += t.Amount
			c.refundsOf[t.Reference] += refundAmount(t)
		case engine.TransferPending:
			debit.DebitsPending += t.Amount
			credit.CreditsPending += t.Amount
			c.holds[t.ID] = holdState{amount: t.Amount, reference: t.Reference}
		case engine.TransferPostPending, engine.TransferVoidPending:
			h, ok := c.holds[t.PendingID]
			switch {
			case !ok:
				c.fault("transfer %s resolves %s, which is not a pending transfer", t.ID, t.PendingID)
				return nil
			case h.resolved != "":
				c.fault("hold %s is resolved twice (%s and %s)", t.PendingID, h.resolved, t.Kind)
				return nil
			case t.Kind == engine.TransferPostPending && t.Amount > h.amount:
				c.fault("transfer %s posts %d of hold %s, which held only %d", t.ID, t.Amount, t.PendingID, h.amount)
			case t.Kind == engine.TransferVoidPending && t.Amount != h.amount:
				c.fault("transfer %s voids %d of hold %s, which held %d", t.ID, t.Amount, t.PendingID, h.amount)
			}
			debit.DebitsPending -= h.amount
			credit.CreditsPending -= h.amount
			if t.Kind == engine.TransferPostPending {
				debit.DebitsPosted += t.Amount
				credit.CreditsPosted += t.Amount
				h.posted = t.Amount
			}
			h.resolved = t.Kind
			c.holds[t.PendingID] = h
		default:
			c.fault("transfer %s has unknown kind %q", t.ID, t.Kind)
		}
		return nil
	})
}

// refundAmount is the amount of a posted transfer that returns money from a
// spend account (settlement or paper mint) to a user or paper account.
func refundAmount(t engine.Transfer) int64 {
	dk, _, _, _ := engine.ParseAccountID(t.DebitAccountID)
	ck, _, _, _ := engine.ParseAccountID(t.CreditAccountID)
	if dk == engine.AccountSystem && ck != engine.AccountSystem && strings.HasPrefix(t.Reference, engine.PrefixAuthorization) {
		return t.Amount
	}
	return 0
}

// checkAccounts compares stored balances with the replayed ones.
func (c *checker) checkAccounts() error {
	var sumPosted, sumPending int64
	err := c.rows.Accounts(func(stored engine.Account) error {
		c.report.Checked++
		want := c.accounts[stored.ID]
		if stored.DebitsPending != want.DebitsPending || stored.DebitsPosted != want.DebitsPosted ||
			stored.CreditsPending != want.CreditsPending || stored.CreditsPosted != want.CreditsPosted {
			c.fault("account %s stores debits %d/%d credits %d/%d (pending/posted) but its transfers sum to %d/%d and %d/%d",
				stored.ID, stored.DebitsPending, stored.DebitsPosted, stored.CreditsPending, stored.CreditsPosted,
				want.DebitsPending, want.DebitsPosted, want.CreditsPending, want.CreditsPosted)
		}
		if stored.Kind != engine.AccountSystem && stored.Available() < 0 {
			c.fault("account %s is below zero: available %d", stored.ID, stored.Available())
		}
		sumPosted += stored.CreditsPosted - stored.DebitsPosted
		sumPending += stored.CreditsPending - stored.DebitsPending
		return nil
	})
	if err != nil {
		return err
	}
	if sumPosted != 0 || sumPending != 0 {
		c.fault("the ledger does not balance: posted balances sum to %d and pending to %d, not zero", sumPosted, sumPending)
	}
	return nil
}

// checkAuthorizations checks each authorization's hold against its status.
func (c *checker) checkAuthorizations() error {
	return c.rows.Authorizations(func(a *engine.Authorization) error {
		c.report.Checked++
		id, status, holdID := a.ID, a.Status, a.HoldID
		h, hasHold := c.holds[holdID]
		switch {
		case a.Kind == engine.KindCredit:
			// A credit holds nothing; settled, it moved its settled amount
			// back to the card's funding account.
			if holdID != "" {
				c.fault("credit authorization %s has a hold %s", id, holdID)
			}
			if status == engine.AuthSettled && c.refundsOf[id] != a.SettledAmount {
				c.fault("credit authorization %s settled %d but %d was transferred back", id, a.SettledAmount, c.refundsOf[id])
			} else if status != engine.AuthSettled && c.refundsOf[id] != 0 {
				c.fault("%s credit authorization %s moved %d", status, id, c.refundsOf[id])
			}
			return nil
		case status == engine.AuthDeclined:
			if holdID != "" {
				c.fault("declined authorization %s has a hold %s", id, holdID)
			}
			return nil
		case !hasHold:
			c.fault("%s authorization %s has no hold", status, id)
			return nil
		case h.amount != a.Amount || h.reference != id:
			c.fault("authorization %s of %d has hold %s of %d for %s", id, a.Amount, holdID, h.amount, h.reference)
		}
		want := map[string]string{engine.AuthApproved: "", engine.AuthSettled: engine.TransferPostPending,
			engine.AuthReversed: engine.TransferVoidPending, engine.AuthExpired: engine.TransferVoidPending}[status]
		if h.resolved != want {
			c.fault("%s authorization %s has its hold %s in state %q", status, id, holdID, orOpen(h.resolved))
		}
		if status == engine.AuthSettled && h.posted != a.SettledAmount {
			c.fault("authorization %s settled %d but its hold posted %d", id, a.SettledAmount, h.posted)
		}
		if c.refundsOf[id] != a.RefundedAmount {
			c.fault("authorization %s records %d refunded but %d was transferred back", id, a.RefundedAmount, c.refundsOf[id])
		}
		return nil
	})
}

func orOpen(s string) string {
	if s == "" {
		return "open"
	}
	return s
}

// checkCounters recomputes every spend counter from the authorizations and
// decisions that count and compares it with the stored one.
func (c *checker) checkCounters() error {
	want := map[engine.CounterKey]engine.Counter{}
	// add counts one spend in its scopes and in the agent's count across
	// currencies, which holds no amount.
	add := func(agentID string, scopes []string, day, month string, amount int64) {
		for _, p := range []string{engine.DayPeriod(day), engine.MonthPeriod(month), engine.LifetimePeriod} {
			for _, s := range scopes {
				k := engine.CounterKey{Scope: s, Period: p}
				n := want[k]
				n.Amount += amount
				n.Count++
				want[k] = n
			}
			k := engine.CounterKey{Scope: engine.AgentCountScope(agentID), Period: p}
			n := want[k]
			n.Count++
			want[k] = n
		}
	}
	err := c.rows.Authorizations(func(a *engine.Authorization) error {
		if a.Kind != engine.KindCharge || (a.Status != engine.AuthApproved && a.Status != engine.AuthSettled) {
			return nil
		}
		amount := a.Amount
		if a.Status == engine.AuthSettled {
			amount = a.SettledAmount
		}
		add(a.AgentID, []string{engine.AgentScope(a.AgentID, a.Currency), engine.CardScope(a.CardID)}, a.Day, a.Month, amount)
		return nil
	})
	if err != nil {
		return err
	}
	err = c.rows.CountedDecisions(func(d *engine.Decision) error {
		add(d.AgentID, []string{engine.AgentScope(d.AgentID, d.Currency)}, d.Day, d.Month, d.Counted)
		return nil
	})
	if err != nil {
		return err
	}
	stored := map[engine.CounterKey]engine.Counter{}
	if err := c.rows.Counters(func(k engine.CounterKey, n engine.Counter) error {
		stored[k] = n
		return nil
	}); err != nil {
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
			c.fault("spend counter %s %s is %d in %d spends, but the spends add up to %d in %d",
				k.Scope, k.Period, stored[k].Amount, stored[k].Count, want[k].Amount, want[k].Count)
		}
	}
	return nil
}

// velocityKey is one microsecond of a velocity scope.
type velocityKey struct {
	scope string
	at    int64
}

// checkVelocity recomputes the spends of every velocity scope from the
// authorizations and decisions that count and compares them with the
// scope's rows (each row's live spends, and cum as a running sum) and
// buckets (the stopped spends of each).
func (c *checker) checkVelocity() error {
	filled := map[string]int64{} // a refilled scope holds its spends from then on
	if err := c.rows.VelocityFills(func(scope string, since int64) error {
		filled[scope] = since
		return nil
	}); err != nil {
		return err
	}
	want := map[velocityKey]int64{}
	if err := c.rows.VelocityCounted(func(scope string, at int64) error {
		if since, ok := filled[scope]; !ok || at >= since {
			want[velocityKey{scope, at}]++
		}
		return nil
	}); err != nil {
		return err
	}
	when := func(at int64) string { return time.UnixMicro(at).UTC().Format(time.RFC3339Nano) }
	stopped := map[VelocityBucket]int64{}
	var last velocityKey
	var lastCum int64
	err := c.rows.VelocitySpends(func(s VelocitySpend) error {
		k := velocityKey{s.Scope, s.At}
		if k.scope != last.scope {
			lastCum = 0
		}
		if s.Cum != lastCum+s.N {
			c.fault("velocity %s at %s: running count %d, but its spends up to then add up to %d",
				k.scope, when(k.at), s.Cum, lastCum+s.N)
		}
		if live := s.N - s.Removed; live != want[k] {
			c.fault("velocity %s at %s counts %d spends, but %d counted then", k.scope, when(k.at), live, want[k])
		}
		delete(want, k)
		for _, w := range VelocityWidths {
			stopped[VelocityBucket{k.scope, w, FloorTo(k.at, w)}] += s.Removed
		}
		last, lastCum = k, s.Cum
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
		c.fault("velocity %s has no spends at %s, but %d counted then", k.scope, when(k.at), want[k])
	}
	err = c.rows.VelocityRemoved(func(b VelocityBucket, n int64) error {
		if stopped[b] != n {
			c.fault("velocity %s: %d spends stopped in the %d µs from %s, but its spends say %d",
				b.Scope, n, b.Width, when(b.Start), stopped[b])
		}
		stopped[b] = 0
		return nil
	})
	if err != nil {
		return err
	}
	var unrecorded []VelocityBucket
	for b, n := range stopped {
		if n != 0 {
			unrecorded = append(unrecorded, b)
		}
	}
	sort.Slice(unrecorded, func(i, j int) bool {
		a, b := unrecorded[i], unrecorded[j]
		return a.Scope < b.Scope || a.Scope == b.Scope && (a.Width < b.Width || a.Width == b.Width && a.Start < b.Start)
	})
	for _, b := range unrecorded {
		c.fault("velocity %s: no stopped spends recorded in the %d µs from %s, but its spends say %d",
			b.Scope, b.Width, when(b.Start), stopped[b])
	}
	return nil
}
