package sqlite

import (
	"slices"

	"github.com/agentledger/agentledger/engine"
)

// The rows an authorization reads — its card, agent and user, the agent's
// counters and merchant history, the accounts it moves money between, the
// time zone, whether the card has revealed intents — are kept by the writer
// between its transactions (hotRows, part of writerCache), so that a
// decision in steady state reads nothing from SQLite.
//
// Correctness rests on three rules:
//   - Another process's commit drops everything (the data version, checked
//     at each BEGIN: writercache.go).
//   - Every write of the writer to a kept row, in the same transaction,
//     either updates the kept copy to exactly what the row now holds (the
//     counters, risk state and merchant history each decision writes) or
//     forgets it (a card, agent, user or setting an operator changes).
//   - Every change to what is kept — a row read, updated or forgotten — is
//     journaled, and a request that fails is undone back to its mark, as
//     its SAVEPOINT undoes its rows; a batch that does not commit drops
//     everything. Accounts are the exception: their kept copy changes only
//     after COMMIT, from the batch's sums (balances.go).
//
// Kept values are copied on the way in and out: the engine may modify what
// it is given.
type hotRows struct {
	cards     map[string]*engine.Card
	agents    map[string]*engine.Agent
	users     map[string]*engine.User
	counters  map[engine.CounterKey]keptCounter
	merchants map[seenKey]bool
	accounts  map[string]engine.Account // as committed
	// noRevealed says of the cards it holds whether they have no revealed
	// intent (false: they may have some, ask SQLite).
	noRevealed map[string]bool
	settings   map[struct{}]keptSettings // one entry, when known
	journal    []func()                  // undoes, newest last
}

type keptCounter struct {
	engine.Counter
	exists bool
}

// seenKey is a row of merchants_seen.
type seenKey struct{ agentID, kind, key string }

type keptSettings struct {
	s     engine.Settings
	found bool
}

// maxHotRows bounds each map; a map over it is emptied after a commit. An
// agent with its policy is a kilobyte or two: the agents' map stays under
// about 100 MB.
const maxHotRows = 50_000

func (h *hotRows) mark() int { return len(h.journal) }

// undo rolls what is kept back to mark, newest change first.
func (h *hotRows) undo(mark int) {
	for i := len(h.journal) - 1; i >= mark; i-- {
		h.journal[i]()
	}
	h.journal = h.journal[:mark]
}

// committed forgets the journal (what it undoes is now durable) and bounds
// the maps.
func (h *hotRows) committed() {
	clear(h.journal)
	h.journal = h.journal[:0]
	bound(&h.cards)
	bound(&h.agents)
	bound(&h.users)
	bound(&h.counters)
	bound(&h.merchants)
	bound(&h.accounts)
	bound(&h.noRevealed)
}

// bound empties a map past maxHotRows.
func bound[K comparable, V any](m *map[K]V) {
	if len(*m) > maxHotRows {
		*m = nil
	}
}

// set puts v under k in *m (made when nil), journaling what was there.
func set[K comparable, V any](h *hotRows, m *map[K]V, k K, v V) {
	if *m == nil {
		*m = map[K]V{}
	}
	mp := *m
	old, had := mp[k]
	mp[k] = v
	h.journal = append(h.journal, func() {
		if had {
			mp[k] = old
		} else {
			delete(mp, k)
		}
	})
}

// forget removes k from m, journaling what was there.
func forget[K comparable, V any](h *hotRows, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	h.journal = append(h.journal, func() { m[k] = old })
}

// hot returns what the writer keeps, or nil in a read transaction (which
// runs on another goroutine, and must not touch it).
func (t *tx) hot() *hotRows {
	if !t.write {
		return nil
	}
	return &t.db.cache.hot
}

// findKept returns the row kept under id (rows picks its map), or reads it
// with find and keeps a copy; a read transaction always reads.
func findKept[T any](t *tx, rows func(*hotRows) *map[string]*T, id string, clone func(*T) *T,
	find func() (*T, error)) (*T, error) {
	h := t.hot()
	if h != nil {
		if v, ok := (*rows(h))[id]; ok {
			return clone(v), nil
		}
	}
	v, err := find()
	if err == nil && h != nil {
		set(h, rows(h), id, clone(v))
	}
	return v, err
}

func cloneCard(c *engine.Card) *engine.Card {
	out := *c
	out.Limits = c.Limits.Clone()
	out.FrozenAt, out.ClosedAt = clonePtr(c.FrozenAt), clonePtr(c.ClosedAt)
	return &out
}

func cloneAgent(a *engine.Agent) *engine.Agent {
	out := *a
	out.Policy = a.Policy.Clone()
	out.Risk = cloneRisk(a.Risk)
	return &out
}

func cloneRisk(r engine.RiskState) engine.RiskState {
	r.Amounts, r.Attempts = slices.Clone(r.Amounts), slices.Clone(r.Attempts)
	return r
}

func cloneUser(u *engine.User) *engine.User {
	out := *u
	return &out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
