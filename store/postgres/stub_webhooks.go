package postgres

// Stubs of the webhooks methods, replaced as they are written.

import (
	"errors"
	"time"

	"github.com/agentledger/agentledger/engine"
)

var _ = time.Now
var _ engine.Tx

var errNotWrittenWebhooks = errors.New("postgres: not written yet")

func (t *tx) InsertEvent(ev *engine.Event) error         { return errNotWrittenWebhooks }
func (t *tx) FindEvent(id string) (*engine.Event, error) { return nil, errNotWrittenWebhooks }
func (t *tx) ListEvents(f engine.EventFilter) ([]*engine.Event, error) {
	return nil, errNotWrittenWebhooks
}
func (t *tx) InsertEndpoint(w *engine.WebhookEndpoint, secret string) error {
	return errNotWrittenWebhooks
}
func (t *tx) FindEndpoint(id string) (*engine.WebhookEndpoint, error) {
	return nil, errNotWrittenWebhooks
}
func (t *tx) ListEndpoints(f engine.EndpointFilter) ([]*engine.WebhookEndpoint, error) {
	return nil, errNotWrittenWebhooks
}
func (t *tx) RemoveEndpoint(id string, at time.Time) error { return errNotWrittenWebhooks }
func (t *tx) PutDelivery(d *engine.Delivery) error         { return errNotWrittenWebhooks }
func (t *tx) ListDeliveries(f engine.DeliveryFilter) ([]*engine.Delivery, error) {
	return nil, errNotWrittenWebhooks
}
func (t *tx) ClaimDeliveries(now time.Time, owner string, until time.Time, limit int) ([]*engine.DeliveryJob, error) {
	return nil, errNotWrittenWebhooks
}
func (t *tx) NextClaimable() (*time.Time, error)                    { return nil, errNotWrittenWebhooks }
func (t *tx) FinishDelivery(d *engine.Delivery, owner string) error { return errNotWrittenWebhooks }
func (t *tx) PruneDeliveries(before time.Time, limit int) (int64, error) {
	return 0, errNotWrittenWebhooks
}
func (t *tx) PruneEvents(before time.Time, limit int) (int64, error) { return 0, errNotWrittenWebhooks }
func (t *tx) PruneIdempotency(before time.Time, limit int) (int64, error) {
	return 0, errNotWrittenWebhooks
}
func (t *tx) PendingDeliveries() (count int64, oldest *time.Time, err error) {
	return 0, nil, errNotWrittenWebhooks
}
