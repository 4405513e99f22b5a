package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// cookieName is the session cookie's name.
const cookieName = "agentledger_session"

// DefaultSessionTTL is how long a sign-in lasts.
const DefaultSessionTTL = 12 * time.Hour

// session is one signed-in browser: the key's actor, and the token every
// form of the session carries against cross-site requests.
type session struct {
	actor   engine.Actor
	csrf    string
	expires time.Time
	// key is the key signed in with, kept in this process's memory only,
	// so that every request checks it again: a revoked key's session ends.
	key string
}

// sessions keeps sign-ins in memory: a server restart signs everyone out,
// and each server of several has its own.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	ttl  time.Duration
	now  func() time.Time
}

func newSessions(ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, ttl: ttl, now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// start signs an actor in and returns the session id for its cookie.
func (s *sessions) start(actor engine.Actor, key string) (string, *session) {
	id := randomToken()
	sess := &session{actor: actor, csrf: randomToken(), expires: s.now().Add(s.ttl), key: key}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID { // few sessions: drop the expired on every sign-in
		if !s.now().Before(v.expires) {
			delete(s.byID, k)
		}
	}
	s.byID[id] = sess
	return id, sess
}

// get returns the session of a request's cookie, if it is live.
func (s *sessions) get(r *http.Request) (string, *session) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[c.Value]
	if sess == nil {
		return "", nil
	}
	if !s.now().Before(sess.expires) {
		delete(s.byID, c.Value)
		return "", nil
	}
	return c.Value, sess
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// validCSRF reports whether a state-changing request carries the
// session's token, as a form field or (from htmx) a header.
func (sess *session) validCSRF(r *http.Request) bool {
	token := r.Header.Get("X-CSRF-Token")
	if token == "" {
		token = r.PostFormValue("csrf")
	}
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.csrf)) == 1
}

// setCookie writes the session cookie: HttpOnly, SameSite=Lax, Secure when
// the request came over TLS (or through a TLS-terminating proxy). Lax, so
// that an OAuth consent link opened from another site (a connector's popup)
// finds the operator signed in; every form still needs the session's CSRF
// token, and no GET changes anything.
// It lives as long as the session (MaxAge); the server's own expiry is what
// counts.
func setCookie(w http.ResponseWriter, r *http.Request, id string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/",
		MaxAge: int(ttl.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"})
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"})
}

// CSRF is the session's form token, for templates.
func (sess *session) CSRF() string { return sess.csrf }

// Role is the signed-in key's role, for templates.
func (sess *session) Role() string { return sess.actor.Role }
