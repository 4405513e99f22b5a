package mcp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/mark3labs/mcp-go/server"
)

// ServeStdio serves MCP on in and out until in closes or ctx ends. The API
// key is checked on every call (through the key cache), so a key revoked
// mid-session stops working.
func (s *Server) ServeStdio(ctx context.Context, apiKey string, in io.Reader, out io.Writer) error {
	ss := server.NewStdioServer(s.mcp)
	ss.SetErrorLogger(log.New(slogWriter{s.log}, "", 0))
	ss.SetContextFunc(func(ctx context.Context) context.Context { return context.WithValue(ctx, keyKey{}, apiKey) })
	err := ss.Listen(ctx, in, out)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

type keyKey struct{}

// slogWriter lets mcp-go's *log.Logger write into our slog.Logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)), "component", "mcp-go")
	return len(p), nil
}

// HTTPOptions configure the streamable HTTP server.
type HTTPOptions struct {
	// AllowedOrigins are browser origins allowed besides the server's own
	// (scheme://host:port). Requests without an Origin header are not
	// browser requests and always pass.
	AllowedOrigins []string
	// SessionIdleTTL ends sessions idle this long (default 30 minutes).
	SessionIdleTTL time.Duration
	// ShutdownTimeout bounds the graceful shutdown (default 10 seconds).
	ShutdownTimeout time.Duration
	// Health reports whether the server can serve (e.g. the database is
	// readable); /healthz answers 503 when it fails.
	Health func(context.Context) error
	// Version and Revision, when set, are reported by /healthz beside its
	// status.
	Version, Revision string
	// Mount adds further routes (such as issuer webhooks) to the mux.
	Mount func(*http.ServeMux)
	// MaxBodyBytes bounds every request body, on /mcp and on mounted routes
	// (default DefaultMaxBodyBytes). Larger bodies are answered 413.
	MaxBodyBytes int64
	// OnRequest, when set, hears of every request once it is answered
	// (logs, metrics). It must be quick.
	OnRequest func(RequestInfo)
	// OAuthResource, when set, makes /mcp an OAuth 2.1 resource server
	// beside API keys: it returns the resource URL a request's access
	// tokens must be bound to and the URL of its metadata (RFC 9728), or
	// "" when OAuth is not offered to the request. A 401 then names the
	// metadata, so clients that connect by URL find the authorization
	// server.
	OAuthResource func(*http.Request) (resource, metadataURL string)
}

// RequestInfo is one answered HTTP request, as an operator watches it:
// never its body, its query or its key.
type RequestInfo struct {
	Method string
	Path   string
	Status int
	// KeyID is the API key the request was authenticated with (key_…),
	// when a face said so with NoteKey.
	KeyID    string
	Duration time.Duration
}

// requestNote is where a face notes, for the request's log line, which key
// it authenticated.
type requestNote struct{ keyID string }

type requestNoteKey struct{}

// NoteKey records the key id a request was authenticated with, for its log
// line and metrics. Faces call it once they have checked the key.
func NoteKey(ctx context.Context, keyID string) {
	if n, ok := ctx.Value(requestNoteKey{}).(*requestNote); ok {
		n.keyID = keyID
	}
}

// statusRecorder notes the status of an answer. It passes Flush on, for
// streamed answers (MCP's SSE).
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observeRequests tells OnRequest of each request.
func (h *HTTPServer) observeRequests(next http.Handler) http.Handler {
	if h.opts.OnRequest == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		note := &requestNote{}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			// A handler that panics is still a request answered (net/http
			// closes it): it gets its line, as a 500, and the panic goes on.
			p := recover()
			switch {
			case p != nil:
				rec.status = http.StatusInternalServerError
			case rec.status == 0:
				rec.status = http.StatusOK
			}
			h.opts.OnRequest(RequestInfo{Method: r.Method, Path: r.URL.Path, Status: rec.status, KeyID: note.keyID,
				Duration: time.Since(start)})
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestNoteKey{}, note)))
	})
}

// DefaultMaxBodyBytes is the default bound on a request body: MCP messages
// and issuer webhooks are a few kilobytes.
const DefaultMaxBodyBytes = 1 << 20

// HTTPServer serves MCP over streamable HTTP at /mcp, and /healthz.
type HTTPServer struct {
	s          *Server
	opts       HTTPOptions
	streamable *server.StreamableHTTPServer
	sessions   *sessions
	http       *http.Server
	mux        *http.ServeMux
}

// NewHTTP prepares the HTTP face. Sessions are kept (2025-11-25 clients get
// an Mcp-Session-Id that is validated on every request), belong to the API
// key that opened them and expire after SessionIdleTTL; 2026-07-28 clients
// are served too, sessionless as that protocol is.
func (s *Server) NewHTTP(opts HTTPOptions) *HTTPServer {
	if opts.SessionIdleTTL <= 0 {
		opts.SessionIdleTTL = 30 * time.Minute
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h := &HTTPServer{s: s, opts: opts, mux: http.NewServeMux(), sessions: newSessions()}
	h.http = &http.Server{Handler: h.observeRequests(h.mux), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		// The server's own complaints (TLS handshakes, panics) go to the
		// server's log, as its lines, not raw to stderr.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	h.streamable = server.NewStreamableHTTPServer(s.mcp,
		server.WithSessionIdManagerResolver(h.sessions),
		server.WithSessionIdleTTL(opts.SessionIdleTTL),
		// Heartbeats on the GET stream keep a listening client's session
		// from being swept as idle.
		server.WithHeartbeatInterval(min(opts.SessionIdleTTL/2, 30*time.Second)),
		server.WithStreamableHTTPServer(h.http),
		server.WithStreamableHTTPLogger(s.log),
	)
	h.mux.HandleFunc("GET /healthz", h.health)
	// The key and the session are checked before the body is read: a
	// client without either cannot make the server read anything.
	h.mux.Handle("/mcp", h.checkOrigin(h.authenticate(h.checkSession(h.limitBody(h.readBody(h.streamable))))))
	if opts.Mount != nil {
		// Mounted routes (the REST API, issuer webhooks) get the same
		// Origin check, the same bound and the same 413.
		routes := http.NewServeMux()
		opts.Mount(routes)
		h.mux.Handle("/", h.checkOrigin(h.limitBody(h.readBody(routes))))
	}
	return h
}

// Handler is the whole HTTP face, for tests and embedding.
func (h *HTTPServer) Handler() http.Handler { return h.http.Handler }

// Serve serves on ln until ctx ends, then shuts down gracefully: open
// streams are closed, in-flight calls finish.
func (h *HTTPServer) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- h.http.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), h.opts.ShutdownTimeout)
	defer cancel()
	if err := h.streamable.Shutdown(sctx); err != nil {
		h.http.Close()
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown ends sessions and streams when the handler is served by someone
// else's http.Server (as in tests).
func (h *HTTPServer) Shutdown(ctx context.Context) error { return h.streamable.Shutdown(ctx) }

func (h *HTTPServer) health(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	if h.opts.Health != nil {
		if err := h.opts.Health(r.Context()); err != nil {
			h.s.log.ErrorContext(r.Context(), "health check failed", "err", err)
			status, code = "unavailable", http.StatusServiceUnavailable
		}
	}
	body := map[string]string{"status": status}
	if h.opts.Version != "" {
		body["version"] = h.opts.Version
	}
	if h.opts.Revision != "" {
		body["revision"] = h.opts.Revision
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// checkOrigin refuses browser requests from foreign origins (403): a web
// page must not be able to drive a local agentledger. The server's own
// origin (the request's Host) and configured ones are allowed; requests
// without Origin (agents, CLIs, mcp-remote) pass. mcp-go separately refuses
// non-loopback Host headers on loopback connections (DNS rebinding).
func (h *HTTPServer) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && !h.originAllowed(origin, r.Host) {
			httpError(w, http.StatusForbidden, "FORBIDDEN", "origin "+origin+" is not allowed")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *HTTPServer) originAllowed(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, o := range h.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(o, "/"), u.Scheme+"://"+u.Host) {
			return true
		}
	}
	return false
}

// authenticate requires "Authorization: Bearer <key or access token>" on
// every request and puts its actor in the request context. A key checked in
// the last KeyCacheTTL is trusted without another lookup; an OAuth access
// token is looked up every time, so that a revoked client's next call fails.
func (h *HTTPServer) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var resource, metadata string
		if h.opts.OAuthResource != nil {
			resource, metadata = h.opts.OAuthResource(r)
		}
		challenge := func(errorCode string) {
			v := `Bearer realm="agentledger"`
			if errorCode != "" {
				v += `, error="` + errorCode + `"`
			}
			if metadata != "" {
				v += `, resource_metadata="` + metadata + `"`
			}
			w.Header().Set("WWW-Authenticate", v)
		}
		scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
			challenge("")
			message := "send Authorization: Bearer <agentledger API key>"
			if metadata != "" {
				message += ", or connect with OAuth (" + metadata + ")"
			}
			httpError(w, http.StatusUnauthorized, "UNAUTHORIZED", message)
			return
		}
		var actor engine.Actor
		var err error
		if strings.HasPrefix(token, engine.OAuthAccessTokenPrefix) && resource != "" {
			actor, err = h.s.eng.AuthenticateOAuth(r.Context(), token, resource)
		} else {
			actor, err = h.s.keys.Authenticate(r.Context(), token)
		}
		if err != nil {
			if engine.ErrorCode(err) != engine.CodeUnauthorized {
				h.s.log.ErrorContext(r.Context(), "authentication failed", "err", err)
				httpError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "cannot check the API key right now")
				return
			}
			challenge("invalid_token")
			httpError(w, http.StatusUnauthorized, "UNAUTHORIZED", "invalid API key or access token")
			return
		}
		NoteKey(r.Context(), actor.KeyID)
		next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
	})
}

// checkSession answers 404 for an Mcp-Session-Id this key did not open
// (another key's, or one that ended or never was), before mcp-go sees the
// request: mcp-go itself would let any key end a session with DELETE, and
// take over its stream with GET. The answer is the same whether the
// session exists or not, so a key learns nothing of others' sessions.
func (h *HTTPServer) checkSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(server.HeaderKeySessionID)
		actor, _ := actorFrom(r.Context())
		if id != "" && !h.sessions.ownedBy(id, actor.KeyID) {
			httpError(w, http.StatusNotFound, "NOT_FOUND", "no such MCP session for this API key: initialize a new one")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds the request body to MaxBodyBytes: a declared length over
// it is refused at once, and a body of unknown length (chunked) fails as
// soon as it is read past the bound, so no request makes the server hold
// more than that.
func (h *HTTPServer) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > h.opts.MaxBodyBytes {
			h.tooLarge(w)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// readBody reads a POST, PUT or PATCH body (already bounded by limitBody)
// before the handler does, so that one over the bound is answered 413
// rather than as a handler's own error (a JSON-RPC parse error from
// mcp-go); the handler then reads the copy.
func (h *HTTPServer) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.tooLarge(w)
				return
			}
			httpError(w, http.StatusBadRequest, "BAD_REQUEST", "cannot read the request body: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func (h *HTTPServer) tooLarge(w http.ResponseWriter) {
	httpError(w, http.StatusRequestEntityTooLarge, "TOO_LARGE",
		fmt.Sprintf("the request body is larger than this server's limit of %d bytes", h.opts.MaxBodyBytes))
}

func httpError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	var body errorBody
	body.Error.Code, body.Error.Message = code, message
	json.NewEncoder(w).Encode(body)
}
