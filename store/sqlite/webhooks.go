package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

// InsertEvent implements engine.Tx: the event and one pending delivery per
// subscribed endpoint are written in the caller's transaction (the outbox),
// at its end: the writer inserts every event of a commit together, in a
// few multi-row statements, because nearly every write makes an event and
// a statement per event would cost the hot path a fifth of its speed.
func (t *tx) InsertEvent(ev *engine.Event) error {
	if !t.write {
		return errReadOnly
	}
	t.events = append(t.events, ev)
	return nil
}

// eventChunk bounds the rows of one multi-row statement.
const eventChunk = 64

// writeEvents inserts the queued events and their deliveries. Most
// events have no subscribed endpoint, and the writer knows the endpoints
// (writercache.go): only the events some endpoint wants are given to the
// statement that makes deliveries, which matches them again itself.
func (t *tx) writeEvents() error {
	if len(t.events) == 0 {
		return nil
	}
	subs, err := t.subscriptions()
	if err != nil {
		return err
	}
	for len(t.events) > 0 {
		chunk := t.events[:min(len(t.events), eventChunk)]
		t.events = t.events[len(chunk):]
		values := make([]any, 0, 6*len(chunk))
		var wanted []any
		for _, ev := range chunk {
			values = append(values, ev.ID, ev.Type, micros(ev.CreatedAt), t.compactEvent(ev))
			if slices.ContainsFunc(subs, func(s subscription) bool { return s.wants(ev.Type) }) {
				wanted = append(wanted, ev.ID)
			}
		}
		if _, err := t.exec(`INSERT INTO events (id, type, created_at, data) VALUES `+valueRows(len(chunk), 4),
			values...); err != nil {
			return err
		}
		if len(wanted) == 0 {
			continue
		}
		if _, err := t.exec(`INSERT INTO deliveries (endpoint_id, event_seq, status, next_attempt_at, created_at)
			SELECT w.id, e.seq, 'pending', e.created_at, e.created_at FROM events e JOIN webhook_endpoints w
				ON w.removed_at IS NULL AND (w.events = '[]' OR EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = e.type))
			WHERE e.id IN (`+inList(len(wanted))+`)`, wanted...); err != nil {
			return err
		}
	}
	t.events = nil
	t.authChecks = nil
	return nil
}

// An authorization's event is the whole object, its checks included: about
// 900 of its 1,750 bytes, the same bytes as the authorization row's checks,
// which never change. An event written in the transaction that inserts its
// authorization is stored without them, behind a header naming the
// authorization and where they go back:
//
//	@<authorization id, 40 characters><8 digits: the characters before the checks><the rest>
//
// JSON never starts with "@". Every read puts them back (eventData), so
// what is listed, and signed and sent, is byte for byte what was emitted.
// (A column would have needed ALTER TABLE, which on a STRICT table checks
// every row: minutes on a large events table. Migration 9 only moves the
// schema version, so that an older agentledger refuses the file.)
const (
	refIDLen   = len(engine.PrefixAuthorization) + 36 // txn_ and a UUID
	refDigits  = 8
	refHeadLen = 1 + refIDLen + refDigits
)

// compactEvent returns the data to store for an event: compacted as above
// when it is about an authorization the same transaction inserted and
// holds its checks verbatim (so the authorization row commits with it),
// else whole.
func (t *tx) compactEvent(ev *engine.Event) string {
	data := string(ev.Data)
	const prefix = `{"id":"` + engine.PrefixAuthorization
	// SQLite's substr counts characters as Go does only in valid UTF-8
	// (json.Marshal never writes anything else).
	if len(t.authChecks) == 0 || !strings.HasPrefix(data, prefix) || !utf8.ValidString(data) {
		return data
	}
	id, _, ok := strings.Cut(data[len(`{"id":"`):], `"`)
	checks, known := t.authChecks[id]
	if !ok || !known || len(id) != refIDLen {
		return data
	}
	i := strings.Index(data, `"checks":`+checks)
	if i < 0 {
		return data
	}
	i += len(`"checks":`)
	before := utf8.RuneCountInString(data[:i])
	if before >= 1e8 {
		return data
	}
	return fmt.Sprintf("@%s%0*d", id, refDigits, before) + data[:i] + data[i+len(checks):]
}

// eventData is an event's data as emitted: its authorization's checks put
// back where compactEvent left them out. substr counts characters; the
// header is ASCII.
var eventData = fmt.Sprintf(`CASE WHEN substr(e.data, 1, 1) <> '@' THEN e.data ELSE
	substr(e.data, %[1]d, CAST(substr(e.data, %[2]d, %[3]d) AS INTEGER)) ||
	(SELECT a.checks FROM authorizations a WHERE a.id = substr(e.data, 2, %[4]d)) ||
	substr(e.data, %[1]d + CAST(substr(e.data, %[2]d, %[3]d) AS INTEGER)) END`,
	refHeadLen+1, 2+refIDLen, refDigits, refIDLen)

var eventColumns = `e.id, e.type, e.created_at, ` + eventData

func scanEvent(s scanner) (*engine.Event, error) {
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
	return findOne(t, scanEvent, notFound("event", id), `SELECT `+eventColumns+` FROM events e WHERE e.id = ?`, id)
}

// eventBound places an event id in the commit order, for a listing newest
// first that resumes after it: the event's own seq (exact), or for an id no
// event has, the seq of the oldest event with a greater id — the events
// before it in id order are those committed before that one. With no such
// event every event is after it.
func (t *tx) eventBound(id string) (seq int64, exact bool, err error) {
	err = t.queryRow(`SELECT seq FROM events WHERE id = ?`, id).Scan(&seq)
	if err == nil || !isNoRows(err) {
		return seq, err == nil, err
	}
	// One step along the id index; min(seq) over every greater id would
	// read them all unless ANALYZE had told SQLite otherwise.
	err = t.queryRow(`SELECT seq FROM events WHERE id > ? ORDER BY id LIMIT 1`, id).Scan(&seq)
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
		seq, _, err := t.eventBound(f.After)
		if err != nil {
			return nil, err
		}
		c.And("e.seq < ?", seq)
	}
	q, args := c.Query(`SELECT `+eventColumns+` FROM events e`, "e.seq DESC", f.Limit)
	return queryList(t, scanEvent, q, args...)
}

const endpointColumns = `id, url, events, created_at, removed_at`

func scanEndpoint(s scanner) (*engine.WebhookEndpoint, error) {
	var w engine.WebhookEndpoint
	var events string
	var created int64
	var removed sql.NullInt64
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
	t.endpointsChanged()
	_, err := t.exec(`INSERT INTO webhook_endpoints (`+endpointColumns+`, secret) VALUES (?, ?, ?, ?, ?, ?)`,
		w.ID, w.URL, mustJSON(events), micros(w.CreatedAt), nullMicros(w.RemovedAt), t.db.seal.Seal([]byte(secret), []byte(w.ID)))
	return err
}

// FindEndpoint implements engine.Tx.
func (t *tx) FindEndpoint(id string) (*engine.WebhookEndpoint, error) {
	return findOne(t, scanEndpoint, notFound("webhook endpoint", id), `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ?`, id)
}

// ListEndpoints implements engine.Tx.
func (t *tx) ListEndpoints(f engine.EndpointFilter) ([]*engine.WebhookEndpoint, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.Query(`SELECT `+endpointColumns+` FROM webhook_endpoints`, "id", f.Limit)
	return queryList(t, scanEndpoint, q, args...)
}

// RemoveEndpoint implements engine.Tx.
func (t *tx) RemoveEndpoint(id string, at time.Time) error {
	t.endpointsChanged()
	if err := t.execOne(notFound("webhook endpoint", id), `UPDATE webhook_endpoints SET removed_at = ? WHERE id = ?`, micros(at), id); err != nil {
		return err
	}
	_, err := t.exec(`UPDATE deliveries SET status = 'cancelled', lease_owner = '', lease_until = 0 WHERE endpoint_id = ? AND status = 'pending'`, id)
	return err
}

// deliverySelect reads a delivery with its event's id and type.
const deliverySelect = `SELECT e.id, d.endpoint_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
	d.last_error, d.delivered_at, d.created_at FROM deliveries d JOIN events e ON e.seq = d.event_seq`

func scanDelivery(s scanner, extra ...any) (*engine.Delivery, error) {
	var d engine.Delivery
	var next, created int64
	var delivered sql.NullInt64
	dest := append([]any{&d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.Attempts, &next, &d.LastStatusCode,
		&d.LastError, &delivered, &created}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	d.NextAttemptAt, d.DeliveredAt, d.CreatedAt = fromMicros(next), timePtr(delivered), fromMicros(created)
	d.ID = engine.DeliveryID(d.EventID, d.EndpointID)
	return &d, nil
}

// PutDelivery implements engine.Tx. A delivery leased to a sender (being
// sent right now) is left alone: the replay would race the attempt.
func (t *tx) PutDelivery(d *engine.Delivery) error {
	if _, err := t.FindEndpoint(d.EndpointID); err != nil {
		return err
	}
	if _, err := t.FindEvent(d.EventID); err != nil {
		return err
	}
	return t.execOne(&engine.Error{Code: engine.CodeInvalidState, Message: "event " + d.EventID + " is being sent to " + d.EndpointID + " right now; replay it once that attempt has finished"},
		`INSERT INTO deliveries (endpoint_id, event_seq, status, attempts, next_attempt_at,
			last_status_code, last_error, delivered_at, created_at)
		SELECT ?, seq, ?, ?, ?, ?, ?, ?, ? FROM events WHERE id = ?
		ON CONFLICT (endpoint_id, event_seq) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
			next_attempt_at = excluded.next_attempt_at, last_status_code = excluded.last_status_code,
			last_error = excluded.last_error, delivered_at = excluded.delivered_at, lease_owner = '', lease_until = 0
		WHERE deliveries.lease_until <= excluded.created_at`,
		d.EndpointID, d.Status, d.Attempts, micros(d.NextAttemptAt), d.LastStatusCode, d.LastError, nullMicros(d.DeliveredAt),
		micros(d.CreatedAt), d.EventID)
}

// ListDeliveries implements engine.Tx.
func (t *tx) ListDeliveries(f engine.DeliveryFilter) ([]*engine.Delivery, error) {
	var c conditions
	if f.EndpointID != "" {
		if f.Status == engine.DeliveryFailed || f.Status == engine.DeliveryCancelled {
			// Rare statuses: deliveries_status, the endpoint a filter
			// (+), rather than walking the endpoint's whole queue for them.
			c.And("+d.endpoint_id = ?", f.EndpointID)
		} else {
			c.And("d.endpoint_id = ?", f.EndpointID)
		}
	}
	if f.EventID != "" {
		c.And("e.id = ?", f.EventID)
	}
	if f.After != "" {
		eventID, endpointID, _ := strings.Cut(f.After, ":")
		seq, exact, err := t.eventBound(eventID)
		if err != nil {
			return nil, err
		}
		if exact { // the rest of that event's deliveries, then older events'
			c.And("d.event_seq <= ? AND (d.event_seq < ? OR d.endpoint_id > ?)", seq, seq, endpointID)
		} else {
			c.And("d.event_seq < ?", seq)
		}
	}
	const order = "d.event_seq DESC, d.endpoint_id"
	scan := func(s scanner) (*engine.Delivery, error) { return scanDelivery(s) }
	if f.Status == "" && f.EndpointID == "" {
		// Every endpoint's: one read of deliveries_status per status,
		// merged (one probe per status for an event's).
		var seq int64
		scan = func(s scanner) (*engine.Delivery, error) { return scanDelivery(s, &seq) }
		q, args := c.queryByStatusMerged(deliverySelectSeq, "d.status", deliveryStatuses, order, "event_seq DESC, endpoint_id", f.Limit)
		return queryList(t, scan, q, args...)
	}
	if f.Status != "" {
		c.And(storekit.InValues("d.status", []string{f.Status}))
	}
	q, args := c.Query(deliverySelect, order, f.Limit)
	return queryList(t, scan, q, args...)
}

// deliveryStatuses are every status a delivery may have: those of
// deliveries_status.
var deliveryStatuses = []string{engine.DeliveryPending, engine.DeliveryDelivered, engine.DeliveryFailed, engine.DeliveryCancelled}

// deliverySelectSeq is deliverySelect with the event's seq, the order that
// merges reads of several statuses.
const deliverySelectSeq = `SELECT e.id, d.endpoint_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
	d.last_error, d.delivered_at, d.created_at, d.event_seq FROM deliveries d JOIN events e ON e.seq = d.event_seq`

// pendingHeads is each endpoint's oldest pending delivery: the only one of
// its queue that may be sent. The partial index answers it.
const pendingHeads = `(SELECT endpoint_id, MIN(event_seq) AS seq FROM deliveries WHERE status = 'pending' GROUP BY endpoint_id) h
	JOIN deliveries d ON d.endpoint_id = h.endpoint_id AND d.event_seq = h.seq`

// ClaimDeliveries implements engine.Tx.
func (t *tx) ClaimDeliveries(now time.Time, owner string, until time.Time, limit int) ([]*engine.DeliveryJob, error) {
	rows, err := t.query(`SELECT e.id, d.endpoint_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_status_code,
			d.last_error, d.delivered_at, d.created_at, d.event_seq, e.created_at, `+eventData+`, w.url, w.secret
		FROM `+pendingHeads+`
		JOIN events e ON e.seq = d.event_seq
		JOIN webhook_endpoints w ON w.id = d.endpoint_id
		WHERE d.next_attempt_at <= ? AND d.lease_until <= ?
		ORDER BY d.event_seq LIMIT ?`, micros(now), micros(now), limit)
	if err != nil {
		return nil, err
	}
	type claimed struct {
		job *engine.DeliveryJob
		seq int64
	}
	var list []claimed
	for rows.Next() {
		var seq, evCreated int64
		var data string
		var sealed []byte
		job := &engine.DeliveryJob{Owner: owner}
		d, err := scanDelivery(rows, &seq, &evCreated, &data, &job.URL, &sealed)
		if err != nil {
			rows.Close()
			return nil, err
		}
		secret, err := t.db.seal.Open(sealed, []byte(d.EndpointID))
		if err != nil {
			rows.Close()
			return nil, err
		}
		job.Delivery, job.Secret = *d, string(secret)
		job.Event = engine.Event{ID: d.EventID, Type: d.EventType, CreatedAt: fromMicros(evCreated), Data: json.RawMessage(data)}
		list = append(list, claimed{job, seq})
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	out := []*engine.DeliveryJob{}
	for _, c := range list {
		if _, err := t.exec(`UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE endpoint_id = ? AND event_seq = ?`,
			owner, micros(until), c.job.EndpointID, c.seq); err != nil {
			return nil, err
		}
		out = append(out, c.job)
	}
	return out, nil
}

// NextClaimable implements engine.Tx: over the heads only, since nothing
// behind a head may be sent before it.
func (t *tx) NextClaimable() (*time.Time, error) {
	var next sql.NullInt64
	if err := t.queryRow(`SELECT MIN(MAX(d.next_attempt_at, d.lease_until)) FROM ` + pendingHeads).Scan(&next); err != nil {
		return nil, err
	}
	return timePtr(next), nil
}

// FinishDelivery implements engine.Tx. Only a pending delivery still leased
// to the sender is updated: one cancelled (its endpoint removed), replayed
// or taken over by another sender (this one's lease ran out) is not.
func (t *tx) FinishDelivery(d *engine.Delivery, owner string) error {
	return t.execOne(notFound("delivery leased to "+owner, d.EventID+" to "+d.EndpointID), `UPDATE deliveries SET status = ?, attempts = ?,
			next_attempt_at = ?, last_status_code = ?, last_error = ?, delivered_at = ?, lease_owner = '', lease_until = 0
		WHERE endpoint_id = ? AND event_seq = (SELECT seq FROM events WHERE id = ?) AND status = 'pending' AND lease_owner = ?`,
		d.Status, d.Attempts, micros(d.NextAttemptAt), d.LastStatusCode, d.LastError, nullMicros(d.DeliveredAt), d.EndpointID, d.EventID, owner)
}
