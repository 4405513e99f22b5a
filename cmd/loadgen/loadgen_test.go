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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinaries compiles agentledger and loadgen once per test run.
var buildBinaries = sync.OnceValues(func() ([2]string, error) {
	dir, err := os.MkdirTemp("", "loadgen-bin")
	if err != nil {
		return [2]string{}, err
	}
	binDir = dir
	bins := [2]string{filepath.Join(dir, "agentledger"), filepath.Join(dir, "loadgen")}
	for i, pkg := range []string{"../agentledger", "."} {
		if out, err := exec.Command("go", "build", "-o", bins[i], pkg).CombinedOutput(); err != nil {
			return bins, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return bins, nil
})

// TestSmoke runs loadgen as a user would, against a real serve --http: a
// small seeded history, then every phase on the baseline, a fresh database
// and the history, up to 150 measured requests each.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds agentledger and loadgen")
	}
	bins, err := buildBinaries()
	require.NoError(t, err)
	ledger, loadgen := bins[0], bins[1]
	dir := t.TempDir()
	history := filepath.Join(dir, "history.db")

	seed := exec.Command(loadgen, "seed", "--agentledger", ledger, "--db", history, "--authorizations", "400",
		"--agents", "10", "--users", "3", "--velocity-agents", "2", "--velocity-history", "50", "--days", "2",
		"--recent", "24h", "--workers", "32", "--max-batch", "64")
	out, err := seed.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "seed: 400 authorizations in")
	var m manifest
	b, err := os.ReadFile(manifestPath(history))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Len(t, m.Population.Cards, 14)
	assert.Equal(t, int64(400), m.Counts.Approved+m.Counts.Declined)
	assert.Positive(t, m.Counts.Settled)

	reportFile := filepath.Join(dir, "report.json")
	run := exec.Command(loadgen, "run", "--agentledger", ledger, "--agents", "10", "--users", "3",
		"--clients", "8", "--rates", "400", "--warmup", "100ms", "--duration", "5s", "--requests", "150",
		"--history-db", history, "--verify-history", "--json", reportFile)
	out, err = run.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "Targets:")

	var rep report
	b, err = os.ReadFile(reportFile)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	phases := map[string]bool{}
	for _, res := range rep.Results {
		name := res.Target + " " + res.Phase
		phases[name] = true
		assert.Positive(t, res.Requests, name)
		assert.Equal(t, res.Requests, res.Approved, "%s: every charge approved", name)
		assert.Zero(t, res.Errors+res.Declined+res.Missed, name)
		assert.Positive(t, res.Throughput, name)
		assert.True(t, res.P50Ms > 0 && res.P50Ms <= res.P99Ms && res.P99Ms <= res.P999Ms, "%s: %+v", name, res)
		assert.GreaterOrEqual(t, res.WrittenPerAuth, 0.0, "%s: /proc/PID/io read", name)
		assert.GreaterOrEqual(t, res.KeptPerAuth, 0.0, name)
		assert.Positive(t, res.CPUPerAuthUs, name)
		assert.GreaterOrEqual(t, res.ClientCPUUs, 0.0, "%s: /proc/self/stat read", name)
	}
	for _, want := range []string{"baseline closed-8", "agentledger closed-8", "history closed-8", "baseline open-400",
		"agentledger open-400", "history open-400", "history velocity-closed-8", "history control-closed-8"} {
		assert.True(t, phases[want], "phase %s ran", want)
	}
	require.Len(t, rep.Checks, 3)
	for _, c := range rep.Checks {
		assert.True(t, c.OK, "%s: %s", c.Target, c.Detail)
	}
	assert.Contains(t, rep.Checks[1].Detail, "ledger verified; 3 users' pending grew exactly by what was approved")
	assert.Contains(t, rep.Checks[2].Detail, "ledger verified; 3 users' pending grew at most")
	var compared []string
	for _, c := range rep.Comparisons {
		compared = append(compared, c.What)
		assert.Positive(t, c.Value, c.What)
	}
	joined := strings.Join(compared, "\n")
	for _, want := range []string{"agentledger ÷ baseline", "with history ÷ fresh", "velocity-limited agents ÷"} {
		assert.Contains(t, joined, want)
	}
	require.NotNil(t, rep.History)
	assert.GreaterOrEqual(t, rep.History.Authorizations, int64(400))
	assert.Positive(t, rep.History.VelocityWindowMin)
	for _, w := range rep.Whole {
		assert.Positive(t, w.KeptPerAuth, w.Target)
	}
}
