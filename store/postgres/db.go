// Package postgres is agentledger's store on PostgreSQL, for teams that run
// several servers on one database. It implements engine.Store with the same
// guarantees as the SQLite store, by PostgreSQL's means.
//
// Writers take turns. Every Update begins by taking one transaction-level
// advisory lock (pg_advisory_xact_lock), held until its COMMIT or ROLLBACK,
// across every server on the database: the same single writer SQLite's
// BEGIN IMMEDIATE gives. The engine reads what it decides on (balances,
// counters, the card and agent) and writes the outcome inside that one
// transaction, so no limit or balance can be exceeded by two servers deciding
// at once, and event sequence numbers are assigned in commit order, the order
// webhook endpoints receive them in. READ COMMITTED is enough under the lock:
// each statement sees every transaction that committed before the lock was
// granted, since PostgreSQL releases a transaction's locks only after its
// commit is durable and visible. Reads (View) run in REPEATABLE READ READ ONLY
// snapshots beside the writer and never wait for it.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of Options.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultMaxConns    = 16
)

// writerLock is the advisory lock every write transaction holds: one key,
// so one writer at a time on the database (the bytes of "agentldg").
const writerLock int64 = 0x6167656e746c6467

// migrationLock is held while migrations run, so that servers starting at
// once apply each step exactly once.
const migrationLock int64 = writerLock + 1

// Options configure a DB.
type Options struct {
	// Key is the 32-byte secret that seals card PANs and CVVs, webhook
	// secrets and stored idempotent responses (AES-256-GCM). Required.
	Key []byte
	// BusyTimeout is how long a write waits for another server's write
	// before failing with engine.CodeBusy. DefaultBusyTimeout when zero.
	BusyTimeout time.Duration
	// MaxConns caps the connection pool. DefaultMaxConns when zero.
	MaxConns int32
	// OnCommit, when set, hears of each commit: how many write transactions
	// it carried (always 1) and how long it took from BEGIN to COMMIT.
	OnCommit func(transactions int, took time.Duration)
}

// DB is an open agentledger database on PostgreSQL. It implements
// engine.Store.
type DB struct {
	pool     *pgxpool.Pool
	seal     *seal.Sealer
	busy     time.Duration
	onCommit func(int, time.Duration)
}

// IsURL reports whether a --db value names a PostgreSQL database rather
// than a SQLite file.
func IsURL(db string) bool {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if len(db) >= len(scheme) && db[:len(scheme)] == scheme {
			return true
		}
	}
	return false
}

// Open connects to the database at url (postgres://…), applies pending
// migrations under an advisory lock, and returns the store. It fails when
// the database cannot be reached or is at a newer schema than this binary.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	sealer, err := seal.New(opts.Key)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: the database URL is not valid: %s", redact(err))
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s", redact(err))
	}
	db := &DB{pool: pool, seal: sealer, busy: opts.BusyTimeout, onCommit: opts.OnCommit}
	if db.busy <= 0 {
		db.busy = DefaultBusyTimeout
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// redact is an error's text without the password a URL may carry: pgx
// names the server it tried, never the password, but a parse error quotes
// its input.
func redact(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return "cannot parse the URL (check its form: postgres://user:password@host:port/database)"
	}
	return err.Error()
}

// Close closes every connection.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database can be read.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	return db.pool.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1) AS u").Scan(&n)
}

// Update implements engine.Store. Once fn has started, the transaction runs
// to its end whatever happens to ctx, as the engine's contract asks.
func (db *DB) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	began := time.Now()
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return unavailable(err)
	}
	defer ptx.Rollback(ctx) // a no-op after Commit
	// The lock wait is bounded like SQLite's busy timeout: CodeBusy after.
	timeout := strconv.FormatInt(db.busy.Milliseconds(), 10) + "ms"
	if _, err := ptx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true), pg_advisory_xact_lock($2)", timeout, writerLock); err != nil {
		return mapError(err)
	}
	t := &tx{db: db, ctx: ctx, q: ptx, write: true}
	if err := runSafely(fn, t); err != nil {
		return err
	}
	if t.failed != nil {
		// A statement failed and fn went on: PostgreSQL has aborted the
		// transaction, so nothing fn decided on after it can be kept.
		return t.failed
	}
	if err := ptx.Commit(ctx); err != nil {
		return unavailable(err)
	}
	if db.onCommit != nil {
		db.onCommit(1, time.Since(began))
	}
	return nil
}

// View implements engine.Store: a consistent snapshot of committed state.
func (db *DB) View(ctx context.Context, fn func(engine.Tx) error) error {
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return mapError(err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	return runSafely(fn, &tx{db: db, ctx: ctx, q: ptx})
}

// runSafely runs fn, turning a panic into an internal error.
func runSafely(fn func(engine.Tx) error, t *tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("postgres: panic in transaction: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(t)
}

// unavailable is the error of a commit (or a begin) that failed: nothing
// was written.
func unavailable(err error) error {
	return &engine.Error{Code: engine.CodeUnavailable, Message: "the database did not commit: " + err.Error()}
}

// mapError turns PostgreSQL errors the engine cares about into engine errors.
func mapError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case "55P03", "40P01", "40001": // lock_not_available, deadlock_detected, serialization_failure
		return &engine.Error{Code: engine.CodeBusy, Message: "the database is busy (another server is writing); try again"}
	case "23505": // unique_violation
		return &engine.Error{Code: engine.CodeConflict, Message: "already exists"}
	}
	return err
}
