package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// queryer is what a transaction runs statements on: a pgx.Tx.
type queryer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// tx implements engine.Tx. Its methods compose small find/insert helpers.
// Statements take $1, $2, … placeholders; pgx prepares and caches each.
type tx struct {
	db    *DB
	ctx   context.Context
	q     queryer
	write bool
	// failed is the first statement error: PostgreSQL aborts the whole
	// transaction on one, so Update refuses to commit after it.
	failed error

	// lockCtx is the Update's ctx, which waiting for the locks follows
	// (locks.go); statements run under ctx, which does not end with it.
	lockCtx context.Context
	// shard is the shard of the system accounts' sums this transaction adds
	// to: its user's, or 0 when it runs alone.
	shard int
	// pending are writes not sent yet (pipeline.go).
	pending []pendingWrite
	// prefetch holds rows read with a user's locks, for the engine's first
	// look at them (locks.go); any write forgets them.
	prefetch *prefetched
	// agentsRead are the agents this transaction found by id: they exist
	// until its end, since agents are never deleted.
	agentsRead map[string]bool
}

var errReadOnly = errors.New("postgres: write in a read-only transaction")

// note keeps the first error of a statement and maps it for the engine.
func (t *tx) note(err error) error {
	if err == nil || errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if t.failed == nil {
		t.failed = mapError(err)
	}
	return mapError(err)
}

func (t *tx) exec(query string, args ...any) (pgconn.CommandTag, error) {
	if !t.write {
		return pgconn.CommandTag{}, errReadOnly
	}
	t.prefetch = nil
	if len(t.pending) > 0 {
		return t.sendPending(query, args...)
	}
	tag, err := t.q.Exec(t.ctx, query, args...)
	return tag, t.note(err)
}

// execOne runs a statement that must change exactly one row; notFound is
// returned when it changes none.
func (t *tx) execOne(notFound error, query string, args ...any) error {
	tag, err := t.exec(query, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound
	}
	return nil
}

// insertUnique runs an INSERT … ON CONFLICT DO NOTHING and returns conflict
// when it inserted nothing. A unique violation would abort the whole
// transaction, and the engine goes on after a conflict (it finds the row
// that was there first).
func (t *tx) insertUnique(conflict error, query string, args ...any) error {
	return t.execOne(conflict, query, args...)
}

// rows is pgx.Rows with the statement's error noted on the transaction.
func (t *tx) query(query string, args ...any) (pgx.Rows, error) {
	if !strings.HasPrefix(query, "SELECT") {
		t.prefetch = nil // a write (ClaimDeliveries)
	}
	if err := t.flush(); err != nil {
		return nil, err
	}
	rows, err := t.q.Query(t.ctx, query, args...)
	return rows, t.note(err)
}

// row is a pgx.Row whose Scan notes a failed statement on the transaction,
// or returns err, the error of sending the writes pending before it.
type row struct {
	t   *tx
	row pgx.Row
	err error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.t.note(r.row.Scan(dest...))
}

func (t *tx) queryRow(query string, args ...any) row {
	if !strings.HasPrefix(query, "SELECT") {
		t.prefetch = nil
	}
	if err := t.flush(); err != nil {
		return row{err: err}
	}
	return row{t: t, row: t.q.QueryRow(t.ctx, query, args...)}
}

// scanner is a row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryList runs a query and scans every row with scan.
func queryList[T any](t *tx, scan func(scanner) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.note(err)
		}
		out = append(out, v)
	}
	return out, t.note(rows.Err())
}

// findOne scans the single row of a query, or returns notFound.
func findOne[T any](t *tx, scan func(scanner) (*T, error), notFound error, query string, args ...any) (*T, error) {
	v, err := scan(t.queryRow(query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound
	}
	return v, err
}

// refColumn says which unique column a reference is for: the id when it
// carries the type's prefix (names may not), otherwise the name.
func refColumn(ref, prefix string) string {
	if strings.HasPrefix(ref, prefix) {
		return "id"
	}
	return "name"
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

func notFound(what, ref string) error {
	return &engine.Error{Code: engine.CodeNotFound, Message: what + " " + ref + " not found"}
}

func conflict(message string) error {
	return &engine.Error{Code: engine.CodeConflict, Message: message}
}

// Times are stored as Unix microseconds (BIGINT), as the SQLite store
// keeps them.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nullMicros is a nullable time column's value.
func nullMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMicro()
	return &v
}

// timePtr reads a nullable time column scanned into a *int64.
func timePtr(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMicros(*v)
	return &t
}

// mustJSON encodes engine structures for JSON columns; they always encode.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("postgres: cannot encode " + err.Error())
	}
	return string(b)
}

// conditions are a listing's WHERE terms (storekit's), their ? markers
// numbered $1, $2, … by query.
type conditions struct{ storekit.Conditions }

// query is storekit's Query with PostgreSQL's numbered parameters.
func (c *conditions) query(selectFrom, orderBy string, limit int) (string, []any) {
	q, args := c.Query(selectFrom, orderBy, limit)
	return numbered(q), args
}

// numbered replaces each ? of q with $1, $2, … in order. Queries built with
// conditions must not use PostgreSQL's jsonb ? operators.
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
