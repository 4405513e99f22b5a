package postgres

import (
	"errors"
	"hash/fnv"
	"strconv"

	"github.com/agentledger/agentledger/engine"
	"github.com/jackc/pgx/v5"
)

// Write transactions take one of two sets of transaction-level advisory
// locks, held until COMMIT or ROLLBACK, before fn starts (so the engine's
// clock is read after any wait):
//
//   - alone (Update): the writer lock (one key per schema), exclusively.
//     The transaction runs alone among writers on every server, as under
//     SQLite's one writer.
//   - for a user (UpdateCharge): the writer lock shared, then the lock of
//     the user whose card the charge names. Charges of different users
//     run at once; those of one user take turns, and none runs beside a
//     transaction alone.
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
// commit in the other order of their numbers, so a list of events read
// while they commit may show the later number first. Webhook senders claim
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

// begin is the BEGIN an Update's locks are sent with.
const begin = "BEGIN ISOLATION LEVEL READ COMMITTED"

// beginBatch is a batch that begins the transaction and takes the writer
// lock, shared or exclusively, bounded by the busy timeout.
func (t *tx) beginBatch(shared bool) *pgx.Batch {
	lock := "pg_advisory_xact_lock"
	if shared {
		lock = "pg_advisory_xact_lock_shared"
	}
	b := &pgx.Batch{}
	b.Queue(begin)
	b.Queue("SELECT set_config('lock_timeout', $1, true), "+lock+"($2)", t.db.lockTimeout(), t.db.writerLock)
	return b
}

// beginResults reads the results of beginBatch's two statements.
func beginResults(results pgx.BatchResults) error {
	_, err := results.Exec()
	if err == nil {
		_, err = results.Exec()
	}
	return err
}

// lockAlone begins the transaction and takes the writer lock exclusively,
// in one round trip.
func (t *tx) lockAlone() error {
	results := t.q.SendBatch(t.lockCtx, t.beginBatch(false))
	err := beginResults(results)
	if closeErr := results.Close(); err == nil {
		err = closeErr
	}
	return t.lockFailed(err)
}

// lockFailed is the error of locks not granted: the caller's ctx error
// when waiting followed it there, BUSY past the busy timeout, and
// otherwise UNAVAILABLE (nothing was written: the connection or BEGIN
// failed, or the server went away).
func (t *tx) lockFailed(err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := t.lockCtx.Err(); ctxErr != nil {
		return ctxErr
	}
	if mapped := mapError(err); engine.ErrorCode(mapped) == engine.CodeBusy {
		return mapped
	}
	return unavailable(err)
}

// cardWhere is the condition on cards c of the card a charge names.
func (t *tx) cardWhere(ref engine.CardRef) (string, []any) {
	switch {
	case ref.PAN != "":
		return `c.pan_fingerprint = $1`, []any{t.db.seal.Fingerprint(ref.PAN)}
	case ref.IssuerCardID != "":
		return `c.id = (SELECT card_id FROM card_links WHERE issuer = $1 AND external_id = $2)`,
			[]any{ref.Issuer, ref.IssuerCardID}
	}
	return `c.id = $1`, []any{ref.ID}
}

// lockCardUser begins the transaction and takes the locks for a user (see
// above), then reads what a charge looks at first (the card, its agent and
// user, the time zone), all in one round trip. The user is read after the
// writer lock is granted, by a statement of its own (links to issuers'
// cards change only alone), and the rows after the user's lock. A ref that names no card
// locks the empty user, so such declines take turns among themselves.
func (t *tx) lockCardUser(ref engine.CardRef) error {
	where, args := t.cardWhere(ref)
	b := t.beginBatch(true)
	b.Queue(`SELECT u.id,
		pg_advisory_xact_lock(hashtextextended('agentledger user ' || current_schema() || ' ' || u.id, 0))
		FROM (SELECT coalesce((SELECT a.user_id FROM cards c JOIN agents a ON a.id = c.agent_id WHERE `+where+`), '')
		AS id) AS u`, args...)
	b.Queue(`SELECT `+cardColumns+` FROM cards c WHERE `+where, args...)
	b.Queue(`SELECT `+agentColumns+` FROM agents WHERE id = (SELECT c.agent_id FROM cards c WHERE `+where+`)`, args...)
	b.Queue(`SELECT `+userColumns+` FROM users WHERE id = (SELECT a.user_id FROM cards c
		JOIN agents a ON a.id = c.agent_id WHERE `+where+`)`, args...)
	b.Queue(settingsQuery)
	results := t.q.SendBatch(t.lockCtx, b)
	defer results.Close()
	var user string
	err := beginResults(results)
	if err == nil {
		err = results.QueryRow().Scan(&user, nil)
	}
	if err := t.lockFailed(err); err != nil {
		return err
	}
	t.shard = userShard(user)
	p := &prefetched{}
	if ref.PAN != "" {
		p.pan = ref.PAN
	}
	var errs [4]error
	p.card, errs[0] = orNone(scanCard(results.QueryRow()))
	p.agent, errs[1] = orNone(scanAgent(results.QueryRow()))
	p.user, errs[2] = orNone(scanUser(results.QueryRow()))
	p.settings, errs[3] = orNone(scanSettings(results.QueryRow()))
	if err := errors.Join(errs[:]...); err != nil {
		return t.lockFailed(err)
	}
	t.prefetch = p
	return nil
}

// prefetched are the rows lockCardUser read, each given once to the
// engine's first Find of it: later Finds, and any after a write, read the
// database.
type prefetched struct {
	pan      string // the PAN the card was found by, if it was
	card     *engine.Card
	agent    *engine.Agent
	user     *engine.User
	settings *engine.Settings
}

// orNone is a scanned row, or nil when its query found none.
func orNone[T any](v *T, err error) (*T, error) {
	if isNoRows(err) {
		return nil, nil
	}
	return v, err
}

// takeCard returns the card with id (or, when pan is set, that PAN) once.
func (p *prefetched) takeCard(id, pan string) *engine.Card {
	if p == nil || p.card == nil || (pan == "" && p.card.ID != id) || (pan != "" && pan != p.pan) {
		return nil
	}
	c := p.card
	p.card = nil
	return c
}

// takeAgent returns the agent with id once.
func (p *prefetched) takeAgent(id string) *engine.Agent {
	if p == nil || p.agent == nil || p.agent.ID != id {
		return nil
	}
	a := p.agent
	p.agent = nil
	return a
}

// takeUser returns the user with id once.
func (p *prefetched) takeUser(id string) *engine.User {
	if p == nil || p.user == nil || p.user.ID != id {
		return nil
	}
	u := p.user
	p.user = nil
	return u
}

// takeSettings returns the settings once.
func (p *prefetched) takeSettings() *engine.Settings {
	if p == nil || p.settings == nil {
		return nil
	}
	s := p.settings
	p.settings = nil
	return s
}

// userShard is the system accounts' shard of a user's transactions: 1 to
// userShards. Two users may share one; their charges then wait for each
// other only at that shard's row.
func userShard(user string) int {
	h := fnv.New32a()
	h.Write([]byte(user))
	return 1 + int(h.Sum32()%userShards)
}
