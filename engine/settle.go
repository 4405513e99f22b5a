package engine

import (
	"context"
	"crypto/subtle"
	"time"
)

// SettleInput settles (captures) an approved authorization.
type SettleInput struct {
	AuthorizationID string `json:"authorization_id"`
	// Amount to settle, at most the held amount; nil settles all of it.
	// The rest of the hold is released.
	Amount         *int64 `json:"amount,omitempty"`
	IdempotencyKey string `json:"-"`
}

// Settle posts an approved authorization's hold, in full or in part; what
// is not settled is released and stops counting toward the windows.
// Operators only.
func (e *Engine) Settle(ctx context.Context, actor Actor, in SettleInput) (*Authorization, error) {
	if in.Amount != nil {
		if err := checkAmount("amount", *in.Amount); err != nil {
			return nil, err
		}
	}
	return e.changeAuthorization(ctx, actor, in.AuthorizationID, in.IdempotencyKey, "authorization.settle", EventTransactionSettled, in,
		func(tx Tx, a *Authorization, now time.Time) error {
			amount := a.Amount
			if in.Amount != nil {
				amount = *in.Amount
			}
			return e.settleOne(tx, a, amount, now)
		})
}

// settleOne settles an approved authorization for amount: a charge posts
// that much of its hold and releases the rest from the windows; a credit
// posts the money back to where its card's spending comes from.
func (e *Engine) settleOne(tx Tx, a *Authorization, amount int64, now time.Time) error {
	if err := requireAuthStatus(a, AuthApproved, "settled"); err != nil {
		return err
	}
	if amount > a.Amount {
		return invalid("amount", "%s is more than the %s held", FormatAmount(amount, a.Currency), FormatAmount(a.Amount, a.Currency))
	}
	if a.Kind == KindCredit {
		if err := tx.InsertTransfer(&Transfer{
			ID: e.newID(PrefixTransfer, now), Kind: TransferPosted, DebitAccountID: spendAccountID(a.Paper, a.Currency),
			CreditAccountID: fundingAccountID(a), Amount: amount, Currency: a.Currency, Reference: a.ID, CreatedAt: now,
		}); err != nil {
			return err
		}
		a.Status, a.SettledAmount = AuthSettled, amount
		return nil
	}
	if err := e.resolveHold(tx, a, TransferPostPending, amount, now); err != nil {
		return err
	}
	if released := a.Amount - amount; released > 0 {
		if err := tx.AddCounters(countDeltas(a.AgentID, a.CardID, a.Currency, a.Day, a.Month, -released, 0)); err != nil {
			return err
		}
	}
	a.Status, a.SettledAmount = AuthSettled, amount
	return nil
}

// ReverseInput reverses (voids) an approved authorization.
type ReverseInput struct {
	AuthorizationID string `json:"authorization_id"`
	IdempotencyKey  string `json:"-"`
}

// Reverse voids an approved, unsettled authorization: its hold is released
// and it no longer counts toward any window. Operators only.
func (e *Engine) Reverse(ctx context.Context, actor Actor, in ReverseInput) (*Authorization, error) {
	return e.changeAuthorization(ctx, actor, in.AuthorizationID, in.IdempotencyKey, "authorization.reverse", EventTransactionReversed, in,
		func(tx Tx, a *Authorization, now time.Time) error { return e.reverseOne(tx, a, now) })
}

// reverseOne voids an approved authorization: a charge's hold is released
// and leaves the windows; a credit that never settled moved no money.
func (e *Engine) reverseOne(tx Tx, a *Authorization, now time.Time) error {
	if err := requireAuthStatus(a, AuthApproved, "reversed"); err != nil {
		return err
	}
	if a.Kind == KindCredit {
		a.Status = AuthReversed
		return nil
	}
	return e.releaseHold(tx, a, AuthReversed, now)
}

// RefundInput refunds a settled authorization.
type RefundInput struct {
	AuthorizationID string `json:"authorization_id"`
	// Amount to refund; nil refunds whatever has not been refunded yet.
	Amount         *int64 `json:"amount,omitempty"`
	IdempotencyKey string `json:"-"`
}

// Refund returns money from a settled charge to where it came from (a new
// posted transfer), in full or in part, several times up to the settled
// amount. A refund does not give back room in the spending windows: the
// limits cap what an agent spends, and a spend-and-refund cycle must not
// reset them. Operators only.
func (e *Engine) Refund(ctx context.Context, actor Actor, in RefundInput) (*Authorization, error) {
	if in.Amount != nil {
		if err := checkAmount("amount", *in.Amount); err != nil {
			return nil, err
		}
	}
	return e.changeAuthorization(ctx, actor, in.AuthorizationID, in.IdempotencyKey, "authorization.refund", EventTransactionRefunded, in,
		func(tx Tx, a *Authorization, now time.Time) error {
			amount := a.SettledAmount - a.RefundedAmount
			if in.Amount != nil {
				amount = *in.Amount
			}
			return e.refundOne(tx, a, amount, now)
		})
}

// refundOne returns amount of a settled charge to where it came from.
func (e *Engine) refundOne(tx Tx, a *Authorization, amount int64, now time.Time) error {
	left := a.SettledAmount - a.RefundedAmount
	switch {
	case a.Kind == KindCredit:
		return Errorf(CodeInvalidState, "authorization %s is a credit (money back to the card); there is nothing to refund", a.ID)
	case a.Status != AuthSettled:
		return Errorf(CodeInvalidState, "authorization %s is %s; only a settled charge can be refunded", a.ID, a.Status)
	case left == 0:
		return Errorf(CodeInvalidState, "authorization %s is already fully refunded", a.ID)
	case amount > left:
		return invalid("amount", "%s is more than the %s left to refund", FormatAmount(amount, a.Currency), FormatAmount(left, a.Currency))
	}
	if err := tx.InsertTransfer(&Transfer{
		ID: e.newID(PrefixTransfer, now), Kind: TransferPosted, DebitAccountID: spendAccountID(a.Paper, a.Currency),
		CreditAccountID: fundingAccountID(a), Amount: amount, Currency: a.Currency, Reference: a.ID, CreatedAt: now,
	}); err != nil {
		return err
	}
	a.RefundedAmount += amount
	return nil
}

// GetAuthorization returns an authorization the actor may see.
func (e *Engine) GetAuthorization(ctx context.Context, actor Actor, id string) (*Authorization, error) {
	var out *Authorization
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = findAuthorizationFor(tx, actor, id)
		return err
	})
	return out, err
}

// ListAuthorizationsInput filters a listing of authorizations.
type ListAuthorizationsInput struct {
	Agent  string
	CardID string
	Status string
	// DeclineCode keeps the declines with this code (one of DeclineCodes);
	// a decline's status is declined, so with any other Status it is an
	// INVALID_INPUT error.
	DeclineCode string
	Page        Page
}

// ListAuthorizations returns a page of the authorizations the actor may
// see, newest first.
func (e *Engine) ListAuthorizations(ctx context.Context, actor Actor, in ListAuthorizationsInput) (List[Authorization], error) {
	if in.Status != "" {
		if err := checkOneOf("status", in.Status, AuthApproved, AuthDeclined, AuthSettled, AuthReversed, AuthExpired); err != nil {
			return List[Authorization]{}, err
		}
	}
	if in.DeclineCode != "" {
		if err := checkOneOf("decline_code", in.DeclineCode, DeclineCodes...); err != nil {
			return List[Authorization]{}, err
		}
		if in.Status != "" && in.Status != AuthDeclined {
			return List[Authorization]{}, invalid("decline_code", "only a declined authorization has a decline code, not a %s one", in.Status)
		}
	}
	if err := in.Page.check(PrefixAuthorization); err != nil {
		return List[Authorization]{}, err
	}
	var err error
	if in.Agent, err = actor.listScope(in.Agent); err != nil {
		return List[Authorization]{}, err
	}
	var out List[Authorization]
	err = e.view(ctx, func(tx Tx, _ time.Time) error {
		f := AuthorizationFilter{DeclineCode: in.DeclineCode}
		if in.Status != "" {
			f.Statuses = []string{in.Status}
		}
		if in.DeclineCode != "" {
			f.Statuses = []string{AuthDeclined}
		}
		if in.Agent != "" {
			a, err := findAgentFor(tx, actor, "agent_id", in.Agent)
			if err != nil {
				return err
			}
			f.AgentID = a.ID
		}
		if in.CardID != "" {
			c, err := findCardFor(tx, actor, in.CardID)
			if err != nil {
				return err
			}
			f.CardID = c.ID
		}
		var err error
		out, err = paginate(in.Page, func(a *Authorization) string { return a.ID }, func(after string, limit int) ([]*Authorization, error) {
			f.After, f.Limit = after, limit
			return tx.ListAuthorizations(f)
		}, func(a *Authorization) *Authorization {
			if actor.canSee(a.AgentID) {
				return a
			}
			return nil
		})
		return err
	})
	return out, err
}

// changeAuthorization loads an authorization for an operator or network,
// applies change, saves it and emits the event, all under an idempotency key.
func (e *Engine) changeAuthorization(ctx context.Context, actor Actor, id, key, op, event string, input any, change func(Tx, *Authorization, time.Time) error) (*Authorization, error) {
	if err := actor.requireRole(op, RoleAdmin, RoleNetwork); err != nil {
		return nil, err
	}
	var out *Authorization
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, key, op, input, now, func() (*Authorization, error) {
			a, err := findAuthorizationFor(tx, actor, id)
			if err != nil {
				return nil, err
			}
			if err := change(tx, a, now); err != nil {
				return nil, err
			}
			return a, e.saveAuthorization(tx, a, event, now)
		})
		return err
	})
	return out, err
}

// saveAuthorization saves a changed authorization and emits the event that
// reports the change.
func (e *Engine) saveAuthorization(tx Tx, a *Authorization, event string, now time.Time) error {
	a.UpdatedAt = now
	if err := tx.UpdateAuthorization(a); err != nil {
		return err
	}
	return e.emit(tx, now, event, a)
}

func findAuthorizationFor(tx Tx, actor Actor, id string) (*Authorization, error) {
	a, err := tx.FindAuthorization(id)
	if IsNotFound(err) || (err == nil && !actor.canSee(a.AgentID)) {
		return nil, notFound("authorization_id", "authorization", id)
	}
	return a, err
}

func requireAuthStatus(a *Authorization, want, doing string) error {
	if a.Status != want {
		return Errorf(CodeInvalidState, "authorization %s is %s and cannot be %s", a.ID, a.Status, doing)
	}
	return nil
}

// resolveHold posts (amount) or voids an authorization's hold.
func (e *Engine) resolveHold(tx Tx, a *Authorization, kind string, amount int64, now time.Time) error {
	return tx.InsertTransfer(&Transfer{
		ID: e.newID(PrefixTransfer, now), Kind: kind, DebitAccountID: fundingAccountID(a), CreditAccountID: spendAccountID(a.Paper, a.Currency),
		Amount: amount, Currency: a.Currency, PendingID: a.HoldID, Reference: a.ID, CreatedAt: now,
	})
}

// releaseHold voids an approved authorization's hold and takes it out of the
// windows, leaving it in status (reversed or expired).
func (e *Engine) releaseHold(tx Tx, a *Authorization, status string, now time.Time) error {
	if err := e.resolveHold(tx, a, TransferVoidPending, a.Amount, now); err != nil {
		return err
	}
	if err := tx.AddCounters(countDeltas(a.AgentID, a.CardID, a.Currency, a.Day, a.Month, -a.Amount, -1)); err != nil {
		return err
	}
	card, err := tx.FindCard(a.CardID)
	if err != nil {
		return err
	}
	agent, err := tx.FindAgent(a.AgentID)
	if err != nil {
		return err
	}
	if err := tx.AddVelocity(velocityDeltas(agent, card, a.CreatedAt, -1)); err != nil {
		return err
	}
	a.Status = status
	return nil
}

// fundingAccountID is the account an authorization's money came from.
func fundingAccountID(a *Authorization) string {
	if a.Paper {
		return PaperAccountID(a.AgentID, a.Currency)
	}
	return UserAccountID(a.UserID, a.Currency)
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
