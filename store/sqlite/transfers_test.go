package sqlite_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestListTransfersOfAnAuthorization(t *testing.T) {
	env := sqlitetest.New(t)
	_, _, card := env.Setup(100_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	a := env.Charge(card, 3000, "Shop", "")
	env.Charge(card, 1000, "Other shop", "") // another authorization's hold
	_, err := e.Settle(ctx, op, engine.SettleInput{AuthorizationID: a.ID, Amount: sqlitetest.Ptr[int64](2500)})
	require.NoError(t, err)
	for range 2 {
		_, err = e.Refund(ctx, op, engine.RefundInput{AuthorizationID: a.ID, Amount: sqlitetest.Ptr[int64](500)})
		require.NoError(t, err)
	}
	require.NoError(t, env.DB.View(ctx, func(tx engine.Tx) error {
		got, err := tx.ListTransfers(engine.TransferFilter{Reference: a.ID})
		require.NoError(t, err)
		require.Len(t, got, 4)
		kinds := []string{}
		for _, tr := range got {
			kinds = append(kinds, tr.Kind)
			assert.Equal(t, a.ID, tr.Reference)
			assert.Equal(t, "USD", tr.Currency)
			assert.False(t, tr.CreatedAt.IsZero())
		}
		assert.Equal(t, []string{engine.TransferPending, engine.TransferPostPending, engine.TransferPosted, engine.TransferPosted}, kinds,
			"oldest first")
		assert.Equal(t, a.HoldID, got[0].ID)
		assert.Equal(t, int64(3000), got[0].Amount)
		assert.Equal(t, a.HoldID, got[1].PendingID)
		assert.Equal(t, int64(2500), got[1].Amount)
		assert.Empty(t, got[2].PendingID)

		limited, err := tx.ListTransfers(engine.TransferFilter{Reference: a.ID, Limit: 2})
		require.NoError(t, err)
		assert.Equal(t, got[:2], limited)
		post, err := tx.ListTransfers(engine.TransferFilter{PendingID: a.HoldID})
		require.NoError(t, err)
		assert.Equal(t, got[1:2], post, "the hold's resolution")
		none, err := tx.ListTransfers(engine.TransferFilter{Reference: "txn_nosuch"})
		require.NoError(t, err)
		assert.Empty(t, none, "no match is an empty list, not an error")
		_, err = tx.ListTransfers(engine.TransferFilter{})
		assert.Error(t, err, "an unbounded listing of the ledger is refused")
		return nil
	}))
}

func TestListAuthorizationsByDeclineCode(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false),
		SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](5000), BlockedMerchants: []string{"Casino"}}})
	env.Charge(card, 4000, "Shop", "")
	over := env.Charge(card, 2000, "Shop", "")
	require.Equal(t, engine.CodeDailyLimitExceeded, over.DeclineCode)
	poor := env.Charge(card, 100, "Casino", "")
	require.Equal(t, engine.AuthDeclined, poor.Status)
	require.NotEqual(t, engine.CodeDailyLimitExceeded, poor.DeclineCode)
	require.NoError(t, env.DB.View(env.Ctx, func(tx engine.Tx) error {
		for _, f := range []engine.AuthorizationFilter{{AgentID: agent.ID}, {CardID: card.ID}, {}} {
			f.Statuses, f.DeclineCode, f.Limit = []string{engine.AuthDeclined}, engine.CodeDailyLimitExceeded, 10
			got, err := tx.ListAuthorizations(f)
			require.NoError(t, err)
			require.Len(t, got, 1, "%+v", f)
			assert.Equal(t, over.ID, got[0].ID)
		}
		return nil
	}))
}
