package api

import (
	"context"
	"net/http"

	"github.com/agentledger/agentledger/engine"
	"github.com/danielgtaylor/huma/v2"
)

type IntentPath struct {
	Intent string `path:"intent" maxLength:"200" doc:"An intent's id (int_…)."`
}

type listIntentsRequest struct {
	PageQuery
	Agent  string `query:"agent_id" maxLength:"200" doc:"Only this agent's intents."`
	Card   string `query:"card_id" maxLength:"200" doc:"Only intents for this card."`
	Status string `query:"status" enum:"awaiting_approval,pending,revealed,matched,mismatched,denied,cancelled,expired"`
}

type cancelIntentRequest struct {
	Idempotency
	IntentPath
}

// decision is a Decision as the API shows it: with decision_id beside id,
// as policy_check results name it. It embeds the fields without
// engine.Decision's MarshalJSON, which adds the same field the slow way (a
// second encoding, then compaction).
type decision struct {
	DecisionFields
	DecisionID string `json:"decision_id" doc:"The same as id."`
}

// DecisionFields (exported, so that huma documents its fields) is engine.Decision's fields without its methods.
type DecisionFields engine.Decision

func newDecision(d *engine.Decision) *decision {
	return &decision{DecisionFields: DecisionFields(*d), DecisionID: d.ID}
}

func decisionOf(d *engine.Decision, err error) (*decision, error) {
	if err != nil {
		return nil, err
	}
	return newDecision(d), nil
}

func decisionsOf(l engine.List[engine.Decision], err error) (list[decision], error) {
	out := list[decision]{Object: "list", Data: make([]*decision, 0, len(l.Items)), HasMore: l.HasMore}
	for _, d := range l.Items {
		out.Data = append(out.Data, newDecision(d))
	}
	return out, err
}

type DecisionPath struct {
	Decision string `path:"decision" maxLength:"200" doc:"A decision's id (dec_…)."`
}

type listApprovalsRequest struct {
	PageQuery
	Agent  string `query:"agent_id" maxLength:"200" doc:"Only this agent's approvals."`
	Status string `query:"status" enum:"pending,approved,denied,expired,executed,all" doc:"Default pending."`
}

type decideRequest struct {
	Idempotency
	DecisionPath
	Body *struct {
		Reason string `json:"reason,omitempty" doc:"Why: kept with the decision." example:"Within the Q3 budget"`
	}
}

func (d *decideRequest) input() engine.DecideInput {
	in := engine.DecideInput{DecisionID: d.Decision, IdempotencyKey: d.IdempotencyKey}
	if d.Body != nil {
		in.Note = d.Body.Reason
	}
	return in
}

type executeRequest struct {
	Idempotency
	DecisionPath
}

// checkBody is a policy check of a spend that is not a card charge, or a
// pre-flight before one.
type checkBody struct {
	ActionType string `json:"action_type,omitempty" doc:"purchase (default), payment, transfer, trade, api_spend or any string." example:"purchase"`
	Amount     int64  `json:"amount" doc:"Minor units." example:"12000"`
	Currency   string `json:"currency,omitempty" doc:"ISO 4217; default the policy currency." example:"USD"`
	Reason     string `json:"reason,omitempty" doc:"The agent's reason, kept with the decision." example:"Compute instance for data pipeline"`
	Merchant   string `json:"merchant,omitempty" example:"AWS"`
	MCC        string `json:"mcc,omitempty" example:"5734"`
	DryRun     bool   `json:"dry_run,omitempty" doc:"Decide without counting toward the windows."`
}

type checkRequest struct {
	Idempotency
	AgentPath
	Body checkBody
}

type TxnPath struct {
	Transaction string `path:"transaction" maxLength:"200" doc:"An authorization's id (txn_…)."`
}

type listTransactionsRequest struct {
	PageQuery
	Agent  string `query:"agent_id" maxLength:"200" doc:"Only this agent's transactions."`
	Card   string `query:"card_id" maxLength:"200" doc:"Only this card's transactions."`
	Status string `query:"status" enum:"approved,declined,settled,reversed,expired"`
}

func (h *Handler) registerSpend() {
	tags := []string{"Intents"}
	register(h, huma.Operation{OperationID: "list-intents", Method: http.MethodGet, Path: "/v1/intents", Tags: tags,
		Summary: "List intents", Description: "The purchases agents declared, oldest first."},
		func(ctx context.Context, a engine.Actor, in *listIntentsRequest) (list[engine.Intent], error) {
			l, err := h.eng.ListIntents(ctx, a, engine.ListIntentsInput{Agent: in.Agent, CardID: in.Card,
				Status: in.Status, Page: in.page()})
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "get-intent", Method: http.MethodGet, Path: "/v1/intents/{intent}",
		Tags: tags, Summary: "Get an intent"},
		func(ctx context.Context, a engine.Actor, in *IntentPath) (*engine.Intent, error) {
			return h.eng.GetIntent(ctx, a, in.Intent)
		})
	register(h, huma.Operation{OperationID: "cancel-intent", Method: http.MethodPost,
		Path: "/v1/intents/{intent}/cancel", Tags: tags, Summary: "Cancel an intent not yet used"},
		func(ctx context.Context, a engine.Actor, in *cancelIntentRequest) (*engine.Intent, error) {
			return h.eng.CancelIntent(ctx, a, engine.CancelIntentInput{IntentID: in.Intent,
				IdempotencyKey: in.IdempotencyKey})
		})

	tags = []string{"Approvals"}
	register(h, huma.Operation{OperationID: "list-approvals", Method: http.MethodGet, Path: "/v1/approvals",
		Tags: tags, Summary: "The approvals queue", Description: "Decisions waiting for a human (by default), oldest first."},
		func(ctx context.Context, a engine.Actor, in *listApprovalsRequest) (list[decision], error) {
			return decisionsOf(h.eng.ListApprovals(ctx, a, engine.ListApprovalsInput{Agent: in.Agent,
				Status: in.Status, Page: in.page()}))
		})
	register(h, huma.Operation{OperationID: "get-approval", Method: http.MethodGet, Path: "/v1/approvals/{decision}",
		Tags: tags, Summary: "Get an approval request"},
		func(ctx context.Context, a engine.Actor, in *DecisionPath) (*decision, error) {
			return decisionOf(h.eng.GetDecision(ctx, a, in.Decision))
		})
	register(h, huma.Operation{OperationID: "approve", Method: http.MethodPost, Path: "/v1/approvals/{decision}/approve",
		Tags: tags, Summary: "Approve a spend or an intent"},
		func(ctx context.Context, a engine.Actor, in *decideRequest) (*decision, error) {
			return decisionOf(h.eng.Approve(ctx, a, in.input()))
		})
	register(h, huma.Operation{OperationID: "deny", Method: http.MethodPost, Path: "/v1/approvals/{decision}/deny",
		Tags: tags, Summary: "Deny a spend or an intent"},
		func(ctx context.Context, a engine.Actor, in *decideRequest) (*decision, error) {
			return decisionOf(h.eng.Deny(ctx, a, in.input()))
		})

	tags = []string{"Checks"}
	register(h, huma.Operation{OperationID: "create-check", Method: http.MethodPost, Path: "/v1/agents/{agent}/checks",
		Tags: tags, Summary: "Run a policy check for an agent",
		Description: "The same decision as the MCP policy_check tool: approved, blocked, requires_approval or reduced."},
		func(ctx context.Context, a engine.Actor, in *checkRequest) (*decision, error) {
			b := in.Body
			return decisionOf(h.eng.PolicyCheck(ctx, a, engine.PolicyCheckInput{Agent: in.Agent,
				ActionType: b.ActionType, Amount: b.Amount, Currency: b.Currency, Reason: b.Reason,
				Merchant: b.Merchant, MCC: b.MCC, DryRun: b.DryRun, IdempotencyKey: in.IdempotencyKey}))
		})
	register(h, huma.Operation{OperationID: "get-decision", Method: http.MethodGet, Path: "/v1/decisions/{decision}",
		Tags: tags, Summary: "Get a decision"},
		func(ctx context.Context, a engine.Actor, in *DecisionPath) (*decision, error) {
			return decisionOf(h.eng.GetDecision(ctx, a, in.Decision))
		})
	register(h, huma.Operation{OperationID: "execute-decision", Method: http.MethodPost,
		Path: "/v1/decisions/{decision}/execute", Tags: tags, Summary: "Record an approved decision as executed",
		Description: "It then counts toward the agent's windows."},
		func(ctx context.Context, a engine.Actor, in *executeRequest) (*decision, error) {
			return decisionOf(h.eng.ExecuteDecision(ctx, a, engine.ExecuteInput{DecisionID: in.Decision,
				IdempotencyKey: in.IdempotencyKey}))
		})

	tags = []string{"Transactions"}
	register(h, huma.Operation{OperationID: "list-transactions", Method: http.MethodGet, Path: "/v1/transactions",
		Tags: tags, Summary: "List card authorizations", Description: "Newest first."},
		func(ctx context.Context, a engine.Actor, in *listTransactionsRequest) (list[engine.Authorization], error) {
			l, err := h.eng.ListAuthorizations(ctx, a, engine.ListAuthorizationsInput{Agent: in.Agent,
				CardID: in.Card, Status: in.Status, Page: in.page()})
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "get-transaction", Method: http.MethodGet,
		Path: "/v1/transactions/{transaction}", Tags: tags, Summary: "Get a card authorization",
		Description: "With every check that ran and every risk signal."},
		func(ctx context.Context, a engine.Actor, in *TxnPath) (*engine.Authorization, error) {
			return h.eng.GetAuthorization(ctx, a, in.Transaction)
		})
}
