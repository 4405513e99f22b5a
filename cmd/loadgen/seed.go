package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	sqlitedriver "modernc.org/sqlite"
)

// seedConfig is what `loadgen seed` makes.
type seedConfig struct {
	bin, db         string
	authorizations  int
	agents, users   int
	velocityAgents  int           // agents with a velocity limit, and as many without as their control
	velocityHistory int           // authorizations of each of those agents within recent
	span, recent    time.Duration // the whole history, and the stretch before now the heavy agents fill
	workers         int
	maxBatch        int
	seed            uint64
	verify          bool
	cacheMiB        int // the seeding process's SQLite page cache
	checkpointPages int // and WAL checkpoint interval (0: SQLite's)
}

func seedCommand(args []string) error {
	var cfg seedConfig
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.StringVar(&cfg.bin, "agentledger", "", "the agentledger binary, for 'agentledger init' (required)")
	fs.StringVar(&cfg.db, "db", "", "the database to make; it must not exist (required)")
	fs.IntVar(&cfg.authorizations, "authorizations", 1_000_000, "authorizations of history")
	fs.IntVar(&cfg.agents, "agents", 1000, "ordinary agents, each with one card")
	fs.IntVar(&cfg.users, "users", 100, "funded users the agents spend for")
	fs.IntVar(&cfg.velocityAgents, "velocity-agents", 10,
		"agents with a velocity limit (a week's window), and as many more with the same history and no limit")
	fs.IntVar(&cfg.velocityHistory, "velocity-history", 10_000, "authorizations of each of those agents, all recent")
	days := fs.Int("days", 30, "days of history")
	fs.DurationVar(&cfg.recent, "recent", 48*time.Hour, "the stretch before now that the velocity agents' history fills")
	fs.IntVar(&cfg.workers, "workers", 512, "concurrent engine calls")
	fs.IntVar(&cfg.maxBatch, "max-batch", 512, "transactions one commit may carry (the store's group commit)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed: the same seed makes the same history")
	fs.BoolVar(&cfg.verify, "verify", true, "verify the ledger's invariants at the end")
	fs.IntVar(&cfg.cacheMiB, "cache-mib", 256, "SQLite page cache of each of this process's connections, in MiB")
	fs.IntVar(&cfg.checkpointPages, "checkpoint-pages", 20000,
		"WAL pages between this process's checkpoints (0: SQLite's 1000)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: loadgen seed --agentledger PATH --db FILE [flags]

Makes a database with a long history through agentledger's own engine: init
by the binary, then users, agents, cards, and authorizations decided by the
engine under a clock that runs through the history, most of them settled a
little later, some reversed or refunded, the rest expired by the sweep; some
declined by merchant controls and limits. Writes FILE.loadgen.json, which
'loadgen run --history-db FILE' reads.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg.span = time.Duration(*days) * 24 * time.Hour
	heavy := 2 * cfg.velocityAgents * cfg.velocityHistory
	switch {
	case cfg.bin == "" || cfg.db == "" || fs.NArg() > 0:
		fs.Usage()
		return errUsage
	case cfg.agents <= 0 || cfg.users <= 0 || cfg.workers <= 0 || cfg.maxBatch <= 0 || *days <= 0 || cfg.cacheMiB <= 0:
		fmt.Fprintln(fs.Output(), "loadgen seed: --agents, --users, --workers, --max-batch, --days and --cache-mib "+
			"must be positive")
		return errUsage
	case cfg.velocityAgents < 0 || cfg.velocityHistory < 0 || heavy > cfg.authorizations:
		fmt.Fprintf(fs.Output(), "loadgen seed: the velocity agents' history (2 × %d × %d) is more than "+
			"--authorizations\n", cfg.velocityAgents, cfg.velocityHistory)
		return errUsage
	case cfg.recent <= 0 || cfg.recent > cfg.span:
		fmt.Fprintln(fs.Output(), "loadgen seed: --recent must be positive and within --days")
		return errUsage
	}
	if _, err := os.Stat(cfg.db); err == nil {
		return fmt.Errorf("%s exists: seed makes a new database", cfg.db)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := seed(ctx, cfg, os.Stderr)
	return err
}

// manifest is what loadgen run needs to know of a seeded database.
type manifest struct {
	AdminKey       string     `json:"admin_key"`
	Made           time.Time  `json:"made"`
	Authorizations int64      `json:"authorizations"`
	Population     population `json:"population"`
	Counts         seedCounts `json:"counts"`
	Seconds        float64    `json:"seconds"`
	// How the history was made.
	Days            int     `json:"days"`
	VelocityAgents  int     `json:"velocity_agents"`
	VelocityHistory int     `json:"velocity_history"`
	RecentHours     float64 `json:"recent_hours"`
}

func manifestPath(db string) string { return db + ".loadgen.json" }

func readManifest(db string) (*manifest, error) {
	b, err := os.ReadFile(manifestPath(db))
	if err != nil {
		return nil, fmt.Errorf("%w (make the database with 'loadgen seed')", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestPath(db), err)
	}
	return &m, nil
}

// seedClock is the engine's clock while seeding: the time in the history
// being made, which the seeder moves forward, never back.
type seedClock struct{ ns atomic.Int64 }

func (c *seedClock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

func (c *seedClock) advance(t time.Time) {
	for {
		cur := c.ns.Load()
		if t.UnixNano() <= cur || c.ns.CompareAndSwap(cur, t.UnixNano()) {
			return
		}
	}
}

// seedCounts are what the history holds, by what happened.
type seedCounts struct {
	Approved int64 `json:"approved"`
	Declined int64 `json:"declined"`
	Settled  int64 `json:"settled"`
	Reversed int64 `json:"reversed"`
	Refunded int64 `json:"refunded"`
	Expired  int64 `json:"expired"`
}

// tally counts the history as the workers make it.
type tally struct {
	approved, declined, settled, reversed, refunded, expired atomic.Int64
}

func (t *tally) counts() seedCounts {
	return seedCounts{Approved: t.approved.Load(), Declined: t.declined.Load(), Settled: t.settled.Load(),
		Reversed: t.reversed.Load(), Refunded: t.refunded.Load(), Expired: t.expired.Load()}
}

// Operations of the history.
const (
	opAuthorize = iota
	opSettle
	opReverse
	opRefund
)

type seedOp struct {
	kind    int
	at      time.Time
	card    int // authorize: index into the population's cards
	amount  int64
	m       merchant
	auth    string // settle, reverse, refund: the authorization
	partial bool
}

// held is an authorization of the history with the amount it holds (or,
// once settled, the amount settled).
type held struct {
	id     string
	amount int64
}

// seeder makes one history.
type seeder struct {
	cfg   seedConfig
	eng   *engine.Engine
	clock *seedClock
	pop   population
	pool  []merchant
	tally tally
	log   io.Writer
}

func seed(ctx context.Context, cfg seedConfig, log io.Writer) (*manifest, error) {
	start := time.Now()
	adminKey, keyFile, err := initDatabase(cfg.bin, cfg.db)
	if err != nil {
		return nil, err
	}
	key, err := sqlite.ReadKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	// This process's SQLite may keep more pages in memory and checkpoint
	// less often than a server does: seeding goes faster (by about 15%),
	// and the database is the same.
	pragmas := []string{fmt.Sprintf("cache_size=%d", -1024*cfg.cacheMiB)}
	if cfg.checkpointPages > 0 {
		pragmas = append(pragmas, fmt.Sprintf("wal_autocheckpoint=%d", cfg.checkpointPages))
	}
	sqlitedriver.RegisterConnectionHook(func(c sqlitedriver.ExecQuerierContext, _ string) error {
		for _, p := range pragmas {
			if _, err := c.ExecContext(ctx, "PRAGMA "+p, nil); err != nil {
				return err
			}
		}
		return nil
	})
	// Big batches: the writer's CPU, not the fsync, bounds the seeding.
	store, err := sqlite.Open(cfg.db, sqlite.Options{Key: key, MaxBatch: cfg.maxBatch})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	end := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	s := &seeder{cfg: cfg, clock: &seedClock{}, pool: merchantPool(), log: log}
	s.clock.advance(end.Add(-cfg.span - time.Hour))
	s.eng = engine.New(store, engine.Options{Clock: s.clock})
	if err := s.populate(ctx); err != nil {
		return nil, fmt.Errorf("populating: %w", err)
	}
	fmt.Fprintf(log, "seed: %d users, %d agents and cards in %s\n", len(s.pop.Users), len(s.pop.Cards),
		time.Since(start).Round(time.Millisecond))
	if err := s.history(ctx, end); err != nil {
		return nil, err
	}
	if cfg.verify {
		t := time.Now()
		rep, err := store.VerifyLedger(ctx)
		if err != nil {
			return nil, err
		}
		if !rep.OK {
			return nil, fmt.Errorf("the seeded ledger has %d faults: %v", len(rep.Faults), rep.Faults[0])
		}
		fmt.Fprintf(log, "seed: ledger verified in %s\n", time.Since(t).Round(time.Millisecond))
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	m := &manifest{AdminKey: adminKey, Made: time.Now().UTC(), Authorizations: int64(cfg.authorizations),
		Population: s.pop, Counts: s.tally.counts(), Seconds: time.Since(start).Seconds(), Days: int(cfg.span.Hours() / 24),
		VelocityAgents: cfg.velocityAgents, VelocityHistory: cfg.velocityHistory, RecentHours: cfg.recent.Hours()}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(manifestPath(cfg.db), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	c := m.Counts
	fmt.Fprintf(log, "seed: %d authorizations in %s (%.0f/s): %d approved (%d settled, %d reversed, %d refunded, "+
		"%d expired), %d declined; %s is %d MB\n", c.Approved+c.Declined, time.Since(start).Round(time.Second),
		float64(c.Approved+c.Declined)/time.Since(start).Seconds(), c.Approved, c.Settled, c.Reversed, c.Refunded,
		c.Expired, c.Declined, cfg.db, filesSize(cfg.db, cfg.db+"-wal")>>20)
	return m, nil
}

// populate makes the users, the agents and their cards, as the REST set-up
// of a fresh database does, plus the velocity agents and their controls.
func (s *seeder) populate(ctx context.Context) error {
	cfg := s.cfg
	s.pop.Users = make([]string, cfg.users)
	err := parallel(cfg.users, func(i int) error {
		u, err := s.eng.CreateUser(ctx, engine.Operator, engine.CreateUserInput{Name: userName("hist", i)})
		if err != nil {
			return err
		}
		kyc := engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved}
		if _, err := s.eng.SetKYC(ctx, engine.Operator, kyc); err != nil {
			return err
		}
		s.pop.Users[i] = u.ID
		_, err = s.eng.FundUser(ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: userFunds, Currency: "USD"})
		return err
	})
	if err != nil {
		return err
	}
	groups := make([]string, 0, cfg.agents+2*cfg.velocityAgents)
	for i := range cfg.agents + 2*cfg.velocityAgents {
		switch {
		case i < cfg.agents:
			groups = append(groups, groupOrdinary)
		case (i-cfg.agents)%2 == 0:
			groups = append(groups, groupVelocity)
		default:
			groups = append(groups, groupControl)
		}
	}
	s.pop.Cards = make([]cardRef, len(groups))
	err = parallel(len(groups), func(i int) error {
		user := s.pop.Users[i%cfg.users]
		p := policy(groups[i])
		in := engine.CreateAgentInput{Name: agentName("hist", i), User: user, Policy: &p}
		a, err := s.eng.CreateAgent(ctx, engine.Operator, in)
		if err != nil {
			return err
		}
		c, err := s.eng.CreateCard(ctx, engine.Operator, engine.CreateCardInput{Agent: a.ID, Purpose: "load"})
		if err != nil {
			return err
		}
		s.pop.Cards[i] = cardRef{ID: c.ID, AgentID: a.ID, UserID: user, Group: groups[i]}
		return nil
	})
	if err != nil {
		return err
	}
	return s.pop.index()
}

// Shares of the history: charges at a blocked merchant and over the
// per-transaction limit are declined; of the approved, most are settled
// (some for less), some reversed, the rest left to expire; some settled
// ones are refunded.
const (
	shareBlocked  = 0.015
	shareOverMax  = 0.005
	shareSettled  = 0.90
	sharePartial  = 0.05
	shareReversed = 0.03
	shareRefunded = 0.01
	chunk         = time.Hour
	sweepEvery    = 12 // chunks
)

// history makes the authorizations hour by hour up to end: each hour's
// charges, and the settlements, reversals and refunds of the hour before.
func (s *seeder) history(ctx context.Context, end time.Time) error {
	cfg := s.cfg
	chunks := int(cfg.span / chunk)
	recentChunks := int(cfg.recent / chunk)
	heavy := 2 * cfg.velocityAgents * cfg.velocityHistory
	ordinary := cfg.authorizations - heavy
	rnd := rand.New(rand.NewPCG(cfg.seed, 0x5eed))
	begin := end.Add(-time.Duration(chunks) * chunk)
	var prevApproved, prevSettled []held
	var heavyNext, done int
	start, lastReport := time.Now(), time.Now()
	for i := range chunks {
		var ops []seedOp
		for range share(ordinary, chunks, i) {
			ops = append(ops, s.charge(rnd, rnd.IntN(cfg.agents)))
		}
		if r := i - (chunks - recentChunks); r >= 0 {
			// The velocity agents and their controls in turn: the same history.
			for range share(heavy, recentChunks, r) {
				ops = append(ops, s.charge(rnd, cfg.agents+heavyNext%(2*cfg.velocityAgents)))
				heavyNext++
			}
		}
		for _, h := range prevApproved {
			switch x := rnd.Float64(); {
			case x < shareSettled:
				ops = append(ops, seedOp{kind: opSettle, auth: h.id, amount: h.amount, partial: rnd.Float64() < sharePartial})
			case x < shareSettled+shareReversed:
				ops = append(ops, seedOp{kind: opReverse, auth: h.id})
			}
		}
		for _, h := range prevSettled {
			if rnd.Float64() < shareRefunded {
				ops = append(ops, seedOp{kind: opRefund, auth: h.id, amount: h.amount, partial: rnd.Float64() < 0.5})
			}
		}
		rnd.Shuffle(len(ops), func(a, b int) { ops[a], ops[b] = ops[b], ops[a] })
		from := begin.Add(time.Duration(i) * chunk)
		for k := range ops {
			ops[k].at = from.Add(time.Duration(k) * chunk / time.Duration(len(ops)))
		}
		var err error
		if prevApproved, prevSettled, err = s.run(ctx, ops); err != nil {
			return err
		}
		s.clock.advance(from.Add(chunk))
		if (i+1)%sweepEvery == 0 || i == chunks-1 {
			if err := s.sweep(ctx); err != nil {
				return err
			}
		}
		done += len(ops)
		if time.Since(lastReport) > 10*time.Second || i == chunks-1 {
			lastReport = time.Now()
			made := s.tally.approved.Load() + s.tally.declined.Load()
			fmt.Fprintf(s.log, "seed: %d of %d authorizations (history up to %s), %d operations, %.0f operations/s\n",
				made, cfg.authorizations, from.Add(chunk).Format(time.DateTime), done, float64(done)/time.Since(start).Seconds())
		}
	}
	return nil
}

// share is the part of total that falls to step at of span steps.
func share(total, span, at int) int { return (at+1)*total/span - at*total/span }

// charge is a charge on card n: mostly at one of its agent's merchants,
// sometimes at a blocked merchant or over the per-transaction limit.
func (s *seeder) charge(rnd *rand.Rand, n int) seedOp {
	op := seedOp{kind: opAuthorize, card: n, amount: chargeAmount(rnd), m: merchantFor(s.pool, n, rnd)}
	switch x := rnd.Float64(); {
	case x < shareBlocked:
		op.m = merchant{name: "Lucky Star Casino", mcc: blockedMCC}
	case x < shareBlocked+shareOverMax:
		op.amount = perTransaction + 1 + rnd.Int64N(perTransaction)
	}
	return op
}

// run performs one hour's operations from cfg.workers goroutines, each
// moving the clock to its operation's time first, and returns the
// authorizations approved and settled, in the operations' order (so that
// the next hour's draws fall on the same operations whatever finished first).
func (s *seeder) run(ctx context.Context, ops []seedOp) (approved, settled []held, err error) {
	results := make([]held, len(ops))
	kept := make([]bool, len(ops))
	next := make(chan int)
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(s.cfg.workers, max(len(ops), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s.clock.advance(ops[i].at)
				var err error
				if results[i], kept[i], err = s.apply(ctx, ops[i]); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range ops {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	for i, op := range ops {
		switch {
		case !kept[i]:
		case op.kind == opAuthorize:
			approved = append(approved, results[i])
		default:
			settled = append(settled, results[i])
		}
	}
	return approved, settled, first
}

// apply performs one operation; kept says whether its authorization goes
// on to the next hour (an approval to settle, a settlement to refund).
func (s *seeder) apply(ctx context.Context, op seedOp) (held, bool, error) {
	actor := engine.Operator
	switch op.kind {
	case opAuthorize:
		c := s.pop.Cards[op.card]
		a, err := s.eng.Authorize(ctx, actor, engine.AuthorizeInput{CardID: c.ID, Amount: op.amount, Currency: "USD",
			Merchant: engine.Merchant{Name: op.m.name, MCC: op.m.mcc, Country: "US"}})
		if err != nil {
			return held{}, false, err
		}
		if a.Status != engine.AuthApproved {
			s.tally.declined.Add(1)
			return held{}, false, nil
		}
		s.tally.approved.Add(1)
		return held{a.ID, a.Amount}, true, nil
	case opSettle:
		amount := op.amount
		if op.partial {
			amount = max(amount*8/10, 1)
		}
		if _, err := s.eng.Settle(ctx, actor, engine.SettleInput{AuthorizationID: op.auth, Amount: &amount}); err != nil {
			return held{}, false, err
		}
		s.tally.settled.Add(1)
		return held{op.auth, amount}, true, nil
	case opReverse:
		_, err := s.eng.Reverse(ctx, actor, engine.ReverseInput{AuthorizationID: op.auth})
		if err == nil {
			s.tally.reversed.Add(1)
		}
		return held{}, false, err
	case opRefund:
		var amount *int64 // nil: all of it
		if op.partial {
			amount = ptr(max(op.amount/2, 1))
		}
		_, err := s.eng.Refund(ctx, actor, engine.RefundInput{AuthorizationID: op.auth, Amount: amount})
		if err == nil {
			s.tally.refunded.Add(1)
		}
		return held{}, false, err
	}
	return held{}, false, errors.New("unknown operation")
}

// sweep records the expiries due, as a server does every 30 seconds.
func (s *seeder) sweep(ctx context.Context) error {
	r, err := s.eng.Sweep(ctx, engine.Operator)
	if err != nil {
		return err
	}
	s.tally.expired.Add(int64(r.Holds))
	return nil
}
