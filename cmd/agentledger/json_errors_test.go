package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Under --json an error is JSON on stderr, with the exit code it has
// without --json and nothing on stdout.
func TestErrorsUnderJSONAreJSON(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "alice")
	// A database file SQLite cannot read, with a good key beside it.
	broken := filepath.Join(c.dir, "broken.db")
	require.NoError(t, os.WriteFile(broken, []byte(strings.Repeat("not a database ", 512)), 0o600))
	key, err := os.ReadFile(filepath.Join(c.dir, "ledger.key"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(c.dir, "broken.key"), key, 0o600))
	tests := []struct {
		name      string
		args      []string
		wantExit  int
		wantCode  string
		wantField string
		wantMsg   string
	}{
		{name: "unknown command, --json first", args: []string{"--json", "bogus"},
			wantExit: exitUsage, wantCode: "USAGE", wantMsg: `unknown command "bogus"`},
		{name: "unknown command, --json last", args: []string{"bogus", "--json"},
			wantExit: exitUsage, wantCode: "USAGE", wantMsg: `unknown command "bogus"`},
		{name: "unknown flag before --json", args: []string{"user", "list", "--bogus", "--json=true"},
			wantExit: exitUsage, wantCode: "USAGE", wantMsg: "unknown flag: --bogus"},
		{name: "wrong number of arguments", args: []string{"user", "show", "--json"},
			wantExit: exitUsage, wantCode: "USAGE", wantMsg: "accepts 1 arg(s), received 0"},
		{name: "a bad amount is a usage error", args: []string{"user", "fund", "alice", "12.50", "--json"},
			wantExit: exitUsage, wantCode: "USAGE", wantMsg: "AMOUNT:"},
		{name: "not found", args: []string{"user", "show", "nobody", "--json"},
			wantExit: exitError, wantCode: "NOT_FOUND", wantField: "user", wantMsg: `"nobody" not found`},
		{name: "invalid input names its field",
			args:     []string{"user", "fund", "alice", "100", "--currency", "XYZ", "--json"},
			wantExit: exitError, wantCode: "INVALID_INPUT", wantField: "currency", wantMsg: `unknown currency "XYZ"`},
		{name: "internal error shows its cause", args: []string{"--db", broken, "user", "list", "--json"},
			wantExit: exitError, wantCode: "INTERNAL", wantMsg: "not a database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := c.run(tt.args...)
			assert.Equal(t, tt.wantExit, code)
			assert.Empty(t, stdout)
			var got map[string]map[string]string
			require.NoError(t, json.Unmarshal([]byte(stderr), &got), "stderr: %s", stderr)
			require.Contains(t, got, "error")
			e := got["error"]
			assert.Equal(t, tt.wantCode, e["code"])
			assert.Contains(t, e["message"], tt.wantMsg)
			if tt.wantField == "" {
				assert.NotContains(t, e, "field", "field is omitted when there is none")
			} else {
				assert.Equal(t, tt.wantField, e["field"])
			}
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one JSON line: %q", stderr)
		})
	}
}

func TestJSONRequested(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"user", "list"}, false},
		{[]string{"--json", "bogus"}, true},
		{[]string{"bogus", "--json"}, true},
		{[]string{"user", "list", "--json=true"}, true},
		{[]string{"user", "list", "--json=false"}, false},
		{[]string{"--json=false", "user", "list", "--json"}, true},
		{[]string{"--json", "user", "list", "--json=0"}, false},
		{[]string{"intent", "declare", "--", "--json"}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, jsonRequested(tt.args), "%q", tt.args)
	}
}
