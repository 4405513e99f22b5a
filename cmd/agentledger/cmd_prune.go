package main

import (
	"fmt"
	"io"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
)

func (a *app) pruneCommand() *cobra.Command {
	var before string
	cmd := &cobra.Command{
		Use:   "prune --before DATE",
		Short: "Remove old webhook events, finished deliveries and idempotency records (never money)",
		Long: `Removes history that is not money, created before DATE: webhook deliveries
that are finished (delivered, failed or cancelled), events with no delivery
left (one still pending for an endpoint stays), and idempotency records.
Authorizations, decisions, transfers, balances, cards and intents are never
removed. DATE is YYYY-MM-DD (midnight UTC) or an RFC 3339 time, at least a
day ago: a retry with an idempotency key is answered for a day. It runs in
small batches, so servers keep deciding meanwhile. A pruned event can no
longer be replayed.`,
		Example: `  agentledger prune --before 2026-09-01`,
		Args:    cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			t, err := parseBefore(before)
			if err != nil {
				return err
			}
			r, err := a.engine.Prune(a.ctx, op, engine.PruneInput{Before: t})
			if err != nil {
				return err
			}
			return a.emit(r, func(w io.Writer) {
				fmt.Fprintf(w, "Removed %d event(s), %d delivery(ies), %d idempotency record(s), %d expired OAuth "+
					"token(s) and %d unconsented OAuth client(s) from before %s.\n", r.Events, r.Deliveries,
					r.IdempotencyKeys, r.OAuthTokens, r.OAuthClients, r.Before.Format(time.RFC3339))
			})
		}),
	}
	cmd.Flags().StringVar(&before, "before", "", "remove what was created before this date (YYYY-MM-DD) or time (RFC 3339)")
	cmd.MarkFlagRequired("before")
	return cmd
}

// parseBefore reads --before: a date (midnight UTC) or an RFC 3339 time.
func parseBefore(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--before must be a date (2026-09-01) or an RFC 3339 time (2026-09-01T00:00:00Z), not %q", s)
}
