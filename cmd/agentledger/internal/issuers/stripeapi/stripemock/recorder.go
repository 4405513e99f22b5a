package stripemock

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Request is one request a Recorder forwarded.
//
// Its Form and Query are kept as sent, redacting nothing, and a card's
// number can be among them in a test that sends one: print a Request with
// %v or %s (String names the parameters, never their values), not its
// fields.
type Request struct {
	Method string
	Path   string
	// Query is the URL's query (a GET's parameters, e.g. expand[0]).
	Query url.Values
	// Form is the form-encoded body (a POST's parameters).
	Form url.Values
	// IdempotencyKey is the Idempotency-Key header, empty when none.
	IdempotencyKey string
	// Status is the status of the answer, 0 when the upstream gave none.
	Status int
}

// String names the request and its parameters, without their values.
func (r Request) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Method, r.Path)
	if keys := sortedKeys(r.Query); len(keys) > 0 {
		fmt.Fprintf(&b, " query[%s]", strings.Join(keys, " "))
	}
	if keys := sortedKeys(r.Form); len(keys) > 0 {
		fmt.Fprintf(&b, " form[%s]", strings.Join(keys, " "))
	}
	if r.IdempotencyKey != "" {
		b.WriteString(" idempotency-key")
	}
	if r.Status != 0 {
		fmt.Fprintf(&b, " -> %d", r.Status)
	}
	return b.String()
}

// Param is the value of a parameter in the body or, for a GET, in the
// query: Form.Get, else Query.Get.
func (r Request) Param(key string) string {
	if v, ok := r.Form[key]; ok && len(v) > 0 {
		return v[0]
	}
	return r.Query.Get(key)
}

// Has reports whether the request sent key, in its body or its query, even
// with an empty value.
func (r Request) Has(key string) bool {
	_, inForm := r.Form[key]
	_, inQuery := r.Query[key]
	return inForm || inQuery
}

func sortedKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Recorder is an HTTP reverse proxy, on loopback, that records each request
// it forwards to its upstream, in the order they arrive. It is safe for
// concurrent use.
type Recorder struct {
	// URL is the recorder's base URL: give it to a client as its API base.
	URL string

	mu   sync.Mutex
	reqs []*Request
}

type requestKey struct{}

// NewRecorder starts a recording proxy to upstream (a base URL such as a
// Server's) and closes it when t ends.
func NewRecorder(t testing.TB, upstream string) *Recorder {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("stripemock: upstream %q: %v", upstream, err)
	}
	rec := &Recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		rec.setStatus(r.Context(), http.StatusBadGateway)
		w.WriteHeader(http.StatusBadGateway)
	}
	proxy.ModifyResponse = func(resp *http.Response) error {
		rec.setStatus(resp.Request.Context(), resp.StatusCode)
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		req := rec.add(&Request{
			Method:         r.Method,
			Path:           r.URL.Path,
			Query:          r.URL.Query(),
			Form:           form,
			IdempotencyKey: r.Header.Get("Idempotency-Key"),
		})
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

// Requests returns a copy of the requests recorded so far, oldest first.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.reqs))
	for i, req := range r.reqs {
		out[i] = *req
	}
	return out
}

// Last returns the latest request, and false when there is none.
func (r *Recorder) Last() (Request, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return Request{}, false
	}
	return *r.reqs[len(r.reqs)-1], true
}

// Reset forgets the requests recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = nil
}

func (r *Recorder) add(req *Request) *Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return req
}

// setStatus records the answer's status on the request ctx carries.
func (r *Recorder) setStatus(ctx context.Context, status int) {
	req, ok := ctx.Value(requestKey{}).(*Request)
	if !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	req.Status = status
}
