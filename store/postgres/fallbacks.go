package postgres

import "github.com/agentledger/agentledger/engine"

const fallbackColumns = `id, issuer, network_id, answer, reason, amount, currency, merchant, authorization_id, outcome,
	created_at`

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
	_, err := t.exec(`INSERT INTO issuer_fallbacks (`+fallbackColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		f.ID, f.Issuer, f.NetworkID, f.Answer, f.Reason, f.Amount, f.Currency, f.Merchant, f.AuthorizationID,
		f.Outcome, micros(f.CreatedAt))
	return err
}

// ListFallbacks implements engine.Tx: newest first, by id.
func (t *tx) ListFallbacks(limit int) ([]*engine.Fallback, error) {
	var c conditions
	q, args := c.query(`SELECT `+fallbackColumns+` FROM issuer_fallbacks`, "id DESC", limit)
	return queryList(t, scanFallback, q, args...)
}
