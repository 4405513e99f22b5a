package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/webhook"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiver is an operator's webhook endpoint on loopback: it verifies every
// delivery's signature as a real receiver must, and answers with the codes
// it is told to (then 200).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu       sync.Mutex
	answers  []int // status codes to answer first, in order
	delay    time.Duration
	received []engine.Event // every delivery, including failed ones
	ok       []string       // ids of deliveries answered 2xx
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	require.NoError(r.t, err)
	r.mu.Lock()
	secret, delay := r.secret, r.delay
	r.mu.Unlock()
	if err := webhook.Verify(secret, req.Header.Get(webhook.SignatureHeader), body, 5*time.Minute, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev engine.Event
	require.NoError(r.t, json.Unmarshal(body, &ev))
	assert.Equal(r.t, ev.Type, req.Header.Get(webhook.EventHeader))
	assert.Equal(r.t, ev.ID, req.Header.Get(webhook.EventIDHeader))
	assert.Equal(r.t, "application/json", req.Header.Get("Content-Type"))
	time.Sleep(delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received = append(r.received, ev)
	code := http.StatusOK
	if len(r.answers) > 0 {
		code, r.answers = r.answers[0], r.answers[1:]
	}
	if code < 300 {
		r.ok = append(r.ok, ev.ID)
	}
	w.WriteHeader(code)
}

func (r *receiver) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ok)
}

func (r *receiver) attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

// setup is an engine with one endpoint pointing at a fresh receiver.
func setup(t *testing.T, events ...string) (*sqlitetest.Env, *receiver, *engine.NewWebhook) {
	env := sqlitetest.New(t)
	r := newReceiver(t)
	w, err := env.Engine.AddWebhook(env.Ctx, engine.Operator, engine.AddWebhookInput{URL: r.srv.URL + "/hooks", Events: events})
	require.NoError(t, err)
	r.secret = w.Secret
	return env, r, w
}

func sender(env *sqlitetest.Env) *webhook.Sender {
	return &webhook.Sender{Engine: env.Engine, Timeout: time.Second}
}

// drain runs the sender until nothing is due.
func drain(t *testing.T, s *webhook.Sender) {
	t.Helper()
	for {
		n, err := s.RunOnce(context.Background())
		require.NoError(t, err)
		if n == 0 {
			return
		}
	}
}

func eventIDs(t *testing.T, env *sqlitetest.Env, typ string) []string {
	t.Helper()
	events, err := items(env.Engine.ListEvents(env.Ctx, engine.Operator, engine.ListEventsInput{Type: typ}))
	require.NoError(t, err)
	var ids []string
	for i := len(events) - 1; i >= 0; i-- {
		ids = append(ids, events[i].ID)
	}
	return ids
}

func deliveries(t *testing.T, env *sqlitetest.Env) []*engine.Delivery {
	t.Helper()
	list, err := items(env.Engine.ListDeliveries(env.Ctx, engine.Operator, engine.ListDeliveriesInput{}))
	require.NoError(t, err)
	return list
}

func TestDeliversSignedEventsInOrder(t *testing.T) {
	env, r, _ := setup(t)
	_, agent, card := env.Setup(100_00, engine.Policy{})
	env.Reveal(agent, card, 5_00, "Acme")
	env.Charge(card, 5_00, "Acme", "5734")

	drain(t, sender(env))
	want := eventIDs(t, env, "")
	require.Len(t, want, 7) // user.approved, account.funded, card.created, intent.declared, intent.revealed, transaction.authorized, intent.matched
	assert.Equal(t, want, r.delivered(), "every event, once, in the order it happened")
	for _, d := range deliveries(t, env) {
		assert.Equal(t, engine.DeliveryDelivered, d.Status)
		assert.Equal(t, 1, d.Attempts)
		assert.Equal(t, 200, d.LastStatusCode)
	}
	var auth engine.Authorization
	require.NoError(t, json.Unmarshal(r.received[5].Data, &auth))
	assert.Equal(t, engine.AuthApproved, auth.Status)
	assert.Equal(t, int64(5_00), auth.Amount)
}

func TestSubscribedEventsOnly(t *testing.T) {
	env, r, _ := setup(t, engine.EventTransactionAuthorized)
	_, agent, card := env.Setup(100_00, engine.Policy{})
	env.Reveal(agent, card, 5_00, "Acme")
	env.Charge(card, 9_00, "Acme", "") // declined: over the intent

	drain(t, sender(env))
	require.Len(t, r.received, 1)
	assert.Equal(t, engine.EventTransactionAuthorized, r.received[0].Type)
	var auth engine.Authorization
	require.NoError(t, json.Unmarshal(r.received[0].Data, &auth))
	assert.Equal(t, engine.CodeIntentMismatch, auth.DeclineCode)
}

// A receiver that fails is retried on the backoff schedule (5 s, 30 s, …),
// never earlier, and nothing behind the failing event overtakes it.
func TestRetriesWithBackoffAndKeepsOrder(t *testing.T) {
	env, r, _ := setup(t)
	r.answers = []int{500, 503}
	env.User("ada", 0) // user.approved
	u2 := env.User("bob", 0)
	_ = u2
	s := sender(env)

	n, err := s.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, r.delivered())
	drain(t, s)
	assert.Equal(t, 1, r.attempts(), "not due again yet, and the next event waits behind it")

	env.Clock.Advance(4 * time.Second)
	drain(t, s)
	assert.Equal(t, 1, r.attempts())
	env.Clock.Advance(time.Second) // 5 s after the first attempt
	drain(t, s)
	assert.Equal(t, 2, r.attempts())
	assert.Empty(t, r.delivered())

	env.Clock.Advance(30 * time.Second)
	drain(t, s)
	ids := eventIDs(t, env, engine.EventUserApproved)
	assert.Equal(t, ids, r.delivered(), "the first event, then the second, once each")
	list := deliveries(t, env)
	require.Len(t, list, 2)
	assert.Equal(t, 3, list[1].Attempts) // newest first: list[1] is the first event
	assert.Equal(t, 1, list[0].Attempts)
}

// After the first attempt and five retries (5 s, 30 s, 2 min, 10 min, 1 h)
// all fail, the delivery is marked failed and the next event goes out.
func TestGivesUpAfterTheLastRetry(t *testing.T) {
	env, r, _ := setup(t)
	r.answers = []int{500, 500, 500, 500, 500, 500}
	env.User("ada", 0)
	env.User("bob", 0)
	s := sender(env)
	drain(t, s)
	for _, wait := range engine.DefaultWebhookBackoff {
		env.Clock.Advance(wait)
		drain(t, s)
	}
	assert.Equal(t, 7, r.attempts(), "six attempts at the first event, then the second")
	list := deliveries(t, env)
	require.Len(t, list, 2)
	assert.Equal(t, engine.DeliveryFailed, list[1].Status)
	assert.Equal(t, 6, list[1].Attempts)
	assert.Equal(t, 500, list[1].LastStatusCode)
	assert.Contains(t, list[1].LastError, "HTTP 500")
	assert.Equal(t, engine.DeliveryDelivered, list[0].Status)
}

// A receiver slower than the timeout fails the attempt.
func TestASlowReceiverTimesOut(t *testing.T) {
	env, r, _ := setup(t)
	r.delay = 500 * time.Millisecond
	env.User("ada", 0)
	s := &webhook.Sender{Engine: env.Engine, Timeout: 100 * time.Millisecond}
	drain(t, s)
	list := deliveries(t, env)
	require.Len(t, list, 1)
	assert.Equal(t, engine.DeliveryPending, list[0].Status)
	assert.Equal(t, 1, list[0].Attempts)
	assert.Equal(t, 0, list[0].LastStatusCode)
	assert.Equal(t, "no answer within 100ms", list[0].LastError)
}

// A redirect is not a delivery.
func TestARedirectIsAFailure(t *testing.T) {
	env, r, _ := setup(t)
	r.answers = []int{http.StatusFound}
	env.User("ada", 0)
	drain(t, sender(env))
	list := deliveries(t, env)
	require.Len(t, list, 1)
	assert.Equal(t, engine.DeliveryPending, list[0].Status)
	assert.Equal(t, http.StatusFound, list[0].LastStatusCode)
}

// The server restarts in the middle of the retries: the new process picks
// up where the old one left off. A sender that died while sending (its
// lease held, no outcome recorded) is taken over once the lease runs out:
// the event arrives again, which is the at-least-once promise.
func TestDeliverySurvivesARestart(t *testing.T) {
	env, r, _ := setup(t)
	r.answers = []int{500}
	env.User("ada", 0)
	env.User("bob", 0)
	drain(t, sender(env))
	require.Equal(t, 1, r.attempts())
	require.NoError(t, env.Store.Close()) // the process stops

	restarted := env.Reopen(engine.Options{})
	env.Clock.Advance(5 * time.Second)
	// Another sender claims the first event and dies holding it.
	jobs, err := restarted.Engine.ClaimDeliveries(restarted.Ctx, engine.Operator, "crashed", 10, 30*time.Second)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	s := sender(restarted)
	drain(t, s)
	assert.Equal(t, 1, r.attempts(), "leased by the crashed sender")

	env.Clock.Advance(31 * time.Second)
	drain(t, s)
	ids := eventIDs(t, restarted, engine.EventUserApproved)
	assert.Equal(t, ids, r.delivered(), "nothing lost, nothing delivered twice")
	for _, d := range deliveries(t, restarted) {
		assert.Equal(t, engine.DeliveryDelivered, d.Status)
	}
}

func TestReplaySendsAnEventAgain(t *testing.T) {
	env, r, w := setup(t)
	env.User("ada", 0)
	s := sender(env)
	drain(t, s)
	first := r.delivered()
	require.Len(t, first, 1)

	replayed, err := env.Engine.ReplayEvent(env.Ctx, engine.Operator, engine.ReplayInput{EventID: first[0], EndpointID: w.ID})
	require.NoError(t, err)
	require.Len(t, replayed, 1)
	assert.Equal(t, engine.DeliveryPending, replayed[0].Status)
	drain(t, s)
	assert.Equal(t, []string{first[0], first[0]}, r.delivered())

	_, err = env.Engine.ReplayEvent(env.Ctx, engine.Operator, engine.ReplayInput{EventID: first[0], EndpointID: "whk_nope"})
	assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
	_, err = env.Engine.RemoveWebhook(env.Ctx, engine.Operator, engine.RemoveWebhookInput{EndpointID: w.ID})
	require.NoError(t, err)
	_, err = env.Engine.ReplayEvent(env.Ctx, engine.Operator, engine.ReplayInput{EventID: first[0], EndpointID: w.ID})
	assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
}

// Two senders (two processes) on one database never send one event twice
// while both are alive, and keep each endpoint's order.
func TestTwoSendersShareTheQueue(t *testing.T) {
	env, r, _ := setup(t)
	for i := range 20 {
		env.User("u"+string(rune('a'+i)), 0)
	}
	other := env.Reopen(engine.Options{})
	var wg sync.WaitGroup
	for _, e := range []*sqlitetest.Env{env, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			drain(t, &webhook.Sender{Engine: e.Engine, Timeout: time.Second})
		}()
	}
	wg.Wait()
	drain(t, sender(env)) // whatever one sender saw leased by the other
	assert.Equal(t, eventIDs(t, env, ""), r.delivered())
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"card.created","created_at":"2026-03-11T12:00:00Z","data":{}}`)
	now := time.Unix(1_800_000_000, 0)
	header := webhook.Sign("whsec_a", now, body)
	assert.Regexp(t, `^t=1800000000,v1=[0-9a-f]{64}$`, header)
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"good", "whsec_a", header, body, now, nil},
		{"a little later", "whsec_a", header, body, now.Add(4 * time.Minute), nil},
		{"other secret", "whsec_b", header, body, now, webhook.ErrBadSignature},
		{"tampered body", "whsec_a", header, append(body, ' '), now, webhook.ErrBadSignature},
		{"replayed later", "whsec_a", header, body, now.Add(6 * time.Minute), webhook.ErrStale},
		{"no header", "whsec_a", "", body, now, webhook.ErrNoSignature},
		{"garbage", "whsec_a", "t=abc,v1=00", body, now, webhook.ErrNoSignature},
		{"second v1 matches", "whsec_a", "t=1800000000,v1=00," + header[len("t=1800000000,"):], body, now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, webhook.Verify(tc.secret, tc.header, tc.body, 5*time.Minute, tc.now))
		})
	}
}

// A slow endpoint does not hold the others back: Run claims the next due
// delivery whenever one finishes.
func TestASlowEndpointDoesNotDelayTheOthers(t *testing.T) {
	env, slow, _ := setup(t)
	slow.delay = 700 * time.Millisecond
	fast := newReceiver(t)
	w, err := env.Engine.AddWebhook(env.Ctx, engine.Operator, engine.AddWebhookInput{URL: fast.srv.URL})
	require.NoError(t, err)
	fast.secret = w.Secret
	for i := range 4 {
		env.User("u"+string(rune('a'+i)), 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&webhook.Sender{Engine: env.Engine, Timeout: 2 * time.Second, Poll: 20 * time.Millisecond}).Run(ctx)
	}()
	require.Eventually(t, func() bool { return len(fast.delivered()) == 4 }, 1500*time.Millisecond, 10*time.Millisecond)
	assert.Less(t, len(slow.delivered()), 4, "the slow endpoint is still at it")
	require.Eventually(t, func() bool { return len(slow.delivered()) == 4 }, 10*time.Second, 20*time.Millisecond)
	cancel()
	<-done
	assert.Equal(t, eventIDs(t, env, ""), slow.delivered())
	assert.Equal(t, eventIDs(t, env, ""), fast.delivered())
}

// items drops a list's paging, for tests that read a whole list.
func items[T any](l engine.List[T], err error) ([]*T, error) { return l.Items, err }
