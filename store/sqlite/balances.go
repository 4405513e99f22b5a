package sqlite

import (
	"fmt"

	"github.com/agentledger/agentledger/engine"
)

// An account's balances are written once per commit, however many of the
// batch's transfers touch it: the card settlement account is in every
// authorization, and a user's account in each of its charges. Transfers
// are still inserted at once; what they do to the balances is summed in
// memory (batchBalances) and written by one UPDATE just before COMMIT.
// Reads in the batch see the sums, and the funds rule the accounts table's
// CHECK enforces — a user or paper account never below zero available —
// is checked on every transfer, against the row as read plus the batch's
// sums, so that a transfer breaking it still fails alone with
// INSUFFICIENT_FUNDS and writes nothing. The CHECK stays, on the sums.
//
// A transfer's row references its accounts, so an account must exist
// before its first transfer is inserted; accounts are never deleted, so
// the writer remembers (across batches, whatever other processes do) which
// it has seen, and creates the others (zero, ON CONFLICT DO NOTHING) first.

// batchBalances is what the batch's transfers did to each account.
type batchBalances struct {
	accounts map[string]*heldAccount
	journal  []heldUndo // how to undo a failed request's changes
}

// heldAccount is one account in the batch.
type heldAccount struct {
	row    engine.Account // the row as read (when read), without the batch's sums
	read   bool
	exists bool // the row is known to exist
	delta  balanceDelta
}

type heldUndo struct {
	id   string
	prev *heldAccount // nil: the account was not in the batch
}

// maxKnownAccounts bounds the writer's memory of existing accounts.
const maxKnownAccounts = 100_000

// held returns the batch's entry for an account, journaling it first so
// that the caller may change it.
func (t *tx) held(id string) *heldAccount {
	if t.balances == nil {
		t.balances = &batchBalances{accounts: map[string]*heldAccount{}}
	}
	b := t.balances
	h := b.accounts[id]
	if h == nil {
		b.journal = append(b.journal, heldUndo{id: id})
		known := false
		if t.write { // the writer's memory, which readers must not touch
			_, known = t.db.knownAccounts[id]
		}
		h = &heldAccount{exists: known}
		b.accounts[id] = h
		return h
	}
	prev := *h
	b.journal = append(b.journal, heldUndo{id: id, prev: &prev})
	return h
}

// balancesMark and undoBalances roll a failed request's changes back, as
// its savepoint does its rows.
func (t *tx) balancesMark() int {
	if t.balances == nil {
		return 0
	}
	return len(t.balances.journal)
}

func (t *tx) undoBalances(mark int) {
	b := t.balances
	if b == nil {
		return
	}
	for i := len(b.journal) - 1; i >= mark; i-- {
		u := b.journal[i]
		if u.prev == nil {
			delete(b.accounts, u.id)
		} else {
			*b.accounts[u.id] = *u.prev
		}
	}
	b.journal = b.journal[:mark]
}

// readAccount reads an account into the batch (once) and returns it with
// the batch's sums; notFound when it does not exist.
func (t *tx) readAccount(id string) (*engine.Account, error) {
	if h := t.balances.lookup(id); h != nil && h.read {
		return h.current(), nil
	}
	row, err := t.committedAccount(id)
	if err != nil {
		return nil, err
	}
	h := t.held(id)
	h.row, h.read, h.exists = *row, true, true
	return h.current(), nil
}

// committedAccount is the account as committed: kept by the writer, or
// read.
func (t *tx) committedAccount(id string) (*engine.Account, error) {
	if h := t.hot(); h != nil {
		if a, ok := h.accounts[id]; ok {
			return &a, nil
		}
	}
	return findOne(t, scanAccount, notFound("account", id), `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id)
}

func (b *batchBalances) lookup(id string) *heldAccount {
	if b == nil {
		return nil
	}
	return b.accounts[id]
}

// current is the account with the batch's sums.
func (h *heldAccount) current() *engine.Account {
	a := h.row
	a.DebitsPending += h.delta.debitsPending
	a.DebitsPosted += h.delta.debitsPosted
	a.CreditsPending += h.delta.creditsPending
	a.CreditsPosted += h.delta.creditsPosted
	return &a
}

func (d balanceDelta) add(o balanceDelta) balanceDelta {
	return balanceDelta{d.debitsPending + o.debitsPending, d.debitsPosted + o.debitsPosted,
		d.creditsPending + o.creditsPending, d.creditsPosted + o.creditsPosted}
}

func (d balanceDelta) available() int64 { return d.creditsPosted - d.debitsPosted - d.debitsPending }

// applyBalances adds a transfer's deltas to both accounts in the batch,
// creating accounts on first use and refusing a debit the funds rule
// forbids (nothing is changed then).
func (t *tx) applyBalances(tr *engine.Transfer, debit, credit balanceDelta) error {
	sides := []struct {
		id string
		d  balanceDelta
	}{{tr.DebitAccountID, debit}, {tr.CreditAccountID, credit}}
	for _, side := range sides {
		kind, _, currency, ok := engine.ParseAccountID(side.id)
		if !ok {
			return fmt.Errorf("sqlite: malformed account id %q", side.id)
		} else if currency != tr.Currency {
			return fmt.Errorf("sqlite: transfer %s in %s touches %s account %s", tr.ID, tr.Currency, currency, side.id)
		}
		if kind == engine.AccountSystem || side.d.available() >= 0 {
			continue
		}
		a, err := t.readAccount(side.id)
		if isNotFoundErr(err) {
			a, err = &engine.Account{}, nil // a new account has nothing to spend
			if h := t.balances.lookup(side.id); h != nil {
				a = h.current()
			}
		}
		if err != nil {
			return err
		}
		if a.Available()+side.d.available() < 0 {
			return &engine.Error{Code: engine.CodeInsufficientFunds, Message: "insufficient funds in " + side.id}
		}
	}
	for _, side := range sides {
		h := t.held(side.id)
		if !h.exists {
			kind, owner, currency, _ := engine.ParseAccountID(side.id)
			if _, err := t.exec(`INSERT INTO accounts (id, kind, owner_id, currency) VALUES (?, ?, ?, ?)
				ON CONFLICT (id) DO NOTHING`, side.id, kind, owner, currency); err != nil {
				return err
			}
			h.exists = true
		}
		h.delta = h.delta.add(side.d)
	}
	return nil
}

func isNotFoundErr(err error) bool { return engine.ErrorCode(err) == engine.CodeNotFound }

// writeBalances writes the batch's sums, one UPDATE for every account
// touched (all of which exist), and remembers the accounts.
func (t *tx) writeBalances() error {
	b := t.balances
	if b == nil {
		return nil
	}
	var ids []string
	for id, h := range b.accounts {
		if h.delta != (balanceDelta{}) {
			ids = append(ids, id)
		}
	}
	return t.updateEvery("accounts", `debits_pending = debits_pending + d.column2,
		debits_posted = debits_posted + d.column3, credits_pending = credits_pending + d.column4,
		credits_posted = credits_posted + d.column5`, 5, ids, func(args []any, id string) []any {
		d := b.accounts[id].delta
		return append(args, id, d.debitsPending, d.debitsPosted, d.creditsPending, d.creditsPosted)
	})
}

// rememberAccounts notes, after COMMIT, the accounts the batch saw exist,
// and keeps the balances of those it read (or kept) as now committed.
func (db *DB) rememberAccounts(b *batchBalances) {
	if b == nil {
		return
	}
	hot := &db.cache.hot
	if hot.accounts == nil {
		hot.accounts = map[string]engine.Account{}
	}
	for id, h := range b.accounts {
		if h.read {
			hot.accounts[id] = *h.current()
		} else if a, ok := hot.accounts[id]; ok {
			hot.accounts[id] = *(&heldAccount{row: a, delta: h.delta}).current()
		}
	}
	if len(db.knownAccounts)+len(b.accounts) > maxKnownAccounts {
		db.knownAccounts = nil
	}
	if db.knownAccounts == nil {
		db.knownAccounts = map[string]struct{}{}
	}
	for id, h := range b.accounts {
		if h.exists {
			db.knownAccounts[id] = struct{}{}
		}
	}
}
