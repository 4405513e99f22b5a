package api

import (
	"context"
	"net/http"

	"github.com/agentledger/agentledger/engine"
	"github.com/danielgtaylor/huma/v2"
)

type createKeyRequest struct {
	Idempotency
	Body struct {
		Role  string `json:"role" enum:"admin,agent,viewer,network" doc:"admin: everything; viewer: read only; agent: one agent's objects and checks; network: card authorizations."`
		Agent string `json:"agent,omitempty" doc:"The agent an agent key acts as (required for, and only for, role agent)."`
		Name  string `json:"name,omitempty" doc:"A label." example:"ci"`
	}
}

type KeyPath struct {
	Key string `path:"key" maxLength:"200" doc:"A key's id (key_…)."`
}

type revokeKeyRequest struct {
	Idempotency
	KeyPath
}

type listKeysRequest struct {
	PageQuery
}

type createEndpointRequest struct {
	Idempotency
	Body struct {
		URL    string   `json:"url" doc:"Where events are POSTed." example:"https://example.com/agentledger"`
		Events []string `json:"events,omitempty" doc:"The event types to send; all when empty."`
	}
}

type EndpointPath struct {
	Endpoint string `path:"endpoint" maxLength:"200" doc:"An endpoint's id (whk_…)."`
}

type removeEndpointRequest struct {
	Idempotency
	EndpointPath
}

type listEndpointsRequest struct {
	PageQuery
}

type listDeliveriesRequest struct {
	PageQuery
	Endpoint string `query:"endpoint_id" maxLength:"200" doc:"Only deliveries to this endpoint."`
	Event    string `query:"event_id" maxLength:"200" doc:"Only deliveries of this event."`
	Status   string `query:"status" enum:"pending,delivered,failed,cancelled"`
}

type listEventsRequest struct {
	PageQuery
	Type string `query:"type" maxLength:"200" doc:"Only events of this type." example:"authorization.created"`
}

type replayRequest struct {
	Idempotency
	Event string `path:"event" maxLength:"200" doc:"An event's id (evt_…)."`
	Body  *struct {
		Endpoint string `json:"endpoint,omitempty" doc:"Send to this endpoint only; default every endpoint subscribed."`
	}
}

type timeZoneRequest struct {
	Idempotency
	Body struct {
		TimeZone string `json:"timezone" doc:"An IANA time zone, such as Europe/Berlin." example:"Europe/Berlin"`
	}
}

// sweepRequest takes no fields; repeating a sweep does nothing more, so it
// needs no idempotency key.
type sweepRequest struct {
	Body *struct{}
}

type deliveries struct {
	Data []*engine.Delivery `json:"data" nullable:"false"`
}

func (h *Handler) registerAdmin() {
	tags := []string{"Keys"}
	register(h, huma.Operation{OperationID: "create-key", Method: http.MethodPost, Path: "/v1/keys", Tags: tags,
		Summary: "Create an API key", Description: "The secret (key) is in this answer only; it is stored hashed."},
		func(ctx context.Context, a engine.Actor, in *createKeyRequest) (*engine.NewKey, error) {
			return h.eng.CreateKey(ctx, a, engine.CreateKeyInput{Role: in.Body.Role, Agent: in.Body.Agent,
				Name: in.Body.Name, IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "list-keys", Method: http.MethodGet, Path: "/v1/keys", Tags: tags,
		Summary: "List API keys", Description: "Their ids and prefixes, never their secrets."},
		func(ctx context.Context, a engine.Actor, in *listKeysRequest) (list[engine.APIKey], error) {
			l, err := h.eng.ListKeys(ctx, a, in.page())
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "revoke-key", Method: http.MethodPost, Path: "/v1/keys/{key}/revoke",
		Tags: tags, Summary: "Revoke an API key", Description: "Servers stop accepting it within two seconds."},
		func(ctx context.Context, a engine.Actor, in *revokeKeyRequest) (*engine.APIKey, error) {
			return h.eng.RevokeKey(ctx, a, engine.RevokeKeyInput{KeyID: in.Key, IdempotencyKey: in.IdempotencyKey})
		})

	tags = []string{"Webhooks"}
	register(h, huma.Operation{OperationID: "create-webhook-endpoint", Method: http.MethodPost,
		Path: "/v1/webhook_endpoints", Tags: tags, Summary: "Add a webhook endpoint",
		Description: "The signing secret is in this answer only."},
		func(ctx context.Context, a engine.Actor, in *createEndpointRequest) (*engine.NewWebhook, error) {
			return h.eng.AddWebhook(ctx, a, engine.AddWebhookInput{URL: in.Body.URL, Events: in.Body.Events,
				IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "list-webhook-endpoints", Method: http.MethodGet,
		Path: "/v1/webhook_endpoints", Tags: tags, Summary: "List webhook endpoints", Description: "Oldest first."},
		func(ctx context.Context, a engine.Actor, in *listEndpointsRequest) (list[engine.WebhookEndpoint], error) {
			l, err := h.eng.ListWebhooks(ctx, a, in.page())
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "remove-webhook-endpoint", Method: http.MethodDelete,
		Path: "/v1/webhook_endpoints/{endpoint}", Tags: tags, Summary: "Remove a webhook endpoint",
		Description: "Its pending deliveries are cancelled."},
		func(ctx context.Context, a engine.Actor, in *removeEndpointRequest) (*engine.WebhookEndpoint, error) {
			return h.eng.RemoveWebhook(ctx, a, engine.RemoveWebhookInput{EndpointID: in.Endpoint,
				IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "list-webhook-deliveries", Method: http.MethodGet,
		Path: "/v1/webhook_deliveries", Tags: tags, Summary: "List deliveries", Description: "Newest event first."},
		func(ctx context.Context, a engine.Actor, in *listDeliveriesRequest) (list[engine.Delivery], error) {
			l, err := h.eng.ListDeliveries(ctx, a, engine.ListDeliveriesInput{EndpointID: in.Endpoint,
				EventID: in.Event, Status: in.Status, Page: in.page()})
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "list-events", Method: http.MethodGet, Path: "/v1/events", Tags: tags,
		Summary: "List events", Description: "Newest first."},
		func(ctx context.Context, a engine.Actor, in *listEventsRequest) (list[engine.Event], error) {
			l, err := h.eng.ListEvents(ctx, a, engine.ListEventsInput{Type: in.Type, Page: in.page()})
			return listOf(l), err
		})
	register(h, huma.Operation{OperationID: "replay-event", Method: http.MethodPost, Path: "/v1/events/{event}/replay",
		Tags: tags, Summary: "Send an event again", Description: "Its deliveries start afresh."},
		func(ctx context.Context, a engine.Actor, in *replayRequest) (deliveries, error) {
			rin := engine.ReplayInput{EventID: in.Event, IdempotencyKey: in.IdempotencyKey}
			if in.Body != nil {
				rin.EndpointID = in.Body.Endpoint
			}
			l, err := h.eng.ReplayEvent(ctx, a, rin)
			if l == nil {
				l = []*engine.Delivery{}
			}
			return deliveries{Data: l}, err
		})
}

func (h *Handler) registerSettings() {
	tags := []string{"Settings"}
	register(h, huma.Operation{OperationID: "get-settings", Method: http.MethodGet, Path: "/v1/settings", Tags: tags,
		Summary: "The organisation's settings", Description: "Its time zone keys every daily and monthly window."},
		func(ctx context.Context, a engine.Actor, _ *struct{}) (*engine.Settings, error) {
			return h.eng.GetSettings(ctx, a)
		})
	register(h, huma.Operation{OperationID: "set-timezone", Method: http.MethodPut, Path: "/v1/settings/timezone",
		Tags: tags, Summary: "Change the time zone, for every process at once",
		Description: "Spend already counted stays in its day and month; the answer says what happens to the open windows."},
		func(ctx context.Context, a engine.Actor, in *timeZoneRequest) (*engine.TimeZoneChange, error) {
			return h.eng.SetTimeZone(ctx, a, engine.SetTimeZoneInput{TimeZone: in.Body.TimeZone,
				IdempotencyKey: in.IdempotencyKey})
		})
	register(h, huma.Operation{OperationID: "sweep", Method: http.MethodPost, Path: "/v1/ledger/sweep",
		Tags: []string{"Ledger"}, Summary: "Record due expiries now",
		Description: "Lapsed intents and approval requests, unsettled holds past their TTL. serve does this every 30 s. " +
			"It takes no body and no Idempotency-Key: a second sweep records only what fell due since."},
		func(ctx context.Context, a engine.Actor, _ *sweepRequest) (*engine.SweepResult, error) {
			return h.eng.Sweep(ctx, a)
		})
}

type issuerSyncRequest struct {
	Body *struct {
		DryRun bool `json:"dry_run,omitempty" doc:"Only report: change nothing here or at the issuers."`
	}
}

func (h *Handler) registerIssuers() {
	register(h, huma.Operation{OperationID: "sync-issuers", Method: http.MethodPost, Path: "/v1/issuers/sync",
		Tags: []string{"Cards"}, Summary: "Compare issuer cards with their issuers and repair drift",
		Description: "Every open card provisioned at Stripe Issuing or Lithic is compared with the issuer's copy; " +
			"queued changes are pushed, a card closed or frozen at the issuer alone is closed or frozen here, " +
			"and the issuer queue is worked once. queued lists what still has not reached its issuer. " +
			"No Idempotency-Key: a second sync repairs only what drifted since."},
		func(ctx context.Context, a engine.Actor, in *issuerSyncRequest) (*engine.IssuerSyncReport, error) {
			var sin engine.IssuerSyncInput
			if in.Body != nil {
				sin.DryRun = in.Body.DryRun
			}
			return h.eng.SyncIssuers(ctx, a, sin)
		})
}

func (h *Handler) registerV1() {
	h.registerIssuers()
	h.registerSettings()
	h.registerUsers()
	h.registerAgents()
	h.registerCards()
	h.registerSpend()
	h.registerAdmin()
}
