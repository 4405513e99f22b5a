package api

import (
	"context"
	"net/http"

	"github.com/agentledger/agentledger/engine"
	"github.com/danielgtaylor/huma/v2"
)

type CardPath struct {
	Card string `path:"card" maxLength:"200" doc:"A card's id (card_…)."`
}

type cardRequest struct {
	Idempotency
	CardPath
}

// createCardBody is agentledger's card request; it also takes LedgerOS's
// {"purpose","type":"single"|"multi","maxAmount"}.
type createCardBody struct {
	Type      string      `json:"type,omitempty" enum:"single_use,multi_use,single,multi" doc:"Default multi_use; single and multi are LedgerOS's names for the same."`
	Purpose   string      `json:"purpose,omitempty" doc:"What the card is for." example:"Buy office supplies"`
	Currency  string      `json:"currency,omitempty" doc:"ISO 4217; default the agent's policy currency."`
	Limits    *limitsBody `json:"limits,omitempty" doc:"The card's own limits and merchant controls, tighter than the policy's."`
	MaxAmount *int64      `json:"maxAmount,omitempty" doc:"LedgerOS: the most the card may ever spend, in minor units (its lifetime_limit)." example:"10000"`
	Issuer    string      `json:"issuer,omitempty" enum:"stripe,lithic,none" doc:"Provision the card at a real issuer; none asks for a sandbox card. Default: the agent's default_issuer."`
}

type createCardRequest struct {
	Idempotency
	AgentPath
	Body createCardBody
}

type listCardsRequest struct {
	PageQuery
	Agent string `query:"agent_id" maxLength:"200" doc:"Only this agent's cards."`
}

type agentCardsRequest struct {
	PageQuery
	AgentPath
}

type linkCardRequest struct {
	Idempotency
	CardPath
	Body struct {
		Issuer     string `json:"issuer" enum:"stripe,lithic" doc:"The issuer whose card this is."`
		ExternalID string `json:"external_id" doc:"The issuer's card id: Stripe ic_…, a Lithic card token." example:"ic_1Nv0aB2eZvKYlo2C"`
	}
}

type cardLinks struct {
	Data []*engine.CardLink `json:"data" nullable:"false"`
}

func (h *Handler) registerCards() {
	tags := []string{"Cards"}
	register(h, huma.Operation{OperationID: "create-card", Method: http.MethodPost, Path: "/v1/agents/{agent}/cards",
		Tags: tags, Summary: "Issue a virtual card to an agent",
		Description: "The card number is never returned: an agent sees it only through MCP, after declaring an intent. " +
			"With an issuer (or the agent's default_issuer) the card is created at Stripe Issuing or Lithic first, " +
			"its controls mirrored from the limits; ISSUER_UNAVAILABLE (503) or ISSUER_REFUSED (502) when the issuer fails, " +
			"and then no card exists on either side."},
		func(ctx context.Context, a engine.Actor, in *createCardRequest) (*engine.Card, error) {
			b := in.Body
			cin := engine.CreateCardInput{Agent: in.Agent, Type: b.Type, Purpose: b.Purpose, Currency: b.Currency,
				Issuer: b.Issuer, IdempotencyKey: in.IdempotencyKey}
			switch b.Type {
			case "single":
				cin.Type = engine.CardSingleUse
			case "multi":
				cin.Type = engine.CardMultiUse
			}
			if b.Limits != nil {
				cin.Limits = engine.SpendLimits(*b.Limits)
			}
			if b.MaxAmount != nil {
				if cin.Limits.LifetimeLimit != nil {
					return nil, &engine.Error{Code: engine.CodeInvalidInput, Field: "maxAmount",
						Message: "maxAmount: give either maxAmount or limits.lifetime_limit, not both"}
				}
				cin.Limits.LifetimeLimit = b.MaxAmount
			}
			return h.eng.CreateCard(ctx, a, cin)
		})
	register(h, huma.Operation{OperationID: "list-agent-cards", Method: http.MethodGet, Path: "/v1/agents/{agent}/cards",
		Tags: tags, Summary: "List an agent's cards", Description: "Oldest first."},
		func(ctx context.Context, a engine.Actor, in *agentCardsRequest) (list[engine.Card], error) {
			l, err := h.eng.ListCards(ctx, a, in.Agent, in.page())
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "list-cards", Method: http.MethodGet, Path: "/v1/cards", Tags: tags,
		Summary: "List cards", Description: "Oldest first. An agent key sees only its own cards."},
		func(ctx context.Context, a engine.Actor, in *listCardsRequest) (list[engine.Card], error) {
			l, err := h.eng.ListCards(ctx, a, in.Agent, in.page())
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "get-card", Method: http.MethodGet, Path: "/v1/cards/{card}", Tags: tags,
		Summary: "Get a card", Description: "Its last4, never its number."},
		func(ctx context.Context, a engine.Actor, in *CardPath) (*engine.Card, error) {
			return h.eng.GetCard(ctx, a, in.Card)
		})
	for _, act := range []struct {
		path, summary string
		do            func(context.Context, engine.Actor, engine.CardActionInput) (*engine.Card, error)
	}{
		{"freeze", "Freeze a card: its authorizations are declined until it is unfrozen", h.eng.FreezeCard},
		{"unfreeze", "Unfreeze a card", h.eng.UnfreezeCard},
		{"close", "Close a card for good", h.eng.CloseCard},
	} {
		register(h, huma.Operation{OperationID: act.path + "-card", Method: http.MethodPost,
			Path: "/v1/cards/{card}/" + act.path, Tags: tags, Summary: act.summary},
			func(ctx context.Context, a engine.Actor, in *cardRequest) (*engine.Card, error) {
				return act.do(ctx, a, engine.CardActionInput{CardID: in.Card, IdempotencyKey: in.IdempotencyKey})
			})
	}
	register(h, huma.Operation{OperationID: "link-card", Method: http.MethodPost, Path: "/v1/cards/{card}/links",
		Tags: tags, Summary: "Tie an issuer's card to this card",
		Description: "The issuer's real-time authorizations of that card are then decided as this card's."},
		func(ctx context.Context, a engine.Actor, in *linkCardRequest) (*engine.CardLink, error) {
			return h.eng.LinkCard(ctx, a, engine.LinkCardInput{CardID: in.Card, Issuer: in.Body.Issuer,
				ExternalID: in.Body.ExternalID, IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "list-card-links", Method: http.MethodGet, Path: "/v1/cards/{card}/links",
		Tags: tags, Summary: "The issuer cards tied to this card"},
		func(ctx context.Context, a engine.Actor, in *CardPath) (cardLinks, error) {
			l, err := h.eng.CardLinks(ctx, a, in.Card)
			if l == nil {
				l = []*engine.CardLink{}
			}
			return cardLinks{Data: l}, err
		})
}
