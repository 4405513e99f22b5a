package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	moneyUser     = "user:u1:USD"
	moneyDeposits = "system:deposits:USD"
	moneySettle   = "system:settlement:USD"
)

var moneyNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func openMoneyDB(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func moneyUpdate(t *testing.T, db *postgres.DB, fn func(engine.Tx) error) {
	t.Helper()
	require.NoError(t, db.Update(context.Background(), fn))
}

func moneyTransfer(id, kind, debit, credit string, amount int64, pending string) *engine.Transfer {
	return &engine.Transfer{ID: id, Kind: kind, DebitAccountID: debit, CreditAccountID: credit, Amount: amount,
		Currency: "USD", PendingID: pending, Reference: "ref1", CreatedAt: moneyNow}
}

func moneyAccount(t *testing.T, db *postgres.DB, id string) (*engine.Account, error) {
	t.Helper()
	var a *engine.Account
	err := db.View(context.Background(), func(tx engine.Tx) error {
		var err error
		a, err = tx.FindAccount(id)
		return err
	})
	return a, err
}

func TestMoneyTransferRefusedForFundsWritesNothing(t *testing.T) {
	db := openMoneyDB(t)
	moneyUpdate(t, db, func(tx engine.Tx) error {
		return tx.InsertTransfer(moneyTransfer("tr_01", engine.TransferPosted, moneyDeposits, moneyUser, 100, ""))
	})
	moneyUpdate(t, db, func(tx engine.Tx) error {
		for _, tr := range []*engine.Transfer{
			moneyTransfer("tr_02", engine.TransferPending, moneyUser, moneySettle, 101, ""),
			moneyTransfer("tr_03", engine.TransferPosted, "user:u2:USD", moneySettle, 1, ""),
			moneyTransfer("tr_04", engine.TransferPosted, "paper:a1:USD", "system:paper:USD", 1, ""),
		} {
			assert.Equal(t, engine.CodeInsufficientFunds, engine.ErrorCode(tx.InsertTransfer(tr)), tr.ID)
		}
		// The transaction is still usable: a transfer within the funds commits.
		return tx.InsertTransfer(moneyTransfer("tr_05", engine.TransferPending, moneyUser, moneySettle, 100, ""))
	})
	a, err := moneyAccount(t, db, moneyUser)
	require.NoError(t, err)
	assert.Equal(t, engine.Account{ID: moneyUser, Kind: engine.AccountUser, OwnerID: "u1", Currency: "USD",
		DebitsPending: 100, CreditsPosted: 100}, *a)
	a, err = moneyAccount(t, db, moneyDeposits)
	require.NoError(t, err)
	assert.Equal(t, engine.Account{ID: moneyDeposits, Kind: engine.AccountSystem, OwnerID: "deposits",
		Currency: "USD", DebitsPosted: 100}, *a)
	for _, id := range []string{"user:u2:USD", "paper:a1:USD", "system:paper:USD"} {
		_, err = moneyAccount(t, db, id)
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), id)
	}
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		got, err := tx.ListTransfers(engine.TransferFilter{Reference: "ref1"})
		require.NoError(t, err)
		ids := []string{}
		for _, tr := range got {
			ids = append(ids, tr.ID)
		}
		assert.Equal(t, []string{"tr_01", "tr_05"}, ids)
		assert.Equal(t, moneyNow, got[0].CreatedAt)
		assert.Equal(t, engine.CodeInternal, engine.ErrorCode(tx.InsertTransfer(
			moneyTransfer("tr_06", engine.TransferPosted, moneyDeposits, moneyUser, 1, ""))))
		return nil
	}))
}

func TestMoneyHoldResolution(t *testing.T) {
	db := openMoneyDB(t)
	moneyUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertTransfer(moneyTransfer("tr_01", engine.TransferPosted, moneyDeposits, moneyUser, 100, "")))
		return tx.InsertTransfer(moneyTransfer("tr_02", engine.TransferPending, moneyUser, moneySettle, 60, ""))
	})
	moneyUpdate(t, db, func(tx engine.Tx) error {
		for _, c := range []struct {
			tr   *engine.Transfer
			code string
		}{
			{moneyTransfer("tr_10", engine.TransferPostPending, moneyUser, moneySettle, 61, "tr_02"), engine.CodeInvalidState},
			{moneyTransfer("tr_11", engine.TransferVoidPending, moneyUser, moneySettle, 59, "tr_02"), engine.CodeInvalidState},
			{moneyTransfer("tr_12", engine.TransferPostPending, moneyUser, moneySettle, 10, "tr_99"), engine.CodeNotFound},
			{moneyTransfer("tr_13", engine.TransferPostPending, moneyUser, moneySettle, 10, "tr_01"), engine.CodeInternal},
			{moneyTransfer("tr_14", engine.TransferPostPending, moneyUser, moneySettle, 40, "tr_02"), ""},
			{moneyTransfer("tr_15", engine.TransferVoidPending, moneyUser, moneySettle, 60, "tr_02"), engine.CodeInvalidState},
			{moneyTransfer("tr_16", engine.TransferPostPending, moneyUser, moneySettle, 40, "tr_02"), engine.CodeInvalidState},
			{moneyTransfer("tr_01", engine.TransferPosted, moneyDeposits, moneyUser, 5, ""), engine.CodeInvalidState},
		} {
			err := tx.InsertTransfer(c.tr)
			if c.code == "" {
				assert.NoError(t, err, c.tr.ID)
			} else {
				assert.Equal(t, c.code, engine.ErrorCode(err), "%s: %v", c.tr.ID, err)
			}
		}
		return nil
	})
	a, err := moneyAccount(t, db, moneyUser)
	require.NoError(t, err)
	assert.Equal(t, int64(0), a.DebitsPending)
	assert.Equal(t, int64(40), a.DebitsPosted)
	assert.Equal(t, int64(100), a.CreditsPosted)
	a, err = moneyAccount(t, db, moneySettle)
	require.NoError(t, err)
	assert.Equal(t, engine.Account{ID: moneySettle, Kind: engine.AccountSystem, OwnerID: "settlement", Currency: "USD",
		CreditsPosted: 40}, *a)
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		got, err := tx.ListTransfers(engine.TransferFilter{PendingID: "tr_02"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, *moneyTransfer("tr_14", engine.TransferPostPending, moneyUser, moneySettle, 40, "tr_02"), *got[0])
		got, err = tx.ListTransfers(engine.TransferFilter{Reference: "ref1", Limit: 2})
		require.NoError(t, err)
		require.Len(t, got, 2)
		assert.Equal(t, "", got[1].PendingID)
		got, err = tx.ListTransfers(engine.TransferFilter{Reference: "none"})
		require.NoError(t, err)
		assert.NotNil(t, got)
		assert.Empty(t, got)
		_, err = tx.ListTransfers(engine.TransferFilter{})
		assert.Error(t, err)
		return nil
	}))
}

func TestMoneyCounters(t *testing.T) {
	db := openMoneyDB(t)
	k1, k2 := engine.CounterKey{Scope: "a", Period: "d1"}, engine.CounterKey{Scope: "a", Period: "m1"}
	k3 := engine.CounterKey{Scope: "b", Period: "d1"}
	moneyUpdate(t, db, func(tx engine.Tx) error {
		return tx.AddCounters([]engine.CounterDelta{{Key: k1, Amount: 10, Count: 1}, {Key: k2, Amount: 10, Count: 1},
			{Key: k1, Amount: 5, Count: 1}})
	})
	moneyUpdate(t, db, func(tx engine.Tx) error {
		// An increment then a decrement of the same counter in one call.
		require.NoError(t, tx.AddCounters([]engine.CounterDelta{{Key: k1, Amount: 20, Count: 1},
			{Key: k1, Amount: -30, Count: -2}, {Key: k2, Amount: 1, Count: 1}}))
		for _, d := range []engine.CounterDelta{{Key: k1, Amount: -6}, {Key: k2, Count: -3}, {Key: k3, Amount: -1}} {
			assert.Error(t, tx.AddCounters([]engine.CounterDelta{d}), "%v", d)
		}
		got, err := tx.Counters([]string{"a", "b"}, []string{"d1", "m1", "y1"})
		require.NoError(t, err)
		assert.Equal(t, map[engine.CounterKey]engine.Counter{k1: {Amount: 5, Count: 1}, k2: {Amount: 11, Count: 2}}, got)
		return nil
	})
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		got, err := tx.Counters([]string{"a"}, []string{"d1"})
		require.NoError(t, err)
		assert.Equal(t, map[engine.CounterKey]engine.Counter{k1: {Amount: 5, Count: 1}}, got)
		got, err = tx.Counters(nil, []string{"d1"})
		require.NoError(t, err)
		assert.Empty(t, got)
		assert.Error(t, tx.AddCounters([]engine.CounterDelta{{Key: k3, Amount: 1}}))
		return nil
	}))
}

func TestMoneyIdempotencyAndMerchants(t *testing.T) {
	db := openMoneyDB(t)
	first := &engine.IdempotencyRecord{Scope: "s", Key: "k", Operation: "op", RequestHash: "h1",
		Response: []byte(`{"secret":1}`), CreatedAt: moneyNow}
	moneyUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertIdempotency(first))
		again := *first
		again.RequestHash, again.Response = "h2", []byte("other")
		assert.Equal(t, engine.CodeConflict, engine.ErrorCode(tx.InsertIdempotency(&again)))
		require.NoError(t, tx.MarkMerchantSeen("ag1", "acme", "", moneyNow))
		require.NoError(t, tx.MarkMerchantSeen("ag1", "acme", "5411", moneyNow))
		require.NoError(t, tx.MarkMerchantSeen("ag1", "", "", moneyNow))
		return nil
	})
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		got, err := tx.FindIdempotency("s", "k")
		require.NoError(t, err)
		assert.Equal(t, first, got)
		_, err = tx.FindIdempotency("s", "other")
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
		for _, c := range []struct {
			agent, merchant, mcc  string
			merchantSeen, mccSeen bool
		}{
			{"ag1", "acme", "5411", true, true},
			{"ag1", "other", "5411", false, true},
			{"ag1", "acme", "", true, false},
			{"ag2", "acme", "5411", false, false},
		} {
			m, mcc, err := tx.MerchantSeen(c.agent, c.merchant, c.mcc)
			require.NoError(t, err)
			assert.Equal(t, [2]bool{c.merchantSeen, c.mccSeen}, [2]bool{m, mcc}, "%+v", c)
		}
		assert.Error(t, tx.MarkMerchantSeen("ag1", "x", "", moneyNow))
		assert.Error(t, tx.InsertIdempotency(&engine.IdempotencyRecord{Scope: "s", Key: "k2", CreatedAt: moneyNow}))
		return nil
	}))
}
