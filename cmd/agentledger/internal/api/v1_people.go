package api

import (
	"context"
	"net/http"

	"github.com/agentledger/agentledger/engine"
	"github.com/danielgtaylor/huma/v2"
)

// Path parameters. Wherever an id is taken, a unique name is too.
type UserPath struct {
	User string `path:"user" maxLength:"200" doc:"A user's id (usr_…) or unique name."`
}

type AgentPath struct {
	Agent string `path:"agent" maxLength:"200" doc:"An agent's id (agt_…) or unique name."`
}

type createUserRequest struct {
	Idempotency
	Body struct {
		Name  string `json:"name" doc:"A unique name." example:"Acme Corp"`
		Email string `json:"email,omitempty" doc:"A contact address." example:"ops@acme.example"`
	}
}

type userRequest struct {
	Idempotency
	UserPath
}

type moneyBody struct {
	Amount   int64  `json:"amount" doc:"Minor units of the currency: 1250 is $12.50." example:"100000"`
	Currency string `json:"currency,omitempty" doc:"ISO 4217; default USD (a paper balance: the policy currency)." example:"USD"`
}

type fundUserRequest struct {
	Idempotency
	UserPath
	Body moneyBody
}

type balanceRequest struct {
	UserPath
	Currency string `query:"currency" doc:"ISO 4217; default USD." example:"USD"`
}

type listUsersRequest struct {
	PageQuery
}

func (h *Handler) registerUsers() {
	tags := []string{"Users"}
	register(h, huma.Operation{OperationID: "create-user", Method: http.MethodPost, Path: "/v1/users", Tags: tags,
		Summary: "Create a user", Description: "A user is the funding source behind agents. It starts with KYC pending."},
		func(ctx context.Context, a engine.Actor, in *createUserRequest) (*engine.User, error) {
			return h.eng.CreateUser(ctx, a, engine.CreateUserInput{Name: in.Body.Name, Email: in.Body.Email,
				IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "list-users", Method: http.MethodGet, Path: "/v1/users", Tags: tags,
		Summary: "List users", Description: "Oldest first."},
		func(ctx context.Context, a engine.Actor, in *listUsersRequest) (list[engine.User], error) {
			l, err := h.eng.ListUsers(ctx, a, in.page())
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "get-user", Method: http.MethodGet, Path: "/v1/users/{user}", Tags: tags,
		Summary: "Get a user"},
		func(ctx context.Context, a engine.Actor, in *UserPath) (*engine.User, error) {
			return h.eng.GetUser(ctx, a, in.User)
		})
	for _, kyc := range []struct{ path, status, summary string }{
		{"approve", engine.KYCApproved, "Approve a user's KYC: its agents may then get cards"},
		{"reject", engine.KYCRejected, "Reject a user's KYC"},
	} {
		register(h, huma.Operation{OperationID: kyc.path + "-user", Method: http.MethodPost,
			Path: "/v1/users/{user}/" + kyc.path, Tags: tags, Summary: kyc.summary},
			func(ctx context.Context, a engine.Actor, in *userRequest) (*engine.User, error) {
				return h.eng.SetKYC(ctx, a, engine.SetKYCInput{User: in.User, Status: kyc.status,
					IdempotencyKey: in.IdempotencyKey})
			})
	}
	register(h, huma.Operation{OperationID: "fund-user", Method: http.MethodPost, Path: "/v1/users/{user}/fund",
		Tags: tags, Summary: "Deposit funds", Description: "Credits the user's ledger account; answers the new balance."},
		func(ctx context.Context, a engine.Actor, in *fundUserRequest) (*engine.Balance, error) {
			return h.eng.FundUser(ctx, a, engine.FundInput{User: in.User, Amount: in.Body.Amount,
				Currency: in.Body.Currency, IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "get-user-balance", Method: http.MethodGet,
		Path: "/v1/users/{user}/balance", Tags: []string{"Ledger"}, Summary: "A user's ledger balance",
		Description: "posted, pending (held) and available, in minor units."},
		func(ctx context.Context, a engine.Actor, in *balanceRequest) (*engine.Balance, error) {
			return h.eng.UserBalance(ctx, a, in.User, in.Currency)
		})
	register(h, huma.Operation{OperationID: "verify-ledger", Method: http.MethodGet, Path: "/v1/ledger/verify",
		Tags: []string{"Ledger"}, Summary: "Check the ledger's invariants",
		Description: "Every transfer balances, every balance is the sum of its transfers, no hold is both posted and voided."},
		func(ctx context.Context, a engine.Actor, _ *struct{}) (*engine.LedgerReport, error) {
			return h.eng.VerifyLedger(ctx, a)
		})
}

type createAgentRequest struct {
	Idempotency
	Body struct {
		Name   string      `json:"name" doc:"A unique name." example:"checkout-bot"`
		User   string      `json:"user" doc:"The funding user's id or name." example:"Acme Corp"`
		Mode   string      `json:"mode,omitempty" enum:"live,paper,approval_only,disabled" doc:"Default live."`
		Policy *policyBody `json:"policy,omitempty" doc:"Default: no limits, intents required."`
	}
}

type listAgentsRequest struct {
	PageQuery
	User string `query:"user" maxLength:"200" doc:"Only this user's agents."`
}

type patchAgentRequest struct {
	Idempotency
	AgentPath
	Body struct {
		Mode          string `json:"mode,omitempty" enum:"live,paper,approval_only,disabled" doc:"The agent's new mode."`
		DefaultIssuer string `json:"default_issuer,omitempty" enum:"stripe,lithic,none" doc:"The issuer the agent's new cards are provisioned at; none for sandbox cards."`
	}
}

type fundPaperRequest struct {
	Idempotency
	AgentPath
	Body moneyBody
}

type paperBalanceRequest struct {
	AgentPath
	Currency string `query:"currency" doc:"ISO 4217; default the policy currency."`
}

type setPolicyRequest struct {
	Idempotency
	AgentPath
	Body policyBody
}

type patchPolicyRequest struct {
	Idempotency
	AgentPath
	Body    map[string]any `doc:"The policy fields to change (see Policy); null clears one."`
	RawBody []byte
}

func (h *Handler) registerAgents() {
	tags := []string{"Agents"}
	register(h, huma.Operation{OperationID: "create-agent", Method: http.MethodPost, Path: "/v1/agents", Tags: tags,
		Summary: "Create an agent", Description: "A spending identity under one user, with its policy."},
		func(ctx context.Context, a engine.Actor, in *createAgentRequest) (*engine.Agent, error) {
			return h.eng.CreateAgent(ctx, a, engine.CreateAgentInput{Name: in.Body.Name, User: in.Body.User,
				Mode: in.Body.Mode, Policy: (*engine.Policy)(in.Body.Policy), IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "list-agents", Method: http.MethodGet, Path: "/v1/agents", Tags: tags,
		Summary: "List agents", Description: "Oldest first. An agent key sees only its own agent."},
		func(ctx context.Context, a engine.Actor, in *listAgentsRequest) (list[engine.Agent], error) {
			l, err := h.eng.ListAgents(ctx, a, in.User, in.page())
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "get-agent", Method: http.MethodGet, Path: "/v1/agents/{agent}",
		Tags: tags, Summary: "Get an agent"},
		func(ctx context.Context, a engine.Actor, in *AgentPath) (*engine.Agent, error) {
			return h.eng.GetAgent(ctx, a, in.Agent)
		})
	register(h, huma.Operation{OperationID: "update-agent", Method: http.MethodPatch, Path: "/v1/agents/{agent}",
		Tags: tags, Summary: "Change an agent's mode or default issuer", Description: "One of mode and default_issuer per request."},
		func(ctx context.Context, a engine.Actor, in *patchAgentRequest) (*engine.Agent, error) {
			switch b := in.Body; {
			case (b.Mode == "") == (b.DefaultIssuer == ""):
				return nil, &engine.Error{Code: engine.CodeInvalidInput, Field: "mode",
					Message: "mode: give either mode or default_issuer (one per request)"}
			case b.DefaultIssuer != "":
				return h.eng.SetDefaultIssuer(ctx, a, engine.SetDefaultIssuerInput{Agent: in.Agent, Issuer: b.DefaultIssuer,
					IdempotencyKey: in.IdempotencyKey})
			}
			return h.eng.SetAgentMode(ctx, a, engine.SetModeInput{Agent: in.Agent, Mode: in.Body.Mode,
				IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "fund-paper", Method: http.MethodPost,
		Path: "/v1/agents/{agent}/paper_funding", Tags: tags, Summary: "Add to a paper agent's virtual balance",
		Description: "Paper-mode spending draws on this balance; no real money moves."},
		func(ctx context.Context, a engine.Actor, in *fundPaperRequest) (*engine.Balance, error) {
			return h.eng.FundPaper(ctx, a, engine.FundPaperInput{Agent: in.Agent, Amount: in.Body.Amount,
				Currency: in.Body.Currency, IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "get-paper-balance", Method: http.MethodGet,
		Path: "/v1/agents/{agent}/paper_balance", Tags: tags, Summary: "A paper agent's virtual balance"},
		func(ctx context.Context, a engine.Actor, in *paperBalanceRequest) (*engine.Balance, error) {
			return h.eng.PaperBalance(ctx, a, in.Agent, in.Currency)
		})

	tags = []string{"Policies"}
	register(h, huma.Operation{OperationID: "get-policy", Method: http.MethodGet, Path: "/v1/agents/{agent}/policy",
		Tags: tags, Summary: "An agent's effective policy and what remains in each window"},
		func(ctx context.Context, a engine.Actor, in *AgentPath) (*engine.LimitsReport, error) {
			return h.eng.Limits(ctx, a, in.Agent)
		})
	register(h, huma.Operation{OperationID: "replace-policy", Method: http.MethodPut, Path: "/v1/agents/{agent}/policy",
		Tags: tags, Summary: "Replace an agent's policy", Description: "Fields left out mean no limit (or the default)."},
		func(ctx context.Context, a engine.Actor, in *setPolicyRequest) (*engine.LimitsReport, error) {
			if _, err := h.eng.SetPolicy(ctx, a, engine.SetPolicyInput{Agent: in.Agent, Policy: engine.Policy(in.Body),
				IdempotencyKey: in.IdempotencyKey}); err != nil {
				return nil, err
			}
			return h.eng.Limits(ctx, a, in.Agent)
		})
	register(h, huma.Operation{OperationID: "patch-policy", Method: http.MethodPatch, Path: "/v1/agents/{agent}/policy",
		Tags: tags, Summary: "Change some fields of an agent's policy",
		Description: "A merge patch of the policy's fields: a field given is set, a field set to null is cleared, " +
			"others are kept; an object field (velocity) is given whole. " +
			"Sent as application/json or application/merge-patch+json."},
		func(ctx context.Context, a engine.Actor, in *patchPolicyRequest) (*engine.LimitsReport, error) {
			patch, err := decodePatch(in.RawBody)
			if err != nil {
				return nil, err
			}
			if _, err := h.eng.PatchPolicy(ctx, a, engine.PatchPolicyInput{Agent: in.Agent, Patch: patch,
				IdempotencyKey: in.IdempotencyKey}); err != nil {
				return nil, err
			}
			return h.eng.Limits(ctx, a, in.Agent)
		})
}
