package main

import (
	"sync"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
)

// hooks fan what the engine, the store and the faces report out to the
// operator's sinks (the log, the metrics). Every command's engine and store
// are built with them; serve adds the sinks. Safe for concurrent use.
type hooks struct {
	mu       sync.RWMutex
	decided  []func(engine.Observation)
	commits  []func(transactions int, took time.Duration)
	calls    []func(mcp.ToolCall)
	requests []func(mcp.RequestInfo)
	delivers []func(status string, ok bool)
}

// Decided implements engine.Observer.
func (h *hooks) Decided(o engine.Observation) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, f := range h.decided {
		f(o)
	}
}

// Observing tells the engine whether any sink listens to decisions: CLI
// commands have none, and the engine then skips what only an observation
// needs.
func (h *hooks) Observing() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.decided) > 0
}

// committed is the store's OnCommit.
func (h *hooks) committed(n int, took time.Duration) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, f := range h.commits {
		f(n, took)
	}
}

// toolCall is the MCP server's OnToolCall.
func (h *hooks) toolCall(c mcp.ToolCall) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, f := range h.calls {
		f(c)
	}
}

// request is the HTTP server's OnRequest.
func (h *hooks) request(r mcp.RequestInfo) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, f := range h.requests {
		f(r)
	}
}

// delivered is the webhook sender's OnDelivery.
func (h *hooks) delivered(status string, ok bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, f := range h.delivers {
		f(status, ok)
	}
}

// sink is what one consumer of the hooks listens to; nil fields are skipped.
type sink struct {
	Decided   func(engine.Observation)
	Committed func(transactions int, took time.Duration)
	ToolCall  func(mcp.ToolCall)
	Request   func(mcp.RequestInfo)
	Delivery  func(status string, ok bool)
}

// add subscribes a sink.
func (h *hooks) add(s sink) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.Decided != nil {
		h.decided = append(h.decided, s.Decided)
	}
	if s.Committed != nil {
		h.commits = append(h.commits, s.Committed)
	}
	if s.ToolCall != nil {
		h.calls = append(h.calls, s.ToolCall)
	}
	if s.Request != nil {
		h.requests = append(h.requests, s.Request)
	}
	if s.Delivery != nil {
		h.delivers = append(h.delivers, s.Delivery)
	}
}
