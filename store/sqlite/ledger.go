package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/agentledger/agentledger/engine"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

const accountColumns = `id, kind, owner_id, currency, debits_pending, debits_posted, credits_pending, credits_posted`

func scanAccount(s scanner) (*engine.Account, error) {
	var a engine.Account
	err := s.Scan(&a.ID, &a.Kind, &a.OwnerID, &a.Currency, &a.DebitsPending, &a.DebitsPosted, &a.CreditsPending, &a.CreditsPosted)
	return &a, err
}

// FindAccount implements engine.Tx.
func (t *tx) FindAccount(id string) (*engine.Account, error) {
	return findOne(t, scanAccount, notFound("account", id), `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id)
}

const transferColumns = `id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, reference, created_at`

func scanTransfer(s scanner) (*engine.Transfer, error) {
	var tr engine.Transfer
	var pendingID sql.NullString
	var created int64
	if err := s.Scan(&tr.ID, &tr.Kind, &tr.DebitAccountID, &tr.CreditAccountID, &tr.Amount, &tr.Currency, &pendingID,
		&tr.Reference, &created); err != nil {
		return nil, err
	}
	tr.PendingID, tr.CreatedAt = pendingID.String, fromMicros(created)
	return &tr, nil
}

// ListTransfers implements engine.Tx: by reference on transfers_reference,
// by pending id on transfers_resolution (at most one row). Transfer ids
// begin with their creation time, so id order is oldest first.
func (t *tx) ListTransfers(f engine.TransferFilter) ([]*engine.Transfer, error) {
	if f.Reference == "" && f.PendingID == "" {
		return nil, fmt.Errorf("sqlite: ListTransfers needs a reference or a pending id")
	}
	var c conditions
	if f.Reference != "" {
		c.and("reference = ?", f.Reference)
	}
	if f.PendingID != "" {
		c.and("pending_id = ?", f.PendingID)
	}
	q, args := c.query(`SELECT `+transferColumns+` FROM transfers`, "id", f.Limit)
	return queryList(t, scanTransfer, q, args...)
}

// balanceDelta is what one transfer does to one account's four sums.
type balanceDelta struct {
	debitsPending, debitsPosted, creditsPending, creditsPosted int64
}

// InsertTransfer implements engine.Tx. Both accounts are created or updated
// by one upsert; the accounts table's CHECK constraint refuses a user or
// paper account going below zero available, which surfaces as
// INSUFFICIENT_FUNDS.
func (t *tx) InsertTransfer(tr *engine.Transfer) error {
	if tr.Amount <= 0 {
		return fmt.Errorf("sqlite: transfer %s: amount must be positive", tr.ID)
	}
	var debit, credit balanceDelta
	switch tr.Kind {
	case engine.TransferPosted:
		debit.debitsPosted, credit.creditsPosted = tr.Amount, tr.Amount
	case engine.TransferPending:
		debit.debitsPending, credit.creditsPending = tr.Amount, tr.Amount
	case engine.TransferPostPending, engine.TransferVoidPending:
		held, err := t.openHold(tr)
		if err != nil {
			return err
		}
		debit.debitsPending, credit.creditsPending = -held, -held
		if tr.Kind == engine.TransferPostPending {
			if tr.Amount > held {
				return &engine.Error{Code: engine.CodeInvalidState, Message: fmt.Sprintf("cannot post %d of a %d hold", tr.Amount, held)}
			}
			debit.debitsPosted, credit.creditsPosted = tr.Amount, tr.Amount
		} else if tr.Amount != held {
			return &engine.Error{Code: engine.CodeInvalidState, Message: fmt.Sprintf("a void must release the whole hold of %d, not %d", held, tr.Amount)}
		}
	default:
		return fmt.Errorf("sqlite: transfer %s: unknown kind %q", tr.ID, tr.Kind)
	}
	if err := t.applyBalances(tr, debit, credit); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, reference, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tr.ID, tr.Kind, tr.DebitAccountID, tr.CreditAccountID, tr.Amount, tr.Currency, nullString(tr.PendingID), tr.Reference, micros(tr.CreatedAt))
	if engine.ErrorCode(err) == engine.CodeConflict {
		return &engine.Error{Code: engine.CodeInvalidState, Message: "hold " + tr.PendingID + " is already resolved"}
	}
	return err
}

// openHold returns the amount of the pending transfer a post or void
// resolves, checking it is a pending transfer between the same accounts and
// not resolved yet.
func (t *tx) openHold(tr *engine.Transfer) (int64, error) {
	var kind, debitID, creditID string
	var amount int64
	var resolved bool
	err := t.queryRow(`SELECT kind, debit_account_id, credit_account_id, amount,
		EXISTS (SELECT 1 FROM transfers WHERE pending_id = ?1) FROM transfers WHERE id = ?1`, tr.PendingID).
		Scan(&kind, &debitID, &creditID, &amount, &resolved)
	switch {
	case isNoRows(err):
		return 0, notFound("pending transfer", tr.PendingID)
	case err != nil:
		return 0, err
	case kind != engine.TransferPending || debitID != tr.DebitAccountID || creditID != tr.CreditAccountID:
		return 0, fmt.Errorf("sqlite: transfer %s does not resolve pending transfer %s", tr.ID, tr.PendingID)
	case resolved:
		return 0, &engine.Error{Code: engine.CodeInvalidState, Message: "hold " + tr.PendingID + " is already resolved"}
	}
	return amount, nil
}

// applyBalances adds the deltas to both accounts, creating them on first
// use. The common case, both accounts existing, is one UPDATE.
func (t *tx) applyBalances(tr *engine.Transfer, debit, credit balanceDelta) error {
	sides := []struct {
		id string
		d  balanceDelta
	}{{tr.DebitAccountID, debit}, {tr.CreditAccountID, credit}}
	for _, side := range sides {
		if _, _, currency, ok := engine.ParseAccountID(side.id); !ok {
			return fmt.Errorf("sqlite: malformed account id %q", side.id)
		} else if currency != tr.Currency {
			return fmt.Errorf("sqlite: transfer %s in %s touches %s account %s", tr.ID, tr.Currency, currency, side.id)
		}
	}
	update := func(targets ...string) (int64, error) {
		for len(targets) < 2 {
			targets = append(targets, "")
		}
		res, err := t.exec(`UPDATE accounts SET
			debits_pending = debits_pending + CASE id WHEN ?1 THEN ?3 ELSE ?7 END,
			debits_posted = debits_posted + CASE id WHEN ?1 THEN ?4 ELSE ?8 END,
			credits_pending = credits_pending + CASE id WHEN ?1 THEN ?5 ELSE ?9 END,
			credits_posted = credits_posted + CASE id WHEN ?1 THEN ?6 ELSE ?10 END
			WHERE id IN (?11, ?12)`,
			sides[0].id, sides[1].id,
			debit.debitsPending, debit.debitsPosted, debit.creditsPending, debit.creditsPosted,
			credit.debitsPending, credit.debitsPosted, credit.creditsPending, credit.creditsPosted,
			targets[0], targets[1])
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK {
			return 0, &engine.Error{Code: engine.CodeInsufficientFunds, Message: "insufficient funds in " + tr.DebitAccountID}
		} else if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	n, err := update(sides[0].id, sides[1].id)
	if err != nil || n == 2 {
		return err
	}
	// First use of one or both accounts: create the missing ones at zero,
	// then apply the transfer to those only.
	var created []string
	for _, side := range sides {
		kind, owner, currency, _ := engine.ParseAccountID(side.id)
		res, err := t.exec(`INSERT INTO accounts (id, kind, owner_id, currency) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			side.id, kind, owner, currency)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			created = append(created, side.id)
		}
	}
	_, err = update(created...)
	return err
}
