package postgres

import (
	"encoding/json"

	"github.com/agentledger/agentledger/engine"
)

const cardColumns = `id, agent_id, type, status, last4, exp_month, exp_year, currency, purpose, limits,
	frozen_by, frozen_at, closed_by, closed_at, created_at, updated_at, issuer, issuer_card_id`

func scanCard(s scanner) (*engine.Card, error) {
	var c engine.Card
	var limits string
	var frozenAt, closedAt *int64
	var created, updated int64
	if err := s.Scan(&c.ID, &c.AgentID, &c.Type, &c.Status, &c.Last4, &c.ExpMonth, &c.ExpYear, &c.Currency, &c.Purpose,
		&limits, &c.FrozenBy, &frozenAt, &c.ClosedBy, &closedAt, &created, &updated, &c.Issuer, &c.IssuerCardID); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(limits), &c.Limits); err != nil {
		return nil, err
	}
	c.FrozenAt, c.ClosedAt = timePtr(frozenAt), timePtr(closedAt)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// InsertCard implements engine.Tx. The PAN and CVV are sealed together,
// bound to the card id; the PAN's keyed fingerprint allows lookup by number.
// A PAN already issued is a conflict that leaves the transaction usable:
// the engine draws another number and tries again.
func (t *tx) InsertCard(c *engine.Card, secret engine.CardSecret) error {
	sealed := t.db.seal.SealCard(c.ID, secret)
	return t.insertUnique(conflict("a card with that number already exists"), `INSERT INTO cards (`+cardColumns+`,
		pan_fingerprint, secret)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		ON CONFLICT DO NOTHING`,
		c.ID, c.AgentID, c.Type, c.Status, c.Last4, c.ExpMonth, c.ExpYear, c.Currency, c.Purpose, mustJSON(c.Limits),
		c.FrozenBy, nullMicros(c.FrozenAt), c.ClosedBy, nullMicros(c.ClosedAt), micros(c.CreatedAt), micros(c.UpdatedAt),
		c.Issuer, c.IssuerCardID, t.db.seal.CardFingerprint(c, secret.PAN), sealed)
}

// UpdateCard implements engine.Tx.
func (t *tx) UpdateCard(c *engine.Card) error {
	return t.execOne(notFound("card", c.ID), `UPDATE cards SET status = $1, limits = $2, purpose = $3, frozen_by = $4,
		frozen_at = $5, closed_by = $6, closed_at = $7, updated_at = $8 WHERE id = $9`,
		c.Status, mustJSON(c.Limits), c.Purpose, c.FrozenBy, nullMicros(c.FrozenAt), c.ClosedBy, nullMicros(c.ClosedAt),
		micros(c.UpdatedAt), c.ID)
}

// FindCard implements engine.Tx.
func (t *tx) FindCard(id string) (*engine.Card, error) {
	if c := t.prefetch.takeCard(id, ""); c != nil {
		return c, nil
	}
	return findOne(t, scanCard, notFound("card", id), `SELECT `+cardColumns+` FROM cards WHERE id = $1`, id)
}

// FindCardByPAN implements engine.Tx.
func (t *tx) FindCardByPAN(pan string) (*engine.Card, error) {
	if c := t.prefetch.takeCard("", pan); c != nil {
		return c, nil
	}
	return findOne(t, scanCard, notFound("card", "with that number"),
		`SELECT `+cardColumns+` FROM cards WHERE pan_fingerprint = $1`, t.db.seal.Fingerprint(pan))
}

// CardSecret implements engine.Tx.
func (t *tx) CardSecret(id string) (engine.CardSecret, error) {
	var sealed []byte
	if err := t.queryRow(`SELECT secret FROM cards WHERE id = $1`, id).Scan(&sealed); err != nil {
		if isNoRows(err) {
			return engine.CardSecret{}, notFound("card", id)
		}
		return engine.CardSecret{}, err
	}
	return t.db.seal.OpenCard(id, sealed)
}

// ListCards implements engine.Tx.
func (t *tx) ListCards(f engine.CardFilter) ([]*engine.Card, error) {
	var c conditions
	if f.AgentID != "" {
		c.And("agent_id = ?", f.AgentID)
	}
	if f.IssuerOnly {
		c.And("issuer <> ''") // the condition of the partial index cards_issuer
	}
	c.After("id", f.After, false)
	q, args := c.query(`SELECT `+cardColumns+` FROM cards`, "id", f.Limit)
	return queryList(t, scanCard, q, args...)
}
