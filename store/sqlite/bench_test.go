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
func BenchmarkDecisions(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		parallel := mode == "parallel"
		b.Run("bare-tx/"+mode, func(b *testing.B) { benchBare(b, parallel) })
		b.Run("authorize/"+mode, func(b *testing.B) { benchAuthorize(b, parallel, false, 0) })
		b.Run("authorize-intent/"+mode, func(b *testing.B) { benchAuthorize(b, parallel, true, 0) })
	}
	// The same parallel load with group commit turned off: one commit (and
	// one fsync) per authorization.
	b.Run("authorize-intent/parallel-no-group-commit", func(b *testing.B) { benchAuthorize(b, true, true, 1) })
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

// bareRate holds the bare transaction's latest rate per mode, so that each
// authorization benchmark can report itself as a share of it (%bare).
var bareRate = map[string]float64{}

func report(b *testing.B) float64 {
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "decisions/s")
	return rate
}

// benchBare is the yardstick: BEGIN IMMEDIATE, INSERT a row, UPDATE a
// balance, COMMIT, on one connection with the store's pragmas and prepared
// statements — what a single money-moving write costs at minimum.
func benchBare(b *testing.B, parallel bool) {
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
		`INSERT INTO accounts VALUES ('a', 0)`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	insert, err := db.PrepareContext(ctx, `INSERT INTO holds VALUES (?, 'a', 100, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	update, err := db.PrepareContext(ctx, `UPDATE accounts SET pending = pending + 100 WHERE id = 'a'`)
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
		if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, fmt.Sprintf("h%d", i), i); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.StmtContext(ctx, update).ExecContext(ctx); err != nil {
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
	bareRate[modeName(parallel)] = report(b)
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
	var declined, next atomic.Int64
	calls := &latencies{}
	revealFrames, revealStmts, revealCPU := 0, int64(0), time.Duration(0)
	one := func() {
		i := int(next.Add(1) - 1)
		if withIntent && !parallel && i >= len(cards) {
			b.StopTimer()
			f, s, c := env.DB.WALFrames(), env.DB.Statements(), cpuTime()
			env.Reveal(agent, cards[i%len(cards)], 100, "Coffee")
			revealFrames += env.DB.WALFrames() - f
			revealStmts += env.DB.Statements() - s
			revealCPU += cpuTime() - c
			b.StartTimer()
		}
		start := time.Now()
		a, err := env.Engine.Authorize(env.Ctx, engine.Operator, benchCharge(cards[i%len(cards)]))
		if err != nil {
			b.Fatal(err)
		}
		calls.add(time.Since(start))
		if a.Status != engine.AuthApproved {
			declined.Add(1)
		}
	}
	tx0, commits0 := env.DB.Stats()
	frames0, paused0, stmts0 := env.DB.WALFrames(), env.DB.CheckpointPauses(), env.DB.Statements()
	commits.reset()
	b.ResetTimer()
	cpu0, disk0 := cpuTime(), diskWrites()
	drive(b, parallel, one)
	cpu, disk := cpuTime()-cpu0, diskWrites()-disk0
	b.StopTimer()
	if rate, bare := report(b), bareRate[modeName(parallel)]; bare > 0 {
		b.ReportMetric(100*rate/bare, "%bare")
	}
	if d := declined.Load(); d > 0 {
		b.Fatalf("%d of %d authorizations declined", d, b.N)
	}
	tx1, commits1 := env.DB.Stats()
	b.ReportMetric(float64(tx1-tx0)/float64(max(commits1-commits0, 1)), "tx/commit")
	// Pages per authorization, the reveals between serial charges left out.
	b.ReportMetric(float64(env.DB.WALFrames()-frames0-revealFrames)/float64(b.N), "wal-pages/auth")
	b.ReportMetric(float64(env.DB.Statements()-stmts0-revealStmts)/float64(b.N), "stmts/auth")
	// The process's CPU (user and system, every goroutine: the writer, the
	// checkpointer, the clients) per authorization.
	b.ReportMetric(float64((cpu-revealCPU).Microseconds())/float64(b.N), "cpu-µs/auth")
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
