package stripeapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/stripeapi/stripemock"
	"github.com/agentledger/agentledger/engine"
)

var ctx = context.Background()

func spec(status string, controls engine.IssuerControls, holder engine.IssuerCardholder) engine.IssuerCardSpec {
	return engine.IssuerCardSpec{
		CardID: "card_01", Type: engine.CardMultiUse, Currency: "USD", Status: status,
		Controls: controls, Cardholder: holder,
	}
}

var jane = engine.IssuerCardholder{UserID: "user_01", Name: "Jane Doe", Email: "jane@example.com"}

// TestCreateCard creates cards at stripe-mock, which validates every
// request against Stripe's schema: a cardholder first only when the spec
// has no Stripe cardholder, each create under its idempotency key.
func TestCreateCard(t *testing.T) {
	srv := stripemock.Start(t)
	existing := jane
	existing.ExternalID = "ich_existing"
	for _, tc := range []struct {
		name       string
		status     string
		holder     engine.IssuerCardholder
		wantStatus string // Stripe's
		newHolder  bool
	}{
		{"a new cardholder", engine.CardActive, jane, "active", true},
		{"an existing cardholder", engine.CardActive, existing, "active", false},
		{"frozen", engine.CardFrozen, existing, "inactive", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := recorded(t, srv)
			card, err := c.CreateCard(ctx, spec(tc.status, engine.IssuerControls{}, tc.holder))
			require.NoError(t, err)
			reqs := rec.Requests()
			for _, r := range reqs {
				require.Equal(t, http.StatusOK, r.Status, "stripe-mock refused %s", r)
			}

			holderID := "ich_existing"
			if tc.newHolder {
				require.Len(t, reqs, 2)
				h := reqs[0]
				require.Equal(t, "POST /v1/issuing/cardholders", h.Method+" "+h.Path)
				require.Equal(t, "agentledger-cardholder-user_01", h.IdempotencyKey)
				for k, v := range map[string]string{
					"type": "individual", "name": "Jane Doe", "email": "jane@example.com",
					"billing[address][line1]": "1 Main St", "billing[address][city]": "San Francisco",
					"billing[address][state]": "CA", "billing[address][postal_code]": "94107",
					"billing[address][country]": "US", "metadata[agentledger_user_id]": "user_01",
				} {
					require.Equal(t, v, h.Param(k), k)
				}
				require.False(t, h.Has("billing[address][line2]"), "no empty line2")
				// stripe-mock answers with its fixture's cardholder, not the
				// one it was sent: the card must name a new one.
				holderID = reqs[1].Param("cardholder")
				require.True(t, strings.HasPrefix(holderID, "ich_"), holderID)
				require.NotEqual(t, "ich_existing", holderID)
			} else {
				require.Len(t, reqs, 1, "no cardholder is created for a spec that has one")
			}

			r := reqs[len(reqs)-1]
			require.Equal(t, "POST /v1/issuing/cards", r.Method+" "+r.Path)
			require.Equal(t, "agentledger-card-card_01", r.IdempotencyKey)
			for k, v := range map[string]string{
				"type": "virtual", "currency": "usd", "status": tc.wantStatus,
				"cardholder": holderID, "metadata[agentledger_card_id]": "card_01",
			} {
				require.Equal(t, v, r.Param(k), k)
			}
			require.False(t, r.Has("spending_controls"), "no controls, no spending_controls")

			require.True(t, strings.HasPrefix(card.ExternalID, "ic_"), card.ExternalID)
			require.NotEmpty(t, card.CardholderID)
			require.Len(t, card.Last4, 4)
			require.GreaterOrEqual(t, card.ExpMonth, 1)
			require.LessOrEqual(t, card.ExpMonth, 12)
			require.Greater(t, card.ExpYear, 2000)
			require.Equal(t, tc.status, card.Status, "stripe-mock echoes the status sent")
		})
	}
}

// TestCreateCardControls checks the spending_controls each control is
// sent as, and that stripe-mock accepts them.
func TestCreateCardControls(t *testing.T) {
	srv := stripemock.Start(t)
	for _, tc := range []struct {
		name     string
		controls engine.IssuerControls
		form     map[string]string
		absent   []string
	}{
		{
			name:     "every amount",
			controls: engine.IssuerControls{PerTransaction: 2500, Daily: 10000, Monthly: 50000, Lifetime: 100000},
			form: map[string]string{
				"spending_controls[spending_limits][0][amount]": "2500", "spending_controls[spending_limits][0][interval]": "per_authorization",
				"spending_controls[spending_limits][1][amount]": "10000", "spending_controls[spending_limits][1][interval]": "daily",
				"spending_controls[spending_limits][2][amount]": "50000", "spending_controls[spending_limits][2][interval]": "monthly",
				"spending_controls[spending_limits][3][amount]": "100000", "spending_controls[spending_limits][3][interval]": "all_time",
			},
			absent: []string{"spending_controls[spending_limits][4][amount]", "spending_controls[allowed_categories][0]", "spending_controls[blocked_categories][0]"},
		},
		{
			name:     "blocked MCCs, one with no Stripe category",
			controls: engine.IssuerControls{Daily: 100, BlockedMCCs: []string{"7995", "3000", "5462"}},
			form: map[string]string{
				"spending_controls[spending_limits][0][interval]": "daily",
				"spending_controls[blocked_categories][0]":        "bakeries",
				"spending_controls[blocked_categories][1]":        "betting_casino_gambling",
			},
			absent: []string{"spending_controls[blocked_categories][2]", "spending_controls[allowed_categories][0]", "spending_controls[spending_limits][1][amount]"},
		},
		{
			name:     "allowed MCCs",
			controls: engine.IssuerControls{AllowedMCCs: []string{"5812", "5411"}},
			form: map[string]string{
				"spending_controls[allowed_categories][0]": "grocery_stores_supermarkets",
				"spending_controls[allowed_categories][1]": "eating_places_restaurants",
			},
			absent: []string{"spending_controls[blocked_categories][0]", "spending_controls[spending_limits][0][amount]"},
		},
		{
			name:     "an allow list with an MCC Stripe has no category for is not sent",
			controls: engine.IssuerControls{PerTransaction: 1, AllowedMCCs: []string{"5411", "3000"}, BlockedMCCs: []string{"7995"}},
			form:     map[string]string{"spending_controls[blocked_categories][0]": "betting_casino_gambling"},
			absent:   []string{"spending_controls[allowed_categories][0]", "spending_controls[allowed_categories]"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := recorded(t, srv)
			holder := jane
			holder.ExternalID = "ich_1"
			card, err := c.CreateCard(ctx, spec(engine.CardActive, tc.controls, holder))
			require.NoError(t, err)
			r, _ := rec.Last()
			require.Equal(t, http.StatusOK, r.Status, "stripe-mock refused %s", r)
			for k, v := range tc.form {
				require.Equal(t, v, r.Param(k), k)
			}
			for _, k := range tc.absent {
				require.False(t, r.Has(k), k)
			}
			require.NotEmpty(t, card.ExternalID)
		})
	}
}

func TestCreateCardRefusals(t *testing.T) {
	srv := stripemock.Start(t)
	noAddress := func(c *Config) { c.BillingAddress = BillingAddress{} }
	holder := jane
	holder.ExternalID = "ich_1"
	for _, tc := range []struct {
		name string
		edit []func(*Config)
		spec engine.IssuerCardSpec
		says string
	}{
		{"a new cardholder with no billing address", []func(*Config){noAddress}, spec(engine.CardActive, engine.IssuerControls{}, jane), BillingAddressEnv},
		{"a closed card", nil, spec(engine.CardClosed, engine.IssuerControls{}, holder), "status"},
		{"no card id", nil, engine.IssuerCardSpec{Currency: "usd", Status: engine.CardActive, Cardholder: holder}, "id"},
		{"a bad currency", nil, engine.IssuerCardSpec{CardID: "c", Currency: "dollars", Status: engine.CardActive, Cardholder: holder}, "currency"},
		{"no user", nil, spec(engine.CardActive, engine.IssuerControls{}, engine.IssuerCardholder{Name: "Jane"}), "user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := recorded(t, srv, tc.edit...)
			_, err := c.CreateCard(ctx, tc.spec)
			ie := issuerError(t, err)
			require.Equal(t, http.StatusBadRequest, ie.Status)
			require.Equal(t, CodeNotSent, ie.Code)
			require.False(t, ie.Unreached(), "a retry cannot cure it")
			require.Contains(t, ie.Message, tc.says)
			require.Empty(t, rec.Requests(), "nothing is sent")
		})
	}
	// A spec with a cardholder needs no address.
	c, _ := recorded(t, srv, noAddress)
	_, err := c.CreateCard(ctx, spec(engine.CardActive, engine.IssuerControls{}, holder))
	require.NoError(t, err)
}

// TestUpdateCard updates a card to each status at stripe-mock: the card is
// read first, then posted its status and the controls.
func TestUpdateCard(t *testing.T) {
	srv := stripemock.Start(t)
	for _, tc := range []struct {
		status, stripe string
		controls       engine.IssuerControls
	}{
		{engine.CardActive, "active", engine.IssuerControls{Daily: 700, BlockedMCCs: []string{"7995"}}},
		{engine.CardFrozen, "inactive", engine.IssuerControls{}},
		{engine.CardClosed, "canceled", engine.IssuerControls{Monthly: 1}},
		{"", "", engine.IssuerControls{Daily: 600, BlockedMCCs: []string{"7995"}}}, // controls alone: no status is sent
	} {
		t.Run(tc.status, func(t *testing.T) {
			c, rec := recorded(t, srv)
			card, err := c.UpdateCard(ctx, "ic_1", spec(tc.status, tc.controls, jane))
			require.NoError(t, err)
			reqs := rec.Requests()
			require.Len(t, reqs, 2)
			require.Equal(t, "GET /v1/issuing/cards/ic_1", reqs[0].Method+" "+reqs[0].Path)
			require.False(t, reqs[0].Has("expand[0]"), "no number is fetched to update")
			r := reqs[1]
			require.Equal(t, "POST /v1/issuing/cards/ic_1", r.Method+" "+r.Path)
			require.Equal(t, http.StatusOK, r.Status, "stripe-mock refused %s", r)
			require.Equal(t, tc.stripe, r.Param("status"))
			require.Equal(t, tc.stripe != "", r.Has("status"))
			require.False(t, r.Has("cancellation_reason"))
			require.NotContains(t, r.IdempotencyKey, "agentledger", "an update is idempotent by itself")
			if tc.controls.Daily > 0 {
				require.Equal(t, "daily", r.Param("spending_controls[spending_limits][0][interval]"))
				require.Equal(t, "betting_casino_gambling", r.Param("spending_controls[blocked_categories][0]"))
			}
			if tc.controls.Monthly == 0 && tc.controls.Daily == 0 {
				for k := range r.Form {
					require.False(t, strings.HasPrefix(k, "spending_controls"), "nothing to clear on stripe-mock's card: %s", k)
				}
			}
			require.Equal(t, "ic_1", card.ExternalID)
			if tc.status != "" {
				require.Equal(t, tc.status, card.Status)
			}
		})
	}
}

// TestUpdateThenGet checks, on a fake Stripe that keeps what it is sent,
// that GetCard reads back Mirrored(controls) after UpdateCard, clearing
// included: a limit or a list the card no longer has is emptied at Stripe.
func TestUpdateThenGet(t *testing.T) {
	f, rec := newFakeStripe(t)
	c := newClient(t, rec.URL)
	steps := []engine.IssuerControls{
		{PerTransaction: 100, Daily: 1000, Monthly: 5000, Lifetime: 20000, AllowedMCCs: []string{"5812", "5411", "5812"}},
		{Daily: 900, BlockedMCCs: []string{"7995", "3000"}},
		{Lifetime: 300, AllowedMCCs: []string{"5411", "3000"}, BlockedMCCs: []string{"5462"}},
		{},
		{AllowedMCCs: []string{"5411"}, BlockedMCCs: []string{"5411"}},
	}
	for i, controls := range steps {
		rec.Reset()
		updated, err := c.UpdateCard(ctx, "ic_fake", spec(engine.CardActive, controls, jane))
		require.NoError(t, err, "step %d", i)
		got, err := c.GetCard(ctx, "ic_fake")
		require.NoError(t, err)
		require.Equal(t, c.Mirrored(controls), got.Controls, "step %d", i)
		require.Equal(t, got.Controls, updated.Controls, "step %d", i)
		if i == 3 {
			r := rec.Requests()[1]
			require.True(t, r.Has("spending_controls[spending_limits]"), "limits cleared")
			require.Equal(t, "", r.Param("spending_controls[spending_limits]"))
			require.Equal(t, "", r.Param("spending_controls[blocked_categories]"))
			require.False(t, r.Has("spending_controls[allowed_categories]"), "none to clear")
		}
	}
	f.mu.Lock()
	require.Empty(t, f.limits)
	f.mu.Unlock()

	for _, status := range []string{engine.CardFrozen, engine.CardActive, engine.CardClosed} {
		card, err := c.UpdateCard(ctx, "ic_fake", spec(status, engine.IssuerControls{}, jane))
		require.NoError(t, err)
		require.Equal(t, status, card.Status)
	}

	// A canceled card stays closed: reopening it is refused, closing it
	// again sends nothing.
	rec.Reset()
	_, err := c.UpdateCard(ctx, "ic_fake", spec(engine.CardActive, engine.IssuerControls{}, jane))
	ie := issuerError(t, err)
	require.Equal(t, http.StatusConflict, ie.Status)
	require.Equal(t, CodeCardClosed, ie.Code)
	card, err := c.UpdateCard(ctx, "ic_fake", spec(engine.CardClosed, engine.IssuerControls{Daily: 5}, jane))
	require.NoError(t, err)
	require.Equal(t, engine.CardClosed, card.Status)
	for _, r := range rec.Requests() {
		require.Equal(t, http.MethodGet, r.Method, "nothing is posted to a canceled card")
	}
}

// TestStripeMockRefusesEmptyArrays pins why UpdateCard reads the card
// first: Stripe empties an array sent as an empty value, but its published
// schema (which stripe-mock enforces) types spending_limits and the
// category lists as arrays only, so the empty value is sent only when the
// card holds something to clear.
func TestStripeMockRefusesEmptyArrays(t *testing.T) {
	_, rec := mock(t)
	req, err := http.NewRequest(http.MethodPost, rec.URL+"/v1/issuing/cards/ic_1",
		strings.NewReader("spending_controls[spending_limits]="))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

func TestGetCard(t *testing.T) {
	c, rec := mock(t)
	card, err := c.GetCard(ctx, "ic_1")
	require.NoError(t, err)
	r, _ := rec.Last()
	require.Equal(t, "GET /v1/issuing/cards/ic_1", r.Method+" "+r.Path)
	require.Empty(t, r.Query, "no expand: no number")
	require.Equal(t, "ic_1", card.ExternalID)
	require.NotEmpty(t, card.CardholderID)
	require.Len(t, card.Last4, 4)
	require.Equal(t, engine.CardActive, card.Status)
	require.Equal(t, engine.IssuerControls{}, card.Controls)
}

func TestCredentials(t *testing.T) {
	// stripe-mock accepts the request and answers number and cvc as empty
	// strings: an answer without a number is an error, never an empty PAN.
	c, rec := mock(t)
	_, err := c.Credentials(ctx, "ic_1")
	var ie *engine.IssuerError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, CodeNoNumber, ie.Code)
	require.False(t, ie.Unreached())
	r, _ := rec.Last()
	require.Equal(t, "GET /v1/issuing/cards/ic_1", r.Method+" "+r.Path)
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, []string{"number"}, r.Query["expand[0]"])
	require.Equal(t, []string{"cvc"}, r.Query["expand[1]"])

	_, frec := newFakeStripe(t)
	c = newClient(t, frec.URL)
	creds, err := c.Credentials(ctx, "ic_fake")
	require.NoError(t, err)
	require.Equal(t, engine.IssuerCredentials{PAN: testPAN, CVV: testCVC, ExpMonth: 8, ExpYear: 2031}, *creds)
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		says string
	}{
		{"no key", Config{}, "no API key"},
		{"a publishable key", Config{APIKey: "pk_test_abc123"}, "secret key"},
		{"a key with a newline", Config{APIKey: testKey + "\n"}, "secret key"},
		{"a bad base", Config{APIKey: testKey, APIBase: "ftp://example.com"}, "API base"},
		{"a bad address", Config{APIKey: testKey, BillingAddress: BillingAddress{Line1: "1 Main"}}, BillingAddressEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.says)
			require.NotContains(t, err.Error(), "abc123")
			require.NotContains(t, err.Error(), testKey)
		})
	}
	c, err := New(Config{APIKey: "rk_live_restricted"})
	require.NoError(t, err)
	require.Equal(t, engine.IssuerStripe, c.Name())
}
