package main

import (
	"fmt"
	"io"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
)

func (a *app) issuerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "issuer",
		Short: "Real issuers (Stripe Issuing, Lithic): compare their cards with ours and repair drift",
	}
	var in engine.IssuerSyncInput
	sync := &cobra.Command{
		Use:   "sync [--dry-run]",
		Short: "Compare every issuer card with its issuer, repair what differs and work the issuer queue",
		Long: `Compares every open card provisioned at a real issuer with the issuer's copy
(status and mirrored controls) and repairs what differs: a change still queued
here is pushed; a card closed or frozen at the issuer alone is closed or frozen
here (the stricter state wins); controls are pushed. Then every queued change
and every abandoned half-made card is tried once more. Exits 1 while anything
is left queued. The issuers' API keys come from the environment:
AGENTLEDGER_STRIPE_API_KEY, AGENTLEDGER_LITHIC_API_KEY.`,
		Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			r, err := a.engine.SyncIssuers(a.ctx, op, in)
			if err != nil {
				return err
			}
			if err := a.emit(r, func(w io.Writer) { printIssuerSync(w, r, in.DryRun) }); err != nil {
				return err
			}
			if len(r.Queued) > 0 && !in.DryRun {
				return fmt.Errorf("%d change(s) have not reached their issuer yet; see above", len(r.Queued))
			}
			return nil
		}),
	}
	sync.Flags().BoolVar(&in.DryRun, "dry-run", false, "only report: change nothing here or at the issuers")
	cmd.AddCommand(sync)
	return cmd
}

func printIssuerSync(w io.Writer, r *engine.IssuerSyncReport, dryRun bool) {
	fmt.Fprintf(w, "Checked %d issuer card(s); %d difference(s).\n", r.Checked, len(r.Drift))
	if len(r.Drift) > 0 {
		t := newTable(w, "CARD", "ISSUER", "ISSUER CARD", "FIELD", "HERE", "AT ISSUER", "REPAIR")
		for _, d := range r.Drift {
			t.row(d.CardID, d.Issuer, d.IssuerCardID, d.Field, d.Here, d.AtIssuer, d.Repair)
		}
		t.flush()
	}
	if len(r.Queued) == 0 {
		if !dryRun {
			fmt.Fprintln(w, "Nothing is left in the issuer queue.")
		}
		return
	}
	fmt.Fprintf(w, "%d queue entr(ies) waiting:\n", len(r.Queued))
	t := newTable(w, "CARD", "ISSUER", "KIND", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR")
	for _, q := range r.Queued {
		t.row(q.CardID, q.Issuer, q.Kind, fmt.Sprint(q.Attempts), timestamp(q.NextAttemptAt), orDash(q.LastError))
	}
	t.flush()
}
