// Package engine is agentledger's domain: users, agents, policies, cards,
// intents, authorizations, decisions and the rules that decide whether money
// may move. It knows nothing of SQL, MCP, HTTP or flags; it reads the time
// from an injected Clock and persists through the Store interface.
package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultHoldTTL     = 7 * 24 * time.Hour // how long an unsettled authorization holds funds
	DefaultApprovalTTL = 24 * time.Hour     // how long a human has to answer an approval request
	cardValidityYears  = 3
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Clock tells the time; SystemClock when nil.
	Clock Clock
	// HoldTTL is how long an approved, unsettled authorization holds funds
	// before it expires. DefaultHoldTTL when zero.
	HoldTTL time.Duration
	// ApprovalTTL is how long an approval request waits for a human before
	// it expires. DefaultApprovalTTL when zero.
	ApprovalTTL time.Duration
	// WebhookBackoff is how long a failed webhook delivery waits before each
	// retry; when every retry has failed the delivery is failed.
	// DefaultWebhookBackoff when nil.
	WebhookBackoff []time.Duration
	// Issuers are the real issuers' APIs cards may be provisioned at, by
	// name; none when nil.
	Issuers []CardIssuer
	// IssuerTimeout bounds one call to an issuer made while a caller waits
	// (a create, a freeze, a reveal); DefaultIssuerTimeout when zero.
	IssuerTimeout time.Duration
	// Observer hears of every committed decision (logs, metrics); none
	// when nil.
	Observer Observer
	// OAuthAccessTTL and OAuthRefreshTTL are the lifetimes of the OAuth
	// access and refresh tokens the engine issues;
	// DefaultOAuthAccessTTL and DefaultOAuthRefreshTTL when zero.
	OAuthAccessTTL, OAuthRefreshTTL time.Duration
}

// DefaultIssuerTimeout is Options.IssuerTimeout's default.
const DefaultIssuerTimeout = 10 * time.Second

// Engine decides and records every spend. It is safe for concurrent use;
// all state lives in the Store.
type Engine struct {
	store       Store
	clock       Clock
	holdTTL     time.Duration
	approvalTTL time.Duration
	backoff     []time.Duration
	ids         idGenerator
	issuers     map[string]CardIssuer
	issuerWait  time.Duration
	observer    Observer
	syncLocks   sync.Map // card id → chan struct{} (cap 1): one push of a card at a time

	oauthAccessTTL, oauthRefreshTTL time.Duration
}

// New returns an engine over the store.
func New(store Store, opts Options) *Engine {
	e := &Engine{store: store, clock: opts.Clock, holdTTL: opts.HoldTTL, approvalTTL: opts.ApprovalTTL}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.holdTTL <= 0 {
		e.holdTTL = DefaultHoldTTL
	}
	if e.approvalTTL <= 0 {
		e.approvalTTL = DefaultApprovalTTL
	}
	e.observer = opts.Observer
	e.issuerWait = opts.IssuerTimeout
	if e.issuerWait <= 0 {
		e.issuerWait = DefaultIssuerTimeout
	}
	e.issuers = map[string]CardIssuer{}
	for _, iss := range opts.Issuers {
		e.issuers[iss.Name()] = iss
	}
	e.oauthAccessTTL, e.oauthRefreshTTL = opts.OAuthAccessTTL, opts.OAuthRefreshTTL
	if e.oauthAccessTTL <= 0 {
		e.oauthAccessTTL = DefaultOAuthAccessTTL
	}
	if e.oauthRefreshTTL <= 0 {
		e.oauthRefreshTTL = DefaultOAuthRefreshTTL
	}
	e.backoff = opts.WebhookBackoff
	if e.backoff == nil {
		e.backoff = DefaultWebhookBackoff
	}
	return e
}

// now returns the clock's time in UTC, truncated to microseconds so that
// what is stored and what is returned compare equal.
func (e *Engine) now() time.Time { return e.clock.Now().UTC().Truncate(time.Microsecond) }

func (e *Engine) newID(prefix string, now time.Time) string { return e.ids.newID(prefix, now) }

// Actor is who is calling: the operator at the CLI, or the holder of an API
// key. The engine scopes everything it shows and does by the actor.
type Actor struct {
	Role string // RoleAdmin, RoleAgent or RoleViewer
	// AgentID is the agent an agent key acts as. A viewer with an AgentID
	// sees only that agent's objects (the MCP face scopes viewers so).
	AgentID string
	KeyID   string // the API key used, if any
	// ClientName and ClientVersion identify the MCP client, recorded on the
	// intents the actor attests.
	ClientName    string
	ClientVersion string
}

// Operator is the actor of the local CLI: full rights.
var Operator = Actor{Role: RoleAdmin}

// String names the actor in audit fields such as frozen_by and decided_by.
func (a Actor) String() string {
	switch {
	case a.Role == RoleAgent:
		return "agent:" + a.AgentID
	case a.KeyID != "":
		return a.Role + ":" + a.KeyID
	}
	return "operator"
}

// idempotencyScope keeps one caller's idempotency keys apart from
// another's: each agent's, and each API key's (so that one network key, or
// a sandbox adapter, cannot take the keys an issuer's events will use).
func (a Actor) idempotencyScope() string {
	switch {
	case a.Role == RoleAgent:
		return "agent:" + a.AgentID
	case a.KeyID != "":
		return a.Role + ":" + a.KeyID
	}
	return a.Role
}

// requireRole fails with FORBIDDEN unless the actor has one of the roles.
// A viewer scoped to one agent (a read-only OAuth grant, a viewer key in an
// MCP session) passes only where an agent would: an action no agent may
// take is organisation-wide (users, stats, webhooks), and is not its to see.
func (a Actor) requireRole(action string, roles ...string) error {
	for _, r := range roles {
		if a.Role == r && (r != RoleViewer || a.AgentID == "" || slices.Contains(roles, RoleAgent)) {
			return nil
		}
	}
	if a.Role == "" {
		return Errorf(CodeUnauthorized, "%s: no credentials", action)
	}
	article := "a"
	if strings.ContainsRune("aeiou", rune(a.Role[0])) {
		article = "an"
	}
	return Errorf(CodeForbidden, "%s: %s %s key may not do this", action, article, a.Role)
}

// canSee reports whether the actor may see objects of the agent: operators
// and viewers see everything, an agent only its own.
func (a Actor) canSee(agentID string) bool {
	switch {
	case a.Role == RoleAdmin, a.Role == RoleNetwork, a.Role == RoleViewer && a.AgentID == "":
		return true
	case a.Role == RoleAgent, a.Role == RoleViewer:
		return a.AgentID == agentID
	}
	return false
}

// scoped reports whether the actor is confined to one agent.
func (a Actor) scoped() bool {
	return a.Role == RoleAgent || (a.Role == RoleViewer && a.AgentID != "")
}

// canAct reports whether the actor may change objects of the agent.
func (a Actor) canAct(agentID string) bool {
	return a.Role == RoleAdmin || (a.Role == RoleAgent && a.AgentID == agentID)
}

// agentRef picks the agent a call is about: an agent key's own agent, or
// the one an admin or viewer names. An agent key may name its agent too, by
// id or by name; findAgentFor then finds any other agent not found.
func (a Actor) agentRef(ref string) (string, error) {
	switch {
	case a.scoped():
		if ref == "" {
			return a.AgentID, nil
		}
		return ref, nil
	case a.Role == RoleAdmin, a.Role == RoleViewer:
		if ref == "" {
			return "", invalid("agent_id", "required with an %s key", a.Role)
		}
		return ref, nil
	}
	return "", Errorf(CodeUnauthorized, "no credentials")
}

// listScope narrows a listing to what the actor may list: an agent key
// lists only its own agent's objects (naming another is not found); an
// admin or viewer lists what it names, or everything.
func (a Actor) listScope(agentRef string) (string, error) {
	if a.scoped() {
		return a.agentRef(agentRef)
	}
	return agentRef, nil
}

// update runs fn in a write transaction with the current time.
func (e *Engine) update(ctx context.Context, fn func(tx Tx, now time.Time) error) error {
	return e.store.Update(ctx, func(tx Tx) error { return fn(tx, e.now()) })
}

// updateCharge is update for a charge on the card ref names (Store.UpdateCharge).
func (e *Engine) updateCharge(ctx context.Context, ref CardRef, fn func(tx Tx, now time.Time) error) error {
	return e.store.UpdateCharge(ctx, ref, func(tx Tx) error { return fn(tx, e.now()) })
}

// view runs fn in a read transaction with the current time.
func (e *Engine) view(ctx context.Context, fn func(tx Tx, now time.Time) error) error {
	return e.store.View(ctx, func(tx Tx) error { return fn(tx, e.now()) })
}

// findAgentFor loads the agent ref names, hiding it (NOT_FOUND) from actors
// that may not see it.
func findAgentFor(tx Tx, actor Actor, field, ref string) (*Agent, error) {
	agent, err := tx.FindAgent(ref)
	if IsNotFound(err) || (err == nil && !actor.canSee(agent.ID)) {
		return nil, notFound(field, "agent", ref)
	} else if err != nil {
		return nil, err
	}
	return agent, nil
}

// keyedCardRef returns the card reference a keyed request is hashed with: a
// card number is replaced by its card's id, since a hash of a card number
// (of about 10^9 on one BIN) could be brute-forced back to it.
func keyedCardRef(tx Tx, actor Actor, ref string) (string, error) {
	if !LooksLikePAN(ref) {
		return ref, nil
	}
	card, err := findCardFor(tx, actor, ref)
	if err != nil {
		return "", err
	}
	return card.ID, nil
}

// findCardFor loads a card the actor may see, by id or, when the reference
// is shaped like one, by card number (never echoed: see notFound).
func findCardFor(tx Tx, actor Actor, id string) (*Card, error) {
	find := tx.FindCard
	if LooksLikePAN(id) {
		find = func(pan string) (*Card, error) { return tx.FindCardByPAN(panDigits(pan)) }
	}
	card, err := find(strings.TrimSpace(id))
	if IsNotFound(err) || (err == nil && !actor.canSee(card.AgentID)) {
		return nil, notFound("card_id", "card", id)
	} else if err != nil {
		return nil, err
	}
	return card, nil
}

// AgentScope is the spend counter scope of an agent in a currency. Counter
// keys are a scope and a period (a day or month in the organisation's time
// zone, or the lifetime).
func AgentScope(agentID, currency string) string { return "agent:" + agentID + ":" + currency }

// AgentCountScope counts an agent's spends in every currency: a count limit
// (max_transactions_per_day, velocity) is about how often an agent spends,
// whatever the currency. Its amounts stay zero, since amounts in different
// currencies do not add up. It is also the agent's velocity scope.
func AgentCountScope(agentID string) string { return "agent:" + agentID }

// CardScope is the spend counter scope, and the velocity scope, of one card.
func CardScope(cardID string) string { return "card:" + cardID }

// LifetimePeriod is the counter period that never resets.
const LifetimePeriod = "lifetime"

// DayPeriod is the counter period of a day ("2006-01-02").
func DayPeriod(day string) string { return "day:" + day }

// MonthPeriod is the counter period of a month ("2006-01").
func MonthPeriod(month string) string { return "month:" + month }

// countDeltas returns the counter changes for a spend of amount (count spends)
// in the given windows, for the agent and, when cardID is set, the card.
func countDeltas(agentID, cardID, currency, day, month string, amount, count int64) []CounterDelta {
	scopes := []string{AgentScope(agentID, currency)}
	if cardID != "" {
		scopes = append(scopes, CardScope(cardID))
	}
	periods := []string{DayPeriod(day), MonthPeriod(month), LifetimePeriod}
	var out []CounterDelta
	for _, s := range scopes {
		for _, p := range periods {
			out = append(out, CounterDelta{Key: CounterKey{s, p}, Amount: amount, Count: count})
		}
	}
	if count != 0 {
		for _, p := range periods {
			out = append(out, CounterDelta{Key: CounterKey{AgentCountScope(agentID), p}, Count: count})
		}
	}
	return out
}

// An agent's velocity scope is kept only while its policy has a velocity
// limit: most agents have none, and a decision need not write a spend no
// limit will count. A policy that gains the limit, or whose window grows,
// refills the scope with the agent's spends of the window and a day more
// (FillAgentVelocity); one that loses it empties the scope. A card's limits
// are fixed when it is made, so a card's scope is kept from its first spend
// or never.

// velocityFillMargin is how much further back than its window a scope is
// refilled: a day, for another process's clock.
const velocityFillMargin = 24 * time.Hour

// velocityDeltas starts (count 1) or stops (count -1) a spend that counted
// at at, in the agent's velocity scope when its policy has a velocity
// limit and the card's when card has one.
func velocityDeltas(agent *Agent, card *Card, at time.Time, count int64) []VelocityDelta {
	var out []VelocityDelta
	if agent != nil && agent.Policy.Velocity != nil {
		out = append(out, VelocityDelta{Scope: AgentCountScope(agent.ID), At: at, Count: count})
	}
	if card != nil && card.Limits.Velocity != nil {
		out = append(out, VelocityDelta{Scope: CardScope(card.ID), At: at, Count: count})
	}
	return out
}
