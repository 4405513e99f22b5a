package engine

import (
	"context"
	"strings"
	"time"
)

// Real card issuers agentledger answers authorization requests for.
const (
	IssuerStripe = "stripe"
	IssuerLithic = "lithic"
)

// CardLink ties a real issuer's card (a Stripe ic_… id, a Lithic card
// token) to an agentledger card, so that the issuer's authorization
// requests are decided against the agentledger card.
type CardLink struct {
	Issuer     string    `json:"issuer"`
	ExternalID string    `json:"external_id"`
	CardID     string    `json:"card_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// LinkCardInput links an issuer's card to an agentledger card.
type LinkCardInput struct {
	CardID         string `json:"card_id"`
	Issuer         string `json:"issuer"`
	ExternalID     string `json:"external_id"`
	IdempotencyKey string `json:"-"`
}

// LinkCard ties an issuer's card to an agentledger card. A card has at most
// one link per issuer: linking it again replaces the earlier link (the card
// was re-issued at the issuer). An issuer's card already linked to another
// agentledger card is a CONFLICT. Operators only.
func (e *Engine) LinkCard(ctx context.Context, actor Actor, in LinkCardInput) (*CardLink, error) {
	if err := actor.requireRole("link card", RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkOneOf("issuer", in.Issuer, IssuerStripe, IssuerLithic); err != nil {
		return nil, err
	}
	var err error
	if in.ExternalID, err = checkText("external_id", in.ExternalID, maxNameLen, true); err != nil {
		return nil, err
	}
	switch {
	case strings.ContainsAny(in.ExternalID, " \t"):
		return nil, invalid("external_id", "must not contain spaces")
	case in.Issuer == IssuerStripe && !strings.HasPrefix(in.ExternalID, "ic_"):
		return nil, invalid("external_id", "a Stripe Issuing card id starts with ic_, got %q", in.ExternalID)
	}
	var out *CardLink
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		if in.CardID, err = keyedCardRef(tx, actor, in.CardID); err != nil {
			return err
		}
		out, err = idempotent(tx, actor, in.IdempotencyKey, "card.link", in, now, func() (*CardLink, error) {
			card, err := findCardFor(tx, actor, in.CardID)
			if err != nil {
				return nil, err
			}
			if existing, err := tx.FindCardLink(in.Issuer, in.ExternalID); err == nil {
				if existing.CardID == card.ID {
					return existing, nil
				}
				return nil, &Error{Code: CodeConflict, Field: "external_id",
					Message: "external_id: " + in.Issuer + " card " + in.ExternalID + " is already linked to card " + existing.CardID}
			} else if !IsNotFound(err) {
				return nil, err
			}
			l := &CardLink{Issuer: in.Issuer, ExternalID: in.ExternalID, CardID: card.ID, CreatedAt: now}
			return l, tx.PutCardLink(l)
		})
		return err
	})
	return out, err
}

// CardLinks returns the issuer links of a card the actor may see.
func (e *Engine) CardLinks(ctx context.Context, actor Actor, cardID string) ([]*CardLink, error) {
	var out []*CardLink
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		card, err := findCardFor(tx, actor, cardID)
		if err != nil {
			return err
		}
		out, err = tx.ListCardLinks(card.ID)
		return err
	})
	return out, err
}

// Fallback answers.
const (
	FallbackApprove = "approved"
	FallbackDecline = "declined"
)

// Fallback is an answer an issuer endpoint gave without the engine's
// decision, because the decision budget ran out or the database could not
// be reached, and what became of it once the decision was known.
type Fallback struct {
	ID              string    `json:"id"`
	Issuer          string    `json:"issuer"`
	NetworkID       string    `json:"network_id"`
	Answer          string    `json:"answer"` // what the issuer was told
	Reason          string    `json:"reason"` // why there was no decision in time
	Amount          int64     `json:"amount"`
	Currency        string    `json:"currency"`
	Merchant        string    `json:"merchant,omitempty"`
	AuthorizationID string    `json:"authorization_id,omitempty"`
	Outcome         string    `json:"outcome"` // what the engine decided, and what was done about a difference
	CreatedAt       time.Time `json:"created_at"`
}

// FallbackInput records a fallback answer.
type FallbackInput struct {
	Issuer    string `json:"issuer"`
	NetworkID string `json:"network_id"`
	Answer    string `json:"answer"`
	Reason    string `json:"reason"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Merchant  string `json:"merchant,omitempty"`
}

// RecordFallback records that an issuer was answered without the engine's
// decision, and reconciles it with the decision, if one was made since: an
// approval the issuer was told to decline is reversed at once, so that its
// hold does not tie up the user's money; a decline the issuer was told to
// approve is flagged in the outcome (the charge will reach the issuer
// without a hold here). Call it once the decision has finished or failed.
// Operators and network keys.
func (e *Engine) RecordFallback(ctx context.Context, actor Actor, in FallbackInput) (*Fallback, error) {
	if err := actor.requireRole("record fallback", RoleAdmin, RoleNetwork); err != nil {
		return nil, err
	}
	if err := checkOneOf("answer", in.Answer, FallbackApprove, FallbackDecline); err != nil {
		return nil, err
	}
	var out *Fallback
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		f := &Fallback{ID: e.newID(PrefixFallback, now), Issuer: in.Issuer, NetworkID: in.NetworkID, Answer: in.Answer, Reason: in.Reason,
			Amount: in.Amount, Currency: in.Currency, Merchant: in.Merchant, CreatedAt: now}
		a, err := tx.FindAuthorizationByNetworkID(in.NetworkID)
		switch {
		case IsNotFound(err):
			f.Outcome = "the engine made no decision"
		case err != nil:
			return err
		default:
			f.AuthorizationID = a.ID
			switch {
			case in.Answer == FallbackDecline && a.Status == AuthApproved:
				if err := e.reverseOne(tx, a, now); err != nil { // a charge's hold released; a credit held nothing
					return err
				}
				a.Reason += "; reversed: the issuer had already been told to decline"
				if err := e.saveAuthorization(tx, a, EventTransactionReversed, now); err != nil {
					return err
				}
				f.Outcome = "the engine approved late; the authorization was reversed"
			case in.Answer == FallbackApprove && a.Status == AuthDeclined:
				f.Outcome = "the engine declined (" + a.DeclineCode + ") but the issuer was told to approve: the charge has no hold here"
			default:
				f.Outcome = "the engine's decision agrees: " + a.Status
			}
		}
		if err := tx.InsertFallback(f); err != nil {
			return err
		}
		out = f
		return e.emit(tx, now, EventIssuerFallback, f)
	})
	return out, err
}

// ListFallbacks returns fallback answers, newest first. Operators and
// viewers.
func (e *Engine) ListFallbacks(ctx context.Context, actor Actor, limit int) ([]*Fallback, error) {
	if err := actor.requireRole("list fallbacks", RoleAdmin, RoleViewer); err != nil {
		return nil, err
	}
	var out []*Fallback
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = tx.ListFallbacks(limit)
		return err
	})
	return out, err
}

// GetAuthorizationByNetworkID returns the authorization a network's id
// names. Operators, viewers and network keys.
func (e *Engine) GetAuthorizationByNetworkID(ctx context.Context, actor Actor, networkID string) (*Authorization, error) {
	if err := actor.requireRole("show authorization", RoleAdmin, RoleViewer, RoleNetwork); err != nil {
		return nil, err
	}
	var out *Authorization
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		a, err := tx.FindAuthorizationByNetworkID(networkID)
		if IsNotFound(err) || (err == nil && !actor.canSee(a.AgentID)) {
			return notFound("network_id", "authorization", networkID)
		}
		out = a
		return err
	})
	return out, err
}
