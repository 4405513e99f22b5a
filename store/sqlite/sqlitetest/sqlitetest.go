// Package sqlitetest gives tests a real engine on a real store, a manual
// clock, and short-hands for the set-up every spending test needs (an
// approved, funded user; an agent; a card). The store is a SQLite file in a
// temporary directory, or, with $AGENTLEDGER_TEST_STORE=postgres, a fresh
// PostgreSQL database of its own (package pgtest): the same tests then run
// against both stores.
package sqlitetest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/stretchr/testify/require"
)

// Epoch is where test clocks start: a Wednesday mid-month, mid-day UTC.
var Epoch = time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)

// Env is one test's engine and database.
type Env struct {
	T     testing.TB
	Ctx   context.Context
	Store Store // the store under test, SQLite or PostgreSQL
	// DB and Path are the SQLite store and its file; nil and empty on
	// PostgreSQL, where URL names the database instead.
	DB     *sqlite.DB
	Path   string
	URL    string
	Engine *engine.Engine
	Clock  *engine.ManualClock
	Key    []byte

	storeOpts sqlite.Options
	counts    *commitCounts // PostgreSQL's, from its OnCommit
}

type commitCounts struct{ transactions, commits atomic.Int64 }

// Stats reports how many write transactions the store has committed, and in
// how many commits, as sqlite.DB.Stats does; on PostgreSQL, each its own.
func (env *Env) Stats() (transactions, commits int64) {
	if env.DB != nil {
		return env.DB.Stats()
	}
	return env.counts.transactions.Load(), env.counts.commits.Load()
}

// Store is what both stores offer a test.
type Store interface {
	engine.Store
	Ping(ctx context.Context) error
	Close() error
}

// EnvStore names the store the tests run on: "postgres", or SQLite.
const EnvStore = "AGENTLEDGER_TEST_STORE"

// OnPostgres reports whether the tests run on PostgreSQL.
func OnPostgres() bool { return os.Getenv(EnvStore) == "postgres" }

// SQLiteOnly skips the test on PostgreSQL: it checks something of the
// SQLite store itself (its file, its group commit), named by why.
func (env *Env) SQLiteOnly(why string) {
	env.T.Helper()
	if env.DB == nil {
		env.T.Skip("SQLite only: " + why)
	}
}

// Options tune New.
type Options struct {
	Engine engine.Options // Clock is filled in when nil
	Store  sqlite.Options // Key is filled in when nil
}

// New opens a fresh database file and an engine over it; both close when
// the test ends.
func New(t testing.TB) *Env { return NewWith(t, Options{}) }

// NewWith is New with options.
func NewWith(t testing.TB, opts Options) *Env {
	t.Helper()
	if opts.Store.Key == nil {
		opts.Store.Key = sqlite.GenerateKey()
	}
	clock, _ := opts.Engine.Clock.(*engine.ManualClock)
	if clock == nil {
		clock = engine.NewManualClock(Epoch)
		opts.Engine.Clock = clock
	}
	env := &Env{T: t, Ctx: context.Background(), Clock: clock, Key: opts.Store.Key, storeOpts: opts.Store}
	if OnPostgres() {
		env.URL = pgtest.URL(t)
	} else {
		env.Path = filepath.Join(t.TempDir(), "agentledger.db")
	}
	env.open(opts.Engine)
	return env
}

// open opens env's store (another handle on the same database when it has
// one already) and an engine over it.
func (env *Env) open(opts engine.Options) {
	env.T.Helper()
	if env.URL != "" {
		counts, hook := &commitCounts{}, env.storeOpts.OnCommit
		db, err := postgres.Open(env.Ctx, env.URL, postgres.Options{Key: env.Key, BusyTimeout: env.storeOpts.BusyTimeout,
			OnCommit: func(transactions int, took time.Duration) {
				counts.transactions.Add(int64(transactions))
				counts.commits.Add(1)
				if hook != nil {
					hook(transactions, took)
				}
			}})
		env.counts = counts
		require.NoError(env.T, err)
		env.T.Cleanup(func() { db.Close() })
		env.Store, env.DB = db, nil
	} else {
		o := env.storeOpts
		o.Key = env.Key
		db, err := sqlite.Open(env.Path, o)
		require.NoError(env.T, err)
		env.T.Cleanup(func() { db.Close() })
		env.Store, env.DB = db, db
	}
	env.Engine = engine.New(env.Store, opts)
}

// Reopen opens a second store and engine on the same database, as another
// process (another server, on PostgreSQL) would, sharing the clock.
func (env *Env) Reopen(opts engine.Options) *Env {
	env.T.Helper()
	if opts.Clock == nil {
		opts.Clock = env.Clock
	}
	other := *env
	other.storeOpts = sqlite.Options{}
	other.open(opts)
	return &other
}

// User creates a user, approves its KYC and funds it (minor units of USD;
// no deposit when funds is zero).
func (env *Env) User(name string, funds int64) *engine.User {
	env.T.Helper()
	u, err := env.Engine.CreateUser(env.Ctx, engine.Operator, engine.CreateUserInput{Name: name})
	require.NoError(env.T, err)
	u, err = env.Engine.SetKYC(env.Ctx, engine.Operator, engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved})
	require.NoError(env.T, err)
	if funds > 0 {
		_, err = env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: funds})
		require.NoError(env.T, err)
	}
	return u
}

// Agent creates a live agent under the user with the policy.
func (env *Env) Agent(name string, user *engine.User, policy engine.Policy) *engine.Agent {
	env.T.Helper()
	a, err := env.Engine.CreateAgent(env.Ctx, engine.Operator, engine.CreateAgentInput{Name: name, User: user.ID, Policy: &policy})
	require.NoError(env.T, err)
	return a
}

// Card issues a multi-use card to the agent.
func (env *Env) Card(agent *engine.Agent) *engine.Card {
	env.T.Helper()
	c, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID})
	require.NoError(env.T, err)
	return c
}

// Setup is the usual cast: a user funded with funds, an agent with the
// policy, and one card.
func (env *Env) Setup(funds int64, policy engine.Policy) (*engine.User, *engine.Agent, *engine.Card) {
	env.T.Helper()
	u := env.User("user", funds)
	a := env.Agent("agent", u, policy)
	return u, a, env.Card(a)
}

// RevokeKeys revokes every API key of the role.
func (env *Env) RevokeKeys(role string) {
	env.T.Helper()
	keys, err := env.Engine.ListKeys(env.Ctx, engine.Operator, engine.Page{}) // every key
	require.NoError(env.T, err)
	for _, k := range keys.Items {
		if k.Role == role {
			_, err := env.Engine.RevokeKey(env.Ctx, engine.Operator, engine.RevokeKeyInput{KeyID: k.ID})
			require.NoError(env.T, err)
		}
	}
}

// AgentActor is the actor of an agent's own API key.
func AgentActor(a *engine.Agent) engine.Actor {
	return engine.Actor{Role: engine.RoleAgent, AgentID: a.ID}
}

// Reveal declares an intent for amount at merchant on the card and reveals
// the card for it, as an agent does before it pays.
func (env *Env) Reveal(agent *engine.Agent, card *engine.Card, amount int64, merchant string) *engine.Intent {
	env.T.Helper()
	actor := AgentActor(agent)
	i, err := env.Engine.DeclareIntent(env.Ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "test purchase", Amount: amount, Merchant: merchant})
	require.NoError(env.T, err)
	_, err = env.Engine.RevealCard(env.Ctx, actor, engine.RevealInput{CardID: card.ID, IntentID: i.ID})
	require.NoError(env.T, err)
	return i
}

// Charge authorizes a charge on the card as the network.
func (env *Env) Charge(card *engine.Card, amount int64, merchant, mcc string) *engine.Authorization {
	env.T.Helper()
	a, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{
		CardID: card.ID, Amount: amount, Currency: card.Currency, Merchant: engine.Merchant{Name: merchant, MCC: mcc},
	})
	require.NoError(env.T, err)
	return a
}

// Verify runs the ledger verification and fails the test on any fault.
func (env *Env) Verify() *engine.LedgerReport {
	env.T.Helper()
	r, err := env.Store.VerifyLedger(env.Ctx)
	require.NoError(env.T, err)
	require.Empty(env.T, r.Faults)
	require.True(env.T, r.OK)
	return r
}

// Snapshot returns the whole content of the database file as text, table by
// table, so that a test can show an operation wrote nothing.
func (env *Env) Snapshot() string {
	env.T.Helper()
	if env.URL != "" {
		return env.snapshotPostgres()
	}
	raw, err := sql.Open("sqlite", "file:"+env.Path+"?mode=ro")
	require.NoError(env.T, err)
	defer raw.Close()
	tables, err := raw.QueryContext(env.Ctx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	require.NoError(env.T, err)
	var names []string
	for tables.Next() {
		var n string
		require.NoError(env.T, tables.Scan(&n))
		names = append(names, n)
	}
	require.NoError(env.T, tables.Close())
	var b strings.Builder
	for _, n := range names {
		rows, err := raw.QueryContext(env.Ctx, `SELECT * FROM "`+n+`" ORDER BY 1`)
		require.NoError(env.T, err)
		cols, err := rows.Columns()
		require.NoError(env.T, err)
		fmt.Fprintf(&b, "== %s\n", n)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(env.T, rows.Scan(ptrs...))
			fmt.Fprintf(&b, "%v\n", vals)
		}
		require.NoError(env.T, rows.Close())
	}
	return b.String()
}

// Ptr returns a pointer to v, for optional policy fields.
func Ptr[T any](v T) *T { return &v }
