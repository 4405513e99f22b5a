package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binDir holds the binary built for this test run.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinary compiles agentledger once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "agentledger-bin")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "agentledger")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc runs the built binary against one database: a file, or a
// PostgreSQL URL with the store key in key (empty: the key file).
type proc struct {
	t   *testing.T
	bin string
	db  string
	key string
}

func newProc(t *testing.T) *proc {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := buildBinary()
	require.NoError(t, err)
	return &proc{t: t, bin: bin, db: filepath.Join(t.TempDir(), "ledger.db")}
}

// fundedBuyer initializes the database with the user acme (KYC approved,
// funded with $1,000.00) and its agent buyer.
func (p *proc) fundedBuyer() {
	p.t.Helper()
	var ignored any
	p.json(&ignored, "init")
	p.json(&ignored, "user", "create", "acme")
	p.json(&ignored, "user", "approve", "acme")
	p.json(&ignored, "user", "fund", "acme", "100000")
	p.json(&ignored, "agent", "create", "buyer", "--user", "acme")
}

func (p *proc) run(args ...string) (string, string, error) {
	cmd := exec.Command(p.bin, args...)
	cmd.Env = append(os.Environ(), "AGENTLEDGER_DB="+p.db, "AGENTLEDGER_KEY="+p.key)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func (p *proc) json(v any, args ...string) {
	p.t.Helper()
	out, errOut, err := p.run(append(args, "--json")...)
	require.NoError(p.t, err, "agentledger %s: %s", strings.Join(args, " "), errOut)
	require.NoError(p.t, json.Unmarshal([]byte(out), v), out)
}

// Two CLI processes work on one database file at once: every command
// succeeds, and the limit holds across them.
func TestTwoProcessesOnOneDatabase(t *testing.T) {
	p := newProc(t)
	var ignored any
	p.json(&ignored, "init")
	p.json(&ignored, "user", "create", "alice")
	p.json(&ignored, "user", "approve", "alice")
	p.json(&ignored, "user", "fund", "alice", "1000000")
	p.json(&ignored, "agent", "create", "shopper", "--user", "alice")
	p.json(&ignored, "policy", "set", "shopper", "--intent-required=false", "--daily-limit", "3000")
	var card engine.Card
	p.json(&card, "card", "create", "--agent", "shopper")

	const perLane = 25
	var wg sync.WaitGroup
	results := make([][]string, 2)
	errs := make([][]error, 2)
	for lane := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perLane {
				// One lane charges; the other charges and funds in turn, so
				// that both processes write all the time.
				if lane == 1 && i%5 == 0 {
					_, _, err := p.run("user", "fund", "alice", "100")
					errs[lane] = append(errs[lane], err)
				}
				out, errOut, err := p.run("network", "authorize", card.ID, "--amount", "100", "--merchant", "Vending", "--json")
				if err != nil {
					errs[lane] = append(errs[lane], fmt.Errorf("%v: %s", err, errOut))
					continue
				}
				var a struct {
					Status      string `json:"status"`
					DeclineCode string `json:"decline_code"`
				}
				if err := json.Unmarshal([]byte(out), &a); err != nil {
					errs[lane] = append(errs[lane], err)
					continue
				}
				results[lane] = append(results[lane], a.Status+" "+a.DeclineCode)
			}
		}()
	}
	wg.Wait()
	approved, declined := 0, 0
	for lane := range 2 {
		for _, err := range errs[lane] {
			assert.NoError(t, err)
		}
		for _, r := range results[lane] {
			switch r {
			case "approved ":
				approved++
			case "declined " + engine.CodeDailyLimitExceeded:
				declined++
			default:
				t.Errorf("unexpected result %q", r)
			}
		}
	}
	assert.Equal(t, 30, approved, "the $30.00 daily limit holds across processes")
	assert.Equal(t, 2*perLane-30, declined)

	var bal engine.Balance
	p.json(&bal, "ledger", "balance", "alice")
	assert.Equal(t, int64(1_000_000+5*100-3000), bal.Available)
	var report engine.LedgerReport
	p.json(&report, "ledger", "verify")
	assert.True(t, report.OK, "%v", report.Faults)

	// A failing process exits non-zero with one line on stderr.
	_, errOut, err := p.run("network", "authorize", card.ID, "--amount", "1.5", "--merchant", "x")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, exitUsage, exit.ExitCode())
	assert.Equal(t, 1, strings.Count(errOut, "\n"))
}
