// Package web is the operator dashboard served at / by serve --http:
// server-rendered pages (html/template) with htmx, vendored, for the parts
// that update in place. It signs in with an admin or viewer key, and every
// action it offers is the same engine call the CLI and the REST API make.
package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/httperr"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the dashboard.
type Options struct {
	Version string
	// SessionTTL is how long a sign-in lasts (DefaultSessionTTL when zero).
	SessionTTL time.Duration
	Logger     *slog.Logger
	// Now is the sessions' clock; time.Now when nil.
	Now func() time.Time
	// KeyCacheTTL is how long a checked key is trusted before a request
	// checks it again (engine.DefaultKeyCacheTTL when zero).
	KeyCacheTTL time.Duration
	// OAuth, when set, serves the OAuth consent page at /oauth/authorize.
	OAuth OAuthResource
}

// Handler serves the dashboard.
type Handler struct {
	eng      *engine.Engine
	opts     Options
	sessions *sessions
	keys     *engine.KeyCache
	pages    map[string]*template.Template
	mux      *http.ServeMux
	log      *slog.Logger
}

// New parses the templates and builds the routes.
func New(eng *engine.Engine, opts Options) *Handler {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eng: eng, opts: opts, sessions: newSessions(opts.SessionTTL, opts.Now), mux: http.NewServeMux(),
		keys: engine.NewKeyCache(eng, opts.KeyCacheTTL),
		log:  opts.Logger, pages: map[string]*template.Template{}}
	for _, page := range []string{"signin", "overview", "approvals"} {
		h.pages[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/"+page+".html"))
	}
	h.pages["approval_rows"] = template.Must(template.New("approvals.html").Funcs(funcs).ParseFS(templateFS,
		"templates/approvals.html"))
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheForever(http.FileServerFS(static))))
	h.mux.HandleFunc("GET /signin", h.signinPage)
	h.mux.HandleFunc("POST /signin", h.signin)
	h.mux.HandleFunc("POST /signout", h.signedIn(h.signout))
	h.mux.HandleFunc("GET /{$}", h.signedIn(h.overview))
	h.mux.HandleFunc("GET /approvals", h.signedIn(h.approvals))
	h.mux.HandleFunc("GET /approvals/rows", h.signedIn(h.approvalRows))
	h.mux.HandleFunc("POST /approvals/{decision}/{outcome}", h.signedIn(h.decide))
	h.registerAgents()
	h.registerRecords()
	h.registerOAuth()
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
	return h
}

// Mount serves the dashboard at / on mux: every path the other faces do
// not claim.
func (h *Handler) Mount(mux *http.ServeMux) { mux.Handle("/", h) }

// ServeHTTP serves the dashboard with headers that keep its pages out of
// frames and other sites' scripts.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

func cacheForever(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Asset names carry their version (htmx-2.0.8.min.js).
		w.Header().Set("Cache-Control", "public, max-age=86400")
		next.ServeHTTP(w, r)
	})
}

type sessionKey struct{}

// signedIn requires a live session; a POST must also carry the session's
// CSRF token. Without a session a page redirects to sign-in.
func (h *Handler) signedIn(next func(w http.ResponseWriter, r *http.Request, sess *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, sess := h.sessions.get(r)
		if sess != nil {
			// The key is checked again (cached for 2 s): revoking it ends
			// its sessions.
			if _, err := h.keys.Authenticate(r.Context(), sess.key); err != nil {
				h.sessions.end(id)
				sess = nil
			}
		}
		if sess == nil {
			if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
				// Back to the page after signing in: a client's consent link
				// keeps its parameters.
				to := "/signin"
				if uri := r.URL.RequestURI(); uri != "/" {
					to += "?next=" + url.QueryEscape(uri)
				}
				http.Redirect(w, r, to, http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet {
			if !sess.validCSRF(r) {
				http.Error(w, "this form is stale or did not come from the dashboard (CSRF token missing or wrong); reload the page", http.StatusForbidden)
				return
			}
		}
		mcp.NoteKey(r.Context(), sess.actor.KeyID)
		next(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)), sess)
	}
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	Session *session
	Viewer  bool
	Version string
	Error   string
	Data    any
}

func (h *Handler) render(w http.ResponseWriter, status int, page string, v view) {
	if v.Session != nil {
		v.Viewer = v.Session.actor.Role != engine.RoleAdmin
	}
	v.Version = h.opts.Version
	var b strings.Builder
	if err := h.pages[page].Execute(&b, v); err != nil {
		h.log.Error("web: render", "page", page, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// fail renders a page's error: an engine error with its status and
// message, anything else as an internal error (logged).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, page string, v view, err error) {
	status, body := httperr.From(err)
	if engine.ErrorCode(err) == engine.CodeInternal {
		h.log.ErrorContext(r.Context(), "web: internal error", "err", err)
	}
	v.Error = body.Error.Message
	h.render(w, status, page, v)
}

func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "signin", view{Title: "Sign in", Data: localPath(r.URL.Query().Get("next"), "/")})
}

func (h *Handler) signin(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimSpace(r.PostFormValue("key"))
	next := localPath(r.PostFormValue("next"), "/")
	actor, err := h.eng.Authenticate(r.Context(), key)
	if err == nil && actor.Role != engine.RoleAdmin && actor.Role != engine.RoleViewer {
		article := "a "
		if strings.ContainsRune("aeiou", rune(actor.Role[0])) {
			article = "an "
		}
		err = &engine.Error{Code: engine.CodeForbidden, Message: "only an admin or viewer key may sign in, not " +
			article + actor.Role + " key"}
	}
	if err != nil {
		if engine.ErrorCode(err) == engine.CodeUnauthorized {
			err = &engine.Error{Code: engine.CodeUnauthorized, Message: "unknown or revoked key"}
		}
		h.fail(w, r, "signin", view{Title: "Sign in", Data: next}, err)
		return
	}
	id, _ := h.sessions.start(actor, key)
	setCookie(w, r, id, h.opts.SessionTTL)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signout(w http.ResponseWriter, r *http.Request, _ *session) {
	if id, _ := h.sessions.get(r); id != "" {
		h.sessions.end(id)
	}
	clearCookie(w, r)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}
