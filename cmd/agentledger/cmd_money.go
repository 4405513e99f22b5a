package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
)

func (a *app) intentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "intent", Short: "Intents (an agent's declared purchases): list and show; declare, reveal or cancel for an agent"}
	var in engine.ListIntentsInput
	var pages pageFlags
	list := &cobra.Command{
		Use: "list [--agent AGENT] [--status STATUS]", Short: "List intents", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, pages, listing[engine.Intent]{
				id: func(i *engine.Intent) string { return i.ID },
				list: func(p engine.Page) (engine.List[engine.Intent], error) {
					in.Page = p
					return a.engine.ListIntents(a.ctx, op, in)
				},
				headers: []string{"ID", "AGENT", "CARD", "STATUS", "AMOUNT", "MERCHANT", "SUMMARY", "EXPIRES"},
				row: func(i *engine.Intent) []string {
					return []string{i.ID, i.AgentID, orDash(i.CardID), i.Status, money(i.Amount, i.Currency), orDash(i.Merchant),
						i.Summary, timestamp(i.ExpiresAt)}
				},
			})
		}),
	}
	pages.add(list, 0)
	list.Flags().StringVar(&in.Agent, "agent", "", "only this agent's intents")
	list.Flags().StringVar(&in.Status, "status", "", "awaiting_approval, pending, revealed, matched, mismatched, denied, cancelled or expired")
	list.Flags().StringVar(&in.CardID, "card", "", "only intents for this card")

	show := &cobra.Command{
		Use: "show INTENT", Short: "Show an intent", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			i, err := a.engine.GetIntent(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			return a.emit(i, func(w io.Writer) { printIntent(w, i) })
		}),
	}

	var d engine.DeclareIntentInput
	var revealFor bool
	declare := &cobra.Command{
		Use:   "declare --agent AGENT --amount N --summary TEXT",
		Short: "Declare an intent on an agent's behalf (what an agent does through MCP), to drive the sandbox",
		Long: `Declare an intent on an agent's behalf — what an agent does with ledger_intent
declare over MCP — so that the sandbox money flow can be driven from this
shell. With --reveal the card is also revealed for it (as ledger_card details
would), without printing the card number.`,
		Example: `  agentledger intent declare --agent sandbox-agent --card CARD --amount 2500 \
    --merchant "Office Depot" --summary "Printer paper" --reveal`,
		Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			if revealFor && d.CardID == "" {
				return usagef("--reveal needs --card")
			}
			i, err := a.engine.DeclareIntent(a.ctx, op, d)
			if err != nil {
				return err
			}
			if revealFor && i.Status == engine.IntentPending {
				if _, err := a.engine.RevealCard(a.ctx, op, engine.RevealInput{CardID: d.CardID, IntentID: i.ID}); err != nil {
					return err
				}
				if i, err = a.engine.GetIntent(a.ctx, op, i.ID); err != nil {
					return err
				}
			}
			return a.emit(i, func(w io.Writer) { printIntent(w, i) })
		}),
	}
	declare.Flags().StringVar(&d.Agent, "agent", "", "the agent declaring")
	declare.Flags().StringVar(&d.CardID, "card", "", "the card it will pay with")
	declare.Flags().Var(&amountValue{v: &d.Amount}, "amount", "amount in minor units (9999 is $99.99)")
	declare.Flags().StringVar(&d.Currency, "currency", "", "currency (default: the card's)")
	declare.Flags().StringVar(&d.Summary, "summary", "", "what will be bought and why")
	declare.Flags().StringVar(&d.Merchant, "merchant", "", "the merchant expected to charge")
	declare.Flags().StringVar(&d.MCC, "mcc", "", "the merchant category code expected")
	declare.Flags().Int64Var(&d.ExpiresInSeconds, "expires-in-seconds", 0, "a shorter life than the policy's intent_ttl_seconds")
	declare.Flags().BoolVar(&revealFor, "reveal", false, "also reveal the card for this intent (the number is not printed)")
	for _, f := range []string{"agent", "amount", "summary"} {
		declare.MarkFlagRequired(f)
	}

	var revealCard string
	reveal := &cobra.Command{
		Use:   "reveal INTENT",
		Short: "Reveal the card for a pending intent, as ledger_card details would (the number is not printed)",
		Args:  cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			i, err := a.engine.GetIntent(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			card := revealCard
			if card == "" {
				card = i.CardID
			}
			if card == "" {
				return usagef("intent %s names no card: give --card CARD", i.ID)
			}
			if _, err := a.engine.RevealCard(a.ctx, op, engine.RevealInput{CardID: card, IntentID: i.ID}); err != nil {
				return err
			}
			if i, err = a.engine.GetIntent(a.ctx, op, i.ID); err != nil {
				return err
			}
			return a.emit(i, func(w io.Writer) { fmt.Fprintf(w, "Intent %s is %s on card %s.\n", i.ID, i.Status, i.CardID) })
		}),
	}
	reveal.Flags().StringVar(&revealCard, "card", "", "the card to reveal (default: the intent's)")

	cancel := &cobra.Command{
		Use: "cancel INTENT", Short: "Cancel an unused intent", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			i, err := a.engine.CancelIntent(a.ctx, op, engine.CancelIntentInput{IntentID: args[0]})
			if err != nil {
				return err
			}
			return a.emit(i, func(w io.Writer) { fmt.Fprintf(w, "Intent %s is %s.\n", i.ID, i.Status) })
		}),
	}
	cmd.AddCommand(list, show, declare, reveal, cancel)
	return cmd
}

func printIntent(w io.Writer, i *engine.Intent) {
	fields(w,
		"id", i.ID, "agent_id", i.AgentID, "card_id", orDash(i.CardID), "status", i.Status,
		"amount", money(i.Amount, i.Currency), "merchant", orDash(i.Merchant), "mcc", orDash(i.MCC), "summary", i.Summary,
		"expires_at", timestamp(i.ExpiresAt), "decision_id", orDash(i.DecisionID), "authorization_id", orDash(i.AuthorizationID),
		"attested_by", attestation(i.Attestation), "created_at", timestamp(i.CreatedAt),
	)
}

func attestation(a engine.Attestation) string {
	parts := []string{a.AgentID}
	if a.KeyID != "" {
		parts = append(parts, "key "+a.KeyID)
	}
	if a.ClientName != "" {
		parts = append(parts, strings.TrimSpace(a.ClientName+" "+a.ClientVersion))
	}
	return strings.Join(parts, ", ")
}

func (a *app) approvalsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "approvals", Aliases: []string{"approval"}, Short: "The queue of spends waiting for a human: list, approve, deny"}
	var in engine.ListApprovalsInput
	var pages pageFlags
	list := &cobra.Command{
		Use: "list", Short: "List approval requests (pending by default)", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, pages, listing[engine.Decision]{
				id: func(d *engine.Decision) string { return d.ID },
				list: func(p engine.Page) (engine.List[engine.Decision], error) {
					in.Page = p
					return a.engine.ListApprovals(a.ctx, op, in)
				},
				headers: []string{"DECISION", "AGENT", "KIND", "AMOUNT", "MERCHANT", "STATUS", "REASON", "EXPIRES"},
				row: func(d *engine.Decision) []string {
					return []string{d.ID, d.AgentID, d.Kind, money(d.Amount, d.Currency), orDash(d.Merchant), d.ApprovalStatus,
						d.Reason, optionalTime(d.ApprovalExpiresAt)}
				},
				empty: fmt.Sprintf("No %s approval requests.", strings.ReplaceAll(in.Status, "all", "recorded")),
			})
		}),
	}
	pages.add(list, 0)
	list.Flags().StringVar(&in.Agent, "agent", "", "only this agent's requests")
	list.Flags().StringVar(&in.Status, "status", "", "pending (default), approved, denied, expired, executed or all")
	decide := func(use, short string, do func(engine.DecideInput) (*engine.Decision, error)) *cobra.Command {
		var reason string
		c := &cobra.Command{
			Use: use + " DEC_ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
				d, err := do(engine.DecideInput{DecisionID: args[0], Note: reason})
				if err != nil {
					return err
				}
				return a.emit(d, func(w io.Writer) {
					fmt.Fprintf(w, "Decision %s (%s, %s) is %s.\n", d.ID, d.Kind, money(d.Amount, d.Currency), d.ApprovalStatus)
				})
			}),
		}
		c.Flags().StringVar(&reason, "reason", "", "why, kept with the decision")
		return c
	}
	approve := decide("approve", "Approve a pending request", func(in engine.DecideInput) (*engine.Decision, error) {
		return a.engine.Approve(a.ctx, op, in)
	})
	deny := decide("deny", "Deny a pending request", func(in engine.DecideInput) (*engine.Decision, error) {
		return a.engine.Deny(a.ctx, op, in)
	})
	cmd.AddCommand(list, approve, deny)
	return cmd
}

// cardRef turns a CARD argument into authorization input: a card id, or a
// full card number as a merchant would key it in.
func cardRef(in *engine.AuthorizeInput, ref string) {
	if digits := strings.ReplaceAll(ref, " ", ""); len(digits) >= 12 && strings.Trim(digits, "0123456789") == "" {
		in.PAN = digits
		return
	}
	in.CardID = ref
}

func (a *app) networkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "The sandbox card network: authorize, settle, reverse and refund charges",
		Long: `The sandbox card network plays the merchant's side of a card payment, so the
whole money flow can be driven without a real issuer. Decisions come from the
same engine a real issuer's authorization request would reach.`,
	}
	var in engine.AuthorizeInput
	authorize := &cobra.Command{
		Use:   "authorize CARD --amount N --merchant NAME",
		Short: "Ask for an authorization on a card (id, or full number); prints the decision and exits 0 either way",
		Args:  cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			cardRef(&in, args[0])
			auth, err := a.engine.Authorize(a.ctx, op, in)
			if err != nil {
				return err
			}
			return a.emit(auth, func(w io.Writer) { printDecision(w, auth) })
		}),
	}
	f := authorize.Flags()
	f.Var(&amountValue{v: &in.Amount}, "amount", "amount in minor units (1250 is $12.50)")
	f.StringVar(&in.Currency, "currency", "USD", "ISO 4217 currency of the charge")
	f.StringVar(&in.Merchant.Name, "merchant", "", "merchant name as the network presents it")
	f.StringVar(&in.Merchant.MCC, "mcc", "", "merchant category code (4 digits)")
	f.StringVar(&in.Merchant.ID, "merchant-id", "", "the network's merchant id")
	f.StringVar(&in.Merchant.Country, "country", "", "merchant country (ISO 3166 alpha-2)")
	f.StringVar(&in.CVV, "cvv", "", "CVV as entered at checkout (checked when given)")
	f.StringVar(&in.NetworkID, "network-id", "", "the network's id for this attempt: the same id twice returns the first decision")
	authorize.MarkFlagRequired("amount")
	authorize.MarkFlagRequired("merchant")

	var settleAmount, refundAmount int64
	var settleKey, reverseKey, refundKey string
	settle := &cobra.Command{
		Use: "settle TXN [--amount N]", Short: "Settle (capture) an approved authorization, in full or in part", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			in := engine.SettleInput{AuthorizationID: args[0], IdempotencyKey: settleKey}
			if cmd.Flags().Changed("amount") {
				in.Amount = &settleAmount
			}
			auth, err := a.engine.Settle(a.ctx, op, in)
			if err != nil {
				return err
			}
			return a.emit(auth, func(w io.Writer) {
				fmt.Fprintf(w, "Settled %s of %s on %s.\n", money(auth.SettledAmount, auth.Currency), money(auth.Amount, auth.Currency), auth.ID)
			})
		}),
	}
	settle.Flags().Var(&amountValue{v: &settleAmount}, "amount", "amount to settle, at most the authorized amount (default: all of it)")
	settle.Flags().StringVar(&settleKey, "idempotency-key", "", "the same key twice settles once")
	reverse := &cobra.Command{
		Use: "reverse TXN", Short: "Reverse (void) an approved, unsettled authorization", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			auth, err := a.engine.Reverse(a.ctx, op, engine.ReverseInput{AuthorizationID: args[0], IdempotencyKey: reverseKey})
			if err != nil {
				return err
			}
			return a.emit(auth, func(w io.Writer) {
				fmt.Fprintf(w, "Reversed %s: the %s hold is released.\n", auth.ID, money(auth.Amount, auth.Currency))
			})
		}),
	}
	reverse.Flags().StringVar(&reverseKey, "idempotency-key", "", "the same key twice reverses once")
	refund := &cobra.Command{
		Use: "refund TXN [--amount N]", Short: "Refund a settled charge, in full or in part", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			in := engine.RefundInput{AuthorizationID: args[0], IdempotencyKey: refundKey}
			if cmd.Flags().Changed("amount") {
				in.Amount = &refundAmount
			}
			auth, err := a.engine.Refund(a.ctx, op, in)
			if err != nil {
				return err
			}
			return a.emit(auth, func(w io.Writer) {
				fmt.Fprintf(w, "Refunded %s of %s settled on %s.\n", money(auth.RefundedAmount, auth.Currency), money(auth.SettledAmount, auth.Currency), auth.ID)
			})
		}),
	}
	refund.Flags().Var(&amountValue{v: &refundAmount}, "amount", "amount to refund (default: all that is left)")
	refund.Flags().StringVar(&refundKey, "idempotency-key", "", "the same key twice refunds once")
	var fallbackLimit int
	fallbacks := &cobra.Command{
		Use:   "fallbacks",
		Short: "List answers given to real issuers without a decision (the budget ran out or the database was busy)",
		Args:  cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			list, err := a.engine.ListFallbacks(a.ctx, op, fallbackLimit)
			if err != nil {
				return err
			}
			return a.emit(list, func(w io.Writer) {
				t := newTable(w, "ID", "ISSUER", "NETWORK ID", "AMOUNT", "ANSWER", "REASON", "OUTCOME")
				for _, f := range list {
					t.row(f.ID, f.Issuer, f.NetworkID, money(f.Amount, f.Currency), f.Answer, f.Reason, f.Outcome)
				}
				t.flush()
			})
		}),
	}
	fallbacks.Flags().IntVar(&fallbackLimit, "limit", 50, "at most this many (0: all)")
	cmd.AddCommand(authorize, settle, reverse, refund, fallbacks)
	return cmd
}

// printDecision is the one-glance rendering of an authorization.
func printDecision(w io.Writer, a *engine.Authorization) {
	where := a.Merchant.Name
	if a.Merchant.MCC != "" {
		where += " (MCC " + a.Merchant.MCC + ")"
	}
	if a.Status == engine.AuthDeclined {
		fmt.Fprintf(w, "DECLINED  %s  %s at %s\n", a.DeclineCode, money(a.Amount, a.Currency), where)
		fmt.Fprintf(w, "  %s\n", a.Reason)
	} else {
		fmt.Fprintf(w, "%s  %s at %s\n", strings.ToUpper(a.Status), money(a.Amount, a.Currency), where)
		fmt.Fprintf(w, "  %s\n", a.Reason)
	}
	fields(w, "  authorization", a.ID, "  card", orDash(a.CardID), "  intent", orDash(a.IntentID), "  risk score", strconv.Itoa(a.RiskScore))
}

func (a *app) txnCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "txn", Short: "Card authorizations and what became of them: list, show"}
	var in engine.ListAuthorizationsInput
	var pages pageFlags
	list := &cobra.Command{
		Use: "list [--agent AGENT | --card CARD]", Short: "List authorizations, newest first", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, pages, listing[engine.Authorization]{
				id: func(x *engine.Authorization) string { return x.ID },
				list: func(p engine.Page) (engine.List[engine.Authorization], error) {
					in.Page = p
					return a.engine.ListAuthorizations(a.ctx, op, in)
				},
				headers: []string{"ID", "TIME", "CARD", "AMOUNT", "MERCHANT", "STATUS", "DECLINE", "RISK"},
				row: func(x *engine.Authorization) []string {
					return []string{x.ID, timestamp(x.CreatedAt), orDash(x.CardID), money(x.Amount, x.Currency), x.Merchant.Name,
						x.Status, orDash(x.DeclineCode), strconv.Itoa(x.RiskScore)}
				},
			})
		}),
	}
	list.Flags().StringVar(&in.Agent, "agent", "", "only this agent's authorizations")
	list.Flags().StringVar(&in.CardID, "card", "", "only this card's authorizations")
	list.Flags().StringVar(&in.Status, "status", "", "approved, declined, settled, reversed or expired")
	pages.add(list, 50)
	list.MarkFlagsMutuallyExclusive("agent", "card")
	show := &cobra.Command{
		Use: "show TXN", Short: "Show an authorization with every check that ran", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			auth, err := a.engine.GetAuthorization(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			return a.emit(auth, func(w io.Writer) { printAuthorization(w, auth) })
		}),
	}
	cmd.AddCommand(list, show)
	return cmd
}

func printAuthorization(w io.Writer, x *engine.Authorization) {
	fields(w,
		"id", x.ID, "status", x.Status, "decline_code", orDash(x.DeclineCode), "reason", x.Reason,
		"amount", money(x.Amount, x.Currency), "settled", money(x.SettledAmount, x.Currency), "refunded", money(x.RefundedAmount, x.Currency),
		"merchant", fmt.Sprintf("%s (MCC %s, id %s, %s)", x.Merchant.Name, orDash(x.Merchant.MCC), orDash(x.Merchant.ID), orDash(x.Merchant.Country)),
		"card_id", orDash(x.CardID), "agent_id", orDash(x.AgentID), "intent_id", orDash(x.IntentID), "decision_id", orDash(x.DecisionID),
		"risk_score", strconv.Itoa(x.RiskScore), "paper", yesNo(x.Paper), "network_id", x.NetworkID,
		"hold_expires_at", optionalTime(x.HoldExpiresAt), "created_at", timestamp(x.CreatedAt),
	)
	if len(x.RiskSignals) > 0 {
		fmt.Fprintln(w, "\nrisk signals:")
		t := newTable(w)
		for _, s := range x.RiskSignals {
			t.row("  "+s.Signal, "+"+strconv.Itoa(s.Points), s.Detail)
		}
		t.flush()
	}
	fmt.Fprintln(w, "\nchecks:")
	t := newTable(w)
	for _, c := range x.Checks {
		t.row("  "+c.Rule, c.Result, c.Message)
	}
	t.flush()
}

func (a *app) ledgerCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "The ledger: balances, verification, expiry sweep"}
	var currency string
	balance := &cobra.Command{
		Use: "balance USER", Short: "A user's posted, pending and available money", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			b, err := a.engine.UserBalance(a.ctx, op, args[0], currency)
			if err != nil {
				return err
			}
			return a.emit(b, func(w io.Writer) {
				fields(w, "user_id", b.UserID, "currency", b.Currency, "posted", money(b.Posted, b.Currency),
					"pending", money(b.Pending, b.Currency), "available", money(b.Available, b.Currency))
			})
		}),
	}
	balance.Flags().StringVar(&currency, "currency", "USD", "currency of the account")
	verify := &cobra.Command{
		Use: "verify", Short: "Check the ledger's invariants; exits 1 when a fault is found", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			r, err := a.engine.VerifyLedger(a.ctx, op)
			if err != nil {
				return err
			}
			if err := a.emit(r, func(w io.Writer) {
				if r.OK {
					fmt.Fprintf(w, "Ledger OK: %d transfers, accounts and authorizations checked.\n", r.Checked)
					return
				}
				fmt.Fprintf(w, "Ledger FAULTY: %d fault(s) among %d objects checked:\n", len(r.Faults), r.Checked)
				for _, f := range r.Faults {
					fmt.Fprintf(w, "  - %s\n", f)
				}
			}); err != nil {
				return err
			}
			if !r.OK {
				return fmt.Errorf("the ledger has %d fault(s)", len(r.Faults))
			}
			return nil
		}),
	}
	sweep := &cobra.Command{
		Use: "sweep", Short: "Record due expiries: lapsed intents and approval requests, unsettled holds past their TTL", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			r, err := a.engine.Sweep(a.ctx, op)
			if err != nil {
				return err
			}
			return a.emit(r, func(w io.Writer) {
				fmt.Fprintf(w, "Expired %d intent(s), %d approval request(s) and %d hold(s).\n", r.Intents, r.Approvals, r.Holds)
			})
		}),
	}
	cmd.AddCommand(balance, verify, sweep)
	return cmd
}
