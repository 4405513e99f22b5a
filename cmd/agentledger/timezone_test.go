package main

import (
	"database/sql"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The organisation's time zone belongs to the database: a stdio server a
// desktop client spawned (no AGENTLEDGER_TZ) and an HTTP server started
// with AGENTLEDGER_TZ=Europe/Berlin key a charge to the same Berlin day, so
// two $100 charges cannot pass a $100 daily limit within it.
func TestTimeZoneIsTheDatabases(t *testing.T) {
	c := newCLI(t)
	var res struct {
		TimeZone string `json:"timezone"`
	}
	c.json(&res, "init", "--timezone", "Europe/Berlin")
	assert.Equal(t, "Europe/Berlin", res.TimeZone)
	c.ok("user", "create", "alice")
	c.ok("user", "approve", "alice")
	c.ok("user", "fund", "alice", "100000")
	c.ok("agent", "create", "buyer", "--user", "alice")
	c.ok("policy", "set", "buyer", "--intent-required=false", "--daily-limit", "10000")
	card := c.id("card", "create", "--agent", "buyer")

	// 23:30 UTC on 1 December is 00:30 on the 2nd in Berlin.
	c.clock.Set(time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC))
	assert.Equal(t, "approved", c.authorize(card, 10_000, "Shop").Status, "a process with no AGENTLEDGER_TZ")
	c.env["AGENTLEDGER_TZ"] = "Europe/Berlin"
	c.clock.Set(time.Date(2026, 12, 2, 0, 30, 0, 0, time.UTC))
	assert.Equal(t, engine.CodeDailyLimitExceeded, c.authorize(card, 10_000, "Shop").DeclineCode, "the same Berlin day")

	// A process whose AGENTLEDGER_TZ disagrees refuses to run.
	c.env["AGENTLEDGER_TZ"] = "UTC"
	msg := c.fail(exitError, "txn", "list")
	assert.Contains(t, msg, "AGENTLEDGER_TZ is UTC but the database's time zone is Europe/Berlin")
	assert.Contains(t, msg, "timezone set UTC")
	c.env["AGENTLEDGER_TZ"] = "Not/AZone"
	assert.Contains(t, c.fail(exitError, "txn", "list"), "AGENTLEDGER_TZ")
	delete(c.env, "AGENTLEDGER_TZ")

	assert.Contains(t, c.ok("timezone"), "Europe/Berlin")
	assert.Contains(t, c.fail(exitError, "init", "--timezone", "UTC"), "already exists with the time zone Europe/Berlin")

	// Back to UTC at 00:30 UTC on the 2nd (01:30 in Berlin): the same day.
	out := c.ok("timezone", "set", "UTC")
	assert.Contains(t, out, "Time zone changed from Europe/Berlin to UTC")
	assert.Contains(t, out, "stays 2026-12-02")
	assert.Equal(t, engine.CodeDailyLimitExceeded, c.authorize(card, 10_000, "Shop").DeclineCode)
	// To Los Angeles, where it is still the 1st: that day again.
	out = c.ok("timezone", "set", "America/Los_Angeles")
	assert.Contains(t, out, "is 2026-12-01 again")
	assert.Contains(t, c.fail(exitError, "timezone", "set", "Local"), "timezone")
	var shown engine.Settings
	c.json(&shown, "timezone")
	assert.Equal(t, "America/Los_Angeles", shown.TimeZone)
	require.NotNil(t, shown.UpdatedAt)

	// A new database takes AGENTLEDGER_TZ when init has no --timezone.
	other := newCLI(t)
	other.env["AGENTLEDGER_TZ"] = "Asia/Tokyo"
	other.json(&res, "init")
	assert.Equal(t, "Asia/Tokyo", res.TimeZone)
}

// A database from before the zone was stored has none chosen: the first
// process to open it records its AGENTLEDGER_TZ and says so, and from then
// on a disagreeing one is refused — except by 'timezone set', which is how
// the disagreement is fixed.
func TestTimeZoneOfAnUpgradedDatabase(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	raw, err := sql.Open("sqlite", "file:"+c.db)
	require.NoError(t, err)
	_, err = raw.Exec(`UPDATE settings SET value = 'UTC', updated_at = 0 WHERE key = 'timezone'`) // as migration 3 leaves it
	require.NoError(t, err)
	require.NoError(t, raw.Close())

	c.env["AGENTLEDGER_TZ"] = "Europe/Berlin"
	_, errOut, code := c.run("user", "list")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, "recorded Europe/Berlin as the database's time zone")
	assert.Contains(t, c.ok("timezone"), "Europe/Berlin", "recorded once, silently after that")

	c.env["AGENTLEDGER_TZ"] = "Asia/Tokyo"
	c.fail(exitError, "user", "list")
	out := c.ok("timezone", "set", "Asia/Tokyo")
	assert.Contains(t, out, "from Europe/Berlin to Asia/Tokyo")
	c.ok("user", "list")
}
