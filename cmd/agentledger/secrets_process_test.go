package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Card numbers given where a card reference (or text) was expected, on
// every face — the sandbox network over HTTP, MCP, the CLI — are never
// echoed, stored, evented, delivered or logged: the database file, its WAL,
// the server's log, the webhook bodies and every answer are searched for
// them after every kind of bad card reference.
func TestNoCardNumberIsKeptOrEchoed(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var ignored any
	var card struct{ ID string }
	p.json(&card, "card", "create", "--agent", "buyer")
	var agentKey, networkKey struct{ Key string }
	p.json(&agentKey, "key", "create", "--agent", "buyer")
	p.json(&networkKey, "key", "create", "--network")

	var mu sync.Mutex
	var delivered []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		delivered = append(delivered, string(body))
		mu.Unlock()
	}))
	defer receiver.Close()
	p.json(&ignored, "webhook", "add", receiver.URL)
	s := p.serveHTTP(t)

	var seen strings.Builder // every answer any face gave
	ctx := context.Background()
	tr, err := transport.NewStreamableHTTP(s.url+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + agentKey.Key}))
	require.NoError(t, err)
	mc := client.NewClient(tr)
	require.NoError(t, mc.Start(ctx))
	defer mc.Close()
	_, err = mc.Initialize(ctx, mcp.InitializeRequest{})
	require.NoError(t, err)
	tool := func(name string, args map[string]any) map[string]any {
		res, err := mc.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
		require.NoError(t, err)
		raw, err := json.Marshal(res)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out))
		return out
	}

	// The card's own number, revealed for an intent the way an agent pays.
	tool("ledger_intent", map[string]any{"action": "declare", "summary": "cable", "amount": 500, "card_id": card.ID})
	details := tool("ledger_card", map[string]any{"action": "details", "card_id": card.ID})
	pan, _ := details["structuredContent"].(map[string]any)["pan"].(string)
	require.Len(t, pan, 16)
	spaced := pan[:4] + " " + pan[4:8] + " " + pan[8:12] + " " + pan[12:]
	numbers := []string{"4000056655665556", "4000 0566 5566 5556", "4000-0566-5566-5556", "4000.0566.5566.5556",
		"4000\u00a00566\u00a05566\u00a05556", "5555555555554444", pan, spaced}

	for _, ref := range numbers {
		for _, call := range []struct {
			tool string
			args map[string]any
		}{
			{"ledger_card", map[string]any{"action": "get", "card_id": ref}},
			{"ledger_card", map[string]any{"action": "freeze", "card_id": ref + "0"}}, // not a card of ours either way
			{"ledger_card", map[string]any{"action": "details", "card_id": ref + "9"}},
			{"ledger_card", map[string]any{"action": "transactions", "card_id": ref}},
			{"ledger_intent", map[string]any{"action": "declare", "summary": "pay with " + ref, "amount": 100, "card_id": ref + "1"}},
			{"ledger_intent", map[string]any{"action": "declare", "summary": "card " + ref, "amount": 100, "merchant": "Shop " + ref}},
			{"policy_check", map[string]any{"amount": 100, "reason": "use " + ref, "merchant": "Shop"}},
		} {
			out, _ := json.Marshal(tool(call.tool, call.args))
			seen.Write(out)
		}
		for _, body := range []string{
			`{"card":"` + ref + `","amount":100,"merchant":{"name":"Shop"}}`,
			`{"card_id":"` + ref + `","amount":100,"merchant":{"name":"Shop"}}`,
			`{"pan":"` + ref + `","cvv":"000","amount":100,"merchant":{"name":"Shop"}}`,
			`{"card":"` + ref + `7","amount":100,"merchant":{"name":"Shop ` + ref + `"}}`,
		} {
			req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/network/authorize", bytes.NewReader([]byte(body)))
			req.Header.Set("Authorization", "Bearer "+networkKey.Key)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			out, _ := io.ReadAll(res.Body)
			res.Body.Close()
			seen.Write(out)
		}
		for _, args := range [][]string{
			{"card", "show", ref}, {"card", "freeze", ref + "3"}, {"txn", "list", "--card", ref},
			{"network", "authorize", ref, "--amount", "100", "--merchant", "Shop"},
			{"intent", "declare", "--agent", "buyer", "--card", ref + "5", "--amount", "100", "--summary", "x"},
			{"intent", "declare", "--agent", "buyer", "--amount", "100", "--summary", "for " + ref},
		} {
			for _, json := range []bool{false, true} {
				if json {
					args = append(args, "--json")
				}
				out, errOut, _ := p.run(args...)
				seen.WriteString(out + errOut)
			}
		}
	}
	p.json(&ignored, "txn", "list") // the CLI's listing of everything recorded
	out, _, _ := p.run("txn", "list", "--json")
	seen.WriteString(out)

	// Give the sender time to deliver what was recorded.
	require.Eventually(t, func() bool {
		out, _, _ := p.run("webhook", "deliveries", "--status", "pending", "--json")
		return strings.TrimSpace(out) == "[]"
	}, 30*time.Second, 200*time.Millisecond)
	mu.Lock()
	require.NotEmpty(t, delivered)
	bodies := strings.Join(delivered, "\n")
	mu.Unlock()
	dbFile, err := os.ReadFile(p.db)
	require.NoError(t, err)
	wal, _ := os.ReadFile(p.db + "-wal")
	s.stop(t)
	after, _ := os.ReadFile(p.db)

	places := map[string]string{"answers": seen.String(), "webhook bodies": bodies, "server log": s.log(),
		"database file": string(dbFile) + string(after), "WAL": string(wal)}
	for name, text := range places {
		for _, n := range numbers {
			digits := strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, n)
			assert.NotContains(t, text, digits, "a card number ending %s in the %s", digits[12:], name)
			assert.NotContains(t, text, n, "a card number ending %s in the %s", digits[12:], name)
		}
	}
	assert.Contains(t, seen.String(), "····5556", "the last four digits are what is shown")
}
