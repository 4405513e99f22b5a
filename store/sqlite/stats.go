package sqlite

import (
	"database/sql"
	"time"
)

// The gauges' reads. Each reads only the rows in play (pending approvals,
// pending deliveries, the issuer queue) through an index of those rows, so
// a scrape costs the same however long the history behind them.

// CountPendingApprovals implements engine.Tx over decisions_approvals, the
// index alone: the query repeats the partial index's own term so that
// SQLite may use it.
func (t *tx) CountPendingApprovals(now time.Time) (int64, error) {
	var n int64
	err := t.queryRow(`SELECT COUNT(*) FROM decisions
		WHERE approval_status <> '' AND approval_status = 'pending'
			AND (approval_expires_at IS NULL OR approval_expires_at > ?)`, micros(now)).Scan(&n)
	return n, err
}

// PendingDeliveries implements engine.Tx: the count reads deliveries_status
// alone; the oldest is the first pending row of that index in event order,
// one step, where the least creation time of every pending row would read
// each of them from the table (a tenth of a second for 100,000).
func (t *tx) PendingDeliveries() (int64, *time.Time, error) {
	var n int64
	var oldest sql.NullInt64
	err := t.queryRow(`SELECT COUNT(*),
			(SELECT created_at FROM deliveries WHERE status = 'pending' ORDER BY event_seq LIMIT 1)
		FROM deliveries WHERE status = 'pending'`).Scan(&n, &oldest)
	return n, timePtr(oldest), err
}

// CountIssuerSync implements engine.Tx: the queue is the table, kept small
// (an entry goes once the issuer has the card's state).
func (t *tx) CountIssuerSync() (int64, error) {
	var n int64
	err := t.queryRow(`SELECT COUNT(*) FROM issuer_sync`).Scan(&n)
	return n, err
}
