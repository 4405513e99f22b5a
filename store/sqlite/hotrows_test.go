package sqlite_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The writer keeps the rows decisions read. A server and the CLI (or a
// second server) on one file take turns, each with what it keeps warm:
// every change one makes — a spend, a frozen card, a new policy, a KYC
// outcome, a revealed intent, another time zone — decides the other's next
// authorization, and the daily limit is never exceeded.
func TestKeptRowsFollowEveryProcess(t *testing.T) {
	server := sqlitetest.New(t)
	u, agent, card := server.Setup(1_000_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false),
		SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](1_000)}})
	cli := server.Reopen(engine.Options{})
	envs := []*sqlitetest.Env{server, cli}
	checkKept := func() {
		t.Helper()
		for _, env := range envs {
			require.NoError(t, env.DB.CheckKept())
		}
	}
	for _, env := range envs {
		env.Charge(card, 10, "Coffee", "5814")
		require.Greater(t, env.DB.KeptRows(), 5, "it keeps the card, agent, user, counters, accounts…")
	}
	// Each one's commit drops what the other keeps, at the other's next
	// BEGIN: whatever it kept of the card is read again.
	require.Zero(t, server.DB.KeptRows())

	approved, declines := 0, map[string]int{}
	for i := range 30 { // $1 each, turn by turn: $9.80 of the $10.00 day left
		a := envs[i%2].Charge(card, 100, "Coffee", "5814")
		if a.Status == engine.AuthApproved {
			approved++
		} else {
			declines[a.DeclineCode]++
		}
		checkKept()
	}
	assert.Equal(t, 9, approved)
	assert.Equal(t, map[string]int{engine.CodeDailyLimitExceeded: 21}, declines)

	declineOf := func(env *sqlitetest.Env, amount int64, code string) {
		t.Helper()
		a := env.Charge(card, amount, "Coffee", "5814")
		assert.Equal(t, code, a.DeclineCode, a.Reason)
		checkKept()
	}
	decline := func(env *sqlitetest.Env, code string) { t.Helper(); declineOf(env, 10, code) }
	// Its own change and the other's, each decided on at once.
	_, err := server.Engine.FreezeCard(server.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	decline(server, engine.CodeCardFrozen)
	_, err = cli.Engine.UnfreezeCard(cli.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	decline(server, "")
	_, err = cli.Engine.FreezeCard(cli.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	decline(server, engine.CodeCardFrozen)
	_, err = server.Engine.UnfreezeCard(server.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	decline(server, "")

	_, err = server.Engine.SetKYC(server.Ctx, engine.Operator, engine.SetKYCInput{User: u.ID, Status: engine.KYCRejected})
	require.NoError(t, err)
	decline(server, engine.CodeKYCRequired)
	_, err = cli.Engine.SetKYC(cli.Ctx, engine.Operator, engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved})
	require.NoError(t, err)
	decline(server, "")

	_, err = cli.Engine.SetPolicy(cli.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{
		IntentRequired: sqlitetest.Ptr(true), SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](1_000)}}})
	require.NoError(t, err)
	decline(server, engine.CodeIntentRequired)
	intent := cli.Reveal(agent, card, 10, "Coffee")
	a := server.Charge(card, 10, "Coffee", "5814")
	assert.Equal(t, engine.AuthApproved, a.Status, a.Reason)
	assert.Equal(t, intent.ID, a.IntentID, "the intent the other process revealed is matched")
	checkKept()
	decline(server, engine.CodeIntentRequired) // matched: the card has none revealed again

	// $9.70 of the day is spent; another zone starts another day.
	_, err = cli.Engine.SetPolicy(cli.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{
		IntentRequired: sqlitetest.Ptr(false), SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](1_000)}}})
	require.NoError(t, err)
	declineOf(server, 100, engine.CodeDailyLimitExceeded)
	server.Clock.Set(time.Date(2026, 3, 11, 20, 0, 0, 0, time.UTC)) // 09:00 on the 12th in Auckland
	_, err = cli.Engine.SetTimeZone(cli.Ctx, engine.Operator, engine.SetTimeZoneInput{TimeZone: "Pacific/Auckland"})
	require.NoError(t, err)
	declineOf(server, 100, "")
	server.Verify()
}

// A request that fails after changing kept rows, alone or among others in
// one commit, leaves nothing of its changes in what the writer keeps.
func TestKeptRowsUndoneWithAFailedRequest(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1_000_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	env.Charge(card, 10, "Coffee", "5814")
	require.Greater(t, env.DB.KeptRows(), 5)
	boom := errors.New("boom")
	fail := func() error {
		return env.DB.Update(env.Ctx, func(tx engine.Tx) error {
			c, err := tx.FindCard(card.ID)
			require.NoError(t, err)
			c.Status = engine.CardFrozen
			require.NoError(t, tx.UpdateCard(c))
			_, err = tx.FindCard(card.ID) // read back, and kept, inside the request
			require.NoError(t, err)
			a, err := tx.FindAgent(agent.ID)
			require.NoError(t, err)
			a.Risk.ConsecutiveDeclines = 99
			require.NoError(t, tx.UpdateAgentRisk(agent.ID, a.Risk))
			require.NoError(t, tx.MarkMerchantSeen(agent.ID, "casino", "7995", env.Clock.Now()))
			for _, p := range []string{"d:2026-03-11", "lifetime"} {
				require.NoError(t, tx.AddCounters([]engine.CounterDelta{{Key: engine.CounterKey{Scope: card.ID, Period: p}, Amount: 5, Count: 1}}))
			}
			_, err = tx.Counters([]string{card.ID}, []string{"d:2026-03-11", "lifetime", "m:2026-03"})
			require.NoError(t, err)
			_, _, err = tx.MerchantSeen(agent.ID, "casino", "7995")
			require.NoError(t, err)
			return boom
		})
	}
	require.ErrorIs(t, fail(), boom)
	require.NoError(t, env.DB.CheckKept(), "alone in its commit")

	for round := range 5 {
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				if i%4 == 0 {
					assert.ErrorIs(t, fail(), boom)
					return
				}
				a, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: 10,
					Currency: "USD", Merchant: engine.Merchant{Name: fmt.Sprint("Shop ", round, i), MCC: "5814"}})
				if assert.NoError(t, err) {
					assert.Equal(t, engine.AuthApproved, a.Status, a.Reason)
				}
			})
		}
		wg.Wait()
		require.NoError(t, env.DB.CheckKept(), "among others, round %d", round)
	}
	a := env.Charge(card, 10, "Coffee", "5814")
	assert.Equal(t, engine.AuthApproved, a.Status, "the card was never frozen: %s", a.Reason)
	env.Verify()
}

// A read transaction never touches what the writer keeps, even when it is
// asked to move money (which it refuses): under -race, a reader and the
// writer at once.
func TestReadersLeaveKeptRowsAlone(t *testing.T) {
	env := sqlitetest.New(t)
	u, _, card := env.Setup(1_000_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	env.Charge(card, 10, "Coffee", "5814")
	account := engine.UserAccountID(u.ID, "USD")
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 100 {
			env.Charge(card, 10, "Coffee", "5814")
		}
	})
	wg.Go(func() {
		for i := range 500 {
			err := env.DB.View(env.Ctx, func(tx engine.Tx) error {
				if _, err := tx.ListIntents(engine.IntentFilter{CardID: card.ID, Statuses: []string{engine.IntentRevealed}}); err != nil {
					return err
				}
				return tx.InsertTransfer(&engine.Transfer{ID: fmt.Sprint("trf_x", i), Kind: engine.TransferPosted,
					DebitAccountID: account, CreditAccountID: "system:settlement:USD", Amount: 1,
					Currency: "USD", CreatedAt: env.Clock.Now()})
			})
			assert.Error(t, err, "a read transaction moves no money")
		}
	})
	wg.Wait()
	require.NoError(t, env.DB.CheckKept())
}
