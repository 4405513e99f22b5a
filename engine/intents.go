package engine

import (
	"context"
	"slices"
	"time"
)

// DeclareIntentInput is an agent's attestation of one purchase.
type DeclareIntentInput struct {
	Agent            string `json:"agent_id,omitempty"`
	CardID           string `json:"card_id,omitempty"`
	Summary          string `json:"summary"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency,omitempty"` // default: the card's, else the policy's
	Merchant         string `json:"merchant,omitempty"`
	MCC              string `json:"mcc,omitempty"`
	ExpiresInSeconds int64  `json:"expires_in_seconds,omitempty"` // default and maximum: the policy's intent_ttl_seconds
	IdempotencyKey   string `json:"-"`
}

// DeclareIntent records what an agent is about to buy. The intent starts
// pending, or awaiting_approval with a linked decision in the approvals queue
// when the agent is approval_only or the amount is above the policy's
// approval threshold. A purchase that could never pass (a blocked merchant,
// an amount over the per-transaction limit, an unusable card) is refused at
// once rather than at the till. Agents, and operators acting for one.
func (e *Engine) DeclareIntent(ctx context.Context, actor Actor, in DeclareIntentInput) (*Intent, error) {
	if err := actor.requireRole("declare intent", RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	agentRef, err := actor.agentRef(in.Agent)
	if err != nil {
		return nil, err
	}
	in.Agent = agentRef
	if in.Summary, err = checkFreeText("summary", in.Summary, maxTextLen, true); err != nil {
		return nil, err
	}
	if err := checkAmount("amount", in.Amount); err != nil {
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
	if in.ExpiresInSeconds < 0 {
		return nil, invalid("expires_in_seconds", "must be positive")
	}
	var out *Intent
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		if in.CardID, err = keyedCardRef(tx, actor, in.CardID); err != nil {
			return err
		}
		out, err = idempotent(tx, actor, in.IdempotencyKey, "intent.declare", in, now, func() (*Intent, error) {
			return e.declareIntent(tx, actor, in, now)
		})
		return err
	})
	return out, err
}

func (e *Engine) declareIntent(tx Tx, actor Actor, in DeclareIntentInput, now time.Time) (*Intent, error) {
	agent, err := findAgentFor(tx, actor, "agent_id", in.Agent)
	if err != nil {
		return nil, err
	}
	if agent.Mode == ModeDisabled {
		return nil, Errorf(CodeAgentDisabled, "agent %s is disabled", agent.Name)
	}
	policy := agent.Policy.Effective()
	defaultCurrency := policy.Currency
	limits := []SpendLimits{policy.SpendLimits}
	owners := []string{"the agent's policy"}
	if in.CardID != "" {
		card, err := findCardFor(tx, actor, in.CardID)
		if err != nil || card.AgentID != agent.ID {
			return nil, notFound("card_id", "card", in.CardID)
		}
		in.CardID = card.ID // a card number named it: keep the id
		if err := cardUsable(card); err != nil {
			return nil, err
		}
		defaultCurrency = card.Currency
		limits = append(limits, card.Limits)
		owners = append(owners, "the card's controls")
	}
	cur, err := normalizeCurrency("currency", in.Currency, defaultCurrency)
	if err != nil {
		return nil, err
	}
	if in.CardID != "" && cur != defaultCurrency {
		return nil, Errorf(CodeCurrencyMismatch, "card %s is in %s, not %s", in.CardID, defaultCurrency, cur)
	}
	for n, l := range limits {
		if _, msg, blocked := merchantControl(l, Merchant{Name: in.Merchant, MCC: in.MCC}, owners[n], false); blocked {
			return nil, Errorf(CodeMerchantBlocked, "%s", msg)
		}
		if l.PerTransactionLimit != nil && cur == policy.Currency && in.Amount > *l.PerTransactionLimit {
			return nil, Errorf(CodeSpendLimitExceeded, "%s is above the %s per-transaction limit",
				FormatAmount(in.Amount, cur), FormatAmount(*l.PerTransactionLimit, cur))
		}
	}
	ttl := policy.intentTTL()
	if in.ExpiresInSeconds > 0 {
		if in.ExpiresInSeconds < 10 || in.ExpiresInSeconds > ttl {
			return nil, invalid("expires_in_seconds", "must be between 10 and the policy's intent_ttl_seconds (%d), got %d", ttl, in.ExpiresInSeconds)
		}
		ttl = in.ExpiresInSeconds
	}
	intent := &Intent{
		ID: e.newID(PrefixIntent, now), AgentID: agent.ID, CardID: in.CardID, Summary: in.Summary,
		Amount: in.Amount, Currency: cur, Merchant: in.Merchant, MCC: in.MCC, Status: IntentPending,
		TTLSeconds: ttl, ExpiresAt: now.Add(time.Duration(ttl) * time.Second), CreatedAt: now,
		Attestation: Attestation{AgentID: agent.ID, KeyID: actor.KeyID, ClientName: actor.ClientName, ClientVersion: actor.ClientVersion},
	}
	if needsApproval(agent, policy, in.Amount) {
		expires := now.Add(e.approvalTTL)
		d := &Decision{
			ID: e.newID(PrefixDecision, now), AgentID: agent.ID, Kind: KindIntentApproval, ActionType: "purchase",
			Amount: in.Amount, Currency: cur, Merchant: in.Merchant, MCC: in.MCC, AgentReason: in.Summary,
			Status: DecisionRequiresApproval, Reason: approvalReason(agent, policy, in.Amount, cur),
			RequiresHumanApproval: true, PolicyChecks: []Check{}, Paper: agent.Mode == ModePaper,
			ApprovalStatus: ApprovalPending, ApprovalExpiresAt: &expires, IntentID: intent.ID, CreatedAt: now, UpdatedAt: now,
		}
		if err := tx.InsertDecision(d); err != nil {
			return nil, err
		}
		if err := e.emit(tx, now, EventApprovalRequested, d); err != nil {
			return nil, err
		}
		intent.Status, intent.DecisionID, intent.ExpiresAt = IntentAwaitingApproval, d.ID, expires
	}
	if err := tx.InsertIntent(intent); err != nil {
		return nil, err
	}
	return intent, e.emit(tx, now, EventIntentDeclared, intent)
}

// needsApproval reports whether a spend needs a human: always for an
// approval_only agent, otherwise above the policy's approval threshold.
func needsApproval(agent *Agent, policy Policy, amount int64) bool {
	return agent.Mode == ModeApprovalOnly || (policy.ApprovalThreshold != nil && amount > *policy.ApprovalThreshold)
}

func approvalReason(agent *Agent, policy Policy, amount int64, currency string) string {
	if agent.Mode == ModeApprovalOnly {
		return "Agent " + agent.Name + " is approval_only: every spend needs a human's approval"
	}
	return FormatAmount(amount, currency) + " is above the " + FormatAmount(*policy.ApprovalThreshold, policy.Currency) + " approval threshold"
}

// GetIntent returns an intent the actor may see, with a lapsed one shown as
// expired.
func (e *Engine) GetIntent(ctx context.Context, actor Actor, id string) (*Intent, error) {
	var out *Intent
	err := e.view(ctx, func(tx Tx, now time.Time) error {
		i, err := tx.FindIntent(id)
		if IsNotFound(err) || (err == nil && !actor.canSee(i.AgentID)) {
			return notFound("intent_id", "intent", id)
		} else if err != nil {
			return err
		}
		out = i.effective(now)
		return nil
	})
	return out, err
}

// ListIntentsInput filters a listing of intents.
type ListIntentsInput struct {
	Agent  string
	CardID string
	Status string
	Page   Page
}

// ListIntents returns a page of the intents the actor may see, oldest
// first, with lapsed ones shown as expired.
func (e *Engine) ListIntents(ctx context.Context, actor Actor, in ListIntentsInput) (List[Intent], error) {
	if in.Status != "" {
		if err := checkOneOf("status", in.Status, IntentAwaitingApproval, IntentPending, IntentRevealed, IntentMatched,
			IntentMismatched, IntentDenied, IntentCancelled, IntentExpired); err != nil {
			return List[Intent]{}, err
		}
	}
	if err := in.Page.check(PrefixIntent); err != nil {
		return List[Intent]{}, err
	}
	var err error
	if in.Agent, err = actor.listScope(in.Agent); err != nil {
		return List[Intent]{}, err
	}
	var out List[Intent]
	err = e.view(ctx, func(tx Tx, now time.Time) error {
		f := IntentFilter{}
		if in.CardID != "" {
			c, err := findCardFor(tx, actor, in.CardID)
			if err != nil {
				return err
			}
			f.AgentID, f.CardID = c.AgentID, c.ID
		}
		if in.Agent != "" {
			a, err := findAgentFor(tx, actor, "agent_id", in.Agent)
			if err != nil {
				return err
			}
			f.AgentID = a.ID
		}
		if in.Status != "" {
			f.Statuses = []string{in.Status}
			if in.Status == IntentExpired { // lapsed ones not yet swept are expired too
				f.Statuses = append(f.Statuses, IntentAwaitingApproval, IntentPending, IntentRevealed)
			}
		}
		var err error
		out, err = paginate(in.Page, func(i *Intent) string { return i.ID }, func(after string, limit int) ([]*Intent, error) {
			f.After, f.Limit = after, limit
			return tx.ListIntents(f)
		}, func(i *Intent) *Intent {
			i = i.effective(now)
			if actor.canSee(i.AgentID) && (in.Status == "" || i.Status == in.Status) {
				return i
			}
			return nil
		})
		return err
	})
	return out, err
}

// CancelIntentInput names an intent to cancel.
type CancelIntentInput struct {
	IntentID       string `json:"intent_id"`
	IdempotencyKey string `json:"-"`
}

// CancelIntent withdraws an intent that has not been used: one awaiting
// approval, pending or revealed. Its approval request, if any, is withdrawn
// too (denied). Cancelling a cancelled intent changes nothing.
func (e *Engine) CancelIntent(ctx context.Context, actor Actor, in CancelIntentInput) (*Intent, error) {
	if err := actor.requireRole("cancel intent", RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	var out *Intent
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "intent.cancel", in, now, func() (*Intent, error) {
			i, err := tx.FindIntent(in.IntentID)
			if IsNotFound(err) || (err == nil && !actor.canAct(i.AgentID)) {
				return nil, notFound("intent_id", "intent", in.IntentID)
			} else if err != nil {
				return nil, err
			}
			if err := e.expireIfDue(tx, i, now); err != nil {
				return nil, err
			}
			switch i.Status {
			case IntentCancelled:
				return i, nil
			case IntentAwaitingApproval, IntentPending, IntentRevealed:
			default:
				return nil, Errorf(CodeInvalidState, "intent %s is %s and can no longer be cancelled", i.ID, i.Status)
			}
			return i, e.cancelIntent(tx, i, actor.String(), "intent cancelled by "+actor.String(), now)
		})
		return err
	})
	return out, err
}

// cancelIntent cancels an open intent; the approval request it waits on,
// if any, is withdrawn (denied by who cancelled, with the note).
func (e *Engine) cancelIntent(tx Tx, i *Intent, by, note string, now time.Time) error {
	if i.Status == IntentAwaitingApproval && i.DecisionID != "" {
		d, err := tx.FindDecision(i.DecisionID)
		if err != nil {
			return err
		}
		if d.ApprovalStatus == ApprovalPending {
			d.ApprovalStatus, d.DecidedBy, d.DecidedAt, d.DecisionNote, d.UpdatedAt = ApprovalDenied, by, &now, note, now
			if err := tx.UpdateDecision(d); err != nil {
				return err
			}
			if err := e.emit(tx, now, EventApprovalDecided, d); err != nil {
				return err
			}
		}
	}
	i.Status, i.ResolvedAt = IntentCancelled, &now
	if err := tx.UpdateIntent(i); err != nil {
		return err
	}
	return e.emit(tx, now, EventIntentCancelled, i)
}

// lapsed reports whether an open intent has passed its expiry.
func (i *Intent) lapsed(now time.Time) bool {
	open := i.Status == IntentAwaitingApproval || i.Status == IntentPending || i.Status == IntentRevealed
	return open && !now.Before(i.ExpiresAt)
}

// effective returns the intent as it stands at now: a lapsed one is expired
// even if no write has recorded it yet.
func (i *Intent) effective(now time.Time) *Intent {
	if i.lapsed(now) {
		c := *i
		c.Status, c.ResolvedAt = IntentExpired, &c.ExpiresAt
		return &c
	}
	return i
}

// expireIfDue records the expiry of a lapsed intent (and of the approval
// request it was waiting on).
func (e *Engine) expireIfDue(tx Tx, i *Intent, now time.Time) error {
	if !i.lapsed(now) {
		return nil
	}
	if i.Status == IntentAwaitingApproval && i.DecisionID != "" {
		d, err := tx.FindDecision(i.DecisionID)
		if err != nil {
			return err
		}
		if d.ApprovalStatus == ApprovalPending {
			d.ApprovalStatus, d.UpdatedAt = ApprovalExpired, now
			if err := tx.UpdateDecision(d); err != nil {
				return err
			}
			if err := e.emit(tx, now, EventApprovalDecided, d); err != nil {
				return err
			}
		}
	}
	i.Status, i.ResolvedAt = IntentExpired, &now
	if err := tx.UpdateIntent(i); err != nil {
		return err
	}
	return e.emit(tx, now, EventIntentExpired, i)
}

// intentMatches checks a charge against a revealed intent and says why it
// does not match (DESIGN §4): amount above declared × (1 + tolerance), other
// currency, or merchant or MCC not the declared one.
func intentMatches(i *Intent, amount int64, currency string, m Merchant, tolerancePct int64) (bool, string) {
	switch {
	case currency != i.Currency:
		return false, "charged in " + currency + ", intent declared " + i.Currency
	case amount*100 > i.Amount*(100+tolerancePct):
		return false, FormatAmount(amount, currency) + " is more than the declared " + FormatAmount(i.Amount, i.Currency) +
			" plus " + itoa(tolerancePct) + "% tolerance"
	case i.Merchant != "" && !merchantNamed(m.Name, i.Merchant):
		return false, "merchant " + quote(m.Name) + " is not the declared " + quote(i.Merchant)
	case i.MCC != "" && m.MCC != i.MCC:
		return false, "merchant category " + orNone(m.MCC) + " is not the declared " + i.MCC
	}
	return true, ""
}

// sortIntentsOldestFirst orders candidates so that the oldest intent is
// matched first.
func sortIntentsOldestFirst(list []*Intent) {
	slices.SortFunc(list, func(a, b *Intent) int { return a.CreatedAt.Compare(b.CreatedAt) })
}
