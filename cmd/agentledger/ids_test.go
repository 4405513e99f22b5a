package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShortIDs(t *testing.T) {
	tests := []struct {
		name string
		rows [][]string
		want map[string]string // whole id → as shown
	}{
		{
			name: "ids of different milliseconds show their timestamp",
			rows: [][]string{
				{"txn_01a203f7-6f07-7000-8000-000000000001"},
				{"txn_01a203f7-6f1b-7000-8000-000000000001"},
			},
			want: map[string]string{
				"txn_01a203f7-6f07-7000-8000-000000000001": "txn_01a203f7-6f07-…",
				"txn_01a203f7-6f1b-7000-8000-000000000001": "txn_01a203f7-6f1b-…",
			},
		},
		{
			name: "one process in one millisecond: its counter tells them apart",
			rows: [][]string{
				{"txn_01a203f7-6f1b-7000-8aaa-000000000001"},
				{"txn_01a203f7-6f1b-7001-8bbb-000000000002"},
				{"txn_01a203f7-6f07-7000-8ccc-000000000003"},
			},
			want: map[string]string{
				"txn_01a203f7-6f1b-7000-8aaa-000000000001": "txn_01a203f7-6f1b-7000…",
				"txn_01a203f7-6f1b-7001-8bbb-000000000002": "txn_01a203f7-6f1b-7001…",
				"txn_01a203f7-6f07-7000-8ccc-000000000003": "txn_01a203f7-6f07-7000…",
			},
		},
		{
			name: "two processes in one millisecond: the random bits tell them apart",
			rows: [][]string{
				{"txn_01a203f7-6f1b-7000-8a3c-000000000001"},
				{"txn_01a203f7-6f1b-7000-8a5d-000000000002"},
			},
			want: map[string]string{
				"txn_01a203f7-6f1b-7000-8a3c-000000000001": "txn_01a203f7-6f1b-7000-8a3…",
				"txn_01a203f7-6f1b-7000-8a5d-000000000002": "txn_01a203f7-6f1b-7000-8a5…",
			},
		},
		{
			name: "ids that differ only at the end are shown whole",
			rows: [][]string{
				{"int_01a203f7-6f1b-7000-8a3c-000000000001"},
				{"int_01a203f7-6f1b-7000-8a3c-000000000002"},
			},
			want: map[string]string{
				"int_01a203f7-6f1b-7000-8a3c-000000000001": "int_01a203f7-6f1b-7000-8a3c-000000000001",
				"int_01a203f7-6f1b-7000-8a3c-000000000002": "int_01a203f7-6f1b-7000-8a3c-000000000002",
			},
		},
		{
			name: "the same id on several rows is no collision, and kinds are shortened apart",
			rows: [][]string{
				{"txn_01a203f7-6f07-7000-8000-000000000001", "card_01a203f7-6e85-7000-8000-000000000001"},
				{"txn_01a203f7-6f1b-7000-8000-000000000001", "card_01a203f7-6e85-7000-8000-000000000001"},
				{"txn_01a203f7-6f2c-7000-8000-000000000001", "card_01a203f7-6e85-7001-8000-000000000001"},
			},
			want: map[string]string{
				"txn_01a203f7-6f07-7000-8000-000000000001":  "txn_01a203f7-6f07-…",
				"txn_01a203f7-6f1b-7000-8000-000000000001":  "txn_01a203f7-6f1b-…",
				"txn_01a203f7-6f2c-7000-8000-000000000001":  "txn_01a203f7-6f2c-…",
				"card_01a203f7-6e85-7000-8000-000000000001": "card_01a203f7-6e85-7000…",
				"card_01a203f7-6e85-7001-8000-000000000001": "card_01a203f7-6e85-7001…",
			},
		},
		{
			name: "cells that are not whole ids are left alone",
			rows: [][]string{{
				"ID", "alice", "—", "al_3f9c1a2b…", "txn_", "txn_not-a-uuid",
				"Txn_01a203f7-6f07-7000-8000-000000000001",
				"txn_01a203f76f0770008000000000000001", "intent int_01a203f7-6f07-7000-8000-000000000001 matched",
				"iauth_1234", "_01a203f7-6f07-7000-8000-000000000001",
			}},
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, shortIDs(tt.rows))
		})
	}
}

var (
	wholeID = regexp.MustCompile(`[a-z]+_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	shownID = regexp.MustCompile(`[a-z]+_[0-9a-f]{8}-[0-9a-f]{4}[0-9a-f-]*…?`)
)

// checkShortIDs asserts that every id a table shows is the start of exactly
// one of the whole ids its --json form prints, and that the ids of one kind
// are shown at one length: the least that tells them apart, and at least
// through their timestamp.
func checkShortIDs(t *testing.T, table, jsonOut string) {
	t.Helper()
	whole := wholeID.FindAllString(jsonOut, -1)
	require.NotEmpty(t, whole, "--json prints whole ids: %s", jsonOut)
	shown := shownID.FindAllString(table, -1)
	require.NotEmpty(t, shown, table)
	byKind := map[string][]string{} // id prefix → the whole ids shown
	lengths := map[string]int{}     // id prefix → how much of the UUID is shown
	meant := map[string]string{}    // whole id → how it is shown
	for _, s := range shown {
		var matches []string
		for _, w := range whole {
			if strings.HasPrefix(w, strings.TrimSuffix(s, "…")) && !slices.Contains(matches, w) {
				matches = append(matches, w)
			}
		}
		require.Len(t, matches, 1, "%s is the start of exactly one id of the list", s)
		w := matches[0]
		if prev, ok := meant[w]; ok {
			assert.Equal(t, prev, s, "an id is shown one way in a table")
			continue
		}
		meant[w] = s
		prefix := w[:strings.IndexByte(w, '_')+1]
		n := len(strings.TrimSuffix(s, "…")) - len(prefix)
		if l, ok := lengths[prefix]; ok {
			assert.Equal(t, l, n, "%s: ids of one kind are shown at one length", s)
		}
		lengths[prefix] = n
		byKind[prefix] = append(byKind[prefix], w)
	}
	for prefix, n := range lengths {
		assert.GreaterOrEqual(t, n, shortIDLen, "%s ids show their timestamp", prefix)
		if n > shortIDLen {
			assert.True(t, collide(byKind[prefix], len(prefix)+n-1),
				"%s ids are shown no longer than it takes to tell them apart: %d characters of %q",
				prefix, n, byKind[prefix])
		}
	}
}

// collide reports whether two of ids share their first n characters.
func collide(ids []string, n int) bool {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id[:n]] {
			return true
		}
		seen[id[:n]] = true
	}
	return false
}

func maxWidth(s string) int {
	w := 0
	for _, line := range strings.Split(s, "\n") {
		w = max(w, utf8.RuneCountInString(line))
	}
	return w
}

// Authorizations decided by one server in one millisecond share the start a
// table shows by default (their timestamp); the table tells them apart and
// stays narrow, while --json and txn show keep whole ids.
func TestTxnListShortensIDsMadeInOneMillisecond(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "alice")
	c.ok("user", "approve", "alice")
	c.ok("user", "fund", "alice", "1000000")
	c.ok("agent", "create", "shopper", "--user", "alice")
	c.ok("policy", "set", "shopper", "--intent-required=false")
	card := c.id("card", "create", "--agent", "shopper")

	key, err := sqlite.ReadKeyFile(filepath.Join(c.dir, "ledger.key"))
	require.NoError(t, err)
	db, err := sqlite.Open(c.db, sqlite.Options{Key: key})
	require.NoError(t, err)
	e := engine.New(db, engine.Options{Clock: engine.NewManualClock(c.clock.Now())}) // a clock that stands still
	charges := []struct {
		amount        int64
		merchant, mcc string
	}{
		{2500, "Office Depot", "5943"}, {2399, "OFFICE DEPOT #1138", "5943"}, {4000, "Staples", "5943"},
		{7999, "DELL MARKETING", "5732"}, {1299, "Amazon.com", "5942"}, {1850, "Uber Trip", "4121"},
	}
	var ids []string
	for _, ch := range charges {
		a, err := e.Authorize(context.Background(), engine.Operator, engine.AuthorizeInput{
			CardID: card, Amount: ch.amount, Currency: "USD", Merchant: engine.Merchant{Name: ch.merchant, MCC: ch.mcc},
		})
		require.NoError(t, err)
		ids = append(ids, a.ID)
	}
	require.NoError(t, db.Close())
	for _, id := range ids[1:] {
		require.Equal(t, ids[0][:len("txn_")+shortIDLen], id[:len("txn_")+shortIDLen], "made in one millisecond")
	}

	table := c.ok("txn", "list")
	assert.LessOrEqual(t, maxWidth(table), 120, table)
	for _, id := range ids {
		assert.NotContains(t, table, id, "no whole id in the table")
	}
	jsonOut := c.ok("txn", "list", "--json")
	var listed []struct {
		ID     string `json:"id"`
		CardID string `json:"card_id"`
	}
	require.NoError(t, json.Unmarshal([]byte(jsonOut), &listed))
	require.Len(t, listed, len(ids))
	for _, x := range listed {
		assert.Contains(t, ids, x.ID, "--json prints whole ids")
		assert.Equal(t, card, x.CardID)
	}
	checkShortIDs(t, table, jsonOut)
	show := c.ok("txn", "show", ids[0])
	assert.Contains(t, show, ids[0], "show prints the whole id")
	assert.Contains(t, show, card)
}

// Every list table shortens its ids, even ids made by separate processes in
// one millisecond (which share their timestamp and counter and differ only
// in random bits).
func TestListTablesShortenIDs(t *testing.T) {
	c := newCLI(t)
	now := c.clock.Now()
	// run moves the clock a second on: setting it a second back makes every
	// command run in the same millisecond.
	at := func(args ...string) string {
		c.clock.Set(now.Add(-time.Second))
		return c.ok(args...)
	}
	at("init")
	at("webhook", "add", "https://ops.example.com/a")
	at("webhook", "add", "https://ops.example.com/b")
	for _, u := range []string{"ann", "bob", "cy"} {
		at("user", "create", u)
		at("user", "approve", u)
		at("user", "fund", u, "100000")
	}
	for _, ag := range []string{"a1", "a2", "a3"} {
		at("agent", "create", ag, "--user", "ann")
		at("key", "create", "--agent", ag)
	}
	at("policy", "set", "a2", "--approval-threshold", "1000")
	var cards []string
	for range 3 {
		c.clock.Set(now.Add(-time.Second))
		cards = append(cards, c.id("card", "create", "--agent", "a1"))
	}
	for i, card := range cards {
		at("intent", "declare", "--agent", "a1", "--card", card, "--amount", "2500", "--summary", "paper",
			"--merchant", "Office Depot")
		at("network", "authorize", card, "--amount", fmt.Sprint(2500+i), "--merchant", "Office Depot")
		at("intent", "declare", "--agent", "a2", "--amount", "5000", "--summary", "monitor")
	}
	for _, list := range [][]string{
		{"user", "list"}, {"agent", "list"}, {"key", "list"}, {"card", "list"}, {"intent", "list"},
		{"txn", "list"}, {"approvals", "list"}, {"webhook", "list"}, {"webhook", "events"}, {"webhook", "deliveries"},
	} {
		t.Run(strings.Join(list, " "), func(t *testing.T) {
			table := at(list...)
			checkShortIDs(t, table, at(append(list, "--json")...))
		})
	}
}
