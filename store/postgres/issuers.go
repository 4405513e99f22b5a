package postgres

import (
	"github.com/agentledger/agentledger/engine"
)

const cardLinkColumns = `issuer, external_id, card_id, created_at`

func scanCardLink(s scanner) (*engine.CardLink, error) {
	var l engine.CardLink
	var created int64
	if err := s.Scan(&l.Issuer, &l.ExternalID, &l.CardID, &created); err != nil {
		return nil, err
	}
	l.CreatedAt = fromMicros(created)
	return &l, nil
}

// PutCardLink implements engine.Tx. The issuer's card is looked up first:
// a unique violation would abort the whole transaction, and the engine may
// go on after a conflict. Under the writer lock nothing can slip in between.
func (t *tx) PutCardLink(l *engine.CardLink) error {
	var owner string
	err := t.queryRow(`SELECT card_id FROM card_links WHERE issuer = $1 AND external_id = $2`,
		l.Issuer, l.ExternalID).Scan(&owner)
	switch {
	case err == nil && owner != l.CardID:
		return conflict(l.Issuer + " card " + l.ExternalID + " is already linked to card " + owner)
	case err != nil && !isNoRows(err):
		return err
	}
	// The card's earlier link at the issuer (perhaps this very one) goes.
	if _, err := t.exec(`DELETE FROM card_links WHERE issuer = $1 AND card_id = $2`, l.Issuer, l.CardID); err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO card_links (`+cardLinkColumns+`) VALUES ($1, $2, $3, $4)`,
		l.Issuer, l.ExternalID, l.CardID, micros(l.CreatedAt))
	return err
}

// FindCardLink implements engine.Tx.
func (t *tx) FindCardLink(issuer, externalID string) (*engine.CardLink, error) {
	return findOne(t, scanCardLink, notFound(issuer+" card", externalID),
		`SELECT `+cardLinkColumns+` FROM card_links WHERE issuer = $1 AND external_id = $2`, issuer, externalID)
}

// ListCardLinks implements engine.Tx.
func (t *tx) ListCardLinks(cardID string) ([]*engine.CardLink, error) {
	return queryList(t, scanCardLink,
		`SELECT `+cardLinkColumns+` FROM card_links WHERE card_id = $1 ORDER BY issuer`, cardID)
}

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
		`SELECT external_id, created_at FROM issuer_cardholders WHERE issuer = $1 AND user_id = $2`, issuer, userID)
}

// PutCardholder implements engine.Tx: an earlier cardholder is kept.
func (t *tx) PutCardholder(c *engine.Cardholder) error {
	_, err := t.exec(`INSERT INTO issuer_cardholders (issuer, user_id, external_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (issuer, user_id) DO NOTHING`, c.Issuer, c.UserID, c.ExternalID, micros(c.CreatedAt))
	return err
}

const issuerSyncColumns = `card_id, issuer, external_id, agent_id, version, abandoned, status_changed, attempts,
	next_attempt_at, last_error, created_at, updated_at`

func scanIssuerSync(s scanner) (*engine.IssuerSync, error) {
	var q engine.IssuerSync
	var attempts, next, created, updated int64
	if err := s.Scan(&q.CardID, &q.Issuer, &q.ExternalID, &q.AgentID, &q.Version, &q.Abandoned, &q.StatusChanged,
		&attempts, &next, &q.LastError, &created, &updated); err != nil {
		return nil, err
	}
	q.Attempts = int(attempts)
	q.NextAttemptAt, q.CreatedAt, q.UpdatedAt = fromMicros(next), fromMicros(created), fromMicros(updated)
	q.Kind = engine.IssuerSyncChange
	if q.IsAbandoned() {
		q.Kind = engine.IssuerSyncAbandoned
	}
	return &q, nil
}

// QueueIssuerSync implements engine.Tx. A queued entry keeps its issuer,
// agent, creation and last error; status_changed is ORed so that a change
// of controls queued after a change of status still pushes the status.
func (t *tx) QueueIssuerSync(q *engine.IssuerSync) error {
	_, err := t.exec(`INSERT INTO issuer_sync (`+issuerSyncColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, '', $9, $10)
		ON CONFLICT (card_id) DO UPDATE SET version = excluded.version, abandoned = excluded.abandoned,
			status_changed = issuer_sync.status_changed OR excluded.status_changed,
			external_id = CASE WHEN excluded.external_id <> '' THEN excluded.external_id
				ELSE issuer_sync.external_id END,
			attempts = 0, next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at`,
		q.CardID, q.Issuer, q.ExternalID, q.AgentID, q.Version, q.Abandoned, q.StatusChanged, micros(q.NextAttemptAt),
		micros(q.CreatedAt), micros(q.UpdatedAt))
	return err
}

// FindIssuerSync implements engine.Tx.
func (t *tx) FindIssuerSync(cardID string) (*engine.IssuerSync, error) {
	return findOne(t, scanIssuerSync, notFound("issuer queue entry of card", cardID),
		`SELECT `+issuerSyncColumns+` FROM issuer_sync WHERE card_id = $1`, cardID)
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
	q, args := c.query(`SELECT `+issuerSyncColumns+` FROM issuer_sync`, "next_attempt_at, card_id", f.Limit)
	return queryList(t, scanIssuerSync, q, args...)
}

// RetryIssuerSync implements engine.Tx.
func (t *tx) RetryIssuerSync(q *engine.IssuerSync) error {
	return t.execOne(notFound("issuer queue entry of card", q.CardID),
		`UPDATE issuer_sync SET attempts = $1, next_attempt_at = $2, last_error = $3, external_id = $4, updated_at = $5
		WHERE card_id = $6 AND version = $7`,
		q.Attempts, micros(q.NextAttemptAt), q.LastError, q.ExternalID, micros(q.UpdatedAt), q.CardID, q.Version)
}

// DoneIssuerSync implements engine.Tx.
func (t *tx) DoneIssuerSync(cardID, version string) (bool, error) {
	tag, err := t.exec(`DELETE FROM issuer_sync WHERE card_id = $1 AND version = $2`, cardID, version)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() > 0, nil
}

// CountIssuerSync implements engine.Tx: the queue is the table, kept small
// (an entry goes once the issuer has the card's state).
func (t *tx) CountIssuerSync() (int64, error) {
	var n int64
	err := t.queryRow(`SELECT count(*) FROM issuer_sync`).Scan(&n)
	return n, err
}
