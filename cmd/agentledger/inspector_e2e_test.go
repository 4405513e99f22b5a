package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// inspectorCLI is the MCP Inspector's command-line client, under e2eDir.
const inspectorCLI = "node_modules/@modelcontextprotocol/inspector/clients/cli/build/index.js"

// inspectorToolsList runs the Inspector's CLI against `serve --stdio` with
// key: tools/list with its schema lint in full (--strict). It returns the
// tools listed and what the Inspector wrote on stderr, where findings go.
// (--strict exits non-zero only for error-severity findings, so warnings
// are read from the output.)
func inspectorToolsList(t *testing.T, nodeBin string, p *proc, key string) (
	tools []map[string]any, findings any, stderr string) {
	t.Helper()
	cmd := exec.Command(nodeBin, inspectorCLI, "-e", "LEDGER_API_KEY="+key,
		p.bin, "serve", "--stdio", "--db", p.db, "--method", "tools/list", "--strict", "--format", "json")
	cmd.Dir = e2eDir
	// Its own HOME: the Inspector keeps a catalog there.
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		require.NoError(t, err, "inspector: %s", errOut.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the inspector timed out: %s", errOut.String())
	}
	var envelope struct {
		Result struct {
			Tools []map[string]any `json:"tools"`
		} `json:"result"`
		SchemaFindings any `json:"schemaFindings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out.String()), &envelope), out.String())
	return envelope.Result.Tools, envelope.SchemaFindings, errOut.String()
}

// The MCP Inspector's strict schema lint finds nothing to warn about in the
// tools an agent key or an admin key is shown; only the admin key is
// offered agent_id.
func TestInspectorFindsToolSchemasPortable(t *testing.T) {
	nodeBin := node(t)
	if _, err := os.Stat(filepath.Join(e2eDir, inspectorCLI)); err != nil {
		require.NotEqual(t, "1", os.Getenv("AGENTLEDGER_E2E"), "the MCP Inspector is not installed: run make test")
		t.Skip("the MCP Inspector is not installed; make test installs it")
	}
	p := newProc(t)
	var q struct {
		Key struct{ Key string }
	}
	p.json(&q, "quickstart")
	var admin struct{ Key string }
	p.json(&admin, "key", "create", "--admin")

	for _, tc := range []struct{ role, key string }{{"agent", q.Key.Key}, {"admin", admin.Key}} {
		t.Run(tc.role, func(t *testing.T) {
			tools, findings, stderr := inspectorToolsList(t, nodeBin, p, tc.key)
			require.Len(t, tools, 3, stderr)
			var flagged []string // the paths the Inspector names, if any
			for _, line := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(strings.TrimSpace(line), "Path:") {
					flagged = append(flagged, strings.TrimSpace(line))
				}
			}
			assert.Empty(t, flagged, "the Inspector's --strict findings")
			assert.Empty(t, regexp.MustCompile(`\d+ errors?, \d+ warnings? across.*`).FindString(stderr), "its summary")
			assert.True(t, findings == nil, "no schemaFindings in the Inspector's JSON output")
			for _, tool := range tools {
				props, _ := tool["inputSchema"].(map[string]any)["properties"].(map[string]any)
				_, offered := props["agent_id"]
				assert.Equal(t, tc.role == "admin", offered, "%s: agent_id offered", tool["name"])
			}
		})
	}
}
