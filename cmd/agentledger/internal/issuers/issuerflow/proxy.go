// Package issuerflow runs one scenario of agentledger as the control plane
// of real cards against an issuer's API (stripe-mock, the Lithic test
// server): provisioning through MCP, the number fetched only after an
// intent, state and controls following, and the issuer failing during
// create, freeze and details. A recording proxy in front of the issuer
// shows what was called, in which order, and injects the failures.
package issuerflow

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request the proxy passed on (or failed).
type Request struct {
	Method string
	Path   string
	Query  string
	Body   string
	Fault  string // the fault injected, if any
	Status int    // the issuer's answer's status; 0 when faulted
}

func (r Request) String() string { return r.Method + " " + r.Path }

// fault is a failure the proxy injects into matching requests.
type fault struct {
	method, pathPrefix string
	kind               string // "500", "hang", "refuse"
	n                  int
}

// Proxy records the requests to an issuer and can fail them.
type Proxy struct {
	URL string

	mu       sync.Mutex
	requests []Request
	faults   []*fault
	hang     time.Duration
	srv      *httptest.Server
}

// NewProxy starts a proxy to target until t ends. hang is how long a hung
// request hangs (longer than the client's timeout).
// rewrite, when set, may change the issuer's answers on their way back.
func NewProxy(t testing.TB, target string, hang time.Duration, rewrite func(*http.Response) error) *Proxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{hang: hang}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = rewrite
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		req := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body)}
		f := p.take(r)
		if f != "" {
			req.Fault = f
		}
		p.mu.Lock()
		p.requests = append(p.requests, req)
		i := len(p.requests) - 1
		p.mu.Unlock()
		switch f {
		case "500":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"type":"api_error","message":"injected failure"},"message":"injected failure"}`)
			return
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(p.hang):
			}
			return
		case "lost":
			// The issuer acts; its answer never arrives.
			rp.ServeHTTP(httptest.NewRecorder(), r)
			fallthrough
		case "refuse":
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		sw := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(sw, r)
		p.mu.Lock()
		p.requests[i].Status = sw.status
		p.mu.Unlock()
	}))
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// statusWriter notes the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Refused returns the requests the issuer itself refused (4xx): with a
// schema-checking issuer API, a call agentledger got wrong.
func (p *Proxy) Refused() []Request {
	var out []Request
	for _, r := range p.Requests() {
		if r.Status >= 400 && r.Status < 500 {
			out = append(out, r)
		}
	}
	return out
}

// Fail makes the next n requests of method under pathPrefix fail: kind is
// "500", "hang" (no answer), "refuse" (the connection is closed) or "lost"
// (the issuer gets the request and acts, then the connection is closed).
func (p *Proxy) Fail(n int, method, pathPrefix, kind string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, &fault{method: method, pathPrefix: pathPrefix, kind: kind, n: n})
}

// Clear drops the faults not yet used.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

func (p *Proxy) take(r *http.Request) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.n > 0 && (f.method == "" || f.method == r.Method) && strings.HasPrefix(r.URL.Path, f.pathPrefix) {
			f.n--
			return f.kind
		}
	}
	return ""
}

// Requests returns the requests so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Mark returns how many requests there have been, to look at what comes
// after it with Since.
func (p *Proxy) Mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests)
}

// Since returns the requests after a mark.
func (p *Proxy) Since(mark int) []Request {
	return p.Requests()[mark:]
}
