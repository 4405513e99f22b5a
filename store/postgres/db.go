// Package postgres is agentledger's store on PostgreSQL, for teams that run
// several servers on one database. It implements engine.Store with the same
// guarantees as the SQLite store, by PostgreSQL's means.
//
// Writers take turns, or run at once when they spend for different users.
// Every write transaction takes transaction-level advisory locks before fn
// starts, held until its COMMIT or ROLLBACK, across every server on the
// database (locks.go). A transaction alone takes the writer lock (keyed by
// the schema) exclusively: the single writer SQLite's BEGIN IMMEDIATE gives.
// A charge (UpdateCharge) takes it shared and then the lock of its
// card's user, so charges of different users are decided at once and those
// of one user take turns. Either way the engine reads what it decides on
// (balances, counters, the card and agent) and writes the outcome under the
// lock that covers them, so no limit or balance can be exceeded by two
// servers deciding at once. READ COMMITTED is enough under the lock: each
// statement sees every transaction that committed before the lock was
// granted, since PostgreSQL releases a transaction's locks only after its
// commit is durable and visible. Reads (View) run in REPEATABLE READ READ
// ONLY snapshots beside the writers and never wait for them.
package postgres

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	neturl "net/url"
	"runtime/debug"
	"strings"
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

// lockKeys is the query of the two advisory locks' keys. The writer lock is
// held by every write transaction, one key per schema: exclusively by a
// transaction alone, shared by a charge (locks.go). The migration lock is
// held while migrations run, so that servers starting at once apply each
// step exactly once. The keys hash the schema's name: agentledgers in two
// schemas of one database (search_path) are two ledgers and need not wait
// for each other.
const lockKeys = `SELECT current_schema(), hashtextextended('agentledger writer ' || current_schema(), 0),
	hashtextextended('agentledger migrations ' || current_schema(), 0)`

// Options configure a DB.
type Options struct {
	// Key is the 32-byte secret that seals card PANs and CVVs, webhook
	// secrets and stored idempotent responses (AES-256-GCM). Required.
	Key []byte
	// BusyTimeout is how long a write waits for another server's write
	// before failing with engine.CodeBusy. DefaultBusyTimeout when zero.
	BusyTimeout time.Duration
	// MaxConns caps the connection pool: when zero, the URL's
	// pool_max_conns, else DefaultMaxConns.
	MaxConns int32
	// MustExist refuses, with ErrNotInitialized, a database without
	// agentledger's tables instead of creating them: every command but
	// init's, so that a mistyped URL creates nothing.
	MustExist bool
	// OnCommit, when set, hears of each commit: how many write transactions
	// it carried (always 1) and how long it took from BEGIN to COMMIT.
	OnCommit func(transactions int, took time.Duration)
}

// DB is an open agentledger database on PostgreSQL. It implements
// engine.Store.
type DB struct {
	pool          *pgxpool.Pool
	writerLock    int64
	migrationLock int64
	seal          *seal.Sealer
	busy          time.Duration
	onCommit      func(int, time.Duration)
}

// ErrNotInitialized is Open's answer, with Options.MustExist, for a
// database without agentledger's tables.
var ErrNotInitialized = errors.New("postgres: no agentledger tables in this database")

// IsURL reports whether a --db value names a PostgreSQL database rather
// than a SQLite file.
func IsURL(db string) bool {
	// Lower case only: pgx takes nothing else for a URL.
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
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
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns="): // the URL's own wins
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
	var schema *string
	if err := pool.QueryRow(ctx, lockKeys).Scan(&schema, &db.writerLock, &db.migrationLock); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s", redact(err))
	} else if schema == nil {
		pool.Close()
		return nil, errors.New("postgres: no schema to work in: the search_path names none that exists")
	}
	if opts.MustExist {
		if ok, err := migrated(ctx, pool); err != nil || !ok {
			pool.Close()
			return nil, cmp.Or(err, ErrNotInitialized)
		}
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := db.checkKey(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// keyCheck is what the settings row key_check seals, with the first key
// that opened the database.
const keyCheck = "agentledger store key check"

// checkKey refuses a key other than the one the database's secrets are
// sealed with. Several servers share one database, and each has the key
// from its own file or environment: one with another key would seal new
// cards that no other server can open, and fail to open theirs.
func (db *DB) checkKey(ctx context.Context) error {
	sealed := hex.EncodeToString(db.seal.Seal([]byte(keyCheck), []byte("key_check")))
	if _, err := db.pool.Exec(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ('key_check', $1, 0)
		ON CONFLICT (key) DO NOTHING`, sealed); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var kept string
	if err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'key_check'`).Scan(&kept); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	raw, err := hex.DecodeString(kept)
	if err == nil {
		var plain []byte
		plain, err = db.seal.Open(raw, []byte("key_check"))
		if err == nil && string(plain) != keyCheck {
			err = errors.New("wrong check value")
		}
	}
	if err != nil {
		return errors.New("postgres: the store key does not open this database's secrets: every server on one database " +
			"needs the same key ($AGENTLEDGER_KEY or --key-file)")
	}
	return nil
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

// Update implements engine.Store: the transaction runs alone among writers
// (locks.go). Once fn has started, it runs to its end whatever happens to
// ctx, as the engine's contract asks. Its BEGIN goes with its locks, and its
// COMMIT with the writes still pending (pipeline.go): one round trip each.
func (db *DB) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return db.update(ctx, nil, fn)
}

// UpdateCharge implements engine.Store: the transaction runs beside the
// charges of other users (locks.go), and reads the card, its agent and user
// with its locks.
func (db *DB) UpdateCharge(ctx context.Context, ref engine.CardRef, fn func(engine.Tx) error) error {
	return db.update(ctx, &ref, fn)
}

// update runs fn after taking the locks of a transaction alone (ref nil) or
// of a charge on ref.
func (db *DB) update(ctx context.Context, ref *engine.CardRef, fn func(engine.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Waiting for a connection and for the locks follows ctx, bounded like
	// SQLite's busy timeout (CodeBusy after): fn has not started, and a
	// client that went away need not wait its turn.
	began := time.Now()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return unavailable(err)
	}
	t := &tx{db: db, ctx: context.WithoutCancel(ctx), lockCtx: ctx, q: conn, write: true}
	committed := false
	defer func() {
		if !committed {
			// Best effort: a connection left inside a transaction, or
			// broken, is closed by Release rather than reused.
			conn.Exec(t.ctx, "ROLLBACK") //nolint:errcheck
		}
		conn.Release()
	}()
	if ref == nil {
		err = t.lockAlone()
	} else {
		err = t.lockCardUser(*ref)
	}
	if err != nil {
		return err
	}
	// From here fn runs to its end, whatever happens to ctx.
	if err := runSafely(fn, t); err != nil {
		return err
	}
	if t.failed != nil {
		// A statement failed and fn went on: PostgreSQL has aborted the
		// transaction, so nothing fn decided on after it can be kept.
		return t.failed
	}
	if err := t.commit(); err != nil {
		return err
	}
	committed = true
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

// commitFailed is the error of a COMMIT that did not succeed. When the
// server answered, it rolled the transaction back: nothing was written.
// When the connection failed instead, the server may have committed before
// it went: the outcome is unknown, and saying nothing was written could
// make a client retry a charge that went through.
func commitFailed(err error) error {
	// An ERROR is the server refusing the COMMIT; a FATAL or PANIC (the
	// backend terminated, the server shutting down) may come after the
	// commit was already durable.
	var pe *pgconn.PgError
	if (errors.As(err, &pe) && pe.Severity == "ERROR") || errors.Is(err, pgx.ErrTxCommitRollback) {
		return unavailable(err)
	}
	return &engine.Error{Code: engine.CodeInternal, Message: "the connection to the database failed during COMMIT (" + err.Error() +
		"), so whether the change was written is unknown: look before retrying (a retry with the same network id or " +
		"idempotency key is safe)"}
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

// Redact is url without its password, in the user:password@ part or a
// password= or sslpassword= parameter: the form to print, log, or put in
// a printed client config, which then connects with $PGPASSWORD or
// ~/.pgpass (pgx reads both), where a password belongs rather than in a
// command line others may see. It splits the URL as pgx does
// (pgconn/parse_url.go): the user information runs to the first @ before
// any /, and # or ? mean nothing inside it.
func Redact(raw string) string {
	if _, err := pgconn.ParseConfig(raw); err != nil {
		return "postgres://(a URL that does not parse)"
	}
	scheme, p, _ := strings.Cut(raw, "://")
	user := ""
	if i := strings.IndexAny(p, "@/"); i >= 0 && p[i] == '@' {
		name, _, _ := strings.Cut(p[:i], ":")
		user, p = name+"@", p[i+1:]
	}
	// The hosts and the database end at the first ?, which starts the
	// parameters.
	rest, query, hasQuery := strings.Cut(p, "?")
	if hasQuery {
		var kept []string
		for _, pair := range strings.Split(query, "&") {
			name, _, _ := strings.Cut(pair, "=")
			if n, err := neturl.QueryUnescape(name); err == nil {
				name = n
			}
			if n := strings.ToLower(name); n != "password" && n != "sslpassword" {
				kept = append(kept, pair)
			}
		}
		if len(kept) > 0 {
			rest += "?" + strings.Join(kept, "&")
		}
	}
	return scheme + "://" + user + rest
}
