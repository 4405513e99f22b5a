package postgres

import (
	"encoding/json"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

const decisionColumns = `id, agent_id, kind, action_type, amount, currency, merchant, mcc, agent_reason, status, reason,
	requires_human_approval, allowed_amount, policy_checks, risk_score, dry_run, paper, approval_status,
	approval_expires_at, decided_by, decided_at, decision_note, executed_at, intent_id, authorization_id, counted, day,
	month, created_at, updated_at`

func scanDecision(s scanner) (*engine.Decision, error) {
	var d engine.Decision
	var approvalExpires, decidedAt, executedAt *int64
	var checks string
	var created, updated int64
	if err := s.Scan(&d.ID, &d.AgentID, &d.Kind, &d.ActionType, &d.Amount, &d.Currency, &d.Merchant, &d.MCC,
		&d.AgentReason, &d.Status, &d.Reason, &d.RequiresHumanApproval, &d.AllowedAmount, &checks, &d.RiskScore,
		&d.DryRun, &d.Paper, &d.ApprovalStatus, &approvalExpires, &d.DecidedBy, &decidedAt, &d.DecisionNote,
		&executedAt, &d.IntentID, &d.AuthorizationID, &d.Counted, &d.Day, &d.Month, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(checks), &d.PolicyChecks); err != nil {
		return nil, err
	}
	d.ApprovalExpiresAt, d.DecidedAt, d.ExecutedAt = timePtr(approvalExpires), timePtr(decidedAt), timePtr(executedAt)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

// decisionCountedAt is when a decision's spend counted (decisions_counted,
// which fills an agent's velocity): when it was executed, or else when it
// was made; NULL when it counts nothing.
func decisionCountedAt(d *engine.Decision) *int64 {
	switch {
	case d.Counted == 0:
		return nil
	case d.ExecutedAt != nil:
		return nullMicros(d.ExecutedAt)
	}
	return nullMicros(&d.CreatedAt)
}

// InsertDecision implements engine.Tx.
func (t *tx) InsertDecision(d *engine.Decision) error {
	_, err := t.exec(`INSERT INTO decisions (`+decisionColumns+`, counted_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
		$23, $24, $25, $26, $27, $28, $29, $30, $31)`,
		d.ID, d.AgentID, d.Kind, d.ActionType, d.Amount, d.Currency, d.Merchant, d.MCC, d.AgentReason, d.Status,
		d.Reason, d.RequiresHumanApproval, d.AllowedAmount, mustJSON(d.PolicyChecks), d.RiskScore, d.DryRun, d.Paper,
		d.ApprovalStatus, nullMicros(d.ApprovalExpiresAt), d.DecidedBy, nullMicros(d.DecidedAt), d.DecisionNote,
		nullMicros(d.ExecutedAt), d.IntentID, d.AuthorizationID, d.Counted, d.Day, d.Month, micros(d.CreatedAt),
		micros(d.UpdatedAt), decisionCountedAt(d))
	return err
}

// UpdateDecision implements engine.Tx.
func (t *tx) UpdateDecision(d *engine.Decision) error {
	return t.execOne(notFound("decision", d.ID), `UPDATE decisions SET approval_status = $1, approval_expires_at = $2,
		decided_by = $3, decided_at = $4, decision_note = $5, executed_at = $6, authorization_id = $7, counted = $8,
		counted_at = $9, day = $10, month = $11, updated_at = $12 WHERE id = $13`,
		d.ApprovalStatus, nullMicros(d.ApprovalExpiresAt), d.DecidedBy, nullMicros(d.DecidedAt), d.DecisionNote,
		nullMicros(d.ExecutedAt), d.AuthorizationID, d.Counted, decisionCountedAt(d), d.Day, d.Month,
		micros(d.UpdatedAt), d.ID)
}

// FindDecision implements engine.Tx.
func (t *tx) FindDecision(id string) (*engine.Decision, error) {
	return findOne(t, scanDecision, notFound("decision", id),
		`SELECT `+decisionColumns+` FROM decisions WHERE id = $1`, id)
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
	selectFrom := `SELECT ` + decisionColumns + ` FROM decisions`
	bounded := f.ApprovalExpiresBefore != nil || f.ApprovalExpiresAfter != nil
	if len(f.ApprovalStatuses) > 0 {
		// The partial indexes' own condition, so the planner may use them.
		c.And("approval_status <> ''")
		if !bounded && !spendingSubset(f.ApprovalStatuses, liveApprovalStatuses) {
			// History, oldest first (Newest is only for live statuses): a
			// page per status of decisions_queue or decisions_agent_queue.
			c.After("id", f.After, false)
			q, args := spendingByStatus(c, selectFrom, "approval_status", f.ApprovalStatuses, "id", f.Limit)
			return queryList(t, scanDecision, q, args...)
		}
		c.And(storekit.InValues("approval_status", f.ApprovalStatuses))
	}
	if f.ApprovalExpiresAfter != nil {
		c.And("approval_expires_at > ?", micros(*f.ApprovalExpiresAfter))
	}
	c.After("id", f.After, f.Newest)
	order := "id"
	if f.Newest {
		order = "id DESC"
	}
	if f.ApprovalExpiresBefore != nil {
		c.And("approval_expires_at <= ?", micros(*f.ApprovalExpiresBefore))
		order = "approval_expires_at, id" // a sweep, in expiry order
	}
	q, args := c.query(selectFrom, order, f.Limit)
	return queryList(t, scanDecision, q, args...)
}

// CountPendingApprovals implements engine.Tx over decisions_approvals: an
// approval without an expiry never lapses.
func (t *tx) CountPendingApprovals(now time.Time) (int64, error) {
	var n int64
	err := t.queryRow(`SELECT count(*) FROM decisions
		WHERE approval_status = 'pending' AND (approval_expires_at IS NULL OR approval_expires_at > $1)`,
		micros(now)).Scan(&n)
	return n, err
}
