package sqlite

import (
	"database/sql"
	"encoding/json"
	"slices"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
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
	t.intentsChanged(i.CardID)
	_, err := t.exec(`INSERT INTO intents (`+intentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		i.ID, i.AgentID, nullString(i.CardID), i.Summary, i.Amount, i.Currency, i.Merchant, i.MCC, i.Status, i.TTLSeconds,
		micros(i.ExpiresAt), i.DecisionID, i.AuthorizationID, mustJSON(i.Attestation), micros(i.CreatedAt),
		nullMicros(i.RevealedAt), nullMicros(i.ResolvedAt))
	return err
}

// UpdateIntent implements engine.Tx.
func (t *tx) UpdateIntent(i *engine.Intent) error {
	// The card the intent was on, if it moves, loses an intent: what is
	// kept of it ("none revealed") stays true.
	t.intentsChanged(i.CardID)
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
	if t.write && f.CardID != "" && slices.Equal(f.Statuses, revealedOnly) && f.After == "" {
		// What every authorization asks: the card's revealed intents.
		// Most cards have none most of the time, which the writer keeps.
		none, err := t.noRevealedIntents(f.CardID)
		if none || err != nil {
			return []*engine.Intent{}, err
		}
	}
	open := len(f.Statuses) > 0 && subset(f.Statuses, openIntentStatuses)
	if open || f.ExpiresBefore != nil || f.ExpiresAfter != nil || (f.AgentID == "" && f.CardID == "") {
		return t.listIntents(f, open)
	}
	// An agent's or a card's, of any status: by status, as
	// intents_agent and intents_card hold them.
	var c conditions
	if f.CardID != "" {
		// +agent_id: as for authorizations, the card's index.
		c.And("card_id = ?", f.CardID)
		if f.AgentID != "" {
			c.And("+agent_id = ?", f.AgentID)
		}
	} else {
		c.And("agent_id = ?", f.AgentID)
	}
	c.After("id", f.After, false)
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = intentStatuses
	}
	q, args := c.queryByStatus(`SELECT `+intentColumns+` FROM intents`, "status", statuses, "id", f.Limit)
	return queryList(t, scanIntent, q, args...)
}

var revealedOnly = []string{engine.IntentRevealed}

// noRevealedIntents reports whether the card has no revealed intent, from
// what the writer keeps when it can.
func (t *tx) noRevealedIntents(cardID string) (bool, error) {
	h := t.hot()
	if h != nil {
		if none, ok := h.noRevealed[cardID]; ok {
			return none, nil
		}
	}
	var some bool
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM intents WHERE card_id = ? AND status = ?)`,
		cardID, engine.IntentRevealed).Scan(&some); err != nil {
		return false, err
	}
	if h != nil {
		set(h, &h.noRevealed, cardID, !some)
	}
	return !some, nil
}

// intentsChanged forgets what the writer keeps of the card's intents.
func (t *tx) intentsChanged(cardID string) {
	if h := t.hot(); h != nil && cardID != "" {
		forget(h, h.noRevealed, cardID)
	}
}

// intentStatuses are every status an intent may have.
var intentStatuses = []string{engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed, engine.IntentMatched,
	engine.IntentMismatched, engine.IntentDenied, engine.IntentCancelled, engine.IntentExpired}

// listIntents lists open intents (by intents_open), or every agent's.
func (t *tx) listIntents(f engine.IntentFilter, open bool) ([]*engine.Intent, error) {
	var c conditions
	if f.AgentID != "" {
		c.And("agent_id = ?", f.AgentID)
	}
	if f.CardID != "" {
		c.And("card_id = ?", f.CardID)
	}
	id := "id"
	if open {
		// Spelling out the partial index's own condition lets SQLite
		// use intents_open, which holds only the few open intents;
		// +id keeps the id-ordered indexes, which walk every intent of
		// the agent, from looking cheaper: sorting the few is.
		c.And("status IN (" + storekit.LiteralList(openIntentStatuses) + ")")
		id = "+id"
	}
	if len(f.Statuses) > 0 {
		c.And(storekit.InValues("status", f.Statuses))
	}
	if f.ExpiresBefore != nil {
		c.And("expires_at <= ?", micros(*f.ExpiresBefore))
	}
	if f.ExpiresAfter != nil {
		c.And("expires_at > ?", micros(*f.ExpiresAfter))
	}
	c.After(id, f.After, false)
	order := id
	if f.ExpiresBefore != nil || f.ExpiresAfter != nil {
		order = "expires_at" // the order of intents_open: no sort needed
	}
	q, args := c.Query(`SELECT `+intentColumns+` FROM intents`, order, f.Limit)
	return queryList(t, scanIntent, q, args...)
}
