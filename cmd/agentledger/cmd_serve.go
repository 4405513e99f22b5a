package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/spf13/cobra"
)

// sweepEvery is how often a server records due expiries.
const sweepEvery = 30 * time.Second

func (a *app) serveCommand() *cobra.Command {
	var stdio, noop bool
	var addr string
	var origins []string
	cmd := &cobra.Command{
		Use:   "serve --stdio | --http ADDR",
		Short: "Serve the MCP tools (ledger_card, ledger_intent, policy_check) over stdio or streamable HTTP",
		Long: `Serve the MCP tools to agents.

--stdio serves one client on standard input and output, as Claude Desktop and
Cursor start it; the API key comes from $LEDGER_API_KEY.

--http ADDR serves streamable HTTP at http://ADDR/mcp (and /healthz); every
request needs "Authorization: Bearer <key>". ADDR without a host binds
127.0.0.1. Browser requests from other origins are refused.`,
		Example: `  LEDGER_API_KEY=al_… agentledger serve --stdio
  agentledger serve --http 127.0.0.1:8765`,
		Args: cobra.NoArgs,
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			if stdio == (addr != "") {
				return usagef("give exactly one of --stdio and --http ADDR")
			}
			logger := slog.New(slog.NewTextHandler(a.err, &slog.HandlerOptions{Level: slog.LevelInfo}))
			srv := mcp.New(a.engine, mcp.Options{Version: version, Logger: logger, NoopTool: noop})
			ctx, cancel := context.WithCancel(a.ctx)
			swept := make(chan struct{})
			go func() { a.sweep(ctx, logger); close(swept) }()
			defer func() { cancel(); <-swept }() // the database closes after the sweeper stops
			if stdio {
				key := strings.TrimSpace(a.getenv("LEDGER_API_KEY"))
				if key == "" {
					return fmt.Errorf("LEDGER_API_KEY is not set: create a key with '%s key create --agent AGENT' and put it in the MCP client's env", a.invocation())
				}
				if _, err := a.engine.Authenticate(a.ctx, key); err != nil {
					if engine.ErrorCode(err) == engine.CodeUnauthorized {
						return fmt.Errorf("LEDGER_API_KEY is not a valid key for %s (unknown or revoked)", a.dbPath)
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
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			h := srv.NewHTTP(mcp.HTTPOptions{AllowedOrigins: origins, Health: a.db.Ping})
			fmt.Fprintf(a.err, "agentledger MCP server on http://%s/mcp (health: http://%s/healthz); Ctrl-C stops it\n", ln.Addr(), ln.Addr())
			return h.Serve(ctx, ln)
		}),
	}
	cmd.Flags().BoolVar(&stdio, "stdio", false, "serve one client on stdin/stdout")
	cmd.Flags().StringVar(&addr, "http", "", "serve streamable HTTP on ADDR (host:port; 127.0.0.1 when the host is omitted)")
	cmd.Flags().StringSliceVar(&origins, "allow-origin", nil, "further browser origins allowed to call the HTTP server, e.g. https://app.example.com")
	cmd.Flags().BoolVar(&noop, "bench-noop-tool", false, "add a no-op tool, for measuring the transport")
	cmd.Flags().MarkHidden("bench-noop-tool")
	return cmd
}

// sweep records due expiries until ctx ends.
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
