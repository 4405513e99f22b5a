package engine

import (
	"context"
	"fmt"
)

// IssuerCardSpec is what agentledger wants an issuer's card to be: the
// card's type, currency and status, and the controls mirrored from its
// limits and its agent's policy. agentledger still decides every
// authorization; the issuer's controls are defence in depth.
type IssuerCardSpec struct {
	// CardID is agentledger's card id. The issuer keeps it as metadata and
	// CreateCard is idempotent on it.
	CardID   string
	Type     string // CardSingleUse or CardMultiUse
	Currency string // ISO 4217, upper case
	// Status is CardActive, CardFrozen or CardClosed. In UpdateCard an empty
	// Status leaves the card's status as the issuer has it: a change of
	// controls alone must not undo a freeze made at the issuer.
	Status   string
	Controls IssuerControls
	// Cardholder is whom the card is issued to (Stripe needs one per user).
	Cardholder IssuerCardholder
}

// IssuerControls are spending controls an issuer can hold. Amounts are
// minor units of the card's currency; zero means no limit.
type IssuerControls struct {
	PerTransaction int64    `json:"per_transaction,omitempty"`
	Daily          int64    `json:"daily,omitempty"`
	Monthly        int64    `json:"monthly,omitempty"`
	Lifetime       int64    `json:"lifetime,omitempty"`
	AllowedMCCs    []string `json:"allowed_mccs,omitempty"`
	BlockedMCCs    []string `json:"blocked_mccs,omitempty"`
}

// IssuerCardholder is the person an issuer card belongs to: an agentledger
// user, and the issuer's cardholder once it has been created.
type IssuerCardholder struct {
	UserID string
	Name   string
	Email  string
	// ExternalID is the issuer's cardholder id (Stripe ich_…), empty until
	// the issuer has one for this user.
	ExternalID string
}

// IssuedCard is an issuer's card as the issuer reports it.
type IssuedCard struct {
	ExternalID string // Stripe ic_…, Lithic card token
	// CardholderID is the issuer's cardholder the card belongs to, when the
	// issuer has cardholders (Stripe ich_…).
	CardholderID string
	Last4        string
	ExpMonth     int
	ExpYear      int
	Status       string // as agentledger names it: CardActive, CardFrozen or CardClosed
	// Controls are the controls the issuer holds, in IssuerControls' terms.
	Controls IssuerControls
}

// IssuerCredentials are a card's number, CVC and expiry, fetched from the
// issuer for one reveal and never kept.
type IssuerCredentials struct {
	PAN      string
	CVV      string
	ExpMonth int
	ExpYear  int
}

// CardIssuer is a real card issuer's API: agentledger creates, changes and
// reveals the issuer's cards through it. Implementations must be safe for
// concurrent use, and must never log a card number or CVC.
//
// Every method's error is an *IssuerError: with Status 0 when the issuer
// could not be reached or did not answer in time (the call may or may not
// have taken effect), otherwise with the issuer's HTTP status and message.
type CardIssuer interface {
	// Name is the issuer's name, IssuerStripe or IssuerLithic.
	Name() string
	// CreateCard creates a virtual card as spec says. It is idempotent on
	// spec.CardID: calling it again with the same spec, after an error or a
	// timeout, returns the card the first call created instead of making a
	// second one. When spec.Cardholder.ExternalID is empty and the issuer
	// needs a cardholder, it creates one for the user (also idempotently, on
	// the user id) and reports it in IssuedCard.CardholderID.
	CreateCard(ctx context.Context, spec IssuerCardSpec) (*IssuedCard, error)
	// UpdateCard makes the issuer's card externalID match spec's status and
	// controls, and returns the card as the issuer then reports it. A closed
	// card cannot be reopened: updating a card the issuer has closed to
	// anything but closed is an *IssuerError.
	UpdateCard(ctx context.Context, externalID string, spec IssuerCardSpec) (*IssuedCard, error)
	// GetCard returns the issuer's card.
	GetCard(ctx context.Context, externalID string) (*IssuedCard, error)
	// Credentials fetches the card's number, CVC and expiry from the issuer
	// at this moment.
	Credentials(ctx context.Context, externalID string) (*IssuerCredentials, error)
	// Mirrored returns the part of c this issuer can hold, as GetCard would
	// report it after UpdateCard: a drift check compares the two.
	Mirrored(c IssuerControls) IssuerControls
}

// IssuerError is a failed call to an issuer's API.
type IssuerError struct {
	Issuer string
	// Status is the issuer's HTTP status, or 0 when it could not be reached
	// or did not answer in time.
	Status int
	// Code is the issuer's error code, when it gave one.
	Code    string
	Message string
}

func (e *IssuerError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s could not be reached: %s", e.Issuer, e.Message)
	}
	msg := fmt.Sprintf("%s answered %d", e.Issuer, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	return msg + ": " + e.Message
}

// Unreached reports whether the call may not have reached the issuer, or
// failed there for a reason a retry can cure (no answer, 429 or 5xx).
func (e *IssuerError) Unreached() bool {
	return e.Status == 0 || e.Status == 429 || e.Status >= 500
}

// MayHaveActed reports whether the failed call may have taken effect at the
// issuer all the same: no answer, a 5xx, or a success answer that could not
// be used.
func (e *IssuerError) MayHaveActed() bool {
	return e.Status == 0 || e.Status >= 500 || (e.Status >= 200 && e.Status < 300)
}

// ProvesNothingDone reports whether the issuer refused the call for its
// content (400, 422), so that it cannot have acted on it. Other refusals
// (401, 403, 409 while the first request is still running, 429) prove
// nothing of the kind.
func (e *IssuerError) ProvesNothingDone() bool {
	return e.Status == 400 || e.Status == 422
}
