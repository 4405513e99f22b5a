package engine

import (
	"context"
	"time"
)

// MinRetention is the youngest history Prune may remove: an idempotency key
// must answer a retry for at least a day (as Stripe's do), and a webhook
// event must stay replayable as long.
const MinRetention = 24 * time.Hour

// pruneBatch bounds how many rows of each kind one prune transaction
// removes, so that the writer is never held for long.
var pruneBatch = 5000

// PruneInput asks to remove old history that is not money.
type PruneInput struct {
	// Before: events, their finished deliveries and idempotency records
	// created before it are removed. At least MinRetention ago.
	Before time.Time `json:"before"`
}

// PruneResult is what a prune removed.
type PruneResult struct {
	Before          time.Time `json:"before"`
	Events          int64     `json:"events"`
	Deliveries      int64     `json:"deliveries"`
	IdempotencyKeys int64     `json:"idempotency_keys"`
	OAuthTokens     int64     `json:"oauth_tokens"`
	OAuthClients    int64     `json:"oauth_clients"`
}

// Prune removes history that is not money: webhook deliveries that are
// finished (delivered, failed or cancelled), events older than Before with
// no delivery left (an event still pending for an endpoint stays, as do its
// deliveries), idempotency records older than Before, and OAuth codes and
// tokens that expired before it (they can never be used again), and clients
// that registered themselves before it and never got a consent. Money rows —
// authorizations, decisions, transfers, balances, cards, intents — are
// never removed. It works in batches of pruneBatch rows, each its own
// transaction. Operators only.
func (e *Engine) Prune(ctx context.Context, actor Actor, in PruneInput) (*PruneResult, error) {
	if err := actor.requireRole("prune", RoleAdmin); err != nil {
		return nil, err
	}
	if in.Before.IsZero() {
		return nil, invalid("before", "is required: history created before it is removed")
	}
	now := e.now()
	if latest := now.Add(-MinRetention); in.Before.After(latest) {
		return nil, invalid("before", "must be at least %s ago (idempotency keys answer retries for a day): %s or earlier",
			MinRetention, latest.Format(time.RFC3339))
	}
	out := &PruneResult{Before: in.Before.UTC()}
	for {
		var d, ev, k, o, c int64
		err := e.update(ctx, func(tx Tx, _ time.Time) error {
			var err error
			if d, err = tx.PruneDeliveries(in.Before, pruneBatch); err != nil {
				return err
			}
			if ev, err = tx.PruneEvents(in.Before, pruneBatch); err != nil {
				return err
			}
			if k, err = tx.PruneIdempotency(in.Before, pruneBatch); err != nil {
				return err
			}
			if o, err = tx.PruneOAuthTokens(in.Before, pruneBatch); err != nil {
				return err
			}
			c, err = tx.PruneOAuthClients(in.Before, pruneBatch)
			return err
		})
		if err != nil {
			return out, err
		}
		out.Deliveries, out.Events, out.IdempotencyKeys = out.Deliveries+d, out.Events+ev, out.IdempotencyKeys+k
		out.OAuthTokens, out.OAuthClients = out.OAuthTokens+o, out.OAuthClients+c
		if n := int64(pruneBatch); d < n && ev < n && k < n && o < n && c < n {
			return out, nil
		}
	}
}
