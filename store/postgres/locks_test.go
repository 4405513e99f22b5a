package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
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

// update is a kind of write transaction: db.Update, or db.UpdateCharge on
// a card.
type update func(ctx context.Context, fn func(engine.Tx) error) error

func charge(db *postgres.DB, ref engine.CardRef) update {
	return func(ctx context.Context, fn func(engine.Tx) error) error { return db.UpdateCharge(ctx, ref, fn) }
}

// aStatement is a transaction's work: a statement after its locks.
func aStatement(tx engine.Tx) error {
	_, err := tx.FindUser("usr_1")
	return err
}

// hold runs u with first and then waits for release; it returns once u
// holds its locks, and its result arrives on the returned channel. A test
// that fails first releases it at cleanup.
func hold(t *testing.T, u update, first func(engine.Tx) error) (release func(), result <-chan error) {
	t.Helper()
	held, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(release)
	out := make(chan error, 1)
	go func() {
		out <- u(context.Background(), func(tx engine.Tx) error {
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

// A charge holding its user's lock lets charges of other users (and of no
// card) run, and makes charges of the same user, however they name its card,
// and transactions alone wait: BUSY past the busy timeout.
func TestChargesOfOneUserTakeTurnsAndOthersRunAtOnce(t *testing.T) {
	db, _ := openTwoUsers(t)
	user1 := []engine.CardRef{{ID: "card_1"}, {PAN: "4242424242424241"}, {Issuer: "stripe", IssuerCardID: "ic_one"}}
	for _, holding := range user1 {
		release, result := hold(t, charge(db, holding), aStatement)
		cases := []struct {
			name string
			u    update
			busy bool
		}{
			{"another user's card", charge(db, engine.CardRef{ID: "card_2"}), false},
			{"another user's card by PAN", charge(db, engine.CardRef{PAN: "4242424242424242"}), false},
			{"no card", charge(db, engine.CardRef{ID: "card_none"}), false},
			{"a transaction alone", db.Update, true},
		}
		for _, ref := range user1 {
			cases = append(cases, struct {
				name string
				u    update
				busy bool
			}{"the same user's card", charge(db, ref), true})
		}
		for _, c := range cases {
			ran := false
			err := c.u(context.Background(), func(tx engine.Tx) error { ran = true; return aStatement(tx) })
			if c.busy {
				assert.Equal(t, engine.CodeBusy, engine.ErrorCode(err), "holding %+v: %s: %v", holding, c.name, err)
				assert.False(t, ran, "fn starts only once the locks are granted")
			} else {
				assert.NoError(t, err, "holding %+v: %s", holding, c.name)
			}
		}
		release()
		require.NoError(t, <-result)
	}
}

// A transaction alone makes every charge wait.
func TestATransactionAloneMakesChargesWait(t *testing.T) {
	db, _ := openTwoUsers(t)
	release, result := hold(t, db.Update, aStatement)
	for _, card := range []string{"card_1", "card_2", "card_none"} {
		err := db.UpdateCharge(context.Background(), engine.CardRef{ID: card}, aStatement)
		assert.Equal(t, engine.CodeBusy, engine.ErrorCode(err), "a charge on %s: %v", card, err)
	}
	release()
	require.NoError(t, <-result)
}

// Waiting for the locks follows the caller's ctx: its error, fn never
// started, nothing written.
func TestWaitingForTheLocksFollowsTheContext(t *testing.T) {
	db, _ := openTwoUsers(t)
	release, result := hold(t, charge(db, engine.CardRef{ID: "card_1"}), aStatement)
	defer func() { release(); require.NoError(t, <-result) }()
	for name, u := range map[string]update{"the same user's charge": charge(db, engine.CardRef{ID: "card_1"}),
		"a transaction alone": db.Update} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		ran := false
		err := u(ctx, func(engine.Tx) error { ran = true; return nil })
		cancel()
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "%s: %v", name, err)
		assert.False(t, ran, name)
	}
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
	release, result := hold(t, charge(db, engine.CardRef{ID: "card_1"}), func(tx engine.Tx) error {
		return tx.InsertTransfer(transfer("tr_hold_1", engine.TransferPending, engine.UserAccountID("usr_1", "USD"),
			settlement, "", 300))
	})
	require.NoError(t, db.UpdateCharge(ctx, engine.CardRef{ID: "card_2"}, func(tx engine.Tx) error {
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

// A write whose pooled connection the server closed before BEGIN wrote
// nothing: UNAVAILABLE, as while the database is down.
func TestAWriteOnAConnectionTheServerClosedIsUnavailable(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t) + "&application_name=agentledger_review_down"
	db, err := postgres.Open(ctx, url, postgres.Options{Key: seal.GenerateKey(), MaxConns: 1})
	require.NoError(t, err)
	defer db.Close()
	write := func(tx engine.Tx) error {
		_, err := tx.FindUser("usr_none")
		if engine.IsNotFound(err) {
			return nil
		}
		return err
	}
	require.NoError(t, db.Update(ctx, write)) // the pool's one connection, now idle
	admin, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'agentledger_review_down' AND pid <> pg_backend_pid()`)
	require.NoError(t, err)
	admin.Close(ctx)
	err = db.Update(ctx, write)
	require.Error(t, err)
	assert.Equal(t, engine.CodeUnavailable, engine.ErrorCode(err), "%v", err)
}
