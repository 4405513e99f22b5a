package stripeapi

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agentledger/agentledger/engine"
)

// calls are the client's methods, each as one call to make against a
// server that answers every request the same way.
var calls = []struct {
	name string
	do   func(context.Context, *Client) error
}{
	{"CreateCard", func(ctx context.Context, c *Client) error {
		holder := jane
		holder.ExternalID = "ich_1"
		_, err := c.CreateCard(ctx, spec(engine.CardActive, engine.IssuerControls{Daily: 1}, holder))
		return err
	}},
	{"CreateCard with a new cardholder", func(ctx context.Context, c *Client) error {
		_, err := c.CreateCard(ctx, spec(engine.CardActive, engine.IssuerControls{}, jane))
		return err
	}},
	{"UpdateCard", func(ctx context.Context, c *Client) error {
		_, err := c.UpdateCard(ctx, "ic_1", spec(engine.CardFrozen, engine.IssuerControls{}, jane))
		return err
	}},
	{"GetCard", func(ctx context.Context, c *Client) error { _, err := c.GetCard(ctx, "ic_1"); return err }},
	{"Credentials", func(ctx context.Context, c *Client) error { _, err := c.Credentials(ctx, "ic_1"); return err }},
}

// answering is a server that answers every request with status and body,
// counting the requests.
func answering(t *testing.T, status int, body string) (string, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_test123")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

// A Stripe error body whose message echoes the key and a card number, as
// no real one should: they must not reach agentledger's errors.
const leakyMessage = `"message": "Invalid request for ` + testKey + ` and card ` + testPAN + `, also 4000 0566 5566 5556"`

func TestStripeErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		code      string
		says      string
		unreached bool
	}{
		{
			name: "400 with a Stripe error", status: 400,
			body: `{"error": {"type": "invalid_request_error", "code": "parameter_invalid_empty", "param": "currency", ` + leakyMessage + `}}`,
			code: "parameter_invalid_empty", says: "(parameter currency) [request req_test123]",
		},
		{
			name: "402 with a card error", status: 402,
			body: `{"error": {"type": "card_error", "code": "insufficient_funds", "message": "Insufficient funds"}}`,
			code: "insufficient_funds", says: "Insufficient funds",
		},
		{
			name: "404 without a code", status: 404,
			body: `{"error": {"type": "invalid_request_error", "message": "No such card: 'ic_1'"}}`,
			code: "invalid_request_error", says: "No such card",
		},
		{
			name: "429", status: 429,
			body: `{"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}`,
			code: "rate_limit", says: "Too many requests", unreached: true,
		},
		{
			name: "500 with a Stripe error", status: 500,
			body: `{"error": {"type": "api_error", ` + leakyMessage + `}}`,
			code: "api_error", says: "[number]", unreached: true,
		},
		{
			name: "502 from a proxy, not Stripe", status: 502,
			body: `<html>Bad gateway ` + testPAN + `</html>`,
			says: "not a Stripe error", unreached: true,
		},
		{
			name: "500 with JSON that is not an error", status: 500,
			body: `{"number": "` + testPAN + `"}`,
			says: "not a Stripe error", unreached: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, n := answering(t, tc.status, tc.body)
			c := newClient(t, base)
			for _, call := range calls {
				n.Store(0)
				ie := issuerError(t, call.do(ctx, c))
				require.Equal(t, tc.status, ie.Status, call.name)
				require.Equal(t, tc.code, ie.Code, call.name)
				require.Contains(t, ie.Message, tc.says, call.name)
				require.Equal(t, tc.unreached, ie.Unreached(), call.name)
				require.Equal(t, int32(1), n.Load(), "%s: one request, no retry", call.name)
			}
		})
	}
}

// TestUnreadableSuccess: a 200 whose body is not a card may still mean the
// card was made, so it is Status 0 (a retry, idempotent, tells), and the
// body, with the number in it, is not quoted.
func TestUnreadableSuccess(t *testing.T) {
	base, _ := answering(t, 200, `{"id": "ic_1", "number": "`+testPAN+`", "exp_month": "eight`)
	c := newClient(t, base)
	for _, call := range calls {
		ie := issuerError(t, call.do(ctx, c))
		require.Equal(t, 0, ie.Status, call.name)
		require.Contains(t, ie.Message, "may have taken effect", call.name)
		require.NotContains(t, ie.Message, "eight", call.name)
	}
}

func TestUnreached(t *testing.T) {
	// A server that answers nothing until the test ends.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })

	// A server that sends headers, then half a body, then hangs up.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"id": "ic_1", "number": "`+testPAN)
	}))
	t.Cleanup(cut.Close)

	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + l.Addr().String()
	require.NoError(t, l.Close())

	short := func(c *Config) { c.HTTPClient = &http.Client{Timeout: 200 * time.Millisecond} }
	for _, tc := range []struct {
		name string
		base string
		edit func(*Config)
		ctx  func() (context.Context, context.CancelFunc)
		says string
	}{
		{name: "a hang past the client's timeout", base: hang.URL, edit: short, says: "no answer in time"},
		{name: "a hang past the context's deadline", base: hang.URL, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}, says: "no answer in time"},
		{name: "a canceled context", base: hang.URL, ctx: func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, says: "canceled"},
		{name: "a body cut short", base: cut.URL, says: "EOF"},
		{name: "connection refused", base: refused, says: "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*Config)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			c := newClient(t, tc.base, edits...)
			for _, call := range calls {
				callCtx, cancel := context.Background(), context.CancelFunc(func() {})
				if tc.ctx != nil {
					callCtx, cancel = tc.ctx()
				}
				start := time.Now()
				err := call.do(callCtx, c)
				cancel()
				ie := issuerError(t, err)
				require.Equal(t, 0, ie.Status, call.name)
				require.True(t, ie.Unreached(), call.name)
				require.Contains(t, ie.Message, tc.says, call.name)
				require.Contains(t, err.Error(), "stripe could not be reached", call.name)
				require.NotContains(t, ie.Message, tc.base, "%s: no URL", call.name)
				require.Less(t, time.Since(start), 5*time.Second, call.name)
			}
		})
	}
}

// TestStripeGoPrintsNothing: stripe-go's default logger prints failures
// (with response bodies at debug level) to stdout and stderr; the client's
// prints nothing, whatever happens.
func TestStripeGoPrintsNothing(t *testing.T) {
	bases := []string{}
	for _, a := range []struct {
		status int
		body   string
	}{
		{500, `{"error": {"type": "api_error", ` + leakyMessage + `}}`},
		{200, `{"id": "ic_1", "number": "` + testPAN + `", "cvc": "` + testCVC + `"}`},
		{200, `{"id": "ic_1", "number": "` + testPAN + `", `},
	} {
		base, _ := answering(t, a.status, a.body)
		bases = append(bases, base)
	}
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	func() {
		defer func() { os.Stdout, os.Stderr = stdout, stderr }()
		for _, base := range bases {
			c := newClient(t, base)
			for _, call := range calls {
				_ = call.do(ctx, c)
			}
		}
	}()
	require.NoError(t, w.Close())
	printed, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Empty(t, string(printed))
}

func TestScrub(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1")
	for in, want := range map[string]string{
		"key " + testKey:                 "key [api key]",
		"other sk_live_abcDEF123 key":    "other [api key] key",
		"card 4242424242424242 declined": "card [number] declined",
		"card 4242-4242-4242-4242":       "card [number]",
		"status 402 at 1700000000":       "status 402 at 1700000000",
		"request req_" + strconv.Itoa(7): "request req_7",
	} {
		require.Equal(t, want, c.scrub(in))
	}
}
