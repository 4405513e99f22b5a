package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/oauth"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/web"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/spf13/cobra"
)

// sweepEvery is how often a server records due expiries.
const sweepEvery = 30 * time.Second

func (a *app) serveCommand() *cobra.Command {
	var stdio, noop, noWebhooks, insecureHTTP, noRegistration bool
	var addr, fallback, logFormat, logLevel, tlsCert, tlsKey, metricsAddr, publicURL string
	var origins []string
	budget := issuers.DefaultBudget
	var maxBody int64
	rate := api.DefaultRatePerMinute
	cmd := &cobra.Command{
		Use:   "serve --stdio | --http ADDR",
		Short: "Serve the MCP tools (ledger_card, ledger_intent, policy_check) over stdio or streamable HTTP",
		Long: `Serve the MCP tools to agents.

--stdio serves one client on standard input and output, as Claude Desktop and
Cursor start it; the API key comes from $LEDGER_API_KEY.

--http ADDR serves streamable HTTP at http://ADDR/mcp (and /healthz), and the
REST API at /v1 (agentledger's own, OpenAPI at /v1/openapi.json) and /api
(capped.ai's endpoints), and the operator dashboard at / (sign in with an
admin or viewer key); every request needs "Authorization: Bearer <key>"
(the REST API also takes "Api-Key: <key>"), and each key may make
--rate-limit REST requests a minute. ADDR without a host binds
127.0.0.1. Browser requests from other origins are refused. A request body
larger than --max-body-bytes (default 1 MiB) is refused with 413, before it
is read in full. The same server answers card networks and issuers:

  POST /v1/network/authorize|settle|reverse|refund  (admin or network key)
  POST /v1/issuers/stripe/authorization  ($AGENTLEDGER_STRIPE_WEBHOOK_SECRET)
  POST /v1/issuers/lithic/asa            ($AGENTLEDGER_LITHIC_SECRET)
  POST /v1/issuers/lithic/events         ($AGENTLEDGER_LITHIC_EVENTS_SECRET,
                                          default $AGENTLEDGER_LITHIC_SECRET)

MCP clients that connect by URL may use OAuth 2.1 instead of a key: the
server is its own authorization server (metadata at
/.well-known/oauth-protected-resource/mcp and
/.well-known/oauth-authorization-server), clients register themselves
(unless --no-oauth-registration), and an admin signed in to the dashboard
chooses which agent each acts as. On an address other than loopback, give
--public-url, the URL clients use, which access tokens are bound to.

Either way the server sends webhooks (unless --no-webhooks) and records due
expiries every 30 s.`,
		Example: `  LEDGER_API_KEY=al_… agentledger serve --stdio
  agentledger serve --http 127.0.0.1:8765`,
		Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			if stdio == (addr != "") {
				return usagef("give exactly one of --stdio and --http ADDR")
			}
			if fallback != "decline" && fallback != "approve" {
				return usagef("--issuer-fallback must be decline or approve")
			}
			if rate <= 0 {
				rate = -1
			}
			if maxBody <= 0 {
				return usagef("--max-body-bytes must be positive")
			}
			if (tlsCert == "") != (tlsKey == "") {
				return usagef("give both --tls-cert and --tls-key, or neither")
			}
			logger, err := newLogger(a.err, logFormat, logLevel)
			if err != nil {
				return err
			}
			a.hooks.add(logSink(logger))
			metricsH, metrics := a.metricsHandler()
			var metricsLn net.Listener
			if metricsAddr != "" {
				if metricsLn, err = listenMetrics(metricsAddr); err != nil {
					return fmt.Errorf("--metrics-addr: %w", err)
				}
				if !onLoopback(metricsLn) && !insecureHTTP {
					metricsLn.Close()
					return usagef("refusing keyless, plain-HTTP metrics on %s, which is not a loopback address: "+
						"scrape /metrics on --http with a viewer key instead, or give --insecure-http when only your "+
						"network can reach it", metricsAddr)
				}
			}
			srv := mcp.New(a.engine, mcp.Options{Version: version, Logger: logger, NoopTool: noop,
				OnToolCall: a.hooks.toolCall})
			ctx, cancel := context.WithCancel(a.ctx)
			metricsDone := make(chan struct{})
			if metricsLn != nil {
				go func() {
					if err := serveMetrics(ctx, metricsLn, metricsH); err != nil {
						logger.Error("metrics server stopped", "err", err)
					}
					close(metricsDone)
				}()
				fmt.Fprintf(a.err, "metrics on http://%s/metrics (no key)\n", metricsLn.Addr())
			} else {
				close(metricsDone)
			}
			swept := make(chan struct{})
			go func() { a.sweep(ctx, logger); close(swept) }()
			synced := make(chan struct{})
			go func() { a.followIssuerQueue(ctx, logger); close(synced) }()
			waitSender := func() {}
			if !noWebhooks {
				waitSender = a.runSender(ctx, logger)
			}
			// The database closes after the sweeper and the sender stop.
			defer func() { cancel(); <-swept; <-synced; <-metricsDone; waitSender() }()
			if stdio {
				key := strings.TrimSpace(a.getenv("LEDGER_API_KEY"))
				if key == "" {
					return fmt.Errorf("LEDGER_API_KEY is not set: create a key with '%s key create --agent AGENT' and put it in the MCP client's env", a.invocation())
				}
				if _, err := a.engine.Authenticate(a.ctx, key); err != nil {
					if engine.ErrorCode(err) == engine.CodeUnauthorized {
						return fmt.Errorf("LEDGER_API_KEY is not a valid key for %s (unknown or revoked)", a.dbName())
					}
					return err
				}
				return srv.ServeStdio(ctx, key, a.in, a.out)
			}
			if !strings.Contains(addr, ":") {
				addr = ":" + addr
			}
			if strings.HasPrefix(addr, ":") {
				addr = "127.0.0.1" + addr
			}
			ln, scheme, err := listen(addr, tlsCert, tlsKey, insecureHTTP, a.err)
			if err != nil {
				return err
			}
			iss, err := issuers.New(a.engine, issuers.Options{
				StripeSecret: a.getenv("AGENTLEDGER_STRIPE_WEBHOOK_SECRET"), LithicSecret: a.getenv("AGENTLEDGER_LITHIC_SECRET"),
				LithicEventsSecret: a.getenv("AGENTLEDGER_LITHIC_EVENTS_SECRET"), Budget: budget, FallbackApprove: fallback == "approve", Logger: logger,
				MaxBody: maxBody, OnFallback: metrics.Fallback,
			})
			if err != nil {
				ln.Close()
				return err
			}
			defer iss.Wait() // fallbacks still being recorded
			oauthFace, err := oauth.New(a.engine, oauth.Options{PublicURL: publicURL, Registration: !noRegistration,
				AllowHTTP: insecureHTTP, Logger: logger})
			if err != nil {
				ln.Close()
				return usageError{err}
			}
			if publicURL == "" && !onLoopback(ln) {
				fmt.Fprintf(a.err, "note: OAuth is off on %s: give --public-url (the URL clients use) to let MCP "+
					"clients connect by URL\n", ln.Addr())
			} else if publicURL == "" {
				fmt.Fprintf(a.err, "note: OAuth answers requests to this loopback address only; behind a proxy, "+
					"give --public-url\n")
			}
			rest := api.New(a.engine, api.Options{Version: version, RatePerMinute: rate, Logger: logger,
				MaxBodyBytes: maxBody})
			dashboard := web.New(a.engine, web.Options{Version: version, Logger: logger, OAuth: oauthFace})
			mount := func(mux *http.ServeMux) {
				iss.Mount(mux)
				oauthFace.Mount(mux)
				rest.Mount(mux)
				dashboard.Mount(mux)
				mux.Handle("GET /metrics", requireViewer(a.engine, metricsH))
			}
			h := srv.NewHTTP(mcp.HTTPOptions{AllowedOrigins: origins, Health: a.db.Ping, Mount: mount,
				MaxBodyBytes: maxBody, OnRequest: a.hooks.request, Version: version, Revision: build.Revision,
				OAuthResource: oauthFace.Resource})
			fmt.Fprintf(a.err, "agentledger MCP server on %[2]s://%[1]s/mcp, dashboard on %[2]s://%[1]s/, "+
				"REST API on %[2]s://%[1]s/v1 (OpenAPI: /v1/openapi.json), health: /healthz; Ctrl-C stops it\n", ln.Addr(), scheme)
			return h.Serve(ctx, ln)
		}),
	}
	cmd.Flags().BoolVar(&stdio, "stdio", false, "serve one client on stdin/stdout")
	cmd.Flags().StringVar(&addr, "http", "", "serve streamable HTTP on ADDR (host:port; 127.0.0.1 when the host is omitted)")
	cmd.Flags().StringSliceVar(&origins, "allow-origin", nil, "further browser origins allowed to call the HTTP server, e.g. https://app.example.com")
	cmd.Flags().Int64Var(&maxBody, "max-body-bytes", mcp.DefaultMaxBodyBytes,
		"refuse HTTP request bodies larger than this (413)")
	cmd.Flags().IntVar(&rate, "rate-limit", api.DefaultRatePerMinute,
		"REST API requests per minute per key, in a burst or spread out (429 beyond; 0 or less: no limit)")
	cmd.Flags().BoolVar(&noWebhooks, "no-webhooks", false, "do not send webhooks from this process (run 'agentledger webhook run' elsewhere)")
	cmd.Flags().DurationVar(&budget, "issuer-budget", issuers.DefaultBudget, "how long an issuer's authorization request waits for a decision before the fallback answers")
	cmd.Flags().StringVar(&fallback, "issuer-fallback", "decline", "the answer when no decision comes within the budget: decline or approve")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "",
		"also serve Prometheus metrics at http://ADDR/metrics without a key (a port alone binds 127.0.0.1); "+
			"/metrics on --http needs an admin or viewer key")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log lines on stderr as text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	cmd.Flags().StringVar(&tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	cmd.Flags().BoolVar(&insecureHTTP, "insecure-http", false,
		"allow plain HTTP on a non-loopback address (only behind a reverse proxy that terminates TLS)")
	cmd.Flags().StringVar(&publicURL, "public-url", "",
		"the URL clients reach this server at (https://ledger.example.com): the OAuth issuer, and with /mcp the "+
			"resource access tokens are bound to; needed for OAuth on an address other than loopback")
	cmd.Flags().BoolVar(&noRegistration, "no-oauth-registration", false,
		"refuse OAuth dynamic client registration: register clients with 'agentledger oauth register'")
	cmd.Flags().DurationVar(&a.oauthAccessTTL, "oauth-token-ttl", engine.DefaultOAuthAccessTTL,
		"how long an OAuth access token lasts (clients refresh it)")
	cmd.Flags().BoolVar(&noop, "bench-noop-tool", false, "add a no-op tool, for measuring the transport")
	cmd.Flags().MarkHidden("bench-noop-tool")
	return cmd
}

// sweep records due expiries until ctx ends.
// listen opens the HTTP listener: TLS when a certificate is given. Plain
// HTTP on an address other than loopback is refused unless insecure says a
// TLS-terminating proxy is in front: card numbers and API keys would cross
// the network in clear.
func listen(addr, certFile, keyFile string, insecure bool, stderr io.Writer) (net.Listener, string, error) {
	var cfg *tls.Config
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, "", fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"http/1.1"}}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	switch loopback := onLoopback(ln); {
	case cfg != nil:
		return tls.NewListener(ln, cfg), "https", nil
	case loopback:
		return ln, "http", nil
	case !insecure:
		ln.Close()
		return nil, "", usagef("refusing plain HTTP on %s, which is not a loopback address: card numbers and API "+
			"keys would cross the network in clear. Give --tls-cert and --tls-key, or --insecure-http when a "+
			"reverse proxy in front terminates TLS", addr)
	}
	fmt.Fprintf(stderr, "warning: serving plain HTTP on %s (--insecure-http): put a TLS-terminating reverse proxy "+
		"in front, or card numbers and keys cross the network in clear\n", ln.Addr())
	return ln, "http", nil
}

// onLoopback reports whether a listener listens on loopback only.
func onLoopback(ln net.Listener) bool {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// issuerQueueEvery is how often serve works the issuer queue: changes to
// issuer cards that did not reach the issuer at once, and half-made cards
// to cancel there. Each entry backs off on its own.
const issuerQueueEvery = 5 * time.Second

func (a *app) followIssuerQueue(ctx context.Context, logger *slog.Logger) {
	t := time.NewTicker(issuerQueueEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tried, left, err := a.engine.SyncIssuerQueue(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("issuer queue failed", "err", err)
		case tried > 0:
			logger.Info("issuer queue", "tried", tried, "still_queued", left)
		}
	}
}

func (a *app) sweep(ctx context.Context, logger *slog.Logger) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		if r, err := a.engine.Sweep(context.WithoutCancel(ctx), op); err != nil {
			logger.Warn("expiry sweep failed", "err", err)
		} else if r.Intents+r.Approvals+r.Holds > 0 {
			logger.Info("expired", "intents", r.Intents, "approvals", r.Approvals, "holds", r.Holds)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
