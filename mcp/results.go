package mcp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// errorBody is the structured content of a failed call.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// failure turns an error into a tool result with isError: business errors
// keep their code and message; anything else is INTERNAL, logged here and
// not shown.
func (s *Server) failure(ctx context.Context, tool string, err error) *mcpgo.CallToolResult {
	var body errorBody
	body.Error.Code, body.Error.Message = engine.ErrorCode(err), engine.ErrorMessage(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		body.Error.Message = "The request was cancelled before it started; nothing was done."
	} else if body.Error.Code == engine.CodeInternal {
		s.log.ErrorContext(ctx, "tool call failed", "tool", tool, "err", err)
	}
	r := mcpgo.NewToolResultStructured(body, body.Error.Code+": "+body.Error.Message)
	r.IsError = true
	return r
}

func ok(v any, text string) *mcpgo.CallToolResult { return mcpgo.NewToolResultStructured(v, text) }

func money(amount int64, currency string) string { return engine.FormatAmount(amount, currency) }

func when(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func cardText(c *engine.Card) string {
	s := fmt.Sprintf("Card %s ····%s: %s, %s, %s, expires %02d/%d", c.ID, c.Last4, c.Type, c.Status, c.Currency, c.ExpMonth, c.ExpYear)
	if c.Purpose != "" {
		s += fmt.Sprintf(", for %q", c.Purpose)
	}
	if c.FrozenBy != "" {
		s += ", frozen by " + c.FrozenBy
	}
	return s + "."
}

func cardsText(cards []*engine.Card) string {
	if len(cards) == 0 {
		return "No cards. Create one with ledger_card create."
	}
	lines := []string{fmt.Sprintf("%d card(s):", len(cards))}
	for _, c := range cards {
		lines = append(lines, "- "+cardText(c))
	}
	return strings.Join(lines, "\n")
}

func detailsText(d *engine.CardDetails) string {
	return fmt.Sprintf("Card %s for intent %s: number %s, CVV %s, expires %02d/%d. Use it for the declared purchase before %s.",
		d.CardID, d.IntentID, d.PAN, d.CVV, d.ExpMonth, d.ExpYear, when(d.ExpiresAt))
}

func transactionsText(list []*engine.Authorization) string {
	if len(list) == 0 {
		return "No charges yet."
	}
	lines := []string{fmt.Sprintf("%d charge(s), newest first:", len(list))}
	for _, a := range list {
		line := fmt.Sprintf("- %s %s at %s: %s", a.ID, money(a.Amount, a.Currency), a.Merchant.Name, a.Status)
		if a.DeclineCode != "" {
			line += " (" + a.DeclineCode + ": " + a.Reason + ")"
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func intentText(i *engine.Intent) string {
	s := fmt.Sprintf("Intent %s (%s): %s", i.ID, i.Status, money(i.Amount, i.Currency))
	if i.Merchant != "" {
		s += " at " + i.Merchant
	}
	s += fmt.Sprintf(" for %q", i.Summary)
	switch i.Status {
	case engine.IntentPending:
		next := "ledger_card details"
		if i.CardID != "" {
			next += " with card_id " + i.CardID
		}
		s += fmt.Sprintf(". Next: %s to get the card, before %s.", next, when(i.ExpiresAt))
	case engine.IntentRevealed:
		s += fmt.Sprintf(" on card %s; pay before %s.", i.CardID, when(i.ExpiresAt))
	case engine.IntentAwaitingApproval:
		s += fmt.Sprintf(". It needs a human's approval: decision %s waits in the operator's approvals queue until %s. Check back with ledger_intent get.",
			i.DecisionID, when(i.ExpiresAt))
	case engine.IntentDenied:
		s += ". A human denied it; do not make this purchase."
	default:
		s += "."
	}
	return s
}

func intentsText(list []*engine.Intent) string {
	if len(list) == 0 {
		return "No intents."
	}
	lines := []string{fmt.Sprintf("%d intent(s):", len(list))}
	for _, i := range list {
		lines = append(lines, "- "+intentText(i))
	}
	return strings.Join(lines, "\n")
}

func decisionText(d *engine.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (decision %s", strings.ToUpper(d.Status), d.Reason, d.ID)
	if d.ApprovalStatus != "" {
		fmt.Fprintf(&b, ", approval %s", d.ApprovalStatus)
	}
	b.WriteString(").")
	switch {
	case d.Status == engine.DecisionReduced && d.AllowedAmount != nil:
		fmt.Fprintf(&b, " You may spend %s.", money(*d.AllowedAmount, d.Currency))
	case d.ApprovalStatus == engine.ApprovalPending:
		b.WriteString(" Wait for a human; check with policy_check status.")
	case d.ApprovalStatus == engine.ApprovalApproved:
		b.WriteString(" Approved by a human: make the spend, then call policy_check execute with this decision_id.")
	}
	for _, c := range d.PolicyChecks {
		fmt.Fprintf(&b, "\n- %s: %s — %s", c.Rule, c.Result, c.Message)
	}
	return b.String()
}

func limitsText(l *engine.LimitsReport) string {
	window := func(name string, w engine.WindowReport) string {
		if w.Limit == nil {
			return fmt.Sprintf("%s: no limit (%s spent)", name, money(w.Spent, l.Currency))
		}
		return fmt.Sprintf("%s: %s of %s spent, %s left", name, money(w.Spent, l.Currency), money(*w.Limit, l.Currency), money(*w.Remaining, l.Currency))
	}
	lines := []string{fmt.Sprintf("Agent %s (%s), amounts in %s:", l.AgentID, l.Mode, l.Currency)}
	if l.PerTransactionLimit != nil {
		lines = append(lines, "per transaction: at most "+money(*l.PerTransactionLimit, l.Currency))
	}
	lines = append(lines, window("today", l.Daily), window("this month", l.Monthly), window("lifetime", l.Lifetime))
	if l.Policy.ApprovalThreshold != nil {
		lines = append(lines, "spends above "+money(*l.Policy.ApprovalThreshold, l.Currency)+" need a human's approval")
	}
	lines = append(lines, "available funds: "+money(l.Available, l.Currency))
	return strings.Join(lines, "\n")
}
