package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batch runs the calls as one group commit: the writer is held until every
// one is queued. It returns their errors in order.
func batch(t *testing.T, db *DB, calls ...func(engine.Tx) error) []error {
	t.Helper()
	ctx := context.Background()
	release, started := make(chan struct{}), make(chan struct{})
	go db.Update(ctx, func(engine.Tx) error { close(started); <-release; return nil })
	<-started
	_, commits := db.Stats()
	errs := make([]chan error, len(calls))
	for i, call := range calls {
		n := len(db.requests)
		errs[i] = make(chan error, 1)
		go func() { errs[i] <- db.Update(ctx, call) }()
		require.Eventually(t, func() bool { return len(db.requests) == n+1 }, 5*time.Second, time.Millisecond)
	}
	close(release)
	out := make([]error, len(calls))
	for i := range errs {
		out[i] = <-errs[i]
	}
	_, after := db.Stats()
	require.Equal(t, commits+2, after, "the blocker's commit and the batch's")
	return out
}

func transfer(id, kind, debit, credit string, amount int64) func(engine.Tx) error {
	return func(tx engine.Tx) error {
		return tx.InsertTransfer(&engine.Transfer{ID: id, Kind: kind, DebitAccountID: debit, CreditAccountID: credit,
			Amount: amount, Currency: "USD", CreatedAt: time.Now()})
	}
}

func account(t *testing.T, db *DB, id string) *engine.Account {
	t.Helper()
	var a *engine.Account
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		var err error
		a, err = tx.FindAccount(id)
		return err
	}))
	return a
}

func verified(t *testing.T, db *DB) {
	t.Helper()
	report, err := db.VerifyLedger(context.Background())
	require.NoError(t, err)
	assert.True(t, report.OK, "%v", report.Faults)
}

const (
	userAcct = "user:usr_a:USD"
	deposits = "system:deposits:USD"
	settle   = "system:settlement:USD"
)

// A batch's transfers are summed and written once per account, yet each
// one is held to the funds rule against what the ones before it in the
// batch did: of twelve $1 holds on $8, eight go through and four fail alone
// with INSUFFICIENT_FUNDS; a deposit earlier in the same batch counts.
func TestBatchedBalancesKeepTheFundsRule(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	calls := []func(engine.Tx) error{transfer("trf_dep1", engine.TransferPosted, deposits, userAcct, 800)}
	for i := range 12 {
		calls = append(calls, transfer(fmt.Sprintf("trf_hold%02d", i), engine.TransferPending, userAcct, settle, 100))
	}
	calls = append(calls, func(tx engine.Tx) error {
		a, err := tx.FindAccount(userAcct)
		if err == nil && a.Available() != 0 {
			err = fmt.Errorf("the batch's reads see its sums: available %d, want 0", a.Available())
		}
		return err
	})
	calls = append(calls, transfer("trf_dep2", engine.TransferPosted, deposits, userAcct, 200))
	calls = append(calls, transfer("trf_hold12", engine.TransferPending, userAcct, settle, 200))
	errs := batch(t, db, calls...)
	failed := 0
	for i, err := range errs {
		if engine.ErrorCode(err) == engine.CodeInsufficientFunds {
			failed++
			assert.True(t, i == 9 || i == 10 || i == 11 || i == 12, "hold %d", i)
		} else {
			assert.NoError(t, err, "call %d", i)
		}
	}
	assert.Equal(t, 4, failed, "twelve $1 holds on $8: four refused")
	assert.Equal(t, &engine.Account{ID: userAcct, Kind: engine.AccountUser, OwnerID: "usr_a", Currency: "USD",
		DebitsPending: 1000, CreditsPosted: 1000}, account(t, db, userAcct))
	assert.EqualValues(t, 1000, account(t, db, settle).CreditsPending)
	verified(t, db)
}

// A request that fails rolls back what its transfers did to the batch's
// sums, and an account it was the first to use is made again by the next.
func TestBatchedBalancesOfAFailedRequestRollBack(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	failing := func(tx engine.Tx) error {
		if err := transfer("trf_b", engine.TransferPosted, deposits, "user:usr_b:USD", 50)(tx); err != nil {
			return err
		}
		if err := transfer("trf_a2", engine.TransferPosted, deposits, userAcct, 50)(tx); err != nil {
			return err
		}
		return engine.Errorf(engine.CodeInvalidInput, "changed its mind")
	}
	errs := batch(t, db, transfer("trf_a1", engine.TransferPosted, deposits, userAcct, 100), failing,
		transfer("trf_a3", engine.TransferPosted, deposits, userAcct, 10))
	require.NoError(t, errs[0])
	require.Error(t, errs[1])
	require.NoError(t, errs[2])
	assert.EqualValues(t, 110, account(t, db, userAcct).CreditsPosted)
	assert.EqualValues(t, 110, account(t, db, deposits).DebitsPosted)
	err = db.View(context.Background(), func(tx engine.Tx) error { _, err := tx.FindAccount("user:usr_b:USD"); return err })
	assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), "the failed request's new account is gone")

	errs = batch(t, db, transfer("trf_b2", engine.TransferPosted, deposits, "user:usr_b:USD", 5))
	require.NoError(t, errs[0], "the account is made again")
	assert.EqualValues(t, 5, account(t, db, "user:usr_b:USD").CreditsPosted)
	verified(t, db)
}
