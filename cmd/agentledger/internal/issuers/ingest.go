package issuers

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

// maxIncrements bounds the requests of one issuer authorization (the first
// and its incremental ones).
const maxIncrements = 20

// incrementID names the n-th request of an issuer authorization: the
// issuer's id for the first, "<id>#n" for an incremental one, each its own
// decision and hold.
func incrementID(networkID string, n int) string {
	if n <= 1 {
		return networkID
	}
	return fmt.Sprintf("%s#%d", networkID, n)
}

// related returns our authorizations for an issuer's authorization, its
// first request then the incremental ones, oldest first.
func (h *Handler) related(ctx context.Context, actor engine.Actor, networkID string) ([]*engine.Authorization, error) {
	var out []*engine.Authorization
	for n := 1; n <= maxIncrements; n++ {
		a, err := h.eng.GetAuthorizationByNetworkID(ctx, actor, incrementID(networkID, n))
		if engine.IsNotFound(err) {
			break
		} else if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// outcome is what an issuer's event did to the ledger.
type outcome struct {
	done    []string
	refused []string
	retry   error // the database failed: the issuer should send the event again
}

// add records one change: a database failure asks for the event again; a
// change the ledger refuses is noted and logged, since sending the event
// again would not help.
func (h *Handler) add(o *outcome, authID, what string, err error) bool {
	switch engine.ErrorCode(err) {
	case "":
		o.done = append(o.done, what+" "+authID)
		return true
	case engine.CodeBusy, engine.CodeUnavailable, engine.CodeInternal:
		o.retry = err
	default:
		h.log.Warn("an issuer event could not be applied", "authorization", authID, "what", what, "err", engine.ErrorMessage(err))
		o.refused = append(o.refused, what+" "+authID+": "+engine.ErrorMessage(err))
	}
	return false
}

// answer tells the issuer what its event did: 5xx when it should send it
// again, otherwise 200 with the result.
func (h *Handler) answer(w http.ResponseWriter, o outcome, nothing string) {
	if o.retry != nil {
		writeEngineError(w, o.retry)
		return
	}
	var parts []string
	if len(o.done) > 0 {
		parts = append(parts, "applied: "+strings.Join(o.done, "; "))
	}
	if len(o.refused) > 0 {
		parts = append(parts, "not applied: "+strings.Join(o.refused, "; "))
	}
	if len(parts) == 0 {
		parts = append(parts, nothing)
	}
	h.ingested(w, strings.Join(parts, ". "))
}

// settle applies a capture of amount to an issuer authorization: its
// approved requests are settled oldest first until the amount is used up
// (what is left of the last one is released). key names the issuer's
// capture, so that the same capture sent again settles nothing more.
func (h *Handler) settle(ctx context.Context, actor engine.Actor, list []*engine.Authorization, amount int64, key string) outcome {
	var o outcome
	for _, a := range list {
		if amount == 0 || (a.Status != engine.AuthApproved && a.Status != engine.AuthSettled) {
			continue
		}
		part := min(amount, a.Amount)
		_, err := h.eng.Settle(ctx, actor, engine.SettleInput{AuthorizationID: a.ID, Amount: &part, IdempotencyKey: key + ":" + a.ID})
		if a.Status == engine.AuthSettled && engine.ErrorCode(err) == engine.CodeInvalidState {
			continue // settled by another capture
		}
		if h.add(&o, a.ID, "settled "+engine.FormatAmount(part, a.Currency)+" of", err) {
			amount -= part
		}
		if o.retry != nil {
			return o
		}
	}
	if amount > 0 && len(list) > 0 {
		h.log.Warn("the issuer captured more than agentledger holds; the excess is not in the ledger", "authorization", list[0].ID, "excess", amount)
		o.refused = append(o.refused, engine.FormatAmount(amount, list[0].Currency)+" captured beyond what agentledger approved")
	}
	return o
}

// refund applies a refund of amount, oldest settled request first.
func (h *Handler) refund(ctx context.Context, actor engine.Actor, list []*engine.Authorization, amount int64, key string) outcome {
	var o outcome
	for _, a := range list {
		if amount == 0 || a.Status != engine.AuthSettled {
			continue
		}
		part := min(amount, a.SettledAmount)
		_, err := h.eng.Refund(ctx, actor, engine.RefundInput{AuthorizationID: a.ID, Amount: &part, IdempotencyKey: key + ":" + a.ID})
		if h.add(&o, a.ID, "refunded "+engine.FormatAmount(part, a.Currency)+" of", err) {
			amount -= part
		}
		if o.retry != nil {
			return o
		}
	}
	return o
}

// reverse releases the approved requests of an issuer authorization the
// issuer did not carry out. A paper agent's approvals are left alone: the
// issuer declining them is what agentledger asked for.
func (h *Handler) reverse(ctx context.Context, actor engine.Actor, list []*engine.Authorization, key, why string) outcome {
	var o outcome
	for _, a := range list {
		if a.Status != engine.AuthApproved || a.Paper {
			continue
		}
		h.log.Info("reversing an authorization", "authorization", a.ID, "why", why)
		_, err := h.eng.Reverse(ctx, actor, engine.ReverseInput{AuthorizationID: a.ID, IdempotencyKey: key + ":" + a.ID})
		h.add(&o, a.ID, "reversed", err)
		if o.retry != nil {
			return o
		}
	}
	return o
}
