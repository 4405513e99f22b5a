package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/require"
)

// BenchmarkPostgres measures authorizations per second on PostgreSQL over
// 1,000 cards of 1,000 agents, serially and with 32 clients, each for the
// -benchtime duration (run with -benchtime 10s, say, not a count), through
// a server with as many connections as clients, beside
// pgbench's built-in TPC-B-like script with as many clients on the same
// server in the same run; %pgbench is the ratio. make bench-postgres runs
// it on a durable throwaway cluster.
func BenchmarkPostgres(b *testing.B) {
	if !pgtest.Available() {
		b.Skip("no PostgreSQL server: set " + pgtest.EnvURL + " (make bench-postgres does)")
	}
	d := benchDuration()
	b.Setenv(sqlitetest.EnvStore, "postgres")
	env := sqlitetest.New(b)
	cards := benchFleet(b, env, 1000, 100)
	for _, clients := range []int{1, 32} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			// A server with a connection for each client, as pgbench has.
			db, err := postgres.Open(context.Background(), env.URL+"&pool_max_conns="+strconv.Itoa(clients),
				postgres.Options{Key: env.Key})
			require.NoError(b, err)
			defer db.Close()
			rate := benchAuthorize(b, engine.New(db, engine.Options{Clock: env.Clock}), cards, clients, d)
			tps := pgbench(b, clients, d)
			b.ReportMetric(rate, "auths/s")
			b.ReportMetric(tps, "pgbench-tps")
			b.ReportMetric(100*rate/tps, "%pgbench")
			b.ReportMetric(0, "ns/op") // the rates are the result, not b.N
		})
	}
	env.Verify()
}

// benchDuration is -benchtime as a duration (10s when it is a count).
func benchDuration() time.Duration {
	if f := flagValue("test.benchtime"); f != "" {
		if d, err := time.ParseDuration(f); err == nil {
			return d
		}
	}
	return 10 * time.Second
}

// benchFleet makes n funded agents with a card each, under users users:
// card i is of user i % users, so that clients taking cards in turn charge
// different users at once.
func benchFleet(b *testing.B, env *sqlitetest.Env, n, users int) []*engine.Card {
	policy := engine.Policy{IntentRequired: sqlitetest.Ptr(false)}
	owners := make([]*engine.User, users)
	for i := range owners {
		owners[i] = env.User(fmt.Sprintf("user-%d", i), engine.MaxAmount/2)
	}
	var cards []*engine.Card
	for i := range n {
		cards = append(cards, env.Card(env.Agent(fmt.Sprintf("agent-%d", i), owners[i%users], policy)))
	}
	return cards
}

// benchAuthorize authorizes on the cards in turn from clients goroutines
// for d, and returns the rate.
func benchAuthorize(b *testing.B, eng *engine.Engine, cards []*engine.Card, clients int, d time.Duration) float64 {
	var next, done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for time.Since(start) < d {
				card := cards[int(next.Add(1))%len(cards)]
				a, err := eng.Authorize(context.Background(), engine.Operator, engine.AuthorizeInput{
					CardID: card.ID, Amount: 100, Currency: "USD", Merchant: engine.Merchant{Name: "Cloud Compute"},
				})
				if err != nil || a.Status != engine.AuthApproved {
					b.Errorf("authorize: %v %+v", err, a)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

// pgbench runs pgbench's TPC-B-like script with clients for d on the
// server of $AGENTLEDGER_PG_URL, in a schema of its own, and returns its
// transactions per second.
func pgbench(b *testing.B, clients int, d time.Duration) float64 {
	bin, err := pgtest.BinDir()
	require.NoError(b, err)
	schema := pgtest.URL(b)
	u, err := url.Parse(schema)
	require.NoError(b, err)
	path := u.Query().Get("search_path")
	base := os.Getenv(pgtest.EnvURL)
	run := func(args ...string) string {
		cmd := exec.Command(filepath.Join(bin, "pgbench"), append(args, base)...)
		cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path="+path)
		out, err := cmd.CombinedOutput()
		require.NoError(b, err, "pgbench %v: %s", args, out)
		return string(out)
	}
	run("-i", "-q", "-s", "10")
	out := run("-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)), "-T", strconv.Itoa(int(d.Seconds())))
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindStringSubmatch(out)
	require.NotNil(b, m, out)
	tps, err := strconv.ParseFloat(m[1], 64)
	require.NoError(b, err)
	return tps
}

// flagValue reads a test flag by name.
func flagValue(name string) string {
	f := flagLookup(name)
	if f == nil {
		return ""
	}
	return f.Value.String()
}

var flagLookup = flag.Lookup
