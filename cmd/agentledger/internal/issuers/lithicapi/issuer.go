package lithicapi

import (
	"context"
	"crypto/sha1"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

// Memo is the memo of agentledger card cardID's Lithic card: how CreateCard
// finds a card it made before.
func Memo(cardID string) string { return "agentledger " + cardID }

// namespaceURL is RFC 9562's URL namespace, the namespace of
// IdempotencyKey's name-based UUIDs.
var namespaceURL = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// IdempotencyKey is the Idempotency-Key CreateCard sends for agentledger
// card cardID: the version 5 UUID of "agentledger-card-<cardID>" (Lithic
// takes only UUIDs), the same on every retry.
func IdempotencyKey(cardID string) string { return uuidV5(namespaceURL, "agentledger-card-"+cardID) }

func uuidV5(ns [16]byte, name string) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// spendLimit is the one limit a Lithic card holds for c (see the package
// comment): Monthly, else Lifetime, else PerTransaction; 0 and "" for none.
func spendLimit(c engine.IssuerControls) (int64, string) {
	switch {
	case c.Monthly > 0:
		return c.Monthly, DurationMonthly
	case c.Lifetime > 0:
		return c.Lifetime, DurationForever
	case c.PerTransaction > 0:
		return c.PerTransaction, DurationTransaction
	}
	return 0, ""
}

// controls is a Lithic limit in IssuerControls' terms.
func controls(limit int64, duration string) engine.IssuerControls {
	if limit <= 0 {
		return engine.IssuerControls{}
	}
	switch duration {
	case DurationMonthly:
		return engine.IssuerControls{Monthly: limit}
	case DurationForever:
		return engine.IssuerControls{Lifetime: limit}
	case DurationTransaction:
		return engine.IssuerControls{PerTransaction: limit}
	}
	return engine.IssuerControls{} // ANNUALLY: no IssuerControls field holds it
}

// Mirrored is what a Lithic card holds of c, as GetCard reports it after
// CreateCard or UpdateCard: one of Monthly, Lifetime or PerTransaction. Daily
// and the MCC lists are never mirrored.
func (c *Client) Mirrored(ctl engine.IssuerControls) engine.IssuerControls {
	return controls(spendLimit(ctl))
}

// lithicState is the Lithic state for an agentledger card status.
func lithicState(status string) (string, bool) {
	switch status {
	case engine.CardActive:
		return StateOpen, true
	case engine.CardFrozen:
		return StatePaused, true
	case engine.CardClosed:
		return StateClosed, true
	}
	return "", false
}

// cardStatus is the agentledger status for a Lithic state.
func cardStatus(state string) (string, bool) {
	switch state {
	case StateOpen, StatePendingFulfillment, StatePendingActivation:
		return engine.CardActive, true
	case StatePaused:
		return engine.CardFrozen, true
	case StateClosed:
		return engine.CardClosed, true
	}
	return "", false
}

// lithicType is the Lithic type for an agentledger card type.
func lithicType(t string) (string, bool) {
	switch t {
	case engine.CardMultiUse:
		return TypeVirtual, true
	case engine.CardSingleUse:
		return TypeSingleUse, true
	}
	return "", false
}

// checkSpec refuses, before any request, what Lithic cannot hold.
func checkSpec(spec engine.IssuerCardSpec) error {
	if !strings.EqualFold(strings.TrimSpace(spec.Currency), "USD") {
		return refused("unsupported_currency", fmt.Sprintf("Lithic cards are in USD; this card is in %q", spec.Currency))
	}
	if _, ok := lithicState(spec.Status); !ok {
		return refused("invalid_spec", fmt.Sprintf("card status %q is not active, frozen or closed", spec.Status))
	}
	return nil
}

// answerError is a 2xx answer agentledger cannot use.
func answerError(code, msg string) *engine.IssuerError {
	return &engine.IssuerError{Issuer: engine.IssuerLithic, Status: http.StatusOK, Code: code, Message: msg}
}

// issued is a Lithic card as engine.IssuedCard.
func issued(card *Card) (*engine.IssuedCard, error) {
	if card.Token == "" {
		return nil, answerError("invalid_response", "Lithic's card has no token")
	}
	status, ok := cardStatus(card.State)
	if !ok {
		return nil, answerError("unexpected_state", fmt.Sprintf("Lithic card %s is in state %q, which agentledger does not know", card.Token, card.State))
	}
	month, _ := strconv.Atoi(card.ExpMonth)
	year, _ := strconv.Atoi(card.ExpYear)
	return &engine.IssuedCard{ExternalID: card.Token, Last4: card.LastFour, ExpMonth: month, ExpYear: year,
		Status: status, Controls: controls(card.SpendLimit, card.SpendLimitDuration)}, nil
}

// CreateCard makes spec's Lithic card, or finds the one an earlier call
// made: a card whose memo is Memo(spec.CardID), returned as Lithic holds it
// (UpdateCard brings it to a spec changed since). Lithic has no cardholders
// here: spec.Cardholder is not used and IssuedCard.CardholderID is empty.
func (c *Client) CreateCard(ctx context.Context, spec engine.IssuerCardSpec) (*engine.IssuedCard, error) {
	if strings.TrimSpace(spec.CardID) == "" {
		return nil, refused("invalid_spec", "the card id is empty")
	}
	typ, ok := lithicType(spec.Type)
	if !ok {
		return nil, refused("invalid_spec", fmt.Sprintf("card type %q is not single_use or multi_use", spec.Type))
	}
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	state, _ := lithicState(spec.Status)
	if state == StateClosed {
		return nil, refused("invalid_spec", "a Lithic card cannot be created closed")
	}
	memo := Memo(spec.CardID)
	existing, err := c.findByMemo(ctx, memo)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return issued(existing)
	}
	p := CreateCardParams{Type: typ, Memo: memo, State: state}
	if limit, d := spendLimit(spec.Controls); limit > 0 {
		p.SpendLimit, p.SpendLimitDuration = &limit, d
	}
	card, err := c.Create(ctx, p, IdempotencyKey(spec.CardID))
	if err != nil {
		return nil, err
	}
	return issued(card)
}

// maxLookupPages bounds findByMemo: 100 pages of 100 cards.
const maxLookupPages = 100

// findByMemo returns the oldest card whose memo is memo, or nil. It reads
// every page of GET /v1/cards?memo=memo (Lithic matches memos by
// containment; the client keeps only exact ones).
func (c *Client) findByMemo(ctx context.Context, memo string) (*Card, error) {
	var found *Card
	after := ""
	for range maxLookupPages {
		page, err := c.List(ctx, ListCardsParams{Memo: memo, PageSize: 100, StartingAfter: after})
		if err != nil {
			return nil, err
		}
		for i := range page.Data {
			if d := &page.Data[i]; d.Memo == memo && (found == nil || d.Created < found.Created) {
				found = d
			}
		}
		if !page.HasMore || len(page.Data) == 0 {
			return found, nil
		}
		after = page.Data[len(page.Data)-1].Token
	}
	if found != nil {
		return found, nil
	}
	return nil, answerError("lookup_incomplete", fmt.Sprintf("more than %d cards have memos containing %q", maxLookupPages*100, memo))
}

// UpdateCard sets the card's state and limit as spec says (its type and
// memo stay). A limit removed is spend_limit 0, the reference's way to
// remove one. A closed card is not reopened: Lithic refuses, and should it
// answer with the card still closed, so does UpdateCard (Code "card_closed").
func (c *Client) UpdateCard(ctx context.Context, externalID string, spec engine.IssuerCardSpec) (*engine.IssuedCard, error) {
	keepState := spec.Status == "" // a change of controls alone: the state stays as Lithic has it
	if keepState {
		spec.Status = engine.CardActive // only for the checks; no state is sent
	}
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	state, _ := lithicState(spec.Status)
	if keepState {
		state = ""
	}
	limit, d := spendLimit(spec.Controls)
	p := UpdateCardParams{State: state, SpendLimit: &limit, SpendLimitDuration: d}
	card, err := c.Update(ctx, externalID, p)
	if err != nil {
		return nil, err
	}
	if card.State == StateClosed && state != StateClosed && !keepState {
		return nil, answerError("card_closed", fmt.Sprintf("Lithic card %s is closed and cannot be reopened", card.Token))
	}
	return issued(card)
}

// GetCard is the card as Lithic reports it.
func (c *Client) GetCard(ctx context.Context, externalID string) (*engine.IssuedCard, error) {
	card, err := c.Get(ctx, externalID)
	if err != nil {
		return nil, err
	}
	return issued(card)
}

// Credentials fetches the card's PAN, CVV and expiry from Lithic. In
// production Lithic returns the PAN only to PCI-compliant programs; without
// it Credentials fails with Code "pan_unavailable".
func (c *Client) Credentials(ctx context.Context, externalID string) (*engine.IssuerCredentials, error) {
	card, err := c.credentials(ctx, externalID)
	if err != nil {
		return nil, err
	}
	if card.PAN == "" || card.CVV == "" {
		return nil, answerError("pan_unavailable", "Lithic returned no card number or CVV for card "+card.Token+
			" (in production it returns them only to PCI-compliant programs)")
	}
	month, errM := strconv.Atoi(card.ExpMonth)
	year, errY := strconv.Atoi(card.ExpYear)
	if errM != nil || errY != nil || month < 1 || month > 12 {
		return nil, answerError("invalid_response", "Lithic card "+card.Token+" has no valid expiry")
	}
	return &engine.IssuerCredentials{PAN: card.PAN, CVV: card.CVV, ExpMonth: month, ExpYear: year}, nil
}
