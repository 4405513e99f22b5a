package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Each statement is a round trip to the server, and round trips, more than
// the statements' own work, are what a decision costs the server and the
// client in CPU. So an Update sends its BEGIN with its locks (locks.go), and
// a write whose only outcome is success or an error (an event, counters, a
// risk state, a transfer already checked) waits, pending, to go in one
// round trip with the transaction's next statement or its COMMIT.
// Statements still run in the order the engine made them; what moves is
// when a pending write's error is seen: at that next statement, which then
// fails with it, or at COMMIT, which is then not sent. Either way the
// transaction keeps nothing (PostgreSQL aborts it on a failed statement, and
// t.failed refuses the commit), as if the write had failed at once. Writes
// whose outcome the engine acts on (a conflict, a row not found, a count)
// are never pending.

// pendingWrite is a write not sent yet.
type pendingWrite struct {
	query string
	args  []any
}

// execLater queues a write to go with the next statement or COMMIT.
func (t *tx) execLater(query string, args ...any) error {
	if !t.write {
		return errReadOnly
	}
	if t.failed != nil {
		return t.failed
	}
	t.prefetch = nil
	t.pending = append(t.pending, pendingWrite{query: query, args: args})
	return nil
}

// sendPending sends the pending writes, then query when it is not empty, in
// one round trip, and returns query's command tag. A pending write's error
// is noted on the transaction and returned.
func (t *tx) sendPending(query string, args ...any) (pgconn.CommandTag, error) {
	b, n := t.takePending()
	if query != "" {
		b.Queue(query, args...)
	}
	results := t.q.SendBatch(t.ctx, b)
	defer results.Close()
	for range n {
		if _, err := results.Exec(); err != nil {
			return pgconn.CommandTag{}, t.note(err)
		}
	}
	if query == "" {
		return pgconn.CommandTag{}, nil
	}
	tag, err := results.Exec()
	return tag, t.note(err)
}

// takePending is a batch of the pending writes, which it takes from t, and
// how many there are.
func (t *tx) takePending() (*pgx.Batch, int) {
	b := &pgx.Batch{}
	for _, w := range t.pending {
		b.Queue(w.query, w.args...)
	}
	n := len(t.pending)
	t.pending = nil
	return b, n
}

// flush sends the pending writes before a statement that reads.
func (t *tx) flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	_, err := t.sendPending("")
	return err
}

// commit sends the pending writes and COMMIT in one round trip. A pending
// write that fails means COMMIT did not run (the server skips the rest of a
// pipeline after an error): nothing was written. A connection that fails
// on the way may have committed: commitFailed says the outcome is unknown.
func (t *tx) commit() error {
	b, n := t.takePending()
	b.Queue("COMMIT")
	results := t.q.SendBatch(t.ctx, b)
	defer results.Close()
	for range n {
		_, err := results.Exec()
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return mapError(err) // the server refused the write and skipped COMMIT
		} else if err != nil {
			return commitFailed(err)
		}
	}
	tag, err := results.Exec()
	if err != nil {
		return commitFailed(err)
	}
	if tag.String() != "COMMIT" {
		return unavailable(errors.New("the server rolled the transaction back (" + tag.String() + ")"))
	}
	return nil
}
