package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newPostgresProc is newProc on a fresh PostgreSQL database, every process
// sharing one store key through $AGENTLEDGER_KEY, as the servers of a team
// would.
func newPostgresProc(t *testing.T) *proc {
	p := newProc(t)
	p.db = pgtest.URL(t)
	p.key = seal.EncodeKey(seal.GenerateKey())
	return p
}

// netAnswer is what POST /v1/network/authorize answers.
type netAnswer struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	DeclineCode string `json:"decline_code"`
}

// authorizeOn sends one authorization to a server and returns its answer;
// ok is false when the server gave none (it is down, or failed).
func authorizeOn(client *http.Client, base, networkKey, cardID string, amount int64, merchant string) (netAnswer, bool, error) {
	body := fmt.Sprintf(`{"card_id":%q,"amount":%d,"currency":"USD","merchant":{"name":%q}}`, cardID, amount, merchant)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/network/authorize", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+networkKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return netAnswer{}, false, nil // no answer: not acknowledged
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return netAnswer{}, false, fmt.Errorf("%d: %s", res.StatusCode, raw)
	}
	var a netAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return netAnswer{}, false, err
	}
	return a, true, nil
}

// Three servers on one PostgreSQL database: 1,200 concurrent $1.00
// authorizations spread over them, against a $100.00 daily limit and,
// separately, against $100.00 of funds, approve exactly 100, run after run.
func TestThreeServersOnOnePostgresNeverOverspend(t *testing.T) {
	p := newPostgresProc(t)
	var ignored any
	p.json(&ignored, "init")
	var network struct{ Key string }
	p.json(&network, "key", "create", "--network")
	var servers []*httpProc
	for range 3 {
		servers = append(servers, p.serveHTTP(t))
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}, Timeout: time.Minute}

	const runs, attempts, amount = 10, 1200, 100
	for run := range runs {
		for _, against := range []string{"limit", "funds"} {
			user, agent := fmt.Sprintf("%s-user-%d", against, run), fmt.Sprintf("%s-agent-%d", against, run)
			funds, policy := "1000000", []string{"--intent-required=false", "--daily-limit", "10000"}
			want := engine.CodeDailyLimitExceeded
			if against == "funds" {
				funds, policy, want = "10000", []string{"--intent-required=false"}, engine.CodeInsufficientFunds
			}
			p.json(&ignored, "user", "create", user)
			p.json(&ignored, "user", "approve", user)
			p.json(&ignored, "user", "fund", user, funds)
			p.json(&ignored, "agent", "create", agent, "--user", user)
			p.json(&ignored, append([]string{"policy", "set", agent}, policy...)...)
			var card engine.Card
			p.json(&card, "card", "create", "--agent", agent)

			var mu sync.Mutex
			results := map[string]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range attempts {
				wg.Go(func() {
					<-start
					a, ok, err := authorizeOn(client, servers[i%len(servers)].url, network.Key, card.ID, amount, "Vending")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err != nil:
						results["error: "+err.Error()]++
					case !ok:
						results["no answer"]++
					default:
						results[a.Status+" "+a.DeclineCode]++
					}
				})
			}
			close(start)
			wg.Wait()
			require.Equal(t, map[string]int{"approved ": 100, "declined " + want: attempts - 100}, results,
				"run %d against the %s", run, against)
		}
	}
	var report engine.LedgerReport
	p.json(&report, "ledger", "verify")
	assert.True(t, report.OK, "%v", report.Faults)
}

// kill -9 of one of three servers during load loses no decision it had
// acknowledged: every approval and decline answered is in the database,
// as answered, and the ledger verifies.
func TestKillingAPostgresServerLosesNoAcknowledgedDecision(t *testing.T) {
	p := newPostgresProc(t)
	p.fundedBuyer()
	var ignored any
	p.json(&ignored, "policy", "set", "buyer", "--intent-required=false", "--daily-limit", "50000")
	var card engine.Card
	p.json(&card, "card", "create", "--agent", "buyer")
	var network struct{ Key string }
	p.json(&network, "key", "create", "--network")
	var servers []*httpProc
	for range 3 {
		servers = append(servers, p.serveHTTP(t))
	}
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 16}, Timeout: time.Minute}

	var mu sync.Mutex
	acked := map[string]string{} // id → status
	perServer := make([]int, len(servers))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := (w + i) % len(servers)
				a, ok, err := authorizeOn(client, servers[s].url, network.Key, card.ID, int64(50+w), fmt.Sprintf("Shop %d", i))
				if err != nil || !ok {
					continue // the killed server's requests: not acknowledged
				}
				mu.Lock()
				acked[a.ID] = a.Status
				perServer[s]++
				mu.Unlock()
			}
		})
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for count() < n {
			require.True(t, time.Now().Before(deadline), "the load stalled at %d decisions", count())
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(300)
	require.NoError(t, servers[0].cmd.Process.Signal(syscall.SIGKILL))
	killedAt := count()
	waitFor(killedAt + 300)
	close(stop)
	wg.Wait()

	conn, err := pgx.Connect(context.Background(), p.db)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT id, status FROM authorizations`)
	require.NoError(t, err)
	stored := map[string]string{}
	for rows.Next() {
		var id, status string
		require.NoError(t, rows.Scan(&id, &status))
		stored[id] = status
	}
	require.NoError(t, rows.Err())
	lost := 0
	for id, status := range acked {
		if stored[id] != status {
			lost++
			t.Errorf("acknowledged %s %s, stored %q", id, status, stored[id])
		}
	}
	assert.Zero(t, lost)
	t.Logf("%d decisions acknowledged (%v by server), %d before the kill; %d stored; %d lost",
		len(acked), perServer, killedAt, len(stored), lost)
	var report engine.LedgerReport
	p.json(&report, "ledger", "verify")
	assert.True(t, report.OK, "%v", report.Faults)
}

// The CLI on a postgres:// --db: init creates the schema and the first admin
// key once, a second server's other key is refused, and backup and restore
// point to PostgreSQL's own tools.
func TestCLIOnPostgres(t *testing.T) {
	p := newPostgresProc(t)
	_, errOut, err := p.run("user", "list")
	require.Error(t, err, "a command other than init does not create the schema")
	assert.Contains(t, errOut, "no agentledger database at")
	assert.Contains(t, errOut, "run 'agentledger init' first")

	var first struct {
		Database string `json:"database"`
		AdminKey *struct {
			Secret string `json:"secret"`
		} `json:"admin_key"`
	}
	p.json(&first, "init")
	assert.Equal(t, p.db, first.Database)
	require.NotNil(t, first.AdminKey, "a new database gets its first admin key")
	var again struct {
		AdminKey *struct{} `json:"admin_key"`
	}
	p.json(&again, "init")
	assert.Nil(t, again.AdminKey, "init on an initialized database changes nothing")

	other := *p
	other.key = seal.EncodeKey(seal.GenerateKey())
	_, errOut, err = other.run("user", "list")
	require.Error(t, err)
	assert.Contains(t, errOut, "every server on one database needs the same key")

	// init on the existing database with no key anywhere makes no new key.
	keyFile := filepath.Join(t.TempDir(), "agentledger.key")
	nokey := *p
	nokey.key = ""
	_, errOut, err = nokey.run("init", "--key-file", keyFile)
	require.Error(t, err)
	assert.Contains(t, errOut, "exists but its key file")
	assert.NoFileExists(t, keyFile)

	// A password in the URL, as userinfo or a parameter, is never printed.
	withPassword := *p
	withPassword.db = strings.Replace(p.db, "postgres@", "postgres:Hunter2pw@", 1) + "&password=Hunter2pw"
	out, errOut, err := withPassword.run("init", "--json")
	require.NoError(t, err, errOut)
	assert.NotContains(t, out+errOut, "Hunter2pw")
	assert.Contains(t, out, `"database": "`+p.db+`"`, "shown without the password")
	_, errOut, err = withPassword.run("init", "--timezone", "Asia/Tokyo")
	require.Error(t, err)
	assert.NotContains(t, errOut, "Hunter2pw")

	for _, args := range [][]string{{"backup", "/tmp/x.db"}, {"restore", "/tmp/x.db"}} {
		_, errOut, err := p.run(args...)
		require.Error(t, err, args)
		assert.Contains(t, errOut, "pg_dump", args)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"agentledger.db":                        "agentledger.db",
		"/var/lib/agentledger/ledger.db":        "/var/lib/agentledger/ledger.db",
		"postgres://ada@db:5432/ledger?a=1&b=2": "'postgres://ada@db:5432/ledger?a=1&b=2'",
		"it's.db":                               `'it'\''s.db'`,
		"":                                      "''",
	} {
		assert.Equal(t, want, shellQuote(in), in)
	}
}
