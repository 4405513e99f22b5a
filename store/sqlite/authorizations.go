package sqlite

import (
	"cmp"
	"database/sql"
	"encoding/json"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

const authorizationColumns = `id, network_id, card_id, agent_id, user_id, status, decline_code, reason, amount, currency,
	merchant_name, merchant_mcc, merchant_id, merchant_country, intent_id, decision_id, risk_score, risk_signals, risk_review,
	checks, paper, settled_amount, refunded_amount, hold_id, hold_expires_at, day, month, created_at, updated_at, kind, network_answer`

func scanAuthorization(s scanner) (*engine.Authorization, error) {
	var a engine.Authorization
	var cardID, agentID, userID sql.NullString
	var signals, checks string
	var review, paper int
	var holdExpires sql.NullInt64
	var created, updated int64
	m := &a.Merchant
	if err := s.Scan(&a.ID, &a.NetworkID, &cardID, &agentID, &userID, &a.Status, &a.DeclineCode, &a.Reason, &a.Amount, &a.Currency,
		&m.Name, &m.MCC, &m.ID, &m.Country, &a.IntentID, &a.DecisionID, &a.RiskScore, &signals, &review,
		&checks, &paper, &a.SettledAmount, &a.RefundedAmount, &a.HoldID, &holdExpires, &a.Day, &a.Month, &created, &updated,
		&a.Kind, &a.NetworkAnswer); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(signals), &a.RiskSignals); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(checks), &a.Checks); err != nil {
		return nil, err
	}
	a.CardID, a.AgentID, a.UserID = cardID.String, agentID.String, userID.String
	a.RiskReview, a.Paper = review == 1, paper == 1
	a.HoldExpiresAt = timePtr(holdExpires)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// InsertAuthorization implements engine.Tx. A repeated network id is a
// conflict detected by the insert itself, so the common case costs no lookup.
func (t *tx) InsertAuthorization(a *engine.Authorization) error {
	m := a.Merchant
	checks := mustJSON(a.Checks)
	res, err := t.exec(`INSERT INTO authorizations (`+authorizationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (network_id) DO NOTHING`,
		a.ID, a.NetworkID, nullString(a.CardID), nullString(a.AgentID), nullString(a.UserID), a.Status, a.DeclineCode, a.Reason,
		a.Amount, a.Currency, m.Name, m.MCC, m.ID, m.Country, a.IntentID, a.DecisionID, a.RiskScore, mustJSON(a.RiskSignals),
		boolInt(a.RiskReview), checks, boolInt(a.Paper), a.SettledAmount, a.RefundedAmount, a.HoldID,
		nullMicros(a.HoldExpiresAt), a.Day, a.Month, micros(a.CreatedAt), micros(a.UpdatedAt), cmp.Or(a.Kind, engine.KindCharge), a.NetworkAnswer)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return &engine.Error{Code: engine.CodeConflict, Message: "network id " + a.NetworkID + " already used"}
	}
	if t.authChecks == nil {
		t.authChecks = map[string]string{}
	}
	t.authChecks[a.ID] = string(checks)
	return nil
}

// UpdateAuthorization implements engine.Tx.
func (t *tx) UpdateAuthorization(a *engine.Authorization) error {
	return t.execOne(notFound("authorization", a.ID), `UPDATE authorizations SET status = ?, settled_amount = ?, refunded_amount = ?,
		updated_at = ? WHERE id = ?`, a.Status, a.SettledAmount, a.RefundedAmount, micros(a.UpdatedAt), a.ID)
}

// FindAuthorization implements engine.Tx.
func (t *tx) FindAuthorization(id string) (*engine.Authorization, error) {
	return findOne(t, scanAuthorization, notFound("authorization", id), `SELECT `+authorizationColumns+` FROM authorizations WHERE id = ?`, id)
}

// FindAuthorizationByNetworkID implements engine.Tx.
func (t *tx) FindAuthorizationByNetworkID(networkID string) (*engine.Authorization, error) {
	return findOne(t, scanAuthorization, notFound("authorization with network id", networkID),
		`SELECT `+authorizationColumns+` FROM authorizations WHERE network_id = ?`, networkID)
}

// ListAuthorizations implements engine.Tx.
func (t *tx) ListAuthorizations(f engine.AuthorizationFilter) ([]*engine.Authorization, error) {
	var c conditions
	switch {
	case f.CardID != "":
		// The card's index; +agent_id keeps the agent's, which would walk
		// the agent's other cards, from looking as good.
		c.And("card_id = ?", f.CardID)
		if f.AgentID != "" {
			c.And("+agent_id = ?", f.AgentID)
		}
	case f.AgentID != "":
		c.And("agent_id = ?", f.AgentID)
	}
	if f.DeclineCode != "" {
		// No index of its own: the engine asks with the declined status, so
		// the page reads the scope's declined rows and tests the code on each.
		c.And("decline_code = ?", f.DeclineCode)
	}
	c.After("id", f.After, true)
	if f.HoldExpiresBefore != nil {
		// A sweep: walk the holds index in expiry order.
		if len(f.Statuses) > 0 {
			c.And(storekit.InValues("status", f.Statuses))
		}
		c.And("hold_expires_at <= ?", micros(*f.HoldExpiresBefore))
		q, args := c.Query(`SELECT `+authorizationColumns+` FROM authorizations`, "hold_expires_at", f.Limit)
		return queryList(t, scanAuthorization, q, args...)
	}
	statuses := f.Statuses
	if f.AgentID == "" && f.CardID == "" {
		// Every agent's: the table in id order, the status a filter.
		if len(statuses) > 0 {
			c.And(storekit.InValues("status", statuses))
		}
		q, args := c.Query(`SELECT `+authorizationColumns+` FROM authorizations`, "id DESC", f.Limit)
		return queryList(t, scanAuthorization, q, args...)
	}
	if len(statuses) == 0 {
		statuses = authorizationStatuses
	}
	q, args := c.queryByStatus(`SELECT `+authorizationColumns+` FROM authorizations`, "status", statuses, "id DESC", f.Limit)
	return queryList(t, scanAuthorization, q, args...)
}

// authorizationStatuses are every status an authorization may have: the
// statuses of authorizations_agent_page and authorizations_card_page.
var authorizationStatuses = []string{engine.AuthApproved, engine.AuthDeclined, engine.AuthSettled, engine.AuthReversed, engine.AuthExpired}
