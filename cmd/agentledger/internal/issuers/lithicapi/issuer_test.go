package lithicapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi/lithictest"
	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var ctx = context.Background()

// client is a Client of s with its own transport (keep-alives on, as in
// production) and the given timeout (10 s when 0).
func client(t *testing.T, s *lithictest.Server, timeout time.Duration) *lithicapi.Client {
	t.Helper()
	if timeout == 0 {
		timeout = lithicapi.DefaultTimeout
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := lithicapi.New(lithicapi.Config{APIKey: lithictest.APIKey, APIBase: s.URL, HTTPClient: &http.Client{Timeout: timeout, Transport: tr}})
	require.NoError(t, err)
	return c
}

func spec(id, typ, status string, c engine.IssuerControls) engine.IssuerCardSpec {
	return engine.IssuerCardSpec{CardID: id, Type: typ, Currency: "USD", Status: status, Controls: c,
		Cardholder: engine.IssuerCardholder{UserID: "usr_1", Name: "Ada"}}
}

// lastBody is the JSON body of the last request with method.
func lastBody(t *testing.T, s *lithictest.Server, method string) map[string]any {
	t.Helper()
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == method {
			var m map[string]any
			require.NoError(t, json.Unmarshal(reqs[i].Body, &m))
			return m
		}
	}
	t.Fatalf("no %s request", method)
	return nil
}

// issuerError asserts err is an *engine.IssuerError from Lithic.
func issuerError(t *testing.T, err error) *engine.IssuerError {
	t.Helper()
	var ie *engine.IssuerError
	require.True(t, errors.As(err, &ie), "%T %v", err, err)
	assert.Equal(t, engine.IssuerLithic, ie.Issuer)
	return ie
}

func TestNew(t *testing.T) {
	c, err := lithicapi.New(lithicapi.Config{APIKey: "k"})
	require.NoError(t, err)
	assert.Equal(t, engine.IssuerLithic, c.Name())
	for _, cfg := range []lithicapi.Config{
		{},
		{APIKey: "two words"},
		{APIKey: "k", APIBase: "sandbox.lithic.com"},
		{APIKey: "k", APIBase: "ftp://sandbox.lithic.com"},
		{APIKey: "k", APIBase: "https://sandbox.lithic.com?x=1"},
	} {
		_, err := lithicapi.New(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
}

// TestDefaults: the sandbox base and Authorization: <api key>.
func TestDefaults(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Write(lithictest.Fixture("get_card.response.json"))
	}))
	defer srv.Close()
	assert.Equal(t, "https://sandbox.lithic.com", lithicapi.DefaultAPIBase)
	c, err := lithicapi.New(lithicapi.Config{APIKey: "the-key", APIBase: srv.URL + "/"})
	require.NoError(t, err)
	_, err = c.GetCard(ctx, "7ef7d65c-9023-4da3-b113-3b8583fd7951")
	require.NoError(t, err)
	assert.Equal(t, "the-key", got.Header.Get("Authorization"))
	assert.Equal(t, "/v1/cards/7ef7d65c-9023-4da3-b113-3b8583fd7951", got.URL.Path)
}

// TestCreateCard: each card type and limit choice, and what Lithic is told.
func TestCreateCard(t *testing.T) {
	s := lithictest.New(t)
	c := client(t, s, 0)
	for i, tc := range []struct {
		name      string
		typ       string
		status    string
		controls  engine.IssuerControls
		wantType  string
		wantState string
		wantLimit int64  // 0: no spend_limit sent
		wantDur   string // the duration sent
		want      engine.IssuerControls
	}{
		{"multi-use, no limits", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}, "VIRTUAL", "OPEN", 0, "", engine.IssuerControls{}},
		{"monthly", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{Monthly: 50_000}, "VIRTUAL", "OPEN", 50_000, "MONTHLY", engine.IssuerControls{Monthly: 50_000}},
		{"lifetime", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{Lifetime: 90_000}, "VIRTUAL", "OPEN", 90_000, "FOREVER", engine.IssuerControls{Lifetime: 90_000}},
		{"per transaction", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{PerTransaction: 2_500}, "VIRTUAL", "OPEN", 2_500, "TRANSACTION", engine.IssuerControls{PerTransaction: 2_500}},
		{"monthly wins over the rest", engine.CardMultiUse, engine.CardActive,
			engine.IssuerControls{PerTransaction: 1_000, Daily: 5_000, Monthly: 20_000, Lifetime: 80_000, AllowedMCCs: []string{"5734"}},
			"VIRTUAL", "OPEN", 20_000, "MONTHLY", engine.IssuerControls{Monthly: 20_000}},
		{"lifetime wins over per transaction", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{PerTransaction: 1_000, Lifetime: 80_000},
			"VIRTUAL", "OPEN", 80_000, "FOREVER", engine.IssuerControls{Lifetime: 80_000}},
		{"daily and MCCs are not mirrored", engine.CardMultiUse, engine.CardActive,
			engine.IssuerControls{Daily: 5_000, AllowedMCCs: []string{"5734"}, BlockedMCCs: []string{"7995"}}, "VIRTUAL", "OPEN", 0, "", engine.IssuerControls{}},
		{"single-use, per transaction", engine.CardSingleUse, engine.CardActive, engine.IssuerControls{PerTransaction: 4_200}, "SINGLE_USE", "OPEN", 4_200, "TRANSACTION", engine.IssuerControls{PerTransaction: 4_200}},
		{"single-use, lifetime and per transaction", engine.CardSingleUse, engine.CardActive, engine.IssuerControls{PerTransaction: 4_200, Lifetime: 4_000},
			"SINGLE_USE", "OPEN", 4_000, "FOREVER", engine.IssuerControls{Lifetime: 4_000}},
		{"frozen", engine.CardMultiUse, engine.CardFrozen, engine.IssuerControls{Monthly: 100}, "VIRTUAL", "PAUSED", 100, "MONTHLY", engine.IssuerControls{Monthly: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("card_create_%d", i)
			sp := spec(id, tc.typ, tc.status, tc.controls)
			got, err := c.CreateCard(ctx, sp)
			require.NoError(t, err)

			body := lastBody(t, s, "POST")
			assert.Equal(t, tc.wantType, body["type"])
			assert.Equal(t, tc.wantState, body["state"])
			assert.Equal(t, "agentledger "+id, body["memo"])
			if tc.wantLimit == 0 {
				assert.NotContains(t, body, "spend_limit")
				assert.NotContains(t, body, "spend_limit_duration")
			} else {
				assert.EqualValues(t, tc.wantLimit, body["spend_limit"])
				assert.Equal(t, tc.wantDur, body["spend_limit_duration"])
			}
			reqs := s.Requests()
			post := reqs[len(reqs)-1]
			assert.Equal(t, lithicapi.IdempotencyKey(id), post.IdempotencyKey)

			lc, ok := s.Card(got.ExternalID)
			require.True(t, ok)
			assert.Equal(t, lc.LastFour, got.Last4)
			assert.Equal(t, lc.ExpMonth, fmt.Sprintf("%02d", got.ExpMonth))
			assert.Equal(t, lc.ExpYear, strconv.Itoa(got.ExpYear))
			assert.Equal(t, tc.status, got.Status)
			assert.Empty(t, got.CardholderID)
			assert.Equal(t, tc.want, got.Controls)
			assert.Equal(t, tc.want, c.Mirrored(tc.controls), "Mirrored says what the card holds")

			again, err := c.GetCard(ctx, got.ExternalID)
			require.NoError(t, err)
			assert.Equal(t, got, again)
			assert.Equal(t, c.Mirrored(tc.controls), again.Controls, "a drift check finds none")
		})
	}
}

// TestCreateCardRefusesBeforeAnyRequest: what Lithic cannot hold is refused
// here, Status 400, nothing sent.
func TestCreateCardRefusesBeforeAnyRequest(t *testing.T) {
	s := lithictest.New(t)
	c := client(t, s, 0)
	for _, tc := range []struct {
		name string
		spec engine.IssuerCardSpec
		code string
	}{
		{"euros", engine.IssuerCardSpec{CardID: "card_1", Type: engine.CardMultiUse, Currency: "EUR", Status: engine.CardActive}, "unsupported_currency"},
		{"no currency", engine.IssuerCardSpec{CardID: "card_1", Type: engine.CardMultiUse, Status: engine.CardActive}, "unsupported_currency"},
		{"no card id", spec("", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}), "invalid_spec"},
		{"unknown type", spec("card_1", "gift", engine.CardActive, engine.IssuerControls{}), "invalid_spec"},
		{"unknown status", spec("card_1", engine.CardMultiUse, "paused", engine.IssuerControls{}), "invalid_spec"},
		{"closed", spec("card_1", engine.CardMultiUse, engine.CardClosed, engine.IssuerControls{}), "invalid_spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateCard(ctx, tc.spec)
			ie := issuerError(t, err)
			assert.Equal(t, 400, ie.Status)
			assert.Equal(t, tc.code, ie.Code)
			assert.False(t, ie.Unreached())
		})
	}
	_, err := c.UpdateCard(ctx, "7ef7d65c-9023-4da3-b113-3b8583fd7951", engine.IssuerCardSpec{Currency: "GBP", Status: engine.CardActive})
	ie := issuerError(t, err)
	assert.Equal(t, "unsupported_currency", ie.Code)
	assert.Contains(t, ie.Error(), `"GBP"`)
	assert.Empty(t, s.Requests(), "no request was made")
}

// TestUpdateCard: each state and limit change, Mirrored == GetCard after each.
func TestUpdateCard(t *testing.T) {
	s := lithictest.New(t)
	c := client(t, s, 0)
	card, err := c.CreateCard(ctx, spec("card_update", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{Monthly: 10_000}))
	require.NoError(t, err)
	for _, step := range []struct {
		name      string
		status    string
		controls  engine.IssuerControls
		wantState string
		wantLimit int64
		wantDur   string // "" when the duration is not sent
	}{
		{"freeze", engine.CardFrozen, engine.IssuerControls{Monthly: 10_000}, "PAUSED", 10_000, "MONTHLY"},
		{"controls alone keep the freeze", "", engine.IssuerControls{Monthly: 9_000}, "PAUSED", 9_000, "MONTHLY"},
		{"unfreeze, lifetime limit", engine.CardActive, engine.IssuerControls{Lifetime: 30_000, PerTransaction: 500}, "OPEN", 30_000, "FOREVER"},
		{"per transaction only", engine.CardActive, engine.IssuerControls{PerTransaction: 500, Daily: 700}, "OPEN", 500, "TRANSACTION"},
		{"limits removed", engine.CardActive, engine.IssuerControls{}, "OPEN", 0, ""},
		{"monthly again", engine.CardActive, engine.IssuerControls{Monthly: 1}, "OPEN", 1, "MONTHLY"},
		{"close", engine.CardClosed, engine.IssuerControls{Monthly: 1}, "CLOSED", 1, "MONTHLY"},
		{"closed stays closed", engine.CardClosed, engine.IssuerControls{}, "CLOSED", 0, ""},
	} {
		t.Run(step.name, func(t *testing.T) {
			sp := spec("card_update", engine.CardMultiUse, step.status, step.controls)
			got, err := c.UpdateCard(ctx, card.ExternalID, sp)
			require.NoError(t, err)
			body := lastBody(t, s, "PATCH")
			if step.status == "" {
				assert.NotContains(t, body, "state", "no state is sent with controls alone")
			} else {
				assert.Equal(t, step.wantState, body["state"])
			}
			assert.EqualValues(t, step.wantLimit, body["spend_limit"], "spend_limit is always sent (0 removes a limit)")
			if step.wantDur == "" {
				assert.NotContains(t, body, "spend_limit_duration")
			} else {
				assert.Equal(t, step.wantDur, body["spend_limit_duration"])
			}
			assert.NotContains(t, body, "memo")
			if step.status != "" {
				assert.Equal(t, step.status, got.Status)
			}
			assert.Equal(t, c.Mirrored(step.controls), got.Controls)
			now, err := c.GetCard(ctx, card.ExternalID)
			require.NoError(t, err)
			assert.Equal(t, got, now)
			assert.Equal(t, c.Mirrored(step.controls), now.Controls)
			lc, _ := s.Card(card.ExternalID)
			assert.Equal(t, step.wantState, lc.State)
		})
	}

	for _, status := range []string{engine.CardActive, engine.CardFrozen} {
		_, err := c.UpdateCard(ctx, card.ExternalID, spec("card_update", engine.CardMultiUse, status, engine.IssuerControls{}))
		ie := issuerError(t, err)
		assert.Equal(t, 422, ie.Status, "Lithic refuses to reopen a closed card")
		assert.False(t, ie.Unreached())
	}
	lc, _ := s.Card(card.ExternalID)
	assert.Equal(t, "CLOSED", lc.State)
}

// TestUpdateCardOfAClosedCardLithicDidNotRefuse: should Lithic answer a
// reopening with the card still closed, UpdateCard fails all the same.
func TestUpdateCardOfAClosedCardLithicDidNotRefuse(t *testing.T) {
	closed := strings.Replace(string(lithictest.Fixture("update_card.response.json")), `"state": "OPEN"`, `"state": "CLOSED"`, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(closed)) }))
	defer srv.Close()
	c, err := lithicapi.New(lithicapi.Config{APIKey: "k", APIBase: srv.URL})
	require.NoError(t, err)
	_, err = c.UpdateCard(ctx, "f5f905f5-8a8e-49bf-a9b4-c0adaa401456", spec("card_x", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}))
	ie := issuerError(t, err)
	assert.Equal(t, "card_closed", ie.Code)
	assert.False(t, ie.Unreached())
}

// TestStates: every Lithic state as agentledger names it.
func TestStates(t *testing.T) {
	s := lithictest.New(t)
	c := client(t, s, 0)
	card, err := c.CreateCard(ctx, spec("card_states", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}))
	require.NoError(t, err)
	for state, want := range map[string]string{
		"OPEN": engine.CardActive, "PAUSED": engine.CardFrozen, "CLOSED": engine.CardClosed,
		"PENDING_FULFILLMENT": engine.CardActive, "PENDING_ACTIVATION": engine.CardActive,
	} {
		require.True(t, s.SetState(card.ExternalID, state))
		got, err := c.GetCard(ctx, card.ExternalID)
		require.NoError(t, err, state)
		assert.Equal(t, want, got.Status, state)
	}
	s.SetState(card.ExternalID, "LIMBO")
	_, err = c.GetCard(ctx, card.ExternalID)
	ie := issuerError(t, err)
	assert.Equal(t, "unexpected_state", ie.Code)
	assert.Contains(t, ie.Message, "LIMBO")

	s.SetSpendLimit(card.ExternalID, 12_000, "ANNUALLY")
	s.SetState(card.ExternalID, "OPEN")
	got, err := c.GetCard(ctx, card.ExternalID)
	require.NoError(t, err)
	assert.Equal(t, engine.IssuerControls{}, got.Controls, "a yearly limit has no IssuerControls field")
}

// TestCredentials: the PAN, CVV and expiry, fetched when asked.
func TestCredentials(t *testing.T) {
	s := lithictest.New(t)
	c := client(t, s, 0)
	card, err := c.CreateCard(ctx, spec("card_creds", engine.CardSingleUse, engine.CardActive, engine.IssuerControls{PerTransaction: 900}))
	require.NoError(t, err)
	s.ClearRequests()
	creds, err := c.Credentials(ctx, card.ExternalID)
	require.NoError(t, err)
	lc, _ := s.Card(card.ExternalID)
	assert.Equal(t, lc.PAN, creds.PAN)
	assert.Equal(t, lc.CVV, creds.CVV)
	assert.Equal(t, card.ExpMonth, creds.ExpMonth)
	assert.Equal(t, card.ExpYear, creds.ExpYear)
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "GET", reqs[0].Method)
	assert.Equal(t, "/v1/cards/"+card.ExternalID, reqs[0].Path)

	// A program that is not PCI-compliant gets no PAN in production.
	noPAN, _ := json.Marshal(func() map[string]any {
		var m map[string]any
		json.Unmarshal(lithictest.Fixture("get_card.response.json"), &m)
		delete(m, "pan")
		delete(m, "cvv")
		return m
	}())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(noPAN) }))
	defer srv.Close()
	plain, err := lithicapi.New(lithicapi.Config{APIKey: "k", APIBase: srv.URL})
	require.NoError(t, err)
	_, err = plain.Credentials(ctx, "7ef7d65c-9023-4da3-b113-3b8583fd7951")
	assert.Equal(t, "pan_unavailable", issuerError(t, err).Code)
}

// TestCreateCardIsIdempotent: a retry after a timeout, a dropped
// connection, a day, returns the card the first call made.
func TestCreateCardIsIdempotent(t *testing.T) {
	t.Run("retry after a timeout", func(t *testing.T) {
		s := lithictest.New(t)
		c := client(t, s, 300*time.Millisecond)
		sp := spec("card_timeout", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{Monthly: 7_000})
		s.Inject(lithictest.Fault{Method: "POST", Path: "/v1/cards", Hang: 5 * time.Second, AfterEffect: true})
		_, err := c.CreateCard(ctx, sp)
		ie := issuerError(t, err)
		assert.Equal(t, 0, ie.Status, "no answer in time")
		assert.True(t, ie.Unreached())
		require.Len(t, s.Cards(), 1, "the card was made at Lithic")

		got, err := c.CreateCard(ctx, sp)
		require.NoError(t, err)
		assert.Equal(t, s.Cards()[0].Token, got.ExternalID)
		assert.Len(t, s.Cards(), 1, "one card at Lithic")
		var calls []string
		for _, r := range s.Requests() {
			calls = append(calls, r.Method+" "+r.Path)
		}
		assert.Equal(t, []string{"GET /v1/cards", "POST /v1/cards", "GET /v1/cards"}, calls, "the retry found the card and created none")
		assert.Equal(t, "agentledger card_timeout", s.Requests()[0].Query.Get("memo"))
	})

	t.Run("retry a day later, the key forgotten", func(t *testing.T) {
		s := lithictest.New(t)
		c := client(t, s, 0)
		sp := spec("card_day", engine.CardSingleUse, engine.CardActive, engine.IssuerControls{PerTransaction: 100})
		first, err := c.CreateCard(ctx, sp)
		require.NoError(t, err)
		s.ForgetIdempotencyKeys()
		again, err := c.CreateCard(ctx, sp)
		require.NoError(t, err)
		assert.Equal(t, first, again)
		assert.Len(t, s.Cards(), 1)
		assert.Equal(t, 1, s.Calls("POST", "/v1/cards"))
	})

	t.Run("retry after the connection dropped", func(t *testing.T) {
		s := lithictest.New(t)
		c := client(t, s, 0)
		sp := spec("card_dropped", engine.CardMultiUse, engine.CardFrozen, engine.IssuerControls{})
		// Enough refusals that the transport's own resend is refused too.
		s.Inject(lithictest.Fault{Method: "POST", Times: 5, Refuse: true, AfterEffect: true})
		_, err := c.CreateCard(ctx, sp)
		assert.Equal(t, 0, issuerError(t, err).Status)
		s.ClearFaults()
		got, err := c.CreateCard(ctx, sp)
		require.NoError(t, err)
		// Go's transport resent the POST on a new connection (it carries an
		// Idempotency-Key, so it is replayable); Lithic answered it from the key.
		assert.GreaterOrEqual(t, s.Calls("POST", "/v1/cards"), 2)
		assert.Len(t, s.Cards(), 1, "resent POSTs carried the key: one card")
		assert.Equal(t, s.Cards()[0].Token, got.ExternalID)
		assert.Equal(t, engine.CardFrozen, got.Status)
	})

	t.Run("the key replays at Lithic", func(t *testing.T) {
		s := lithictest.New(t)
		c := client(t, s, 0)
		key := lithicapi.IdempotencyKey("card_key")
		p := lithicapi.CreateCardParams{Type: lithicapi.TypeVirtual, Memo: lithicapi.Memo("card_key")}
		a, err := c.Create(ctx, p, key)
		require.NoError(t, err)
		b, err := c.Create(ctx, p, key)
		require.NoError(t, err)
		assert.Equal(t, a, b)
		assert.Len(t, s.Cards(), 1)
	})

	t.Run("the look-up reads every page and keeps exact memos", func(t *testing.T) {
		s := lithictest.New(t)
		c := client(t, s, 0)
		target, err := c.Create(ctx, lithicapi.CreateCardParams{Type: lithicapi.TypeVirtual, Memo: lithicapi.Memo("card_T")}, "")
		require.NoError(t, err)
		for i := range 150 { // newer cards whose memos contain the target's
			_, err := c.Create(ctx, lithicapi.CreateCardParams{Type: lithicapi.TypeVirtual, Memo: lithicapi.Memo(fmt.Sprintf("card_T%d", i))}, "")
			require.NoError(t, err)
		}
		s.ClearRequests()
		got, err := c.CreateCard(ctx, spec("card_T", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}))
		require.NoError(t, err)
		assert.Equal(t, target.Token, got.ExternalID)
		reqs := s.Requests()
		require.Len(t, reqs, 2, "two pages, no POST")
		assert.Equal(t, "100", reqs[0].Query.Get("page_size"))
		assert.Equal(t, "", reqs[0].Query.Get("starting_after"))
		assert.NotEmpty(t, reqs[1].Query.Get("starting_after"))

		_, err = c.CreateCard(ctx, spec("card_T1", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}))
		require.NoError(t, err)
		assert.Len(t, s.Cards(), 151, "card_T1 existed: none made")
		_, err = c.CreateCard(ctx, spec("card_", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}))
		require.NoError(t, err)
		assert.Len(t, s.Cards(), 152, "no card's memo is exactly card_'s: one made")
	})

	t.Run("a failed look-up creates nothing", func(t *testing.T) {
		s := lithictest.New(t)
		c := client(t, s, 0)
		s.FailNext(1, "GET", "/v1/cards", 503)
		_, err := c.CreateCard(ctx, spec("card_lookup", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}))
		ie := issuerError(t, err)
		assert.Equal(t, 503, ie.Status)
		assert.True(t, ie.Unreached())
		assert.Empty(t, s.Cards())
		assert.Equal(t, 0, s.Calls("POST", "/v1/cards"))
	})

	t.Run("concurrent creates of different cards", func(t *testing.T) {
		s := lithictest.New(t)
		c := client(t, s, 0)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				_, err := c.CreateCard(ctx, spec(fmt.Sprintf("card_c%d", i), engine.CardMultiUse, engine.CardActive, engine.IssuerControls{Monthly: int64(i + 1)}))
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Len(t, s.Cards(), 8)
	})
}

// TestErrors: how each failure comes back.
func TestErrors(t *testing.T) {
	s := lithictest.New(t)
	c := client(t, s, 300*time.Millisecond)
	card, err := c.CreateCard(ctx, spec("card_errors", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{}))
	require.NoError(t, err)
	lc, _ := s.Card(card.ExternalID)
	get := func(c *lithicapi.Client) error { _, err := c.GetCard(ctx, card.ExternalID); return err }

	closed := lithictest.New(t)
	closedURL := closed.URL
	closed.Close()
	gone, err := lithicapi.New(lithicapi.Config{APIKey: lithictest.APIKey, APIBase: closedURL})
	require.NoError(t, err)
	wrongKey, err := lithicapi.New(lithicapi.Config{APIKey: "sk-wrong-key-0123", APIBase: s.URL})
	require.NoError(t, err)

	var errs []error
	for _, tc := range []struct {
		name      string
		setup     func()
		call      func() error
		status    int
		unreached bool
		message   string
	}{
		{"400 with Lithic's body", func() {
			s.Inject(lithictest.Fault{Method: "GET", Path: "/v1/cards/*", Status: 400, Message: "spend_limit: not allowed here"})
		}, func() error { return get(c) }, 400, false, "spend_limit: not allowed here"},
		{"400 from the schema", nil, func() error { _, err := c.GetCard(ctx, "card_errors"); return err }, 400, false, "card_token: must be a valid UUID"},
		{"404", nil, func() error { _, err := c.GetCard(ctx, "00000000-0000-4000-8000-000000000000"); return err }, 404, false, "Card not found"},
		{"401", nil, func() error { return get(wrongKey) }, 401, false, "Could not find API key"},
		{"429", func() { s.FailNext(1, "PATCH", "", 429) }, func() error {
			_, err := c.UpdateCard(ctx, card.ExternalID, spec("card_errors", engine.CardMultiUse, engine.CardFrozen, engine.IssuerControls{}))
			return err
		}, 429, true, "Too Many Requests"},
		{"500", func() { s.FailNext(1, "GET", "", 500) }, func() error { _, err := c.Credentials(ctx, card.ExternalID); return err }, 500, true, "Internal Server Error"},
		{"500 naming a card number", func() {
			s.Inject(lithictest.Fault{Status: 500, Message: "card " + lc.PAN + " failed"})
		}, func() error { return get(c) }, 500, true, "card [card number] failed"},
		{"hang past the timeout", func() { s.HangNext(1, "GET", "", 5*time.Second) }, func() error { return get(c) }, 0, true, "no answer within the timeout"},
		{"context deadline", func() { s.HangNext(1, "GET", "", 5*time.Second) }, func() error {
			slow := client(t, s, 10*time.Second)
			dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err := slow.GetCard(dctx, card.ExternalID)
			return err
		}, 0, true, "no answer before the deadline"},
		{"connection closed without an answer", func() { s.Inject(lithictest.Fault{Times: 5, Refuse: true}) }, func() error {
			defer s.ClearFaults()
			_, err := c.Credentials(ctx, card.ExternalID)
			return err
		}, 0, true, "GET /v1/cards/"},
		{"connection refused", nil, func() error { return get(gone) }, 0, true, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			err := tc.call()
			errs = append(errs, err)
			ie := issuerError(t, err)
			assert.Equal(t, tc.status, ie.Status)
			assert.Equal(t, tc.unreached, ie.Unreached())
			assert.Contains(t, ie.Error(), tc.message)
			if tc.status == 0 {
				assert.Contains(t, ie.Error(), "lithic could not be reached")
			}
		})
	}
	s.ClearFaults()

	// Answers that are not Lithic's JSON.
	for _, tc := range []struct {
		name   string
		status int
		body   string
		code   string
		msg    string
	}{
		{"a proxy's HTML", 502, "<html>bad gateway 4111111289144142</html>", "", "Bad Gateway"},
		{"a 200 that is not JSON", 200, `{"pan": "4111111289144142", "cvv": "776", broken`, "invalid_response", "not the JSON"},
		{"an {error} body", 403, `{"error": "Forbidden for this key"}`, "", "Forbidden for this key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := lithicapi.New(lithicapi.Config{APIKey: lithictest.APIKey, APIBase: srv.URL})
			require.NoError(t, err)
			_, err = c.Credentials(ctx, card.ExternalID)
			errs = append(errs, err)
			ie := issuerError(t, err)
			assert.Equal(t, tc.status, ie.Status)
			assert.Equal(t, tc.code, ie.Code)
			assert.Contains(t, ie.Message, tc.msg)
		})
	}

	// An answer cut off halfway.
	t.Run("an answer cut off", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			w.Write([]byte(`{"pan": "4111111289144142"`))
			if hj, ok := w.(http.Hijacker); ok {
				conn, _, _ := hj.Hijack()
				conn.Close()
			}
		}))
		defer srv.Close()
		c, err := lithicapi.New(lithicapi.Config{APIKey: lithictest.APIKey, APIBase: srv.URL})
		require.NoError(t, err)
		_, err = c.Credentials(ctx, card.ExternalID)
		errs = append(errs, err)
		ie := issuerError(t, err)
		assert.Equal(t, 0, ie.Status)
		assert.True(t, ie.Unreached())
	})

	// No error says the API key, a card number or a CVV. Lithic's request id,
	// the HTTP status, the card's id and the test server's address are
	// digits that may hold the random CVV's three.
	debugging := regexp.MustCompile(`\(debugging_request_id [^)]*\)|answered \d{3}|` +
		regexp.QuoteMeta(card.ExternalID) + `|\d+\.\d+\.\d+\.\d+(:\d+)?`)
	for _, err := range errs {
		require.Error(t, err)
		msg := err.Error()
		assert.NotContains(t, msg, lithictest.APIKey)
		assert.NotContains(t, msg, "sk-wrong-key-0123")
		assert.NotContains(t, msg, lc.PAN)
		assert.NotContains(t, msg, "4111111289144142")
		assert.NotContains(t, debugging.ReplaceAllString(msg, ""), lc.CVV, msg)
		assert.NotRegexp(t, `\d{12,}`, msg)
	}
}

// TestNoRequestCarriesASecret: the requests Lithic receives carry no PAN.
func TestNoRequestCarriesASecret(t *testing.T) {
	s := lithictest.New(t)
	c := client(t, s, 0)
	card, err := c.CreateCard(ctx, spec("card_secret", engine.CardMultiUse, engine.CardActive, engine.IssuerControls{Lifetime: 1}))
	require.NoError(t, err)
	_, err = c.Credentials(ctx, card.ExternalID)
	require.NoError(t, err)
	_, err = c.UpdateCard(ctx, card.ExternalID, spec("card_secret", engine.CardMultiUse, engine.CardClosed, engine.IssuerControls{}))
	require.NoError(t, err)
	lc, _ := s.Card(card.ExternalID)
	for _, r := range s.Requests() {
		assert.NotContains(t, string(r.Body), lc.PAN)
		assert.NotContains(t, r.Query.Encode(), lc.PAN)
	}
}
