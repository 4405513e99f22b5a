package issuers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/webhook"
	"github.com/agentledger/agentledger/engine"
)

// stripeActor is who Stripe's requests act as, in audit fields.
var stripeActor = engine.Actor{Role: engine.RoleNetwork, KeyID: engine.IssuerStripe}

// stripeEvent is the envelope of every Stripe webhook event.
type stripeEvent struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// stripeAuthorization is the part of an issuing.authorization we use.
type stripeAuthorization struct {
	ID       string `json:"id"`
	Approved bool   `json:"approved"`
	Status   string `json:"status"` // pending, closed, reversed, expired
	Card     struct {
		ID string `json:"id"`
	} `json:"card"`
	MerchantData   stripeMerchant `json:"merchant_data"`
	PendingRequest *struct {
		Amount               int64  `json:"amount"`
		Currency             string `json:"currency"`
		IsAmountControllable bool   `json:"is_amount_controllable"`
	} `json:"pending_request"`
	RequestHistory []json.RawMessage `json:"request_history"`
}

type stripeMerchant struct {
	Name         string `json:"name"`
	Category     string `json:"category"`
	CategoryCode string `json:"category_code"`
	NetworkID    string `json:"network_id"`
	Country      string `json:"country"`
}

// merchant maps Stripe's merchant_data; a merchant without a name is
// named by its category, so that merchant controls still have a string to
// match.
func (m stripeMerchant) merchant() engine.Merchant {
	name := strings.TrimSpace(m.Name)
	if name == "" {
		name = m.Category
	}
	return engine.Merchant{Name: name, MCC: m.CategoryCode, ID: m.NetworkID, Country: m.Country}
}

// stripeTransaction is the part of an issuing.transaction we use.
type stripeTransaction struct {
	ID            string `json:"id"`
	Type          string `json:"type"`   // capture or refund
	Amount        int64  `json:"amount"` // negative for a capture: money leaves the balance
	Authorization string `json:"authorization"`
}

// stripeAnswer is the synchronous answer to issuing_authorization.request.
type stripeAnswer struct {
	Approved bool              `json:"approved"`
	Amount   *int64            `json:"amount,omitempty"` // only when the amount is controllable
	Metadata map[string]string `json:"metadata"`
}

func (h *Handler) stripe(w http.ResponseWriter, r *http.Request) {
	if h.opts.StripeSecret == "" {
		writeError(w, http.StatusServiceUnavailable, "NOT_CONFIGURED", "Stripe is not configured: set AGENTLEDGER_STRIPE_WEBHOOK_SECRET for agentledger serve", "")
		return
	}
	body, ok := h.readBody(w, r)
	if !ok {
		return
	}
	if status, err := verifyStripe(h.opts.StripeSecret, r.Header.Get("Stripe-Signature"), body, h.opts.Now()); err != nil {
		h.log.Warn("refused a Stripe request", "err", err)
		writeError(w, status, engine.CodeUnauthorized, err.Error(), "")
		return
	}
	var ev stripeEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "the body is not a Stripe event", "")
		return
	}
	switch ev.Type {
	case "issuing_authorization.request":
		h.stripeRequest(w, r, ev)
	case "issuing_authorization.created", "issuing_authorization.updated":
		h.stripeAuthorizationChanged(w, r, ev)
	case "issuing_transaction.created":
		h.stripeTransaction(w, r, ev)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"received": true, "result": "ignored: agentledger does not use " + ev.Type})
	}
}

// stripeRequest decides a real-time authorization request and answers
// within the budget.
func (h *Handler) stripeRequest(w http.ResponseWriter, r *http.Request, ev stripeEvent) {
	var a stripeAuthorization
	if err := json.Unmarshal(ev.Data.Object, &a); err != nil || a.PendingRequest == nil || a.ID == "" {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "data.object: an issuing.authorization with a pending_request is required", "data.object")
		return
	}
	pending := a.PendingRequest
	// An incremental authorization asks again under the same id: each
	// request is its own decision.
	networkID := engine.IncrementNetworkID(a.ID, len(a.RequestHistory)+1)
	d, err := h.decide(r.Context(), stripeActor, engine.IssuerStripe, engine.AuthorizeInput{
		Issuer: engine.IssuerStripe, IssuerCardID: a.Card.ID, Amount: pending.Amount, Currency: strings.ToUpper(pending.Currency),
		Merchant: a.MerchantData.merchant(), NetworkID: networkID,
	})
	answer := stripeAnswer{Metadata: map[string]string{}}
	switch {
	case err != nil:
		h.log.Warn("declined a Stripe request agentledger could not read", "authorization", a.ID, "err", engine.ErrorMessage(err))
		answer.Metadata["agentledger_error"] = truncate(engine.ErrorMessage(err), 500)
	case d.fallback:
		answer.Approved = h.approved(d)
		answer.Metadata["agentledger_fallback"] = truncate(d.reason, 500)
	default:
		answer.Approved = h.approved(d)
		answer.Metadata["agentledger_authorization_id"] = d.auth.ID
		answer.Metadata["agentledger_status"] = d.auth.Status
		answer.Metadata["agentledger_reason"] = truncate(d.auth.Reason, 500)
		if d.auth.DeclineCode != "" {
			answer.Metadata["agentledger_decline_code"] = d.auth.DeclineCode
		}
		if d.auth.Paper {
			answer.Metadata["agentledger_paper"] = "true"
		}
	}
	if answer.Approved && pending.IsAmountControllable {
		answer.Amount = &pending.Amount
	}
	version := ev.APIVersion
	if version == "" {
		version = DefaultStripeVersion
	}
	w.Header().Set("Stripe-Version", version)
	writeJSON(w, http.StatusOK, answer)
}

// stripeAuthorizationChanged reverses an approval Stripe did not carry out:
// declined at Stripe after all (its own controls, or a timeout), reversed
// by the merchant, or expired.
func (h *Handler) stripeAuthorizationChanged(w http.ResponseWriter, r *http.Request, ev stripeEvent) {
	var a stripeAuthorization
	if err := json.Unmarshal(ev.Data.Object, &a); err != nil || a.ID == "" {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "data.object: an issuing.authorization is required", "data.object")
		return
	}
	if a.Approved && a.Status != "reversed" && a.Status != "expired" {
		h.ingested(w, "nothing to do")
		return
	}
	h.log.Info("reversing what Stripe did not carry out", "authorization", a.ID, "approved", a.Approved, "status", a.Status)
	c, err := h.eng.ReverseNetwork(context.WithoutCancel(r.Context()), stripeActor,
		engine.NetworkChangeInput{NetworkID: a.ID, IdempotencyKey: "stripe:reverse:" + a.ID})
	h.ingest(w, c, err, "ignored: agentledger did not decide "+a.ID)
}

// stripeTransaction settles a captured authorization, or refunds one.
func (h *Handler) stripeTransaction(w http.ResponseWriter, r *http.Request, ev stripeEvent) {
	var t stripeTransaction
	if err := json.Unmarshal(ev.Data.Object, &t); err != nil || t.ID == "" {
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "data.object: an issuing.transaction is required", "data.object")
		return
	}
	if t.Authorization == "" {
		h.ingested(w, "ignored: the transaction is linked to no authorization")
		return
	}
	ctx := context.WithoutCancel(r.Context())
	in := engine.NetworkChangeInput{NetworkID: t.Authorization, IdempotencyKey: "stripe:" + t.ID + ":" + t.Authorization}
	nothing := "ignored: agentledger did not decide " + t.Authorization
	switch {
	case t.Type == "capture" && t.Amount < 0:
		in.Amount = -t.Amount // a capture takes money from the balance: negative
		c, err := h.eng.CaptureNetwork(ctx, stripeActor, in)
		h.ingest(w, c, err, nothing)
	case t.Type == "refund" && t.Amount > 0:
		in.Amount = t.Amount
		c, err := h.eng.RefundNetwork(ctx, stripeActor, in)
		h.ingest(w, c, err, nothing)
	default:
		h.ingested(w, "ignored: a "+t.Type+" of "+strconv.FormatInt(t.Amount, 10))
	}
}

func (h *Handler) ingested(w http.ResponseWriter, result string) {
	writeJSON(w, http.StatusOK, map[string]any{"received": true, "result": result})
}

// Errors of signature checks; the HTTP status says which.
var (
	errNoSignature = errors.New("the signature header is missing or malformed")
	errBadSig      = errors.New("the signature does not match: is the configured secret this endpoint's?")
	errStale       = fmt.Errorf("the signature's timestamp is more than %s away from now: a replay?", SignatureTolerance)
)

// verifyStripe checks a Stripe-Signature header: the scheme of
// agentledger's own webhooks (an HMAC-SHA256 in hex of "<t>.<body>", keyed
// with the whole whsec_ secret), within the tolerance. It returns the HTTP
// status to refuse with: 400 for a missing or malformed header, 401
// otherwise.
func verifyStripe(secret, header string, body []byte, now time.Time) (int, error) {
	switch webhook.Verify(secret, header, body, SignatureTolerance, now) {
	case nil:
		return 0, nil
	case webhook.ErrNoSignature:
		return http.StatusBadRequest, errNoSignature
	case webhook.ErrBadSignature:
		return http.StatusUnauthorized, errBadSig
	default:
		return http.StatusUnauthorized, errStale
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
