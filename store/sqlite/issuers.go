package sqlite

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

// PutCardLink implements engine.Tx.
func (t *tx) PutCardLink(l *engine.CardLink) error {
	if _, err := t.exec(`DELETE FROM card_links WHERE issuer = ? AND card_id = ?`, l.Issuer, l.CardID); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO card_links (`+cardLinkColumns+`) VALUES (?, ?, ?, ?)`, l.Issuer, l.ExternalID, l.CardID, micros(l.CreatedAt))
	return err
}

// FindCardLink implements engine.Tx.
func (t *tx) FindCardLink(issuer, externalID string) (*engine.CardLink, error) {
	return findOne(t, scanCardLink, notFound(issuer+" card", externalID),
		`SELECT `+cardLinkColumns+` FROM card_links WHERE issuer = ? AND external_id = ?`, issuer, externalID)
}

// ListCardLinks implements engine.Tx.
func (t *tx) ListCardLinks(cardID string) ([]*engine.CardLink, error) {
	return queryList(t, scanCardLink, `SELECT `+cardLinkColumns+` FROM card_links WHERE card_id = ? ORDER BY issuer`, cardID)
}

const fallbackColumns = `id, issuer, network_id, answer, reason, amount, currency, merchant, authorization_id, outcome, created_at`

func scanFallback(s scanner) (*engine.Fallback, error) {
	var f engine.Fallback
	var created int64
	if err := s.Scan(&f.ID, &f.Issuer, &f.NetworkID, &f.Answer, &f.Reason, &f.Amount, &f.Currency, &f.Merchant,
		&f.AuthorizationID, &f.Outcome, &created); err != nil {
		return nil, err
	}
	f.CreatedAt = fromMicros(created)
	return &f, nil
}

// InsertFallback implements engine.Tx.
func (t *tx) InsertFallback(f *engine.Fallback) error {
	_, err := t.exec(`INSERT INTO issuer_fallbacks (`+fallbackColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.Issuer, f.NetworkID, f.Answer, f.Reason, f.Amount, f.Currency, f.Merchant, f.AuthorizationID, f.Outcome, micros(f.CreatedAt))
	return err
}

// ListFallbacks implements engine.Tx.
func (t *tx) ListFallbacks(limit int) ([]*engine.Fallback, error) {
	var c conditions
	q, args := c.Query(`SELECT `+fallbackColumns+` FROM issuer_fallbacks`, "id DESC", limit)
	return queryList(t, scanFallback, q, args...)
}
