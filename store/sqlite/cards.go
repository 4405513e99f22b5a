package sqlite

import (
	"database/sql"

	"github.com/agentledger/agentledger/engine"
)

var cardLimits = newJSONCache(engine.SpendLimits.Clone)

const cardColumns = `id, agent_id, type, status, last4, exp_month, exp_year, currency, purpose, limits,
	frozen_by, frozen_at, closed_by, closed_at, created_at, updated_at, issuer, issuer_card_id`

func scanCard(s scanner) (*engine.Card, error) {
	var c engine.Card
	var limits string
	var frozenAt, closedAt sql.NullInt64
	var created, updated int64
	if err := s.Scan(&c.ID, &c.AgentID, &c.Type, &c.Status, &c.Last4, &c.ExpMonth, &c.ExpYear, &c.Currency, &c.Purpose, &limits,
		&c.FrozenBy, &frozenAt, &c.ClosedBy, &closedAt, &created, &updated, &c.Issuer, &c.IssuerCardID); err != nil {
		return nil, err
	}
	if err := cardLimits.decode(limits, &c.Limits); err != nil {
		return nil, err
	}
	c.FrozenAt, c.ClosedAt = timePtr(frozenAt), timePtr(closedAt)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &c, nil
}

// InsertCard implements engine.Tx. The PAN and CVV are sealed together,
// bound to the card id; the PAN's keyed fingerprint allows lookup by number.
func (t *tx) InsertCard(c *engine.Card, secret engine.CardSecret) error {
	sealed := t.db.seal.SealCard(c.ID, secret)
	_, err := t.exec(`INSERT INTO cards (`+cardColumns+`, pan_fingerprint, secret)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.AgentID, c.Type, c.Status, c.Last4, c.ExpMonth, c.ExpYear, c.Currency, c.Purpose, mustJSON(c.Limits),
		c.FrozenBy, nullMicros(c.FrozenAt), c.ClosedBy, nullMicros(c.ClosedAt), micros(c.CreatedAt), micros(c.UpdatedAt),
		c.Issuer, c.IssuerCardID, t.db.seal.CardFingerprint(c, secret.PAN), sealed)
	return err
}

// UpdateCard implements engine.Tx.
func (t *tx) UpdateCard(c *engine.Card) error {
	if h := t.hot(); h != nil {
		forget(h, h.cards, c.ID)
	}
	return t.execOne(notFound("card", c.ID), `UPDATE cards SET status = ?, limits = ?, purpose = ?, frozen_by = ?, frozen_at = ?,
		closed_by = ?, closed_at = ?, updated_at = ? WHERE id = ?`,
		c.Status, mustJSON(c.Limits), c.Purpose, c.FrozenBy, nullMicros(c.FrozenAt), c.ClosedBy, nullMicros(c.ClosedAt), micros(c.UpdatedAt), c.ID)
}

// FindCard implements engine.Tx.
func (t *tx) FindCard(id string) (*engine.Card, error) {
	find := func() (*engine.Card, error) {
		return findOne(t, scanCard, notFound("card", id), `SELECT `+cardColumns+` FROM cards WHERE id = ?`, id)
	}
	return findKept(t, func(h *hotRows) *map[string]*engine.Card { return &h.cards }, id, cloneCard, find)
}

// FindCardByPAN implements engine.Tx.
func (t *tx) FindCardByPAN(pan string) (*engine.Card, error) {
	return findOne(t, scanCard, notFound("card", "with that number"), `SELECT `+cardColumns+` FROM cards WHERE pan_fingerprint = ?`,
		t.db.seal.Fingerprint(pan))
}

// CardSecret implements engine.Tx.
func (t *tx) CardSecret(id string) (engine.CardSecret, error) {
	var sealed []byte
	if err := t.queryRow(`SELECT secret FROM cards WHERE id = ?`, id).Scan(&sealed); err != nil {
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
		c.And("issuer <> ''")
	}
	c.After("id", f.After, false)
	q, args := c.Query(`SELECT `+cardColumns+` FROM cards`, "id", f.Limit)
	return queryList(t, scanCard, q, args...)
}
