// Package mcp is agentledger's MCP face: the ledger_card, ledger_intent and
// policy_check tools over github.com/mark3labs/mcp-go, served on stdio and
// streamable HTTP. It translates tool calls into engine calls and engine
// results and errors into tool results; it decides nothing itself.
package mcp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/agentledger/agentledger/engine"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Options configure a Server.
type Options struct {
	// Version is reported to clients as the server version.
	Version string
	// Logger receives what the server has to say; never stdout, which is
	// the stdio transport. Discarded when nil.
	Logger *slog.Logger
	// NoopTool adds a tool that does nothing, for measuring the transport's
	// own cost beside the real tools.
	NoopTool bool
	// KeyCacheTTL overrides KeyCacheTTL (how long a checked key is trusted);
	// negative checks every time.
	KeyCacheTTL time.Duration
	// OnToolCall, when set, hears of every tool call once it is answered
	// (logs, metrics). It must be quick.
	OnToolCall func(ToolCall)
}

// ToolCall is one answered tool call, as an operator watches it: never its
// arguments or its result, which may hold a card number.
type ToolCall struct {
	Tool    string
	Action  string
	AgentID string // the agent the key acts as, when it is an agent key or names one
	KeyID   string
	// Code is empty when the call succeeded, else its error code (a
	// decline code, INTENT_REQUIRED, INVALID_INPUT, …).
	Code     string
	Duration time.Duration
}

// Server is the MCP server over one engine.
type Server struct {
	eng      *engine.Engine
	mcp      *server.MCPServer
	log      *slog.Logger
	keys     *engine.KeyCache
	stateKey []byte // signs approval round-trip state
	// agentTools are the tools as agent keys see them: without agent_id.
	agentTools map[string]mcpgo.Tool
	onCall     func(ToolCall)
}

// New builds the MCP server with its tools.
func New(eng *engine.Engine, opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.KeyCacheTTL == 0 {
		opts.KeyCacheTTL = KeyCacheTTL
	}
	s := &Server{eng: eng, log: opts.Logger, stateKey: make([]byte, 32), onCall: opts.OnToolCall,
		keys:       engine.NewKeyCache(eng, opts.KeyCacheTTL),
		agentTools: map[string]mcpgo.Tool{}}
	if _, err := rand.Read(s.stateKey); err != nil {
		panic("mcp: crypto/rand failed: " + err.Error())
	}
	s.mcp = server.NewMCPServer("agentledger", opts.Version,
		server.WithInstructions(Instructions),
		server.WithToolCapabilities(false),
		server.WithLogging(), // clients may set a level (logging/setLevel)
		server.WithRecovery(),
		server.WithToolFilter(s.toolsFor),
	)
	s.addTool(cardTool(), s.handleCard)
	s.addTool(intentTool(), s.handleIntent)
	s.addTool(policyTool(), s.handlePolicy)
	if opts.NoopTool {
		t := mcpgo.NewToolWithRawSchema("noop", "Does nothing; measures the transport.", raw(schema{"type": "object", "properties": schema{}}))
		t.Annotations = annotations("No-op", true, false, true, false)
		s.mcp.AddTool(t, func(context.Context, mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
			return mcpgo.NewToolResultText("ok"), nil
		})
	}
	return s
}

// addTool adds a tool and remembers how agent keys see it.
func (s *Server) addTool(t mcpgo.Tool, handler server.ToolHandlerFunc) {
	s.mcp.AddTool(t, s.observed(t.Name, handler))
	s.agentTools[t.Name] = withoutAgentID(t)
}

// observed wraps a tool's handler to tell OnToolCall of each call.
func (s *Server) observed(tool string, handler server.ToolHandlerFunc) server.ToolHandlerFunc {
	if s.onCall == nil {
		return handler
	}
	return func(ctx context.Context, req mcpgo.CallToolRequest) (*mcpgo.CallToolResult, error) {
		start := time.Now()
		res, err := handler(ctx, req)
		c := ToolCall{Tool: tool, Duration: time.Since(start)}
		args := req.GetArguments()
		c.Action, _ = args["action"].(string)
		if actor, err := s.keyActor(ctx); err == nil {
			c.KeyID, c.AgentID = actor.KeyID, actor.AgentID
		}
		if c.AgentID == "" {
			c.AgentID, _ = args["agent_id"].(string)
		}
		switch {
		case err != nil:
			c.Code = engine.CodeInternal
		case res != nil && res.IsError:
			c.Code = resultCode(res)
		}
		s.onCall(c)
		return res, err
	}
}

// resultCode is the error code of a failed call's result.
func resultCode(res *mcpgo.CallToolResult) string {
	if body, ok := res.StructuredContent.(errorBody); ok {
		return body.Error.Code
	}
	return "ERROR"
}

// withoutAgentID is t without the agent_id argument, which only admin and
// viewer keys use. Calls still accept it (an agent naming itself works).
func withoutAgentID(t mcpgo.Tool) mcpgo.Tool {
	var in schema
	if err := json.Unmarshal(t.RawInputSchema, &in); err != nil {
		panic("mcp: input schema of " + t.Name + " does not decode: " + err.Error())
	}
	if props, ok := in["properties"].(map[string]any); ok {
		delete(props, "agent_id")
	}
	t.RawInputSchema = raw(in)
	return t
}

// toolsFor is mcp-go's tool filter, run for tools/list and for every
// tools/call: agent keys get the tools without agent_id (same names, so
// calls still find them); admin and viewer keys, and keys that cannot be
// checked (their calls fail anyway), get them as they are.
func (s *Server) toolsFor(ctx context.Context, tools []mcpgo.Tool) []mcpgo.Tool {
	if actor, err := s.keyActor(ctx); err != nil || !scopedToAgent(actor) {
		return tools
	}
	shown := make([]mcpgo.Tool, len(tools))
	for i, t := range tools {
		if a, ok := s.agentTools[t.Name]; ok {
			t = a
		}
		shown[i] = t
	}
	return shown
}

// scopedToAgent reports whether the actor stands for one agent: an agent
// key, or a read-only OAuth grant (a viewer of its agent).
func scopedToAgent(a engine.Actor) bool {
	return a.Role == engine.RoleAgent || (a.Role == engine.RoleViewer && a.AgentID != "")
}

// MCPServer exposes the underlying mcp-go server (for in-process clients).
func (s *Server) MCPServer() *server.MCPServer { return s.mcp }

type actorKey struct{}

// WithActor returns a context carrying the authenticated caller; every tool
// call needs one.
func WithActor(ctx context.Context, a engine.Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorFrom(ctx context.Context) (engine.Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(engine.Actor)
	return a, ok
}

// clientInfo names the MCP client of the current session, for attestations.
func clientInfo(ctx context.Context) (name, version string) {
	if sess, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		ci := sess.GetClientInfo()
		return ci.Name, ci.Version
	}
	return "", ""
}

// actorFor resolves who a call acts as. An agent key acts as its agent (an
// agent_id naming another agent is not found); an admin key must name the
// agent and then acts as it; a viewer key must name the agent and may only
// read what belongs to it. A read-only OAuth grant is a viewer of its one
// agent, which it need not name.
func (s *Server) actorFor(ctx context.Context, agentID string) (engine.Actor, error) {
	base, err := s.keyActor(ctx)
	if err != nil {
		return engine.Actor{}, err
	}
	if base.Role == engine.RoleNetwork {
		return engine.Actor{}, engine.Errorf(engine.CodeForbidden, "a network key is for the card network endpoints (/v1/network, /v1/issuers), not for MCP tools")
	}
	base.ClientName, base.ClientVersion = clientInfo(ctx)
	if scopedToAgent(base) && agentID == "" {
		return base, nil
	}
	if agentID == "" {
		return engine.Actor{}, &engine.Error{Code: engine.CodeInvalidInput, Field: "agent_id",
			Message: "agent_id: required with an " + base.Role + " key (the agent to act as)"}
	}
	agent, err := s.eng.GetAgent(ctx, base, agentID)
	if err != nil {
		return engine.Actor{}, err
	}
	if base.Role == engine.RoleAdmin {
		base.Role = engine.RoleAgent
	}
	base.AgentID = agent.ID
	return base, nil
}

// keyActor is the actor of the session's API key: the request's (HTTP, in
// process) or that of the stdio key, through the key cache.
func (s *Server) keyActor(ctx context.Context) (engine.Actor, error) {
	actor, ok := actorFrom(ctx)
	if key, hasKey := ctx.Value(keyKey{}).(string); !ok && hasKey {
		return s.keys.Authenticate(ctx, key)
	}
	if !ok || actor.Role == "" {
		return engine.Actor{}, engine.Errorf(engine.CodeUnauthorized, "no API key")
	}
	return actor, nil
}

// commitContext is the context for calls that move money or change state:
// once started they run to completion even if the client goes away, so
// that nothing is half-done (and a retry with the same idempotency key
// gets the first result).
func commitContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
