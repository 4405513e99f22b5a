package engine

import (
	"context"
	"time"
)

// Stats is what an operator's gauges read from the database: the queues
// that build up when a human, a webhook receiver or an issuer falls behind.
type Stats struct {
	// At is the engine's time of the read: an age is At less a creation.
	At time.Time
	// ApprovalsPending counts the approval requests waiting on a human
	// that have not lapsed.
	ApprovalsPending int64
	// DeliveriesPending counts the webhook deliveries still to be made,
	// those waiting to be retried too.
	DeliveriesPending int64
	// OldestPendingDelivery is when the head of the queue, the pending
	// delivery of the oldest event, was first queued; nil when none is
	// pending.
	OldestPendingDelivery *time.Time
	// IssuerQueue counts the issuer cards whose state has still to reach
	// the issuer, and the half-made cards still to cancel there.
	IssuerQueue int64
}

// Stats reads the queue gauges in one snapshot: a few counts over indexes,
// cheap whatever the history. Operators and viewers who see every agent.
func (e *Engine) Stats(ctx context.Context, actor Actor) (*Stats, error) {
	if err := actor.requireRole("read stats", RoleAdmin, RoleViewer); err != nil {
		return nil, err
	}
	if actor.scoped() {
		return nil, Errorf(CodeForbidden, "read stats: a viewer of one agent may not read the whole organisation's")
	}
	var out *Stats
	err := e.view(ctx, func(tx Tx, now time.Time) error {
		s := &Stats{At: now}
		var err error
		if s.ApprovalsPending, err = tx.CountPendingApprovals(now); err != nil {
			return err
		}
		if s.DeliveriesPending, s.OldestPendingDelivery, err = tx.PendingDeliveries(); err != nil {
			return err
		}
		if s.IssuerQueue, err = tx.CountIssuerSync(); err != nil {
			return err
		}
		out = s
		return nil
	})
	return out, err
}
