// Package stripeapi is agentledger's client of Stripe Issuing's card API:
// an engine.CardIssuer that creates virtual cards (and, the first time, the
// user's cardholder), mirrors agentledger's controls onto Stripe's spending
// controls, changes a card's status and reveals its number.
//
// It goes through stripe-go, Stripe's own client, with its retries off
// (agentledger retries from its durable queue, under the same idempotency
// keys) and its logger silenced (stripe-go logs response bodies, and a
// card's number is in one). Every error is an *engine.IssuerError.
package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v84"

	"github.com/agentledger/agentledger/engine"
)

const (
	// DefaultAPIBase is Stripe's API.
	DefaultAPIBase = "https://api.stripe.com"
	// DefaultTimeout bounds a call when Config.HTTPClient is nil.
	DefaultTimeout = 10 * time.Second

	metaCardID = "agentledger_card_id"
	metaUserID = "agentledger_user_id"
	// Idempotency keys: a retried create returns what the first made.
	cardKeyPrefix       = "agentledger-card-"
	cardholderKeyPrefix = "agentledger-cardholder-"
	maxIdempotencyKey   = 255
)

// Stripe's card statuses.
const (
	stripeActive   = "active"
	stripeInactive = "inactive"
	stripeCanceled = "canceled"
)

// Config configures a Client.
type Config struct {
	// APIKey is a Stripe secret key (sk_…) or restricted key (rk_…).
	APIKey string
	// APIBase is the API's base URL: DefaultAPIBase when empty; tests point
	// it at stripe-mock.
	APIBase string
	// HTTPClient makes the requests; nil is a client with DefaultTimeout.
	// It is copied, not changed.
	HTTPClient *http.Client
	// BillingAddress is the billing address of the cardholders the client
	// creates (Stripe requires one). It may be left zero when every card is
	// issued to an existing cardholder.
	BillingAddress BillingAddress
}

// Client is a Stripe Issuing client. It is safe for concurrent use and
// keeps no card number or CVC.
type Client struct {
	sc      *stripe.Client
	key     string
	billing BillingAddress
}

var _ engine.CardIssuer = (*Client)(nil)

// New returns a client for cfg. Its errors never hold the API key.
func New(cfg Config) (*Client, error) {
	key := cfg.APIKey
	if key == "" {
		return nil, errors.New("stripe: no API key")
	}
	if (!strings.HasPrefix(key, "sk_") && !strings.HasPrefix(key, "rk_")) || strings.ContainsAny(key, " \t\r\n") {
		return nil, errors.New("stripe: the API key must be a secret key (sk_…) or a restricted key (rk_…)")
	}
	base := strings.TrimSpace(cfg.APIBase)
	if base == "" {
		base = DefaultAPIBase
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("stripe: API base %q is not an http(s) base URL", base)
	}
	billing := cfg.BillingAddress
	if !billing.IsZero() {
		if err := billing.Validate(); err != nil {
			return nil, fmt.Errorf("stripe: %w", err)
		}
		billing = billing.normalized()
	}

	hc := &http.Client{Timeout: DefaultTimeout}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	transport := hc.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	hc.Transport = &observingTransport{base: transport}

	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		HTTPClient:        hc,
		LeveledLogger:     nopLogger{},
		MaxNetworkRetries: stripe.Int64(0),
		URL:               stripe.String(strings.TrimRight(base, "/")),
		EnableTelemetry:   stripe.Bool(false),
	})
	return &Client{
		sc:      stripe.NewClient(key, stripe.WithBackends(backends)),
		key:     key,
		billing: billing,
	}, nil
}

// Name is engine.IssuerStripe.
func (c *Client) Name() string { return engine.IssuerStripe }

// Mirrored returns the part of controls Stripe holds, as GetCard reports it
// after UpdateCard: amounts as they are, MCC lists sorted and without
// duplicates, blocked MCCs with no Stripe category dropped, and an allow
// list only when Stripe can hold all of it (see mirror).
func (c *Client) Mirrored(controls engine.IssuerControls) engine.IssuerControls {
	return mirror(controls)
}

// CreateCard creates a virtual card for spec, and first the user's
// cardholder when spec.Cardholder.ExternalID is empty. Both creations are
// idempotent on agentledger's ids (Idempotency-Key agentledger-card-<card
// id> and agentledger-cardholder-<user id>): Stripe answers a retry within
// 24 hours with what the first call made.
func (c *Client) CreateCard(ctx context.Context, spec engine.IssuerCardSpec) (*engine.IssuedCard, error) {
	status, err := createStatus(spec.Status)
	if err != nil {
		return nil, err
	}
	if spec.CardID == "" {
		return nil, notSent("the card has no id")
	}
	cardKey := cardKeyPrefix + spec.CardID
	if len(cardKey) > maxIdempotencyKey {
		return nil, notSent("card id %q is too long for an idempotency key", spec.CardID)
	}
	currency := strings.ToLower(strings.TrimSpace(spec.Currency))
	if len(currency) != 3 || !isASCIILetters(currency) {
		return nil, notSent("currency %q is not an ISO 4217 code", spec.Currency)
	}
	holder := spec.Cardholder.ExternalID
	if holder == "" {
		if holder, err = c.createCardholder(ctx, spec.Cardholder); err != nil {
			return nil, err
		}
	}

	params := &stripe.IssuingCardCreateParams{
		Cardholder:       stripe.String(holder),
		Currency:         stripe.String(currency),
		Type:             stripe.String("virtual"),
		Status:           stripe.String(status),
		SpendingControls: createControls(want(mirror(spec.Controls))),
		Metadata:         map[string]string{metaCardID: spec.CardID},
	}
	params.SetIdempotencyKey(cardKey)
	ctx, cl := withCall(ctx)
	card, err := c.sc.V1IssuingCards.Create(ctx, params)
	if err != nil {
		return nil, c.fail("create card", err, cl)
	}
	out := issued(card)
	if out.CardholderID == "" {
		out.CardholderID = holder
	}
	return out, nil
}

// createCardholder creates the individual cardholder of a user and returns
// its id.
func (c *Client) createCardholder(ctx context.Context, h engine.IssuerCardholder) (string, error) {
	if h.UserID == "" {
		return "", notSent("the cardholder has neither a Stripe id nor a user id")
	}
	key := cardholderKeyPrefix + h.UserID
	if len(key) > maxIdempotencyKey {
		return "", notSent("user id %q is too long for an idempotency key", h.UserID)
	}
	if c.billing.IsZero() {
		return "", notSent("a cardholder must be created for user %s and Stripe requires a billing address: set %s "+
			`(JSON: {"line1":…,"city":…,"state":…,"postal_code":…,"country":…})`, h.UserID, BillingAddressEnv)
	}
	a := c.billing
	addr := &stripe.AddressParams{
		Line1: stripe.String(a.Line1), City: stripe.String(a.City),
		PostalCode: stripe.String(a.PostalCode), Country: stripe.String(a.Country),
	}
	if a.Line2 != "" {
		addr.Line2 = stripe.String(a.Line2)
	}
	if a.State != "" {
		addr.State = stripe.String(a.State)
	}
	params := &stripe.IssuingCardholderCreateParams{
		Type:     stripe.String("individual"),
		Name:     stripe.String(cardholderName(h.Name, h.Email)),
		Billing:  &stripe.IssuingCardholderCreateBillingParams{Address: addr},
		Metadata: map[string]string{metaUserID: h.UserID},
	}
	if email := strings.TrimSpace(h.Email); email != "" {
		params.Email = stripe.String(email)
	}
	params.SetIdempotencyKey(key)
	ctx, cl := withCall(ctx)
	holder, err := c.sc.V1IssuingCardholders.Create(ctx, params)
	if err != nil {
		return "", c.fail("create cardholder", err, cl)
	}
	return holder.ID, nil
}

// UpdateCard sets the card's status (unless spec.Status is empty) and
// spending controls to spec's. It
// reads the card first: to refuse reopening a canceled card (CodeCardClosed),
// to leave a canceled card that is to stay closed alone, and to clear only
// the controls the card holds (see updateControls).
func (c *Client) UpdateCard(ctx context.Context, externalID string, spec engine.IssuerCardSpec) (*engine.IssuedCard, error) {
	if externalID == "" {
		return nil, notSent("no Stripe card id")
	}
	status := "" // empty: the status stays as Stripe has it (a change of controls alone)
	if spec.Status != "" {
		var err error
		if status, err = updateStatus(spec.Status); err != nil {
			return nil, err
		}
	}
	cur, err := c.retrieve(ctx, externalID, false)
	if err != nil {
		return nil, err
	}
	if string(cur.Status) == stripeCanceled {
		if status != stripeCanceled && status != "" {
			return nil, &engine.IssuerError{
				Issuer: engine.IssuerStripe, Status: http.StatusConflict, Code: CodeCardClosed,
				Message: fmt.Sprintf("update card %s: the card is canceled at Stripe and cannot be reopened", externalID),
			}
		}
		return issued(cur), nil
	}
	params := &stripe.IssuingCardUpdateParams{
		SpendingControls: updateControls(want(mirror(spec.Controls)), cur.SpendingControls),
	}
	if status != "" {
		params.Status = stripe.String(status)
	}
	ctx, cl := withCall(ctx)
	card, err := c.sc.V1IssuingCards.Update(ctx, externalID, params)
	if err != nil {
		return nil, c.fail("update card "+externalID, err, cl)
	}
	return issued(card), nil
}

// GetCard returns the card as Stripe reports it.
func (c *Client) GetCard(ctx context.Context, externalID string) (*engine.IssuedCard, error) {
	if externalID == "" {
		return nil, notSent("no Stripe card id")
	}
	card, err := c.retrieve(ctx, externalID, false)
	if err != nil {
		return nil, err
	}
	return issued(card), nil
}

// Credentials retrieves the card with its number and CVC expanded (Stripe
// gives them for virtual cards only, and only on this call) and returns
// them with the expiry, as Stripe gave them. They are never logged nor
// kept.
func (c *Client) Credentials(ctx context.Context, externalID string) (*engine.IssuerCredentials, error) {
	if externalID == "" {
		return nil, notSent("no Stripe card id")
	}
	card, err := c.retrieve(ctx, externalID, true)
	if err != nil {
		return nil, err
	}
	if card.Number == "" || card.CVC == "" {
		return nil, &engine.IssuerError{Issuer: engine.IssuerStripe, Status: http.StatusOK, Code: CodeNoNumber,
			Message: "Stripe gave no number for card " + externalID +
				" (only virtual cards, and only accounts Stripe has enabled to retrieve numbers, get one)"}
	}
	return &engine.IssuerCredentials{
		PAN: card.Number, CVV: card.CVC, ExpMonth: int(card.ExpMonth), ExpYear: int(card.ExpYear),
	}, nil
}

func (c *Client) retrieve(ctx context.Context, externalID string, secrets bool) (*stripe.IssuingCard, error) {
	params := &stripe.IssuingCardRetrieveParams{}
	op := "retrieve card " + externalID
	if secrets {
		params.AddExpand("number")
		params.AddExpand("cvc")
		op = "retrieve card " + externalID + " credentials"
	}
	ctx, cl := withCall(ctx)
	card, err := c.sc.V1IssuingCards.Retrieve(ctx, externalID, params)
	if err != nil {
		return nil, c.fail(op, err, cl)
	}
	return card, nil
}

// issued maps Stripe's card to agentledger's terms.
func issued(card *stripe.IssuingCard) *engine.IssuedCard {
	out := &engine.IssuedCard{
		ExternalID: card.ID,
		Last4:      card.Last4,
		ExpMonth:   int(card.ExpMonth),
		ExpYear:    int(card.ExpYear),
		Status:     agentledgerStatus(string(card.Status)),
		Controls:   held(card.SpendingControls),
	}
	if card.Cardholder != nil {
		out.CardholderID = card.Cardholder.ID
	}
	return out
}

// agentledgerStatus maps Stripe's status: active → active, inactive →
// frozen, canceled → closed. A status Stripe may add later reads as frozen:
// not usable, and not closed for good.
func agentledgerStatus(s string) string {
	switch s {
	case stripeActive:
		return engine.CardActive
	case stripeCanceled:
		return engine.CardClosed
	default:
		return engine.CardFrozen
	}
}

// createStatus is Stripe's status for a new card: a card is not created
// closed.
func createStatus(s string) (string, error) {
	switch s {
	case engine.CardActive:
		return stripeActive, nil
	case engine.CardFrozen:
		return stripeInactive, nil
	default:
		return "", notSent("a card cannot be created with status %q", s)
	}
}

// updateStatus is Stripe's status for agentledger's. Closing needs no
// cancellation_reason: Stripe's only reasons are lost and stolen.
func updateStatus(s string) (string, error) {
	switch s {
	case engine.CardActive:
		return stripeActive, nil
	case engine.CardFrozen:
		return stripeInactive, nil
	case engine.CardClosed:
		return stripeCanceled, nil
	default:
		return "", notSent("unknown card status %q", s)
	}
}
