package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPruneFromTheCommandLine(t *testing.T) {
	c := newCLI(t) // its clock starts on 2026-03-11
	c.ok("init")
	endpoint := c.id("webhook", "add", "https://ops.example.com/hooks")
	c.ok("user", "create", "acme")
	c.ok("user", "approve", "acme")     // user.approved
	c.ok("webhook", "remove", endpoint) // its pending delivery is cancelled: finished
	c.clock.Advance(10 * 24 * 3600e9)
	out := c.ok("prune", "--before", "2026-03-12")
	assert.Contains(t, out, "Removed 1 event(s), 1 delivery(ies), 0 idempotency record(s), 0 expired OAuth token(s) and 0 unconsented OAuth client(s) from before 2026-03-12T00:00:00Z.")
	assert.Contains(t, c.ok("prune", "--before", "2026-03-12"), "Removed 0 event(s)")
	assert.Contains(t, c.fail(exitError, "prune", "--before", "2026-03-21T11:00:00Z"), "before: must be at least 24h0m0s ago")
	assert.Contains(t, c.fail(exitUsage, "prune", "--before", "last week"), "--before must be a date")
	assert.Contains(t, c.fail(exitUsage, "prune"), `required flag(s) "before" not set`)
	c.ok("ledger", "verify")
}
