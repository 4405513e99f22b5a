package engine_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests hold PostgreSQL's locks and rows from another connection to
// stop a charge at a chosen point; make test runs them in its PostgreSQL pass.

// onPostgres is env's database for a test that needs PostgreSQL's locks.
func onPostgres(t *testing.T, env *sqlitetest.Env) *pgx.Conn {
	t.Helper()
	if env.URL == "" {
		t.Skip("PostgreSQL only: it waits on PostgreSQL's locks (AGENTLEDGER_TEST_STORE=postgres)")
	}
	conn, err := pgx.Connect(env.Ctx, env.URL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// waitForLockWait waits until some transaction waits for a lock of
// locktype (pg_locks), or fails the test after 3 s.
func waitForLockWait(t *testing.T, conn *pgx.Conn, locktype, what string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_locks WHERE locktype = $1 AND NOT granted`, locktype).Scan(&n))
		return n > 0
	}, 3*time.Second, 5*time.Millisecond, what)
}

// A charge that waits for its locks is decided by the clock after the wait:
// an intent that expired meanwhile declines it, and its times are of then.
func TestAChargeIsDecidedByTheClockAfterItsLocks(t *testing.T) {
	env := sqlitetest.New(t)
	conn := onPostgres(t, env)
	u := env.User("owner", 100_00)
	agent := env.Agent("bot", u, engine.Policy{})
	card := env.Card(agent)
	actor := sqlitetest.AgentActor(agent)
	i, err := env.Engine.DeclareIntent(env.Ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "coffee",
		Amount: 500, Merchant: "Cafe", ExpiresInSeconds: 60})
	require.NoError(t, err)
	_, err = env.Engine.RevealCard(env.Ctx, actor, engine.RevealInput{CardID: card.ID, IntentID: i.ID})
	require.NoError(t, err)

	release := env.BlockWrites() // another server's transaction alone
	type result struct {
		a   *engine.Authorization
		err error
	}
	out := make(chan result, 1)
	go func() {
		a, err := env.Engine.Authorize(context.Background(), engine.Operator, engine.AuthorizeInput{
			CardID: card.ID, Amount: 500, Currency: "USD", Merchant: engine.Merchant{Name: "Cafe"}})
		out <- result{a, err}
	}()
	waitForLockWait(t, conn, "advisory", "the charge waits for its locks")
	env.Clock.Advance(2 * time.Minute) // the intent's 60 s run out meanwhile
	granted := env.Clock.Now()
	release()
	r := <-out
	require.NoError(t, r.err)
	assert.Equal(t, engine.CodeIntentExpired, r.a.DeclineCode, "%s: %s", r.a.Status, r.a.Reason)
	assert.False(t, r.a.CreatedAt.Before(granted), "created at %s, before the locks were granted at %s", r.a.CreatedAt, granted)
}

// Two users' charges with one idempotency key (different requests) overlap:
// the one that inserts its record second is refused as a reuse of the key,
// as it would be had it come second, and keeps nothing.
func TestOneIdempotencyKeyInTwoUsersChargesAtOnce(t *testing.T) {
	env := sqlitetest.New(t)
	conn := onPostgres(t, env)
	shard := func(user string) int { // the store's userShard
		h := fnv.New32a()
		h.Write([]byte(user))
		return 1 + int(h.Sum32()%256)
	}
	ua, ub := env.User("a", 100_00), env.User("b0", 100_00)
	for n := 1; shard(ub.ID) == shard(ua.ID); n++ {
		ub = env.User(fmt.Sprintf("b%d", n), 100_00)
	}
	ca := env.Card(env.Agent("bot-a", ua, noIntent(engine.Policy{})))
	cb := env.Card(env.Agent("bot-b", ub, noIntent(engine.Policy{})))
	env.Charge(ca, 100, "Vending", "") // makes user a's shard row

	// User a's charge stops at its shard row, after it looked for the key.
	blocker, err := conn.Begin(env.Ctx)
	require.NoError(t, err)
	_, err = blocker.Exec(env.Ctx, `SELECT 1 FROM account_shards WHERE account_id = 'system:settlement:USD' AND shard = $1
		FOR UPDATE`, shard(ua.ID))
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() {
		_, err := env.Engine.Authorize(context.Background(), engine.Operator, engine.AuthorizeInput{CardID: ca.ID,
			Amount: 100, Currency: "USD", Merchant: engine.Merchant{Name: "Vending"}, IdempotencyKey: "k1"})
		first <- err
	}()
	watch, err := pgx.Connect(env.Ctx, env.URL)
	require.NoError(t, err)
	defer watch.Close(env.Ctx)
	waitForLockWait(t, watch, "transactionid", "user a's charge waits at its shard row")

	b, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: cb.ID, Amount: 100,
		Currency: "USD", Merchant: engine.Merchant{Name: "Vending"}, IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Equal(t, engine.AuthApproved, b.Status, "user b's charge, with the same key, commits first")
	require.NoError(t, blocker.Rollback(env.Ctx))
	err = <-first
	assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err), "%v", err)
	assert.Equal(t, int64(100), balance(t, env, ua).Pending, "user a's second charge kept nothing")
	env.Verify()
}
