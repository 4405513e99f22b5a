package stripeapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/stripeapi/stripemock"
	"github.com/agentledger/agentledger/engine"
)

const (
	// testKey is the API key of every test client: no error may show it.
	testKey = "sk_test_agentledgerSECRETkey0123456789"
	// testPAN is a card number fake servers answer with: no error may show it.
	testPAN = "4000056655665556"
	testCVC = "314"
)

var testAddress = BillingAddress{Line1: "1 Main St", City: "San Francisco", State: "CA", PostalCode: "94107", Country: "US"}

func newClient(t *testing.T, base string, edit ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{APIKey: testKey, APIBase: base, BillingAddress: testAddress}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	return c
}

// mock is a client of a stripe-mock started for t, through a recorder.
func mock(t *testing.T, edit ...func(*Config)) (*Client, *stripemock.Recorder) {
	t.Helper()
	return recorded(t, stripemock.Start(t), edit...)
}

// recorded is a client of srv through a new recorder: subtests share their
// test's stripe-mock (it keeps no state), each with its own record.
func recorded(t *testing.T, srv *stripemock.Server, edit ...func(*Config)) (*Client, *stripemock.Recorder) {
	t.Helper()
	rec := stripemock.NewRecorder(t, srv.URL)
	return newClient(t, rec.URL, edit...), rec
}

// issuerError asserts err is an *engine.IssuerError from Stripe that shows
// neither the API key nor a card number, and returns it.
func issuerError(t *testing.T, err error) *engine.IssuerError {
	t.Helper()
	require.Error(t, err)
	var ie *engine.IssuerError
	require.True(t, errors.As(err, &ie), "%T is not an *engine.IssuerError", err)
	require.Equal(t, engine.IssuerStripe, ie.Issuer)
	for _, s := range []string{err.Error(), ie.Message, ie.Code} {
		require.NotContains(t, s, testKey)
		require.NotContains(t, s, "sk_test_")
		require.NotContains(t, s, testPAN)
	}
	return ie
}

// fakeStripe is a Stripe that keeps one card's status and spending
// controls, to check that what UpdateCard sends is what GetCard then reads
// (stripe-mock keeps nothing). It parses the form as Stripe documents it,
// including an empty value that empties an array.
type fakeStripe struct {
	mu     sync.Mutex
	status string
	limits []map[string]any
	allow  []string
	block  []string
	number string
}

func newFakeStripe(t *testing.T) (*fakeStripe, *stripemock.Recorder) {
	f := &fakeStripe{status: "active", number: testPAN}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, stripemock.NewRecorder(t, srv.URL)
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path != "/v1/issuing/cards/ic_fake" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such card"}}`))
		return
	}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if s := r.PostForm.Get("status"); s != "" {
			f.status = s
		}
		if _, ok := r.PostForm["spending_controls[spending_limits]"]; ok {
			f.limits = nil
		} else if r.PostForm.Get("spending_controls[spending_limits][0][interval]") != "" {
			f.limits = nil
			for i := 0; ; i++ {
				p := "spending_controls[spending_limits][" + strconv.Itoa(i) + "]"
				interval := r.PostForm.Get(p + "[interval]")
				if interval == "" {
					break
				}
				amount, _ := strconv.ParseInt(r.PostForm.Get(p+"[amount]"), 10, 64)
				f.limits = append(f.limits, map[string]any{"amount": amount, "interval": interval, "categories": nil})
			}
		}
		f.allow = formList(r, "spending_controls[allowed_categories]", f.allow)
		f.block = formList(r, "spending_controls[blocked_categories]", f.block)
	}
	card := map[string]any{
		"id": "ic_fake", "object": "issuing.card", "status": f.status, "last4": testPAN[12:],
		"exp_month": 8, "exp_year": 2031, "currency": "usd", "type": "virtual",
		"cardholder": map[string]any{"id": "ich_fake", "object": "issuing.cardholder"},
		"spending_controls": map[string]any{
			"spending_limits": f.limits, "allowed_categories": f.allow, "blocked_categories": f.block,
		},
	}
	if strings.Contains(r.URL.RawQuery, "number") {
		card["number"], card["cvc"] = f.number, testCVC
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(card)
}

// formList is the list key sets, or cur when the form does not set it.
func formList(r *http.Request, key string, cur []string) []string {
	if _, ok := r.PostForm[key]; ok {
		return nil
	}
	if r.PostForm.Get(key+"[0]") == "" {
		return cur
	}
	var out []string
	for i := 0; ; i++ {
		v := r.PostForm.Get(key + "[" + strconv.Itoa(i) + "]")
		if v == "" {
			return out
		}
		out = append(out, v)
	}
}
