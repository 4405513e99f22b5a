package mcp_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rig is an MCP server on a real engine and database, with a funded user,
// an agent and a card.
type rig struct {
	t     *testing.T
	env   *sqlitetest.Env
	srv   *mcp.Server
	user  *engine.User
	agent *engine.Agent
	card  *engine.Card
}

func newRig(t *testing.T, policy engine.Policy) *rig {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(100_000, policy)
	return &rig{t: t, env: env, srv: mcp.New(env.Engine, mcp.Options{}), user: user, agent: agent, card: card}
}

// session is an MCP client connected in-process, acting as actor.
type session struct {
	t   *testing.T
	c   *client.Client
	ctx context.Context
}

// connect opens an in-process client for the actor; opts configure it
// (e.g. an elicitation handler).
func (r *rig) connect(actor engine.Actor, opts ...client.ClientOption) *session {
	r.t.Helper()
	c := client.NewClient(transport.NewInProcessTransport(r.srv.MCPServer()), opts...)
	ctx := mcp.WithActor(context.Background(), actor)
	require.NoError(r.t, c.Start(ctx))
	var init mcpgo.InitializeRequest
	init.Params.ClientInfo = mcpgo.Implementation{Name: "rig-test", Version: "1.0"}
	_, err := c.Initialize(ctx, init)
	require.NoError(r.t, err)
	r.t.Cleanup(func() { c.Close() })
	return &session{t: r.t, c: c, ctx: ctx}
}

// stdioSession connects a client to ServeStdio with key, as a client that
// starts `agentledger serve --stdio` does, until t ends. mcp-go serves one
// stdio session per process, so only one may be open at a time.
func (r *rig) stdioSession(t *testing.T, key string) *session {
	t.Helper()
	serverIn, clientOut := io.Pipe()
	clientIn, serverOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.srv.ServeStdio(ctx, key, serverIn, serverOut)
		clientIn.Close() // a server that stops (or never starts) fails the client, not hangs it
	}()
	c := client.NewClient(transport.NewIO(clientIn, clientOut, nil))
	t.Cleanup(func() {
		c.Close()
		cancel()
		serverIn.Close()
		assert.NoError(t, <-done)
	})
	require.NoError(t, c.Start(ctx))
	var init mcpgo.InitializeRequest
	init.Params.ClientInfo = mcpgo.Implementation{Name: "stdio-test", Version: "1.0"}
	_, err := c.Initialize(ctx, init)
	require.NoError(t, err)
	return &session{t: t, c: c, ctx: ctx}
}

func (r *rig) agentSession(opts ...client.ClientOption) *session {
	return r.connect(engine.Actor{Role: engine.RoleAgent, AgentID: r.agent.ID, KeyID: "key_test"}, opts...)
}

func (s *session) call(tool string, args map[string]any) *mcpgo.CallToolResult {
	s.t.Helper()
	var req mcpgo.CallToolRequest
	req.Params.Name, req.Params.Arguments = tool, args
	res, err := s.c.CallTool(s.ctx, req)
	require.NoError(s.t, err, "%s %v", tool, args)
	return res
}

// ok calls a tool that must succeed and decodes its structured content.
func (s *session) ok(tool string, args map[string]any, into any) string {
	s.t.Helper()
	res := s.call(tool, args)
	require.False(s.t, res.IsError, "%s %v: %s", tool, args, text(res))
	decode(s.t, res, into)
	return text(res)
}

// fail calls a tool that must fail with a business error and returns its
// code and message, checking the error's shape.
func (s *session) fail(tool string, args map[string]any) (code, message string) {
	s.t.Helper()
	res := s.call(tool, args)
	require.True(s.t, res.IsError, "%s %v should fail: %s", tool, args, text(res))
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	decode(s.t, res, &body)
	require.NotEmpty(s.t, body.Error.Code)
	require.NotEmpty(s.t, body.Error.Message)
	assert.Contains(s.t, text(res), body.Error.Code, "the text rendering names the code too")
	return body.Error.Code, body.Error.Message
}

func decode(t *testing.T, res *mcpgo.CallToolResult, into any) {
	t.Helper()
	if into == nil {
		return
	}
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, into), string(raw))
}

func text(res *mcpgo.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := mcpgo.AsTextContent(c); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// charge authorizes a charge on a card as the network would.
func (r *rig) charge(card string, amount int64, merchant string) *engine.Authorization {
	r.t.Helper()
	a, err := r.env.Engine.Authorize(r.env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card, Amount: amount, Currency: "USD", Merchant: engine.Merchant{Name: merchant}})
	require.NoError(r.t, err)
	return a
}

type args = map[string]any
