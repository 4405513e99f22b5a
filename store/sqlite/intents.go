package sqlite

import (
	"database/sql"
	"encoding/json"
	"slices"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

const intentColumns = `id, agent_id, card_id, summary, amount, currency, merchant, mcc, status, ttl_seconds, expires_at,
	decision_id, authorization_id, attestation, created_at, revealed_at, resolved_at`

func scanIntent(s scanner) (*engine.Intent, error) {
	var i engine.Intent
	var cardID sql.NullString
	var attestation string
	var expires, created int64
	var revealed, resolved sql.NullInt64
	if err := s.Scan(&i.ID, &i.AgentID, &cardID, &i.Summary, &i.Amount, &i.Currency, &i.Merchant, &i.MCC, &i.Status, &i.TTLSeconds,
		&expires, &i.DecisionID, &i.AuthorizationID, &attestation, &created, &revealed, &resolved); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(attestation), &i.Attestation); err != nil {
		return nil, err
	}
	i.CardID = cardID.String
	i.ExpiresAt, i.CreatedAt = fromMicros(expires), fromMicros(created)
	i.RevealedAt, i.ResolvedAt = timePtr(revealed), timePtr(resolved)
	return &i, nil
}

// InsertIntent implements engine.Tx.
func (t *tx) InsertIntent(i *engine.Intent) error {
	_, err := t.exec(`INSERT INTO intents (`+intentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.AgentID, nullString(i.CardID), i.Summary, i.Amount, i.Currency, i.Merchant, i.MCC, i.Status, i.TTLSeconds,
		micros(i.ExpiresAt), i.DecisionID, i.AuthorizationID, mustJSON(i.Attestation), micros(i.CreatedAt),
		nullMicros(i.RevealedAt), nullMicros(i.ResolvedAt))
	return err
}

// UpdateIntent implements engine.Tx.
func (t *tx) UpdateIntent(i *engine.Intent) error {
	return t.execOne(notFound("intent", i.ID), `UPDATE intents SET card_id = ?, status = ?, expires_at = ?, decision_id = ?,
		authorization_id = ?, revealed_at = ?, resolved_at = ? WHERE id = ?`,
		nullString(i.CardID), i.Status, micros(i.ExpiresAt), i.DecisionID, i.AuthorizationID,
		nullMicros(i.RevealedAt), nullMicros(i.ResolvedAt), i.ID)
}

// FindIntent implements engine.Tx.
func (t *tx) FindIntent(id string) (*engine.Intent, error) {
	return findOne(t, scanIntent, notFound("intent", id), `SELECT `+intentColumns+` FROM intents WHERE id = ?`, id)
}

// openIntentStatuses are the statuses intents_open covers; the list must be
// the one in its WHERE clause, in the same order.
var openIntentStatuses = []string{engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed}

func subset(list, of []string) bool {
	for _, v := range list {
		if !slices.Contains(of, v) {
			return false
		}
	}
	return true
}

// ListIntents implements engine.Tx.
func (t *tx) ListIntents(f engine.IntentFilter) ([]*engine.Intent, error) {
	var where []string
	var args []any
	if f.AgentID != "" {
		where, args = append(where, "agent_id = ?"), append(args, f.AgentID)
	}
	if f.CardID != "" {
		where, args = append(where, "card_id = ?"), append(args, f.CardID)
	}
	if len(f.Statuses) > 0 {
		if subset(f.Statuses, openIntentStatuses) {
			// Spelling out the partial index's own condition lets SQLite
			// use intents_open, which holds only the few open intents.
			where = append(where, "status IN ("+literalList(openIntentStatuses)+")")
		}
		where = append(where, inValues("status", f.Statuses))
	}
	if f.ExpiresBefore != nil {
		where, args = append(where, "expires_at <= ?"), append(args, micros(*f.ExpiresBefore))
	}
	if f.ExpiresAfter != nil {
		where, args = append(where, "expires_at > ?"), append(args, micros(*f.ExpiresAfter))
	}
	q := `SELECT ` + intentColumns + ` FROM intents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.ExpiresBefore != nil || f.ExpiresAfter != nil {
		q += " ORDER BY expires_at" // the order of intents_open: no sort needed
	} else {
		q += " ORDER BY id"
	}
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	return queryList(t, scanIntent, q, args...)
}
