package sqlite

import "time"

// PruneDeliveries implements engine.Tx. Events are taken oldest first up to
// the last one created before the time (seq is commit order).
func (t *tx) PruneDeliveries(before time.Time, limit int) (int64, error) {
	return t.affected(`DELETE FROM deliveries WHERE (endpoint_id, event_seq) IN (
		SELECT d.endpoint_id, d.event_seq FROM deliveries d JOIN events e ON e.seq = d.event_seq
		WHERE e.seq <= (SELECT seq FROM events WHERE created_at < ? ORDER BY seq DESC LIMIT 1)
			AND e.created_at < ? AND d.status <> 'pending'
		ORDER BY d.event_seq LIMIT ?)`, micros(before), micros(before), limit)
}

// PruneEvents implements engine.Tx.
func (t *tx) PruneEvents(before time.Time, limit int) (int64, error) {
	return t.affected(`DELETE FROM events WHERE seq IN (
		SELECT e.seq FROM events e
		WHERE e.seq <= (SELECT seq FROM events WHERE created_at < ? ORDER BY seq DESC LIMIT 1)
			AND e.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq)
		ORDER BY e.seq LIMIT ?)`, micros(before), micros(before), limit)
}

// PruneIdempotency implements engine.Tx.
func (t *tx) PruneIdempotency(before time.Time, limit int) (int64, error) {
	return t.affected(`DELETE FROM idempotency WHERE (scope, key) IN (
		SELECT scope, key FROM idempotency WHERE created_at < ? LIMIT ?)`, micros(before), limit)
}

// PruneOAuthTokens implements engine.Tx, through the expiry index.
func (t *tx) PruneOAuthTokens(before time.Time, limit int) (int64, error) {
	return t.affected(`DELETE FROM oauth_tokens WHERE hash IN (
		SELECT hash FROM oauth_tokens WHERE expires_at < ? LIMIT ?)`, micros(before), limit)
}

// PruneOAuthClients implements engine.Tx.
func (t *tx) PruneOAuthClients(before time.Time, limit int) (int64, error) {
	return t.affected(`DELETE FROM oauth_clients WHERE id IN (
		SELECT c.id FROM oauth_clients c WHERE c.registered_by = 'dynamic' AND c.created_at < ?
			AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.id)
		LIMIT ?)`, micros(before), limit)
}

// affected runs a statement and returns how many rows it changed.
func (t *tx) affected(query string, args ...any) (int64, error) {
	res, err := t.exec(query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
