package mcp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send makes one raw request to /mcp with key and session id.
func (r *httpRig) send(method, key, sessionID, body string) *http.Response {
	r.t.Helper()
	req, err := http.NewRequest(method, r.url+"/mcp", strings.NewReader(body))
	require.NoError(r.t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Mcp-Session-Id", sessionID)
	req.Header.Set("MCP-Protocol-Version", mcpgo.ProtocolVersion20251125)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if method == http.MethodGet {
		req.Header.Set("Accept", "text/event-stream")
	}
	// A GET that wrongly succeeds would stream forever.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	r.t.Cleanup(cancel)
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(r.t, err)
	r.t.Cleanup(func() { res.Body.Close() })
	return res
}

func (r *httpRig) newKey(in engine.CreateKeyInput) string {
	r.t.Helper()
	k, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, in)
	require.NoError(r.t, err)
	return k.Secret
}

const toolsList = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`

// A session belongs to the key that opened it: any other key, an admin's
// too, gets 404 for it on POST, GET and DELETE, and the session goes on
// working for its own key.
func TestHTTPSessionsBelongToTheirKey(t *testing.T) {
	r := newHTTPRig(t, engine.Policy{})
	alice, tr := r.dial(r.key, mcpgo.ProtocolVersion20251125)
	id := tr.GetSessionId()
	require.NotEmpty(t, id)

	bob := r.env.Agent("bob", r.user, engine.Policy{})
	others := map[string]string{
		"another agent's key":   r.newKey(engine.CreateKeyInput{Role: engine.RoleAgent, Agent: bob.ID}),
		"an admin key":          r.newKey(engine.CreateKeyInput{Role: engine.RoleAdmin}),
		"a second key of alice": r.newKey(engine.CreateKeyInput{Role: engine.RoleAgent, Agent: r.agent.ID}),
	}
	for name, key := range others {
		for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
			res := r.send(method, key, id, toolsList)
			assert.Equal(t, http.StatusNotFound, res.StatusCode, "%s: %s", name, method)
			code, _ := errorCode(t, res.Body)
			assert.Equal(t, "NOT_FOUND", code, "%s: %s", name, method)
		}
	}

	var limits engine.LimitsReport
	alice.ok("policy_check", args{"action": "limits"}, &limits)
	assert.Equal(t, http.StatusOK, r.send(http.MethodPost, r.key, id, toolsList).StatusCode)
}

// Ended sessions are forgotten: by DELETE, and by the idle sweep.
func TestHTTPEndedSessionsAreForgotten(t *testing.T) {
	r := newHTTPRigWith(t, engine.Policy{}, mcp.HTTPOptions{SessionIdleTTL: 500 * time.Millisecond})
	auth := map[string]string{"Authorization": "Bearer " + r.key}
	var ids []string
	for range 3 {
		res := r.post(auth, initialize)
		require.Equal(t, http.StatusOK, res.StatusCode)
		ids = append(ids, res.Header.Get("Mcp-Session-Id"))
	}
	assert.Equal(t, 3, mcp.SessionsKept(r.h))

	assert.Equal(t, http.StatusOK, r.send(http.MethodDelete, r.key, ids[0], "").StatusCode)
	assert.Equal(t, 2, mcp.SessionsKept(r.h))
	assert.Equal(t, http.StatusNotFound, r.send(http.MethodPost, r.key, ids[0], toolsList).StatusCode, "an ended session")

	// The sweeper runs every second at most.
	require.Eventually(t, func() bool { return mcp.SessionsKept(r.h) == 0 }, 5*time.Second, 50*time.Millisecond)
	assert.Equal(t, http.StatusNotFound, r.send(http.MethodPost, r.key, ids[1], toolsList).StatusCode, "a swept session")
}
