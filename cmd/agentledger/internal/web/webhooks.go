package web

import (
	"net/http"

	"github.com/agentledger/agentledger/engine"
)

var deliveryStatuses = []string{engine.DeliveryPending, engine.DeliveryDelivered, engine.DeliveryFailed, engine.DeliveryCancelled}

type webhooksData struct {
	EndpointID, Status string
	Statuses           []string
	Endpoints          []*engine.WebhookEndpoint
	NextEndpoints      string
	Deliveries         []*engine.Delivery
	NextDeliveries     string
	Events             []*engine.Event
	NextEvents         string
}

// webhooks shows the endpoints, the recent deliveries (by endpoint and
// status) and the recent events with a Replay button each. Each list pages
// on its own cursor param.
func (h *Handler) webhooks(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := h.webhooksData(r, sess.actor)
	v := view{Title: "Webhooks", Nav: "webhooks", Session: sess, Data: d}
	if err != nil {
		h.fail(w, r, "webhooks", v, err)
		return
	}
	h.render(w, http.StatusOK, "webhooks", v)
}

func (h *Handler) webhooksData(r *http.Request, a engine.Actor) (*webhooksData, error) {
	ctx, q := r.Context(), r.URL.Query()
	d := &webhooksData{EndpointID: q.Get("endpoint_id"), Status: q.Get("status"), Statuses: deliveryStatuses}
	endpoints, err := h.eng.ListWebhooks(ctx, a, engine.Page{Limit: recordsPageSize, StartingAfter: q.Get("endpoints_after")})
	if err != nil {
		return d, err
	}
	d.Endpoints = endpoints.Items
	if n := len(endpoints.Items); n > 0 {
		d.NextEndpoints = nextPage(r, "endpoints_after", endpoints.HasMore, endpoints.Items[n-1].ID)
	}
	deliveries, err := h.eng.ListDeliveries(ctx, a, engine.ListDeliveriesInput{EndpointID: d.EndpointID, Status: d.Status,
		Page: engine.Page{Limit: recordsPageSize, StartingAfter: q.Get("deliveries_after")}})
	if err != nil {
		return d, err
	}
	d.Deliveries = deliveries.Items
	if n := len(deliveries.Items); n > 0 {
		d.NextDeliveries = nextPage(r, "deliveries_after", deliveries.HasMore, deliveries.Items[n-1].ID)
	}
	events, err := h.eng.ListEvents(ctx, a, engine.ListEventsInput{Page: engine.Page{Limit: recordsPageSize,
		StartingAfter: q.Get("events_after")}})
	if err != nil {
		return d, err
	}
	d.Events = events.Items
	if n := len(events.Items); n > 0 {
		d.NextEvents = nextPage(r, "events_after", events.HasMore, events.Items[n-1].ID)
	}
	return d, nil
}

// replay queues an event again to every endpoint subscribed to it
// (engine.ReplayEvent).
func (h *Handler) replay(w http.ResponseWriter, r *http.Request, sess *session) {
	if _, err := h.eng.ReplayEvent(r.Context(), sess.actor, engine.ReplayInput{EventID: r.PathValue("event")}); err != nil {
		d, _ := h.webhooksData(r, sess.actor)
		h.fail(w, r, "webhooks", view{Title: "Webhooks", Nav: "webhooks", Session: sess, Data: d}, err)
		return
	}
	back(w, r, "/webhooks")
}
