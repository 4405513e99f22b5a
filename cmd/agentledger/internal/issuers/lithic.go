package issuers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// lithicActor is who Lithic's requests act as, in audit fields.
var lithicActor = engine.Actor{Role: engine.RoleNetwork, KeyID: engine.IssuerLithic}

// LithicResults maps each decline code to the Auth Stream Access result
// Lithic is told. Lithic accepts only APPROVED, AVS_INVALID, CARD_PAUSED,
// INSUFFICIENT_FUNDS, UNAUTHORIZED_MERCHANT, VELOCITY_EXCEEDED,
// DRIVER_NUMBER_INVALID, VEHICLE_NUMBER_INVALID, SUSPECTED_FRAUD and
// CHALLENGE; each of ours goes to the nearest.
var LithicResults = map[string]string{
	engine.CodeCardNotFound:          lithicCardPaused, // not linked: the card cannot be used
	engine.CodeCardFrozen:            lithicCardPaused,
	engine.CodeCardCancelled:         lithicCardPaused,
	engine.CodeExpiredCard:           lithicCardPaused,
	engine.CodeInvalidCVV:            lithicSuspectedFraud,
	engine.CodeAgentDisabled:         lithicCardPaused,
	engine.CodeKYCRequired:           lithicCardPaused,
	engine.CodeCurrencyMismatch:      lithicUnauthorizedMerchant,
	engine.CodeMerchantBlocked:       lithicUnauthorizedMerchant,
	engine.CodeIntentRequired:        lithicUnauthorizedMerchant, // the agent did not declare this purchase
	engine.CodeIntentExpired:         lithicUnauthorizedMerchant,
	engine.CodeIntentMismatch:        lithicUnauthorizedMerchant,
	engine.CodeSpendLimitExceeded:    lithicVelocityExceeded,
	engine.CodeDailyLimitExceeded:    lithicVelocityExceeded,
	engine.CodeCycleLimitExceeded:    lithicVelocityExceeded,
	engine.CodeLifetimeLimitExceeded: lithicVelocityExceeded,
	engine.CodeVelocityExceeded:      lithicVelocityExceeded,
	engine.CodeApprovalRequired:      lithicUnauthorizedMerchant, // no human approved this purchase
	engine.CodeSuspectedFraud:        lithicSuspectedFraud,
	engine.CodeInsufficientFunds:     lithicInsufficientFunds,
}

// Lithic ASA results.
const (
	lithicApproved             = "APPROVED"
	lithicCardPaused           = "CARD_PAUSED"
	lithicInsufficientFunds    = "INSUFFICIENT_FUNDS"
	lithicUnauthorizedMerchant = "UNAUTHORIZED_MERCHANT"
	lithicVelocityExceeded     = "VELOCITY_EXCEEDED"
	lithicSuspectedFraud       = "SUSPECTED_FRAUD"
)

// LithicValidResults are the results Lithic's ASA accepts.
var LithicValidResults = []string{lithicApproved, "AVS_INVALID", lithicCardPaused, lithicInsufficientFunds, lithicUnauthorizedMerchant,
	lithicVelocityExceeded, "DRIVER_NUMBER_INVALID", "VEHICLE_NUMBER_INVALID", lithicSuspectedFraud, "CHALLENGE"}

type lithicAmount struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// lithicASARequest is the part of card_authorization.approval_request we use.
type lithicASARequest struct {
	Token               string `json:"token"`
	Status              string `json:"status"`
	Amount              int64  `json:"amount"`               // deprecated by amounts
	AuthorizationAmount int64  `json:"authorization_amount"` // deprecated by amounts
	CardholderCurrency  string `json:"cardholder_currency"`  // deprecated by amounts
	Amounts             struct {
		Cardholder *lithicAmount `json:"cardholder"`
	} `json:"amounts"`
	Card struct {
		Token string `json:"token"`
	} `json:"card"`
	Merchant struct {
		AcceptorID string `json:"acceptor_id"`
		Descriptor string `json:"descriptor"`
		MCC        string `json:"mcc"`
		Country    string `json:"country"`
	} `json:"merchant"`
}

// amount is what the cardholder is charged, in the card's currency.
func (q lithicASARequest) amount() (int64, string) {
	if c := q.Amounts.Cardholder; c != nil && c.Currency != "" {
		return c.Amount, c.Currency
	}
	amount := q.AuthorizationAmount
	if amount == 0 {
		amount = q.Amount
	}
	return amount, q.CardholderCurrency
}

// lithicASAAnswer is the answer Lithic expects.
type lithicASAAnswer struct {
	Token  string `json:"token"`
	Result string `json:"result"`
}

// lithicASA decides an Auth Stream Access request within the budget.
func (h *Handler) lithicASA(w http.ResponseWriter, r *http.Request) {
	body, ok := h.lithicVerified(w, r, h.lithicKey, "AGENTLEDGER_LITHIC_SECRET")
	if !ok {
		return
	}
	var q lithicASARequest
	if err := json.Unmarshal(body, &q); err != nil || q.Token == "" {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "the body is not an ASA request (token is required)", "token")
		return
	}
	answer := lithicASAAnswer{Token: q.Token}
	decide := h.decide
	switch q.Status {
	case "AUTHORIZATION", "FINANCIAL_AUTHORIZATION", "":
	case "CREDIT_AUTHORIZATION", "FINANCIAL_CREDIT_AUTHORIZATION":
		decide = h.decideCredit // money coming back to the card: recorded, spends nothing
	default: // BALANCE_INQUIRY: an agent's card has no business at an ATM
		answer.Result = lithicUnauthorizedMerchant
		writeJSON(w, http.StatusOK, answer)
		return
	}
	amount, currency := q.amount()
	merchant := engine.Merchant{Name: strings.TrimSpace(q.Merchant.Descriptor), MCC: q.Merchant.MCC, ID: q.Merchant.AcceptorID, Country: q.Merchant.Country}
	in := engine.AuthorizeInput{Issuer: engine.IssuerLithic, IssuerCardID: q.Card.Token, Amount: amount, Currency: currency, Merchant: merchant}
	var d decision
	var err error
	// A token seen before with another amount is an incremental request:
	// its own decision, under the next free "<token>#n". The same request
	// sent again finds its first decision.
	for n := 1; n <= engine.MaxIncrements; n++ {
		in.NetworkID = engine.IncrementNetworkID(q.Token, n)
		if d, err = decide(r.Context(), lithicActor, engine.IssuerLithic, in); engine.ErrorCode(err) != engine.CodeIdempotencyConflict {
			break
		}
	}
	switch {
	case err != nil:
		h.log.Warn("declined an ASA request agentledger could not read", "token", q.Token, "err", engine.ErrorMessage(err))
		answer.Result = lithicUnauthorizedMerchant
	case h.approved(d):
		answer.Result = lithicApproved
	case d.fallback, d.auth.Status == engine.AuthApproved: // an approval the network must decline (paper)
		answer.Result = lithicCardPaused
	default:
		answer.Result = LithicResults[d.auth.DeclineCode]
	}
	writeJSON(w, http.StatusOK, answer)
}

// lithicTransaction is the part of a Lithic transaction event we use.
type lithicTransaction struct {
	EventType string `json:"event_type"`
	Token     string `json:"token"`
	Status    string `json:"status"` // PENDING, SETTLED, DECLINED, VOIDED, EXPIRED
	Amounts   struct {
		Settlement *lithicAmount `json:"settlement"`
	} `json:"amounts"`
	SettledAmount int64 `json:"settled_amount"`
	Events        []struct {
		Type   string `json:"type"`
		Amount int64  `json:"amount"`
	} `json:"events"`
}

// settled is what cleared: the CLEARING events, else the settlement amount.
func (t lithicTransaction) settled() int64 {
	var sum int64
	for _, e := range t.Events {
		if e.Type == "CLEARING" {
			sum += e.Amount
		}
	}
	switch {
	case sum > 0:
		return sum
	case t.Amounts.Settlement != nil:
		return t.Amounts.Settlement.Amount
	}
	return t.SettledAmount
}

// lithicEvents settles or reverses what ASA approved, from Lithic's
// card_transaction.updated events.
func (h *Handler) lithicEvents(w http.ResponseWriter, r *http.Request) {
	body, ok := h.lithicVerified(w, r, h.lithicEvKey, "AGENTLEDGER_LITHIC_EVENTS_SECRET (or AGENTLEDGER_LITHIC_SECRET)")
	if !ok {
		return
	}
	var t lithicTransaction
	if err := json.Unmarshal(body, &t); err != nil {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "the body is not a Lithic event", "")
		return
	}
	if t.EventType != "card_transaction.updated" || t.Token == "" {
		h.ingested(w, "ignored: agentledger does not use "+t.EventType)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	nothing := "ignored: agentledger did not decide " + t.Token
	switch {
	case t.Status == "VOIDED", t.Status == "EXPIRED", t.Status == "DECLINED":
		c, err := h.eng.ReverseNetwork(ctx, lithicActor, engine.NetworkChangeInput{NetworkID: t.Token, IdempotencyKey: "lithic:reverse:" + t.Token})
		h.ingest(w, c, err, nothing)
	case t.Status == "SETTLED" && t.settled() > 0:
		// Keyed by what cleared: a later update with a larger clearing is
		// a new settlement (which the ledger refuses once settled, and says so).
		key := "lithic:settle:" + t.Token + ":" + strconv.FormatInt(t.settled(), 10)
		c, err := h.eng.CaptureNetwork(ctx, lithicActor, engine.NetworkChangeInput{NetworkID: t.Token, Amount: t.settled(), IdempotencyKey: key})
		h.ingest(w, c, err, nothing)
	default:
		h.ingested(w, "nothing to do: "+t.Status)
	}
}

// lithicVerified reads a body signed the Standard Webhooks way, as Lithic
// signs ASA requests and events.
func (h *Handler) lithicVerified(w http.ResponseWriter, r *http.Request, key []byte, setting string) ([]byte, bool) {
	if key == nil {
		writeError(w, http.StatusServiceUnavailable, "NOT_CONFIGURED", "Lithic is not configured: set "+setting+" for agentledger serve", "")
		return nil, false
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return nil, false
	}
	if status, err := verifyStandardWebhook(key, r.Header, body, h.opts.Now()); err != nil {
		h.log.Warn("refused a Lithic request", "err", err)
		writeError(w, status, engine.CodeUnauthorized, err.Error(), "")
		return nil, false
	}
	return body, true
}

// standardWebhookKey decodes a Standard Webhooks secret: "whsec_" and the
// base64 of the key.
func standardWebhookKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(secret), "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New("must be whsec_ followed by base64, as Lithic shows it")
	}
	return key, nil
}

// verifyStandardWebhook checks webhook-id, webhook-timestamp and
// webhook-signature ("v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">",
// several separated by spaces). It returns the HTTP status to refuse with.
func verifyStandardWebhook(key []byte, header http.Header, body []byte, now time.Time) (int, error) {
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || sigs == "" {
		return http.StatusBadRequest, errNoSignature
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	ok := false
	for _, s := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(s, ",")
		if raw, err := base64.StdEncoding.DecodeString(sig); version == "v1" && err == nil {
			ok = ok || hmac.Equal(raw, want)
		}
	}
	if !ok {
		return http.StatusUnauthorized, errBadSig
	}
	if d := now.Sub(time.Unix(sec, 0)); d > SignatureTolerance || d < -SignatureTolerance {
		return http.StatusUnauthorized, errStale
	}
	return 0, nil
}
