package mcp

// SessionsKept is how many session ids h remembers, for tests that check
// ended sessions are forgotten.
func SessionsKept(h *HTTPServer) int { return h.sessions.count() }
