package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runConfig is what `loadgen run` was asked to measure.
type runConfig struct {
	Bin           string        `json:"-"`
	Agents        int           `json:"agents"`
	Users         int           `json:"users"`
	Clients       []int         `json:"clients"`
	Rates         []float64     `json:"rates"`
	Warmup        time.Duration `json:"warmup_ns"`
	Duration      time.Duration `json:"duration_ns"`
	Requests      int64         `json:"requests_cap,omitempty"`
	Rounds        int           `json:"rounds"`
	Baseline      bool          `json:"baseline"`
	HistoryDB     string        `json:"history_db,omitempty"`
	ServeFlags    []string      `json:"serve_flags,omitempty"`
	AllowDeclines bool          `json:"allow_declines,omitempty"`
	VerifyHistory bool          `json:"verify_history,omitempty"`
	dir           string
	jsonOut       string
}

func runCommand(args []string) error {
	cfg := runConfig{Baseline: true}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&cfg.Bin, "agentledger", "", "the agentledger binary to serve (required)")
	fs.IntVar(&cfg.Agents, "agents", 1000, "agents of the fresh database, each with one card")
	fs.IntVar(&cfg.Users, "users", 100, "funded users the fresh database's agents spend for")
	clients := fs.String("clients", "64", "closed loop: comma-separated numbers of concurrent clients (empty: none)")
	rates := fs.String("rates", "1000", "open loop: comma-separated rates, authorizations a second (empty: none)")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before each phase's measured window")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "each phase's measured window")
	fs.Int64Var(&cfg.Requests, "requests", 0, "end each phase after this many measured requests (0: no cap)")
	fs.IntVar(&cfg.Rounds, "rounds", 1, "repeat every phase, alternating the order of the servers")
	noBaseline := fs.Bool("no-baseline", false, "do not run the baseline server")
	fs.StringVar(&cfg.HistoryDB, "history-db", "", "also measure this database, made by 'loadgen seed' (used in place)")
	serveFlags := fs.String("serve-flags", "",
		"extra flags for agentledger serve, space-separated (e.g. --log-level=warn)")
	fs.BoolVar(&cfg.AllowDeclines, "allow-declines", false, "do not fail the run when authorizations are declined")
	fs.BoolVar(&cfg.VerifyHistory, "verify-history", false,
		"also verify the history's whole ledger at the end (about 2 minutes for 1,000,000 authorizations)")
	fs.StringVar(&cfg.dir, "dir", "", "keep the databases in this directory (default: a temporary one, removed)")
	fs.StringVar(&cfg.jsonOut, "json", "", "also write the report as JSON to this file")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: loadgen run --agentledger PATH [flags]

Starts a baseline server and agentledger serve --http on a fresh database
(made with 'agentledger init' and the REST API), and with --history-db a
second agentledger on that database; then measures each in turn, closed-loop
and open-loop, and prints throughput, latency, bytes per authorization, and
how the figures compare with the issue's targets.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var err error
	if cfg.Clients, err = parseList(*clients, strconv.Atoi); err == nil {
		cfg.Rates, err = parseList(*rates, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
	}
	cfg.Baseline, cfg.ServeFlags = !*noBaseline, strings.Fields(*serveFlags)
	switch {
	case err != nil:
		fmt.Fprintln(fs.Output(), "loadgen run:", err)
		return errUsage
	case cfg.Bin == "" || fs.NArg() > 0:
		fs.Usage()
		return errUsage
	case cfg.Agents <= 0 || cfg.Users <= 0 || cfg.Rounds <= 0 || cfg.Duration <= 0 || cfg.Warmup < 0:
		fmt.Fprintln(fs.Output(), "loadgen run: --agents, --users, --rounds and --duration must be positive")
		return errUsage
	case slices.ContainsFunc(cfg.Clients, func(n int) bool { return n <= 0 }),
		slices.ContainsFunc(cfg.Rates, func(r float64) bool { return r <= 0 }):
		fmt.Fprintln(fs.Output(), "loadgen run: clients and rates must be positive")
		return errUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg, os.Stderr)
	if rep != nil {
		rep.print(os.Stdout)
		if cfg.jsonOut != "" {
			if werr := writeJSON(cfg.jsonOut, rep); werr != nil && err == nil {
				err = werr
			}
		}
	}
	if err == nil && !rep.ok() {
		err = errChecks
	}
	return err
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", f, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// runner carries one run: its servers, what they have approved, the report.
type runner struct {
	cfg     runConfig
	log     io.Writer
	rep     *report
	servers []*process
	targets []*target
	ledgers map[*target]*ledgerCheck
}

// leg is one target with the cards a phase charges there.
type leg struct {
	t     *target
	name  string // the phase's name on this target
	cards []cardRef
	users int
}

func run(ctx context.Context, cfg runConfig, log io.Writer) (rep *report, err error) {
	r := &runner{cfg: cfg, log: log, rep: newReport(cfg), ledgers: map[*target]*ledgerCheck{}}
	dir := cfg.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "loadgen-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for _, name := range []string{"baseline.db", "fresh.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("%s exists in %s: give --dir an empty directory", name, dir)
		}
	}
	defer func() {
		r.closeTargets()
		if serr := r.stopServers(); serr != nil && err == nil {
			err = serr
		}
	}()
	var base, fresh, hist *target
	if cfg.Baseline {
		if base, err = r.startBaseline(ctx, filepath.Join(dir, "baseline.db")); err != nil {
			return nil, err
		}
	}
	freshDB := filepath.Join(dir, "fresh.db")
	if fresh, err = r.startFresh(ctx, freshDB); err != nil {
		return nil, err
	}
	var histPop *population
	if cfg.HistoryDB != "" {
		if hist, histPop, err = r.startHistory(ctx, cfg.HistoryDB); err != nil {
			return nil, err
		}
	}
	pop := r.ledgers[fresh].pop
	legs := func(name string) []leg {
		var out []leg
		if base != nil { // the baseline takes any card id: it charges the fresh database's cards
			out = append(out, leg{t: base, name: name, cards: pop.Cards, users: len(pop.Users)})
		}
		out = append(out, leg{t: fresh, name: name, cards: pop.Cards, users: len(pop.Users)})
		if hist != nil {
			out = append(out, leg{t: hist, name: name, cards: histPop.byGroup(groupOrdinary), users: len(histPop.Users)})
		}
		return out
	}
	for round := range cfg.Rounds {
		for _, c := range cfg.Clients {
			ph := phase{Name: fmt.Sprintf("closed-%d", c), Mode: modeClosed, Clients: c}
			if err := r.measure(ctx, ph, legs(ph.Name), round); err != nil {
				return r.rep, err
			}
		}
		for _, rate := range cfg.Rates {
			ph := phase{Name: "open-" + strconv.FormatFloat(rate, 'f', -1, 64), Mode: modeOpen, Rate: rate}
			if err := r.measure(ctx, ph, legs(ph.Name), round); err != nil {
				return r.rep, err
			}
		}
		if hist != nil {
			c := 64
			if len(cfg.Clients) > 0 {
				c = slices.Max(cfg.Clients)
			}
			ph := phase{Mode: modeClosed, Clients: c}
			users := len(histPop.Users)
			vl := []leg{
				{t: hist, name: fmt.Sprintf("velocity-closed-%d", c), cards: histPop.byGroup(groupVelocity), users: users},
				{t: hist, name: fmt.Sprintf("control-closed-%d", c), cards: histPop.byGroup(groupControl), users: users},
			}
			if err := r.measure(ctx, ph, vl, round); err != nil {
				return r.rep, err
			}
		}
	}
	r.check(ctx, base, fresh, hist)
	r.closeTargets()
	if err := r.stopServers(); err != nil {
		return r.rep, err
	}
	r.rep.finish(base, fresh, hist)
	return r.rep, nil
}

// measure runs a phase on each leg in turn, starting with a different one
// each round so that drift over the run does not always favour the same.
func (r *runner) measure(ctx context.Context, ph phase, legs []leg, round int) error {
	for i := range legs {
		l := legs[(i+round)%len(legs)]
		ph := ph
		ph.Name, ph.Cards, ph.Users = l.name, l.cards, l.users
		ph.Warmup, ph.Duration, ph.Requests = r.cfg.Warmup, r.cfg.Duration, r.cfg.Requests
		res, err := drive(ctx, l.t, ph)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", ph.Name, l.t.name, err)
		}
		res.Round = round + 1
		r.rep.Results = append(r.rep.Results, res)
		if lc := r.ledgers[l.t]; lc != nil {
			for u, amount := range res.approvedByUser {
				lc.approved[u] += amount
			}
		}
		fmt.Fprintf(r.log, "  %-12s %-20s %8.0f/s  p50 %6.2f ms  p99 %7.2f ms  %d errors, %d declined\n",
			l.t.name, ph.Name, res.Throughput, res.P50Ms, res.P99Ms, res.Errors, res.Declined)
	}
	return nil
}

func (r *runner) startBaseline(ctx context.Context, db string) (*target, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p, url, err := startServer(ctx, "baseline", baselineAddr, exe, "baseline", "--db", db,
		"--accounts", strconv.Itoa(r.cfg.Users))
	if err != nil {
		return nil, err
	}
	r.servers = append(r.servers, p)
	t, err := newTarget("baseline", url, "", p, db)
	if err != nil {
		return nil, err
	}
	r.targets = append(r.targets, t)
	return t, nil
}

// startFresh makes a fresh database with agentledger init, serves it, and
// populates it through the REST API.
func (r *runner) startFresh(ctx context.Context, db string) (*target, error) {
	adminKey, _, err := initDatabase(r.cfg.Bin, db)
	if err != nil {
		return nil, err
	}
	p, url, err := startAgentledger(ctx, "agentledger", r.cfg.Bin, db, r.cfg.ServeFlags)
	if err != nil {
		return nil, err
	}
	r.servers = append(r.servers, p)
	adm := &admin{url: url, key: adminKey, client: newHTTPClient()}
	start := time.Now()
	pop, err := populate(ctx, adm, "lg", r.cfg.Users, r.cfg.Agents)
	if err != nil {
		return nil, fmt.Errorf("populating the fresh database: %w", err)
	}
	key, err := networkKey(ctx, adm)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(r.log, "fresh database: %d users and %d agents with a card each, through the REST API in %s\n",
		len(pop.Users), len(pop.Cards), time.Since(start).Round(time.Millisecond))
	t, err := newTarget("agentledger", url, key, p, db)
	if err != nil {
		return nil, err
	}
	r.targets = append(r.targets, t)
	lc, err := newLedgerCheck(ctx, adm, pop, true, true)
	if err != nil {
		return nil, err
	}
	r.ledgers[t] = lc
	return t, nil
}

// startHistory serves a database made by loadgen seed.
func (r *runner) startHistory(ctx context.Context, db string) (*target, *population, error) {
	m, err := readManifest(db)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Population.index(); err != nil {
		return nil, nil, err
	}
	count, err := countAuthorizations(db)
	if err != nil {
		return nil, nil, err
	}
	p, url, err := startAgentledger(ctx, "agentledger-history", r.cfg.Bin, db, r.cfg.ServeFlags)
	if err != nil {
		return nil, nil, err
	}
	r.servers = append(r.servers, p)
	adm := &admin{url: url, key: m.AdminKey, client: newHTTPClient()}
	key, err := networkKey(ctx, adm)
	if err != nil {
		return nil, nil, err
	}
	t, err := newTarget("history", url, key, p, db)
	if err != nil {
		return nil, nil, err
	}
	r.targets = append(r.targets, t)
	lc, err := newLedgerCheck(ctx, adm, &m.Population, false, r.cfg.VerifyHistory)
	if err != nil {
		return nil, nil, err
	}
	r.ledgers[t] = lc
	info := &historyInfo{DB: db, Authorizations: count, Seeded: m.Authorizations, SeededAt: m.Made,
		SeedSeconds: m.Seconds, OrdinaryCards: len(m.Population.byGroup(groupOrdinary))}
	for _, g := range []string{groupOrdinary, groupVelocity, groupControl} {
		info.Groups = append(info.Groups, fmt.Sprintf("%d %s", len(m.Population.byGroup(g)), g))
	}
	var limited []string
	for _, c := range m.Population.byGroup(groupVelocity) {
		limited = append(limited, c.AgentID)
	}
	used, err := velocityUsed(ctx, adm, limited)
	if err != nil {
		return nil, nil, err
	}
	if len(used) > 0 {
		info.VelocityWindowMin, info.VelocityWindowMax = slices.Min(used), slices.Max(used)
	}
	r.rep.History = info
	fmt.Fprintf(r.log, "history database %s: %d authorizations; velocity-limited agents hold %d–%d spends "+
		"in their window\n", db, count, info.VelocityWindowMin, info.VelocityWindowMax)
	if o := info.OrdinaryCards; o != r.cfg.Agents {
		fmt.Fprintf(r.log, "note: the history has %d ordinary agents, the fresh database %d\n", o, r.cfg.Agents)
	}
	return t, &m.Population, nil
}

// check records, per server, whether the load saw errors or declines, and
// for agentledger whether the ledger agrees with what was approved.
func (r *runner) check(ctx context.Context, targets ...*target) {
	for _, t := range targets {
		if t == nil {
			continue
		}
		var errs, declined int64
		for _, res := range r.rep.Results {
			if res.Target == t.name {
				errs, declined = errs+res.Errors, declined+res.Declined
			}
		}
		c := check{Target: t.name, OK: errs == 0 && (declined == 0 || r.cfg.AllowDeclines),
			Detail: fmt.Sprintf("%d errors, %d declines", errs, declined)}
		if lc := r.ledgers[t]; lc != nil {
			if err := lc.check(ctx); err != nil {
				c.OK, c.Detail = false, c.Detail+"; "+err.Error()
			} else {
				c.Detail += "; " + lc.summary()
			}
		}
		r.rep.Checks = append(r.rep.Checks, c)
	}
}

// closeTargets closes loadgen's own connections to the databases, so that
// each server's close is the last and checkpoints its WAL away.
func (r *runner) closeTargets() {
	for _, t := range r.targets {
		t.close()
	}
	r.targets = nil
}

func (r *runner) stopServers() error {
	var errs []error
	for _, p := range r.servers {
		if err := p.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	r.servers = nil
	return errors.Join(errs...)
}

// countAuthorizations counts a database's authorizations, read-only,
// before a server opens it.
func countAuthorizations(path string) (int64, error) {
	db, err := sql.Open("sqlite", sqliteURI(path, "mode=ro", "_pragma=busy_timeout(5000)"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRow(`SELECT count(*) FROM authorizations`).Scan(&n)
	return n, err
}

// ledgerCheck compares a database's balances after the load with what the
// load saw approved: no user below zero, nothing posted, and every user's
// pending grown by what was approved (exactly, on a fresh database; at most,
// on a history whose old holds may expire meanwhile).
type ledgerCheck struct {
	admin    *admin
	pop      *population
	before   []balance
	approved []int64
	exact    bool
	verify   bool // also verify the whole ledger's invariants
	users    int
}

func newLedgerCheck(ctx context.Context, a *admin, pop *population, exact, verify bool) (*ledgerCheck, error) {
	before, err := balances(ctx, a, pop.Users)
	if err != nil {
		return nil, err
	}
	return &ledgerCheck{admin: a, pop: pop, before: before, approved: make([]int64, len(pop.Users)), exact: exact,
		verify: verify}, nil
}

func (l *ledgerCheck) check(ctx context.Context) error {
	if l.verify {
		if err := verifyLedger(ctx, l.admin); err != nil {
			return err
		}
	}
	after, err := balances(ctx, l.admin, l.pop.Users)
	if err != nil {
		return err
	}
	for i, b := range after {
		grew := b.Pending - l.before[i].Pending
		switch {
		case b.Available < 0:
			return fmt.Errorf("overspend: user %s's available balance is %d", l.pop.Users[i], b.Available)
		case b.Posted != l.before[i].Posted:
			return fmt.Errorf("user %s's posted balance moved from %d to %d", l.pop.Users[i], l.before[i].Posted, b.Posted)
		case l.exact && grew != l.approved[i], grew > l.approved[i]:
			return fmt.Errorf("user %s's pending grew by %d, but %d was approved", l.pop.Users[i], grew, l.approved[i])
		}
	}
	l.users = len(after)
	return nil
}

func (l *ledgerCheck) summary() string {
	how := "exactly"
	if !l.exact {
		how = "at most (old holds may expire)"
	}
	verified := "ledger verified"
	if !l.verify {
		verified = "ledger not verified (--verify-history)"
	}
	return fmt.Sprintf("%s; %d users' pending grew %s by what was approved; none below zero", verified, l.users, how)
}
