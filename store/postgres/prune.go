package postgres

import "time"

// The prunes delete up to limit rows through a subquery on the primary
// key: PostgreSQL has no DELETE … LIMIT.

// PruneDeliveries implements engine.Tx: the oldest events' first (seq is
// commit order).
func (t *tx) PruneDeliveries(before time.Time, limit int) (int64, error) {
	tag, err := t.exec(`DELETE FROM deliveries WHERE (endpoint_id, event_seq) IN (
		SELECT d.endpoint_id, d.event_seq FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE e.created_at < $1 AND d.status <> 'pending'
		ORDER BY d.event_seq LIMIT $2)`, micros(before), webhooksLimit(limit))
	return tag.RowsAffected(), err
}

// PruneEvents implements engine.Tx.
func (t *tx) PruneEvents(before time.Time, limit int) (int64, error) {
	tag, err := t.exec(`DELETE FROM events WHERE seq IN (
		SELECT e.seq FROM events e
		WHERE e.created_at < $1 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq)
		ORDER BY e.seq LIMIT $2)`, micros(before), webhooksLimit(limit))
	return tag.RowsAffected(), err
}

// PruneIdempotency implements engine.Tx.
func (t *tx) PruneIdempotency(before time.Time, limit int) (int64, error) {
	tag, err := t.exec(`DELETE FROM idempotency WHERE (scope, key) IN (
		SELECT scope, key FROM idempotency WHERE created_at < $1 LIMIT $2)`, micros(before), webhooksLimit(limit))
	return tag.RowsAffected(), err
}
