package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The dashboard's browser tests: testdata/e2e/dashboard.mjs drives Debian's
// Chromium (apt-get install chromium; .ci/run installs it) with
// playwright-core from npm, headless, against serve --http, while an agent
// works over MCP. Like the other e2e tests they skip when the tools are
// missing, unless AGENTLEDGER_E2E=1 (make test), which makes that a failure.
//
// The screenshots go to a temporary directory; with
// AGENTLEDGER_SCREENSHOTS=1 (make screenshots) they replace the committed
// ones in examples/screenshots.

// chromiumPath is the browser the tests drive: $CHROMIUM or Debian's.
func chromiumPath(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	_, err := os.Stat(bin)
	if err == nil {
		_, err = os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json"))
	}
	if err != nil {
		if os.Getenv("AGENTLEDGER_E2E") == "1" {
			t.Fatalf("the browser tests need Chromium (apt-get install chromium) and playwright-core (make e2e-deps): %v", err)
		}
		t.Skip("Chromium or playwright-core not installed; make test needs them")
	}
	return bin
}

func TestDashboardInABrowser(t *testing.T) {
	nodeBin := node(t)
	chromium := chromiumPath(t)
	p := newProc(t)
	p.fundedBuyer()
	var ignored any
	p.json(&ignored, "policy", "set", "buyer", "--approval-threshold", "10000")
	var agent, admin, viewer struct{ Key string }
	p.json(&agent, "key", "create", "--agent", "buyer")
	p.json(&admin, "key", "create", "--admin")
	p.json(&viewer, "key", "create", "--viewer")
	srv := p.serveHTTP(t)

	shots := t.TempDir()
	if os.Getenv("AGENTLEDGER_SCREENSHOTS") == "1" {
		var err error
		shots, err = filepath.Abs(filepath.Join("..", "..", "examples", "screenshots"))
		require.NoError(t, err)
	}
	cmd := exec.Command(nodeBin, "dashboard.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "AGENTLEDGER_URL="+srv.url, "ADMIN_KEY="+admin.Key, "VIEWER_KEY="+viewer.Key,
		"AGENT_KEY="+agent.Key, "CHROMIUM="+chromium, "SCREENSHOTS="+shots)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	start := time.Now()
	select {
	case err := <-done:
		require.NoError(t, err, "dashboard.mjs failed:\n%s%s\nserver log:\n%s", stderr.String(), stdout.String(), srv.log())
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("dashboard.mjs timed out:\n%s%s\nserver log:\n%s", stderr.String(), stdout.String(), srv.log())
	}
	t.Logf("dashboard.mjs took %s", time.Since(start).Round(time.Millisecond))

	var run struct{ Flows map[string][]string }
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &run), stdout.String())
	for _, flow := range []string{"signin", "approvals", "policyAndCards"} {
		require.NotEmpty(t, run.Flows[flow], "the %s flow ran", flow)
	}
	for flow, steps := range run.Flows {
		t.Logf("%s: %d steps passed", flow, len(steps))
	}
	for _, name := range []string{"overview.png", "approvals.png", "approvals-phone.png", "transaction.png"} {
		fi, err := os.Stat(filepath.Join(shots, name))
		require.NoError(t, err, "the screenshot %s", name)
		require.NotZero(t, fi.Size(), name)
	}
	srv.stop(t)
}
