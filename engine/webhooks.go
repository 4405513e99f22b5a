package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Event types, sent to webhook endpoints.
const (
	EventTransactionAuthorized = "transaction.authorized" // approved or declined, with its code
	EventTransactionSettled    = "transaction.settled"
	EventTransactionReversed   = "transaction.reversed"
	EventTransactionRefunded   = "transaction.refunded"
	EventTransactionExpired    = "transaction.expired" // a hold released unsettled
	EventCardCreated           = "card.created"
	EventCardFrozen            = "card.frozen"
	EventCardUnfrozen          = "card.unfrozen"
	EventCardClosed            = "card.closed"
	EventIntentDeclared        = "intent.declared"
	EventIntentRevealed        = "intent.revealed"
	EventIntentMatched         = "intent.matched"
	EventIntentMismatched      = "intent.mismatched"
	EventIntentExpired         = "intent.expired"
	EventIntentCancelled       = "intent.cancelled"
	EventApprovalRequested     = "approval.requested"
	EventApprovalDecided       = "approval.decided" // approved, denied or expired
	EventLimitExceeded         = "limit.exceeded"
	EventAccountFunded         = "account.funded"
	EventUserApproved          = "user.approved"
	EventIssuerFallback        = "issuer.fallback" // an issuer was answered without the engine's decision
)

// EventTypes lists every event type.
var EventTypes = []string{
	EventTransactionAuthorized, EventTransactionSettled, EventTransactionReversed, EventTransactionRefunded, EventTransactionExpired,
	EventCardCreated, EventCardFrozen, EventCardUnfrozen, EventCardClosed,
	EventIntentDeclared, EventIntentRevealed, EventIntentMatched, EventIntentMismatched, EventIntentExpired, EventIntentCancelled,
	EventApprovalRequested, EventApprovalDecided, EventLimitExceeded, EventAccountFunded, EventUserApproved,
	EventIssuerFallback,
}

// DefaultWebhookBackoff is when a failed delivery is retried: after 5 s,
// 30 s, 2 min, 10 min and 1 h; when the fifth retry fails too, the delivery
// is marked failed.
var DefaultWebhookBackoff = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, time.Hour}

// Event is something that happened, as webhook endpoints receive it: the
// envelope {id, type, created_at, data}. Data never holds a card number,
// a CVV or a key.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// WebhookEndpoint is a URL that receives events.
type WebhookEndpoint struct {
	ID        string     `json:"id"`
	URL       string     `json:"url"`
	Events    []string   `json:"events"` // empty: every event
	CreatedAt time.Time  `json:"created_at"`
	RemovedAt *time.Time `json:"removed_at,omitempty"`
}

// NewWebhook is a freshly added endpoint with its signing secret, shown once.
type NewWebhook struct {
	WebhookEndpoint
	Secret string `json:"secret"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
	DeliveryCancelled = "cancelled" // its endpoint was removed
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID             string     `json:"id"` // DeliveryID: "<event id>:<endpoint id>"
	EventID        string     `json:"event_id"`
	EndpointID     string     `json:"endpoint_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	LastStatusCode int        `json:"last_status_code"`
	LastError      string     `json:"last_error,omitempty"`
	DeliveredAt    *time.Time `json:"delivered_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
}

// DeliveryJob is a claimed delivery with what the sender needs to make it.
type DeliveryJob struct {
	Delivery
	Event  Event
	URL    string
	Secret string
	Owner  string // the sender it is leased to
}

// emit records an event in the same transaction as the change it reports,
// so that it is never lost and never sent for a change that rolled back.
func (e *Engine) emit(tx Tx, now time.Time, typ string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return tx.InsertEvent(&Event{ID: e.newID(PrefixEvent, now), Type: typ, CreatedAt: now, Data: raw})
}

// limitCodes are the decline codes that mean a limit was hit.
var limitCodes = []string{CodeSpendLimitExceeded, CodeDailyLimitExceeded, CodeCycleLimitExceeded, CodeLifetimeLimitExceeded, CodeVelocityExceeded}

// LimitExceeded is the data of a limit.exceeded event.
type LimitExceeded struct {
	AgentID         string `json:"agent_id"`
	CardID          string `json:"card_id,omitempty"`
	AuthorizationID string `json:"authorization_id,omitempty"`
	DecisionID      string `json:"decision_id,omitempty"`
	Rule            string `json:"rule"`
	Code            string `json:"code"`
	Message         string `json:"message"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
}

// Funded is the data of an account.funded event.
type Funded struct {
	Balance
	Amount int64 `json:"amount"`
	Paper  bool  `json:"paper"` // a paper agent's virtual balance
}

// AddWebhookInput registers a webhook endpoint.
type AddWebhookInput struct {
	URL            string   `json:"url"`
	Events         []string `json:"events,omitempty"` // empty: every event
	IdempotencyKey string   `json:"-"`
}

// AddWebhook registers an endpoint and returns its signing secret, once.
// Operators only.
func (e *Engine) AddWebhook(ctx context.Context, actor Actor, in AddWebhookInput) (*NewWebhook, error) {
	if err := actor.requireRole("add webhook", RoleAdmin); err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimSpace(in.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(in.URL) > 2000 {
		return nil, invalid("url", "must be an absolute http or https URL, got %q", in.URL)
	}
	in.URL = u.String()
	if in.Events, err = normalizeList("events", in.Events, maxNameLen, strings.ToLower); err != nil {
		return nil, err
	}
	for _, t := range in.Events {
		if err := checkEventType("events", t); err != nil {
			return nil, err
		}
	}
	var out *NewWebhook
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "webhook.add", in, now, func() (*NewWebhook, error) {
			w := &NewWebhook{WebhookEndpoint: WebhookEndpoint{ID: e.newID(PrefixWebhook, now), URL: in.URL, Events: in.Events, CreatedAt: now}, Secret: newWebhookSecret()}
			if w.Events == nil {
				w.Events = []string{}
			}
			return w, tx.InsertEndpoint(&w.WebhookEndpoint, w.Secret)
		})
		return err
	})
	return out, err
}

// checkEventType fails for a string that is not an event type.
func checkEventType(field, t string) error {
	if !slices.Contains(EventTypes, t) {
		return invalid(field, "unknown event type %q; the types are %s", t, strings.Join(EventTypes, ", "))
	}
	return nil
}

func newWebhookSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("engine: crypto/rand failed: " + err.Error())
	}
	return "whsec_" + hex.EncodeToString(b)
}

// ListWebhooks returns a page of the registered endpoints (never their
// secrets), removed ones too, oldest first. Operators and viewers.
func (e *Engine) ListWebhooks(ctx context.Context, actor Actor, page Page) (List[WebhookEndpoint], error) {
	if err := actor.requireRole("list webhooks", RoleAdmin, RoleViewer); err != nil {
		return List[WebhookEndpoint]{}, err
	}
	if err := page.check(PrefixWebhook); err != nil {
		return List[WebhookEndpoint]{}, err
	}
	var out List[WebhookEndpoint]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = paginate(page, func(w *WebhookEndpoint) string { return w.ID }, func(after string, limit int) ([]*WebhookEndpoint, error) {
			return tx.ListEndpoints(EndpointFilter{After: after, Limit: limit})
		}, keepAll)
		return err
	})
	return out, err
}

// RemoveWebhookInput removes an endpoint.
type RemoveWebhookInput struct {
	EndpointID     string `json:"endpoint_id"`
	IdempotencyKey string `json:"-"`
}

// RemoveWebhook stops sending to an endpoint; its pending deliveries are
// cancelled. Operators only.
func (e *Engine) RemoveWebhook(ctx context.Context, actor Actor, in RemoveWebhookInput) (*WebhookEndpoint, error) {
	if err := actor.requireRole("remove webhook", RoleAdmin); err != nil {
		return nil, err
	}
	var out *WebhookEndpoint
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "webhook.remove", in, now, func() (*WebhookEndpoint, error) {
			w, err := tx.FindEndpoint(in.EndpointID)
			if IsNotFound(err) {
				return nil, notFound("endpoint_id", "webhook endpoint", in.EndpointID)
			} else if err != nil {
				return nil, err
			}
			if w.RemovedAt == nil {
				w.RemovedAt = &now
				err = tx.RemoveEndpoint(w.ID, now)
			}
			return w, err
		})
		return err
	})
	return out, err
}

// ListDeliveriesInput filters a listing of deliveries. Empty fields do not
// filter.
type ListDeliveriesInput struct {
	EndpointID string
	EventID    string
	Status     string
	Page       Page // StartingAfter is a delivery's id
}

// ListDeliveries returns a page of deliveries, newest event first (an
// event's deliveries by endpoint id), optionally of one endpoint or event,
// or in one status. Operators and viewers.
func (e *Engine) ListDeliveries(ctx context.Context, actor Actor, in ListDeliveriesInput) (List[Delivery], error) {
	if err := actor.requireRole("list deliveries", RoleAdmin, RoleViewer); err != nil {
		return List[Delivery]{}, err
	}
	if in.Status != "" {
		if err := checkOneOf("status", in.Status, DeliveryPending, DeliveryDelivered, DeliveryFailed, DeliveryCancelled); err != nil {
			return List[Delivery]{}, err
		}
	}
	if err := in.Page.checkLimit(); err != nil {
		return List[Delivery]{}, err
	}
	if in.Page.StartingAfter != "" && !isDeliveryID(in.Page.StartingAfter) {
		return List[Delivery]{}, invalid("starting_after", "%q is not a delivery id (%s…:%s…)", in.Page.StartingAfter, PrefixEvent, PrefixWebhook)
	}
	var out List[Delivery]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = paginate(in.Page, func(d *Delivery) string { return d.ID }, func(after string, limit int) ([]*Delivery, error) {
			return tx.ListDeliveries(DeliveryFilter{EndpointID: in.EndpointID, EventID: in.EventID, Status: in.Status, After: after, Limit: limit})
		}, keepAll)
		return err
	})
	return out, err
}

// ReplayInput sends an event again.
type ReplayInput struct {
	EventID        string `json:"event_id"`
	EndpointID     string `json:"endpoint_id,omitempty"` // default: every endpoint subscribed to it
	IdempotencyKey string `json:"-"`
}

// ReplayEvent queues an event again for delivery, to one endpoint or to
// every current endpoint subscribed to its type, as a fresh delivery with
// its attempts reset. Operators only.
func (e *Engine) ReplayEvent(ctx context.Context, actor Actor, in ReplayInput) ([]*Delivery, error) {
	if err := actor.requireRole("replay event", RoleAdmin); err != nil {
		return nil, err
	}
	var out []*Delivery
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "event.replay", in, now, func() ([]*Delivery, error) {
			return e.replay(tx, in, now)
		})
		return err
	})
	return out, err
}

// replay queues the event's deliveries afresh.
func (e *Engine) replay(tx Tx, in ReplayInput, now time.Time) ([]*Delivery, error) {
	ev, err := tx.FindEvent(in.EventID)
	if IsNotFound(err) {
		return nil, notFound("event_id", "event", in.EventID)
	} else if err != nil {
		return nil, err
	}
	endpoints, err := tx.ListEndpoints(EndpointFilter{})
	if err != nil {
		return nil, err
	}
	out := []*Delivery{}
	for _, w := range endpoints {
		switch {
		case in.EndpointID != "" && w.ID != in.EndpointID:
			continue
		case w.RemovedAt != nil:
			if in.EndpointID != "" {
				return nil, Errorf(CodeInvalidState, "webhook endpoint %s was removed", w.ID)
			}
			continue
		case in.EndpointID == "" && len(w.Events) > 0 && !slices.Contains(w.Events, ev.Type):
			continue
		}
		d := &Delivery{ID: DeliveryID(ev.ID, w.ID), EventID: ev.ID, EndpointID: w.ID, EventType: ev.Type,
			Status: DeliveryPending, NextAttemptAt: now, CreatedAt: now}
		if err := tx.PutDelivery(d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if in.EndpointID != "" && len(out) == 0 {
		return nil, notFound("endpoint_id", "webhook endpoint", in.EndpointID)
	}
	return out, nil
}

// ClaimDeliveries leases up to limit due deliveries for a sender, at most
// one per endpoint — the oldest pending one, so that each endpoint gets its
// events in order — for lease. A delivery leased by another sender is
// skipped until its lease runs out (a sender that died). Operators only.
func (e *Engine) ClaimDeliveries(ctx context.Context, actor Actor, owner string, limit int, lease time.Duration) ([]*DeliveryJob, error) {
	if err := actor.requireRole("claim deliveries", RoleAdmin); err != nil {
		return nil, err
	}
	// Senders poll; a read first keeps an idle poll from costing a write
	// transaction (and its fsync).
	var due bool
	err := e.view(ctx, func(tx Tx, now time.Time) error {
		next, err := tx.NextClaimable()
		due = next != nil && !next.After(now)
		return err
	})
	if err != nil || !due {
		return []*DeliveryJob{}, err
	}
	var out []*DeliveryJob
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = tx.ClaimDeliveries(now, owner, now.Add(lease), limit)
		return err
	})
	return out, err
}

// DeliveryResult is what happened when a sender tried a delivery.
type DeliveryResult struct {
	StatusCode int    // 0 when no response came
	Error      string // why it failed, empty on success
}

// CompleteDelivery records an attempt: a 2xx delivers; anything else is
// retried on the backoff schedule, and fails for good once it is spent.
// Operators only.
func (e *Engine) CompleteDelivery(ctx context.Context, actor Actor, job *DeliveryJob, res DeliveryResult) (*Delivery, error) {
	if err := actor.requireRole("complete delivery", RoleAdmin); err != nil {
		return nil, err
	}
	var out *Delivery
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		d := job.Delivery
		d.Attempts++
		d.LastStatusCode, d.LastError = res.StatusCode, res.Error
		switch {
		case res.StatusCode >= 200 && res.StatusCode < 300:
			d.Status, d.DeliveredAt, d.LastError = DeliveryDelivered, &now, ""
		case d.Attempts > len(e.backoff):
			d.Status = DeliveryFailed
		default:
			d.NextAttemptAt = now.Add(e.backoff[d.Attempts-1])
		}
		out = &d
		if err := tx.FinishDelivery(&d, job.Owner); IsNotFound(err) {
			out = &job.Delivery // cancelled, replayed or taken over meanwhile: this outcome does not count
			return nil
		} else if err != nil {
			return err
		}
		return nil
	})
	return out, err
}

// ListEventsInput filters a listing of events.
type ListEventsInput struct {
	Type string // empty: every type
	Page Page
}

// ListEvents returns a page of events, newest first, optionally of one
// type. Operators and viewers.
func (e *Engine) ListEvents(ctx context.Context, actor Actor, in ListEventsInput) (List[Event], error) {
	if err := actor.requireRole("list events", RoleAdmin, RoleViewer); err != nil {
		return List[Event]{}, err
	}
	if in.Type != "" {
		if err := checkEventType("type", in.Type); err != nil {
			return List[Event]{}, err
		}
	}
	if err := in.Page.check(PrefixEvent); err != nil {
		return List[Event]{}, err
	}
	var out List[Event]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = paginate(in.Page, func(ev *Event) string { return ev.ID }, func(after string, limit int) ([]*Event, error) {
			return tx.ListEvents(EventFilter{Type: in.Type, After: after, Limit: limit})
		}, keepAll)
		return err
	})
	return out, err
}
