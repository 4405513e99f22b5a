package sqlite

import (
	"database/sql"
	"fmt"

	"github.com/agentledger/agentledger/engine"
)

const accountColumns = `id, kind, owner_id, currency, debits_pending, debits_posted, credits_pending, credits_posted`

func scanAccount(s scanner) (*engine.Account, error) {
	var a engine.Account
	err := s.Scan(&a.ID, &a.Kind, &a.OwnerID, &a.Currency, &a.DebitsPending, &a.DebitsPosted, &a.CreditsPending, &a.CreditsPosted)
	return &a, err
}

// FindAccount implements engine.Tx. In the writer's transaction it is the
// row with what the batch's transfers did to it (balances.go).
func (t *tx) FindAccount(id string) (*engine.Account, error) {
	if t.write {
		return t.readAccount(id)
	}
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
		c.And("reference = ?", f.Reference)
	}
	if f.PendingID != "" {
		c.And("pending_id = ?", f.PendingID)
	}
	q, args := c.Query(`SELECT `+transferColumns+` FROM transfers`, "id", f.Limit)
	return queryList(t, scanTransfer, q, args...)
}

// balanceDelta is what one transfer does to one account's four sums.
type balanceDelta struct {
	debitsPending, debitsPosted, creditsPending, creditsPosted int64
}

// InsertTransfer implements engine.Tx. Its balances are summed for the
// commit (balances.go); a user or paper account going below zero available
// fails with INSUFFICIENT_FUNDS, as the accounts table's CHECK would.
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
	mark := t.balancesMark()
	if err := t.applyBalances(tr, debit, credit); err != nil {
		t.undoBalances(mark)
		return err
	}
	_, err := t.exec(`INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, reference, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tr.ID, tr.Kind, tr.DebitAccountID, tr.CreditAccountID, tr.Amount, tr.Currency, nullString(tr.PendingID), tr.Reference, micros(tr.CreatedAt))
	if err != nil {
		t.undoBalances(mark) // nothing written
	}
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
