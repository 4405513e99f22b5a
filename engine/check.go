package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PolicyCheckInput asks whether a spend is allowed (DESIGN §5).
type PolicyCheckInput struct {
	Agent      string `json:"agent_id,omitempty"`
	ActionType string `json:"action_type"` // purchase, payment, transfer, trade, api_spend or any string; default purchase
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"` // default: the policy currency
	Reason     string `json:"reason,omitempty"`
	Merchant   string `json:"merchant,omitempty"`
	MCC        string `json:"mcc,omitempty"`
	// DryRun decides without recording a spend: nothing counts toward the
	// windows and nothing waits for approval.
	DryRun         bool   `json:"dry_run,omitempty"`
	IdempotencyKey string `json:"-"`
}

// PolicyCheck decides a spend that is not a card charge (or pre-flights
// one): every check of DESIGN §4 that applies, each reported as a named rule.
// An approved or reduced decision counts toward the agent's windows unless
// dry_run; a requires_approval one waits in the approvals queue and counts
// once approved and executed. For a paper agent a counted spend also draws
// on its paper balance. Agents, and operators acting for one.
func (e *Engine) PolicyCheck(ctx context.Context, actor Actor, in PolicyCheckInput) (*Decision, error) {
	if err := actor.requireRole("policy check", RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	agentRef, err := actor.agentRef(in.Agent)
	if err != nil {
		return nil, err
	}
	in.Agent = agentRef
	if in.ActionType == "" {
		in.ActionType = "purchase"
	}
	if in.ActionType, err = checkFreeText("action_type", strings.ToLower(in.ActionType), maxNameLen, true); err != nil {
		return nil, err
	}
	if err := checkAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	if in.Reason, err = checkFreeText("reason", in.Reason, maxTextLen, false); err != nil {
		return nil, err
	}
	if in.Merchant, err = checkFreeText("merchant", in.Merchant, maxMerchantLen, false); err != nil {
		return nil, err
	}
	if err := checkMerchantName("merchant", in.Merchant); err != nil {
		return nil, err
	}
	if in.MCC, err = checkMCC("mcc", in.MCC); err != nil {
		return nil, err
	}
	if in.Currency != "" {
		if in.Currency, err = normalizeCurrency("currency", in.Currency, ""); err != nil {
			return nil, err
		}
	}
	var out *Decision
	var fresh bool
	start := time.Now()
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		fresh = false
		out, err = idempotent(tx, actor, in.IdempotencyKey, "policy.check", in, now, func() (*Decision, error) {
			fresh = true
			return e.policyCheck(tx, actor, in, now)
		})
		return err
	})
	if err == nil && fresh {
		e.observe(checkObservation(out, time.Since(start)))
	}
	return out, err
}

func (e *Engine) policyCheck(tx Tx, actor Actor, in PolicyCheckInput, now time.Time) (*Decision, error) {
	agent, err := findAgentFor(tx, actor, "agent_id", in.Agent)
	if err != nil {
		return nil, err
	}
	policy := agent.Policy.Effective()
	if in.Currency == "" {
		in.Currency = policy.Currency
	}
	user, err := tx.FindUser(agent.UserID)
	if err != nil {
		return nil, err
	}
	d := &Decision{
		ID: e.newID(PrefixDecision, now), AgentID: agent.ID, Kind: KindPolicyCheck, ActionType: in.ActionType,
		Amount: in.Amount, Currency: in.Currency, Merchant: in.Merchant, MCC: in.MCC, AgentReason: in.Reason,
		DryRun: in.DryRun, Paper: agent.Mode == ModePaper, PolicyChecks: []Check{}, CreatedAt: now, UpdatedAt: now,
	}
	c := &checkRun{e: e, tx: tx, now: now, in: in, agent: agent, user: user, policy: policy, d: d}
	if err := c.run(); err != nil {
		return nil, err
	}
	// The decision is written once, with what it counted or that it waits.
	counts := !in.DryRun && (d.Status == DecisionApproved || d.Status == DecisionReduced)
	if counts {
		d.Counted, d.Day, d.Month = d.spendAmount(), c.windows.day, c.windows.month
	}
	if !in.DryRun && d.Status == DecisionRequiresApproval {
		expires := now.Add(e.approvalTTL)
		d.ApprovalStatus, d.ApprovalExpiresAt = ApprovalPending, &expires
	}
	if err := tx.InsertDecision(d); err != nil {
		return nil, err
	}
	if in.DryRun {
		return d, nil
	}
	if counts {
		if err := e.countSpend(tx, agent, d, now); err != nil {
			return nil, err
		}
	}
	if d.Status == DecisionRequiresApproval {
		if err := e.emit(tx, now, EventApprovalRequested, d); err != nil {
			return nil, err
		}
	}
	if l := c.limitBlock; d.Status == DecisionBlocked && l != nil {
		if err := e.emit(tx, now, EventLimitExceeded, LimitExceeded{
			AgentID: agent.ID, DecisionID: d.ID, Rule: l.Rule, Code: l.code, Message: l.Message, Amount: d.Amount, Currency: d.Currency,
		}); err != nil {
			return nil, err
		}
	}
	switch d.Status {
	case DecisionBlocked:
		agent.Risk.recordDeclined(now)
	case DecisionRequiresApproval: // neither approved nor declined yet
		agent.Risk.recordAttempt(now)
	default:
		agent.Risk.recordApproved(now, d.spendAmount(), d.Currency == policy.Currency)
	}
	return d, tx.UpdateAgentRisk(agent.ID, agent.Risk)
}

// spendAmount is what an approved decision lets the agent spend.
func (d *Decision) spendAmount() int64 {
	if d.AllowedAmount != nil {
		return *d.AllowedAmount
	}
	return d.Amount
}

// countSpend applies the spend a decision counted (d.Counted in the
// windows d.Day and d.Month): the agent's counters, the paper balance of a
// paper agent, and the merchant history.
func (e *Engine) countSpend(tx Tx, agent *Agent, d *Decision, now time.Time) error {
	if err := tx.AddCounters(countDeltas(agent.ID, "", d.Currency, d.Day, d.Month, d.Counted, 1)); err != nil {
		return err
	}
	// A decision counts from when it was made, or executed.
	if err := tx.AddVelocity(velocityDeltas(agent, nil, now, 1)); err != nil {
		return err
	}
	if d.Paper {
		if err := tx.InsertTransfer(&Transfer{
			ID: e.newID(PrefixTransfer, now), Kind: TransferPosted, DebitAccountID: PaperAccountID(agent.ID, d.Currency),
			CreditAccountID: paperMintAccountID(d.Currency), Amount: d.Counted, Currency: d.Currency, Reference: d.ID, CreatedAt: now,
		}); err != nil {
			return err
		}
	}
	return tx.MarkMerchantSeen(agent.ID, normalizeMerchant(d.Merchant), d.MCC, now)
}

// checkRun carries one policy_check through its rules.
type checkRun struct {
	e      *Engine
	tx     Tx
	now    time.Time
	in     PolicyCheckInput
	agent  *Agent
	user   *User
	policy Policy
	d      *Decision

	windows *spendWindows
	failed  string // message of the first failing rule
	// limitBlock is the limit rule that blocked the spend, with its code.
	limitBlock *limitResult
}

func (c *checkRun) add(rule, result, message string) {
	c.d.PolicyChecks = append(c.d.PolicyChecks, Check{Rule: rule, Result: result, Message: message})
	if result == CheckFail && c.failed == "" {
		c.failed = message
	}
}

// run evaluates every rule and settles the decision's status.
func (c *checkRun) run() error {
	in, p, d := c.in, c.policy, c.d
	money := func(v int64) string { return FormatAmount(v, in.Currency) }

	if c.agent.Mode == ModeDisabled {
		c.add("agent_mode", CheckFail, fmt.Sprintf("agent %s is disabled", c.agent.Name))
	} else {
		c.add("agent_mode", CheckPass, fmt.Sprintf("agent %s is %s", c.agent.Name, c.agent.Mode))
	}
	if p.hasAmountLimits() && in.Currency != p.Currency {
		c.add("currency", CheckFail, fmt.Sprintf("the spend is in %s but the policy's limits are in %s", in.Currency, p.Currency))
	}
	if slices.Contains(p.BlockedActionTypes, in.ActionType) {
		c.add("action_type", CheckFail, fmt.Sprintf("action type %q is blocked by the policy", in.ActionType))
	} else if len(p.BlockedActionTypes) > 0 {
		c.add("action_type", CheckPass, fmt.Sprintf("action type %q is allowed", in.ActionType))
	}
	merchant := Merchant{Name: in.Merchant, MCC: in.MCC}
	if rule, msg, blocked := merchantControl(p.SpendLimits, merchant, "the policy", true); blocked {
		c.add(rule, CheckFail, msg)
	} else if len(p.AllowedMCCs)+len(p.BlockedMCCs)+len(p.AllowedMerchants)+len(p.BlockedMerchants) > 0 {
		c.add("merchant", CheckPass, fmt.Sprintf("merchant %q (MCC %s) is allowed", in.Merchant, orNone(in.MCC)))
	}

	var err error
	if c.windows, err = c.e.loadWindows(c.tx, c.agent.ID, nil, in.Currency, p.SpendLimits, c.now); err != nil {
		return err
	}
	limits := evaluateLimits(in.Amount, in.Currency, p.SpendLimits, nil, c.windows)
	// allow_reduce: when only the per-transaction limit fails, offer that
	// limit instead, provided every other limit passes at the lower amount.
	if p.AllowReduce && c.failed == "" && onlyPerTransactionFails(limits) {
		allowed := *p.PerTransactionLimit
		if atAllowed := evaluateLimits(allowed, in.Currency, p.SpendLimits, nil, c.windows); !anyFails(atAllowed) {
			d.AllowedAmount = &allowed
			perTxn := limits[0] // the per-transaction rule always comes first
			perTxn.Message += "; reduced to " + money(allowed)
			limits = append([]limitResult{perTxn}, atAllowed[1:]...)
		}
	}
	limitBlocks := anyFails(limits) && d.AllowedAmount == nil
	for _, r := range limits {
		c.add(r.Rule, r.Result, r.Message)
		if limitBlocks && r.code != "" && c.limitBlock == nil {
			c.limitBlock = &r
		}
	}
	amount := d.spendAmount()

	approval := needsApproval(c.agent, p, amount)
	switch {
	case approval && limitBlocks:
		c.add("approval_threshold", CheckSkip, "not reached: a limit already blocks the spend")
	case approval:
		c.add("approval_threshold", CheckFail, approvalReason(c.agent, p, amount, in.Currency))
	case p.ApprovalThreshold != nil:
		c.add("approval_threshold", CheckPass, fmt.Sprintf("%s ≤ %s approval threshold", money(amount), money(*p.ApprovalThreshold)))
	}

	var seenMerchant, seenMCC bool
	if normalizeMerchant(in.Merchant) != "" || in.MCC != "" {
		if seenMerchant, seenMCC, err = c.tx.MerchantSeen(c.agent.ID, normalizeMerchant(in.Merchant), in.MCC); err != nil {
			return err
		}
	}
	score, signals := scoreRisk(riskInput{
		state: c.agent.Risk, now: c.now, amount: amount, inPolicyCurrency: in.Currency == p.Currency,
		merchantKnown: normalizeMerchant(in.Merchant) != "", merchantSeen: seenMerchant, mccKnown: in.MCC != "", mccSeen: seenMCC,
	})
	d.RiskScore = score
	riskReview := false
	switch {
	case p.RiskDeclineScore != nil && int64(score) >= *p.RiskDeclineScore:
		c.add("risk", CheckFail, fmt.Sprintf("risk score %d reaches the decline score %d (%s)", score, *p.RiskDeclineScore, signalNames(signals)))
	case p.RiskReviewScore != nil && int64(score) >= *p.RiskReviewScore:
		riskReview = true
		c.add("risk", CheckPass, fmt.Sprintf("risk score %d reaches the review score %d (%s): needs a human", score, *p.RiskReviewScore, signalNames(signals)))
	default:
		c.add("risk", CheckPass, fmt.Sprintf("risk score %d", score))
	}

	if err := c.checkFunds(amount); err != nil {
		return err
	}

	// The first blocking failure decides; otherwise approval, then reduction.
	blocked := false
	for _, chk := range d.PolicyChecks {
		if chk.Result == CheckFail && chk.Rule != "approval_threshold" && !(d.AllowedAmount != nil && chk.Rule == "per_transaction_limit") {
			blocked = true
			d.Reason = upperFirst(chk.Message)
			if c.limitBlock != nil && c.limitBlock.Rule != chk.Rule {
				c.limitBlock = nil // an earlier rule blocked the spend
			}
			break
		}
	}
	switch {
	case blocked:
		d.Status, d.AllowedAmount = DecisionBlocked, nil
	case approval || riskReview:
		d.Status, d.RequiresHumanApproval = DecisionRequiresApproval, true
		d.Reason = "Needs a human's approval: " + approvalText(approval, riskReview, c.agent, p, amount, in.Currency, score)
	case d.AllowedAmount != nil:
		d.Status = DecisionReduced
		d.Reason = fmt.Sprintf("Reduced to %s, the per-transaction limit", money(*d.AllowedAmount))
	default:
		d.Status, d.Reason = DecisionApproved, "All policy checks passed"
	}
	return nil
}

func approvalText(approval, riskReview bool, agent *Agent, p Policy, amount int64, currency string, score int) string {
	var parts []string
	if approval {
		parts = append(parts, approvalReason(agent, p, amount, currency))
	}
	if riskReview {
		parts = append(parts, fmt.Sprintf("risk score %d reaches the review score", score))
	}
	return strings.Join(parts, "; ")
}

func onlyPerTransactionFails(limits []limitResult) bool {
	failed := false
	for _, r := range limits {
		if r.Result == CheckFail {
			if r.Rule != "per_transaction_limit" {
				return false
			}
			failed = true
		}
	}
	return failed
}

func anyFails(limits []limitResult) bool {
	for _, r := range limits {
		if r.Result == CheckFail {
			return true
		}
	}
	return false
}

// checkFunds: the user must have passed KYC and hold the money (or the paper
// agent its paper money).
func (c *checkRun) checkFunds(amount int64) error {
	if c.user.KYCStatus != KYCApproved {
		c.add("funds", CheckFail, fmt.Sprintf("user %s has not passed KYC (status %s); their funds cannot be spent", c.user.Name, c.user.KYCStatus))
		return nil
	}
	account, whose := UserAccountID(c.user.ID, c.in.Currency), "user "+c.user.Name+"'s"
	if c.d.Paper {
		account, whose = PaperAccountID(c.agent.ID, c.in.Currency), "agent "+c.agent.Name+"'s paper"
	}
	available, err := availableIn(c.tx, account)
	if err != nil {
		return err
	}
	money := func(v int64) string { return FormatAmount(v, c.in.Currency) }
	if available < amount {
		c.add("funds", CheckFail, fmt.Sprintf("%s available balance %s is less than %s", whose, money(available), money(amount)))
	} else {
		c.add("funds", CheckPass, fmt.Sprintf("%s available balance %s covers %s", whose, money(available), money(amount)))
	}
	return nil
}

// GetDecision returns a decision the actor may see, a lapsed approval
// request shown as expired.
func (e *Engine) GetDecision(ctx context.Context, actor Actor, id string) (*Decision, error) {
	var out *Decision
	err := e.view(ctx, func(tx Tx, now time.Time) error {
		d, err := findDecisionFor(tx, actor, id)
		if err != nil {
			return err
		}
		out = d.effective(now)
		return nil
	})
	return out, err
}

// ExecuteInput records that an approved decision's spend was made.
type ExecuteInput struct {
	DecisionID     string `json:"decision_id"`
	IdempotencyKey string `json:"-"`
}

// ExecuteDecision records that the spend a human approved has been made: the
// decision becomes executed and now counts toward the windows. The limits
// and funds are checked again, since they may have been used up while the
// request waited. Executing an executed decision changes nothing. Agents,
// and operators acting for one.
func (e *Engine) ExecuteDecision(ctx context.Context, actor Actor, in ExecuteInput) (*Decision, error) {
	if err := actor.requireRole("execute decision", RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	var out *Decision
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "decision.execute", in, now, func() (*Decision, error) {
			d, err := findDecisionFor(tx, actor, in.DecisionID)
			if err != nil {
				return nil, err
			}
			if err := e.expireDecisionIfDue(tx, d, now); err != nil {
				return nil, err
			}
			switch {
			case d.Kind != KindPolicyCheck || d.Status != DecisionRequiresApproval || d.DryRun:
				return nil, Errorf(CodeInvalidState, "decision %s is %s; only an approved requires_approval policy check is executed", d.ID, d.Status)
			case d.ApprovalStatus == ApprovalExecuted:
				return d, nil
			case d.ApprovalStatus == ApprovalPending:
				return nil, Errorf(CodeApprovalRequired, "decision %s is still waiting for a human's approval", d.ID)
			case d.ApprovalStatus != ApprovalApproved:
				return nil, Errorf(CodeInvalidState, "decision %s was %s and cannot be executed", d.ID, d.ApprovalStatus)
			}
			agent, err := tx.FindAgent(d.AgentID)
			if err != nil {
				return nil, err
			}
			if agent.Mode == ModeDisabled {
				return nil, Errorf(CodeAgentDisabled, "agent %s is disabled", agent.Name)
			}
			policy := agent.Policy.Effective()
			w, err := e.loadWindows(tx, agent.ID, nil, d.Currency, policy.SpendLimits, now)
			if err != nil {
				return nil, err
			}
			amount := d.spendAmount()
			for _, r := range evaluateLimits(amount, d.Currency, policy.SpendLimits, nil, w) {
				if r.code != "" {
					return nil, Errorf(r.code, "decision %s was approved, but %s", d.ID, r.Message)
				}
			}
			if d.Paper {
				available, err := availableIn(tx, PaperAccountID(agent.ID, d.Currency))
				if err != nil {
					return nil, err
				}
				if available < amount {
					return nil, Errorf(CodeInsufficientFunds, "paper balance %s is less than %s", FormatAmount(available, d.Currency), FormatAmount(amount, d.Currency))
				}
			}
			d.ApprovalStatus, d.ExecutedAt, d.UpdatedAt = ApprovalExecuted, &now, now
			d.Counted, d.Day, d.Month = amount, w.day, w.month
			if err := e.countSpend(tx, agent, d, now); err != nil {
				return nil, err
			}
			return d, tx.UpdateDecision(d)
		})
		return err
	})
	return out, err
}

func findDecisionFor(tx Tx, actor Actor, id string) (*Decision, error) {
	d, err := tx.FindDecision(id)
	if IsNotFound(err) || (err == nil && !actor.canSee(d.AgentID)) {
		return nil, notFound("decision_id", "decision", id)
	}
	return d, err
}

// WindowReport says how much of one spending window is used.
type WindowReport struct {
	Limit     *int64     `json:"limit"`
	Spent     int64      `json:"spent"`
	Remaining *int64     `json:"remaining"`
	ResetsAt  *time.Time `json:"resets_at,omitempty"`
}

// CountReport says how many of a counted allowance are used.
type CountReport struct {
	Limit         *int64 `json:"limit"`
	Used          int64  `json:"used"`
	Remaining     *int64 `json:"remaining"`
	WindowSeconds int64  `json:"window_seconds,omitempty"`
}

// LimitsReport is an agent's effective policy and what is left of it now.
type LimitsReport struct {
	AgentID             string       `json:"agent_id"`
	Mode                string       `json:"mode"`
	Currency            string       `json:"currency"`
	Policy              Policy       `json:"policy"`
	PerTransactionLimit *int64       `json:"per_transaction_limit"`
	Daily               WindowReport `json:"daily"`
	Monthly             WindowReport `json:"monthly"`
	Lifetime            WindowReport `json:"lifetime"`
	TransactionsToday   CountReport  `json:"transactions_today"`
	Velocity            *CountReport `json:"velocity"`
	Available           int64        `json:"available"`
}

// Limits returns an agent's effective policy and what remains in each window.
func (e *Engine) Limits(ctx context.Context, actor Actor, agentRef string) (*LimitsReport, error) {
	ref, err := actor.agentRef(agentRef)
	if err != nil {
		return nil, err
	}
	var out *LimitsReport
	err = e.view(ctx, func(tx Tx, now time.Time) error {
		agent, err := findAgentFor(tx, actor, "agent_id", ref)
		if err != nil {
			return err
		}
		p := agent.Policy.Effective()
		w, err := e.loadWindows(tx, agent.ID, nil, p.Currency, p.SpendLimits, now)
		if err != nil {
			return err
		}
		window := func(limit *int64, spent int64, resets *time.Time) WindowReport {
			r := WindowReport{Limit: limit, Spent: spent, ResetsAt: resets}
			if limit != nil {
				r.Remaining = ptr(max(*limit-spent, 0))
			}
			return r
		}
		out = &LimitsReport{
			AgentID: agent.ID, Mode: agent.Mode, Currency: p.Currency, Policy: p, PerTransactionLimit: p.PerTransactionLimit,
			Daily:    window(p.DailyLimit, w.agent.day.Amount, &w.resetDay),
			Monthly:  window(p.MonthlyLimit, w.agent.month.Amount, &w.resetMo),
			Lifetime: window(p.LifetimeLimit, w.agent.life.Amount, nil),
		}
		out.TransactionsToday = CountReport{Limit: p.MaxTransactionsPerDay, Used: w.agentCount.day.Count}
		if p.MaxTransactionsPerDay != nil {
			out.TransactionsToday.Remaining = ptr(max(*p.MaxTransactionsPerDay-w.agentCount.day.Count, 0))
		}
		if v := p.Velocity; v != nil {
			out.Velocity = &CountReport{Limit: &v.Count, Used: w.agentVelocity, Remaining: ptr(max(v.Count-w.agentVelocity, 0)), WindowSeconds: v.WindowSeconds}
		}
		account := UserAccountID(agent.UserID, p.Currency)
		if agent.Mode == ModePaper {
			account = PaperAccountID(agent.ID, p.Currency)
		}
		out.Available, err = availableIn(tx, account)
		return err
	})
	return out, err
}
