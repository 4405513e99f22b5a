// Command agent is a small agent that buys one thing through agentledger
// the way an MCP client should: it declares what it will buy, gets the card
// for that purchase only, and waits to see the charge matched.
//
//	LEDGER_API_KEY=al_… go run ./examples/agent -url http://127.0.0.1:8765/mcp \
//	    -amount 2500 -merchant "Office Depot" -summary "Printer paper"
//
// Or over stdio, starting the server itself:
//
//	LEDGER_API_KEY=al_… go run ./examples/agent -stdio "bin/agentledger serve --stdio --db agentledger.db"
//
// While it waits, play the merchant with the sandbox network:
//
//	agentledger network authorize CARD --amount 2500 --merchant "Office Depot"
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

type config struct {
	url      string // streamable HTTP endpoint
	stdio    string // or a command line serving MCP on stdio
	key      string
	amount   int64
	merchant string
	summary  string
	wait     time.Duration
	poll     time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8765/mcp", "agentledger's MCP endpoint")
	flag.StringVar(&cfg.stdio, "stdio", "", "instead of -url, start this command and talk MCP over its stdin/stdout")
	flag.StringVar(&cfg.key, "key", os.Getenv("LEDGER_API_KEY"), "agent API key (default $LEDGER_API_KEY)")
	flag.Int64Var(&cfg.amount, "amount", 2500, "amount in minor units (2500 is $25.00)")
	flag.StringVar(&cfg.merchant, "merchant", "Office Depot", "where the purchase will be made")
	flag.StringVar(&cfg.summary, "summary", "Printer paper for the office", "what is bought and why")
	flag.DurationVar(&cfg.wait, "wait", 2*time.Minute, "how long to wait for the charge (0: do not wait)")
	flag.Parse()
	cfg.poll = time.Second
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// agent is an MCP session with agentledger.
type agent struct {
	c   *client.Client
	out io.Writer
}

func connect(ctx context.Context, cfg config) (*client.Client, error) {
	if cfg.key == "" {
		return nil, errors.New("no API key: set LEDGER_API_KEY or pass -key")
	}
	var c *client.Client
	var err error
	if cfg.stdio != "" {
		fields := strings.Fields(cfg.stdio)
		c, err = client.NewStdioMCPClient(fields[0], []string{"LEDGER_API_KEY=" + cfg.key}, fields[1:]...)
	} else {
		var tr *transport.StreamableHTTP
		if tr, err = transport.NewStreamableHTTP(cfg.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + cfg.key})); err == nil {
			c = client.NewClient(tr)
			err = c.Start(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "agentledger-example-agent", Version: "1.0.0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// call runs a tool and decodes its structured result into out; a business
// failure comes back as an error with its code.
func (a *agent) call(ctx context.Context, tool string, args map[string]any, out any) error {
	var req mcp.CallToolRequest
	req.Params.Name, req.Params.Arguments = tool, args
	res, err := a.c.CallTool(ctx, req)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	if res.IsError {
		var body struct {
			Error toolError `json:"error"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return err
		}
		return body.Error
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}

type toolError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e toolError) Error() string { return e.Code + ": " + e.Message }

type card struct {
	ID     string `json:"id"`
	Last4  string `json:"last4"`
	Status string `json:"status"`
	Type   string `json:"type"`
}

type intent struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	DecisionID string `json:"decision_id"`
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	c, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	a := &agent{c: c, out: out}
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	var limits struct {
		Currency  string `json:"currency"`
		Available int64  `json:"available"`
	}
	if err := a.call(ctx, "policy_check", map[string]any{"action": "limits"}, &limits); err != nil {
		return err
	}
	say("Connected. %d minor units of %s available to spend.", limits.Available, limits.Currency)

	// Use an active multi-use card, or get one.
	var cards struct {
		Cards []card `json:"cards"`
	}
	if err := a.call(ctx, "ledger_card", map[string]any{"action": "list"}, &cards); err != nil {
		return err
	}
	var use card
	for _, k := range cards.Cards {
		if k.Status == "active" && k.Type == "multi_use" {
			use = k
			break
		}
	}
	if use.ID == "" {
		if err := a.call(ctx, "ledger_card", map[string]any{"action": "create", "purpose": "example purchases"}, &use); err != nil {
			return err
		}
		say("Created card %s ····%s.", use.ID, use.Last4)
	}

	// Without an intent the card stays shut.
	var te toolError
	if err := a.call(ctx, "ledger_card", map[string]any{"action": "details", "card_id": use.ID}, nil); errors.As(err, &te) {
		say("Card details refused, as they should be: %s", te.Message)
	}

	var in intent
	if err := a.call(ctx, "ledger_intent", map[string]any{"action": "declare", "summary": cfg.summary, "amount": cfg.amount,
		"merchant": cfg.merchant, "card_id": use.ID}, &in); err != nil {
		return err
	}
	say("Declared intent %s (%s).", in.ID, in.Status)
	if in.Status == "awaiting_approval" {
		say("A human must approve it: decision %s is in the operator's queue (agentledger approvals approve %s).", in.DecisionID, in.DecisionID)
		if in, err = a.waitFor(ctx, cfg, in.ID, "pending", "denied", "expired", "cancelled"); err != nil {
			return err
		}
		if in.Status != "pending" {
			say("Intent %s ended %s; not buying.", in.ID, in.Status)
			return nil
		}
	}

	var details struct {
		PAN      string `json:"pan"`
		CVV      string `json:"cvv"`
		ExpMonth int    `json:"exp_month"`
		ExpYear  int    `json:"exp_year"`
	}
	if err := a.call(ctx, "ledger_card", map[string]any{"action": "details", "card_id": use.ID}, &details); err != nil {
		return err
	}
	say("Got card ····%s, expiring %02d/%d, for this purchase only.", details.PAN[len(details.PAN)-4:], details.ExpMonth, details.ExpYear)
	say("Now the merchant charges it. In the sandbox:\n  agentledger network authorize %s --amount %d --merchant %q", use.ID, cfg.amount, cfg.merchant)
	if cfg.wait <= 0 {
		return nil
	}
	done, err := a.waitFor(ctx, cfg, in.ID, "matched", "mismatched", "expired", "cancelled")
	if err != nil {
		return err
	}
	say("Intent %s is %s.", done.ID, done.Status)
	return nil
}

// waitFor polls an intent until it reaches one of the statuses.
func (a *agent) waitFor(ctx context.Context, cfg config, id string, statuses ...string) (intent, error) {
	deadline := time.Now().Add(cfg.wait)
	for {
		var in intent
		if err := a.call(ctx, "ledger_intent", map[string]any{"action": "get", "intent_id": id}, &in); err != nil {
			return in, err
		}
		for _, s := range statuses {
			if in.Status == s {
				return in, nil
			}
		}
		if time.Now().After(deadline) {
			return in, fmt.Errorf("intent %s still %s after %s", id, in.Status, cfg.wait)
		}
		select {
		case <-ctx.Done():
			return in, ctx.Err()
		case <-time.After(cfg.poll):
		}
	}
}
