package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Lists read a page at a time: --limit 0 prints every object across
// several pages, a limit ends with the --after that continues, and JSON
// stays one array.
func TestListsPage(t *testing.T) {
	c := newCLI(t)
	var ignored any
	c.json(&ignored, "init")
	const n = engine.MaxPageLimit + 30 // more than a page
	for i := range n {
		c.json(&ignored, "user", "create", fmt.Sprintf("user-%03d", i))
	}

	var all []engine.User
	c.json(&all, "user", "list", "--limit", "0")
	require.Len(t, all, n, "every user, across pages")
	for i, u := range all {
		assert.Equal(t, fmt.Sprintf("user-%03d", i), u.Name, "oldest first, none twice")
	}
	text := c.ok("user", "list")
	assert.Equal(t, n+1, strings.Count(text, "\n"), "a header and a line each, nothing more")

	first := c.ok("user", "list", "--limit", "101")
	lines := strings.Split(strings.TrimSpace(first), "\n")
	assert.Equal(t, 1+101+1, len(lines), "header, 101 users, and how to go on")
	assert.Equal(t, "(more: add --after "+all[100].ID+")", lines[len(lines)-1])

	var rest []engine.User
	c.json(&rest, "user", "list", "--after", all[100].ID)
	require.Len(t, rest, n-101)
	assert.Equal(t, all[101].ID, rest[0].ID)

	var none []engine.User
	c.json(&none, "user", "list", "--after", all[n-1].ID)
	assert.Empty(t, none)
	assert.Equal(t, "[]\n", c.ok("user", "list", "--after", all[n-1].ID, "--json"))
	assert.True(t, json.Valid([]byte(c.ok("user", "list", "--limit", "3", "--json"))))

	assert.Contains(t, c.fail(exitUsage, "user", "list", "--limit", "-1"), "--limit")
	assert.Contains(t, c.fail(exitError, "user", "list", "--after", "agt_nope"), "starting_after")
}
