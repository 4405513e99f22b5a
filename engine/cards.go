package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// CreateCardInput issues a virtual card to an agent.
type CreateCardInput struct {
	Agent    string      `json:"agent"`
	Type     string      `json:"type"`     // default multi_use
	Currency string      `json:"currency"` // default: the agent's policy currency
	Purpose  string      `json:"purpose,omitempty"`
	Limits   SpendLimits `json:"limits"`
	// Issuer provisions the card at a real issuer (IssuerStripe,
	// IssuerLithic); IssuerNone asks for a sandbox card. Empty: the agent's
	// default issuer, else a sandbox card.
	Issuer         string `json:"issuer,omitempty"`
	IdempotencyKey string `json:"-"`
}

// errProvision stops CreateCard's first transaction when the card is to be
// made at an issuer first.
var errProvision = errors.New("provision at the issuer first")

// CreateCard issues a card. A sandbox card gets a Luhn-valid PAN on the test
// BIN, a CVV and an expiry three years out. A card at a real issuer is
// created there first, with its controls mirrored from the limits, and then
// recorded here with the issuer's last four digits and expiry; its number
// stays at the issuer. A card the issuer made but that cannot be recorded
// here is cancelled there. The agent's user must have passed KYC, the agent
// must not be disabled, and the card's own limits may only be tighter than
// the agent's policy. Operators, and agents for themselves.
func (e *Engine) CreateCard(ctx context.Context, actor Actor, in CreateCardInput) (*Card, error) {
	if err := actor.requireRole("create card", RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	agentRef, err := actor.agentRef(in.Agent)
	if err != nil {
		return nil, err
	}
	in.Agent = agentRef
	if in.Type == "" {
		in.Type = CardMultiUse
	}
	if err := checkOneOf("type", in.Type, CardSingleUse, CardMultiUse); err != nil {
		return nil, err
	}
	if in.Issuer != "" {
		if err := checkOneOf("issuer", in.Issuer, IssuerStripe, IssuerLithic, IssuerNone); err != nil {
			return nil, err
		}
	}
	if in.Purpose, err = checkFreeText("purpose", in.Purpose, maxMerchantLen, false); err != nil {
		return nil, err
	}
	if in.Limits, err = in.Limits.normalize("limits."); err != nil {
		return nil, err
	}
	var out *Card
	var plan *IssuerCardSpec
	var planIssuer string
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "card.create", in, now, func() (*Card, error) {
			card, agent, user, err := e.prepareCard(tx, actor, in, e.newID(PrefixCard, now), now)
			if err != nil {
				return nil, err
			}
			if issuer := cardIssuerOf(in, agent); issuer != "" {
				holder := ""
				if h, err := tx.FindCardholder(issuer, user.ID); err == nil {
					holder = h.ExternalID
				} else if !IsNotFound(err) {
					return nil, err
				}
				card.Issuer = issuer
				spec := issuerSpec(card, agent.Policy.Effective(), user, holder)
				plan, planIssuer = &spec, issuer
				return nil, errProvision
			}
			// A PAN collision on 10^9 numbers is unlikely but not impossible.
			for attempt := 0; ; attempt++ {
				secret := CardSecret{PAN: newPAN(), CVV: newCVV()}
				card.Last4 = secret.PAN[len(secret.PAN)-4:]
				err := tx.InsertCard(card, secret)
				if err == nil {
					return card, e.emit(tx, now, EventCardCreated, card)
				} else if ErrorCode(err) != CodeConflict || attempt == 5 {
					return nil, err
				}
			}
		})
		if errors.Is(err, errProvision) {
			return nil // nothing written; the issuer comes first
		}
		return err
	})
	if err != nil || plan == nil {
		return out, err
	}
	return e.provisionCard(ctx, actor, in, planIssuer, *plan)
}

// cardIssuerOf is the issuer a new card is provisioned at: the one asked
// for, else the agent's default; empty for a sandbox card.
func cardIssuerOf(in CreateCardInput, agent *Agent) string {
	switch in.Issuer {
	case IssuerNone:
		return ""
	case "":
		return agent.DefaultIssuer
	}
	return in.Issuer
}

// prepareCard validates a new card against its agent, user and policy, and
// returns it, not yet stored and without its number.
func (e *Engine) prepareCard(tx Tx, actor Actor, in CreateCardInput, id string, now time.Time) (*Card, *Agent, *User, error) {
	agent, err := findAgentFor(tx, actor, "agent_id", in.Agent)
	if err != nil {
		return nil, nil, nil, err
	}
	policy := agent.Policy.Effective()
	cur, err := normalizeCurrency("currency", in.Currency, policy.Currency)
	if err != nil {
		return nil, nil, nil, err
	}
	if cur != policy.Currency {
		return nil, nil, nil, invalid("currency", "agent %s's policy is in %s; its cards must be too", agent.Name, policy.Currency)
	}
	if err := in.Limits.notLooserThan(policy); err != nil {
		return nil, nil, nil, err
	}
	if agent.Mode == ModeDisabled {
		return nil, nil, nil, Errorf(CodeAgentDisabled, "agent %s is disabled", agent.Name)
	}
	user, err := tx.FindUser(agent.UserID)
	if err != nil {
		return nil, nil, nil, err
	}
	if user.KYCStatus != KYCApproved {
		return nil, nil, nil, Errorf(CodeKYCRequired, "user %s has not passed KYC (status %s); no card can be issued", user.Name, user.KYCStatus)
	}
	exp := now.AddDate(cardValidityYears, 0, 0)
	card := &Card{
		ID: id, AgentID: agent.ID, Type: in.Type, Status: CardActive,
		ExpMonth: int(exp.Month()), ExpYear: exp.Year(), Currency: cur, Purpose: in.Purpose,
		Limits: in.Limits, CreatedAt: now, UpdatedAt: now,
	}
	return card, agent, user, nil
}

// provisionCard creates the planned card at its issuer, then records it
// here (validated again: the agent may have changed meanwhile). An issuer
// card that is not recorded is abandoned: cancelled at the issuer. One
// that is recorded but whose policy changed while it was being made, is
// queued and brought up to date.
func (e *Engine) provisionCard(ctx context.Context, actor Actor, in CreateCardInput, issuer string, spec IssuerCardSpec) (*Card, error) {
	iss, err := e.issuerAPI(issuer)
	if err != nil {
		return nil, &Error{Code: CodeInvalidInput, Field: "issuer", Message: "issuer: " + ErrorMessage(err)}
	}
	callCtx, cancel := context.WithTimeout(ctx, e.issuerWait)
	issued, err := iss.CreateCard(callCtx, spec)
	cancel()
	if err != nil {
		what := "no card was created"
		var ie *IssuerError
		if errors.As(err, &ie) && ie.MayHaveActed() {
			// The issuer may have made the card before its answer was lost.
			if aerr := e.abandonIssuerCard(ctx, iss, spec, ""); aerr != nil {
				what = "no card was recorded here; " + ErrorMessage(aerr)
			}
		}
		return nil, issuerFailure(err, what)
	}
	var out *Card
	var stale bool
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "card.create", in, now, func() (*Card, error) {
			card, agent, user, err := e.prepareCard(tx, actor, in, spec.CardID, now)
			if err != nil {
				return nil, err
			}
			card.Issuer, card.IssuerCardID, card.Last4 = issuer, issued.ExternalID, issued.Last4
			if issued.ExpMonth != 0 {
				card.ExpMonth, card.ExpYear = issued.ExpMonth, issued.ExpYear
			}
			if issued.CardholderID != "" && spec.Cardholder.ExternalID == "" {
				if err := tx.PutCardholder(&Cardholder{Issuer: issuer, UserID: user.ID, ExternalID: issued.CardholderID,
					CreatedAt: now}); err != nil {
					return nil, err
				}
			}
			if err := tx.InsertCard(card, CardSecret{}); err != nil {
				return nil, err
			}
			if err := tx.PutCardLink(&CardLink{Issuer: issuer, ExternalID: issued.ExternalID, CardID: card.ID,
				CreatedAt: now}); err != nil {
				return nil, err
			}
			// The policy may have changed while the issuer made the card, or
			// the issuer may have handed back a card an earlier attempt made.
			want := iss.Mirrored(mirrorControls(card.Limits, agent.Policy.Effective().SpendLimits))
			if stale = !sameControls(want, issued.Controls) || issued.Status != card.Status; stale {
				if err := e.queueIssuerCard(tx, card, now, issued.Status != card.Status); err != nil {
					return nil, err
				}
			}
			return card, e.emit(tx, now, EventCardCreated, card)
		})
		return err
	})
	if err != nil {
		if aerr := e.abandonIssuerCard(ctx, iss, spec, issued.ExternalID); aerr != nil {
			return nil, &Error{Code: ErrorCode(err), Field: fieldOf(err), Message: ErrorMessage(err) + "; " + ErrorMessage(aerr)}
		}
		return nil, err
	}
	if out.ID != spec.CardID {
		// A concurrent request with the same idempotency key recorded its
		// card first: this one is not needed.
		_ = e.abandonIssuerCard(ctx, iss, spec, issued.ExternalID)
		return out, nil
	}
	if stale {
		e.followIssuers(ctx, []*Card{out})
	}
	return out, nil
}

// fieldOf is the field an error names, if any.
func fieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// GetCard returns a card the actor may see.
func (e *Engine) GetCard(ctx context.Context, actor Actor, id string) (*Card, error) {
	var out *Card
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = findCardFor(tx, actor, id)
		return err
	})
	return out, err
}

// ListCards returns a page of the cards the actor may see, oldest first,
// optionally of one agent.
func (e *Engine) ListCards(ctx context.Context, actor Actor, agentRef string, page Page) (List[Card], error) {
	if err := page.check(PrefixCard); err != nil {
		return List[Card]{}, err
	}
	agentRef, err := actor.listScope(agentRef)
	if err != nil {
		return List[Card]{}, err
	}
	var out List[Card]
	err = e.view(ctx, func(tx Tx, _ time.Time) error {
		f := CardFilter{}
		if agentRef != "" {
			a, err := findAgentFor(tx, actor, "agent_id", agentRef)
			if err != nil {
				return err
			}
			f.AgentID = a.ID
		}
		var err error
		out, err = paginate(page, func(c *Card) string { return c.ID }, func(after string, limit int) ([]*Card, error) {
			f.After, f.Limit = after, limit
			return tx.ListCards(f)
		}, func(c *Card) *Card {
			if actor.canSee(c.AgentID) {
				return c
			}
			return nil
		})
		return err
	})
	return out, err
}

// RevealInput asks for a card's credentials.
type RevealInput struct {
	CardID         string `json:"card_id"`
	IntentID       string `json:"intent_id,omitempty"`
	IdempotencyKey string `json:"-"`
}

// CardDetails are a card's credentials, revealed for one intent.
type CardDetails struct {
	CardID    string    `json:"card_id"`
	PAN       string    `json:"pan"`
	CVV       string    `json:"cvv"`
	ExpMonth  int       `json:"exp_month"`
	ExpYear   int       `json:"exp_year"`
	IntentID  string    `json:"intent_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RevealCard shows a card's PAN, CVV and expiry, but only against an intent:
// the one named, or else the one clearly meant — the pending intent bound to
// this card, else the only pending intent without a card; when several could
// be meant it fails (INVALID_INPUT on intent_id) and lists them. The intent
// becomes revealed and bound to the card. Without one the call fails with INTENT_REQUIRED ("Declare intent
// first"). Revealing again for an intent already revealed on this card shows
// the same details, so a retry is harmless. A card at a real issuer has its
// number fetched from the issuer once the intent is revealed, never before
// and never kept; if the issuer cannot answer, asking again fetches it for
// the same intent. Agents, and operators acting for an agent.
func (e *Engine) RevealCard(ctx context.Context, actor Actor, in RevealInput) (*CardDetails, error) {
	if err := actor.requireRole("reveal card", RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	var out *CardDetails
	var card *Card
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		if in.CardID, err = keyedCardRef(tx, actor, in.CardID); err != nil {
			return err
		}
		out, err = idempotent(tx, actor, in.IdempotencyKey, "card.details", in, now, func() (*CardDetails, error) {
			return e.revealCard(tx, actor, in, now)
		})
		if err != nil {
			return err
		}
		if card, err = tx.FindCard(out.CardID); err != nil || card.Issuer == "" {
			return err
		}
		// The number is fetched anew even for a repeated request: the card,
		// its agent and the intent must allow it now, as at the first reveal.
		return e.stillRevealable(tx, card, out.IntentID, now)
	})
	if err != nil || card.Issuer == "" {
		return out, err
	}
	var creds *IssuerCredentials
	if err := e.callIssuer(ctx, card.Issuer, "intent "+out.IntentID+" is revealed: ask for the details again to fetch them",
		func(ctx context.Context, iss CardIssuer) error {
			var err error
			creds, err = iss.Credentials(ctx, card.IssuerCardID)
			return err
		}); err != nil {
		return nil, err
	}
	out.PAN, out.CVV = creds.PAN, creds.CVV
	if creds.ExpMonth != 0 {
		out.ExpMonth, out.ExpYear = creds.ExpMonth, creds.ExpYear
	}
	return out, nil
}

// stillRevealable fails unless an issuer card may show its number for the
// intent now: the card usable, its agent not disabled, the intent revealed
// on this card and not lapsed.
func (e *Engine) stillRevealable(tx Tx, card *Card, intentID string, now time.Time) error {
	if err := cardUsable(card); err != nil {
		return err
	}
	agent, err := tx.FindAgent(card.AgentID)
	if err != nil {
		return err
	}
	if agent.Mode == ModeDisabled {
		return Errorf(CodeAgentDisabled, "agent %s is disabled", agent.Name)
	}
	i, err := tx.FindIntent(intentID)
	if err != nil {
		return err
	}
	if err := e.expireIfDue(tx, i, now); err != nil {
		return err
	}
	switch {
	case i.Status == IntentExpired:
		return Errorf(CodeIntentExpired, "intent %s expired at %s; declare a new one", i.ID, i.ExpiresAt.Format(time.RFC3339))
	case i.Status != IntentRevealed || i.CardID != card.ID:
		return Errorf(CodeInvalidState, "intent %s is %s; declare a new one", i.ID, i.Status)
	}
	return nil
}

func (e *Engine) revealCard(tx Tx, actor Actor, in RevealInput, now time.Time) (*CardDetails, error) {
	card, err := findCardFor(tx, actor, in.CardID)
	if err != nil {
		return nil, err
	}
	if err := cardUsable(card); err != nil {
		return nil, err
	}
	agent, err := tx.FindAgent(card.AgentID)
	if err != nil {
		return nil, err
	}
	if agent.Mode == ModeDisabled {
		return nil, Errorf(CodeAgentDisabled, "agent %s is disabled", agent.Name)
	}
	intent, err := e.intentForReveal(tx, card, in.IntentID, now)
	if err != nil {
		return nil, err
	}
	if intent.Status == IntentPending {
		intent.Status, intent.CardID, intent.RevealedAt = IntentRevealed, card.ID, &now
		if err := tx.UpdateIntent(intent); err != nil {
			return nil, err
		}
		if err := e.emit(tx, now, EventIntentRevealed, intent); err != nil {
			return nil, err
		}
	}
	details := &CardDetails{CardID: card.ID, ExpMonth: card.ExpMonth, ExpYear: card.ExpYear,
		IntentID: intent.ID, ExpiresAt: intent.ExpiresAt}
	if card.Issuer != "" {
		return details, nil // the number is the issuer's, fetched after this commits
	}
	secret, err := tx.CardSecret(card.ID)
	if err != nil {
		return nil, err
	}
	details.PAN, details.CVV = secret.PAN, secret.CVV
	return details, nil
}

// intentForReveal picks the intent a reveal of card is for, expiring any
// lapsed intent it meets.
func (e *Engine) intentForReveal(tx Tx, card *Card, intentID string, now time.Time) (*Intent, error) {
	if intentID != "" {
		i, err := tx.FindIntent(intentID)
		if IsNotFound(err) || (err == nil && i.AgentID != card.AgentID) {
			return nil, notFound("intent_id", "intent", intentID)
		} else if err != nil {
			return nil, err
		}
		if err := e.expireIfDue(tx, i, now); err != nil {
			return nil, err
		}
		switch {
		case i.CardID != "" && i.CardID != card.ID:
			return nil, Errorf(CodeInvalidState, "intent %s was declared for card %s, not %s", i.ID, i.CardID, card.ID)
		case i.Status == IntentAwaitingApproval:
			return nil, Errorf(CodeApprovalRequired, "intent %s is awaiting a human's approval (decision %s)", i.ID, i.DecisionID)
		case i.Status == IntentExpired:
			return nil, Errorf(CodeIntentExpired, "intent %s expired at %s; declare a new one", i.ID, i.ExpiresAt.Format(time.RFC3339))
		case i.Status != IntentPending && i.Status != IntentRevealed:
			return nil, Errorf(CodeInvalidState, "intent %s is %s; declare a new one", i.ID, i.Status)
		}
		return i, nil
	}
	open, err := tx.ListIntents(IntentFilter{AgentID: card.AgentID, Statuses: []string{IntentPending, IntentRevealed, IntentAwaitingApproval}})
	if err != nil {
		return nil, err
	}
	// Which intent is meant, in order: a pending one bound to this card, the
	// pending one without a card, the one already revealed on this card (a
	// retry). Two in the same rank could each be meant: guessing would
	// reveal a stale intent for the purchase just declared.
	var bound, unbound, revealed []*Intent
	var awaiting *Intent
	for _, i := range open {
		if err := e.expireIfDue(tx, i, now); err != nil {
			return nil, err
		}
		forCard := i.CardID == card.ID
		switch {
		case i.Status == IntentPending && forCard:
			bound = append(bound, i)
		case i.Status == IntentPending && i.CardID == "":
			unbound = append(unbound, i)
		case i.Status == IntentRevealed && forCard:
			revealed = append(revealed, i)
		case i.Status == IntentAwaitingApproval && (forCard || i.CardID == "") && awaiting == nil:
			awaiting = i
		}
	}
	for _, rank := range [][]*Intent{bound, unbound, revealed} {
		switch {
		case len(rank) == 1:
			return rank[0], nil
		case len(rank) > 1:
			return nil, ambiguousIntents(rank)
		}
	}
	if awaiting != nil {
		return nil, Errorf(CodeApprovalRequired, "intent %s is awaiting a human's approval (decision %s)", awaiting.ID, awaiting.DecisionID)
	}
	return nil, &Error{Code: CodeIntentRequired, Message: "Declare intent first: call ledger_intent declare with what you will buy and its amount, then ask for the card details again."}
}

// ambiguousIntents refuses a reveal that could be for any of several
// intents, listing them so that the caller can name one.
func ambiguousIntents(list []*Intent) error {
	sortIntentsOldestFirst(list)
	const shown = 5
	var parts []string
	for _, i := range list[:min(len(list), shown)] {
		what := fmt.Sprintf("%s (%q, %s", i.ID, i.Summary, FormatAmount(i.Amount, i.Currency))
		if i.Merchant != "" {
			what += " at " + i.Merchant
		}
		parts = append(parts, what+")")
	}
	if len(list) > shown {
		parts = append(parts, fmt.Sprintf("and %d more", len(list)-shown))
	}
	return &Error{Code: CodeInvalidInput, Field: "intent_id", Message: fmt.Sprintf(
		"intent_id: %d intents could be meant: %s; pass intent_id to say which one this card is for (or cancel the ones you no longer need)",
		len(list), strings.Join(parts, ", "))}
}

// cardUsable fails for a card that cannot be used now.
func cardUsable(c *Card) error {
	switch c.Status {
	case CardFrozen:
		return Errorf(CodeCardFrozen, "card %s is frozen", c.ID)
	case CardClosed:
		return Errorf(CodeCardCancelled, "card %s is closed", c.ID)
	}
	return nil
}

// CardActionInput names a card to freeze, unfreeze or close.
type CardActionInput struct {
	CardID         string `json:"card_id"`
	IdempotencyKey string `json:"-"`
}

// FreezeCard stops a card from being used until it is unfrozen, recording
// who froze it. Freezing a frozen card changes nothing. Operators, and
// agents for their own cards.
func (e *Engine) FreezeCard(ctx context.Context, actor Actor, in CardActionInput) (*Card, error) {
	return e.changeCard(ctx, actor, in, "card.freeze", freeze(actor))
}

func freeze(actor Actor) func(*Card, time.Time) error {
	return func(c *Card, now time.Time) error {
		switch c.Status {
		case CardClosed:
			return Errorf(CodeInvalidState, "card %s is closed", c.ID)
		case CardActive:
			c.Status, c.FrozenBy, c.FrozenAt = CardFrozen, actor.String(), &now
		}
		return nil
	}
}

// UnfreezeCard makes a frozen card usable again. An agent may unfreeze only
// a card it froze itself; a card frozen by an operator stays frozen until an
// operator unfreezes it. Unfreezing an active card changes nothing.
func (e *Engine) UnfreezeCard(ctx context.Context, actor Actor, in CardActionInput) (*Card, error) {
	return e.changeCard(ctx, actor, in, "card.unfreeze", unfreeze(actor))
}

func unfreeze(actor Actor) func(*Card, time.Time) error {
	return func(c *Card, now time.Time) error {
		switch c.Status {
		case CardClosed:
			return Errorf(CodeInvalidState, "card %s is closed", c.ID)
		case CardFrozen:
			if actor.Role == RoleAgent && c.FrozenBy != actor.String() {
				return Errorf(CodeForbidden, "card %s was frozen by %s; only an operator can unfreeze it", c.ID, c.FrozenBy)
			}
			c.Status, c.FrozenBy, c.FrozenAt = CardActive, "", nil
		}
		return nil
	}
}

// AgentCardsInput names the agent whose cards a call changes together.
type AgentCardsInput struct {
	Agent          string `json:"agent"`
	IdempotencyKey string `json:"-"`
}

// FreezeAgentCards freezes every active card of an agent in one
// transaction, the first step of an incident response, and returns the
// agent's cards that are not closed.
func (e *Engine) FreezeAgentCards(ctx context.Context, actor Actor, in AgentCardsInput) ([]*Card, error) {
	return e.changeAgentCards(ctx, actor, in, "agent.freeze_cards", freeze(actor))
}

// FreezeAllCardsInput asks to freeze every card there is.
type FreezeAllCardsInput struct {
	IdempotencyKey string `json:"-"`
}

// FreezeAllCards freezes every active card of every agent in one
// transaction, the emergency stop, and returns the cards that are not
// closed. Each card it freezes emits card.frozen. Operators only.
func (e *Engine) FreezeAllCards(ctx context.Context, actor Actor, in FreezeAllCardsInput) ([]*Card, error) {
	const op = "cards.freeze_all"
	if err := actor.requireRole("freeze every card", RoleAdmin); err != nil {
		return nil, err
	}
	change := freeze(actor)
	var out []*Card
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, op, in, now, func() ([]*Card, error) {
			return e.changeOpenCards(tx, CardFilter{}, now, change)
		})
		return err
	})
	if err == nil {
		e.followIssuers(ctx, out)
	}
	return out, err
}

// changeOpenCards applies change to every card of the filter that is not
// closed, and returns those cards.
func (e *Engine) changeOpenCards(tx Tx, f CardFilter, now time.Time, change func(*Card, time.Time) error) ([]*Card, error) {
	cards, err := tx.ListCards(f)
	if err != nil {
		return nil, err
	}
	open := []*Card{}
	for _, c := range cards {
		if c.Status == CardClosed {
			continue
		}
		if err := e.applyCardChange(tx, c, now, change); err != nil {
			return nil, err
		}
		open = append(open, c)
	}
	return open, nil
}

// UnfreezeAgentCards unfreezes every frozen card of an agent in one
// transaction (an agent key: only if it froze them all itself), and returns
// the agent's cards that are not closed.
func (e *Engine) UnfreezeAgentCards(ctx context.Context, actor Actor, in AgentCardsInput) ([]*Card, error) {
	return e.changeAgentCards(ctx, actor, in, "agent.unfreeze_cards", unfreeze(actor))
}

func (e *Engine) changeAgentCards(ctx context.Context, actor Actor, in AgentCardsInput, op string, change func(*Card, time.Time) error) ([]*Card, error) {
	if err := actor.requireRole(op, RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	agentRef, err := actor.agentRef(in.Agent)
	if err != nil {
		return nil, err
	}
	in.Agent = agentRef
	var out []*Card
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, op, in, now, func() ([]*Card, error) {
			a, err := findAgentFor(tx, actor, "agent", in.Agent)
			if err != nil {
				return nil, err
			}
			return e.changeOpenCards(tx, CardFilter{AgentID: a.ID}, now, change)
		})
		return err
	})
	if err == nil {
		e.followIssuers(ctx, out)
	}
	return out, err
}

// CloseCard closes a card for good; its open intents are cancelled.
// Closing a closed card changes nothing.
func (e *Engine) CloseCard(ctx context.Context, actor Actor, in CardActionInput) (*Card, error) {
	var closed bool
	return e.changeCard(ctx, actor, in, "card.close", func(c *Card, now time.Time) error {
		if c.Status != CardClosed {
			c.Status, c.ClosedBy, c.ClosedAt = CardClosed, actor.String(), &now
			closed = true
		}
		return nil
	}, func(tx Tx, c *Card, now time.Time) error {
		if !closed {
			return nil
		}
		return e.cancelCardIntents(tx, c, now)
	})
}

// cancelCardIntents cancels the open intents of a card that closed.
func (e *Engine) cancelCardIntents(tx Tx, card *Card, now time.Time) error {
	open, err := tx.ListIntents(IntentFilter{AgentID: card.AgentID, CardID: card.ID, Statuses: []string{IntentAwaitingApproval, IntentPending, IntentRevealed}})
	if err != nil {
		return err
	}
	for _, i := range open {
		if err := e.cancelIntent(tx, i, "system", "the card closed", now); err != nil {
			return err
		}
	}
	return nil
}

// changeCard loads a card the actor may change, applies change and saves it,
// then runs the optional follow-ups in the same transaction.
func (e *Engine) changeCard(ctx context.Context, actor Actor, in CardActionInput, op string, change func(*Card, time.Time) error, after ...func(Tx, *Card, time.Time) error) (*Card, error) {
	if err := actor.requireRole(op, RoleAdmin, RoleAgent); err != nil {
		return nil, err
	}
	var out *Card
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		if in.CardID, err = keyedCardRef(tx, actor, in.CardID); err != nil {
			return err
		}
		out, err = idempotent(tx, actor, in.IdempotencyKey, op, in, now, func() (*Card, error) {
			c, err := findCardFor(tx, actor, in.CardID)
			if err != nil {
				return nil, err
			}
			return c, e.applyCardChange(tx, c, now, change, after...)
		})
		return err
	})
	if err == nil {
		e.followIssuers(ctx, []*Card{out})
	}
	return out, err
}

// applyCardChange applies change to a card and, when its status changed,
// saves it and emits the event, then runs the follow-ups.
func (e *Engine) applyCardChange(tx Tx, c *Card, now time.Time, change func(*Card, time.Time) error, after ...func(Tx, *Card, time.Time) error) error {
	before := c.Status
	if err := change(c, now); err != nil {
		return err
	}
	if c.Status != before {
		c.UpdatedAt = now
		if err := tx.UpdateCard(c); err != nil {
			return err
		}
		if err := e.queueIssuerCard(tx, c, now, true); err != nil {
			return err
		}
		if err := e.emit(tx, now, cardEvent(c.Status), c); err != nil {
			return err
		}
	}
	for _, f := range after {
		if err := f(tx, c, now); err != nil {
			return err
		}
	}
	return nil
}

// cardEvent is the event of a card entering a status.
func cardEvent(status string) string {
	switch status {
	case CardFrozen:
		return EventCardFrozen
	case CardClosed:
		return EventCardClosed
	}
	return EventCardUnfrozen
}

// cardExpired reports whether a card is past the last day of its expiry month.
func cardExpired(c *Card, now time.Time) bool {
	end := time.Date(c.ExpYear, time.Month(c.ExpMonth)+1, 1, 0, 0, 0, 0, time.UTC)
	return !now.Before(end)
}

func expiryString(c *Card) string { return fmt.Sprintf("%02d/%d", c.ExpMonth, c.ExpYear) }
