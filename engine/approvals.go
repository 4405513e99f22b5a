package engine

import (
	"context"
	"time"
)

// ListApprovalsInput filters the approvals queue.
type ListApprovalsInput struct {
	Agent string
	// Status is an approval status; default pending. "all" lists every
	// decision that ever needed a human.
	Status string
	// Newest lists newest first (pending or approved only: the queue a
	// human works); otherwise oldest first.
	Newest bool
	Page   Page
}

// ListApprovals returns a page of the decisions that need (or needed) a
// human, oldest first, lapsed ones shown as expired.
func (e *Engine) ListApprovals(ctx context.Context, actor Actor, in ListApprovalsInput) (List[Decision], error) {
	if in.Status == "" {
		in.Status = ApprovalPending
	}
	if err := checkOneOf("status", in.Status, ApprovalPending, ApprovalApproved, ApprovalDenied, ApprovalExpired, ApprovalExecuted, "all"); err != nil {
		return List[Decision]{}, err
	}
	if err := in.Page.check(PrefixDecision); err != nil {
		return List[Decision]{}, err
	}
	if in.Newest && in.Status != ApprovalPending && in.Status != ApprovalApproved {
		return List[Decision]{}, invalid("newest", "newest first is for the pending or approved queue, not %s", in.Status)
	}
	var err error
	if in.Agent, err = actor.listScope(in.Agent); err != nil {
		return List[Decision]{}, err
	}
	var out List[Decision]
	err = e.view(ctx, func(tx Tx, now time.Time) error {
		f := DecisionFilter{Newest: in.Newest}
		switch in.Status {
		case "all":
			f.ApprovalStatuses = []string{ApprovalPending, ApprovalApproved, ApprovalDenied, ApprovalExpired, ApprovalExecuted}
		case ApprovalExpired: // lapsed ones not yet swept are expired too
			f.ApprovalStatuses = []string{ApprovalExpired, ApprovalPending, ApprovalApproved}
		default:
			f.ApprovalStatuses = []string{in.Status}
		}
		if in.Agent != "" {
			a, err := findAgentFor(tx, actor, "agent_id", in.Agent)
			if err != nil {
				return err
			}
			f.AgentID = a.ID
		}
		var err error
		out, err = paginate(in.Page, func(d *Decision) string { return d.ID }, func(after string, limit int) ([]*Decision, error) {
			f.After, f.Limit = after, limit
			return tx.ListDecisions(f)
		}, func(d *Decision) *Decision {
			d = d.effective(now)
			if actor.canSee(d.AgentID) && (in.Status == "all" || d.ApprovalStatus == in.Status) {
				return d
			}
			return nil
		})
		return err
	})
	return out, err
}

// DecideInput answers an approval request.
type DecideInput struct {
	DecisionID     string `json:"decision_id"`
	Note           string `json:"note,omitempty"` // why, kept with the decision
	IdempotencyKey string `json:"-"`
}

// Approve grants a pending approval request. An intent waiting on it becomes
// pending, with its full TTL from now; a policy check may then be executed.
// Operators only (the MCP face adds the client's human, via elicitation,
// when the policy allows it).
func (e *Engine) Approve(ctx context.Context, actor Actor, in DecideInput) (*Decision, error) {
	return e.decide(ctx, actor, in, ApprovalApproved)
}

// Deny refuses a pending approval request; an intent waiting on it is denied.
func (e *Engine) Deny(ctx context.Context, actor Actor, in DecideInput) (*Decision, error) {
	return e.decide(ctx, actor, in, ApprovalDenied)
}

func (e *Engine) decide(ctx context.Context, actor Actor, in DecideInput, outcome string) (*Decision, error) {
	if err := actor.requireRole("decide approval", RoleAdmin); err != nil {
		return nil, err
	}
	var err error
	if in.Note, err = checkFreeText("note", in.Note, maxTextLen, false); err != nil {
		return nil, err
	}
	var out *Decision
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "approval."+outcome, in, now, func() (*Decision, error) {
			d, err := findDecisionFor(tx, actor, in.DecisionID)
			if err != nil {
				return nil, err
			}
			return e.answerApproval(tx, d, outcome, actor.String(), in.Note, now)
		})
		return err
	})
	return out, err
}

// ClientAnswerInput is a human's answer given through the MCP client.
type ClientAnswerInput struct {
	DecisionID string `json:"decision_id"`
	Approve    bool   `json:"approve"`
	// AnsweredBy names who answered (the client), for decided_by.
	AnsweredBy     string `json:"answered_by"`
	Note           string `json:"note,omitempty"`
	IdempotencyKey string `json:"-"`
}

// AnswerApproval records a human's answer given through another channel
// (MCP elicitation). Approval this way needs the policy's client_approval;
// a refusal is always accepted.
func (e *Engine) AnswerApproval(ctx context.Context, actor Actor, in ClientAnswerInput) (*Decision, error) {
	if err := actor.requireRole("answer approval", RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	var err error
	if in.Note, err = checkFreeText("note", in.Note, maxTextLen, false); err != nil {
		return nil, err
	}
	if in.AnsweredBy, err = checkFreeText("answered_by", in.AnsweredBy, maxNameLen, true); err != nil {
		return nil, err
	}
	outcome := ApprovalDenied
	if in.Approve {
		outcome = ApprovalApproved
	}
	var out *Decision
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "approval.client", in, now, func() (*Decision, error) {
			d, err := findDecisionFor(tx, actor, in.DecisionID)
			if err != nil {
				return nil, err
			}
			agent, err := tx.FindAgent(d.AgentID)
			if err != nil {
				return nil, err
			}
			if in.Approve && !agent.Policy.ClientApproval {
				return nil, Errorf(CodeForbidden, "agent %s's policy does not allow approval through the MCP client", agent.Name)
			}
			return e.answerApproval(tx, d, outcome, in.AnsweredBy, in.Note, now)
		})
		return err
	})
	return out, err
}

func (e *Engine) answerApproval(tx Tx, d *Decision, outcome, by, note string, now time.Time) (*Decision, error) {
	if err := e.expireDecisionIfDue(tx, d, now); err != nil {
		return nil, err
	}
	switch d.ApprovalStatus {
	case outcome:
		return d, nil
	case ApprovalPending:
	case "":
		return nil, Errorf(CodeInvalidState, "decision %s is %s and needs no approval", d.ID, d.Status)
	default:
		return nil, Errorf(CodeInvalidState, "decision %s is already %s", d.ID, d.ApprovalStatus)
	}
	d.ApprovalStatus, d.DecidedBy, d.DecidedAt, d.DecisionNote, d.UpdatedAt = outcome, by, &now, note, now
	if outcome == ApprovalApproved && d.Kind == KindPolicyCheck {
		// From now on the expiry is that of the approval itself.
		agent, err := tx.FindAgent(d.AgentID)
		if err != nil {
			return nil, err
		}
		expires := now.Add(agent.Policy.approvalTTL())
		d.ApprovalExpiresAt = &expires
	}
	if err := tx.UpdateDecision(d); err != nil {
		return nil, err
	}
	if err := e.emit(tx, now, EventApprovalDecided, d); err != nil {
		return nil, err
	}
	if d.IntentID == "" {
		return d, nil
	}
	i, err := tx.FindIntent(d.IntentID)
	if err != nil {
		return nil, err
	}
	if i.Status != IntentAwaitingApproval {
		return d, nil
	}
	if outcome == ApprovalApproved {
		i.Status, i.ExpiresAt = IntentPending, now.Add(time.Duration(i.TTLSeconds)*time.Second)
	} else {
		i.Status, i.ResolvedAt = IntentDenied, &now
	}
	return d, tx.UpdateIntent(i)
}

// lapsed reports whether a pending approval request, or a granted approval
// of a policy check not used yet, has passed its expiry. (An approved
// intent's time runs on the intent.)
func (d *Decision) lapsed(now time.Time) bool {
	open := d.ApprovalStatus == ApprovalPending || (d.ApprovalStatus == ApprovalApproved && d.Kind == KindPolicyCheck)
	return open && d.ApprovalExpiresAt != nil && !now.Before(*d.ApprovalExpiresAt)
}

// effective returns the decision as it stands at now.
func (d *Decision) effective(now time.Time) *Decision {
	if d.lapsed(now) {
		c := *d
		c.ApprovalStatus = ApprovalExpired
		return &c
	}
	return d
}

// expireDecisionIfDue records the expiry of a lapsed approval request (and
// of the intent waiting on it) or of an approval nobody used.
func (e *Engine) expireDecisionIfDue(tx Tx, d *Decision, now time.Time) error {
	if !d.lapsed(now) {
		return nil
	}
	d.ApprovalStatus, d.UpdatedAt = ApprovalExpired, now
	if err := tx.UpdateDecision(d); err != nil {
		return err
	}
	if err := e.emit(tx, now, EventApprovalDecided, d); err != nil {
		return err
	}
	if d.IntentID == "" {
		return nil
	}
	i, err := tx.FindIntent(d.IntentID)
	if err != nil {
		return err
	}
	if i.Status == IntentAwaitingApproval {
		i.Status, i.ResolvedAt = IntentExpired, &now
		if err := tx.UpdateIntent(i); err != nil {
			return err
		}
		return e.emit(tx, now, EventIntentExpired, i)
	}
	return nil
}

// SweepResult counts what a sweep expired.
type SweepResult struct {
	Intents   int `json:"intents"`
	Approvals int `json:"approvals"`
	Holds     int `json:"holds"`
}

// sweepBatch bounds the work of one sweep transaction, so that a large
// backlog never holds the write lock for long.
const sweepBatch = 500

// Sweep records every expiry that is due: intents past their TTL, approval
// requests nobody answered, and holds of authorizations never settled
// (released, and taken out of the windows). Reads already show lapsed
// intents and approvals as expired; the sweep makes it so in the ledger.
// Servers call it periodically. Operators only.
func (e *Engine) Sweep(ctx context.Context, actor Actor) (*SweepResult, error) {
	if err := actor.requireRole("sweep", RoleAdmin); err != nil {
		return nil, err
	}
	total := &SweepResult{}
	for {
		var batch SweepResult
		err := e.update(ctx, func(tx Tx, now time.Time) error {
			batch = SweepResult{}
			intents, err := tx.ListIntents(IntentFilter{Statuses: []string{IntentAwaitingApproval, IntentPending, IntentRevealed}, ExpiresBefore: &now, Limit: sweepBatch})
			if err != nil {
				return err
			}
			for _, i := range intents {
				if err := e.expireIfDue(tx, i, now); err != nil {
					return err
				}
				batch.Intents++
			}
			decisions, err := tx.ListDecisions(DecisionFilter{ApprovalStatuses: []string{ApprovalPending}, ApprovalExpiresBefore: &now, Limit: sweepBatch})
			if err != nil {
				return err
			}
			if room := sweepBatch - len(decisions); room > 0 { // a limit of 0 would be none
				unused, err := tx.ListDecisions(DecisionFilter{Kind: KindPolicyCheck, ApprovalStatuses: []string{ApprovalApproved},
					ApprovalExpiresBefore: &now, Limit: room})
				if err != nil {
					return err
				}
				decisions = append(decisions, unused...)
			}
			for _, d := range decisions {
				if err := e.expireDecisionIfDue(tx, d, now); err != nil {
					return err
				}
				batch.Approvals++
			}
			holds, err := tx.ListAuthorizations(AuthorizationFilter{Statuses: []string{AuthApproved}, HoldExpiresBefore: &now, Limit: sweepBatch})
			if err != nil {
				return err
			}
			for _, a := range holds {
				if err := e.releaseHold(tx, a, AuthExpired, now); err != nil {
					return err
				}
				if err := e.saveAuthorization(tx, a, EventTransactionExpired, now); err != nil {
					return err
				}
				batch.Holds++
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total.Intents += batch.Intents
		total.Approvals += batch.Approvals
		total.Holds += batch.Holds
		if batch.Intents < sweepBatch && batch.Approvals < sweepBatch && batch.Holds < sweepBatch {
			return total, nil
		}
	}
}
