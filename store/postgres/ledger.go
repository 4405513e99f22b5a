package postgres

import (
	"fmt"

	"github.com/agentledger/agentledger/engine"
)

const ledgerAccountColumns = `id, kind, owner_id, currency, debits_pending, debits_posted, credits_pending,
	credits_posted`

func scanLedgerAccount(s scanner) (*engine.Account, error) {
	var a engine.Account
	err := s.Scan(&a.ID, &a.Kind, &a.OwnerID, &a.Currency, &a.DebitsPending, &a.DebitsPosted, &a.CreditsPending,
		&a.CreditsPosted)
	return &a, err
}

// FindAccount implements engine.Tx: a system account's sums are its row's
// plus its shards' (0002_account_shards.sql).
func (t *tx) FindAccount(id string) (*engine.Account, error) {
	if kind, _, _, _ := engine.ParseAccountID(id); kind == engine.AccountSystem {
		return findOne(t, scanLedgerAccount, notFound("account", id),
			`SELECT `+shardedAccountColumns+` FROM accounts a `+shardSums+` WHERE a.id = $1`, id)
	}
	return findOne(t, scanLedgerAccount, notFound("account", id),
		`SELECT `+ledgerAccountColumns+` FROM accounts WHERE id = $1`, id)
}

// shardedAccountColumns are ledgerAccountColumns of accounts a with the sums
// of shardSums added.
const shardedAccountColumns = `a.id, a.kind, a.owner_id, a.currency, a.debits_pending + coalesce(s.dp, 0),
	a.debits_posted + coalesce(s.dpo, 0), a.credits_pending + coalesce(s.cp, 0), a.credits_posted + coalesce(s.cpo, 0)`

// shardSums joins accounts a to the sums of its shards, when it has any.
const shardSums = `LEFT JOIN LATERAL (SELECT sum(debits_pending)::bigint AS dp, sum(debits_posted)::bigint AS dpo,
	sum(credits_pending)::bigint AS cp, sum(credits_posted)::bigint AS cpo
	FROM account_shards WHERE account_id = a.id) AS s ON true`

const ledgerTransferColumns = `id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, reference,
	created_at`

func scanLedgerTransfer(s scanner) (*engine.Transfer, error) {
	var tr engine.Transfer
	var pendingID *string
	var created int64
	if err := s.Scan(&tr.ID, &tr.Kind, &tr.DebitAccountID, &tr.CreditAccountID, &tr.Amount, &tr.Currency, &pendingID,
		&tr.Reference, &created); err != nil {
		return nil, err
	}
	if pendingID != nil {
		tr.PendingID = *pendingID
	}
	tr.CreatedAt = fromMicros(created)
	return &tr, nil
}

// ListTransfers implements engine.Tx: by reference on transfers_reference,
// by pending id on transfers_resolution (at most one row). Transfer ids
// begin with their creation time, so id order is oldest first.
func (t *tx) ListTransfers(f engine.TransferFilter) ([]*engine.Transfer, error) {
	if f.Reference == "" && f.PendingID == "" {
		return nil, fmt.Errorf("postgres: ListTransfers needs a reference or a pending id")
	}
	var c conditions
	if f.Reference != "" {
		c.And("reference = ?", f.Reference)
	}
	if f.PendingID != "" {
		c.And("pending_id = ?", f.PendingID)
	}
	q, args := c.query(`SELECT `+ledgerTransferColumns+` FROM transfers`, "id", f.Limit)
	return queryList(t, scanLedgerTransfer, q, args...)
}

// ledgerDelta is what one transfer does to one account's four sums.
type ledgerDelta struct {
	debitsPending, debitsPosted, creditsPending, creditsPosted int64
}

func (d ledgerDelta) available() int64 { return d.creditsPosted - d.debitsPosted - d.debitsPending }

func (d ledgerDelta) negative() bool {
	return d.debitsPending < 0 || d.debitsPosted < 0 || d.creditsPending < 0 || d.creditsPosted < 0
}

// ledgerState is what InsertTransfer reads before it writes anything: a
// failed statement aborts the whole PostgreSQL transaction, so every rule
// the tables' constraints enforce is checked first, and a refused transfer
// leaves the transaction usable with nothing written. Writers take turns
// (db.go), so what is read cannot change before the write.
type ledgerState struct {
	exists                  bool   // a transfer with the new one's id exists
	debitAvail, creditAvail *int64 // the accounts' available balances; nil when they do not exist
	holdKind                *string
	holdDebit, holdCredit   *string
	holdAmount              *int64
	holdResolved            bool
}

func (t *tx) readLedgerState(tr *engine.Transfer) (*ledgerState, error) {
	var s ledgerState
	err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM transfers WHERE id = $1),
		(SELECT credits_posted - debits_posted - debits_pending FROM accounts WHERE id = $2),
		(SELECT credits_posted - debits_posted - debits_pending FROM accounts WHERE id = $3),
		h.kind, h.debit_account_id, h.credit_account_id, h.amount,
		EXISTS (SELECT 1 FROM transfers WHERE pending_id = $4)
		FROM (SELECT 1) AS one LEFT JOIN transfers h ON h.id = $4`,
		tr.ID, tr.DebitAccountID, tr.CreditAccountID, tr.PendingID).
		Scan(&s.exists, &s.debitAvail, &s.creditAvail, &s.holdKind, &s.holdDebit, &s.holdCredit, &s.holdAmount,
			&s.holdResolved)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// InsertTransfer implements engine.Tx.
func (t *tx) InsertTransfer(tr *engine.Transfer) error {
	if !t.write {
		return errReadOnly
	}
	if tr.Amount <= 0 {
		return fmt.Errorf("postgres: transfer %s: amount must be positive", tr.ID)
	}
	if tr.DebitAccountID == tr.CreditAccountID {
		return fmt.Errorf("postgres: transfer %s debits and credits the same account %s", tr.ID, tr.DebitAccountID)
	}
	resolves := tr.Kind == engine.TransferPostPending || tr.Kind == engine.TransferVoidPending
	switch {
	case tr.Kind != engine.TransferPosted && tr.Kind != engine.TransferPending && !resolves:
		return fmt.Errorf("postgres: transfer %s: unknown kind %q", tr.ID, tr.Kind)
	case !resolves && tr.PendingID != "":
		return fmt.Errorf("postgres: %s transfer %s may not name a pending transfer", tr.Kind, tr.ID)
	}
	s, err := t.readLedgerState(tr)
	if err != nil {
		return err
	}
	var debit, credit ledgerDelta
	switch tr.Kind {
	case engine.TransferPosted:
		debit.debitsPosted, credit.creditsPosted = tr.Amount, tr.Amount
	case engine.TransferPending:
		debit.debitsPending, credit.creditsPending = tr.Amount, tr.Amount
	default:
		switch {
		case s.holdKind == nil:
			return notFound("pending transfer", tr.PendingID)
		case *s.holdKind != engine.TransferPending || *s.holdDebit != tr.DebitAccountID ||
			*s.holdCredit != tr.CreditAccountID:
			return fmt.Errorf("postgres: transfer %s does not resolve pending transfer %s", tr.ID, tr.PendingID)
		case s.holdResolved:
			return &engine.Error{Code: engine.CodeInvalidState, Message: "hold " + tr.PendingID + " is already resolved"}
		}
		held := *s.holdAmount
		debit.debitsPending, credit.creditsPending = -held, -held
		if tr.Kind == engine.TransferPostPending {
			if tr.Amount > held {
				return &engine.Error{Code: engine.CodeInvalidState,
					Message: fmt.Sprintf("cannot post %d of a %d hold", tr.Amount, held)}
			}
			debit.debitsPosted, credit.creditsPosted = tr.Amount, tr.Amount
		} else if tr.Amount != held {
			return &engine.Error{Code: engine.CodeInvalidState,
				Message: fmt.Sprintf("a void must release the whole hold of %d, not %d", held, tr.Amount)}
		}
	}
	sides := []struct {
		id    string
		d     ledgerDelta
		avail *int64
	}{{tr.DebitAccountID, debit, s.debitAvail}, {tr.CreditAccountID, credit, s.creditAvail}}
	args := []any{}
	for _, side := range sides {
		kind, owner, currency, ok := engine.ParseAccountID(side.id)
		if !ok {
			return fmt.Errorf("postgres: malformed account id %q", side.id)
		} else if currency != tr.Currency {
			return fmt.Errorf("postgres: transfer %s in %s touches %s account %s", tr.ID, tr.Currency, currency, side.id)
		}
		var avail int64 // a new account has nothing to spend
		if side.avail != nil {
			avail = *side.avail
		} else if side.d.negative() {
			return fmt.Errorf("postgres: transfer %s takes from account %s, which does not exist", tr.ID, side.id)
		}
		if kind != engine.AccountSystem && avail+side.d.available() < 0 {
			return &engine.Error{Code: engine.CodeInsufficientFunds, Message: "insufficient funds in " + side.id}
		}
		args = append(args, side.id, kind, owner, currency,
			side.d.debitsPending, side.d.debitsPosted, side.d.creditsPending, side.d.creditsPosted)
	}
	if s.exists {
		return &engine.Error{Code: engine.CodeInvalidState, Message: "transfer " + tr.ID + " already exists"}
	}
	// One statement: accounts that do not exist are created, the others
	// updated, and the transfer inserted; its foreign keys are checked at
	// the end of the statement, when the new accounts are there. Every
	// sub-statement sees the same snapshot, so the insert and the update
	// touch disjoint accounts. A system account's sums go to a shard
	// (0002_account_shards.sql); its row, which charges of other users may
	// be creating at the same moment, is created empty or left as it is.
	args = append(args, tr.ID, tr.Kind, tr.Amount, tr.Currency, ledgerPendingID(tr.PendingID), tr.Reference,
		micros(tr.CreatedAt), t.shard)
	// Every rule the statement's constraints enforce was checked above, so
	// it may wait for the next round trip (pipeline.go).
	return t.execLater(`WITH d (id, kind, owner_id, currency, dp, dpo, cp, cpo) AS (VALUES
			($1::text, $2::text, $3::text, $4::text, $5::bigint, $6::bigint, $7::bigint, $8::bigint),
			($9, $10, $11, $12, $13, $14, $15, $16)),
		created AS (INSERT INTO accounts (id, kind, owner_id, currency, debits_pending, debits_posted,
				credits_pending, credits_posted)
			SELECT id, kind, owner_id, currency, dp, dpo, cp, cpo FROM d
			WHERE kind <> 'system' AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.id)),
		created_system AS (INSERT INTO accounts (id, kind, owner_id, currency)
			SELECT id, kind, owner_id, currency FROM d
			WHERE kind = 'system' AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = d.id)
			ON CONFLICT (id) DO NOTHING),
		updated AS (UPDATE accounts a SET debits_pending = a.debits_pending + d.dp,
				debits_posted = a.debits_posted + d.dpo, credits_pending = a.credits_pending + d.cp,
				credits_posted = a.credits_posted + d.cpo
			FROM d WHERE a.id = d.id AND d.kind <> 'system'),
		sharded AS (INSERT INTO account_shards AS s (account_id, shard, debits_pending, debits_posted,
				credits_pending, credits_posted)
			SELECT id, $24, dp, dpo, cp, cpo FROM d WHERE kind = 'system'
			ON CONFLICT (account_id, shard) DO UPDATE SET debits_pending = s.debits_pending + excluded.debits_pending,
				debits_posted = s.debits_posted + excluded.debits_posted,
				credits_pending = s.credits_pending + excluded.credits_pending,
				credits_posted = s.credits_posted + excluded.credits_posted)
		INSERT INTO transfers (id, kind, debit_account_id, credit_account_id, amount, currency, pending_id, reference,
			created_at)
		VALUES ($17, $18, $1, $9, $19, $20, $21, $22, $23)`, args...)
}

// ledgerPendingID is the pending_id column's value: NULL for none.
func ledgerPendingID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}
