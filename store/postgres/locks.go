package postgres

import (
	"hash/fnv"
	"strconv"

	"github.com/agentledger/agentledger/engine"
	"github.com/jackc/pgx/v5"
)

// Write transactions take one of two sets of transaction-level advisory
// locks, held until COMMIT or ROLLBACK, before their first statement:
//
//   - alone: the writer lock (one key per schema), exclusively. The
//     transaction runs alone among writers on every server, as under
//     SQLite's one writer. Every Update does this unless it calls
//     LockCardUser first.
//   - for a user: the writer lock shared, then the lock of the user whose
//     card the charge names. Charges of different users run at once; those
//     of one user take turns, and none runs beside a transaction alone.
//
// Why a charge for a user is safe beside another user's: everything it
// decides on (the card, agent, policy, counters, velocity, intents, risk,
// funds) belongs to that user, whose lock it holds from before it reads
// them to after its commit is visible, so each statement, at READ
// COMMITTED, sees every earlier transaction of that user. What it shares
// with other users' charges is inserted, never updated: authorizations and
// idempotency records (unique keys: an insert that meets a concurrent one
// waits for it, then does nothing), events and their deliveries (numbered
// by an identity), and the system accounts' sums, which it adds to a shard
// of its user's (0002_account_shards.sql) rather than to one hot row.
// Whatever changes the rest (a link to an issuer's card, an endpoint, the
// time zone) runs alone, so it cannot change under a charge.
//
// Event numbers: two charges of different users that run at once may
// commit in the other order of their numbers. Webhook senders claim
// deliveries alone, after every transaction in flight has ended, so each
// endpoint still gets its events in the order of their numbers, and a
// user's events in the order of their commits.

// userShards is how many shards a system account's sums are spread over
// for transactions of a user; shard 0 is for transactions alone.
const userShards = 256

// lockTimeout is lock_timeout's value: the busy timeout, at least 1 ms,
// since 0 would wait forever.
func (db *DB) lockTimeout() string {
	return strconv.FormatInt(max(db.busy.Milliseconds(), 1), 10) + "ms"
}

// lockAlone takes the writer lock exclusively before an Update's first
// statement.
func (t *tx) lockAlone() error {
	t.unlocked = false
	_, err := t.q.Exec(t.lockCtx, "SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock($2)",
		t.db.lockTimeout(), t.db.writerLock)
	return t.lockFailed(err)
}

// lockFailed records a failed lock: Update returns it whatever fn does.
func (t *tx) lockFailed(err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := t.lockCtx.Err(); ctxErr != nil {
		err = ctxErr // waiting for the lock follows the caller's ctx
	} else {
		err = mapError(err)
	}
	t.lockErr, t.failed = err, err
	return err
}

// cardUser is the query of the user id of the card a charge names.
func (t *tx) cardUser(ref engine.CardRef) (string, []any) {
	const users = `SELECT a.user_id FROM cards c JOIN agents a ON a.id = c.agent_id `
	switch {
	case ref.PAN != "":
		return users + `WHERE c.pan_fingerprint = $1`, []any{t.db.seal.Fingerprint(ref.PAN)}
	case ref.IssuerCardID != "":
		return users + `JOIN card_links l ON l.card_id = c.id WHERE l.issuer = $1 AND l.external_id = $2`,
			[]any{ref.Issuer, ref.IssuerCardID}
	}
	return users + `WHERE c.id = $1`, []any{ref.ID}
}

// LockCardUser implements engine.Tx: as an Update's first call, it takes
// the locks for a user (see above) in one round trip. The user is read
// after the writer lock is granted, by a statement of its own: links to
// issuers' cards change only alone. A ref that names no card locks the
// empty user, so such declines take turns among themselves.
func (t *tx) LockCardUser(ref engine.CardRef) error {
	if !t.unlocked {
		return nil
	}
	t.unlocked = false
	find, args := t.cardUser(ref)
	b := &pgx.Batch{}
	b.Queue("SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock_shared($2)",
		t.db.lockTimeout(), t.db.writerLock)
	b.Queue(`SELECT u.id, pg_advisory_xact_lock(hashtextextended('agentledger user ' || current_schema() || ' ' || u.id, 0))
		FROM (SELECT coalesce((`+find+`), '') AS id) AS u`, args...)
	results := t.q.SendBatch(t.lockCtx, b)
	_, err := results.Exec()
	var user string
	if err == nil {
		err = results.QueryRow().Scan(&user, nil)
	}
	if closeErr := results.Close(); err == nil {
		err = closeErr
	}
	if err := t.lockFailed(err); err != nil {
		return err
	}
	t.shard = userShard(user)
	return nil
}

// userShard is the system accounts' shard of a user's transactions: 1 to
// userShards. Two users may share one; their charges then wait for each
// other only at that shard's row.
func userShard(user string) int {
	h := fnv.New32a()
	h.Write([]byte(user))
	return 1 + int(h.Sum32()%userShards)
}

// beforeStatement takes the lock alone before an Update's first statement,
// unless LockCardUser took a user's; it returns the lock's error, if any.
func (t *tx) beforeStatement() error {
	if t.lockErr != nil {
		return t.lockErr
	}
	if t.unlocked {
		return t.lockAlone()
	}
	return nil
}
