package engine

import (
	"context"
	"fmt"
	"time"
)

// An issuer's authorization may grow: Stripe and Lithic send incremental
// requests under the same id. Each request is a decision and hold of its
// own, with the network id IncrementNetworkID(id, n); the calls below take
// the first request's id and act on all of them, oldest first, in one
// transaction.

// MaxIncrements bounds the requests of one issuer authorization (the first
// and its incremental ones).
const MaxIncrements = 20

// IncrementNetworkID names the n-th request of an issuer authorization: the
// issuer's id for the first, "<id>#n" for an incremental one.
func IncrementNetworkID(networkID string, n int) string {
	if n <= 1 {
		return networkID
	}
	return fmt.Sprintf("%s#%d", networkID, n)
}

// relatedAuthorizations returns the requests of an issuer authorization,
// oldest first; CodeNotFound when agentledger decided none of them.
func relatedAuthorizations(tx Tx, actor Actor, networkID string) ([]*Authorization, error) {
	var out []*Authorization
	for n := 1; n <= MaxIncrements; n++ {
		a, err := tx.FindAuthorizationByNetworkID(IncrementNetworkID(networkID, n))
		if IsNotFound(err) {
			break
		} else if err != nil {
			return nil, err
		}
		if actor.canSee(a.AgentID) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, notFound("network_id", "authorization", networkID)
	}
	return out, nil
}

// NetworkChangeInput applies an issuer's capture, refund or reversal to an
// issuer authorization (all its requests).
type NetworkChangeInput struct {
	// NetworkID is the issuer's id of the authorization (its first request).
	NetworkID string `json:"network_id"`
	// Amount captured or refunded, in minor units; unused by a reversal.
	Amount int64 `json:"amount,omitempty"`
	// IdempotencyKey names the issuer's event (its capture or refund id), so
	// that the same event sent again changes nothing more.
	IdempotencyKey string `json:"-"`
}

// NetworkChange is what an issuer's capture, refund or reversal did.
type NetworkChange struct {
	NetworkID string `json:"network_id"`
	Currency  string `json:"currency"`
	// Applied is the amount settled or refunded here; NotApplied what the
	// ledger could not take (captured beyond what agentledger approved, or
	// refunded beyond what was settled).
	Applied    int64 `json:"applied"`
	NotApplied int64 `json:"not_applied"`
	// Authorizations are the requests the change touched, oldest first.
	Authorizations []*Authorization `json:"authorizations"`
	// Done and NotDone say, for a person, what was done and what was not.
	Done    []string `json:"done"`
	NotDone []string `json:"not_done"`
}

func (c *NetworkChange) done(format string, args ...any) {
	c.Done = append(c.Done, fmt.Sprintf(format, args...))
}

func (c *NetworkChange) notDone(format string, args ...any) {
	c.NotDone = append(c.NotDone, fmt.Sprintf(format, args...))
}

// CaptureNetwork applies an issuer's capture of amount to an issuer
// authorization: its approved requests are settled oldest first until the
// amount is used up (what is left of the last one is released). What is
// captured beyond what agentledger approved is reported as not applied: the
// ledger holds no more. Operators and network keys.
func (e *Engine) CaptureNetwork(ctx context.Context, actor Actor, in NetworkChangeInput) (*NetworkChange, error) {
	if err := checkAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	return e.changeNetwork(ctx, actor, in, "network.capture", func(tx Tx, list []*Authorization, c *NetworkChange, now time.Time) error {
		// Room: an approved request's hold; one settled by an earlier
		// capture, reversed, expired or declined has none.
		room := func(a *Authorization) int64 {
			if a.Status != AuthApproved {
				return 0
			}
			return a.Amount
		}
		return e.allocate(tx, list, c, in.Amount, now, room, e.settleOne, EventTransactionSettled, "settled",
			"captured beyond what agentledger approved and still holds")
	})
}

// RefundNetwork applies an issuer's refund of amount to an issuer
// authorization: its settled requests are refunded oldest first, each up to
// what it has left to refund, until the amount is used up. Operators and
// network keys.
func (e *Engine) RefundNetwork(ctx context.Context, actor Actor, in NetworkChangeInput) (*NetworkChange, error) {
	if err := checkAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	return e.changeNetwork(ctx, actor, in, "network.refund", func(tx Tx, list []*Authorization, c *NetworkChange, now time.Time) error {
		room := func(a *Authorization) int64 {
			if a.Kind != KindCharge || a.Status != AuthSettled {
				return 0
			}
			return a.SettledAmount - a.RefundedAmount
		}
		return e.allocate(tx, list, c, in.Amount, now, room, e.refundOne, EventTransactionRefunded, "refunded",
			"refunded beyond what was settled and not refunded yet")
	})
}

// allocate spreads amount over an issuer authorization's requests, oldest
// first, each taking at most its room, and applies each part (a settle, a
// refund), saving the request and emitting event. What no request had room
// for is reported as not applied, with beyond saying what it was.
func (e *Engine) allocate(tx Tx, list []*Authorization, c *NetworkChange, amount int64, now time.Time,
	room func(*Authorization) int64, apply func(Tx, *Authorization, int64, time.Time) error, event, verb, beyond string) error {
	left := amount
	for _, a := range list {
		part := min(left, room(a))
		if part <= 0 {
			continue
		}
		if err := apply(tx, a, part, now); err != nil {
			return err
		}
		if err := e.saveAuthorization(tx, a, event, now); err != nil {
			return err
		}
		c.Authorizations = append(c.Authorizations, a)
		c.done("%s %s of %s", verb, FormatAmount(part, a.Currency), a.ID)
		c.Applied += part
		left -= part
	}
	if c.NotApplied = left; left > 0 {
		c.notDone("%s %s", FormatAmount(left, c.Currency), beyond)
	}
	return nil
}

// ReverseNetwork releases the approved requests of an issuer authorization
// the issuer did not carry out (declined after all, reversed by the
// merchant, expired). A paper agent's approvals stay as they are: the
// network declining them is what agentledger asked for. Operators and
// network keys.
func (e *Engine) ReverseNetwork(ctx context.Context, actor Actor, in NetworkChangeInput) (*NetworkChange, error) {
	in.Amount = 0
	return e.changeNetwork(ctx, actor, in, "network.reverse", func(tx Tx, list []*Authorization, c *NetworkChange, now time.Time) error {
		for _, a := range list {
			if a.Status != AuthApproved || a.NetworkAnswer == NetworkDecline || (a.Paper && a.Kind == KindCharge) {
				continue // already resolved, or a paper approval the network was told to decline
			}
			if err := e.reverseOne(tx, a, now); err != nil {
				return err
			}
			if err := e.saveAuthorization(tx, a, EventTransactionReversed, now); err != nil {
				return err
			}
			c.Authorizations = append(c.Authorizations, a)
			c.done("reversed %s", a.ID)
			c.Applied += a.Amount
		}
		return nil
	})
}

// changeNetwork loads the requests of an issuer authorization and applies
// change to them in one transaction, under an idempotency key.
func (e *Engine) changeNetwork(ctx context.Context, actor Actor, in NetworkChangeInput, op string,
	change func(Tx, []*Authorization, *NetworkChange, time.Time) error) (*NetworkChange, error) {
	if err := actor.requireRole(op, RoleAdmin, RoleNetwork); err != nil {
		return nil, err
	}
	var err error
	if in.NetworkID, err = checkText("network_id", in.NetworkID, maxNameLen, true); err != nil {
		return nil, err
	}
	var out *NetworkChange
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, op, in, now, func() (*NetworkChange, error) {
			list, err := relatedAuthorizations(tx, actor, in.NetworkID)
			if err != nil {
				return nil, err
			}
			c := &NetworkChange{NetworkID: in.NetworkID, Currency: list[0].Currency, Authorizations: []*Authorization{},
				Done: []string{}, NotDone: []string{}}
			return c, change(tx, list, c, now)
		})
		return err
	})
	return out, err
}

// AuthorizeCredit records an issuer's credit authorization: money coming
// back to a card (a merchant's refund). Nothing is spent, so no limit,
// intent, risk or funds check applies, and the card's state does not
// matter: it is approved when the card is known (declined CARD_NOT_FOUND
// otherwise), with no hold and nothing counted. Settled (CaptureNetwork),
// it posts the money back to the account the card spends from. The same
// network id twice returns the first decision. Operators and network keys.
func (e *Engine) AuthorizeCredit(ctx context.Context, actor Actor, in AuthorizeInput) (*Authorization, error) {
	return e.recordAuthorization(ctx, actor, in, "authorize credit", e.authorizeCredit)
}

func (e *Engine) authorizeCredit(tx Tx, in AuthorizeInput, now time.Time) (*Authorization, error) {
	r := &authRun{e: e, tx: tx, now: now, in: in}
	r.auth = &Authorization{
		ID: e.newID(PrefixAuthorization, now), Kind: KindCredit, Amount: in.Amount, Currency: in.Currency,
		Merchant: in.Merchant, NetworkID: in.NetworkID, Checks: []Check{}, RiskSignals: []RiskSignal{}, CreatedAt: now, UpdatedAt: now,
	}
	code, reason, err := r.findCard()
	if err != nil {
		return nil, err
	}
	a := r.auth
	if code != "" {
		a.Status, a.DeclineCode, a.Reason, a.NetworkAnswer = AuthDeclined, code, reason, NetworkDecline
	} else {
		agent, err := tx.FindAgent(r.card.AgentID)
		if err != nil {
			return nil, err
		}
		a.UserID, a.Paper = agent.UserID, agent.Mode == ModePaper
		a.Status, a.Reason, a.NetworkAnswer = AuthApproved, "Approved: a credit (money back to the card) spends nothing", NetworkApprove
		r.check("credit", CheckPass, fmt.Sprintf("%s back to card ····%s from %q", FormatAmount(a.Amount, a.Currency), r.card.Last4, a.Merchant.Name))
	}
	if err := tx.InsertAuthorization(a); ErrorCode(err) == CodeConflict {
		return firstForNetworkID(tx, in, KindCredit, a.CardID)
	} else if err != nil {
		return nil, err
	}
	return a, e.emit(tx, now, EventTransactionAuthorized, a)
}
