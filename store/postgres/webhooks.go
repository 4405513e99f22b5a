package postgres

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

// InsertEvent implements engine.Tx: the event and one pending delivery per
// subscribed endpoint (the outbox) in one statement, sent with the next
// (pipeline.go). seq numbers events as they are written (locks.go says in
// what order). An endpoint's events column is a JSON array of types, []
// meaning every type.
func (t *tx) InsertEvent(ev *engine.Event) error {
	created := micros(ev.CreatedAt)
	return t.execLater(`WITH e AS (
			INSERT INTO events (id, type, created_at, data) VALUES ($1, $2, $3, $4) RETURNING seq)
		INSERT INTO deliveries (endpoint_id, event_seq, status, next_attempt_at, created_at)
		SELECT w.id, e.seq, 'pending', $3, $3 FROM e CROSS JOIN webhook_endpoints w
		WHERE w.removed_at IS NULL
			AND (jsonb_array_length(w.events::jsonb) = 0 OR w.events::jsonb @> to_jsonb($2::text))`,
		ev.ID, ev.Type, created, string(ev.Data))
}

const webhookEventColumns = `e.id, e.type, e.created_at, e.data`

func scanWebhookEvent(s scanner) (*engine.Event, error) {
	var ev engine.Event
	var created int64
	var data string
	if err := s.Scan(&ev.ID, &ev.Type, &created, &data); err != nil {
		return nil, err
	}
	ev.CreatedAt, ev.Data = fromMicros(created), json.RawMessage(data)
	return &ev, nil
}

// FindEvent implements engine.Tx.
func (t *tx) FindEvent(id string) (*engine.Event, error) {
	return findOne(t, scanWebhookEvent, notFound("event", id),
		`SELECT `+webhookEventColumns+` FROM events e WHERE e.id = $1`, id)
}

// webhookEventBound places an event id in the order of seq, for a listing
// newest first that resumes after it: the event's own seq (exact), or for
// an id no event has (pruned), the seq of the oldest event with a greater
// id — ids begin with their creation time, so the events before it in id
// order were numbered before that one, but for charges of different users
// made at the same moment (locks.go). With no such event every event is
// after it.
func (t *tx) webhookEventBound(id string) (seq int64, exact bool, err error) {
	err = t.queryRow(`SELECT seq FROM events WHERE id = $1`, id).Scan(&seq)
	if err == nil || !isNoRows(err) {
		return seq, err == nil, err
	}
	err = t.queryRow(`SELECT seq FROM events WHERE id > $1 ORDER BY id LIMIT 1`, id).Scan(&seq)
	if isNoRows(err) {
		return math.MaxInt64, false, nil
	}
	return seq, false, err
}

// ListEvents implements engine.Tx.
func (t *tx) ListEvents(f engine.EventFilter) ([]*engine.Event, error) {
	var c conditions
	if f.Type != "" {
		c.And("e.type = ?", f.Type)
	}
	if f.After != "" {
		seq, _, err := t.webhookEventBound(f.After)
		if err != nil {
			return nil, err
		}
		c.And("e.seq < ?", seq)
	}
	q, args := c.query(`SELECT `+webhookEventColumns+` FROM events e`, "e.seq DESC", f.Limit)
	return queryList(t, scanWebhookEvent, q, args...)
}

const endpointColumns = `id, url, events, created_at, removed_at`

func scanEndpoint(s scanner) (*engine.WebhookEndpoint, error) {
	var w engine.WebhookEndpoint
	var events string
	var created int64
	var removed *int64
	if err := s.Scan(&w.ID, &w.URL, &events, &created, &removed); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, err
	}
	w.CreatedAt, w.RemovedAt = fromMicros(created), timePtr(removed)
	return &w, nil
}

// InsertEndpoint implements engine.Tx. The signing secret is sealed, bound
// to the endpoint id.
func (t *tx) InsertEndpoint(w *engine.WebhookEndpoint, secret string) error {
	events := w.Events
	if events == nil {
		events = []string{}
	}
	_, err := t.exec(`INSERT INTO webhook_endpoints (`+endpointColumns+`, secret) VALUES ($1, $2, $3, $4, $5, $6)`,
		w.ID, w.URL, mustJSON(events), micros(w.CreatedAt), nullMicros(w.RemovedAt),
		t.db.seal.Seal([]byte(secret), []byte(w.ID)))
	return err
}

// FindEndpoint implements engine.Tx.
func (t *tx) FindEndpoint(id string) (*engine.WebhookEndpoint, error) {
	return findOne(t, scanEndpoint, notFound("webhook endpoint", id),
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, id)
}

// ListEndpoints implements engine.Tx.
func (t *tx) ListEndpoints(f engine.EndpointFilter) ([]*engine.WebhookEndpoint, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.query(`SELECT `+endpointColumns+` FROM webhook_endpoints`, "id", f.Limit)
	return queryList(t, scanEndpoint, q, args...)
}

// RemoveEndpoint implements engine.Tx.
func (t *tx) RemoveEndpoint(id string, at time.Time) error {
	if err := t.execOne(notFound("webhook endpoint", id),
		`UPDATE webhook_endpoints SET removed_at = $1 WHERE id = $2`, micros(at), id); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE deliveries SET status = 'cancelled', lease_owner = '', lease_until = 0
		WHERE endpoint_id = $1 AND status = 'pending'`, id)
	return err
}

// deliveryColumns are a delivery with its event's id and type, over
// deliveries d JOIN events e.
const deliveryColumns = `e.id, d.endpoint_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
	d.last_error, d.delivered_at, d.created_at`

func scanDelivery(s scanner, extra ...any) (*engine.Delivery, error) {
	var d engine.Delivery
	var next, created, attempts, code int64
	var delivered *int64
	dest := append([]any{&d.EventID, &d.EndpointID, &d.EventType, &d.Status, &attempts, &next, &code,
		&d.LastError, &delivered, &created}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	d.Attempts, d.LastStatusCode = int(attempts), int(code)
	d.NextAttemptAt, d.DeliveredAt, d.CreatedAt = fromMicros(next), timePtr(delivered), fromMicros(created)
	d.ID = engine.DeliveryID(d.EventID, d.EndpointID)
	return &d, nil
}

// PutDelivery implements engine.Tx. A delivery leased to a sender (being
// sent right now) is left alone: the replay would race the attempt. A
// replaced delivery keeps its creation time.
func (t *tx) PutDelivery(d *engine.Delivery) error {
	if _, err := t.FindEndpoint(d.EndpointID); err != nil {
		return err
	}
	if _, err := t.FindEvent(d.EventID); err != nil {
		return err
	}
	busy := &engine.Error{Code: engine.CodeInvalidState, Message: "event " + d.EventID + " is being sent to " +
		d.EndpointID + " right now; replay it once that attempt has finished"}
	return t.execOne(busy, `INSERT INTO deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at,
			last_status_code, last_error, delivered_at, created_at)
		SELECT $1, seq, $2, $3, $4, $5, $6, $7, $8 FROM events WHERE id = $9
		ON CONFLICT (endpoint_id, event_seq) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
			next_attempt_at = excluded.next_attempt_at, last_status_code = excluded.last_status_code,
			last_error = excluded.last_error, delivered_at = excluded.delivered_at, lease_owner = '', lease_until = 0
		WHERE deliveries.lease_until <= excluded.created_at`,
		d.EndpointID, d.Status, int64(d.Attempts), micros(d.NextAttemptAt), int64(d.LastStatusCode), d.LastError,
		nullMicros(d.DeliveredAt), micros(d.CreatedAt), d.EventID)
}

// ListDeliveries implements engine.Tx: newest event first, an event's
// deliveries by endpoint id.
func (t *tx) ListDeliveries(f engine.DeliveryFilter) ([]*engine.Delivery, error) {
	var c conditions
	if f.EndpointID != "" {
		c.And("d.endpoint_id = ?", f.EndpointID)
	}
	if f.EventID != "" {
		c.And("e.id = ?", f.EventID)
	}
	if f.Status != "" {
		c.And(storekit.InValues("d.status", []string{f.Status}))
	}
	if f.After != "" {
		eventID, endpointID, _ := strings.Cut(f.After, ":")
		seq, exact, err := t.webhookEventBound(eventID)
		if err != nil {
			return nil, err
		}
		if exact { // the rest of that event's deliveries, then older events'
			c.And("d.event_seq <= ? AND (d.event_seq < ? OR d.endpoint_id > ?)", seq, seq, endpointID)
		} else {
			c.And("d.event_seq < ?", seq)
		}
	}
	q, args := c.query(`SELECT `+deliveryColumns+` FROM deliveries d JOIN events e ON e.seq = d.event_seq`,
		"d.event_seq DESC, d.endpoint_id", f.Limit)
	return queryList(t, func(s scanner) (*engine.Delivery, error) { return scanDelivery(s) }, q, args...)
}

// pendingHeads is each endpoint's oldest pending delivery, the only one of
// its queue that may be sent: one probe of deliveries_pending per endpoint
// (endpoints are few), where grouping every pending row would read a whole
// backlog. The endpoint is matched as a range, ordered by (endpoint_id,
// event_seq), because with an equality the planner prefers deliveries_status
// and walks every pending row of the other endpoints before this one's.
const pendingHeads = `webhook_endpoints hw CROSS JOIN LATERAL (
		SELECT endpoint_id, event_seq, next_attempt_at, lease_until FROM deliveries
		WHERE endpoint_id >= hw.id AND endpoint_id <= hw.id AND status = 'pending'
		ORDER BY endpoint_id, event_seq LIMIT 1) h`

// webhooksLimit is a LIMIT parameter: NULL (no limit) for a negative one,
// as SQLite reads LIMIT -1.
func webhooksLimit(limit int) *int64 {
	if limit < 0 {
		return nil
	}
	v := int64(limit)
	return &v
}

// ClaimDeliveries implements engine.Tx. The lease columns are what keeps
// servers from sending the same delivery: a head leased until later is
// skipped, whoever holds it. Claims run in Update, one at a time.
func (t *tx) ClaimDeliveries(now time.Time, owner string, until time.Time, limit int) ([]*engine.DeliveryJob, error) {
	if !t.write {
		return nil, errReadOnly
	}
	// The final SELECT reads the rows as they were before the lease was
	// written (one snapshot per statement), which changes no column it reads.
	rows, err := t.query(`WITH heads AS (
			SELECT h.endpoint_id, h.event_seq FROM `+pendingHeads+`
			WHERE h.next_attempt_at <= $1 AND h.lease_until <= $1
			ORDER BY h.event_seq, h.endpoint_id LIMIT $2),
		leased AS (
			UPDATE deliveries d SET lease_owner = $3, lease_until = $4 FROM heads
			WHERE d.endpoint_id = heads.endpoint_id AND d.event_seq = heads.event_seq)
		SELECT `+deliveryColumns+`, e.created_at, e.data, w.url, w.secret
		FROM heads
		JOIN deliveries d ON d.endpoint_id = heads.endpoint_id AND d.event_seq = heads.event_seq
		JOIN events e ON e.seq = d.event_seq
		JOIN webhook_endpoints w ON w.id = d.endpoint_id
		ORDER BY d.event_seq, d.endpoint_id`, micros(now), webhooksLimit(limit), owner, micros(until))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*engine.DeliveryJob{}
	for rows.Next() {
		var evCreated int64
		var data string
		var sealed []byte
		job := &engine.DeliveryJob{Owner: owner}
		d, err := scanDelivery(rows, &evCreated, &data, &job.URL, &sealed)
		if err != nil {
			return nil, t.note(err)
		}
		secret, err := t.db.seal.Open(sealed, []byte(d.EndpointID))
		if err != nil {
			return nil, err
		}
		job.Delivery, job.Secret = *d, string(secret)
		job.Event = engine.Event{ID: d.EventID, Type: d.EventType, CreatedAt: fromMicros(evCreated),
			Data: json.RawMessage(data)}
		out = append(out, job)
	}
	if err := t.note(rows.Err()); err != nil {
		return nil, err
	}
	return out, nil
}

// NextClaimable implements engine.Tx: over the heads only, since nothing
// behind a head may be sent before it.
func (t *tx) NextClaimable() (*time.Time, error) {
	var next *int64
	if err := t.queryRow(`SELECT MIN(GREATEST(h.next_attempt_at, h.lease_until)) FROM ` + pendingHeads).
		Scan(&next); err != nil {
		return nil, err
	}
	return timePtr(next), nil
}

// FinishDelivery implements engine.Tx. Only a pending delivery still leased
// to the sender is updated: one cancelled (its endpoint removed), replayed
// or taken over by another sender (this one's lease ran out) is not.
func (t *tx) FinishDelivery(d *engine.Delivery, owner string) error {
	return t.execOne(notFound("delivery leased to "+owner, d.EventID+" to "+d.EndpointID),
		`UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status_code = $4,
			last_error = $5, delivered_at = $6, lease_owner = '', lease_until = 0
		WHERE endpoint_id = $7 AND event_seq = (SELECT seq FROM events WHERE id = $8)
			AND status = 'pending' AND lease_owner = $9`,
		d.Status, int64(d.Attempts), micros(d.NextAttemptAt), int64(d.LastStatusCode), d.LastError,
		nullMicros(d.DeliveredAt), d.EndpointID, d.EventID, owner)
}

// PendingDeliveries implements engine.Tx: the oldest is the first pending
// row of deliveries_status in event order.
func (t *tx) PendingDeliveries() (int64, *time.Time, error) {
	var n int64
	var oldest *int64
	err := t.queryRow(`SELECT COUNT(*),
			(SELECT created_at FROM deliveries WHERE status = 'pending' ORDER BY event_seq LIMIT 1)
		FROM deliveries WHERE status = 'pending'`).Scan(&n, &oldest)
	return n, timePtr(oldest), err
}
