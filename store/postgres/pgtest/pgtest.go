// Package pgtest gives each test a fresh PostgreSQL database of its own, on
// the server named by $AGENTLEDGER_PG_URL (make test starts a throwaway
// cluster and sets it; see package pgcluster). Without a server a test is
// skipped, unless $AGENTLEDGER_PG is 1: then a missing server fails it.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment the tests read.
const (
	EnvURL      = "AGENTLEDGER_PG_URL" // a server on which tests may create databases
	EnvRequired = "AGENTLEDGER_PG"     // "1": no server is a failure, not a skip
)

var (
	counter  atomic.Int64
	template struct {
		once sync.Once
		name string
		err  error
	}
)

// Available reports whether a server is configured.
func Available() bool { return os.Getenv(EnvURL) != "" }

// URL creates an empty database for the test, dropped when it ends, and
// returns its URL. Prepare, when not nil, runs once per test binary on a
// template database every test's database is copied from (migrations, say):
// pass the same function from every caller in a binary.
func URL(t testing.TB, prepare func(url string) error) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv(EnvRequired) == "1" {
			t.Fatalf("%s=1 but %s is not set: no PostgreSQL server to test on (make test starts one)", EnvRequired, EnvURL)
		}
		t.Skipf("no PostgreSQL server: set %s (make test does)", EnvURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmpl := ""
	if prepare != nil {
		template.once.Do(func() {
			template.name = fmt.Sprintf("agentledger_tmpl_%d", os.Getpid())
			template.err = createDatabase(ctx, base, template.name, "")
			if template.err == nil {
				template.err = prepare(withDatabase(base, template.name))
			}
		})
		if template.err != nil {
			t.Fatalf("pgtest: preparing the template database: %v", template.err)
		}
		tmpl = template.name
	}
	name := fmt.Sprintf("agentledger_test_%d_%d", os.Getpid(), counter.Add(1))
	if err := createDatabase(ctx, base, name, tmpl); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec(ctx, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	return withDatabase(base, name)
}

func createDatabase(ctx context.Context, base, name, template string) error {
	q := "CREATE DATABASE " + name
	if template != "" {
		q += " TEMPLATE " + template + " STRATEGY FILE_COPY"
	}
	return exec(ctx, base, q)
}

// templateMu serializes copies of the template: PostgreSQL refuses to copy
// a database another session is connected to, or copying at that moment.
var templateMu sync.Mutex

func exec(ctx context.Context, base, q string) error {
	templateMu.Lock()
	defer templateMu.Unlock()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, q)
	return err
}

// withDatabase is base naming another database.
func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}
