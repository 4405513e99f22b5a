package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/webhook"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The built binary, serving HTTP, answers the sandbox network and Stripe on
// the MCP server's port, and its webhook sender tells the operator's
// receiver about both decisions.
func TestServeAnswersIssuersAndSendsWebhooks(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var ignored any
	p.json(&ignored, "policy", "set", "buyer", "--intent-required=false")
	var card struct{ ID string }
	p.json(&card, "card", "create", "--agent", "buyer")
	p.json(&ignored, "card", "link", card.ID, "--stripe", "ic_1JDmgz2eZvKYlo2CRXlTsXj6")
	var key struct{ Key string }
	p.json(&key, "key", "create", "--network")

	var mu sync.Mutex
	var received []string
	var secret string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, 5*time.Minute, time.Now()) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct {
			Data struct {
				NetworkID string `json:"network_id"`
			}
		}
		json.Unmarshal(body, &ev)
		received = append(received, ev.Data.NetworkID)
	}))
	defer receiver.Close()
	var hook struct{ Secret string }
	p.json(&hook, "webhook", "add", receiver.URL, "--events", "transaction.authorized")
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()

	s := p.serveHTTP(t, "AGENTLEDGER_STRIPE_WEBHOOK_SECRET=whsec_e2e")

	req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/network/authorize",
		bytes.NewReader([]byte(`{"card":"`+card.ID+`","amount":1250,"merchant":{"name":"Acme"},"network_id":"net_e2e"}`)))
	req.Header.Set("Authorization", "Bearer "+key.Key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var auth struct{ Status string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&auth))
	res.Body.Close()
	assert.Equal(t, "approved", auth.Status)

	body, err := os.ReadFile("internal/issuers/testdata/stripe/issuing_authorization.request.json")
	require.NoError(t, err)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte("whsec_e2e"))
	m.Write([]byte(ts + "." + string(body)))
	req, _ = http.NewRequest(http.MethodPost, s.url+"/v1/issuers/stripe/authorization", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", "t="+ts+",v1="+hex.EncodeToString(m.Sum(nil)))
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var answer struct{ Approved bool }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&answer))
	res.Body.Close()
	assert.True(t, answer.Approved)
	assert.Equal(t, "2025-03-31.basil", res.Header.Get("Stripe-Version"))

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(received) == 2
	}, 15*time.Second, 100*time.Millisecond, "the server's sender delivers both decisions: %s", s.log())
	mu.Lock()
	assert.Equal(t, []string{"net_e2e", "iauth_1JVXl82eZvKYlo2CPIiWlzrn"}, received)
	mu.Unlock()
	s.stop(t)
}
