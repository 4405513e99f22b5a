// Package api is agentledger's operator REST API: its own resources under
// /v1 and capped.ai's documented endpoints under /api, described by one
// OpenAPI 3.1 document at /v1/openapi.json generated from these types.
//
// It is a face: it authenticates the key, limits its rate, decodes the
// request, calls the engine and encodes the result. Every rule of money is
// the engine's.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/httperr"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/ratelimit"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// DefaultRatePerMinute is how many requests a key may send per minute, in
// a burst or spread out: capped.ai's published API burst.
const DefaultRatePerMinute = 100

// Options configure the REST API.
type Options struct {
	// Version is the server's version, shown in the OpenAPI document.
	Version string
	// RatePerMinute bounds each key's requests per minute, with a burst of
	// as many (DefaultRatePerMinute when zero; negative: no limit).
	RatePerMinute int
	// KeyCacheTTL is how long a checked key is trusted without looking it
	// up again (engine.DefaultKeyCacheTTL when zero).
	KeyCacheTTL time.Duration
	Logger      *slog.Logger
	// Now is the rate limiter's clock; time.Now when nil.
	Now func() time.Time
	// MaxBodyBytes bounds a request body (413 beyond); DefaultMaxBodyBytes
	// when zero. serve --http also bounds bodies before they reach the API.
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes bounds a request body when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// Handler serves /v1 and /api.
type Handler struct {
	eng     *engine.Engine
	api     huma.API
	routes  *http.ServeMux
	keys    *engine.KeyCache
	limiter *ratelimit.Limiter
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
}

// New builds the API and its OpenAPI document.
func New(eng *engine.Engine, opts Options) *Handler {
	if opts.RatePerMinute == 0 {
		opts.RatePerMinute = DefaultRatePerMinute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{eng: eng, routes: http.NewServeMux(), keys: engine.NewKeyCache(eng, opts.KeyCacheTTL),
		limiter: ratelimit.New(opts.RatePerMinute), log: opts.Logger, now: opts.Now, maxBody: opts.MaxBodyBytes}
	h.api = humago.New(h.routes, config(opts.Version))
	h.routes.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httperr.Write(w, http.StatusNotFound, engine.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "")
	})
	h.registerV1()
	h.registerCapped()
	nullableStructPointers(h.api.OpenAPI().Components.Schemas)
	return h
}

// config is the OpenAPI document's frame and huma's settings: no $schema
// links in bodies, no docs page (the document is the reference).
func config(version string) huma.Config {
	cfg := huma.DefaultConfig("agentledger API", version)
	cfg.CreateHooks = nil
	cfg.OpenAPIPath = "/v1/openapi"
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.RejectUnknownQueryParameters = true
	cfg.Info.Description = "The operator REST API of agentledger (/v1) and capped.ai-compatible endpoints (/api). " +
		"Every request needs an API key: \"Authorization: Bearer <key>\" or \"Api-Key: <key>\". " +
		"Amounts are integers in the currency's minor units, except the capped.ai endpoints' *_usd fields, " +
		"which are decimal US dollars. POST and PATCH take an Idempotency-Key header. " +
		"Lists take limit and starting_after and answer has_more."
	cfg.Servers = []*huma.Server{{URL: "http://127.0.0.1:8765", Description: "agentledger serve --http on make run's address"}}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An agentledger API key (al_…)."},
		"apiKey": {Type: "apiKey", In: "header", Name: "Api-Key", Description: "The same key, as LedgerOS clients send it."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}, {"apiKey": {}}}
	return cfg
}

// Mount adds /v1/ and /api/ to mux; more specific routes on it (the
// network and issuer endpoints) keep precedence.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.Handle("/v1/", h)
	mux.Handle("/api/", h)
}

// OpenAPI returns the API's OpenAPI 3.1 document.
func (h *Handler) OpenAPI() *huma.OpenAPI { return h.api.OpenAPI() }

// ServeHTTP authenticates the key and spends one request of its rate
// before anything is decoded.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secret, ok := credentials(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentledger"`)
		httperr.Write(w, http.StatusUnauthorized, engine.CodeUnauthorized,
			`send "Authorization: Bearer <agentledger API key>" (or "Api-Key: <key>")`, "")
		return
	}
	actor, err := h.keys.Authenticate(r.Context(), secret)
	if err != nil {
		if engine.ErrorCode(err) == engine.CodeUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="agentledger", error="invalid_token"`)
		}
		h.logInternal(r.Context(), err)
		httperr.WriteEngine(w, err)
		return
	}
	mcp.NoteKey(r.Context(), actor.KeyID)
	if actor.Role == engine.RoleViewer && r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Refused before the body is decoded: a viewer's write is 403
		// whatever it sends.
		httperr.Write(w, http.StatusForbidden, engine.CodeForbidden, "a viewer key may only read", "")
		return
	}
	if wait, ok := h.limiter.Take(actor.KeyID, h.now()); !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		httperr.Write(w, http.StatusTooManyRequests, httperr.CodeRateLimited,
			"too many requests for this key: at most "+strconv.Itoa(h.limiter.PerMinute)+
				" a minute; retry in "+strconv.Itoa(secs)+" s", "")
		return
	}
	h.routes.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, actor)))
}

// credentials returns the key of "Authorization: Bearer <key>" or
// "Api-Key: <key>".
func credentials(r *http.Request) (string, bool) {
	if key := strings.TrimSpace(r.Header.Get("Api-Key")); key != "" {
		return key, true
	}
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, found && strings.EqualFold(scheme, "Bearer") && token != ""
}

type actorKey struct{}

func actorFrom(ctx context.Context) engine.Actor {
	a, _ := ctx.Value(actorKey{}).(engine.Actor)
	return a
}

func (h *Handler) logInternal(ctx context.Context, err error) {
	if engine.ErrorCode(err) == engine.CodeInternal {
		h.log.ErrorContext(ctx, "api: internal error", "err", err)
	}
}
