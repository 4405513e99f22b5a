package main

import (
	"cmp"
	"fmt"
	"io"
	"strings"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Funding users: create, list, show, approve or reject KYC, fund"}
	var email, currency string
	create := &cobra.Command{
		Use: "create NAME", Short: "Register a user (KYC pending)", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			u, err := a.engine.CreateUser(a.ctx, op, engine.CreateUserInput{Name: args[0], Email: email})
			if err != nil {
				return err
			}
			return a.emit(u, func(w io.Writer) { printUser(w, u, nil) })
		}),
	}
	create.Flags().StringVar(&email, "email", "", "contact email")

	var pages pageFlags
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, pages, listing[engine.User]{
				id:      func(u *engine.User) string { return u.ID },
				list:    func(p engine.Page) (engine.List[engine.User], error) { return a.engine.ListUsers(a.ctx, op, p) },
				headers: []string{"ID", "NAME", "KYC", "CREATED"},
				row: func(u *engine.User) []string {
					return []string{u.ID, u.Name, u.KYCStatus, timestamp(u.CreatedAt)}
				},
			})
		}),
	}
	pages.add(list, 0)
	show := &cobra.Command{
		Use: "show USER", Short: "Show a user and their balance", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			u, err := a.engine.GetUser(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			b, err := a.engine.UserBalance(a.ctx, op, u.ID, currency)
			if err != nil {
				return err
			}
			return a.emit(u, func(w io.Writer) { printUser(w, u, b) })
		}),
	}
	show.Flags().StringVar(&currency, "currency", "USD", "currency of the balance shown")
	kyc := func(use, short, status string) *cobra.Command {
		return &cobra.Command{
			Use: use + " USER", Short: short, Args: cobra.ExactArgs(1),
			RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
				u, err := a.engine.SetKYC(a.ctx, op, engine.SetKYCInput{User: args[0], Status: status})
				if err != nil {
					return err
				}
				return a.emit(u, func(w io.Writer) { fmt.Fprintf(w, "User %s (%s) is now KYC %s.\n", u.Name, u.ID, u.KYCStatus) })
			}),
		}
	}
	var fundCurrency, idem string
	fund := &cobra.Command{
		Use: "fund USER AMOUNT", Short: "Deposit money for a user (AMOUNT in minor units: 100000 is $1,000.00)", Args: cobra.ExactArgs(2),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[1])
			if err != nil {
				return usagef("AMOUNT: %v", err)
			}
			b, err := a.engine.FundUser(a.ctx, op, engine.FundInput{User: args[0], Amount: amount, Currency: fundCurrency, IdempotencyKey: idem})
			if err != nil {
				return err
			}
			return a.emit(b, func(w io.Writer) {
				fmt.Fprintf(w, "Deposited %s. Available: %s.\n", money(amount, b.Currency), money(b.Available, b.Currency))
			})
		}),
	}
	fund.Flags().StringVar(&fundCurrency, "currency", "USD", "ISO 4217 currency of the deposit")
	fund.Flags().StringVar(&idem, "idempotency-key", "", "the same key twice deposits once")
	cmd.AddCommand(create, list, show, kyc("approve", "Approve a user's KYC", engine.KYCApproved), kyc("reject", "Reject (or revoke) a user's KYC", engine.KYCRejected), fund)
	return cmd
}

func printUser(w io.Writer, u *engine.User, b *engine.Balance) {
	pairs := []string{"id", u.ID, "name", u.Name, "email", orDash(u.Email), "kyc_status", u.KYCStatus, "created_at", timestamp(u.CreatedAt)}
	if b != nil {
		pairs = append(pairs, "available", money(b.Available, b.Currency), "pending", money(b.Pending, b.Currency), "posted", money(b.Posted, b.Currency))
	}
	fields(w, pairs...)
}

func (a *app) agentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: "Agents: create, list, show, change mode, fund a paper balance"}
	var user, mode string
	create := &cobra.Command{
		Use: "create NAME --user USER", Short: "Register an agent under a user", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			ag, err := a.engine.CreateAgent(a.ctx, op, engine.CreateAgentInput{Name: args[0], User: user, Mode: mode})
			if err != nil {
				return err
			}
			return a.emit(ag, func(w io.Writer) { printAgent(w, ag) })
		}),
	}
	create.Flags().StringVar(&user, "user", "", "the user (id or name) whose money the agent spends")
	create.Flags().StringVar(&mode, "mode", engine.ModeLive, "live, paper, approval_only or disabled")
	create.MarkFlagRequired("user")

	var listUser string
	var pages pageFlags
	list := &cobra.Command{
		Use: "list", Short: "List agents", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, pages, listing[engine.Agent]{
				id: func(ag *engine.Agent) string { return ag.ID },
				list: func(p engine.Page) (engine.List[engine.Agent], error) {
					return a.engine.ListAgents(a.ctx, op, listUser, p)
				},
				headers: []string{"ID", "NAME", "USER", "MODE", "CREATED"},
				row: func(ag *engine.Agent) []string {
					return []string{ag.ID, ag.Name, ag.UserID, ag.Mode, timestamp(ag.CreatedAt)}
				},
			})
		}),
	}
	pages.add(list, 0)
	list.Flags().StringVar(&listUser, "user", "", "only this user's agents")
	show := &cobra.Command{
		Use: "show AGENT", Short: "Show an agent, its effective policy and what is left of it", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			ag, err := a.engine.GetAgent(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			l, err := a.engine.Limits(a.ctx, op, ag.ID)
			if err != nil {
				return err
			}
			return a.emit(ag, func(w io.Writer) {
				printAgent(w, ag)
				fmt.Fprintln(w)
				printLimits(w, l)
			})
		}),
	}
	setMode := &cobra.Command{
		Use: "mode AGENT MODE", Short: "Set an agent's mode: live, paper, approval_only or disabled", Args: cobra.ExactArgs(2),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			ag, err := a.engine.SetAgentMode(a.ctx, op, engine.SetModeInput{Agent: args[0], Mode: args[1]})
			if err != nil {
				return err
			}
			return a.emit(ag, func(w io.Writer) { fmt.Fprintf(w, "Agent %s (%s) is now %s.\n", ag.Name, ag.ID, ag.Mode) })
		}),
	}
	var paperCurrency string
	fund := &cobra.Command{
		Use: "fund AGENT AMOUNT", Short: "Add to a paper agent's virtual balance (AMOUNT in minor units)", Args: cobra.ExactArgs(2),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			amount, err := parseAmount(args[1])
			if err != nil {
				return usagef("AMOUNT: %v", err)
			}
			b, err := a.engine.FundPaper(a.ctx, op, engine.FundPaperInput{Agent: args[0], Amount: amount, Currency: paperCurrency})
			if err != nil {
				return err
			}
			return a.emit(b, func(w io.Writer) {
				fmt.Fprintf(w, "Added %s of paper money. Paper balance available: %s.\n", money(amount, b.Currency), money(b.Available, b.Currency))
			})
		}),
	}
	fund.Flags().StringVar(&paperCurrency, "currency", "", "currency (default: the agent's policy currency)")
	issuer := &cobra.Command{
		Use:   "issuer AGENT stripe|lithic|none",
		Short: "Set the issuer the agent's new cards are provisioned at (none: sandbox cards)",
		Args:  cobra.ExactArgs(2),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			ag, err := a.engine.SetDefaultIssuer(a.ctx, op, engine.SetDefaultIssuerInput{Agent: args[0], Issuer: args[1]})
			if err != nil {
				return err
			}
			return a.emit(ag, func(w io.Writer) {
				fmt.Fprintf(w, "Agent %s's new cards are provisioned at %s.\n", ag.Name, cmp.Or(ag.DefaultIssuer, "agentledger (sandbox)"))
			})
		}),
	}
	cmd.AddCommand(create, list, show, setMode, fund, issuer)
	return cmd
}

func printAgent(w io.Writer, ag *engine.Agent) {
	fields(w, "id", ag.ID, "name", ag.Name, "user_id", ag.UserID, "mode", ag.Mode,
		"default_issuer", orDash(ag.DefaultIssuer), "created_at", timestamp(ag.CreatedAt))
}

func (a *app) policyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "An agent's spending policy: show it, or set fields of it"}
	show := &cobra.Command{
		Use: "show AGENT", Short: "Show the effective policy (defaults filled in) and what is left of it", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			l, err := a.engine.Limits(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			return a.emit(l.Policy, func(w io.Writer) { printLimits(w, l) })
		}),
	}
	var policy engine.Policy
	set := &cobra.Command{
		Use:   "set AGENT [--field value]...",
		Short: "Change policy fields; fields not given keep their value ('none' removes a limit)",
		Example: `  agentledger policy set shopper --per-transaction-limit 5000 --daily-limit 20000
  agentledger policy set shopper --blocked-mccs 7995,5933 --intent-required=false
  agentledger policy set shopper --daily-limit none --velocity 5/60`,
		Args: cobra.ExactArgs(1),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if !anyChanged(cmd.LocalFlags()) {
				return usagef("no policy field given; see the flags below")
			}
			return nil
		},
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			ag, err := a.engine.GetAgent(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			// Apply the flags given onto the stored policy: parse them again
			// over a copy of it.
			merged := ag.Policy.Clone()
			fs := cmd.LocalFlags()
			replay := pflag.NewFlagSet("policy", pflag.ContinueOnError)
			policyFlags(replay, &merged)
			var applyErr error
			fs.VisitAll(func(f *pflag.Flag) {
				if f.Changed && applyErr == nil {
					applyErr = replay.Set(f.Name, f.Value.String())
				}
			})
			if applyErr != nil {
				return usageError{applyErr}
			}
			ag, err = a.engine.SetPolicy(a.ctx, op, engine.SetPolicyInput{Agent: ag.ID, Policy: merged})
			if err != nil {
				return err
			}
			l, err := a.engine.Limits(a.ctx, op, ag.ID)
			if err != nil {
				return err
			}
			return a.emit(l.Policy, func(w io.Writer) { printLimits(w, l) })
		}),
	}
	policyFlags(set.Flags(), &policy)
	cmd.AddCommand(show, set)
	return cmd
}

// printLimits shows an effective policy with what is left of each window.
func printLimits(w io.Writer, l *engine.LimitsReport) {
	p, cur := l.Policy, l.Currency
	window := func(r engine.WindowReport) string {
		if r.Limit == nil {
			return fmt.Sprintf("— (%s spent)", money(r.Spent, cur))
		}
		return fmt.Sprintf("%s (%s spent, %s left)", money(*r.Limit, cur), money(r.Spent, cur), money(*r.Remaining, cur))
	}
	velocity := "—"
	if p.Velocity != nil {
		velocity = fmt.Sprintf("%d per %ds", p.Velocity.Count, p.Velocity.WindowSeconds)
		if l.Velocity != nil {
			velocity += fmt.Sprintf(" (%d used)", l.Velocity.Used)
		}
	}
	txToday := count(p.MaxTransactionsPerDay)
	if p.MaxTransactionsPerDay != nil {
		txToday += fmt.Sprintf(" (%d used)", l.TransactionsToday.Used)
	}
	fields(w,
		"agent", l.AgentID+" ("+l.Mode+")",
		"currency", cur,
		"per_transaction_limit", limit(p.PerTransactionLimit, cur),
		"daily_limit", window(l.Daily),
		"monthly_limit", window(l.Monthly),
		"lifetime_limit", window(l.Lifetime),
		"max_transactions_per_day", txToday,
		"velocity", velocity,
		"approval_threshold", limit(p.ApprovalThreshold, cur),
		"allowed_mccs", list(p.AllowedMCCs),
		"blocked_mccs", list(p.BlockedMCCs),
		"allowed_merchants", list(p.AllowedMerchants),
		"blocked_merchants", list(p.BlockedMerchants),
		"blocked_action_types", list(p.BlockedActionTypes),
		"allow_reduce", yesNo(p.AllowReduce),
		"intent_required", yesNo(*p.IntentRequired),
		"intent_tolerance_pct", fmt.Sprintf("%d%%", *p.IntentTolerancePct),
		"intent_ttl_seconds", fmt.Sprintf("%d", *p.IntentTTLSeconds),
		"approval_ttl_seconds", fmt.Sprintf("%d", *p.ApprovalTTLSeconds),
		"risk_review_score", count(p.RiskReviewScore),
		"risk_decline_score", count(p.RiskDeclineScore),
		"client_approval", yesNo(p.ClientApproval),
		"available funds", money(l.Available, cur),
	)
}

func (a *app) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "API keys: create (shown once), list, revoke"}
	var agent, name string
	var admin, viewer, network bool
	create := &cobra.Command{
		Use: "create --agent AGENT | --admin | --viewer | --network", Short: "Create an API key; the secret is shown once and stored hashed", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			role := engine.RoleAgent
			switch {
			case admin:
				role = engine.RoleAdmin
			case viewer:
				role = engine.RoleViewer
			case network:
				role = engine.RoleNetwork
			case agent == "":
				return usagef("give --agent AGENT, --admin, --viewer or --network")
			}
			k, err := a.engine.CreateKey(a.ctx, op, engine.CreateKeyInput{Role: role, Agent: agent, Name: name})
			if err != nil {
				return err
			}
			return a.emit(k, func(w io.Writer) {
				fmt.Fprintf(w, "Created %s key %s", k.Role, k.ID)
				if k.AgentID != "" {
					fmt.Fprintf(w, " for agent %s", k.AgentID)
				}
				fmt.Fprintf(w, ".\nSecret (shown once, store it now):\n\n  %s\n", k.Secret)
			})
		}),
	}
	create.Flags().StringVar(&agent, "agent", "", "the agent (id or name) the key acts as")
	create.Flags().BoolVar(&admin, "admin", false, "a key with every right (HTTP and MCP; pass agent_id in tool calls)")
	create.Flags().BoolVar(&viewer, "viewer", false, "a read-only key")
	create.Flags().BoolVar(&network, "network", false, "a card network's key: /v1/network authorize, settle, reverse and refund only")
	create.Flags().StringVar(&name, "name", "", "a label for the key")
	create.MarkFlagsMutuallyExclusive("agent", "admin", "viewer", "network")

	var pages pageFlags
	list := &cobra.Command{
		Use: "list", Short: "List API keys (never their secrets)", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, pages, listing[engine.APIKey]{
				id:      func(k *engine.APIKey) string { return k.ID },
				list:    func(p engine.Page) (engine.List[engine.APIKey], error) { return a.engine.ListKeys(a.ctx, op, p) },
				headers: []string{"ID", "ROLE", "AGENT", "NAME", "PREFIX", "CREATED", "REVOKED"},
				row: func(k *engine.APIKey) []string {
					return []string{k.ID, k.Role, orDash(k.AgentID), orDash(k.Name), k.Prefix + "…", timestamp(k.CreatedAt),
						optionalTime(k.RevokedAt)}
				},
			})
		}),
	}
	pages.add(list, 0)
	revoke := &cobra.Command{
		Use: "revoke KEY_ID", Short: "Revoke an API key", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			k, err := a.engine.RevokeKey(a.ctx, op, engine.RevokeKeyInput{KeyID: args[0]})
			if err != nil {
				return err
			}
			return a.emit(k, func(w io.Writer) { fmt.Fprintf(w, "Key %s revoked at %s.\n", k.ID, optionalTime(k.RevokedAt)) })
		}),
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func (a *app) cardCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "card", Short: "Virtual cards: create, list, show, freeze, unfreeze, close, link"}
	var in engine.CreateCardInput
	create := &cobra.Command{
		Use: "create --agent AGENT", Short: "Issue a virtual card to an agent (its own limits may only be tighter than the policy's)", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			if in.Type == "single" || in.Type == "multi" {
				in.Type += "_use"
			}
			c, err := a.engine.CreateCard(a.ctx, op, in)
			if err != nil {
				return err
			}
			return a.emit(c, func(w io.Writer) { printCard(w, c) })
		}),
	}
	create.Flags().StringVar(&in.Agent, "agent", "", "the agent (id or name) the card is issued to")
	create.Flags().StringVar(&in.Type, "type", engine.CardMultiUse, "single_use (closes after its first approved charge) or multi_use")
	create.Flags().StringVar(&in.Currency, "currency", "", "card currency (default: the agent's policy currency)")
	create.Flags().StringVar(&in.Purpose, "purpose", "", "what the card is for")
	create.Flags().StringVar(&in.Issuer, "issuer", "",
		"provision the card at a real issuer: stripe or lithic (none: a sandbox card; default: the agent's default issuer)")
	limitFlags(create.Flags(), &in.Limits)
	create.MarkFlagRequired("agent")

	var listAgent string
	var pages pageFlags
	list := &cobra.Command{
		Use: "list [--agent AGENT]", Short: "List cards", Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			return printList(a, pages, listing[engine.Card]{
				id: func(c *engine.Card) string { return c.ID },
				list: func(p engine.Page) (engine.List[engine.Card], error) {
					return a.engine.ListCards(a.ctx, op, listAgent, p)
				},
				headers: []string{"ID", "AGENT", "LAST4", "TYPE", "STATUS", "CURRENCY", "EXPIRES", "PURPOSE"},
				row: func(c *engine.Card) []string {
					return []string{c.ID, c.AgentID, "····" + c.Last4, c.Type, c.Status, c.Currency,
						fmt.Sprintf("%02d/%d", c.ExpMonth, c.ExpYear), orDash(c.Purpose)}
				},
			})
		}),
	}
	pages.add(list, 0)
	list.Flags().StringVar(&listAgent, "agent", "", "only this agent's cards")
	show := &cobra.Command{
		Use: "show CARD", Short: "Show a card (never its number)", Args: cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			c, err := a.engine.GetCard(a.ctx, op, args[0])
			if err != nil {
				return err
			}
			return a.emit(c, func(w io.Writer) { printCard(w, c) })
		}),
	}
	action := func(use, short string, do func(engine.CardActionInput) (*engine.Card, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " CARD", Short: short, Args: cobra.ExactArgs(1),
			RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
				c, err := do(engine.CardActionInput{CardID: args[0]})
				if err != nil {
					return err
				}
				return a.emit(c, func(w io.Writer) {
					fmt.Fprintf(w, "Card %s ····%s is %s.\n", c.ID, c.Last4, c.Status)
					if c.IssuerSync != "" {
						fmt.Fprintf(w, "At %s: %s.\n", c.Issuer, c.IssuerSync)
					}
				})
			}),
		}
	}
	freeze := action("freeze", "Freeze a card: every charge is declined until it is unfrozen", func(in engine.CardActionInput) (*engine.Card, error) {
		return a.engine.FreezeCard(a.ctx, op, in)
	})
	unfreeze := action("unfreeze", "Unfreeze a card", func(in engine.CardActionInput) (*engine.Card, error) {
		return a.engine.UnfreezeCard(a.ctx, op, in)
	})
	closeCard := action("close", "Close a card for good", func(in engine.CardActionInput) (*engine.Card, error) {
		return a.engine.CloseCard(a.ctx, op, in)
	})
	var stripeID, lithicToken string
	link := &cobra.Command{
		Use:   "link CARD --stripe ic_… | --lithic CARD_TOKEN",
		Short: "Tie a real issuer's card to an agentledger card, so that its authorization requests are decided here",
		Args:  cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			in := engine.LinkCardInput{CardID: args[0], Issuer: engine.IssuerStripe, ExternalID: stripeID}
			switch {
			case stripeID != "" && lithicToken != "":
				return usagef("give --stripe or --lithic, not both")
			case lithicToken != "":
				in.Issuer, in.ExternalID = engine.IssuerLithic, lithicToken
			case stripeID == "":
				return usagef("give --stripe ic_… or --lithic CARD_TOKEN")
			}
			l, err := a.engine.LinkCard(a.ctx, op, in)
			if err != nil {
				return err
			}
			return a.emit(l, func(w io.Writer) {
				fmt.Fprintf(w, "Card %s is linked to %s card %s.\n", l.CardID, l.Issuer, l.ExternalID)
			})
		}),
	}
	link.Flags().StringVar(&stripeID, "stripe", "", "the Stripe Issuing card id (ic_…)")
	link.Flags().StringVar(&lithicToken, "lithic", "", "the Lithic card token")
	cmd.AddCommand(create, list, show, freeze, unfreeze, closeCard, link)
	return cmd
}

func printCard(w io.Writer, c *engine.Card) {
	l := c.Limits
	limits := []string{}
	add := func(name, v string) {
		if v != "—" {
			limits = append(limits, name+" "+v)
		}
	}
	add("per transaction", limit(l.PerTransactionLimit, c.Currency))
	add("daily", limit(l.DailyLimit, c.Currency))
	add("monthly", limit(l.MonthlyLimit, c.Currency))
	add("lifetime", limit(l.LifetimeLimit, c.Currency))
	add("per day", count(l.MaxTransactionsPerDay))
	fields(w,
		"id", c.ID, "agent_id", c.AgentID, "number", "····"+c.Last4, "type", c.Type, "status", c.Status,
		"expires", fmt.Sprintf("%02d/%d", c.ExpMonth, c.ExpYear), "currency", c.Currency, "purpose", orDash(c.Purpose),
		"own limits", orDash(strings.Join(limits, ", ")),
		"allowed_mccs", list(l.AllowedMCCs), "blocked_mccs", list(l.BlockedMCCs),
		"frozen_by", orDash(c.FrozenBy), "closed_by", orDash(c.ClosedBy), "created_at", timestamp(c.CreatedAt),
	)
	if c.Issuer != "" {
		fields(w, "issuer", c.Issuer+" "+c.IssuerCardID)
	}
	if c.IssuerSync != "" {
		fields(w, "at the issuer", c.IssuerSync)
	}
}
