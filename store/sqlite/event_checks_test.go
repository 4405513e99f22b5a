package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingStore keeps every event the engine emits, as it emitted it.
type recordingStore struct {
	engine.Store
	mu      sync.Mutex
	emitted map[string]string
}

type recordingTx struct {
	engine.Tx
	s *recordingStore
}

func (s *recordingStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.Update(ctx, func(tx engine.Tx) error { return fn(recordingTx{tx, s}) })
}

func (s *recordingStore) UpdateCharge(ctx context.Context, ref engine.CardRef, fn func(engine.Tx) error) error {
	return s.Store.UpdateCharge(ctx, ref, func(tx engine.Tx) error { return fn(recordingTx{tx, s}) })
}

func (t recordingTx) InsertEvent(ev *engine.Event) error {
	t.s.mu.Lock()
	t.s.emitted[ev.ID] = string(ev.Data)
	t.s.mu.Unlock()
	return t.Tx.InsertEvent(ev)
}

// An authorization's event leaves its checks in the authorization's row
// (webhooks.go) and reads back byte for byte as emitted — listed, found or
// claimed for delivery — with characters of several bytes before and inside
// the checks, approved and declined, alone and in group commits; events
// about older authorizations (a settlement) keep their data whole.
func TestEventsReadBackAsEmitted(t *testing.T) {
	env := sqlitetest.New(t)
	store := &recordingStore{Store: env.DB, emitted: map[string]string{}}
	eng := engine.New(store, engine.Options{Clock: env.Clock})
	_, _, card := env.Setup(1_000_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false),
		SpendLimits: engine.SpendLimits{PerTransactionLimit: sqlitetest.Ptr[int64](50_000)}})
	_, err := eng.AddWebhook(env.Ctx, engine.Operator, engine.AddWebhookInput{URL: "https://example.com/hook"})
	require.NoError(t, err)

	charge := func(amount int64, merchant string) *engine.Authorization {
		a, err := eng.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: amount, Currency: "USD",
			Merchant: engine.Merchant{Name: merchant, MCC: "5814"}})
		require.NoError(t, err)
		return a
	}
	first := charge(100, "Café ☕ Zürich") // checks say "card ····4242", "$1.00 ≤ $500.00"
	assert.Equal(t, engine.AuthDeclined, charge(60_000, "Ünïcode ✓").Status)
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			_, err := eng.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: int64(100 + i),
				Currency: "USD", Merchant: engine.Merchant{Name: "Bäckerei №" + string(rune('0'+i%10))}})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	_, err = eng.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: first.ID})
	require.NoError(t, err)

	raw, err := sql.Open("sqlite", "file:"+env.Path+"?mode=ro")
	require.NoError(t, err)
	defer raw.Close()
	var compacted, whole, stored, full int
	require.NoError(t, raw.QueryRow(`SELECT count(*) FILTER (WHERE data LIKE '@%'), count(*) FILTER (WHERE data NOT LIKE '@%'),
		sum(length(CAST(data AS BLOB))) FROM events`).Scan(&compacted, &whole, &stored))
	for _, d := range store.emitted {
		full += len(d)
	}
	assert.GreaterOrEqual(t, compacted, 26, "every new authorization's event refers to its checks")
	assert.Positive(t, whole, "the settlement, the endpoint")
	assert.Less(t, float64(stored), 0.7*float64(full), "stored %d bytes of %d emitted", stored, full)

	listed, err := eng.ListEvents(env.Ctx, engine.Operator, engine.ListEventsInput{Page: engine.Page{Limit: 100}})
	require.NoError(t, err)
	matched := 0
	for _, ev := range listed.Items {
		if _, ok := store.emitted[ev.ID]; !ok {
			continue // the set-up's, emitted by another engine
		}
		matched++
		require.Equal(t, store.emitted[ev.ID], string(ev.Data), "listed %s %s", ev.Type, ev.ID)
		require.NoError(t, env.DB.View(env.Ctx, func(tx engine.Tx) error {
			found, err := tx.FindEvent(ev.ID)
			if err == nil {
				require.Equal(t, store.emitted[ev.ID], string(found.Data), "found %s", ev.ID)
			}
			return err
		}))
	}
	require.Equal(t, len(store.emitted), matched)
	jobs := 0
	for {
		var claimed []*engine.DeliveryJob
		require.NoError(t, env.DB.Update(env.Ctx, func(tx engine.Tx) error {
			var err error
			claimed, err = tx.ClaimDeliveries(env.Clock.Now(), "test", env.Clock.Now().Add(time.Minute), 10)
			for _, j := range claimed {
				j.Delivery.Status = engine.DeliveryDelivered
				if err == nil {
					err = tx.FinishDelivery(&j.Delivery, "test")
				}
			}
			return err
		}))
		if len(claimed) == 0 {
			break
		}
		for _, j := range claimed {
			jobs++
			require.Equal(t, store.emitted[j.Event.ID], string(j.Event.Data), "claimed %s", j.Event.ID)
		}
	}
	assert.Equal(t, len(store.emitted), jobs, "every event, delivered as emitted")
}

// Data that is not valid UTF-8 (the engine never emits it) is kept whole:
// SQLite would count its characters differently.
func TestAnEventThatIsNotUTF8IsKeptWhole(t *testing.T) {
	env := sqlitetest.New(t)
	user, _, card := env.Setup(1_000_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	now, id := env.Clock.Now(), "txn_01900000-0000-7000-8000-000000000001"
	a := &engine.Authorization{ID: id, Kind: engine.KindCharge, CardID: card.ID, AgentID: card.AgentID, UserID: user.ID,
		Status: engine.AuthDeclined, Reason: "r", Amount: 1, Currency: "USD", NetworkID: "n1",
		Checks: []engine.Check{{Rule: "r", Result: "fail", Message: "m"}}, RiskSignals: []engine.RiskSignal{},
		CreatedAt: now, UpdatedAt: now}
	checks, err := json.Marshal(a.Checks)
	require.NoError(t, err)
	data := `{"id":"` + id + `","m":"` + "\xe2\x82 bad" + `","checks":` + string(checks) + `}`
	ev := &engine.Event{ID: "evt_01900000-0000-7000-8000-000000000001", Type: engine.EventTransactionAuthorized,
		CreatedAt: now, Data: json.RawMessage(data)}
	require.NoError(t, env.DB.Update(env.Ctx, func(tx engine.Tx) error {
		if err := tx.InsertAuthorization(a); err != nil {
			return err
		}
		return tx.InsertEvent(ev)
	}))
	require.NoError(t, env.DB.View(env.Ctx, func(tx engine.Tx) error {
		got, err := tx.FindEvent(ev.ID)
		if err == nil {
			assert.Equal(t, data, string(got.Data))
		}
		return err
	}))
}
