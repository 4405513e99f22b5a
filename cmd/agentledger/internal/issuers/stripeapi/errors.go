package stripeapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/stripe/stripe-go/v84"

	"github.com/agentledger/agentledger/engine"
)

// Codes of the *engine.IssuerError a Client returns without Stripe having
// answered it.
const (
	// CodeNotSent: the request was refused before it was sent, because
	// Stripe could not accept it (a spec agentledger cannot express to
	// Stripe, no billing address for a new cardholder). Status is 400:
	// retrying the same call cannot cure it.
	CodeNotSent = "agentledger_not_sent"
	// CodeCardClosed: the card is canceled at Stripe and the update would
	// reopen it. Status is 409.
	CodeCardClosed = "agentledger_card_closed"
	// CodeNoNumber: Stripe answered a card's retrieval with number and CVC
	// expanded but without them (a physical card, or an account Stripe has
	// not enabled to retrieve numbers through the API).
	CodeNoNumber = "agentledger_no_number"
)

// call is what the transport saw of one API call's HTTP exchange: stripe-go
// drops the status of an answer whose body it cannot decode.
type call struct {
	mu     sync.Mutex
	status int
}

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *call) {
	if ctx == nil {
		ctx = context.Background()
	}
	c := &call{}
	return context.WithValue(ctx, callKey{}, c), c
}

func (c *call) answered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// observingTransport notes the status of each answer in its call.
type observingTransport struct {
	base http.RoundTripper
}

func (t *observingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err == nil && resp != nil {
		if c, ok := r.Context().Value(callKey{}).(*call); ok {
			c.mu.Lock()
			c.status = resp.StatusCode
			c.mu.Unlock()
		}
	}
	return resp, err
}

// nopLogger is stripe-go's logger here: it prints nothing, ever. stripe-go
// logs response bodies at debug level, and a card's number and CVC are in
// the body a credentials call gets; every failure it would log is returned
// as an error instead.
type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Errorf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}

var _ stripe.LeveledLoggerInterface = nopLogger{}

var (
	// keyPattern matches Stripe secret, restricted and publishable keys.
	keyPattern = regexp.MustCompile(`\b(?:sk|rk|pk)_(?:test|live)_[0-9A-Za-z]+`)
	// numberPattern matches 12 to 19 digits, as a card number may be
	// written (spaces or dashes between groups).
	numberPattern = regexp.MustCompile(`[0-9](?:[ -]?[0-9]){11,18}`)
)

// scrub removes from a message the client's API key, anything shaped like
// a Stripe key and anything shaped like a card number.
func (c *Client) scrub(s string) string {
	if c.key != "" {
		s = strings.ReplaceAll(s, c.key, "[api key]")
	}
	s = keyPattern.ReplaceAllString(s, "[api key]")
	return numberPattern.ReplaceAllString(s, "[number]")
}

// notSent is a call refused before it was sent.
func notSent(format string, args ...any) *engine.IssuerError {
	return &engine.IssuerError{
		Issuer: engine.IssuerStripe, Status: http.StatusBadRequest, Code: CodeNotSent,
		Message: "not sent: " + fmt.Sprintf(format, args...),
	}
}

// fail maps the error of the call op to an *engine.IssuerError:
//
//   - Stripe's error answer: its HTTP status, code (its type when it gave
//     no code), message, the parameter at fault and the request id.
//   - no answer (connection refused or reset, a timeout, the context's
//     deadline or cancellation, a body cut short): Status 0.
//   - an answer stripe-go could not decode: its status when it is an error
//     status; when it is a success, Status 0, since the call may have taken
//     effect and only a retry (idempotent) can tell.
//   - anything else happened before the request was sent: Status 0.
//
// The message never holds the API key or a card number: nothing of an
// answer's body but Stripe's own error message is used, and that is
// scrubbed too.
func (c *Client) fail(op string, err error, cl *call) *engine.IssuerError {
	e := &engine.IssuerError{Issuer: engine.IssuerStripe}
	var se *stripe.Error
	switch {
	case errors.As(err, &se):
		e.Status = se.HTTPStatusCode
		if e.Status == 0 {
			e.Status = cl.answered()
		}
		e.Code = string(se.Code)
		if e.Code == "" {
			e.Code = string(se.Type)
		}
		msg := se.Msg
		if msg == "" {
			msg = http.StatusText(e.Status)
		}
		if se.Param != "" {
			msg += " (parameter " + se.Param + ")"
		}
		if se.RequestID != "" {
			msg += " [request " + se.RequestID + "]"
		}
		e.Message = op + ": " + msg
	case unreached(err):
		e.Message = op + ": " + reason(err)
	default:
		switch status := cl.answered(); {
		case status >= 400:
			e.Status = status
			e.Message = fmt.Sprintf("%s: %s, with a body that is not a Stripe error", op, http.StatusText(status))
		case status > 0:
			e.Message = fmt.Sprintf("%s: the answer (%d) could not be read as a Stripe object (the call may have taken effect)", op, status)
		default:
			e.Message = op + ": request not sent: " + err.Error()
		}
	}
	e.Message = c.scrub(e.Message)
	return e
}

// unreached reports whether err means no (whole) answer came.
func unreached(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// reason says why no answer came, without the request's URL.
func reason(err error) string {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if timeout {
		return "no answer in time (" + err.Error() + ")"
	}
	return err.Error()
}
