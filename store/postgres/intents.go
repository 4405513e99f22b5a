package postgres

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

const intentColumns = `id, agent_id, card_id, summary, amount, currency, merchant, mcc, status, ttl_seconds, expires_at,
	decision_id, authorization_id, attestation, created_at, revealed_at, resolved_at`

func scanIntent(s scanner) (*engine.Intent, error) {
	var i engine.Intent
	var cardID *string
	var attestation string
	var expires, created int64
	var revealed, resolved *int64
	if err := s.Scan(&i.ID, &i.AgentID, &cardID, &i.Summary, &i.Amount, &i.Currency, &i.Merchant, &i.MCC,
		&i.Status, &i.TTLSeconds, &expires, &i.DecisionID, &i.AuthorizationID, &attestation, &created, &revealed,
		&resolved); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(attestation), &i.Attestation); err != nil {
		return nil, err
	}
	i.CardID = spendingID(cardID)
	i.ExpiresAt, i.CreatedAt = fromMicros(expires), fromMicros(created)
	i.RevealedAt, i.ResolvedAt = timePtr(revealed), timePtr(resolved)
	return &i, nil
}

// spendingNullID is a nullable reference column's value: empty is NULL, so
// that the foreign key is not checked.
func spendingNullID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

// spendingID is a nullable reference column's id: NULL is empty.
func spendingID(id *string) string {
	if id == nil {
		return ""
	}
	return *id
}

// InsertIntent implements engine.Tx.
func (t *tx) InsertIntent(i *engine.Intent) error {
	_, err := t.exec(`INSERT INTO intents (`+intentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		i.ID, i.AgentID, spendingNullID(i.CardID), i.Summary, i.Amount, i.Currency, i.Merchant, i.MCC, i.Status, i.TTLSeconds,
		micros(i.ExpiresAt), i.DecisionID, i.AuthorizationID, mustJSON(i.Attestation), micros(i.CreatedAt),
		nullMicros(i.RevealedAt), nullMicros(i.ResolvedAt))
	return err
}

// UpdateIntent implements engine.Tx.
func (t *tx) UpdateIntent(i *engine.Intent) error {
	return t.execOne(notFound("intent", i.ID), `UPDATE intents SET card_id = $1, status = $2, expires_at = $3,
		decision_id = $4, authorization_id = $5, revealed_at = $6, resolved_at = $7 WHERE id = $8`,
		spendingNullID(i.CardID), i.Status, micros(i.ExpiresAt), i.DecisionID, i.AuthorizationID,
		nullMicros(i.RevealedAt), nullMicros(i.ResolvedAt), i.ID)
}

// FindIntent implements engine.Tx.
func (t *tx) FindIntent(id string) (*engine.Intent, error) {
	return findOne(t, scanIntent, notFound("intent", id), `SELECT `+intentColumns+` FROM intents WHERE id = $1`, id)
}

// openIntentStatuses are the statuses intents_open covers.
var openIntentStatuses = []string{engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed}

// intentStatuses are every status an intent may have.
var intentStatuses = []string{engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed,
	engine.IntentMatched, engine.IntentMismatched, engine.IntentDenied, engine.IntentCancelled, engine.IntentExpired}

// ListIntents implements engine.Tx.
func (t *tx) ListIntents(f engine.IntentFilter) ([]*engine.Intent, error) {
	var c conditions
	if f.AgentID != "" {
		c.And("agent_id = ?", f.AgentID)
	}
	if f.CardID != "" {
		c.And("card_id = ?", f.CardID)
	}
	bounded := f.ExpiresBefore != nil || f.ExpiresAfter != nil
	if f.ExpiresBefore != nil {
		c.And("expires_at <= ?", micros(*f.ExpiresBefore))
	}
	if f.ExpiresAfter != nil {
		c.And("expires_at > ?", micros(*f.ExpiresAfter))
	}
	c.After("id", f.After, false)
	selectFrom := `SELECT ` + intentColumns + ` FROM intents`
	open := len(f.Statuses) > 0 && spendingSubset(f.Statuses, openIntentStatuses)
	if !open && !bounded && (f.AgentID != "" || f.CardID != "") {
		// An agent's or a card's history: a page per status of
		// intents_agent or intents_card, so it costs its own size.
		statuses := f.Statuses
		if len(statuses) == 0 {
			statuses = intentStatuses
		}
		q, args := spendingByStatus(c, selectFrom, "status", statuses, "id", f.Limit)
		return queryList(t, scanIntent, q, args...)
	}
	if len(f.Statuses) > 0 {
		c.And(storekit.InValues("status", f.Statuses))
	}
	order := "id"
	if bounded {
		order = "expires_at, id"
	}
	q, args := c.query(selectFrom, order, f.Limit)
	return queryList(t, scanIntent, q, args...)
}

// spendingSubset reports whether every value of list is in of.
func spendingSubset(list, of []string) bool {
	for _, v := range list {
		if !slices.Contains(of, v) {
			return false
		}
	}
	return true
}

// spendingByStatus completes a listing over an index of (scope, status,
// id): one ordered, limited read per status, merged, instead of sorting
// every row of the scope. Each branch numbers the same parameters the same
// way (the statuses are literals), so they are passed once.
func spendingByStatus(c conditions, selectFrom, column string, statuses []string, orderBy string,
	limit int) (string, []any) {
	branch := func(values []string) (string, []any) {
		b := conditions{*c.With(storekit.InValues(column, values))}
		return b.query(selectFrom, orderBy, limit)
	}
	if limit == 0 || len(statuses) == 1 {
		return branch(statuses)
	}
	var q strings.Builder
	var args []any
	for i, status := range statuses {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		var branchQuery string
		branchQuery, args = branch([]string{status})
		q.WriteString("(" + branchQuery + ")")
	}
	// The limit is the last parameter of every branch.
	q.WriteString(" ORDER BY " + orderBy + " LIMIT $" + strconv.Itoa(len(args)))
	return q.String(), args
}
