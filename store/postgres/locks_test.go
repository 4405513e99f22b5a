package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openTwoUsers is a store with users usr_1 and usr_2, each with an agent and
// a card (card_1, card_2); card_1 also has a PAN and a Stripe link. Writes
// give up on a lock after 200 ms.
func openTwoUsers(t *testing.T) (*postgres.DB, string) {
	t.Helper()
	ctx := context.Background()
	key := seal.GenerateKey()
	db, url := openTest(t, postgres.Options{Key: key, BusyTimeout: 200 * time.Millisecond})
	sealer, err := seal.New(key)
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, n := range []string{"1", "2"} {
		_, err = conn.Exec(ctx, `INSERT INTO users (id, name, kyc_status, created_at, updated_at)
			VALUES ('usr_'||$1, 'u'||$1, 'approved', 0, 0)`, n)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at)
			VALUES ('agt_'||$1, 'a'||$1, 'usr_'||$1, 'live', '{}', 0, 0)`, n)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `INSERT INTO cards (id, agent_id, type, status, last4, exp_month, exp_year, currency,
			limits, pan_fingerprint, secret, created_at, updated_at)
			VALUES ('card_'||$1, 'agt_'||$1, 'multi_use', 'active', '4242', 12, 2030, 'USD', '{}', $2, '\x00', 0, 0)`,
			n, sealer.Fingerprint("424242424242424"+n))
		require.NoError(t, err)
	}
	_, err = conn.Exec(ctx, `INSERT INTO card_links (issuer, external_id, card_id, created_at)
		VALUES ('stripe', 'ic_one', 'card_1', 0)`)
	require.NoError(t, err)
	return db, url
}

// hold runs an Update that calls first and then waits for release; it
// returns once the Update holds its locks, and its result arrives on the
// returned channel. A test that fails first releases it at cleanup.
func hold(t *testing.T, db *postgres.DB, first func(engine.Tx) error) (release func(), result <-chan error) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(release)
	out := make(chan error, 1)
	go func() {
		out <- db.Update(context.Background(), func(tx engine.Tx) error {
			err := first(tx)
			close(held)
			<-done
			return err
		})
	}()
	select {
	case <-held:
	case err := <-out:
		t.Fatalf("the holding Update ended: %v", err)
	}
	return release, out
}

func lockCard(ref engine.CardRef) func(engine.Tx) error {
	return func(tx engine.Tx) error {
		if err := tx.LockCardUser(ref); err != nil {
			return err
		}
		_, err := tx.FindCard("card_1") // a statement after the locks
		return err
	}
}

func alone(tx engine.Tx) error {
	_, err := tx.FindUser("usr_1")
	return err
}

// A charge holding its user's lock lets charges of other users (and of no
// card) run, and makes charges of the same user, however they name its card,
// and transactions alone wait: BUSY past the busy timeout.
func TestChargesOfOneUserTakeTurnsAndOthersRunAtOnce(t *testing.T) {
	db, _ := openTwoUsers(t)
	user1 := []engine.CardRef{{ID: "card_1"}, {PAN: "4242424242424241"}, {Issuer: "stripe", IssuerCardID: "ic_one"}}
	for _, holding := range user1 {
		release, result := hold(t, db, lockCard(holding))
		cases := []struct {
			name string
			fn   func(engine.Tx) error
			busy bool
		}{
			{"another user's card", lockCard(engine.CardRef{ID: "card_2"}), false},
			{"another user's card by PAN", lockCard(engine.CardRef{PAN: "4242424242424242"}), false},
			{"no card", lockCard(engine.CardRef{ID: "card_none"}), false},
			{"a transaction alone", alone, true},
		}
		for _, ref := range user1 {
			cases = append(cases, struct {
				name string
				fn   func(engine.Tx) error
				busy bool
			}{"the same user's card", lockCard(ref), true})
		}
		for _, c := range cases {
			err := db.Update(context.Background(), c.fn)
			if c.busy {
				assert.Equal(t, engine.CodeBusy, engine.ErrorCode(err), "holding %+v: %s: %v", holding, c.name, err)
			} else {
				assert.NoError(t, err, "holding %+v: %s", holding, c.name)
			}
		}
		release()
		require.NoError(t, <-result)
	}
}

// A transaction alone makes every charge wait; LockCardUser after another
// call does nothing, so that transaction runs alone too.
func TestATransactionAloneMakesChargesWait(t *testing.T) {
	db, _ := openTwoUsers(t)
	late := func(tx engine.Tx) error {
		if err := alone(tx); err != nil {
			return err
		}
		return tx.LockCardUser(engine.CardRef{ID: "card_1"})
	}
	for name, first := range map[string]func(engine.Tx) error{"alone": alone, "LockCardUser late": late} {
		release, result := hold(t, db, first)
		for _, card := range []string{"card_1", "card_2", "card_none"} {
			err := db.Update(context.Background(), lockCard(engine.CardRef{ID: card}))
			assert.Equal(t, engine.CodeBusy, engine.ErrorCode(err), "%s: a charge on %s: %v", name, card, err)
		}
		release()
		require.NoError(t, <-result, name)
	}
}

// Waiting for a user's lock follows the caller's ctx: its error, nothing
// written.
func TestWaitingForAUserFollowsTheContext(t *testing.T) {
	db, _ := openTwoUsers(t)
	release, result := hold(t, db, lockCard(engine.CardRef{ID: "card_1"}))
	defer func() { release(); require.NoError(t, <-result) }()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ran := false
	err := db.Update(ctx, func(tx engine.Tx) error {
		if err := tx.LockCardUser(engine.CardRef{ID: "card_1"}); err != nil {
			return err
		}
		ran = true
		return nil
	})
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.False(t, ran)
}

// Holds of two users placed at once add to the settlement account's shards,
// not its row; its sums are the row's plus the shards', a void alone
// releases them, and the ledger verifies.
func TestSystemAccountSumsAreSharded(t *testing.T) {
	db, url := openTwoUsers(t)
	ctx := context.Background()
	settlement := "system:settlement:USD"
	transfer := func(id, kind, debit, credit, pending string, amount int64) *engine.Transfer {
		return &engine.Transfer{ID: id, Kind: kind, DebitAccountID: debit, CreditAccountID: credit, PendingID: pending,
			Amount: amount, Currency: "USD", CreatedAt: spendingT0}
	}
	for _, n := range []string{"1", "2"} {
		require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
			return tx.InsertTransfer(transfer("tr_fund_"+n, engine.TransferPosted, "system:deposits:USD",
				engine.UserAccountID("usr_"+n, "USD"), "", 10_000))
		}))
	}
	// The account's row is made by its first transfer (here alone): charges
	// that race to make it take turns.
	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
		if err := tx.InsertTransfer(transfer("tr_first", engine.TransferPending, engine.UserAccountID("usr_2", "USD"),
			settlement, "", 100)); err != nil {
			return err
		}
		return tx.InsertTransfer(transfer("tr_first_void", engine.TransferVoidPending, engine.UserAccountID("usr_2", "USD"),
			settlement, "tr_first", 100))
	}))
	release, result := hold(t, db, func(tx engine.Tx) error {
		if err := tx.LockCardUser(engine.CardRef{ID: "card_1"}); err != nil {
			return err
		}
		return tx.InsertTransfer(transfer("tr_hold_1", engine.TransferPending, engine.UserAccountID("usr_1", "USD"),
			settlement, "", 300))
	})
	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
		if err := tx.LockCardUser(engine.CardRef{ID: "card_2"}); err != nil {
			return err
		}
		return tx.InsertTransfer(transfer("tr_hold_2", engine.TransferPending, engine.UserAccountID("usr_2", "USD"),
			settlement, "", 200))
	}), "a hold of user 2 while user 1's is in flight")
	release()
	require.NoError(t, <-result)

	account := func(id string) *engine.Account {
		var a *engine.Account
		require.NoError(t, db.View(ctx, func(tx engine.Tx) (err error) {
			a, err = tx.FindAccount(id)
			return err
		}))
		return a
	}
	assert.Equal(t, int64(500), account(settlement).CreditsPending)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var inRow, shards int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT credits_pending, (SELECT count(*) FROM account_shards
		WHERE account_id = $1 AND shard <> 0) FROM accounts WHERE id = $1`, settlement).Scan(&inRow, &shards))
	assert.Equal(t, int64(0), inRow, "the charges left the account's row alone")
	assert.Equal(t, int64(2), shards, "each user's charge added to its own shard")

	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
		return tx.InsertTransfer(transfer("tr_void_1", engine.TransferVoidPending, engine.UserAccountID("usr_1", "USD"),
			settlement, "tr_hold_1", 300))
	}), "a void alone")
	assert.Equal(t, int64(200), account(settlement).CreditsPending)
	assert.Equal(t, int64(20_000), account("system:deposits:USD").DebitsPosted, "funding alone: the row and shard 0")
	report, err := db.VerifyLedger(ctx)
	require.NoError(t, err)
	assert.Empty(t, report.Faults)
}
