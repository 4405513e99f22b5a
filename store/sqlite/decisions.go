package sqlite

import (
	"database/sql"
	"encoding/json"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

const decisionColumns = `id, agent_id, kind, action_type, amount, currency, merchant, mcc, agent_reason, status, reason,
	requires_human_approval, allowed_amount, policy_checks, risk_score, dry_run, paper, approval_status, approval_expires_at,
	decided_by, decided_at, decision_note, executed_at, intent_id, authorization_id, counted, day, month, created_at, updated_at`

func scanDecision(s scanner) (*engine.Decision, error) {
	var d engine.Decision
	var requiresHuman, dryRun, paper int
	var allowed, approvalExpires, decidedAt, executedAt sql.NullInt64
	var checks string
	var created, updated int64
	if err := s.Scan(&d.ID, &d.AgentID, &d.Kind, &d.ActionType, &d.Amount, &d.Currency, &d.Merchant, &d.MCC, &d.AgentReason,
		&d.Status, &d.Reason, &requiresHuman, &allowed, &checks, &d.RiskScore, &dryRun, &paper, &d.ApprovalStatus, &approvalExpires,
		&d.DecidedBy, &decidedAt, &d.DecisionNote, &executedAt, &d.IntentID, &d.AuthorizationID, &d.Counted, &d.Day, &d.Month,
		&created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(checks), &d.PolicyChecks); err != nil {
		return nil, err
	}
	d.RequiresHumanApproval, d.DryRun, d.Paper = requiresHuman == 1, dryRun == 1, paper == 1
	d.AllowedAmount = intPtr(allowed)
	d.ApprovalExpiresAt, d.DecidedAt, d.ExecutedAt = timePtr(approvalExpires), timePtr(decidedAt), timePtr(executedAt)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

// countedAt is when a decision's spend counted: when it was executed, or
// else when it was made.
func countedAt(d *engine.Decision) sql.NullInt64 {
	switch {
	case d.Counted == 0:
		return sql.NullInt64{}
	case d.ExecutedAt != nil:
		return nullMicros(d.ExecutedAt)
	}
	return nullMicros(&d.CreatedAt)
}

// InsertDecision implements engine.Tx.
func (t *tx) InsertDecision(d *engine.Decision) error {
	_, err := t.exec(`INSERT INTO decisions (`+decisionColumns+`, counted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.AgentID, d.Kind, d.ActionType, d.Amount, d.Currency, d.Merchant, d.MCC, d.AgentReason, d.Status, d.Reason,
		boolInt(d.RequiresHumanApproval), nullInt(d.AllowedAmount), mustJSON(d.PolicyChecks), d.RiskScore, boolInt(d.DryRun),
		boolInt(d.Paper), d.ApprovalStatus, nullMicros(d.ApprovalExpiresAt), d.DecidedBy, nullMicros(d.DecidedAt), d.DecisionNote,
		nullMicros(d.ExecutedAt), d.IntentID, d.AuthorizationID, d.Counted, d.Day, d.Month, micros(d.CreatedAt), micros(d.UpdatedAt),
		countedAt(d))
	return err
}

// UpdateDecision implements engine.Tx.
func (t *tx) UpdateDecision(d *engine.Decision) error {
	return t.execOne(notFound("decision", d.ID), `UPDATE decisions SET approval_status = ?, approval_expires_at = ?, decided_by = ?,
		decided_at = ?, decision_note = ?, executed_at = ?, authorization_id = ?, counted = ?, counted_at = ?, day = ?, month = ?,
		updated_at = ? WHERE id = ?`,
		d.ApprovalStatus, nullMicros(d.ApprovalExpiresAt), d.DecidedBy, nullMicros(d.DecidedAt), d.DecisionNote, nullMicros(d.ExecutedAt),
		d.AuthorizationID, d.Counted, countedAt(d), d.Day, d.Month, micros(d.UpdatedAt), d.ID)
}

// FindDecision implements engine.Tx.
func (t *tx) FindDecision(id string) (*engine.Decision, error) {
	return findOne(t, scanDecision, notFound("decision", id), `SELECT `+decisionColumns+` FROM decisions WHERE id = ?`, id)
}

// liveApprovalStatuses are the approval statuses a decision leaves: few
// decisions have them at any time.
var liveApprovalStatuses = []string{engine.ApprovalPending, engine.ApprovalApproved}

// ListDecisions implements engine.Tx.
func (t *tx) ListDecisions(f engine.DecisionFilter) ([]*engine.Decision, error) {
	var c conditions
	if f.AgentID != "" {
		c.And("agent_id = ?", f.AgentID)
	}
	if f.Kind != "" {
		c.And("kind = ?", f.Kind)
	}
	id := "id"
	if len(f.ApprovalStatuses) > 0 {
		// Spelling out the partial indexes' condition lets SQLite use them.
		c.And("approval_status <> ''")
		if subset(f.ApprovalStatuses, liveApprovalStatuses) || f.ApprovalExpiresBefore != nil || f.ApprovalExpiresAfter != nil {
			// The few decisions still in play: found by their status and
			// sorted, rather than walking the queue in id order (+id).
			c.And(storekit.InValues("approval_status", f.ApprovalStatuses))
			id = "+id"
		} else {
			// History: one keyset read per status of decisions_queue (or
			// decisions_agent_queue), so that a page costs its own size.
			c.After("id", f.After, false)
			q, args := c.queryByStatus(`SELECT `+decisionColumns+` FROM decisions`, "approval_status", f.ApprovalStatuses, "id", f.Limit)
			return queryList(t, scanDecision, q, args...)
		}
	}
	if f.ApprovalExpiresAfter != nil {
		c.And("approval_expires_at > ?", micros(*f.ApprovalExpiresAfter))
	}
	c.After(id, f.After, f.Newest)
	order := id
	if f.Newest {
		order = id + " DESC"
	}
	if f.ApprovalExpiresBefore != nil {
		c.And("approval_expires_at <= ?", micros(*f.ApprovalExpiresBefore))
		order = "approval_expires_at" // a sweep: walk the approvals index in expiry order
	}
	q, args := c.Query(`SELECT `+decisionColumns+` FROM decisions`, order, f.Limit)
	return queryList(t, scanDecision, q, args...)
}
