// Package pgtest gives each test a fresh, empty PostgreSQL schema of its
// own, on the server and database named by $AGENTLEDGER_PG_URL (make test
// starts a throwaway cluster and sets it; see package pgcluster). The URL
// it returns selects the schema through search_path, so every connection
// made with it, by the test or by a process it starts, works in the schema.
// Without a server a test is skipped, unless $AGENTLEDGER_PG is 1: then a
// missing server fails it.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The environment the tests read.
const (
	EnvURL      = "AGENTLEDGER_PG_URL" // a database in which tests may create schemas
	EnvRequired = "AGENTLEDGER_PG"     // "1": no server is a failure, not a skip
)

var counter atomic.Int64

// Available reports whether a server is configured.
func Available() bool { return os.Getenv(EnvURL) != "" }

// URL creates an empty schema for the test, dropped with everything in it
// when the test ends, and returns the URL that works in it.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		if os.Getenv(EnvRequired) == "1" {
			t.Fatalf("%s=1 but %s is not set: no PostgreSQL server to test on (make test starts one)", EnvRequired, EnvURL)
		}
		t.Skipf("no PostgreSQL server: set %s (make test does)", EnvURL)
	}
	name := fmt.Sprintf("agentledger_test_%d_%d", os.Getpid(), counter.Add(1))
	if err := exec(base, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

func exec(base, q string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, q)
	return err
}

// BinDir finds PostgreSQL's programs (initdb, pg_ctl, pgbench): in
// $AGENTLEDGER_PG_BIN, else on $PATH, else in the newest
// /usr/lib/postgresql/*/bin (Debian's).
func BinDir() (string, error) {
	if dir := os.Getenv("AGENTLEDGER_PG_BIN"); dir != "" {
		return dir, nil
	}
	if path, err := osexec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real // a link on $PATH to the server's folder, where pgbench is too
		}
		return filepath.Dir(path), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server programs (initdb, pg_ctl): install postgresql or set AGENTLEDGER_PG_BIN")
}

func majorOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}
