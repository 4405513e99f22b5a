package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/httperr"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/metrics"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
)

// metricsHandler builds the Prometheus metrics, subscribes them to the
// hooks (decisions, commits, tool calls, requests, webhook deliveries), and
// returns the handler of /metrics, which checks no key, and the metrics,
// whose Fallback is the issuer endpoints' OnFallback. The queue gauges are
// read as the operator. Call it once: each call subscribes another set.
func (a *app) metricsHandler() (http.Handler, *metrics.Metrics) {
	m := metrics.New()
	a.hooks.add(sink{Decided: m.Decided, Committed: m.Committed, ToolCall: m.ToolCall, Request: m.Request,
		Delivery: m.Delivery})
	eng := a.engine
	return m.Handler(func(ctx context.Context) (*engine.Stats, error) { return eng.Stats(ctx, op) }), m
}

// requireViewer lets through only requests with "Authorization: Bearer
// <key>" of an admin or viewer key, as on the main server's /metrics: 401
// without a valid key, 403 for an agent or network key, in the JSON error
// shape of the other faces. A key checked in the last couple of seconds is
// trusted without another lookup.
func requireViewer(eng *engine.Engine, next http.Handler) http.Handler {
	keys := engine.NewKeyCache(eng, 0)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentledger"`)
			httperr.Write(w, http.StatusUnauthorized, engine.CodeUnauthorized,
				"send Authorization: Bearer <an admin or viewer key>", "")
			return
		}
		actor, err := keys.Authenticate(r.Context(), token)
		if err != nil {
			if engine.ErrorCode(err) == engine.CodeUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="agentledger", error="invalid_token"`)
			}
			httperr.WriteEngine(w, err)
			return
		}
		mcp.NoteKey(r.Context(), actor.KeyID)
		if actor.Role != engine.RoleAdmin && actor.Role != engine.RoleViewer {
			article := "a "
			if strings.ContainsRune("aeiou", rune(actor.Role[0])) {
				article = "an "
			}
			httperr.Write(w, http.StatusForbidden, engine.CodeForbidden,
				"only an admin or viewer key may read the metrics, not "+article+actor.Role+" key", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// listenMetrics listens on the address of --metrics-addr: HOST:PORT, or a
// port alone (or :PORT), which binds 127.0.0.1 as --http does, since what
// it serves needs no key.
func listenMetrics(addr string) (net.Listener, error) {
	if !strings.Contains(addr, ":") {
		addr = ":" + addr
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	return net.Listen("tcp", addr)
}

// serveMetrics serves h at GET /metrics on ln, without a key, until ctx
// ends; then it shuts down, letting a scrape under way finish.
func serveMetrics(ctx context.Context, ln net.Listener, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
