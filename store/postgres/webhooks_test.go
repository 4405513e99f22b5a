package postgres_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var webhookT0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// openWebhookDB opens a fresh store with the given endpoints (id → events;
// an id ending in "removed" is removed) and returns it with its URL.
func openWebhookDB(t *testing.T, endpoints map[string][]string) (*postgres.DB, string) {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	webhookUpdate(t, db, func(tx engine.Tx) error {
		for id, events := range endpoints {
			w := &engine.WebhookEndpoint{ID: id, URL: "https://example.com/" + id, Events: events, CreatedAt: webhookT0}
			if err := tx.InsertEndpoint(w, "secret-"+id); err != nil {
				return err
			}
			if len(id) > 7 && id[len(id)-7:] == "removed" {
				if err := tx.RemoveEndpoint(id, webhookT0); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return db, url
}

func webhookUpdate(t *testing.T, db *postgres.DB, fn func(engine.Tx) error) {
	t.Helper()
	require.NoError(t, db.Update(context.Background(), fn))
}

func webhookEvent(id, typ string, at time.Time) *engine.Event {
	return &engine.Event{ID: id, Type: typ, CreatedAt: at, Data: json.RawMessage(`{"id":"` + id + `"}`)}
}

func deliveryIDs(ds []*engine.Delivery) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func jobIDs(jobs []*engine.DeliveryJob) []string {
	out := []string{}
	for _, j := range jobs {
		out = append(out, j.ID)
	}
	return out
}

func TestWebhookSubscriptions(t *testing.T) {
	db, _ := openWebhookDB(t, map[string][]string{
		"whk_all":     nil,
		"whk_cards":   {engine.EventCardCreated, engine.EventCardClosed},
		"whk_txns":    {engine.EventTransactionAuthorized},
		"whk_removed": nil,
	})
	webhookUpdate(t, db, func(tx engine.Tx) error {
		for _, ev := range []*engine.Event{
			webhookEvent("evt_1", engine.EventCardCreated, webhookT0),
			webhookEvent("evt_2", engine.EventTransactionAuthorized, webhookT0),
			webhookEvent("evt_3", engine.EventAccountFunded, webhookT0),
		} {
			if err := tx.InsertEvent(ev); err != nil {
				return err
			}
		}
		return nil
	})
	want := map[string][]string{
		"evt_1": {"evt_1:whk_all", "evt_1:whk_cards"},
		"evt_2": {"evt_2:whk_all", "evt_2:whk_txns"},
		"evt_3": {"evt_3:whk_all"},
	}
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		for ev, ids := range want {
			ds, err := tx.ListDeliveries(engine.DeliveryFilter{EventID: ev})
			require.NoError(t, err)
			assert.Equal(t, ids, deliveryIDs(ds), ev)
			for _, d := range ds {
				assert.Equal(t, engine.DeliveryPending, d.Status)
				assert.Equal(t, webhookT0, d.NextAttemptAt)
			}
		}
		ev, err := tx.FindEvent("evt_2")
		require.NoError(t, err)
		assert.Equal(t, webhookEvent("evt_2", engine.EventTransactionAuthorized, webhookT0), ev)
		_, err = tx.FindEvent("evt_9")
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
		w, err := tx.FindEndpoint("whk_cards")
		require.NoError(t, err)
		assert.Equal(t, []string{engine.EventCardCreated, engine.EventCardClosed}, w.Events)
		assert.Nil(t, w.RemovedAt)
		n, oldest, err := tx.PendingDeliveries()
		require.NoError(t, err)
		assert.Equal(t, int64(5), n)
		assert.Equal(t, webhookT0, *oldest)
		return nil
	}))
}

func TestWebhookListings(t *testing.T) {
	db, _ := openWebhookDB(t, map[string][]string{"whk_a": nil, "whk_b": nil})
	webhookUpdate(t, db, func(tx engine.Tx) error {
		// Ids out of commit order: listings follow seq.
		for _, id := range []string{"evt_2", "evt_1", "evt_4"} {
			if err := tx.InsertEvent(webhookEvent(id, engine.EventCardCreated, webhookT0)); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		filter engine.DeliveryFilter
		want   []string
	}{
		{engine.DeliveryFilter{}, []string{
			"evt_4:whk_a", "evt_4:whk_b", "evt_1:whk_a", "evt_1:whk_b", "evt_2:whk_a", "evt_2:whk_b"}},
		{engine.DeliveryFilter{After: "evt_1:whk_a"}, []string{"evt_1:whk_b", "evt_2:whk_a", "evt_2:whk_b"}},
		// evt_3 is placed before evt_4, the oldest event of a greater id.
		{engine.DeliveryFilter{After: "evt_3:whk_a", Limit: 1}, []string{"evt_1:whk_a"}},
		{engine.DeliveryFilter{EndpointID: "whk_b", Limit: 2}, []string{"evt_4:whk_b", "evt_1:whk_b"}},
		{engine.DeliveryFilter{Status: engine.DeliveryDelivered}, []string{}},
		{engine.DeliveryFilter{Status: "bogus'"}, []string{}},
	}
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		for _, c := range cases {
			ds, err := tx.ListDeliveries(c.filter)
			require.NoError(t, err)
			assert.Equal(t, c.want, deliveryIDs(ds), "%+v", c.filter)
		}
		evs, err := tx.ListEvents(engine.EventFilter{After: "evt_0"})
		require.NoError(t, err)
		require.Len(t, evs, 1) // evt_0 is placed before evt_1, the oldest event of a greater id
		assert.Equal(t, "evt_2", evs[0].ID)
		evs, err = tx.ListEvents(engine.EventFilter{After: "evt_4", Type: engine.EventCardCreated})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		assert.Equal(t, "evt_1", evs[0].ID)
		ws, err := tx.ListEndpoints(engine.EndpointFilter{After: "whk_a"})
		require.NoError(t, err)
		require.Len(t, ws, 1)
		assert.Equal(t, "whk_b", ws[0].ID)
		_, err = tx.ClaimDeliveries(webhookT0, "s1", webhookT0.Add(time.Minute), 10)
		assert.Error(t, err, "a View cannot lease")
		return nil
	}))
}

func TestWebhookClaimsKeepEachEndpointInOrder(t *testing.T) {
	db, _ := openWebhookDB(t, map[string][]string{"whk_a": nil, "whk_b": nil})
	webhookUpdate(t, db, func(tx engine.Tx) error {
		for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
			if err := tx.InsertEvent(webhookEvent(id, engine.EventCardCreated, webhookT0)); err != nil {
				return err
			}
		}
		return nil
	})
	now, lease := webhookT0.Add(time.Second), webhookT0.Add(time.Minute)
	claim := func(at time.Time, owner string, limit int) []*engine.DeliveryJob {
		var jobs []*engine.DeliveryJob
		webhookUpdate(t, db, func(tx engine.Tx) error {
			var err error
			jobs, err = tx.ClaimDeliveries(at, owner, lease, limit)
			return err
		})
		return jobs
	}
	jobs := claim(now, "s1", 10)
	require.Equal(t, []string{"evt_1:whk_a", "evt_1:whk_b"}, jobIDs(jobs))
	assert.Equal(t, "secret-whk_a", jobs[0].Secret)
	assert.Equal(t, "https://example.com/whk_a", jobs[0].URL)
	assert.Equal(t, "s1", jobs[0].Owner)
	assert.JSONEq(t, `{"id":"evt_1"}`, string(jobs[0].Event.Data))
	assert.Empty(t, jobIDs(claim(now, "s1", 10)), "the heads are leased")

	// whk_a's head is retried later: nothing behind it is sent before it.
	retry := jobs[0].Delivery
	retry.Attempts, retry.NextAttemptAt = 1, webhookT0.Add(time.Hour)
	done := jobs[1].Delivery
	done.Attempts, done.Status, done.DeliveredAt = 1, engine.DeliveryDelivered, &now
	webhookUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.FinishDelivery(&retry, "s1"))
		return tx.FinishDelivery(&done, "s1")
	})
	assert.Equal(t, []string{"evt_2:whk_b"}, jobIDs(claim(now, "s1", 10)))
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		next, err := tx.NextClaimable()
		require.NoError(t, err)
		assert.Equal(t, lease, *next, "whk_b's lease ends before whk_a's retry")
		return nil
	}))
	assert.Equal(t, []string{"evt_1:whk_a"}, jobIDs(claim(webhookT0.Add(2*time.Hour), "s1", 1)), "the limit")
}

func TestWebhookLeaseOfAnotherOwner(t *testing.T) {
	db, _ := openWebhookDB(t, map[string][]string{"whk_a": nil})
	webhookUpdate(t, db, func(tx engine.Tx) error {
		return tx.InsertEvent(webhookEvent("evt_1", engine.EventCardCreated, webhookT0))
	})
	lease := webhookT0.Add(time.Minute)
	var first, taken []*engine.DeliveryJob
	webhookUpdate(t, db, func(tx engine.Tx) error {
		var err error
		first, err = tx.ClaimDeliveries(webhookT0, "s1", lease, 10)
		require.NoError(t, err)
		none, err := tx.ClaimDeliveries(webhookT0.Add(time.Second), "s2", lease, 10)
		require.NoError(t, err)
		assert.Empty(t, none)
		// A replay while it is being sent is refused, and the transaction goes on.
		d := first[0].Delivery
		d.CreatedAt = webhookT0.Add(time.Second)
		assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(tx.PutDelivery(&d)))
		d.EventID = "evt_9"
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(tx.PutDelivery(&d)))
		return nil
	})
	require.Len(t, first, 1)
	// s1's lease ran out; s2 takes the delivery over.
	webhookUpdate(t, db, func(tx engine.Tx) error {
		var err error
		taken, err = tx.ClaimDeliveries(lease, "s2", lease.Add(time.Minute), 10)
		return err
	})
	require.Len(t, taken, 1)
	d := first[0].Delivery
	d.Status, d.Attempts = engine.DeliveryDelivered, 1
	webhookUpdate(t, db, func(tx engine.Tx) error {
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(tx.FinishDelivery(&d, "s1")))
		return tx.FinishDelivery(&d, "s2")
	})
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		ds, err := tx.ListDeliveries(engine.DeliveryFilter{Status: engine.DeliveryDelivered})
		require.NoError(t, err)
		assert.Equal(t, []string{"evt_1:whk_a"}, deliveryIDs(ds))
		next, err := tx.NextClaimable()
		require.NoError(t, err)
		assert.Nil(t, next)
		n, oldest, err := tx.PendingDeliveries()
		require.NoError(t, err)
		assert.Zero(t, n)
		assert.Nil(t, oldest)
		return nil
	}))
	// A replay starts afresh but keeps the creation time; removing the
	// endpoint cancels it.
	replay := &engine.Delivery{EventID: "evt_1", EndpointID: "whk_a", Status: engine.DeliveryPending,
		NextAttemptAt: lease.Add(time.Hour), CreatedAt: lease.Add(time.Hour)}
	webhookUpdate(t, db, func(tx engine.Tx) error { return tx.PutDelivery(replay) })
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		ds, err := tx.ListDeliveries(engine.DeliveryFilter{EndpointID: "whk_a"})
		require.NoError(t, err)
		require.Len(t, ds, 1)
		assert.Equal(t, engine.DeliveryPending, ds[0].Status)
		assert.Zero(t, ds[0].Attempts)
		assert.Equal(t, webhookT0, ds[0].CreatedAt)
		return nil
	}))
	webhookUpdate(t, db, func(tx engine.Tx) error { return tx.RemoveEndpoint("whk_a", lease) })
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		ds, err := tx.ListDeliveries(engine.DeliveryFilter{Status: engine.DeliveryCancelled})
		require.NoError(t, err)
		assert.Len(t, ds, 1)
		return nil
	}))
	webhookUpdate(t, db, func(tx engine.Tx) error {
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(tx.RemoveEndpoint("whk_x", lease)))
		return nil
	})
}

func TestWebhookPruning(t *testing.T) {
	db, url := openWebhookDB(t, map[string][]string{"whk_a": nil})
	webhookUpdate(t, db, func(tx engine.Tx) error {
		for i, id := range []string{"evt_1", "evt_2", "evt_3", "evt_4"} {
			at := webhookT0.Add(time.Duration(i) * time.Hour)
			if err := tx.InsertEvent(webhookEvent(id, engine.EventCardCreated, at)); err != nil {
				return err
			}
		}
		return nil
	})
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	// evt_3 stays pending; the others were delivered.
	_, err = conn.Exec(context.Background(), `UPDATE deliveries SET status = 'delivered'
		WHERE event_seq <> (SELECT seq FROM events WHERE id = 'evt_3')`)
	require.NoError(t, err)
	for i := range 3 {
		_, err = conn.Exec(context.Background(), `INSERT INTO idempotency
			(scope, key, operation, request_hash, response, created_at) VALUES ('s', $1, 'op', 'h', '\x00', $2)`,
			string(rune('a'+i)), webhookT0.Add(time.Duration(i)*time.Hour).UnixMicro())
		require.NoError(t, err)
	}
	before := webhookT0.Add(150 * time.Minute) // after evt_1..evt_3, before evt_4
	prune := func(f func(engine.Tx) (int64, error)) int64 {
		var n int64
		webhookUpdate(t, db, func(tx engine.Tx) error {
			var err error
			n, err = f(tx)
			return err
		})
		return n
	}
	deliveries := func(limit int) func(engine.Tx) (int64, error) {
		return func(tx engine.Tx) (int64, error) { return tx.PruneDeliveries(before, limit) }
	}
	events := func(limit int) func(engine.Tx) (int64, error) {
		return func(tx engine.Tx) (int64, error) { return tx.PruneEvents(before, limit) }
	}
	idempotency := func(limit int) func(engine.Tx) (int64, error) {
		return func(tx engine.Tx) (int64, error) { return tx.PruneIdempotency(webhookT0.Add(90*time.Minute), limit) }
	}
	assert.Zero(t, prune(events(10)), "every event has a delivery")
	assert.Equal(t, int64(1), prune(deliveries(1)))
	assert.Equal(t, int64(1), prune(deliveries(10)), "evt_3's is pending, evt_4's too new")
	assert.Zero(t, prune(deliveries(10)))
	assert.Equal(t, int64(1), prune(events(1)))
	assert.Equal(t, int64(1), prune(events(10)))
	assert.Zero(t, prune(events(10)))
	assert.Equal(t, int64(1), prune(idempotency(1)))
	assert.Equal(t, int64(1), prune(idempotency(10)))
	assert.Zero(t, prune(idempotency(10)))
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		evs, err := tx.ListEvents(engine.EventFilter{})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		assert.Equal(t, "evt_4", evs[0].ID)
		assert.Equal(t, "evt_3", evs[1].ID)
		return nil
	}))
}
