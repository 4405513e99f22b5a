// Package lithicapi is a small typed client of Lithic's card API
// (https://docs.lithic.com) over net/http, and agentledger's
// engine.CardIssuer for Lithic.
//
// # What is mirrored
//
// A Lithic card holds one spend limit with one duration, so of
// engine.IssuerControls it keeps one amount, chosen the same way for every
// card type (Mirrored has no card type and must say what GetCard will
// report):
//
//   - Monthly, when set: spend_limit_duration MONTHLY;
//   - else Lifetime: FOREVER;
//   - else PerTransaction: TRANSACTION;
//   - else none: spend_limit 0, which the reference says removes a limit.
//
// For a single-use card, which Lithic closes on its first approval, FOREVER
// and TRANSACTION bound that one purchase alike. Daily limits and the MCC
// lists are not mirrored (a card has no field for them; Lithic's Auth Rules
// could hold them, this client does not use them). agentledger decides every
// authorization through ASA anyway; the card's limit is defence in depth.
// A limit set at Lithic with ANNUALLY is reported as no control: IssuerControls
// has no yearly amount.
//
// States: OPEN is active, PAUSED frozen, CLOSED closed. PENDING_FULFILLMENT
// and PENDING_ACTIVATION (physical cards on their way) are reported active,
// as the reference says such cards approve e-commerce authorizations.
//
// Lithic cards here are USD: a spec in another currency is refused before
// any request, with an *engine.IssuerError of Status 400 and Code
// "unsupported_currency".
//
// # Idempotency
//
// Lithic honours an Idempotency-Key header on POST /v1/cards (its
// "Idempotent Requests" guide and the 2026-01-21 changelog "Idempotency for
// Create Card"; the OpenAPI document declares the header, format uuid). The
// key must be a valid UUID, so CreateCard sends IdempotencyKey(CardID), a
// name-based (version 5) UUID of "agentledger-card-<CardID>", the same for
// every retry. Lithic keeps a key 24 hours and replays the first answer,
// even a 500; so CreateCard also looks first for a card whose memo is the
// card's ("agentledger <CardID>", GET /v1/cards?memo=…, every page) and
// returns it when there is one. The key covers a retry racing the first
// call; the look-up covers a retry after a day, or after a replayed failure.
//
// # Errors and secrets
//
// Every error is an *engine.IssuerError with Issuer "lithic": Status 0 when
// Lithic could not be reached or did not answer in time (network error,
// timeout, context deadline, a connection closed mid-answer), otherwise
// Lithic's HTTP status and its error body's message (Lithic gives no error
// codes). Two kinds carry a Code of the client's: a call refused before
// anything is sent has Status 400 and Code unsupported_currency,
// invalid_spec or invalid_request; a 2xx answer agentledger cannot use keeps
// its status with Code invalid_response, unexpected_state, pan_unavailable,
// card_closed or lookup_incomplete. Error strings never carry the API key, a
// card number or a CVV: answers' bodies are never quoted, and messages are
// scrubbed of the key and of digit runs as long as a card number.
// Credentials returns the PAN and CVV from GET /v1/cards/{card_token} and
// keeps nothing.
package lithicapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// Defaults of a Config.
const (
	DefaultAPIBase = "https://sandbox.lithic.com"
	DefaultTimeout = 10 * time.Second
)

// maxBody is the most of an answer the client reads.
const maxBody = 4 << 20

// Config configures a Client.
type Config struct {
	// APIKey is sent as "Authorization: <api key>", as Lithic documents.
	APIKey string
	// APIBase is Lithic's API root: https://sandbox.lithic.com (the
	// default) or https://api.lithic.com.
	APIBase string
	// HTTPClient makes the calls; the default has a 10 s timeout.
	HTTPClient *http.Client
}

// Client calls Lithic. It is safe for concurrent use.
type Client struct {
	key  string
	base string // without a trailing slash
	hc   *http.Client
}

var _ engine.CardIssuer = (*Client)(nil)

// New makes a Client.
func New(cfg Config) (*Client, error) {
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" {
		return nil, errors.New("lithicapi: an API key is required")
	}
	if strings.ContainsAny(key, " \r\n\t") {
		return nil, errors.New("lithicapi: the API key has spaces in it")
	}
	base := strings.TrimRight(strings.TrimSpace(cfg.APIBase), "/")
	if base == "" {
		base = DefaultAPIBase
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("lithicapi: API base %q is not an http(s) URL", base)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{key: key, base: base, hc: hc}, nil
}

// Name is engine.IssuerLithic.
func (c *Client) Name() string { return engine.IssuerLithic }

// Lithic's card types, states and spend limit durations.
const (
	TypeVirtual   = "VIRTUAL"
	TypeSingleUse = "SINGLE_USE"

	StateOpen               = "OPEN"
	StatePaused             = "PAUSED"
	StateClosed             = "CLOSED"
	StatePendingFulfillment = "PENDING_FULFILLMENT"
	StatePendingActivation  = "PENDING_ACTIVATION"

	DurationAnnually    = "ANNUALLY"
	DurationForever     = "FOREVER"
	DurationMonthly     = "MONTHLY"
	DurationTransaction = "TRANSACTION"
)

// Card is a Lithic card without its PAN and CVV (the reference's
// non_pci_card_response, as much of it as the examples show).
type Card struct {
	Token              string   `json:"token"`
	AccountToken       string   `json:"account_token"`
	CardProgramToken   string   `json:"card_program_token"`
	CardholderCurrency string   `json:"cardholder_currency"`
	Created            string   `json:"created"` // RFC 3339
	ExpMonth           string   `json:"exp_month"`
	ExpYear            string   `json:"exp_year"`
	Funding            *Funding `json:"funding"`
	Hostname           string   `json:"hostname"`
	LastFour           string   `json:"last_four"`
	Memo               string   `json:"memo"`
	PinStatus          string   `json:"pin_status"`
	ReplacementFor     *string  `json:"replacement_for"`
	SpendLimit         int64    `json:"spend_limit"`
	SpendLimitDuration string   `json:"spend_limit_duration"`
	State              string   `json:"state"`
	Type               string   `json:"type"`
}

// Funding is a card's (deprecated) funding account.
type Funding struct {
	AccountName string  `json:"account_name"`
	Created     string  `json:"created"`
	LastFour    string  `json:"last_four"`
	Nickname    *string `json:"nickname"`
	State       string  `json:"state"`
	Token       string  `json:"token"`
	Type        string  `json:"type"`
}

// pciCard is a card with its PAN and CVV, decoded only by Credentials.
type pciCard struct {
	Card
	PAN string `json:"pan"`
	CVV string `json:"cvv"`
}

// CardPage is one page of GET /v1/cards.
type CardPage struct {
	Data    []Card `json:"data"`
	HasMore bool   `json:"has_more"`
}

// CreateCardParams is the body of POST /v1/cards, as far as agentledger uses it.
type CreateCardParams struct {
	Type               string `json:"type"`
	Memo               string `json:"memo,omitempty"`
	State              string `json:"state,omitempty"`
	SpendLimit         *int64 `json:"spend_limit,omitempty"`
	SpendLimitDuration string `json:"spend_limit_duration,omitempty"`
}

// UpdateCardParams is the body of PATCH /v1/cards/{card_token}; what is
// left out stays as it is.
type UpdateCardParams struct {
	State              string `json:"state,omitempty"`
	Memo               string `json:"memo,omitempty"`
	SpendLimit         *int64 `json:"spend_limit,omitempty"`
	SpendLimitDuration string `json:"spend_limit_duration,omitempty"`
}

// ListCardsParams is the query of GET /v1/cards.
type ListCardsParams struct {
	Memo          string // cards whose memo contains this
	State         string
	Begin, End    time.Time // created after Begin, before End
	PageSize      int       // 1 to 100; Lithic's default is 50
	StartingAfter string    // a card token
}

// Create is POST /v1/cards. idempotencyKey, a UUID, is sent as
// Idempotency-Key when not empty.
func (c *Client) Create(ctx context.Context, p CreateCardParams, idempotencyKey string) (*Card, error) {
	var out Card
	if err := c.do(ctx, http.MethodPost, "/v1/cards", nil, p, idempotencyKey, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Get is GET /v1/cards/{card_token}, without the PAN and CVV.
func (c *Client) Get(ctx context.Context, token string) (*Card, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	var out Card
	if err := c.do(ctx, http.MethodGet, "/v1/cards/"+url.PathEscape(token), nil, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Update is PATCH /v1/cards/{card_token}.
func (c *Client) Update(ctx context.Context, token string, p UpdateCardParams) (*Card, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	var out Card
	if err := c.do(ctx, http.MethodPatch, "/v1/cards/"+url.PathEscape(token), nil, p, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List is one page of GET /v1/cards.
func (c *Client) List(ctx context.Context, p ListCardsParams) (*CardPage, error) {
	q := url.Values{}
	if p.Memo != "" {
		q.Set("memo", p.Memo)
	}
	if p.State != "" {
		q.Set("state", p.State)
	}
	if !p.Begin.IsZero() {
		q.Set("begin", p.Begin.UTC().Format(time.RFC3339))
	}
	if !p.End.IsZero() {
		q.Set("end", p.End.UTC().Format(time.RFC3339))
	}
	if p.PageSize != 0 {
		q.Set("page_size", strconv.Itoa(p.PageSize))
	}
	if p.StartingAfter != "" {
		q.Set("starting_after", p.StartingAfter)
	}
	var out CardPage
	if err := c.do(ctx, http.MethodGet, "/v1/cards", q, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// credentials is GET /v1/cards/{card_token} with the PAN and CVV.
func (c *Client) credentials(ctx context.Context, token string) (*pciCard, error) {
	if err := checkToken(token); err != nil {
		return nil, err
	}
	var out pciCard
	if err := c.do(ctx, http.MethodGet, "/v1/cards/"+url.PathEscape(token), nil, nil, "", &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func checkToken(token string) error {
	if strings.TrimSpace(token) == "" {
		return refused("invalid_request", "the Lithic card token is empty")
	}
	return nil
}

// refused is a call the client would not make: Status 400, nothing sent.
func refused(code, msg string) *engine.IssuerError {
	return &engine.IssuerError{Issuer: engine.IssuerLithic, Status: http.StatusBadRequest, Code: code, Message: msg}
}

// unreached is a call that got no (whole) answer.
func unreached(msg string) *engine.IssuerError {
	return &engine.IssuerError{Issuer: engine.IssuerLithic, Message: msg}
}

// errorBody is Lithic's error answer. Some endpoints answer {"error": …}.
type errorBody struct {
	DebuggingRequestID string `json:"debugging_request_id"`
	Message            string `json:"message"`
	Error              string `json:"error"`
}

// do makes one call and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any, idempotencyKey string, out any) error {
	u := c.base + path
	if len(q) > 0 {
		// Spaces as %20: a memo is matched as text.
		u += "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return refused("invalid_request", "encoding the request: "+err.Error())
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return refused("invalid_request", "building the request: "+c.redact(err.Error()))
	}
	req.Header.Set("Authorization", c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	what := method + " " + path
	resp, err := c.hc.Do(req)
	if err != nil {
		return unreached(what + ": " + c.netError(ctx, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	defer clear(raw) // it may hold a PAN
	if err != nil {
		return unreached(fmt.Sprintf("%s: the answer (%d) broke off: %s", what, resp.StatusCode, c.netError(ctx, err)))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// Never the body or the decoder's words about it: it may hold a PAN.
		return &engine.IssuerError{Issuer: engine.IssuerLithic, Status: resp.StatusCode, Code: "invalid_response",
			Message: what + ": the answer is not the JSON Lithic documents"}
	}
	return nil
}

// statusError is Lithic's error answer as an *engine.IssuerError.
func (c *Client) statusError(status int, raw []byte) *engine.IssuerError {
	var b errorBody
	msg := ""
	if json.Unmarshal(raw, &b) == nil {
		msg = strings.TrimSpace(b.Message)
		if msg == "" {
			msg = strings.TrimSpace(b.Error)
		}
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	msg = c.redact(msg)
	if b.DebuggingRequestID != "" && len(b.DebuggingRequestID) <= 64 {
		msg += " (debugging_request_id " + c.redact(b.DebuggingRequestID) + ")"
	}
	return &engine.IssuerError{Issuer: engine.IssuerLithic, Status: status, Message: msg}
}

// netError says why a call got no answer, without its URL.
func (c *Client) netError(ctx context.Context, err error) string {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "no answer before the deadline"
	case ctx.Err() != nil:
		return "the call was cancelled"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "no answer within the timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return c.redact(err.Error())
}

// cardNumber is a run of digits as long as a card number, spaces or dashes
// allowed between them.
var cardNumber = regexp.MustCompile(`\d(?:[ -]?\d){11,18}`)

// redact takes the API key and anything like a card number out of s.
func (c *Client) redact(s string) string {
	if len(c.key) >= 8 {
		s = strings.ReplaceAll(s, c.key, "[api key]")
	}
	return cardNumber.ReplaceAllString(s, "[card number]")
}
