package mcp

import (
	"context"
	"strings"

	"github.com/agentledger/agentledger/engine"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

var (
	cardArgs   = []string{"action", "card_id", "intent_id", "type", "purpose", "currency", "limits", "agent_id", "idempotency_key"}
	intentArgs = []string{"action", "summary", "amount", "currency", "card_id", "merchant", "mcc", "expires_in_seconds", "intent_id", "agent_id", "idempotency_key"}
	policyArgs = []string{"action", "action_type", "amount", "currency", "reason", "merchant", "mcc", "dry_run", "decision_id", "agent_id", "idempotency_key"}
)

// call is one tool call's arguments and actor.
type call struct {
	*args
	actor engine.Actor
	key   string // idempotency_key
}

// begin parses the arguments and resolves the actor.
func (s *Server) begin(ctx context.Context, req mcpgo.CallToolRequest, allowed []string) (*call, error) {
	a, err := parseArgs(req, allowed)
	if err != nil {
		return nil, err
	}
	agentID, err := a.str("agent_id")
	if err != nil {
		return nil, err
	}
	key, err := a.str("idempotency_key")
	if err != nil {
		return nil, err
	}
	actor, err := s.actorFor(ctx, strings.TrimSpace(agentID))
	if err != nil {
		return nil, err
	}
	return &call{args: a, actor: actor, key: key}, nil
}

func (s *Server) handleCard(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	res, err := s.card(ctx, req)
	if err != nil {
		return s.failure(ctx, "ledger_card", err), nil
	}
	return res, nil
}

func (s *Server) card(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	c, err := s.begin(ctx, req, cardArgs)
	if err != nil {
		return nil, err
	}
	action, err := c.action("", "create", "list", "get", "details", "freeze", "unfreeze", "close", "transactions")
	if err != nil {
		return nil, err
	}
	if action == "create" {
		in := engine.CreateCardInput{IdempotencyKey: c.key}
		if in.Type, err = c.str("type"); err != nil {
			return nil, err
		}
		if in.Purpose, err = c.str("purpose"); err != nil {
			return nil, err
		}
		if in.Currency, err = c.str("currency"); err != nil {
			return nil, err
		}
		if in.Limits, err = c.limits("limits"); err != nil {
			return nil, err
		}
		card, err := s.eng.CreateCard(commitContext(ctx), c.actor, in)
		if err != nil {
			return nil, err
		}
		return ok(card, "Created. "+cardText(card)+" Declare an intent (ledger_intent declare) before asking for its details."), nil
	}
	if action == "list" {
		list, err := s.eng.ListCards(ctx, c.actor, "", engine.Page{})
		if err != nil {
			return nil, err
		}
		return ok(map[string]any{"cards": list.Items}, cardsText(list.Items)), nil
	}
	cardID, err := c.required("card_id", action)
	if err != nil {
		return nil, err
	}
	switch action {
	case "get":
		card, err := s.eng.GetCard(ctx, c.actor, cardID)
		if err != nil {
			return nil, err
		}
		return ok(card, cardText(card)), nil
	case "details":
		intentID, err := c.str("intent_id")
		if err != nil {
			return nil, err
		}
		d, err := s.eng.RevealCard(commitContext(ctx), c.actor, engine.RevealInput{CardID: cardID, IntentID: intentID, IdempotencyKey: c.key})
		if err != nil {
			return nil, err
		}
		return ok(d, detailsText(d)), nil
	case "transactions":
		list, err := s.eng.ListAuthorizations(ctx, c.actor, engine.ListAuthorizationsInput{CardID: cardID, Page: engine.Page{Limit: 100}})
		if err != nil {
			return nil, err
		}
		return ok(map[string]any{"transactions": list.Items}, transactionsText(list.Items)), nil
	}
	in := engine.CardActionInput{CardID: cardID, IdempotencyKey: c.key}
	change := map[string]func(context.Context, engine.Actor, engine.CardActionInput) (*engine.Card, error){
		"freeze": s.eng.FreezeCard, "unfreeze": s.eng.UnfreezeCard, "close": s.eng.CloseCard,
	}[action]
	card, err := change(commitContext(ctx), c.actor, in)
	if err != nil {
		return nil, err
	}
	return ok(card, cardText(card)), nil
}

func (s *Server) handleIntent(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	res, err := s.intent(ctx, req)
	if err != nil {
		return s.failure(ctx, "ledger_intent", err), nil
	}
	return res, nil
}

func (s *Server) intent(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	c, err := s.begin(ctx, req, intentArgs)
	if err != nil {
		return nil, err
	}
	action, err := c.action("", "declare", "get", "list", "cancel")
	if err != nil {
		return nil, err
	}
	switch action {
	case "declare":
		if d, answered, err := s.takeAnswer(ctx, c.actor, req); answered {
			if err != nil {
				return nil, err
			}
			i, err := s.eng.GetIntent(ctx, c.actor, d.IntentID)
			if err != nil {
				return nil, err
			}
			return ok(i, answerText(d)+" "+intentText(i)), nil
		}
		in := engine.DeclareIntentInput{IdempotencyKey: c.key}
		if in.Summary, err = c.required("summary", action); err != nil {
			return nil, err
		}
		if in.Amount, err = c.amount(action); err != nil {
			return nil, err
		}
		for name, dst := range map[string]*string{"currency": &in.Currency, "card_id": &in.CardID, "merchant": &in.Merchant, "mcc": &in.MCC} {
			if *dst, err = c.str(name); err != nil {
				return nil, err
			}
		}
		if in.ExpiresInSeconds, _, err = c.integer("expires_in_seconds"); err != nil {
			return nil, err
		}
		i, err := s.eng.DeclareIntent(commitContext(ctx), c.actor, in)
		if err != nil {
			return nil, err
		}
		if i.Status == engine.IntentAwaitingApproval {
			if ask := s.askHuman(ctx, c.actor, i.DecisionID, approvalQuestion(i)); ask != nil {
				return ask, nil
			}
		}
		return ok(i, intentText(i)), nil
	case "list":
		list, err := s.eng.ListIntents(ctx, c.actor, engine.ListIntentsInput{})
		if err != nil {
			return nil, err
		}
		return ok(map[string]any{"intents": list.Items}, intentsText(list.Items)), nil
	}
	intentID, err := c.required("intent_id", action)
	if err != nil {
		return nil, err
	}
	var i *engine.Intent
	if action == "get" {
		i, err = s.eng.GetIntent(ctx, c.actor, intentID)
	} else {
		i, err = s.eng.CancelIntent(commitContext(ctx), c.actor, engine.CancelIntentInput{IntentID: intentID, IdempotencyKey: c.key})
	}
	if err != nil {
		return nil, err
	}
	return ok(i, intentText(i)), nil
}

func (s *Server) handlePolicy(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	res, err := s.policy(ctx, req)
	if err != nil {
		return s.failure(ctx, "policy_check", err), nil
	}
	return res, nil
}

func (s *Server) policy(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
	c, err := s.begin(ctx, req, policyArgs)
	if err != nil {
		return nil, err
	}
	action, err := c.action("check", "check", "status", "execute", "limits")
	if err != nil {
		return nil, err
	}
	switch action {
	case "check":
		if d, answered, err := s.takeAnswer(ctx, c.actor, req); answered {
			if err != nil {
				return nil, err
			}
			return ok(d, answerText(d)+" "+decisionText(d)), nil
		}
		in := engine.PolicyCheckInput{IdempotencyKey: c.key}
		if in.Amount, err = c.amount(action); err != nil {
			return nil, err
		}
		for name, dst := range map[string]*string{"action_type": &in.ActionType, "currency": &in.Currency, "reason": &in.Reason, "merchant": &in.Merchant, "mcc": &in.MCC} {
			if *dst, err = c.str(name); err != nil {
				return nil, err
			}
		}
		if in.DryRun, err = c.boolean("dry_run"); err != nil {
			return nil, err
		}
		d, err := s.eng.PolicyCheck(commitContext(ctx), c.actor, in)
		if err != nil {
			return nil, err
		}
		if d.ApprovalStatus == engine.ApprovalPending {
			if ask := s.askHuman(ctx, c.actor, d.ID, checkQuestion(d)); ask != nil {
				return ask, nil
			}
		}
		return ok(d, decisionText(d)), nil
	case "limits":
		l, err := s.eng.Limits(ctx, c.actor, "")
		if err != nil {
			return nil, err
		}
		return ok(l, limitsText(l)), nil
	}
	decisionID, err := c.required("decision_id", action)
	if err != nil {
		return nil, err
	}
	var d *engine.Decision
	if action == "status" {
		d, err = s.eng.GetDecision(ctx, c.actor, decisionID)
	} else {
		d, err = s.eng.ExecuteDecision(commitContext(ctx), c.actor, engine.ExecuteInput{DecisionID: decisionID, IdempotencyKey: c.key})
	}
	if err != nil {
		return nil, err
	}
	return ok(d, decisionText(d)), nil
}
