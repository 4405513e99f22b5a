package sqlite

import (
	"github.com/agentledger/agentledger/engine"
)

// FindCardholder implements engine.Tx.
func (t *tx) FindCardholder(issuer, userID string) (*engine.Cardholder, error) {
	return findOne(t, func(s scanner) (*engine.Cardholder, error) {
		c := engine.Cardholder{Issuer: issuer, UserID: userID}
		var created int64
		if err := s.Scan(&c.ExternalID, &created); err != nil {
			return nil, err
		}
		c.CreatedAt = fromMicros(created)
		return &c, nil
	}, notFound(issuer+" cardholder of user", userID),
		`SELECT external_id, created_at FROM issuer_cardholders WHERE issuer = ? AND user_id = ?`, issuer, userID)
}

// PutCardholder implements engine.Tx.
func (t *tx) PutCardholder(c *engine.Cardholder) error {
	_, err := t.exec(`INSERT INTO issuer_cardholders (issuer, user_id, external_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (issuer, user_id) DO NOTHING`, c.Issuer, c.UserID, c.ExternalID, micros(c.CreatedAt))
	return err
}

const issuerSyncColumns = `card_id, issuer, external_id, agent_id, version, abandoned, status_changed, attempts,
	next_attempt_at, last_error, created_at, updated_at`

func scanIssuerSync(s scanner) (*engine.IssuerSync, error) {
	var q engine.IssuerSync
	var next, created, updated int64
	if err := s.Scan(&q.CardID, &q.Issuer, &q.ExternalID, &q.AgentID, &q.Version, &q.Abandoned, &q.StatusChanged, &q.Attempts, &next,
		&q.LastError, &created, &updated); err != nil {
		return nil, err
	}
	q.NextAttemptAt, q.CreatedAt, q.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	q.Kind = engine.IssuerSyncChange
	if q.IsAbandoned() {
		q.Kind = engine.IssuerSyncAbandoned
	}
	return &q, nil
}

// QueueIssuerSync implements engine.Tx.
func (t *tx) QueueIssuerSync(q *engine.IssuerSync) error {
	_, err := t.exec(`INSERT INTO issuer_sync (`+issuerSyncColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, '', ?, ?)
		ON CONFLICT (card_id) DO UPDATE SET version = excluded.version, abandoned = excluded.abandoned,
			status_changed = MAX(status_changed, excluded.status_changed),
			external_id = CASE WHEN excluded.external_id <> '' THEN excluded.external_id ELSE external_id END,
			attempts = 0, next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at`,
		q.CardID, q.Issuer, q.ExternalID, q.AgentID, q.Version, q.Abandoned, q.StatusChanged, micros(q.NextAttemptAt),
		micros(q.CreatedAt), micros(q.UpdatedAt))
	return err
}

// FindIssuerSync implements engine.Tx.
func (t *tx) FindIssuerSync(cardID string) (*engine.IssuerSync, error) {
	return findOne(t, scanIssuerSync, notFound("issuer queue entry of card", cardID),
		`SELECT `+issuerSyncColumns+` FROM issuer_sync WHERE card_id = ?`, cardID)
}

// ListIssuerSync implements engine.Tx.
func (t *tx) ListIssuerSync(f engine.IssuerSyncFilter) ([]*engine.IssuerSync, error) {
	var c conditions
	if f.AgentID != "" {
		c.And("agent_id = ?", f.AgentID)
	}
	if f.DueBy != nil {
		c.And("next_attempt_at <= ?", micros(*f.DueBy))
	}
	q, args := c.Query(`SELECT `+issuerSyncColumns+` FROM issuer_sync`, "next_attempt_at, card_id", f.Limit)
	return queryList(t, scanIssuerSync, q, args...)
}

// RetryIssuerSync implements engine.Tx.
func (t *tx) RetryIssuerSync(q *engine.IssuerSync) error {
	return t.execOne(notFound("issuer queue entry of card", q.CardID),
		`UPDATE issuer_sync SET attempts = ?, next_attempt_at = ?, last_error = ?, external_id = ?, updated_at = ?
		WHERE card_id = ? AND version = ?`,
		q.Attempts, micros(q.NextAttemptAt), q.LastError, q.ExternalID, micros(q.UpdatedAt), q.CardID, q.Version)
}

// DoneIssuerSync implements engine.Tx.
func (t *tx) DoneIssuerSync(cardID, version string) (bool, error) {
	res, err := t.exec(`DELETE FROM issuer_sync WHERE card_id = ? AND version = ?`, cardID, version)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
