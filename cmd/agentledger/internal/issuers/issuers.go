// Package issuers is the HTTP face card networks and issuers call: the
// sandbox network's JSON endpoints, Stripe Issuing's real-time
// authorization webhook and Lithic's Auth Stream Access. Every request is
// decided by the same engine call as the CLI's `network authorize`.
package issuers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/httperr"
	"github.com/agentledger/agentledger/engine"
)

// Defaults of a Handler.
const (
	// DefaultBudget is how long an issuer endpoint waits for the engine's
	// decision before it answers with the fallback: issuers allow about 2 s.
	DefaultBudget = 1500 * time.Millisecond
	// DefaultStripeVersion answers Stripe when the event names no API version.
	DefaultStripeVersion = "2025-03-31.basil"
	// SignatureTolerance is how old (or how far ahead) a signed request may be.
	SignatureTolerance = 5 * time.Minute
	// DefaultMaxBody bounds a request body when Options.MaxBody is zero.
	DefaultMaxBody = 1 << 20
)

// Options configure the issuer endpoints.
type Options struct {
	// StripeSecret is the Stripe endpoint's signing secret (whsec_…); the
	// Stripe endpoint answers 503 without it.
	StripeSecret string
	// LithicSecret is the Auth Stream Access secret (whsec_…, base64); the
	// Lithic endpoints answer 503 without it.
	LithicSecret string
	// LithicEventsSecret signs Lithic's event webhooks (card_transaction.updated);
	// LithicSecret when empty.
	LithicEventsSecret string
	// Budget bounds the wait for a decision (DefaultBudget when zero).
	Budget time.Duration
	// FallbackApprove answers "approved" instead of "declined" when the
	// decision does not come within the budget.
	FallbackApprove bool
	Logger          *slog.Logger
	// MaxBody bounds a request body (DefaultMaxBody when zero); a larger
	// one is answered 413.
	MaxBody int64
	// Now is the time signatures are checked against; time.Now when nil.
	Now func() time.Time
	// OnFallback, when set, hears of each answer given with the fallback:
	// the issuer and the answer (approved or declined), for metrics. It
	// must be quick.
	OnFallback func(issuer, answer string)
	// KeyCacheTTL is how long a checked network or admin key is trusted
	// without looking it up again (engine.DefaultKeyCacheTTL when zero).
	KeyCacheTTL time.Duration
}

// Handler serves the issuer and network endpoints.
type Handler struct {
	eng         *engine.Engine
	opts        Options
	lithicKey   []byte
	lithicEvKey []byte
	log         *slog.Logger
	pending     sync.WaitGroup // fallbacks still being recorded
	// keys spares an authorization the read transaction of a key lookup:
	// an issuer's adapter sends every one with the same key.
	keys *engine.KeyCache
}

// New checks the options and returns the handler.
func New(eng *engine.Engine, opts Options) (*Handler, error) {
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LithicEventsSecret == "" {
		opts.LithicEventsSecret = opts.LithicSecret
	}
	h := &Handler{eng: eng, opts: opts, log: opts.Logger, keys: engine.NewKeyCache(eng, opts.KeyCacheTTL)}
	var err error
	if opts.LithicSecret != "" {
		if h.lithicKey, err = standardWebhookKey(opts.LithicSecret); err != nil {
			return nil, fmt.Errorf("AGENTLEDGER_LITHIC_SECRET: %w", err)
		}
	}
	if opts.LithicEventsSecret != "" {
		if h.lithicEvKey, err = standardWebhookKey(opts.LithicEventsSecret); err != nil {
			return nil, fmt.Errorf("AGENTLEDGER_LITHIC_EVENTS_SECRET: %w", err)
		}
	}
	return h, nil
}

// Mount adds the routes to mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/network/authorize", h.networkAuthorize)
	mux.HandleFunc("POST /v1/network/settle", h.networkSettle)
	mux.HandleFunc("POST /v1/network/reverse", h.networkReverse)
	mux.HandleFunc("POST /v1/network/refund", h.networkRefund)
	mux.HandleFunc("POST /v1/issuers/stripe/authorization", h.stripe)
	mux.HandleFunc("POST /v1/issuers/lithic/asa", h.lithicASA)
	mux.HandleFunc("POST /v1/issuers/lithic/events", h.lithicEvents)
}

// Wait blocks until every fallback answered so far has been recorded.
// Servers call it before closing the database.
func (h *Handler) Wait() { h.pending.Wait() }

// decision is what an issuer is told.
type decision struct {
	auth     *engine.Authorization // nil when there was no decision in time
	fallback bool
	approve  bool   // the fallback's answer
	reason   string // why the fallback was used
}

// approved reports whether the issuer is told to approve: what the engine
// says the network must answer (a paper agent's approval is declined), or
// the fallback.
func (h *Handler) approved(d decision) bool {
	if d.fallback {
		return d.approve
	}
	return d.auth.NetworkAnswer == engine.NetworkApprove
}

// decide asks the engine, waiting at most the budget. When the budget runs
// out (or the database cannot be reached) the fallback answers, and once
// the engine has finished the fallback is recorded and reconciled (a late
// approval the issuer was told to decline is reversed).
func (h *Handler) decide(ctx context.Context, actor engine.Actor, issuer string, in engine.AuthorizeInput) (decision, error) {
	return h.decideWith(ctx, actor, issuer, in, h.eng.Authorize, h.opts.FallbackApprove)
}

// decideCredit decides a credit authorization the same way; its fallback
// approves, since money coming back to a card spends nothing.
func (h *Handler) decideCredit(ctx context.Context, actor engine.Actor, issuer string, in engine.AuthorizeInput) (decision, error) {
	return h.decideWith(ctx, actor, issuer, in, h.eng.AuthorizeCredit, true)
}

// decideWith is decide with the engine call that decides and the fallback.
func (h *Handler) decideWith(ctx context.Context, actor engine.Actor, issuer string, in engine.AuthorizeInput,
	authorize func(context.Context, engine.Actor, engine.AuthorizeInput) (*engine.Authorization, error),
	fallbackApprove bool) (decision, error) {
	type result struct {
		auth *engine.Authorization
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The decision runs to its end even if the issuer hangs up.
		a, err := authorize(context.WithoutCancel(ctx), actor, in)
		done <- result{a, err}
	}()
	timer := time.NewTimer(h.opts.Budget)
	defer timer.Stop()
	var reason string
	select {
	case r := <-done:
		switch code := engine.ErrorCode(r.err); {
		case r.err == nil:
			return decision{auth: r.auth}, nil
		case code == engine.CodeInvalidInput, code == engine.CodeIdempotencyConflict:
			return decision{}, r.err // the request itself is wrong
		default:
			reason = "no decision: " + engine.ErrorMessage(r.err)
			done <- r // recorded below like a late one
		}
	case <-timer.C:
		reason = fmt.Sprintf("no decision within %s", h.opts.Budget)
	}
	answer := engine.FallbackDecline
	if fallbackApprove {
		answer = engine.FallbackApprove
	}
	h.log.Warn("issuer answered with the fallback", "issuer", issuer, "network_id", in.NetworkID, "answer", answer, "reason", reason)
	if h.opts.OnFallback != nil {
		h.opts.OnFallback(issuer, answer)
	}
	h.pending.Add(1)
	go func() {
		defer h.pending.Done()
		r := <-done
		why := reason
		if r.err != nil && !strings.HasPrefix(reason, "no decision:") {
			why += "; then: " + engine.ErrorMessage(r.err)
		}
		h.recordFallback(actor, engine.FallbackInput{Issuer: issuer, NetworkID: in.NetworkID, Answer: answer, Reason: why,
			Amount: in.Amount, Currency: in.Currency, Merchant: in.Merchant.Name})
	}()
	return decision{fallback: true, approve: fallbackApprove, reason: reason}, nil
}

// recordFallback records a fallback, retrying while the database is busy.
func (h *Handler) recordFallback(actor engine.Actor, in engine.FallbackInput) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		f, err := h.eng.RecordFallback(context.Background(), actor, in)
		if err == nil {
			h.log.Info("fallback recorded", "issuer", in.Issuer, "network_id", in.NetworkID, "outcome", f.Outcome)
			return
		}
		if code := engine.ErrorCode(err); (code != engine.CodeBusy && code != engine.CodeUnavailable) || attempt == 10 {
			h.log.Error("could not record a fallback answer", "issuer", in.Issuer, "network_id", in.NetworkID, "err", err)
			return
		}
		time.Sleep(wait)
		wait = min(2*wait, 5*time.Second)
	}
}

// readBody reads a request body of bounded size; when it cannot, it answers
// (413 for a body over the limit) and returns false.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "TOO_LARGE", fmt.Sprintf("the request body is larger than this server's limit of %d bytes", h.opts.MaxBody), "")
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, engine.CodeInvalidInput, "the request body could not be read", "")
		return nil, false
	}
	return body, true
}

func writeJSON(w http.ResponseWriter, status int, v any) { httperr.WriteJSON(w, status, v) }

func writeError(w http.ResponseWriter, status int, code, message, field string) {
	httperr.Write(w, status, code, message, field)
}

func writeEngineError(w http.ResponseWriter, err error) { httperr.WriteEngine(w, err) }
