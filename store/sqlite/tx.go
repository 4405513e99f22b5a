package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

// queryer is what a transaction runs statements on: the writer connection
// (inside BEGIN IMMEDIATE) or a read-only *sql.Tx.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx implements engine.Tx. Its methods compose small find/insert helpers.
type tx struct {
	db    *DB
	ctx   context.Context
	q     queryer
	write bool
	// events waits to be written, with every other event of the commit,
	// just before COMMIT (see InsertEvent).
	events []*engine.Event
	// balances are the batch's transfers' sums, written just before COMMIT.
	balances *batchBalances
	// authChecks are the checks (JSON) of the authorizations the batch
	// inserted, by id, for their events to refer to (compactEvent).
	authChecks map[string]string
	// counterSums are the batch's counter increments, written just before
	// COMMIT (see AddCounters).
	counterSums map[engine.CounterKey]engine.Counter
	// riskStates are the batch's newest risk state of each agent, saved
	// just before COMMIT (see UpdateAgentRisk).
	riskStates map[string]engine.RiskState
}

var errReadOnly = errors.New("sqlite: write in a read-only transaction")

// stmt returns the writer's prepared statement for query, preparing it once.
// Only the writer goroutine calls it, so the cache needs no lock.
func (t *tx) stmt(query string) (*sql.Stmt, error) {
	t.db.statements.Add(1)
	if s, ok := t.db.stmts[query]; ok {
		return s, nil
	}
	s, err := t.db.conn.PrepareContext(t.ctx, query)
	if err != nil {
		return nil, err
	}
	t.db.stmts[query] = s
	return s, nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if !t.write {
		return nil, errReadOnly
	}
	s, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	res, err := s.ExecContext(t.ctx, args...)
	return res, mapError(err)
}

// execOne runs a statement that must change exactly one row; notFound is
// returned when it changes none.
func (t *tx) execOne(notFound error, query string, args ...any) error {
	res, err := t.exec(query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound
	}
	return nil
}

// prepared returns the statement for query: the writer's, or the reader
// pool's bound to this read transaction.
func (t *tx) prepared(query string) (*sql.Stmt, error) {
	if t.write {
		return t.stmt(query)
	}
	rtx := t.q.(*sql.Tx)
	if s := t.db.readStmt(query); s != nil {
		return rtx.StmtContext(t.ctx, s), nil
	}
	return rtx.PrepareContext(t.ctx, query) // on this transaction's connection; closed with it
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	s, err := t.prepared(query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(t.ctx, args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	s, err := t.prepared(query)
	if err != nil {
		return t.q.QueryRowContext(t.ctx, query, args...) // reports the same error on Scan
	}
	return s.QueryRowContext(t.ctx, args...)
}

// scanner is a *sql.Row or *sql.Rows.
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
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// findOne scans the single row of a query, or returns notFound.
func findOne[T any](t *tx, scan func(scanner) (*T, error), notFound error, query string, args ...any) (*T, error) {
	v, err := scan(t.queryRow(query, args...))
	if errors.Is(err, sql.ErrNoRows) {
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

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

func notFound(what, ref string) error {
	return &engine.Error{Code: engine.CodeNotFound, Message: what + " " + ref + " not found"}
}

// Times are stored as Unix microseconds.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullInt(v *int64) sql.NullInt64 {
	if v == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *v, Valid: true}
}

func intPtr(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mustJSON encodes engine structures for JSON columns; they always encode.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlite: cannot encode " + err.Error())
	}
	return string(b)
}

// conditions are a listing's WHERE terms (storekit's), with SQLite's
// reads over a (scope, status, id) index.
type conditions struct{ storekit.Conditions }

// queryByStatus is query for a page over an index that leads with the
// list's scope and a status before its order (agent_id, status, id): one
// keyset read per status, each on its own stretch of the index and cut at
// the limit, merged by their order. A page of a rare status then reads its
// own rows, not the scope's whole history, and a page of every status reads
// at most limit rows per status. Without a limit (a whole list) it is query
// with the statuses as a filter. SQLite applies a LIMIT inside a compound
// SELECT only in a subquery, hence SELECT * FROM (…) around each read.
func (c *conditions) queryByStatus(selectFrom, column string, statuses []string, orderBy string, limit int) (string, []any) {
	return c.queryByStatusMerged(selectFrom, column, statuses, orderBy, orderBy, limit)
}

// queryByStatusMerged is queryByStatus for reads whose order names columns
// by table (d.event_seq): mergeBy is the order by the result's names.
func (c *conditions) queryByStatusMerged(selectFrom, column string, statuses []string, orderBy, mergeBy string, limit int) (string, []any) {
	if limit == 0 || len(statuses) == 1 {
		return c.With(storekit.InValues(column, statuses)).Query(selectFrom, orderBy, limit)
	}
	var q strings.Builder
	var args []any
	for i, status := range statuses {
		branch, branchArgs := c.With(storekit.InValues(column, []string{status})).Query(selectFrom, orderBy, limit)
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		q.WriteString("SELECT * FROM (" + branch + ")")
		args = append(args, branchArgs...)
	}
	q.WriteString(" ORDER BY " + mergeBy + " LIMIT ?")
	return q.String(), append(args, limit)
}

// inList returns "?, ?, ?" for n placeholders.
func inList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// valueRows is the placeholders of a multi-row VALUES list: rows rows of
// cols parameters each, "(?, ?), (?, ?)".
// rowsChunk bounds the rows of one statement that writes a batch's rows.
const rowsChunk = 100

// updateEvery runs `UPDATE table SET set FROM (VALUES ...) AS d WHERE
// table.id = d.column1` over ids, rowsChunk at a time, each id's row of
// cols values (the id first) appended by row, and fails unless it updated
// one row for every id: each must name a row that exists.
func (t *tx) updateEvery(table, set string, cols int, ids []string, row func(args []any, id string) []any) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), rowsChunk)]
		ids = ids[len(chunk):]
		args := make([]any, 0, cols*len(chunk))
		for _, id := range chunk {
			args = row(args, id)
		}
		res, err := t.exec(`UPDATE `+table+` SET `+set+` FROM (VALUES `+valueRows(len(chunk), cols)+`) AS d
			WHERE `+table+`.id = d.column1`, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != int64(len(chunk)) {
			return fmt.Errorf("sqlite: %d of %d %s updated", n, len(chunk), table)
		}
	}
	return nil
}

func valueRows(rows, cols int) string {
	return strings.TrimSuffix(strings.Repeat("("+inList(cols)+"), ", rows), ", ")
}

func stringArgs(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}
