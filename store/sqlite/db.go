// Package sqlite is the SQLite implementation of engine.Store, on the pure-Go
// modernc.org/sqlite driver.
//
// One goroutine owns the single writer connection and runs every write
// transaction; readers use a small pool of read-only connections that see
// committed snapshots (WAL). Write transactions that arrive while the writer
// is busy are committed together: each runs inside its own SAVEPOINT of one
// BEGIN IMMEDIATE transaction, and none is answered before the COMMIT that
// makes all of them durable (group commit). Several processes may open the
// same file; SQLite's file lock and the busy timeout serialize their writers.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/seal"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Defaults for Options.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultMaxBatch    = 64
	DefaultReaders     = 4
)

// Options configure a DB.
type Options struct {
	// Key is the 32-byte secret that seals card PANs and CVVs and stored
	// idempotent responses (AES-256-GCM). Required.
	Key []byte
	// BusyTimeout is how long a transaction waits for another process's
	// lock before failing with engine.CodeBusy. DefaultBusyTimeout when zero.
	BusyTimeout time.Duration
	// MaxBatch caps how many write transactions one commit may carry.
	// DefaultMaxBatch when zero; 1 turns group commit off.
	MaxBatch int
	// Readers is the size of the read connection pool. DefaultReaders when zero.
	Readers int
	// OnCommit, when set, hears of each commit of the writer: how many write
	// transactions it carried and how long it took from BEGIN to COMMIT
	// (metrics). It runs on the writer goroutine: it must be quick.
	OnCommit func(transactions int, took time.Duration)

	checkpoints checkpointConfig // defaultCheckpoints when zero
}

// DB is an open agentledger database. It implements engine.Store.
type DB struct {
	path   string
	writer *sql.DB
	conn   *sql.Conn            // the one writer connection
	stmts  map[string]*sql.Stmt // prepared on conn; used only by the writer goroutine
	reader *sql.DB
	// readStmts are statements prepared on the reader pool, by query text:
	// database/sql prepares each once per connection and reuses it.
	readStmts sync.Map
	preparing sync.Map       // queries being prepared on the reader pool
	preparers sync.WaitGroup // their goroutines, which Close waits for
	seal      *seal.Sealer

	maxBatch int
	onCommit func(transactions int, took time.Duration)
	requests chan *writeRequest
	closing  chan struct{}
	stopped  chan struct{}
	mu       sync.RWMutex // held for reading while enqueueing, for writing to close
	closed   bool

	commits      atomic.Int64
	transactions atomic.Int64
	statements   atomic.Int64 // run by the writer's transactions (benchmarks)

	cache writerCache // writer goroutine only
	// knownAccounts are accounts the writer saw exist (writer goroutine only).
	knownAccounts map[string]struct{}
	ckpt          *checkpointer
	commitMu      sync.Mutex   // held by the writer for each batch; by the checkpointer to pause it
	walFrames     atomic.Int64 // frames the writer appended to the log
}

var _ engine.Store = (*DB)(nil)

type writeRequest struct {
	fn   func(engine.Tx) error
	done chan error
}

// Open opens (creating if needed, mode 0600) the database at path, applies
// pending migrations, and starts the writer.
func Open(path string, opts Options) (*DB, error) {
	sealer, err := seal.New(opts.Key)
	if err != nil {
		return nil, err
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Readers <= 0 {
		opts.Readers = DefaultReaders
	}
	if opts.checkpoints == (checkpointConfig{}) {
		opts.checkpoints = defaultCheckpoints
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := createOwnerOnly(abs); err != nil {
		return nil, err
	}
	db := &DB{
		path: abs, seal: sealer, stmts: map[string]*sql.Stmt{}, maxBatch: opts.MaxBatch, onCommit: opts.OnCommit,
		requests: make(chan *writeRequest, 4*opts.MaxBatch), closing: make(chan struct{}), stopped: make(chan struct{}),
	}
	if err := db.open(opts); err != nil {
		db.closeConnections()
		return nil, err
	}
	if err := db.startCheckpointer(opts.checkpoints); err != nil {
		db.closeConnections()
		return nil, err
	}
	go db.writeLoop()
	return db, nil
}

// createOwnerOnly creates a missing database file with mode 0600 before
// SQLite opens it: the file holds sealed card numbers and key hashes, and
// SQLite gives the -wal, -shm and -journal files it makes the mode of the
// database file. An existing file is left as it is, mode included.
func createOwnerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// dsn builds the file URI with the pragmas of DESIGN §7. The writer takes
// the write lock at BEGIN (_txlock=immediate) so that a transaction never
// has to upgrade a read lock, which is what deadlocks concurrent writers.
// It never checkpoints: the checkpointer does (checkpoint.go).
func dsn(path string, busy time.Duration, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_pragma", "temp_store(MEMORY)")
		q.Add("_pragma", "cache_size(-65536)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

func (db *DB) open(opts Options) error {
	var err error
	ctx := context.Background()
	if db.writer, err = sql.Open("sqlite", dsn(db.path, opts.BusyTimeout, false)); err != nil {
		return err
	}
	db.writer.SetMaxOpenConns(1)
	// Switching a new file to WAL takes a lock that SQLite's busy handler
	// does not wait for: processes opening one new file at once may find it
	// locked for a moment, so the writer's connection is tried again.
	for deadline := time.Now().Add(opts.BusyTimeout); ; time.Sleep(10 * time.Millisecond) {
		db.conn, err = db.writer.Conn(ctx)
		if err == nil || !strings.Contains(err.Error(), "database is locked") || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", db.path, err)
	}
	// A log file that grew (readers kept it from restarting) is cut back
	// when it restarts.
	limit := fmt.Sprintf("PRAGMA journal_size_limit = %d", opts.checkpoints.walSizeLimit())
	if _, err := db.conn.ExecContext(ctx, limit); err != nil {
		return fmt.Errorf("open %s: %w", db.path, err)
	}
	if err := migrate(ctx, db.conn); err != nil {
		return fmt.Errorf("migrate %s: %w", db.path, err)
	}
	if db.reader, err = sql.Open("sqlite", dsn(db.path, opts.BusyTimeout, true)); err != nil {
		return err
	}
	db.reader.SetMaxOpenConns(opts.Readers)
	db.reader.SetMaxIdleConns(opts.Readers)
	return nil
}

// Path returns the database file's absolute path.
func (db *DB) Path() string { return db.path }

// Close waits for queued writes to commit, then closes the database.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.closing)
	db.mu.Unlock()
	<-db.stopped
	db.preparers.Wait() // no connection may outlive Close
	return db.closeConnections()
}

func (db *DB) closeConnections() error {
	var errs []error
	if db.ckpt != nil {
		errs = append(errs, db.ckpt.close())
	}
	for _, s := range db.stmts {
		errs = append(errs, s.Close())
	}
	db.readStmts.Range(func(_, s any) bool {
		errs = append(errs, s.(*sql.Stmt).Close())
		return true
	})
	if db.conn != nil {
		errs = append(errs, db.conn.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
	}
	return errors.Join(errs...)
}

// errClosed is returned by calls on a closed DB.
var errClosed = errors.New("sqlite: database is closed")

// UpdateCharge implements engine.Store: Update, since the one writer runs
// every write transaction alone anyway.
func (db *DB) UpdateCharge(ctx context.Context, _ engine.CardRef, fn func(engine.Tx) error) error {
	return db.Update(ctx, fn)
}

// Update implements engine.Store. The request is queued for the writer
// goroutine; once queued it runs to completion whatever happens to ctx.
func (db *DB) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeRequest{fn: fn, done: make(chan error, 1)}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return errClosed
	}
	db.requests <- req // the writer drains the queue until Close returns
	db.mu.RUnlock()
	return <-req.done
}

// View implements engine.Store.
func (db *DB) View(ctx context.Context, fn func(engine.Tx) error) error {
	sqlTx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return mapError(err)
	}
	defer sqlTx.Rollback()
	return fn(&tx{db: db, ctx: ctx, q: sqlTx})
}

// Stats reports how many write transactions have been committed, and in
// how many commits: their ratio is the average group-commit batch.
func (db *DB) Stats() (transactions, commits int64) {
	return db.transactions.Load(), db.commits.Load()
}

// writeLoop is the writer goroutine: it takes the first waiting request,
// then every other one already queued (up to MaxBatch), and commits them
// together.
func (db *DB) writeLoop() {
	defer close(db.stopped)
	batch := make([]*writeRequest, 0, db.maxBatch)
	for {
		var first *writeRequest
		select {
		case first = <-db.requests:
		case <-db.closing:
			// Close holds mu, so nothing more can be queued: drain and stop.
			for {
				select {
				case first = <-db.requests:
					db.runBatch(append(batch[:0], first))
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < db.maxBatch {
			select {
			case r := <-db.requests:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		db.runBatch(batch)
	}
}

// runBatch runs the requests in one transaction, each in its own savepoint
// so that one failing request rolls back only its own writes. No request is
// answered before the COMMIT: a request that failed may have failed because
// of what an earlier one in the batch wrote (a settle told "already
// reversed"), and that answer is only true if those writes commit. When the
// COMMIT fails, every request of the batch gets a retryable error.
func (db *DB) runBatch(batch []*writeRequest) {
	db.commitMu.Lock() // the checkpointer may be finishing a checkpoint
	defer db.commitMu.Unlock()
	ctx := context.Background() // commits are never cancelled half-way
	began := time.Now()
	if _, err := db.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		db.fail(batch, mapError(err))
		return
	}
	db.began()
	// What the writer keeps may have come from rolled-back writes, unless
	// every change was undone with its request or committed.
	keep := false
	defer func() {
		if !keep {
			db.cache = writerCache{}
		}
	}()
	t := &tx{db: db, ctx: ctx, q: db.conn, write: true}
	useSavepoints := len(batch) > 1
	answers := make([]error, len(batch))
	succeeded := 0
	for i, r := range batch {
		if useSavepoints {
			if _, err := db.conn.ExecContext(ctx, "SAVEPOINT op"); err != nil {
				db.rollback(ctx, batch, err)
				return
			}
		}
		queued, balances, kept := len(t.events), t.balancesMark(), db.cache.hot.mark()
		err := runSafely(r.fn, t)
		if err != nil {
			// The request's events and what it did to kept rows roll back
			// with it.
			t.events = t.events[:queued]
			t.authChecks = nil // its authorizations are gone: later events keep their checks whole
			t.undoBalances(balances)
			db.cache.hot.undo(kept)
		}
		switch {
		case err != nil && !useSavepoints:
			// Alone in its transaction, it decided on committed state only.
			_, rbErr := db.conn.ExecContext(ctx, "ROLLBACK")
			keep = rbErr == nil
			r.done <- err
			return
		case err != nil:
			if _, rbErr := db.conn.ExecContext(ctx, "ROLLBACK TO op; RELEASE op"); rbErr != nil {
				db.rollback(ctx, batch, rbErr)
				return
			}
		case useSavepoints:
			if _, err := db.conn.ExecContext(ctx, "RELEASE op"); err != nil {
				db.rollback(ctx, batch, err)
				return
			}
		}
		if answers[i] = err; err == nil {
			succeeded++
		}
	}
	if succeeded == 0 {
		// Nothing to commit: each failure was decided on committed state
		// and on the failed (rolled back) writes of the others, which is
		// what it would have seen alone.
		_, rbErr := db.conn.ExecContext(ctx, "ROLLBACK")
		keep = rbErr == nil
		db.answer(batch, answers)
		return
	}
	// What the batch's requests left to write once, just before COMMIT.
	for _, write := range []func() error{t.writeCounters, t.writeRiskStates, t.writeBalances, t.writeEvents} {
		if err := write(); err != nil {
			db.rollback(ctx, batch, err)
			return
		}
	}
	if _, err := db.conn.ExecContext(ctx, "COMMIT"); err != nil {
		db.rollback(ctx, batch, err)
		return
	}
	keep = true
	db.committed()
	db.rememberAccounts(t.balances)
	db.cache.hot.committed()
	db.appendedFrames()
	db.commits.Add(1)
	db.transactions.Add(int64(succeeded))
	if db.onCommit != nil {
		db.onCommit(succeeded, time.Since(began))
	}
	db.answer(batch, answers)
}

func (db *DB) answer(batch []*writeRequest, answers []error) {
	for i, r := range batch {
		r.done <- answers[i]
	}
}

// rollback abandons the whole transaction: nothing any request of the batch
// wrote is kept, so each gets a retryable error, whatever it decided.
func (db *DB) rollback(ctx context.Context, batch []*writeRequest, cause error) {
	db.conn.ExecContext(ctx, "ROLLBACK")
	db.fail(batch, &engine.Error{Code: engine.CodeUnavailable,
		Message: "the database could not commit (" + commitCause(cause) + "); nothing was written: try again"})
}

// commitCause names why a commit failed, in words for the caller.
func commitCause(err error) string {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return sqlite.ErrorCodeString[se.Code()]
	}
	return "an internal error"
}

func (db *DB) fail(requests []*writeRequest, err error) {
	for _, r := range requests {
		r.done <- err
	}
}

// runSafely runs fn, turning a panic into an internal error so that one bad
// request cannot take the writer down.
func runSafely(fn func(engine.Tx) error, t *tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sqlite: panic in transaction: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(t)
}

// mapError turns SQLite errors the engine cares about into engine errors.
func mapError(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &engine.Error{Code: engine.CodeBusy, Message: "the database is busy (locked by another process); try again"}
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return &engine.Error{Code: engine.CodeConflict, Message: "already exists"}
	}
	return err
}

// readStmt returns the reader pool's prepared statement for query, or nil
// when there is none yet. Then it starts preparing one in the background:
// preparing on the pool needs a free connection, and the caller holds one
// in its transaction — with every reader in such a transaction, waiting
// for it would deadlock.
func (db *DB) readStmt(query string) *sql.Stmt {
	if s, ok := db.readStmts.Load(query); ok {
		return s.(*sql.Stmt)
	}
	db.mu.RLock()
	defer db.mu.RUnlock()
	if _, busy := db.preparing.LoadOrStore(query, true); !busy && !db.closed {
		db.preparers.Add(1)
		go func() {
			defer db.preparers.Done()
			defer db.preparing.Delete(query)
			s, err := db.reader.PrepareContext(context.Background(), query)
			if err != nil {
				return // closed, or a bad query: the transaction's own prepare reports it
			}
			if _, loaded := db.readStmts.LoadOrStore(query, s); loaded {
				s.Close()
			}
		}()
	}
	return nil
}

// Ping checks that the database can be read.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	return db.reader.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1)").Scan(&n)
}
