package postgres

import (
	"cmp"
	"encoding/json"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

const authorizationColumns = `id, network_id, card_id, agent_id, user_id, status, decline_code, reason, amount,
	currency, merchant_name, merchant_mcc, merchant_id, merchant_country, intent_id, decision_id, risk_score, risk_signals,
	risk_review, checks, paper, settled_amount, refunded_amount, hold_id, hold_expires_at, day, month, created_at,
	updated_at, kind, network_answer`

func scanAuthorization(s scanner) (*engine.Authorization, error) {
	var a engine.Authorization
	var cardID, agentID, userID *string
	var signals, checks string
	var holdExpires *int64
	var created, updated int64
	m := &a.Merchant
	if err := s.Scan(&a.ID, &a.NetworkID, &cardID, &agentID, &userID, &a.Status, &a.DeclineCode, &a.Reason, &a.Amount,
		&a.Currency, &m.Name, &m.MCC, &m.ID, &m.Country, &a.IntentID, &a.DecisionID, &a.RiskScore, &signals,
		&a.RiskReview, &checks, &a.Paper, &a.SettledAmount, &a.RefundedAmount, &a.HoldID, &holdExpires, &a.Day,
		&a.Month, &created, &updated, &a.Kind, &a.NetworkAnswer); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(signals), &a.RiskSignals); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(checks), &a.Checks); err != nil {
		return nil, err
	}
	a.CardID, a.AgentID, a.UserID = spendingID(cardID), spendingID(agentID), spendingID(userID)
	a.HoldExpiresAt = timePtr(holdExpires)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// InsertAuthorization implements engine.Tx. A repeated network id inserts
// nothing (ON CONFLICT DO NOTHING), so the transaction stays usable: the
// engine goes on to find the authorization that was there first.
func (t *tx) InsertAuthorization(a *engine.Authorization) error {
	m := a.Merchant
	return t.insertUnique(conflict("network id "+a.NetworkID+" already used"), `INSERT INTO authorizations (`+
		authorizationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)
		ON CONFLICT (network_id) DO NOTHING`,
		a.ID, a.NetworkID, spendingNullID(a.CardID), spendingNullID(a.AgentID), spendingNullID(a.UserID), a.Status,
		a.DeclineCode, a.Reason, a.Amount, a.Currency, m.Name, m.MCC, m.ID, m.Country, a.IntentID, a.DecisionID,
		a.RiskScore, mustJSON(a.RiskSignals), a.RiskReview, mustJSON(a.Checks), a.Paper, a.SettledAmount,
		a.RefundedAmount, a.HoldID, nullMicros(a.HoldExpiresAt), a.Day, a.Month, micros(a.CreatedAt),
		micros(a.UpdatedAt), cmp.Or(a.Kind, engine.KindCharge), a.NetworkAnswer)
}

// UpdateAuthorization implements engine.Tx.
func (t *tx) UpdateAuthorization(a *engine.Authorization) error {
	return t.execOne(notFound("authorization", a.ID), `UPDATE authorizations SET status = $1, settled_amount = $2,
		refunded_amount = $3, updated_at = $4 WHERE id = $5`,
		a.Status, a.SettledAmount, a.RefundedAmount, micros(a.UpdatedAt), a.ID)
}

// FindAuthorization implements engine.Tx.
func (t *tx) FindAuthorization(id string) (*engine.Authorization, error) {
	return findOne(t, scanAuthorization, notFound("authorization", id),
		`SELECT `+authorizationColumns+` FROM authorizations WHERE id = $1`, id)
}

// FindAuthorizationByNetworkID implements engine.Tx.
func (t *tx) FindAuthorizationByNetworkID(networkID string) (*engine.Authorization, error) {
	return findOne(t, scanAuthorization, notFound("authorization with network id", networkID),
		`SELECT `+authorizationColumns+` FROM authorizations WHERE network_id = $1`, networkID)
}

// authorizationStatuses are every status an authorization may have.
var authorizationStatuses = []string{engine.AuthApproved, engine.AuthDeclined, engine.AuthSettled, engine.AuthReversed,
	engine.AuthExpired}

// ListAuthorizations implements engine.Tx.
func (t *tx) ListAuthorizations(f engine.AuthorizationFilter) ([]*engine.Authorization, error) {
	var c conditions
	if f.CardID != "" {
		c.And("card_id = ?", f.CardID)
	}
	if f.AgentID != "" {
		c.And("agent_id = ?", f.AgentID)
	}
	if f.DeclineCode != "" {
		// No index of its own: the engine asks with the declined status.
		c.And("decline_code = ?", f.DeclineCode)
	}
	c.After("id", f.After, true)
	selectFrom := `SELECT ` + authorizationColumns + ` FROM authorizations`
	if f.HoldExpiresBefore != nil {
		// A sweep, in expiry order (authorizations_holds).
		if len(f.Statuses) > 0 {
			c.And(storekit.InValues("status", f.Statuses))
		}
		c.And("hold_expires_at <= ?", micros(*f.HoldExpiresBefore))
		q, args := c.query(selectFrom, "hold_expires_at, id", f.Limit)
		return queryList(t, scanAuthorization, q, args...)
	}
	if f.AgentID == "" && f.CardID == "" {
		// Every agent's: the table in id order, the status a filter.
		if len(f.Statuses) > 0 {
			c.And(storekit.InValues("status", f.Statuses))
		}
		q, args := c.query(selectFrom, "id DESC", f.Limit)
		return queryList(t, scanAuthorization, q, args...)
	}
	statuses := f.Statuses
	if len(statuses) == 0 {
		statuses = authorizationStatuses
	}
	q, args := spendingByStatus(c, selectFrom, "status", statuses, "id DESC", f.Limit)
	return queryList(t, scanAuthorization, q, args...)
}
