package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/agentledger/agentledger/engine"
	"github.com/danielgtaylor/huma/v2"
)

// The capped.ai-compatible endpoints: capped.ai's documented paths, fields
// and values, so that its Python helper and LangChain tool run against
// agentledger with only the base URL and the key changed. Its amounts are
// decimal US dollars, converted exactly.

// usd is a decimal US-dollar amount as capped.ai writes it (120, 4832.50):
// a JSON number, read and written as text, never as a float.
type usd string

// Schema documents usd as a JSON number.
func (usd) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeNumber, Description: "US dollars, as a decimal number (4832.50)."}
}

// UnmarshalJSON keeps the number's text; it is parsed exactly later.
func (u *usd) UnmarshalJSON(b []byte) error {
	*u = usd(strings.TrimSpace(string(b)))
	return nil
}

// MarshalJSON writes the number's text.
func (u usd) MarshalJSON() ([]byte, error) { return []byte(u), nil }

func usdOf(minor int64) *usd {
	u := usd(engine.DecimalString(minor, "USD"))
	return &u
}

func usdOrNil(minor *int64) *usd {
	if minor == nil {
		return nil
	}
	return usdOf(*minor)
}

// cappedRules renames the rules capped.ai's documentation names.
var cappedRules = map[string]string{"per_transaction_limit": "per_txn_limit", "daily_limit": "daily_volume"}

type cappedCheck struct {
	Rule    string `json:"rule" example:"per_txn_limit"`
	Result  string `json:"result" enum:"pass,fail,skip"`
	Message string `json:"message" example:"$120.00 ≤ $500.00 limit"`
}

// cappedDecision is capped.ai's answer to a check.
type cappedDecision struct {
	Status                string        `json:"status" enum:"approved,blocked,requires_approval,reduced"`
	DecisionID            string        `json:"decision_id" example:"dec_0194c2d1-7a3e-7c55-9a41-3e8f1b2c4d5e"`
	Reason                string        `json:"reason" example:"All policy checks passed"`
	RequiresHumanApproval bool          `json:"requires_human_approval"`
	AllowedAmountUSD      *usd          `nullable:"true" json:"allowed_amount_usd" doc:"Set when status is reduced."`
	PolicyChecks          []cappedCheck `json:"policy_checks" nullable:"false"`
	ApprovalStatus        string        `json:"approval_status,omitempty" enum:"pending,approved,denied,expired,executed" doc:"agentledger: where a requires_approval decision stands."`
}

func cappedDecisionOf(d *engine.Decision, err error) (*cappedDecision, error) {
	if err != nil {
		return nil, err
	}
	out := &cappedDecision{Status: d.Status, DecisionID: d.ID, Reason: d.Reason,
		RequiresHumanApproval: d.RequiresHumanApproval, PolicyChecks: []cappedCheck{},
		ApprovalStatus: d.ApprovalStatus}
	if d.AllowedAmount != nil {
		out.AllowedAmountUSD = usdOf(*d.AllowedAmount)
	}
	for _, c := range d.PolicyChecks {
		rule := c.Rule
		if r, ok := cappedRules[rule]; ok {
			rule = r
		}
		out.PolicyChecks = append(out.PolicyChecks, cappedCheck{Rule: rule, Result: c.Result, Message: c.Message})
	}
	return out, nil
}

type cappedCheckRequest struct {
	Idempotency
	Body struct {
		AgentID    string `json:"agent_id" doc:"The agent's id or name." example:"research-agent"`
		ActionType string `json:"action_type" doc:"purchase, transfer, or any custom string." example:"purchase"`
		AmountUSD  usd    `json:"amount_usd" doc:"USD value of the spend." example:"120"`
		Reason     string `json:"reason,omitempty" doc:"Agent's reason, stored in the audit log." example:"Compute instance for data pipeline"`
		Currency   string `json:"currency,omitempty" enum:"USD,usd" doc:"agentledger: the amount's currency, which can only be USD here."`
		Merchant   string `json:"merchant,omitempty" doc:"agentledger: the merchant, checked against merchant controls."`
	}
}

type cappedExecuteRequest struct {
	Idempotency
	ID string `path:"id" maxLength:"200" doc:"The decision's id (dec_…)."`
}

// cappedAgent is capped.ai's agent.
type cappedAgent struct {
	ID                string         `json:"id"`
	Name              string         `json:"name"`
	Mode              string         `json:"mode" enum:"live,paper,approval_only,live_disabled,disabled"`
	Status            string         `json:"status" enum:"active,disabled"`
	VirtualBalanceUSD *usd           `nullable:"true" json:"virtualBalanceUsd" doc:"The paper balance available, in USD."`
	CardStatus        *string        `json:"cardStatus" doc:"The agent's card: open (active), paused (frozen) or cancelled; null with no card."`
	StripeCardID      *string        `json:"stripeCardId" doc:"The Stripe Issuing card linked to it, if any."`
	Policies          []cappedPolicy `json:"policies" nullable:"false"`
}

type cappedPolicy struct {
	PerTransactionLimitUSD *usd `nullable:"true" json:"perTransactionLimitUsd"`
	DailyVolumeLimitUSD    *usd `nullable:"true" json:"dailyVolumeLimitUsd"`
}

type cappedAgentBody struct {
	Agent cappedAgent `json:"agent"`
}

type cappedAgentsBody struct {
	Agents []cappedAgent `json:"agents" nullable:"false"`
}

type CappedAgentPath struct {
	ID string `path:"id" maxLength:"200" doc:"The agent's id or name (a card id, for the card endpoint, names that card)."`
}

type cappedCreateAgentRequest struct {
	Idempotency
	Body struct {
		Name              string `json:"name" example:"research-agent"`
		Mode              string `json:"mode,omitempty" enum:"live,paper,approval_only,live_disabled,disabled" doc:"Default paper, as capped.ai's."`
		VirtualBalanceUSD *usd   `json:"virtualBalanceUsd,omitempty" doc:"The starting paper balance." example:"5000"`
		User              string `json:"user,omitempty" doc:"agentledger: the funding user (id or name); may be left out when there is only one."`
	}
}

type cappedPatchAgentRequest struct {
	Idempotency
	CappedAgentPath
	Body struct {
		Mode string `json:"mode" enum:"live,paper,approval_only,live_disabled,disabled"`
	}
}

type cappedCardRequest struct {
	Idempotency
	CappedAgentPath
	Body struct {
		Action string `json:"action" enum:"freeze,unfreeze"`
	}
}

type cappedTransaction struct {
	ID            string  `json:"id"`
	AgentID       string  `json:"agentId"`
	Amount        int64   `json:"amount" doc:"Minor units (cents); negative for a credit (a merchant's refund)." example:"12000"`
	Currency      string  `json:"currency" example:"USD"`
	Merchant      string  `json:"merchant" example:"AWS Marketplace"`
	Status        string  `json:"status" enum:"approved,declined,reversed,settled"`
	DeclineReason *string `json:"declineReason" example:"SPEND_LIMIT_EXCEEDED"`
	CreatedAt     string  `json:"createdAt" format:"date-time"`
}

type cappedTransactionsBody struct {
	Transactions []cappedTransaction `json:"transactions" nullable:"false"`
}

// cappedModeLiveDisabled is capped.ai's live mode with trade actions
// blocked; cappedTrade is that action type.
const (
	cappedModeLiveDisabled = "live_disabled"
	cappedTrade            = "trade"
)

func (h *Handler) registerCapped() {
	tags := []string{"capped.ai compatible"}
	register(h, huma.Operation{OperationID: "capped-check", Method: http.MethodPost, Path: "/api/v1/actions/check",
		Tags: tags, Summary: "Check a spend against the agent's policy (capped.ai)"},
		func(ctx context.Context, a engine.Actor, in *cappedCheckRequest) (*cappedDecision, error) {
			b := in.Body
			if err := h.agentSpendsUSD(ctx, a, b.AgentID, "agent_id"); err != nil {
				return nil, err
			}
			amount, err := engine.ParseDecimal("amount_usd", string(b.AmountUSD), "USD")
			if err != nil {
				return nil, err
			}
			if amount == 0 {
				return nil, &engine.Error{Code: engine.CodeInvalidInput, Field: "amount_usd",
					Message: "amount_usd: must be more than 0"}
			}
			return cappedDecisionOf(h.eng.PolicyCheck(ctx, a, engine.PolicyCheckInput{Agent: b.AgentID,
				ActionType: b.ActionType, Amount: amount, Currency: "USD", Reason: b.Reason, Merchant: b.Merchant,
				IdempotencyKey: in.IdempotencyKey}))
		})
	register(h, huma.Operation{OperationID: "capped-execute", Method: http.MethodPost,
		Path: "/api/v1/actions/{id}/execute", Tags: tags,
		Summary: "Record an approved decision as executed (capped.ai)"},
		func(ctx context.Context, a engine.Actor, in *cappedExecuteRequest) (*cappedDecision, error) {
			return asPathID(cappedDecisionOf(h.eng.ExecuteDecision(ctx, a, engine.ExecuteInput{DecisionID: in.ID,
				IdempotencyKey: in.IdempotencyKey})))
		})
	register(h, huma.Operation{OperationID: "capped-list-agents", Method: http.MethodGet, Path: "/api/agents",
		Tags: tags, Summary: "List agents (capped.ai)", Description: "The first 100, oldest first."},
		func(ctx context.Context, a engine.Actor, _ *struct{}) (cappedAgentsBody, error) {
			l, err := h.eng.ListAgents(ctx, a, "", engine.Page{Limit: engine.MaxPageLimit})
			if err != nil {
				return cappedAgentsBody{}, err
			}
			out := cappedAgentsBody{Agents: []cappedAgent{}}
			for _, ag := range l.Items {
				ca, err := h.cappedAgent(ctx, a, ag)
				if err != nil {
					return cappedAgentsBody{}, err
				}
				out.Agents = append(out.Agents, *ca)
			}
			return out, nil
		})
	register(h, huma.Operation{OperationID: "capped-create-agent", Method: http.MethodPost, Path: "/api/agents",
		Tags: tags, Summary: "Create an agent (capped.ai)",
		Description: "live_disabled is live with trade actions blocked (policy blocked_action_types)."},
		func(ctx context.Context, a engine.Actor, in *cappedCreateAgentRequest) (cappedAgentBody, error) {
			b := in.Body
			mode := b.Mode
			if mode == "" {
				mode = engine.ModePaper
			}
			user, err := h.onlyUser(ctx, a, b.User)
			if err != nil {
				return cappedAgentBody{}, err
			}
			cin := engine.CreateAgentInput{Name: b.Name, User: user, Mode: mode, IdempotencyKey: in.IdempotencyKey}
			if mode == cappedModeLiveDisabled {
				cin.Mode, cin.Policy = engine.ModeLive, &engine.Policy{BlockedActionTypes: []string{cappedTrade}}
			}
			if b.VirtualBalanceUSD != nil {
				if cin.PaperFunding, err = engine.ParseDecimal("virtualBalanceUsd", string(*b.VirtualBalanceUSD), "USD"); err != nil {
					return cappedAgentBody{}, err
				}
			}
			ag, err := h.eng.CreateAgent(ctx, a, cin)
			if err != nil {
				return cappedAgentBody{}, err
			}
			return h.cappedAgentBody(ctx, a, ag)
		})
	register(h, huma.Operation{OperationID: "capped-get-agent", Method: http.MethodGet, Path: "/api/agents/{id}",
		Tags: tags, Summary: "An agent's balance and card state (capped.ai)"},
		func(ctx context.Context, a engine.Actor, in *CappedAgentPath) (cappedAgentBody, error) {
			ag, err := h.eng.GetAgent(ctx, a, in.ID)
			if err != nil {
				return asPathID(cappedAgentBody{}, err)
			}
			return h.cappedAgentBody(ctx, a, ag)
		})
	register(h, huma.Operation{OperationID: "capped-update-agent", Method: http.MethodPatch, Path: "/api/agents/{id}",
		Tags: tags, Summary: "Change an agent's mode (capped.ai)",
		Description: "live_disabled blocks trade actions first, then makes the agent live."},
		func(ctx context.Context, a engine.Actor, in *cappedPatchAgentRequest) (cappedAgentBody, error) {
			ag, err := h.setCappedMode(ctx, a, in.ID, in.Body.Mode, in.IdempotencyKey)
			if err != nil {
				return asPathID(cappedAgentBody{}, err)
			}
			return h.cappedAgentBody(ctx, a, ag)
		})
	register(h, huma.Operation{OperationID: "capped-card", Method: http.MethodPatch, Path: "/api/agents/{id}/card",
		Tags: tags, Summary: "Freeze or unfreeze an agent's cards (capped.ai)",
		Description: "Freezes every active card of the agent (unfreeze: every frozen one); a card id names one card."},
		func(ctx context.Context, a engine.Actor, in *cappedCardRequest) (cappedAgentBody, error) {
			ag, err := h.cappedCardAction(ctx, a, in.ID, in.Body.Action, in.IdempotencyKey)
			if err != nil {
				return asPathID(cappedAgentBody{}, err)
			}
			return h.cappedAgentBody(ctx, a, ag)
		})
	register(h, huma.Operation{OperationID: "capped-transactions", Method: http.MethodGet,
		Path: "/api/agents/{id}/transactions", Tags: tags,
		Summary: "The agent's 50 most recent card transactions, newest first (capped.ai)"},
		func(ctx context.Context, a engine.Actor, in *CappedAgentPath) (cappedTransactionsBody, error) {
			l, err := h.eng.ListAuthorizations(ctx, a, engine.ListAuthorizationsInput{Agent: in.ID,
				Page: engine.Page{Limit: 50}})
			if err != nil {
				return asPathID(cappedTransactionsBody{}, err)
			}
			out := cappedTransactionsBody{Transactions: []cappedTransaction{}}
			for _, t := range l.Items {
				out.Transactions = append(out.Transactions, cappedTransactionOf(t))
			}
			return out, nil
		})
}

// asPathID names the path's {id} as the field of a not-found error: the
// engine names its own argument (agent, agent_id).
func asPathID[T any](v T, err error) (T, error) {
	var e *engine.Error
	if errors.As(err, &e) && e.Code == engine.CodeNotFound && e.Field != "" {
		err = &engine.Error{Code: e.Code, Field: "id", Message: "id: " + strings.TrimPrefix(e.Message, e.Field+": ")}
	}
	return v, err
}

// agentSpendsUSD refuses an agent whose policy is in another currency:
// capped.ai's amounts are US dollars.
func (h *Handler) agentSpendsUSD(ctx context.Context, a engine.Actor, ref, field string) error {
	ag, err := h.eng.GetAgent(ctx, a, ref)
	if err != nil {
		if engine.IsNotFound(err) {
			return &engine.Error{Code: engine.CodeNotFound, Field: field,
				Message: field + ": agent " + strconv.Quote(engine.MaskPANs(ref)) + " not found"}
		}
		return err
	}
	if cur := ag.Policy.Effective().Currency; cur != "USD" {
		return &engine.Error{Code: engine.CodeCurrencyMismatch, Field: "amount_usd",
			Message: "amount_usd: agent " + ag.Name + " spends in " + cur + ", not USD; use POST /v1/agents/" +
				ag.ID + "/checks with its currency"}
	}
	return nil
}

// onlyUser is the user named, or the only user there is: capped.ai has no
// users, agentledger funds every agent from one.
func (h *Handler) onlyUser(ctx context.Context, a engine.Actor, ref string) (string, error) {
	if ref != "" {
		return ref, nil
	}
	l, err := h.eng.ListUsers(ctx, a, engine.Page{Limit: 2})
	if err != nil {
		return "", err
	}
	if len(l.Items) != 1 {
		return "", &engine.Error{Code: engine.CodeInvalidInput, Field: "user",
			Message: "user: name the funding user of the agent (there is not exactly one user)"}
	}
	return l.Items[0].ID, nil
}

// setCappedMode sets a mode in capped.ai's terms, in one engine call:
// live_disabled is live with trade actions blocked, and live from
// live_disabled allows them again.
func (h *Handler) setCappedMode(ctx context.Context, a engine.Actor, ref, mode, key string) (*engine.Agent, error) {
	in := engine.SetModeInput{Agent: ref, Mode: mode, IdempotencyKey: key}
	switch mode {
	case cappedModeLiveDisabled:
		in.Mode, in.BlockActionTypes = engine.ModeLive, []string{cappedTrade}
	case engine.ModeLive:
		// Back from live_disabled; an operator's block of trade on an agent
		// in another mode stays (it is then shown as live_disabled).
		in.UnblockIfLive = []string{cappedTrade}
	}
	return h.eng.SetAgentMode(ctx, a, in)
}

// cappedCardAction freezes or unfreezes the agent's cards, or the one card
// a card id names.
func (h *Handler) cappedCardAction(ctx context.Context, a engine.Actor, ref, action, key string) (*engine.Agent, error) {
	if strings.HasPrefix(ref, engine.PrefixCard) {
		change := h.eng.FreezeCard
		if action == "unfreeze" {
			change = h.eng.UnfreezeCard
		}
		c, err := change(ctx, a, engine.CardActionInput{CardID: ref, IdempotencyKey: key})
		if err != nil {
			return nil, err
		}
		return h.eng.GetAgent(ctx, a, c.AgentID)
	}
	change := h.eng.FreezeAgentCards
	if action == "unfreeze" {
		change = h.eng.UnfreezeAgentCards
	}
	if _, err := change(ctx, a, engine.AgentCardsInput{Agent: ref, IdempotencyKey: key}); err != nil {
		return nil, err
	}
	return h.eng.GetAgent(ctx, a, ref)
}

func (h *Handler) cappedAgentBody(ctx context.Context, a engine.Actor, ag *engine.Agent) (cappedAgentBody, error) {
	ca, err := h.cappedAgent(ctx, a, ag)
	if err != nil {
		return cappedAgentBody{}, err
	}
	return cappedAgentBody{Agent: *ca}, nil
}

// cappedAgent shows an agent as capped.ai does: its paper balance, and the
// state of its card (the newest one not closed, else the newest).
func (h *Handler) cappedAgent(ctx context.Context, a engine.Actor, ag *engine.Agent) (*cappedAgent, error) {
	out := &cappedAgent{ID: ag.ID, Name: ag.Name, Mode: ag.Mode, Status: "active", Policies: []cappedPolicy{}}
	if ag.Mode == engine.ModeDisabled {
		out.Status = "disabled"
	}
	if ag.Mode == engine.ModeLive && slices.Contains(ag.Policy.BlockedActionTypes, cappedTrade) {
		out.Mode = cappedModeLiveDisabled
	}
	bal, err := h.eng.PaperBalance(ctx, a, ag.ID, "USD")
	if err != nil {
		return nil, err
	}
	out.VirtualBalanceUSD = usdOf(bal.Available)
	if ag.Policy.Effective().Currency == "USD" {
		out.Policies = append(out.Policies, cappedPolicy{PerTransactionLimitUSD: usdOrNil(ag.Policy.PerTransactionLimit),
			DailyVolumeLimitUSD: usdOrNil(ag.Policy.DailyLimit)})
	}
	cards, err := h.eng.ListCards(ctx, a, ag.ID, engine.Page{})
	if err != nil {
		return nil, err
	}
	var card *engine.Card
	for _, c := range slices.Backward(cards.Items) {
		if card == nil || (card.Status == engine.CardClosed && c.Status != engine.CardClosed) {
			card = c
		}
	}
	if card == nil {
		return out, nil
	}
	status := map[string]string{engine.CardActive: "open", engine.CardFrozen: "paused", engine.CardClosed: "cancelled"}[card.Status]
	out.CardStatus = &status
	links, err := h.eng.CardLinks(ctx, a, card.ID)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		if l.Issuer == "stripe" {
			out.StripeCardID = &l.ExternalID
		}
	}
	return out, nil
}

func cappedTransactionOf(t *engine.Authorization) cappedTransaction {
	out := cappedTransaction{ID: t.ID, AgentID: t.AgentID, Amount: t.Amount, Currency: t.Currency,
		Merchant: t.Merchant.Name, Status: t.Status, CreatedAt: t.CreatedAt.UTC().Format("2006-01-02T15:04:05Z")}
	if t.Kind == engine.KindCredit {
		out.Amount = -t.Amount // money back to the card: a refund
	}
	if t.Status == engine.AuthExpired {
		out.Status = engine.AuthReversed // a hold that lapsed is voided: capped.ai calls that reversed
	}
	if t.DeclineCode != "" {
		out.DeclineReason = &t.DeclineCode
	}
	return out
}
