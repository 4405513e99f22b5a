package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve --http logs one line per HTTP request, tool call and money
// decision, and webhook deliveries, on every face — and none of the
// secrets that crossed them: card number, CVV, API keys, signing secrets.
func TestServeLogsEveryFaceWithoutSecrets(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var card struct{ ID, Last4 string }
	p.json(&card, "card", "create", "--agent", "buyer")
	var admin, agentKey, network struct{ ID, Key string }
	p.json(&admin, "key", "create", "--admin")
	p.json(&agentKey, "key", "create", "--agent", "buyer")
	p.json(&network, "key", "create", "--network")
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer receiver.Close()
	var endpoint struct{ Secret string }
	p.json(&endpoint, "webhook", "add", receiver.URL)
	const stripeSecret, lithicSecret = "whsec_logtest0123456789abcdef", "whsec_bG9nLXRlc3QtbGl0aGljLXNlY3JldA=="
	s := p.serveHTTPWith(t, []string{"--log-format", "json"},
		"AGENTLEDGER_STRIPE_WEBHOOK_SECRET="+stripeSecret, "AGENTLEDGER_LITHIC_SECRET="+lithicSecret)

	// MCP: declare, reveal (the card number crosses), then a charge.
	ctx := context.Background()
	tr, err := transport.NewStreamableHTTP(s.url+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + agentKey.Key}))
	require.NoError(t, err)
	mc := client.NewClient(tr)
	require.NoError(t, mc.Start(ctx))
	defer mc.Close()
	_, err = mc.Initialize(ctx, mcp.InitializeRequest{})
	require.NoError(t, err)
	call := func(name string, args map[string]any) map[string]any {
		res, err := mc.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
		require.NoError(t, err)
		raw, _ := json.Marshal(res.StructuredContent)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		return m
	}
	call("ledger_card", map[string]any{"action": "details", "card_id": card.ID}) // INTENT_REQUIRED
	call("ledger_intent", map[string]any{"action": "declare", "card_id": card.ID, "summary": "cables", "amount": 1500})
	details := call("ledger_card", map[string]any{"action": "details", "card_id": card.ID})
	pan, cvv := details["pan"].(string), details["cvv"].(string)
	require.Len(t, pan, 16)
	call("policy_check", map[string]any{"action_type": "api_call", "amount": 300})

	// The network, with the card number in the body; REST; the dashboard's sign-in.
	post := func(path, key, body string) int {
		req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	assert.Equal(t, http.StatusOK, post("/v1/network/authorize", network.Key,
		`{"pan":"`+pan+`","cvv":"`+cvv+`","amount":1500,"currency":"USD","merchant":{"name":"Cables Inc","mcc":"5732"}}`))
	assert.Equal(t, http.StatusOK, post("/v1/network/authorize", network.Key,
		`{"card_id":"`+card.ID+`","amount":999999,"currency":"USD","merchant":{"name":"Yacht"}}`))
	req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/cards/"+pan, nil) // a number where an id belongs
	req.Header.Set("Authorization", "Bearer "+admin.Key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	form := url.Values{"key": {admin.Key}}
	res, err = http.PostForm(s.url+"/signin", form)
	require.NoError(t, err)
	res.Body.Close()
	unknownKey := "al_" + strings.Repeat("ab", 32)
	assert.Equal(t, http.StatusUnauthorized, post("/v1/agents", unknownKey, `{}`), "an unknown key")
	req, _ = http.NewRequest(http.MethodGet, s.url+"/v1/cards/"+pan[:4]+"+"+pan[4:8]+"+"+pan[8:12]+"+"+pan[12:], nil)
	req.Header.Set("Authorization", "Bearer "+admin.Key)
	res, err = http.DefaultClient.Do(req) // a number grouped with + where an id belongs
	require.NoError(t, err)
	res.Body.Close()

	// Stripe's real-time authorization, signed with the endpoint secret (for
	// a card Stripe knows and agentledger does not: declined).
	body, err := os.ReadFile("internal/issuers/testdata/stripe/issuing_authorization.request.json")
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(stripeSecret))
	mac.Write([]byte(ts + "." + string(body)))
	req, _ = http.NewRequest(http.MethodPost, s.url+"/v1/issuers/stripe/authorization", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(mac.Sum(nil)))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the signature was accepted")

	// Wait for the webhook deliveries to be logged, then stop.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.log(), `"msg":"webhook delivery"`) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	s.stop(t)
	log := s.log()

	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	find := func(msg string, match map[string]any) map[string]any {
		t.Helper()
	next:
		for _, l := range lines {
			if l["msg"] != msg {
				continue
			}
			for k, v := range match {
				if l[k] != v {
					continue next
				}
			}
			return l
		}
		t.Errorf("no %q line with %v in the log:\n%s", msg, match, log)
		return nil
	}
	find("http request", map[string]any{"method": "POST", "path": "/mcp", "status": float64(200), "key": agentKey.ID})
	find("http request", map[string]any{"method": "POST", "path": "/v1/network/authorize", "key": network.ID})
	find("http request", map[string]any{"method": "GET", "path": "/v1/cards/····" + pan[12:], "key": admin.ID})
	find("http request", map[string]any{"method": "POST", "path": "/v1/agents", "status": float64(401), "key": ""})
	find("http request", map[string]any{"method": "GET", "path": "/v1/cards/····" + pan[12:]})
	find("http request", map[string]any{"method": "POST", "path": "/v1/issuers/stripe/authorization", "status": float64(200)})
	find("decision", map[string]any{"kind": "authorization", "status": "declined", "decline_code": "CARD_NOT_FOUND"})
	find("tool call", map[string]any{"tool": "ledger_card", "action": "details", "result": "INTENT_REQUIRED"})
	find("tool call", map[string]any{"tool": "ledger_card", "action": "details", "result": "ok", "key": agentKey.ID})
	find("tool call", map[string]any{"tool": "policy_check", "result": "ok"})
	find("decision", map[string]any{"kind": "authorization", "status": "approved", "card_last4": card.Last4, "amount": "$15.00"})
	find("decision", map[string]any{"kind": "authorization", "status": "declined", "decline_code": "INTENT_REQUIRED"})
	find("decision", map[string]any{"kind": "check", "amount": "$3.00"})
	find("webhook delivery", map[string]any{"status": "delivered"})
	for name, secret := range map[string]string{"card number": pan, "admin key": admin.Key, "agent key": agentKey.Key,
		"network key": network.Key, "unknown key": unknownKey, "webhook signing secret": endpoint.Secret,
		"Stripe secret": stripeSecret, "card number grouped": pan[:4] + "+" + pan[4:8],
		"Lithic secret": lithicSecret} {
		assert.NotContains(t, log, secret, "the %s is not logged", name)
	}
	assert.NotContains(t, log, `"cvv"`)
	for _, l := range lines { // the CVV is no value of any line (a 3-digit number may be a status or a count)
		for k, v := range l {
			if str, ok := v.(string); ok && k != "time" {
				assert.NotEqual(t, cvv, str, "the CVV is the value of %q", k)
			}
		}
	}
}
