package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe to read while the agent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The example agent runs the whole intent flow against a local server; the
// test plays the merchant once the card is revealed.
func TestExampleAgent(t *testing.T) {
	env := sqlitetest.NewWith(t, sqlitetest.Options{Engine: engine.Options{Clock: engine.SystemClock{}}})
	_, agent, card := env.Setup(100_000, engine.Policy{})
	h := mcp.New(env.Engine, mcp.Options{}).NewHTTP(mcp.HTTPOptions{})
	ts := httptest.NewServer(h.Handler())
	defer ts.Close()
	defer h.Shutdown(context.Background())
	key, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: agent.ID})
	require.NoError(t, err)

	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), config{url: ts.URL + "/mcp", key: key.Secret, amount: 2500, merchant: "Office Depot",
			summary: "Printer paper", wait: 20 * time.Second, poll: 20 * time.Millisecond}, &out)
	}()

	// Wait for the reveal, then charge the card as the merchant.
	require.Eventually(t, func() bool {
		list, err := items(env.Engine.ListIntents(env.Ctx, engine.Operator, engine.ListIntentsInput{Status: engine.IntentRevealed}))
		return err == nil && len(list) == 1
	}, 10*time.Second, 10*time.Millisecond)
	auth, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: 2500, Merchant: engine.Merchant{Name: "OFFICE DEPOT #1138"}})
	require.NoError(t, err)
	assert.Equal(t, engine.AuthApproved, auth.Status, auth.Reason)

	select {
	case err := <-done:
		require.NoError(t, err, out.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent did not finish:\n%s", out.String())
	}
	log := out.String()
	assert.Contains(t, log, "Card details refused, as they should be: Declare intent first")
	assert.Contains(t, log, "Got card ····"+card.Last4)
	assert.Contains(t, log, "is matched.")
}

// items drops a list's paging, for tests that read a whole list.
func items[T any](l engine.List[T], err error) ([]*T, error) { return l.Items, err }
