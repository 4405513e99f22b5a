package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AuthorizeInput is one charge attempt as the card network presents it.
type AuthorizeInput struct {
	// CardID names the card; alternatively PAN does (as a real network
	// would), and then the PAN is never stored or echoed.
	CardID string `json:"card_id,omitempty"`
	// Issuer and IssuerCardID name the card by a real issuer's id for it
	// (see LinkCard); an unlinked one is declined CARD_NOT_FOUND.
	Issuer       string   `json:"issuer,omitempty"`
	IssuerCardID string   `json:"issuer_card_id,omitempty"`
	PAN          string   `json:"-"`
	CVV          string   `json:"-"` // checked when given
	Amount       int64    `json:"amount"`
	Currency     string   `json:"currency"`
	Merchant     Merchant `json:"merchant"`
	// NetworkID is the network's own id for the attempt: the same id twice
	// returns the first decision. One is generated when empty.
	NetworkID string `json:"network_id"`
	// IdempotencyKey makes a retry without a network id return the first
	// decision (the same key with another charge is IDEMPOTENCY_CONFLICT).
	IdempotencyKey string `json:"-"`
}

// keyedCharge is what an idempotency key is bound to: the charge, with the
// card as it resolved (a PAN is never part of a stored request hash, which
// could be brute-forced back to it).
type keyedCharge struct {
	Card         string   `json:"card"`
	Issuer       string   `json:"issuer,omitempty"`
	IssuerCardID string   `json:"issuer_card_id,omitempty"`
	CVVGiven     bool     `json:"cvv_given,omitempty"`
	Amount       int64    `json:"amount"`
	Currency     string   `json:"currency"`
	Merchant     Merchant `json:"merchant"`
	NetworkID    string   `json:"network_id,omitempty"`
}

// keyed returns the charge an idempotency key is checked against.
func (in AuthorizeInput) keyed(tx Tx) (keyedCharge, error) {
	k := keyedCharge{Card: in.CardID, Issuer: in.Issuer, IssuerCardID: in.IssuerCardID, CVVGiven: in.CVV != "",
		Amount: in.Amount, Currency: in.Currency, Merchant: in.Merchant, NetworkID: in.NetworkID}
	if in.PAN != "" {
		card, err := tx.FindCardByPAN(in.PAN)
		switch {
		case err == nil:
			k.Card = card.ID
		case IsNotFound(err):
			k.Card = "unknown card ····" + in.PAN[len(in.PAN)-4:]
		default:
			return k, err
		}
	}
	return k, nil
}

// Authorize decides a card charge in one write transaction, running the
// checks of DESIGN §4 in order; the first that fails gives the decline code.
// Approved or declined, the authorization is recorded with every check that
// ran and returned; only bad input and failures of the store are errors.
// Operators (and the sandbox network, which runs as one) only.
func (e *Engine) Authorize(ctx context.Context, actor Actor, in AuthorizeInput) (*Authorization, error) {
	return e.recordAuthorization(ctx, actor, in, "authorize", e.authorize)
}

// recordAuthorization runs one network request (op) in a write
// transaction: the caller's role, the input, its idempotency key and a
// network id when it has none, around decide.
func (e *Engine) recordAuthorization(ctx context.Context, actor Actor, in AuthorizeInput, op string,
	decide func(Tx, AuthorizeInput, time.Time) (*Authorization, error)) (*Authorization, error) {
	if err := actor.requireRole(op, RoleAdmin, RoleNetwork); err != nil {
		return nil, err
	}
	in, err := in.normalize()
	if err != nil {
		return nil, err
	}
	var out *Authorization
	var fresh bool
	var last4 string
	start := time.Now()
	// A charge moves the money of its card's user only: on a store that
	// allows it, charges of different users are decided at once.
	ref := CardRef{ID: in.CardID, PAN: in.PAN, Issuer: in.Issuer, IssuerCardID: in.IssuerCardID}
	err = e.updateCharge(ctx, ref, func(tx Tx, now time.Time) error {
		fresh = false
		var keyed keyedCharge
		if in.IdempotencyKey != "" {
			if keyed, err = in.keyed(tx); err != nil {
				return err
			}
		}
		out, err = idempotent(tx, actor, in.IdempotencyKey, op, keyed, now, func() (*Authorization, error) {
			if in.NetworkID == "" {
				in.NetworkID = e.newID("net_", now)
			}
			fresh = true
			a, err := decide(tx, in, now)
			if err == nil {
				last4, a.cardLast4 = a.cardLast4, "" // only the observation keeps it
				if last4 == "" && a.CardID != "" && e.observing() {
					// An earlier decision of the same network id: its card
					// was not read this time.
					if c, err := tx.FindCard(a.CardID); err == nil {
						last4 = c.Last4
					}
				}
			}
			return a, err
		})
		return err
	})
	if err == nil && fresh {
		e.observe(Observation{Kind: ObservedAuthorization, ID: out.ID, AgentID: out.AgentID, CardLast4: last4,
			Amount: out.Amount, Currency: out.Currency, Status: out.Status, DeclineCode: out.DeclineCode,
			RiskScore: out.RiskScore, Duration: time.Since(start)})
	}
	return out, err
}

func (in AuthorizeInput) normalize() (AuthorizeInput, error) {
	var err error
	in.CardID = strings.TrimSpace(in.CardID)
	if LooksLikePAN(in.CardID) {
		// A card number where an id was expected is a card number: looked
		// up as one, and never echoed or stored.
		if in.PAN != "" {
			return in, invalid("card_id", "give a card id or a card number (pan), not both")
		}
		in.PAN, in.CardID = in.CardID, ""
	}
	if LooksLikePAN(in.PAN) {
		in.PAN = panDigits(in.PAN)
	}
	in.IssuerCardID = strings.TrimSpace(in.IssuerCardID)
	switch {
	case in.CardID == "" && in.PAN == "" && in.IssuerCardID == "":
		return in, invalid("card_id", "is required (or a PAN)")
	case in.IssuerCardID != "" && in.Issuer != IssuerStripe && in.Issuer != IssuerLithic:
		return in, invalid("issuer", "must be %s or %s", IssuerStripe, IssuerLithic)
	case len(in.IssuerCardID) > 100:
		return in, invalid("issuer_card_id", "must be at most 100 characters")
	case in.PAN != "" && !LooksLikePAN(in.PAN):
		return in, &Error{Code: CodeInvalidInput, Field: "pan", Message: "pan: must be 12 to 19 digits"} // never echoed
	case in.CVV != "" && (len(in.CVV) < 3 || len(in.CVV) > 4 || strings.Trim(in.CVV, "0123456789") != ""):
		return in, invalid("cvv", "must be 3 or 4 digits")
	case len(in.CardID) > 100:
		return in, invalid("card_id", "must be at most 100 characters")
	}
	if err := checkAmount("amount", in.Amount); err != nil {
		return in, err
	}
	if in.Currency, err = normalizeCurrency("currency", in.Currency, DefaultCurrency); err != nil {
		return in, err
	}
	if in.Merchant.Name, err = checkFreeText("merchant.name", in.Merchant.Name, maxMerchantLen, true); err != nil {
		return in, err
	}
	if in.Merchant.MCC, err = checkMCC("merchant.mcc", in.Merchant.MCC); err != nil {
		return in, err
	}
	if in.Merchant.ID, err = checkText("merchant.id", in.Merchant.ID, maxNameLen, false); err != nil {
		return in, err
	}
	if in.Merchant.Country, err = checkCountry("merchant.country", in.Merchant.Country); err != nil {
		return in, err
	}
	if in.NetworkID, err = checkText("network_id", in.NetworkID, maxNameLen, false); err != nil {
		return in, err
	}
	return in, nil
}

// maxIntentCandidates bounds how many revealed intents one charge is
// compared with.
const maxIntentCandidates = 20

// authRun carries one authorization through its checks.
type authRun struct {
	e   *Engine
	tx  Tx
	now time.Time
	in  AuthorizeInput

	auth   *Authorization
	card   *Card
	agent  *Agent
	user   *User
	policy Policy

	intent     *Intent   // the revealed intent this charge matches
	mismatched *Intent   // the revealed intent it failed to match
	lapsed     []*Intent // revealed intents found past their expiry
	consumed   *Decision // the approved decision this charge executes
	windows    *spendWindows
	funds      string // the account the hold draws on

	riskScored            bool
	merchantKey           string
	merchantSeen, mccSeen bool // before this charge
}

func (e *Engine) authorize(tx Tx, in AuthorizeInput, now time.Time) (*Authorization, error) {
	r := &authRun{e: e, tx: tx, now: now, in: in, merchantKey: normalizeMerchant(in.Merchant.Name)}
	r.auth = &Authorization{
		ID: e.newID(PrefixAuthorization, now), Kind: KindCharge, CardID: in.CardID, Amount: in.Amount, Currency: in.Currency,
		Merchant: in.Merchant, NetworkID: in.NetworkID, Checks: []Check{}, RiskSignals: []RiskSignal{},
		CreatedAt: now, UpdatedAt: now,
	}
	code, reason, err := r.decide()
	if err != nil {
		return nil, err
	}
	if r.agent != nil && !r.riskScored {
		if err := r.scoreRisk(); err != nil {
			return nil, err
		}
	}
	if code != "" {
		r.auth.Status, r.auth.DeclineCode, r.auth.Reason, r.auth.NetworkAnswer = AuthDeclined, code, reason, NetworkDecline
	} else {
		r.auth.Status, r.auth.Reason, r.auth.NetworkAnswer = AuthApproved, "Approved", NetworkApprove
		if r.auth.Paper {
			r.auth.Reason = "Approved (paper mode: no real money moves; the network is told to decline)"
			r.auth.NetworkAnswer = NetworkDecline
		}
		if r.auth.RiskReview {
			r.auth.Reason += fmt.Sprintf("; flagged for review (risk score %d)", r.auth.RiskScore)
		}
		r.auth.Day, r.auth.Month = r.windows.day, r.windows.month
		r.auth.HoldID = e.newID(PrefixTransfer, now)
		expires := now.Add(e.holdTTL)
		r.auth.HoldExpiresAt = &expires
	}
	// The authorization row goes first: if the network id was seen before,
	// the insert is refused before anything else is written.
	if err := tx.InsertAuthorization(r.auth); ErrorCode(err) == CodeConflict {
		return firstForNetworkID(tx, in, KindCharge, r.auth.CardID)
	} else if err != nil {
		return nil, err
	}
	if err := e.emit(tx, now, EventTransactionAuthorized, r.auth); err != nil {
		return nil, err
	}
	if slices.Contains(limitCodes, code) {
		failed := r.auth.Checks[len(r.auth.Checks)-1]
		if err := e.emit(tx, now, EventLimitExceeded, LimitExceeded{
			AgentID: r.auth.AgentID, CardID: r.auth.CardID, AuthorizationID: r.auth.ID, Rule: failed.Rule, Code: code,
			Message: failed.Message, Amount: r.auth.Amount, Currency: r.auth.Currency,
		}); err != nil {
			return nil, err
		}
	}
	if code == "" {
		err = r.recordApproval()
	} else {
		err = r.recordDecline()
	}
	if err != nil {
		return nil, err
	}
	return r.auth, nil
}

// firstForNetworkID returns the decision already made for a network id,
// provided the retry describes the same charge (or credit: kind) on the
// same card. cardID is
// the card the retry resolved to ("" when none), however it named the card
// (id, PAN or issuer id), so a network id reused on another card never
// returns the first card's decision.
func firstForNetworkID(tx Tx, in AuthorizeInput, kind, cardID string) (*Authorization, error) {
	first, err := tx.FindAuthorizationByNetworkID(in.NetworkID)
	if err != nil {
		return nil, err
	}
	same := first.Amount == in.Amount && first.Currency == in.Currency && first.Merchant.Name == in.Merchant.Name &&
		first.CardID == cardID && first.Kind == kind
	if !same {
		return nil, &Error{Code: CodeIdempotencyConflict, Field: "network_id",
			Message: fmt.Sprintf("network_id: %s was already used for authorization %s of a different charge", in.NetworkID, first.ID)}
	}
	return first, nil
}

func (r *authRun) check(rule, result, message string) {
	r.auth.Checks = append(r.auth.Checks, Check{Rule: rule, Result: result, Message: message})
}

// fail records a failed check and returns its decline code and reason.
func (r *authRun) fail(rule, code, message string) (string, string, error) {
	r.check(rule, CheckFail, message)
	return code, upperFirst(message), nil
}

// decide runs the checks in the order of DESIGN §4 and stops at the first
// that fails.
func (r *authRun) decide() (code, reason string, err error) {
	for _, step := range []func() (string, string, error){
		r.checkCard, r.checkAgent, r.checkCurrency, r.checkMerchant, r.checkIntent,
		r.checkLimits, r.checkApproval, r.checkRisk, r.checkFunds,
	} {
		if code, reason, err = step(); err != nil || code != "" {
			return code, reason, err
		}
	}
	return "", "", nil
}

// 1. The card: known, active, not expired, CVV right when given.
func (r *authRun) checkCard() (string, string, error) {
	if code, reason, err := r.findCard(); err != nil || code != "" {
		return code, reason, err
	}
	card := r.card
	switch {
	case card.Status == CardFrozen:
		return r.fail("card", CodeCardFrozen, fmt.Sprintf("card ····%s is frozen (by %s)", card.Last4, card.FrozenBy))
	case card.Status == CardClosed:
		return r.fail("card", CodeCardCancelled, fmt.Sprintf("card ····%s is closed", card.Last4))
	case cardExpired(card, r.now):
		return r.fail("card", CodeExpiredCard, fmt.Sprintf("card ····%s expired at the end of %s", card.Last4, expiryString(card)))
	}
	if r.in.CVV != "" {
		secret, err := r.tx.CardSecret(card.ID)
		if err != nil {
			return "", "", err
		}
		if !constantTimeEqual(secret.CVV, r.in.CVV) {
			return r.fail("card", CodeInvalidCVV, fmt.Sprintf("the CVV given for card ····%s does not match", card.Last4))
		}
	}
	r.check("card", CheckPass, fmt.Sprintf("card ····%s is active", card.Last4))
	return "", "", nil
}

// findCard resolves the card the charge names: by id, PAN or issuer id.
func (r *authRun) findCard() (string, string, error) {
	var card *Card
	var err error
	switch {
	case r.in.PAN != "":
		card, err = r.tx.FindCardByPAN(r.in.PAN)
	case r.in.IssuerCardID != "":
		var link *CardLink
		if link, err = r.tx.FindCardLink(r.in.Issuer, r.in.IssuerCardID); err == nil {
			card, err = r.tx.FindCard(link.CardID)
		}
	default:
		card, err = r.tx.FindCard(r.in.CardID)
	}
	if IsNotFound(err) {
		r.auth.CardID = ""
		switch {
		case r.in.PAN != "":
			return r.fail("card", CodeCardNotFound, "no card has that number")
		case r.in.IssuerCardID != "":
			return r.fail("card", CodeCardNotFound, fmt.Sprintf("%s card %s is not linked to an agentledger card (agentledger card link)",
				r.in.Issuer, MaskPANs(r.in.IssuerCardID)))
		}
		return r.fail("card", CodeCardNotFound, fmt.Sprintf("no card %s exists", MaskPANs(r.in.CardID)))
	} else if err != nil {
		return "", "", err
	}
	r.card = card
	r.auth.CardID, r.auth.AgentID, r.auth.cardLast4 = card.ID, card.AgentID, card.Last4
	return "", "", nil
}

// 2. The agent's mode and its user's KYC.
func (r *authRun) checkAgent() (string, string, error) {
	agent, err := r.tx.FindAgent(r.card.AgentID)
	if err != nil {
		return "", "", err
	}
	user, err := r.tx.FindUser(agent.UserID)
	if err != nil {
		return "", "", err
	}
	r.agent, r.user, r.policy = agent, user, agent.Policy.Effective()
	r.auth.UserID, r.auth.Paper = user.ID, agent.Mode == ModePaper
	if agent.Mode == ModeDisabled {
		return r.fail("agent_mode", CodeAgentDisabled, fmt.Sprintf("agent %s is disabled", agent.Name))
	}
	r.check("agent_mode", CheckPass, fmt.Sprintf("agent %s is %s", agent.Name, agent.Mode))
	if user.KYCStatus != KYCApproved {
		return r.fail("kyc", CodeKYCRequired, fmt.Sprintf("user %s has not passed KYC (status %s)", user.Name, user.KYCStatus))
	}
	r.check("kyc", CheckPass, fmt.Sprintf("user %s is approved", user.Name))
	return "", "", nil
}

// 3. The currency: the card's, and the policy's when it sets amounts.
func (r *authRun) checkCurrency() (string, string, error) {
	switch {
	case r.in.Currency != r.card.Currency:
		return r.fail("currency", CodeCurrencyMismatch, fmt.Sprintf("the charge is in %s but card ····%s is in %s", r.in.Currency, r.card.Last4, r.card.Currency))
	case r.policy.hasAmountLimits() && r.in.Currency != r.policy.Currency:
		return r.fail("currency", CodeCurrencyMismatch, fmt.Sprintf("the charge is in %s but agent %s's policy limits are in %s", r.in.Currency, r.agent.Name, r.policy.Currency))
	}
	r.check("currency", CheckPass, "charged in "+r.in.Currency)
	return "", "", nil
}

// 4. Merchant and category controls, the card's then the policy's.
func (r *authRun) checkMerchant() (string, string, error) {
	for _, c := range []struct {
		limits SpendLimits
		owner  string
	}{{r.card.Limits, "the card's controls"}, {r.policy.SpendLimits, "agent " + r.agent.Name + "'s policy"}} {
		if rule, msg, blocked := merchantControl(c.limits, r.in.Merchant, c.owner, true); blocked {
			return r.fail(rule, CodeMerchantBlocked, msg)
		}
	}
	r.check("merchant", CheckPass, fmt.Sprintf("merchant %q (MCC %s) is allowed", r.in.Merchant.Name, orNone(r.in.Merchant.MCC)))
	return "", "", nil
}

// 5. The intent: a revealed, unexpired intent on this card that the charge
// matches. Without intent_required a matching intent is still linked.
func (r *authRun) checkIntent() (string, string, error) {
	required := r.policy.requiresIntent()
	// A card has few revealed intents at a time; the bound only keeps a
	// misbehaving agent from making every charge scan hundreds.
	live, err := r.tx.ListIntents(IntentFilter{AgentID: r.card.AgentID, CardID: r.card.ID, Statuses: []string{IntentRevealed}, ExpiresAfter: &r.now, Limit: maxIntentCandidates})
	if err != nil {
		return "", "", err
	}
	if len(live) == 0 && required {
		if r.lapsed, err = r.tx.ListIntents(IntentFilter{AgentID: r.card.AgentID, CardID: r.card.ID, Statuses: []string{IntentRevealed}, Limit: maxIntentCandidates}); err != nil {
			return "", "", err
		}
	}
	sortIntentsOldestFirst(live)
	tolerance := r.policy.tolerancePct()
	for _, i := range live {
		if ok, _ := intentMatches(i, r.in.Amount, r.in.Currency, r.in.Merchant, tolerance); ok {
			r.intent, r.auth.IntentID = i, i.ID
			r.check("intent", CheckPass, fmt.Sprintf("matches intent %s (%q, %s)", i.ID, i.Summary, FormatAmount(i.Amount, i.Currency)))
			return "", "", nil
		}
	}
	switch {
	case !required:
		r.check("intent", CheckSkip, "intent not required by policy")
		return "", "", nil
	case len(live) > 0:
		newest := live[len(live)-1]
		_, why := intentMatches(newest, r.in.Amount, r.in.Currency, r.in.Merchant, tolerance)
		r.mismatched, r.auth.IntentID = newest, newest.ID
		return r.fail("intent", CodeIntentMismatch, fmt.Sprintf("the charge does not match intent %s: %s", newest.ID, why))
	case len(r.lapsed) > 0:
		last := r.lapsed[len(r.lapsed)-1]
		r.auth.IntentID = last.ID
		return r.fail("intent", CodeIntentExpired, fmt.Sprintf("intent %s expired at %s; the agent must declare a new one", last.ID, last.ExpiresAt.Format(time.RFC3339)))
	}
	return r.fail("intent", CodeIntentRequired, fmt.Sprintf("no revealed intent covers card ····%s: the agent must declare an intent and reveal the card first", r.card.Last4))
}

// 6. Limits, the card's and the policy's.
func (r *authRun) checkLimits() (string, string, error) {
	var err error
	if r.windows, err = r.e.loadWindows(r.tx, r.agent.ID, r.card, r.in.Currency, r.policy.SpendLimits, r.now); err != nil {
		return "", "", err
	}
	for _, res := range evaluateLimits(r.in.Amount, r.in.Currency, r.policy.SpendLimits, &r.card.Limits, r.windows) {
		if res.code != "" {
			return r.fail(res.Rule, res.code, res.Message)
		}
		r.auth.Checks = append(r.auth.Checks, res.Check)
	}
	return "", "", nil
}

// 7. Human approval, when the agent is approval_only or the amount is above
// the approval threshold: a human-approved intent, or an approved
// policy_check decision covering the charge, which this charge executes.
func (r *authRun) checkApproval() (string, string, error) {
	if !needsApproval(r.agent, r.policy, r.in.Amount) {
		if r.policy.ApprovalThreshold != nil {
			r.check("approval_threshold", CheckPass, fmt.Sprintf("%s ≤ %s approval threshold",
				FormatAmount(r.in.Amount, r.in.Currency), FormatAmount(*r.policy.ApprovalThreshold, r.policy.Currency)))
		}
		return "", "", nil
	}
	if r.intent != nil && r.intent.DecisionID != "" {
		r.check("approval_threshold", CheckPass, fmt.Sprintf("intent %s was approved by a human (decision %s)", r.intent.ID, r.intent.DecisionID))
		return "", "", nil
	}
	// Only approvals still usable are read: each needed a human, and they
	// expire within the policy's approval_ttl_seconds.
	approved, err := r.tx.ListDecisions(DecisionFilter{AgentID: r.agent.ID, Kind: KindPolicyCheck,
		ApprovalStatuses: []string{ApprovalApproved}, ApprovalExpiresAfter: &r.now})
	if err != nil {
		return "", "", err
	}
	for _, d := range approved {
		if d.coversCharge(r.in) {
			r.consumed, r.auth.DecisionID = d, d.ID
			r.check("approval_threshold", CheckPass, fmt.Sprintf("covered by decision %s, approved by %s", d.ID, d.DecidedBy))
			return "", "", nil
		}
	}
	return r.fail("approval_threshold", CodeApprovalRequired, approvalReason(r.agent, r.policy, r.in.Amount, r.in.Currency)+", and no human has approved it")
}

// coversCharge reports whether an approved policy check covers a card
// charge: a card-like spend (purchase, payment) at the merchant it named
// (and in its category, if it named one), in its currency, for no more.
func (d *Decision) coversCharge(in AuthorizeInput) bool {
	return slices.Contains(cardActionTypes, d.ActionType) && d.Merchant != "" && merchantNamed(in.Merchant.Name, d.Merchant) &&
		(d.MCC == "" || d.MCC == in.Merchant.MCC) && d.Currency == in.Currency && d.Amount >= in.Amount
}

// scoreRisk computes the risk signals of this charge from the agent's history.
func (r *authRun) scoreRisk() error {
	var err error
	if r.merchantSeen, r.mccSeen, err = r.tx.MerchantSeen(r.agent.ID, r.merchantKey, r.in.Merchant.MCC); err != nil {
		return err
	}
	r.auth.RiskScore, r.auth.RiskSignals = scoreRisk(riskInput{
		state: r.agent.Risk, now: r.now, amount: r.in.Amount, inPolicyCurrency: r.in.Currency == r.policy.Currency,
		merchantKnown: r.merchantKey != "", merchantSeen: r.merchantSeen, mccKnown: r.in.Merchant.MCC != "", mccSeen: r.mccSeen,
	})
	r.riskScored = true
	return nil
}

// 8. Risk: decline at the policy's decline score, flag at its review score.
func (r *authRun) checkRisk() (string, string, error) {
	if err := r.scoreRisk(); err != nil {
		return "", "", err
	}
	score := r.auth.RiskScore
	if d := r.policy.RiskDeclineScore; d != nil && int64(score) >= *d {
		return r.fail("risk", CodeSuspectedFraud, fmt.Sprintf("risk score %d reaches the decline score %d (%s)", score, *d, signalNames(r.auth.RiskSignals)))
	}
	if v := r.policy.RiskReviewScore; v != nil && int64(score) >= *v {
		r.auth.RiskReview = true
		r.check("risk", CheckPass, fmt.Sprintf("risk score %d reaches the review score %d (%s): approved, flagged for review", score, *v, signalNames(r.auth.RiskSignals)))
		return "", "", nil
	}
	r.check("risk", CheckPass, fmt.Sprintf("risk score %d", score))
	return "", "", nil
}

// 9. Funds: the user's available balance, or the paper balance.
func (r *authRun) checkFunds() (string, string, error) {
	r.funds = UserAccountID(r.user.ID, r.in.Currency)
	whose := "user " + r.user.Name + "'s"
	if r.auth.Paper {
		r.funds = PaperAccountID(r.agent.ID, r.in.Currency)
		whose = "agent " + r.agent.Name + "'s paper"
	}
	available, err := availableIn(r.tx, r.funds)
	if err != nil {
		return "", "", err
	}
	if available < r.in.Amount {
		return r.fail("funds", CodeInsufficientFunds, fmt.Sprintf("%s available balance %s is less than %s", whose,
			FormatAmount(available, r.in.Currency), FormatAmount(r.in.Amount, r.in.Currency)))
	}
	r.check("funds", CheckPass, fmt.Sprintf("%s available balance %s covers %s", whose, FormatAmount(available, r.in.Currency), FormatAmount(r.in.Amount, r.in.Currency)))
	return "", "", nil
}

// recordApproval places the hold and applies every consequence of an
// approved charge.
func (r *authRun) recordApproval() error {
	a, now := r.auth, r.now
	if err := r.tx.InsertTransfer(&Transfer{
		ID: a.HoldID, Kind: TransferPending, DebitAccountID: r.funds, CreditAccountID: spendAccountID(a.Paper, a.Currency),
		Amount: a.Amount, Currency: a.Currency, Reference: a.ID, CreatedAt: now,
	}); err != nil {
		return err
	}
	if err := r.tx.AddCounters(countDeltas(r.agent.ID, r.card.ID, a.Currency, a.Day, a.Month, a.Amount, 1)); err != nil {
		return err
	}
	if err := r.tx.AddVelocity(velocityDeltas(r.agent, r.card, a.CreatedAt, 1)); err != nil {
		return err
	}
	if i := r.intent; i != nil {
		i.Status, i.AuthorizationID, i.ResolvedAt = IntentMatched, a.ID, &now
		if err := r.tx.UpdateIntent(i); err != nil {
			return err
		}
		if err := r.e.emit(r.tx, now, EventIntentMatched, i); err != nil {
			return err
		}
	}
	if d := r.consumed; d != nil {
		d.ApprovalStatus, d.ExecutedAt, d.AuthorizationID, d.UpdatedAt = ApprovalExecuted, &now, a.ID, now
		if err := r.tx.UpdateDecision(d); err != nil {
			return err
		}
	}
	if r.card.Type == CardSingleUse {
		r.card.Status, r.card.ClosedBy, r.card.ClosedAt, r.card.UpdatedAt = CardClosed, "system", &now, now
		if err := r.tx.UpdateCard(r.card); err != nil {
			return err
		}
		if err := r.e.queueIssuerCard(r.tx, r.card, now, true); err != nil {
			return err
		}
		if err := r.e.emit(r.tx, now, EventCardClosed, r.card); err != nil {
			return err
		}
		if err := r.e.cancelCardIntents(r.tx, r.card, now); err != nil {
			return err
		}
	}
	if !r.merchantSeen || !r.mccSeen {
		if err := r.tx.MarkMerchantSeen(r.agent.ID, r.merchantKey, a.Merchant.MCC, now); err != nil {
			return err
		}
	}
	r.agent.Risk.recordApproved(now, a.Amount, a.Currency == r.policy.Currency)
	return r.tx.UpdateAgentRisk(r.agent.ID, r.agent.Risk)
}

// recordDecline records what a declined charge changes: lapsed intents
// expire, a mismatched intent is spent, and the agent's risk history grows.
func (r *authRun) recordDecline() error {
	for _, i := range r.lapsed {
		if err := r.e.expireIfDue(r.tx, i, r.now); err != nil {
			return err
		}
	}
	if i := r.mismatched; i != nil {
		i.Status, i.AuthorizationID, i.ResolvedAt = IntentMismatched, r.auth.ID, &r.now
		if err := r.tx.UpdateIntent(i); err != nil {
			return err
		}
		if err := r.e.emit(r.tx, r.now, EventIntentMismatched, i); err != nil {
			return err
		}
	}
	if r.agent == nil {
		return nil
	}
	r.agent.Risk.recordDeclined(r.now)
	return r.tx.UpdateAgentRisk(r.agent.ID, r.agent.Risk)
}

// spendAccountID is where spent money goes: the card settlement account, or
// back to the paper mint for paper money.
func spendAccountID(paper bool, currency string) string {
	if paper {
		return paperMintAccountID(currency)
	}
	return settlementAccountID(currency)
}

func signalNames(signals []RiskSignal) string {
	names := make([]string, len(signals))
	for i, s := range signals {
		names[i] = s.Signal
	}
	if len(names) == 0 {
		return "no signals"
	}
	return strings.Join(names, ", ")
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
