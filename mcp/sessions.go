package mcp

import (
	"crypto/rand"
	"errors"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/server"
)

// sessions issues the Mcp-Session-Ids of streamable HTTP and remembers the
// API key that opened each: a session answers only to that key. It is
// mcp-go's session id manager resolver; an id is forgotten when mcp-go ends
// its session (DELETE, the idle sweep, shutdown), so ended sessions cost no
// memory. (mcp-go's InsecureStatefulSessionIdManager, used before, kept
// every ended id forever.)
type sessions struct {
	mu     sync.Mutex
	owners map[string]string // session id → id of the key that opened it
}

var errUnknownSession = errors.New("unknown session")

func newSessions() *sessions { return &sessions{owners: map[string]string{}} }

// ResolveSessionIdManager implements server.SessionIdManagerResolver: the
// manager acts for the request's key. mcp-go passes no request from its
// idle sweeper and shutdown, which end sessions whoever opened them.
func (s *sessions) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	if r == nil {
		return sessionsFor{s: s, anyKey: true}
	}
	actor, _ := actorFrom(r.Context())
	return sessionsFor{s: s, keyID: actor.KeyID}
}

// ownedBy reports whether id is a live session opened by the key keyID.
func (s *sessions) ownedBy(id, keyID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, ok := s.owners[id]
	return ok && owner == keyID
}

func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.owners)
}

// sessionsFor is the session id manager for one key (or, with anyKey, for
// the server itself).
type sessionsFor struct {
	s      *sessions
	keyID  string
	anyKey bool
}

func (m sessionsFor) Generate() string {
	id := "mcp-session-" + rand.Text()
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	m.s.owners[id] = m.keyID
	return id
}

// Validate refuses a session of another key as if it did not exist.
func (m sessionsFor) Validate(id string) (isTerminated bool, err error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if owner, ok := m.s.owners[id]; ok && (m.anyKey || owner == m.keyID) {
		return false, nil
	}
	return false, errUnknownSession
}

// Terminate forgets the session. Another key's session is refused (the
// HTTP face answers 404 before mcp-go gets here; this is the backstop).
func (m sessionsFor) Terminate(id string) (isNotAllowed bool, err error) {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if owner, ok := m.s.owners[id]; ok && !m.anyKey && owner != m.keyID {
		return false, errUnknownSession
	}
	delete(m.s.owners, id)
	return false, nil
}
