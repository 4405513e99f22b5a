package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	msqlite "modernc.org/sqlite"
)

// BenchmarkDecisions measures card authorizations against a real on-disk
// database with synchronous=FULL, side by side with a bare SQLite
// transaction of the same shape (one INSERT and one UPDATE, committed), run
// serially and from parallel goroutines. Each reports decisions/s (commits/s
// for the bare transaction); `make bench` prints the ratios.
//
// The one-card lines charge one card of one agent; the 1000-cards lines
// charge 1,000 cards of 1,000 agents in turn (a server's real spread, each
// charge on rows the previous ones did not touch), beside a bare
// transaction updating one of 1,000 accounts in the same turn. The bare
// transaction commits alone, so the spread costs it nothing: the line
// shows it, and is the single-commit rate the 1000-cards line is held to.
func BenchmarkDecisions(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		parallel := mode == "parallel"
		b.Run("bare-tx/one-card/"+mode, func(b *testing.B) { benchBare(b, parallel, 1) })
		b.Run("authorize/one-card/"+mode, func(b *testing.B) { benchAuthorize(b, parallel, false, 0) })
		b.Run("authorize-intent/one-card/"+mode, func(b *testing.B) { benchAuthorize(b, parallel, true, 0) })
		b.Run("bare-tx/1000-cards/"+mode, func(b *testing.B) { benchBare(b, parallel, fleetSize) })
		// Its own fleet, closed once the line is done, so that neither
		// its history nor its checkpointer reaches another line.
		fleet, done := lazyFleet(b, fleetSize)
		b.Run("authorize/1000-cards/"+mode, func(b *testing.B) { benchFleet(b, parallel, fleet(b)) })
		done()
	}
	// The same parallel load with group commit turned off: one commit (and
	// one fsync) per authorization.
	b.Run("authorize-intent/one-card/parallel-no-group-commit", func(b *testing.B) { benchAuthorize(b, true, true, 1) })
}

// clients is how many goroutines per CPU the parallel runs use: a server
// answering many agents and issuers at once.
const clients = 16

// revealedCards issues n cards to the agent, each with a declared and
// revealed $1 intent at "Coffee": the state just before an agent pays. The
// set-up runs concurrently so that it, too, is group-committed.
func revealedCards(b *testing.B, env *sqlitetest.Env, agent *engine.Agent, n int) []*engine.Card {
	cards := make([]*engine.Card, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				c, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID})
				if err != nil {
					b.Error(err)
					return
				}
				in, err := env.Engine.DeclareIntent(env.Ctx, sqlitetest.AgentActor(agent), engine.DeclareIntentInput{CardID: c.ID, Summary: "coffee", Amount: 100, Merchant: "Coffee"})
				if err == nil {
					_, err = env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: c.ID, IntentID: in.ID})
				}
				if err != nil {
					b.Error(err)
					return
				}
				cards[i] = c
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return cards
}

// bareRate holds the bare transaction's latest rate per shape and mode, so
// that each authorization benchmark can report itself as a share of it
// (%bare).
var bareRate = map[string]float64{}

func bareKey(accounts int, parallel bool) string {
	return fmt.Sprint(accounts, "/", modeName(parallel))
}

func report(b *testing.B) float64 {
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "decisions/s")
	return rate
}

// benchBare is the yardstick: BEGIN IMMEDIATE, INSERT a row, UPDATE a
// balance, COMMIT, on one connection with the store's pragmas and prepared
// statements — what a single money-moving write costs at minimum.
func benchBare(b *testing.B, parallel bool, accounts int) {
	path := filepath.Join(b.TempDir(), "bare.db")
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	for _, s := range []string{
		`CREATE TABLE holds (id TEXT PRIMARY KEY, account TEXT NOT NULL, amount INTEGER NOT NULL, created_at INTEGER NOT NULL) STRICT`,
		`CREATE TABLE accounts (id TEXT PRIMARY KEY, pending INTEGER NOT NULL) STRICT`,
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < %d)
			INSERT INTO accounts SELECT 'a' || i, 0 FROM n`, accounts-1),
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	insert, err := db.PrepareContext(ctx, `INSERT INTO holds VALUES (?, ?, 100, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	update, err := db.PrepareContext(ctx, `UPDATE accounts SET pending = pending + 100 WHERE id = ?`)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	calls := &latencies{}
	one := func() {
		i := n.Add(1)
		start := time.Now()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		account := fmt.Sprint("a", fleetTurn(int(i), accounts))
		if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, fmt.Sprintf("h%d", i), account, i); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.StmtContext(ctx, update).ExecContext(ctx, account); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		calls.add(time.Since(start))
	}
	frames0 := bareFrames(b, db)
	b.ResetTimer()
	cpu0, disk0 := cpuTime(), diskWrites()
	drive(b, parallel, one)
	cpu, disk := cpuTime()-cpu0, diskWrites()-disk0
	b.StopTimer()
	bareRate[bareKey(accounts, parallel)] = report(b)
	b.ReportMetric(float64(bareFrames(b, db)-frames0)/float64(b.N), "wal-pages/op")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	if disk0 >= 0 {
		b.ReportMetric(float64(disk)/1024/float64(b.N), "disk-KB/op")
	}
	b.ReportMetric(calls.quantile(0.99), "p99-µs")
}

// bareFrames is how many pages the bare transaction's connection has
// appended to the WAL.
func bareFrames(b *testing.B, db *sql.DB) int {
	conn, err := db.Conn(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.Raw(func(dc any) error {
		n, _, err = dc.(msqlite.DBStatus).Status(msqlite.DBStatusCacheWrite, false)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return n
}

// drive calls one b.N times, from one goroutine or from clients per CPU.
func drive(b *testing.B, parallel bool, one func()) {
	if !parallel {
		for range b.N {
			one()
		}
		return
	}
	b.SetParallelism(clients)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			one()
		}
	})
}

func modeName(parallel bool) string {
	if parallel {
		return "parallel"
	}
	return "serial"
}

// benchPolicy is the benchmarks' policy: per-transaction, daily and
// monthly limits, a blocked category and risk scoring; an intent required
// or not.
func benchPolicy(withIntent bool) engine.Policy {
	return engine.Policy{
		IntentRequired: sqlitetest.Ptr(withIntent),
		SpendLimits: engine.SpendLimits{
			PerTransactionLimit: sqlitetest.Ptr[int64](100_000), DailyLimit: sqlitetest.Ptr[int64](engine.MaxAmount),
			MonthlyLimit: sqlitetest.Ptr[int64](engine.MaxAmount), BlockedMCCs: []string{"7995"},
		},
		RiskDeclineScore: sqlitetest.Ptr[int64](100),
	}
}

// benchCharge is a $1 charge at Coffee on the card.
func benchCharge(card *engine.Card) engine.AuthorizeInput {
	return engine.AuthorizeInput{CardID: card.ID, Amount: 100, Currency: "USD",
		Merchant: engine.Merchant{Name: "Coffee", MCC: "5814"}}
}

// benchAuthorize authorizes $1 charges on one card under benchPolicy;
// withIntent also has each charge match a declared, revealed intent
// (declared before the timer starts).
func benchAuthorize(b *testing.B, parallel, withIntent bool, maxBatch int) {
	commits := &latencies{}
	env := sqlitetest.NewWith(b, sqlitetest.Options{Store: sqlite.Options{Key: sqlite.GenerateKey(), MaxBatch: maxBatch,
		OnCommit: func(_ int, took time.Duration) { commits.add(took) }}})
	_, agent, card := env.Setup(engine.MaxAmount, benchPolicy(withIntent))
	cards := []*engine.Card{card}
	switch {
	case withIntent && parallel:
		// Every charge needs its own revealed intent, prepared before the
		// clock starts: one card each, the pessimistic case for locality.
		cards = revealedCards(b, env, agent, b.N)
	case withIntent:
		// Serially the agent declares and reveals (untimed) before each
		// charge, on a few dozen cards in turn, as a real agent would.
		cards = revealedCards(b, env, agent, 64)
	}
	var next atomic.Int64
	m := newMeasure(env, commits)
	m.measure(b, parallel, bareKey(1, parallel), func() {
		i := int(next.Add(1) - 1)
		if withIntent && !parallel && i >= len(cards) {
			m.untimed(b, func() { env.Reveal(agent, cards[i%len(cards)], 100, "Coffee") })
		}
		m.authorize(b, cards[i%len(cards)])
	})
}

// fleetSize is the cards (and agents) of the 1000-cards lines.
const fleetSize = 1000

// fleetTurn is the account or card the i-th operation of a run uses:
// every one of n in turn, in a scattered order.
func fleetTurn(i, n int) int { return i * 7919 % n } // 7919 is prime: a permutation of any n it does not divide

// lazyFleet returns a function that makes, the first time it is called,
// n agents of 100 users, one card each, on one database kept for every
// round of a line (making them takes a few seconds), and one that closes
// it.
func lazyFleet(parent *testing.B, n int) (get func(*testing.B) *fleet, done func()) {
	var f *fleet
	get = func(b *testing.B) *fleet {
		if f == nil {
			f = newFleet(parent, b, n)
		}
		return f
	}
	done = func() {
		if f != nil {
			f.env.DB.Close()
		}
	}
	return get, done
}

type fleet struct {
	env     *sqlitetest.Env
	cards   []*engine.Card
	commits *latencies
	next    atomic.Int64 // turns taken, over every line
}

// newFleet makes the fleet's database on the parent benchmark (it outlives
// one round of the line), reporting failures to the round b.
func newFleet(parent, b *testing.B, n int) *fleet {
	f := &fleet{commits: &latencies{}}
	f.env = sqlitetest.NewWith(parent, sqlitetest.Options{Store: sqlite.Options{Key: sqlite.GenerateKey(),
		OnCommit: func(_ int, took time.Duration) { f.commits.add(took) }}})
	users := make([]*engine.User, 100)
	for i := range users {
		users[i] = f.env.User(fmt.Sprint("user", i), engine.MaxAmount/200)
	}
	f.cards = make([]*engine.Card, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 32 { // concurrently, so that the set-up is group-committed too
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				p := benchPolicy(false)
				a, err := f.env.Engine.CreateAgent(f.env.Ctx, engine.Operator,
					engine.CreateAgentInput{Name: fmt.Sprint("agent", i), User: users[i%len(users)].ID, Policy: &p})
				if err != nil {
					b.Error(err)
					return
				}
				if f.cards[i], err = f.env.Engine.CreateCard(f.env.Ctx, engine.Operator, engine.CreateCardInput{Agent: a.ID}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return f
}

// benchFleet authorizes $1 charges on the fleet's cards in turn.
func benchFleet(b *testing.B, parallel bool, f *fleet) {
	m := newMeasure(f.env, f.commits)
	m.measure(b, parallel, bareKey(len(f.cards), parallel), func() {
		m.authorize(b, f.cards[fleetTurn(int(f.next.Add(1)-1), len(f.cards))])
	})
}

// measure times authorizations and reports their rate, its share of the
// bare transaction's, and what each cost: WAL pages, statements, CPU,
// disk writes, commit time, checkpoint pauses and the p99 latency.
type measure struct {
	env      *sqlitetest.Env
	commits  *latencies
	calls    latencies
	declined atomic.Int64
	// What untimed work between authorizations cost, left out.
	frames int
	stmts  int64
	cpu    time.Duration
}

func newMeasure(env *sqlitetest.Env, commits *latencies) *measure {
	return &measure{env: env, commits: commits}
}

func (m *measure) authorize(b *testing.B, card *engine.Card) {
	start := time.Now()
	a, err := m.env.Engine.Authorize(m.env.Ctx, engine.Operator, benchCharge(card))
	if err != nil {
		b.Fatal(err)
	}
	m.calls.add(time.Since(start))
	if a.Status != engine.AuthApproved {
		m.declined.Add(1)
	}
}

// untimed runs fn with the timer stopped and its costs left out (serial
// runs only).
func (m *measure) untimed(b *testing.B, fn func()) {
	b.StopTimer()
	f, s, c := m.env.DB.WALFrames(), m.env.DB.Statements(), cpuTime()
	fn()
	m.frames += m.env.DB.WALFrames() - f
	m.stmts += m.env.DB.Statements() - s
	m.cpu += cpuTime() - c
	b.StartTimer()
}

func (m *measure) measure(b *testing.B, parallel bool, bareLine string, one func()) {
	env, commits, calls := m.env, m.commits, &m.calls
	tx0, commits0 := env.DB.Stats()
	frames0, paused0, stmts0 := env.DB.WALFrames(), env.DB.CheckpointPauses(), env.DB.Statements()
	commits.reset()
	b.ResetTimer()
	cpu0, disk0 := cpuTime(), diskWrites()
	drive(b, parallel, one)
	cpu, disk := cpuTime()-cpu0, diskWrites()-disk0
	b.StopTimer()
	if rate, bare := report(b), bareRate[bareLine]; bare > 0 {
		b.ReportMetric(100*rate/bare, "%bare")
	}
	if d := m.declined.Load(); d > 0 {
		b.Fatalf("%d of %d authorizations declined", d, b.N)
	}
	tx1, commits1 := env.DB.Stats()
	b.ReportMetric(float64(tx1-tx0)/float64(max(commits1-commits0, 1)), "tx/commit")
	// Pages per authorization, the reveals between serial charges left out.
	b.ReportMetric(float64(env.DB.WALFrames()-frames0-m.frames)/float64(b.N), "wal-pages/auth")
	b.ReportMetric(float64(env.DB.Statements()-stmts0-m.stmts)/float64(b.N), "stmts/auth")
	// The process's CPU (user and system, every goroutine: the writer, the
	// checkpointer, the clients) per authorization.
	b.ReportMetric(float64((cpu-m.cpu).Microseconds())/float64(b.N), "cpu-µs/auth")
	if disk0 >= 0 {
		// What reached the disk meanwhile (the log, checkpoints), reveals and
		// all: the checkpoints of their pages cannot be told apart.
		b.ReportMetric(float64(disk)/1024/float64(b.N), "disk-KB/auth")
	}
	b.ReportMetric(commits.mean(), "commit-µs")
	// The writer held for checkpoints (between commits), per authorization.
	b.ReportMetric(float64((env.DB.CheckpointPauses()-paused0).Microseconds())/float64(b.N), "pause-µs/auth")
	b.ReportMetric(calls.quantile(0.99), "p99-µs")
}

// latencies collects durations from any goroutine.
type latencies struct {
	mu   sync.Mutex
	list []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.list = append(l.list, d)
	l.mu.Unlock()
}

func (l *latencies) reset() {
	l.mu.Lock()
	l.list = l.list[:0]
	l.mu.Unlock()
}

// mean is the average in microseconds.
func (l *latencies) mean() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var sum time.Duration
	for _, d := range l.list {
		sum += d
	}
	return float64(sum.Microseconds()) / float64(max(len(l.list), 1))
}

// quantile is the q-quantile in microseconds.
func (l *latencies) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.list) == 0 {
		return 0
	}
	slices.Sort(l.list)
	return float64(l.list[int(q*float64(len(l.list)-1))].Microseconds())
}
