package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/webhook"
	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cli runs the command tree in-process against a database in a temporary
// directory, with a clock the test moves.
type cli struct {
	t     *testing.T
	dir   string
	db    string
	env   map[string]string
	clock *engine.ManualClock
}

func newCLI(t *testing.T) *cli {
	dir := t.TempDir()
	return &cli{t: t, dir: dir, db: filepath.Join(dir, "ledger.db"), env: map[string]string{},
		clock: engine.NewManualClock(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))}
}

// run executes one command line and returns what it printed and its exit code.
func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.clock.Advance(time.Second) // time passes between commands
	var out, errOut bytes.Buffer
	a := &app{streams: streams{in: strings.NewReader(""), out: &out, err: &errOut}, ctx: context.Background(), clock: c.clock,
		getenv: func(k string) string {
			if k == "AGENTLEDGER_DB" {
				return c.db
			}
			return c.env[k]
		}}
	code = a.execute(args)
	return out.String(), errOut.String(), code
}

// ok runs a command that must succeed and returns its output.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	require.Equal(c.t, exitOK, code, "agentledger %s\nstderr: %s", strings.Join(args, " "), errOut)
	assert.Empty(c.t, errOut)
	return out
}

// json runs a command with --json and decodes what it printed into v.
func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append(args, "--json")...)
	require.NoError(c.t, json.Unmarshal([]byte(out), v), out)
}

// fail runs a command that must fail and returns its one-line error.
func (c *cli) fail(wantCode int, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	require.Equal(c.t, wantCode, code, "agentledger %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), out, errOut)
	require.True(c.t, strings.HasPrefix(errOut, "error: "), errOut)
	require.Equal(c.t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
	return errOut
}

// snapshot dumps every row of every table, to show a command wrote nothing.
func (c *cli) snapshot() string {
	c.t.Helper()
	raw, err := sql.Open("sqlite", "file:"+c.db+"?mode=ro")
	require.NoError(c.t, err)
	defer raw.Close()
	var b strings.Builder
	tables, err := raw.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	require.NoError(c.t, err)
	var names []string
	for tables.Next() {
		var n string
		require.NoError(c.t, tables.Scan(&n))
		names = append(names, n)
	}
	require.NoError(c.t, tables.Close())
	for _, n := range names {
		rows, err := raw.Query(`SELECT * FROM "` + n + `" ORDER BY 1`)
		require.NoError(c.t, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(c.t, rows.Scan(ptrs...))
			fmt.Fprintf(&b, "%s %v\n", n, vals)
		}
		require.NoError(c.t, rows.Close())
	}
	return b.String()
}

// authorization is the JSON shape `network authorize --json` prints.
type authorization struct {
	ID          string          `json:"id"`
	Status      string          `json:"status"`
	DeclineCode string          `json:"decline_code"`
	Reason      string          `json:"reason"`
	Amount      int64           `json:"amount"`
	Currency    string          `json:"currency"`
	Merchant    engine.Merchant `json:"merchant"`
	CardID      string          `json:"card_id"`
	IntentID    string          `json:"intent_id"`
	RiskScore   *int            `json:"risk_score"`
}

func (c *cli) authorize(card string, amount int64, merchant string, extra ...string) authorization {
	c.t.Helper()
	var a authorization
	c.json(&a, append([]string{"network", "authorize", card, "--amount", fmt.Sprint(amount), "--merchant", merchant}, extra...)...)
	require.NotEmpty(c.t, a.ID)
	require.NotNil(c.t, a.RiskScore)
	return a
}

func (c *cli) id(args ...string) string {
	c.t.Helper()
	var obj struct {
		ID string `json:"id"`
	}
	c.json(&obj, args...)
	require.NotEmpty(c.t, obj.ID)
	return obj.ID
}

// The whole operator journey: init → user → agent → policy → key → card →
// authorizations → settle, reverse, refund → balance → verify.
func TestOperatorJourney(t *testing.T) {
	c := newCLI(t)

	var initRes struct {
		Created  bool   `json:"created"`
		KeyFile  string `json:"key_file"`
		AdminKey struct {
			Key  string `json:"key"`
			Role string `json:"role"`
		} `json:"admin_key"`
	}
	c.json(&initRes, "init")
	assert.True(t, initRes.Created)
	assert.True(t, strings.HasPrefix(initRes.AdminKey.Key, engine.KeyPrefix))
	assert.Equal(t, engine.RoleAdmin, initRes.AdminKey.Role)
	info, err := os.Stat(initRes.KeyFile)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	before := c.snapshot()
	again := c.ok("init")
	assert.Contains(t, again, "Already initialized")
	assert.Equal(t, before, c.snapshot(), "a second init changes nothing")

	var user engine.User
	c.json(&user, "user", "create", "alice", "--email", "alice@example.com")
	assert.Equal(t, engine.KYCPending, user.KYCStatus)
	c.json(&user, "user", "approve", "alice")
	assert.Equal(t, engine.KYCApproved, user.KYCStatus)
	var bal engine.Balance
	c.json(&bal, "user", "fund", "alice", "100000")
	assert.Equal(t, int64(100_000), bal.Available)
	assert.Contains(t, c.ok("user", "show", "alice"), "$1,000.00")
	var users []engine.User
	c.json(&users, "user", "list")
	require.Len(t, users, 1)

	var agent engine.Agent
	c.json(&agent, "agent", "create", "shopper", "--user", "alice")
	assert.Equal(t, engine.ModeLive, agent.Mode)
	assert.Equal(t, user.ID, agent.UserID)

	var policy engine.Policy
	c.json(&policy, "policy", "set", "shopper", "--per-transaction-limit", "50000", "--daily-limit", "60000",
		"--approval-threshold", "20000", "--blocked-mccs", "7995,5933", "--risk-review-score", "60", "--risk-decline-score", "90")
	assert.Equal(t, int64(50_000), *policy.PerTransactionLimit)
	assert.Equal(t, []string{"7995", "5933"}, policy.BlockedMCCs)
	assert.True(t, *policy.IntentRequired, "policy show prints the effective policy, defaults filled in")
	assert.Equal(t, int64(engine.DefaultIntentTolerancePct), *policy.IntentTolerancePct)
	c.json(&policy, "policy", "show", "shopper")
	assert.Equal(t, int64(60_000), *policy.DailyLimit)

	var key struct {
		ID      string `json:"id"`
		Key     string `json:"key"`
		Role    string `json:"role"`
		AgentID string `json:"agent_id"`
	}
	c.json(&key, "key", "create", "--agent", "shopper")
	assert.True(t, strings.HasPrefix(key.ID, engine.PrefixKey))
	assert.True(t, strings.HasPrefix(key.Key, engine.KeyPrefix))
	assert.Equal(t, engine.RoleAgent, key.Role)
	assert.Equal(t, agent.ID, key.AgentID)
	assert.NotContains(t, c.ok("key", "list"), key.Key, "secrets are shown once")

	var card engine.Card
	c.json(&card, "card", "create", "--agent", "shopper", "--purpose", "office supplies")
	assert.Equal(t, engine.CardActive, card.Status)
	assert.Len(t, card.Last4, 4)

	declined := c.authorize(card.ID, 2500, "Office Depot")
	assert.Equal(t, "declined", declined.Status)
	assert.Equal(t, engine.CodeIntentRequired, declined.DeclineCode)
	assert.Equal(t, int64(2500), declined.Amount)
	assert.Equal(t, "USD", declined.Currency)
	assert.Equal(t, "Office Depot", declined.Merchant.Name)
	assert.Equal(t, card.ID, declined.CardID)

	var intent engine.Intent
	c.json(&intent, "intent", "declare", "--agent", "shopper", "--card", card.ID, "--amount", "2500",
		"--merchant", "Office Depot", "--summary", "Printer paper", "--reveal")
	assert.Equal(t, engine.IntentRevealed, intent.Status)
	approved := c.authorize(card.ID, 2500, "OFFICE DEPOT #1138", "--mcc", "5943")
	assert.Equal(t, "approved", approved.Status, approved.Reason)
	assert.Empty(t, approved.DeclineCode)
	assert.Equal(t, intent.ID, approved.IntentID)
	c.json(&intent, "intent", "show", intent.ID)
	assert.Equal(t, engine.IntentMatched, intent.Status)

	// Human output: the decision, a reason a person understands, $ amounts.
	c.ok("intent", "declare", "--agent", "shopper", "--card", card.ID, "--amount", "4000", "--summary", "Toner", "--reveal")
	human := c.ok("network", "authorize", card.ID, "--amount", "4000", "--merchant", "Staples")
	assert.Contains(t, human, "APPROVED  $40.00 at Staples")
	var txns []authorization
	c.json(&txns, "txn", "list", "--card", card.ID)
	require.Len(t, txns, 3)
	second := txns[0]

	var settled engine.Authorization
	c.json(&settled, "network", "settle", approved.ID, "--amount", "2000")
	assert.Equal(t, engine.AuthSettled, settled.Status)
	assert.Equal(t, int64(2000), settled.SettledAmount)
	var refunded engine.Authorization
	c.json(&refunded, "network", "refund", approved.ID, "--amount", "500")
	assert.Equal(t, int64(500), refunded.RefundedAmount)
	var reversed engine.Authorization
	c.json(&reversed, "network", "reverse", second.ID)
	assert.Equal(t, engine.AuthReversed, reversed.Status)

	c.json(&bal, "ledger", "balance", "alice")
	assert.Equal(t, engine.Balance{UserID: user.ID, Currency: "USD", Posted: 98_500, Pending: 0, Available: 98_500}, bal)
	assert.Contains(t, c.ok("ledger", "balance", "alice"), "$985.00")

	var shown engine.Authorization
	c.json(&shown, "txn", "show", approved.ID)
	assert.NotEmpty(t, shown.Checks)
	assert.Contains(t, c.ok("txn", "show", approved.ID), "checks:")

	var report engine.LedgerReport
	c.json(&report, "ledger", "verify")
	assert.True(t, report.OK)
	assert.Empty(t, report.Faults)
	assert.Greater(t, report.Checked, 0)
}

// Every kind of decline the engine returns, set up with CLI commands.
func TestEveryDeclineFromTheCommandLine(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "alice")
	c.ok("user", "approve", "alice")
	c.ok("user", "fund", "alice", "20000")
	setup := func(name string, policy ...string) (agent, card string) {
		c.ok("agent", "create", name, "--user", "alice")
		c.ok(append([]string{"policy", "set", name, "--intent-required=false"}, policy...)...)
		return name, c.id("card", "create", "--agent", name)
	}
	cases := []struct {
		code    string
		prepare func() authorization
	}{
		{engine.CodeCardNotFound, func() authorization { return c.authorize("card_missing", 100, "Shop") }},
		{engine.CodeCardFrozen, func() authorization {
			_, card := setup("frozen")
			c.ok("card", "freeze", card)
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeCardCancelled, func() authorization {
			_, card := setup("closed")
			c.ok("card", "close", card)
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeExpiredCard, func() authorization {
			_, card := setup("expired")
			c.clock.Advance(4 * 365 * 24 * time.Hour)
			defer c.clock.Set(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeInvalidCVV, func() authorization {
			_, card := setup("cvv")
			a := c.authorize(card, 100, "Shop", "--cvv", "000")
			if a.Status == "approved" { // 000 happened to be right
				a = c.authorize(card, 100, "Shop", "--cvv", "111")
			}
			return a
		}},
		{engine.CodeAgentDisabled, func() authorization {
			agent, card := setup("disabled")
			c.ok("agent", "mode", agent, "disabled")
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeKYCRequired, func() authorization {
			c.ok("user", "create", "bob")
			c.ok("user", "approve", "bob")
			c.ok("user", "fund", "bob", "10000")
			c.ok("agent", "create", "bobs", "--user", "bob")
			c.ok("policy", "set", "bobs", "--intent-required=false")
			card := c.id("card", "create", "--agent", "bobs")
			c.ok("user", "reject", "bob")
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeCurrencyMismatch, func() authorization {
			_, card := setup("currency")
			return c.authorize(card, 100, "Shop", "--currency", "EUR")
		}},
		{engine.CodeMerchantBlocked, func() authorization {
			_, card := setup("blocked", "--blocked-mccs", "7995")
			return c.authorize(card, 100, "Casino", "--mcc", "7995")
		}},
		{engine.CodeIntentRequired, func() authorization {
			agent, card := setup("intent")
			c.ok("policy", "set", agent, "--intent-required=true")
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeIntentExpired, func() authorization {
			agent, card := setup("intent-expired")
			c.ok("policy", "set", agent, "--intent-required=true")
			c.ok("intent", "declare", "--agent", agent, "--card", card, "--amount", "100", "--summary", "x", "--reveal")
			c.clock.Advance(time.Hour)
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeIntentMismatch, func() authorization {
			agent, card := setup("intent-mismatch")
			c.ok("policy", "set", agent, "--intent-required=true")
			c.ok("intent", "declare", "--agent", agent, "--card", card, "--amount", "100", "--merchant", "Books", "--summary", "x", "--reveal")
			return c.authorize(card, 100, "Casino Royale")
		}},
		{engine.CodeSpendLimitExceeded, func() authorization {
			_, card := setup("per-txn", "--per-transaction-limit", "500")
			return c.authorize(card, 501, "Shop")
		}},
		{engine.CodeDailyLimitExceeded, func() authorization {
			_, card := setup("daily", "--daily-limit", "500")
			c.authorize(card, 400, "Shop")
			return c.authorize(card, 101, "Shop")
		}},
		{engine.CodeCycleLimitExceeded, func() authorization {
			_, card := setup("monthly", "--monthly-limit", "500")
			c.authorize(card, 400, "Shop")
			return c.authorize(card, 101, "Shop")
		}},
		{engine.CodeLifetimeLimitExceeded, func() authorization {
			agent, _ := setup("lifetime")
			card := c.id("card", "create", "--agent", agent, "--lifetime-limit", "500")
			c.authorize(card, 400, "Shop")
			return c.authorize(card, 101, "Shop")
		}},
		{engine.CodeVelocityExceeded, func() authorization {
			_, card := setup("velocity", "--max-transactions-per-day", "1")
			c.authorize(card, 100, "Shop")
			return c.authorize(card, 100, "Shop")
		}},
		{engine.CodeApprovalRequired, func() authorization {
			_, card := setup("approval", "--approval-threshold", "1000")
			return c.authorize(card, 1001, "Shop")
		}},
		{engine.CodeSuspectedFraud, func() authorization {
			_, card := setup("fraud", "--risk-decline-score", "30")
			c.authorize(card, 100, "Coffee", "--mcc", "5814")
			return c.authorize(card, 100, "Crypto Exchange", "--mcc", "6051")
		}},
		{engine.CodeInsufficientFunds, func() authorization {
			_, card := setup("funds")
			return c.authorize(card, 1_000_000, "Shop")
		}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			c.t = t
			a := tc.prepare()
			assert.Equal(t, "declined", a.Status)
			assert.Equal(t, tc.code, a.DeclineCode, a.Reason)
			assert.NotEmpty(t, a.Reason)
			seen[tc.code] = true
		})
	}
	c.t = t
	for _, code := range engine.DeclineCodes {
		assert.True(t, seen[code], "no command-line test for %s", code)
	}
	var report engine.LedgerReport
	c.json(&report, "ledger", "verify")
	assert.True(t, report.OK, "%v", report.Faults)
}

func TestApprovalsFromTheCommandLine(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "alice")
	c.ok("user", "approve", "alice")
	c.ok("user", "fund", "alice", "100000")
	c.ok("agent", "create", "shopper", "--user", "alice")
	c.ok("policy", "set", "shopper", "--approval-threshold", "5000")
	card := c.id("card", "create", "--agent", "shopper")

	var big, other engine.Intent
	c.json(&big, "intent", "declare", "--agent", "shopper", "--card", card, "--amount", "8000", "--merchant", "Dell", "--summary", "Laptop dock")
	assert.Equal(t, engine.IntentAwaitingApproval, big.Status)
	c.json(&other, "intent", "declare", "--agent", "shopper", "--card", card, "--amount", "9000", "--summary", "Chair")

	var queue []engine.Decision
	c.json(&queue, "approvals", "list")
	require.Len(t, queue, 2)
	assert.Equal(t, big.DecisionID, queue[0].ID)
	assert.Contains(t, c.ok("approvals", "list"), "$80.00")

	var d engine.Decision
	c.json(&d, "approvals", "approve", big.DecisionID, "--reason", "needed for the team")
	assert.Equal(t, engine.ApprovalApproved, d.ApprovalStatus)
	assert.Equal(t, "needed for the team", d.DecisionNote)
	c.json(&d, "approvals", "deny", other.DecisionID, "--reason", "not this month")
	assert.Equal(t, engine.ApprovalDenied, d.ApprovalStatus)

	var got engine.Intent
	c.json(&got, "intent", "show", big.ID)
	assert.Equal(t, engine.IntentPending, got.Status)
	c.json(&got, "intent", "reveal", big.ID)
	assert.Equal(t, engine.IntentRevealed, got.Status)
	a := c.authorize(card, 7900, "DELL MARKETING")
	assert.Equal(t, "approved", a.Status, a.Reason)
	assert.Equal(t, big.ID, a.IntentID)
	c.json(&got, "intent", "show", other.ID)
	assert.Equal(t, engine.IntentDenied, got.Status)
	c.json(&queue, "approvals", "list")
	assert.Empty(t, queue)
	c.json(&queue, "approvals", "list", "--status", "all")
	assert.Len(t, queue, 2)
	assert.Contains(t, c.fail(exitError, "approvals", "approve", other.DecisionID), "already denied")
}

// A failing command prints one line naming what was wrong, exits non-zero,
// and writes nothing.
func TestFailedCommandsWriteNothing(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "alice")
	c.ok("user", "approve", "alice")
	c.ok("user", "fund", "alice", "10000")
	c.ok("agent", "create", "shopper", "--user", "alice")
	c.ok("policy", "set", "shopper", "--intent-required=false", "--daily-limit", "5000")
	card := c.id("card", "create", "--agent", "shopper")
	txn := c.authorize(card, 100, "Shop").ID

	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"user", "fund", "alice", "12.50"}, exitUsage, "minor units"},
		{[]string{"user", "fund", "alice", "0"}, exitError, "amount: must be a positive amount"},
		{[]string{"user", "fund", "alice", "-5"}, exitUsage, "unknown shorthand flag"},
		{[]string{"user", "fund", "nobody", "100"}, exitError, `user: user "nobody" not found`},
		{[]string{"user", "fund", "alice", "100", "--currency", "XYZ"}, exitError, "currency: unknown currency"},
		{[]string{"user", "create", "alice"}, exitError, "already exists"},
		{[]string{"agent", "create", "x"}, exitUsage, `required flag(s) "user" not set`},
		{[]string{"agent", "mode", "shopper", "turbo"}, exitError, "mode: must be one of"},
		{[]string{"policy", "set", "shopper", "--daily-limit", "-1"}, exitError, "daily_limit: must be a positive amount"},
		{[]string{"policy", "set", "shopper", "--velocity", "fast"}, exitUsage, "COUNT/SECONDS"},
		{[]string{"policy", "set", "shopper", "--blocked-mccs", "79"}, exitError, "blocked_mccs"},
		{[]string{"policy", "set", "shopper"}, exitUsage, "no policy field given"},
		{[]string{"card", "create", "--agent", "shopper", "--daily-limit", "9000"}, exitError, "limits.daily_limit"},
		{[]string{"card", "freeze", "card_nope"}, exitError, `card_id: card "card_nope" not found`},
		{[]string{"network", "authorize", card, "--amount", "abc", "--merchant", "x"}, exitUsage, "--amount"},
		{[]string{"network", "authorize", card, "--amount", "100"}, exitUsage, `required flag(s) "merchant" not set`},
		{[]string{"network", "authorize", card, "--amount", "100", "--merchant", "x", "--mcc", "12"}, exitError, "merchant.mcc"},
		{[]string{"network", "settle", txn, "--amount", "999"}, exitError, "amount: $9.99 is more than the $1.00 held"},
		{[]string{"network", "refund", txn}, exitError, "only a settled charge can be refunded"},
		{[]string{"network", "settle", "txn_nope"}, exitError, "authorization_id"},
		{[]string{"key", "revoke", "key_nope"}, exitError, "key_id"},
		{[]string{"approvals", "approve", "dec_nope"}, exitError, "decision_id"},
		{[]string{"intent", "declare", "--agent", "shopper", "--amount", "0", "--summary", "x"}, exitError, "amount:"},
		{[]string{"webhook", "add", "not a url"}, exitError, "url: must be an absolute http or https URL"},
		{[]string{"webhook", "add", "https://example.com/h", "--events", "card.exploded"}, exitError, `events: unknown event type "card.exploded"`},
		{[]string{"webhook", "remove", "whk_nope"}, exitError, "endpoint_id"},
		{[]string{"webhook", "replay", "evt_nope"}, exitError, "event_id"},
		{[]string{"webhook", "deliveries", "--status", "lost"}, exitError, "status: must be one of"},
		{[]string{"card", "link", card}, exitUsage, "--stripe ic_… or --lithic"},
		{[]string{"card", "link", card, "--stripe", "ic_1", "--lithic", "tok"}, exitUsage, "not both"},
		{[]string{"card", "link", card, "--stripe", "card_123"}, exitError, "external_id: a Stripe Issuing card id starts with ic_"},
		{[]string{"card", "link", "card_nope", "--lithic", "tok"}, exitError, "card_id"},
		{[]string{"key", "create", "--network", "--admin"}, exitUsage, "none of the others can be"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{[]string{"user", "list", "--colour"}, exitUsage, "unknown flag: --colour"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			c.t = t
			before := c.snapshot()
			msg := c.fail(tc.code, tc.args...)
			assert.Contains(t, msg, tc.says)
			assert.Equal(t, before, c.snapshot(), "nothing may be written")
		})
	}
	c.t = t

	// Without a database, commands refuse rather than create one.
	c.db = filepath.Join(c.dir, "elsewhere.db")
	assert.Contains(t, c.fail(exitError, "user", "list"), "run 'agentledger init' first")
	_, err := os.Stat(c.db)
	assert.True(t, os.IsNotExist(err))
}

func TestQuickstart(t *testing.T) {
	c := newCLI(t)
	var q struct {
		User  engine.User  `json:"user"`
		Agent engine.Agent `json:"agent"`
		Card  engine.Card  `json:"card"`
		Key   struct {
			Key string `json:"key"`
		} `json:"key"`
		Stdio  clientConfig `json:"claude_desktop_config"`
		Remote clientConfig `json:"mcp_remote_config"`
	}
	c.json(&q, "quickstart") // initializes the database itself
	assert.Equal(t, engine.KYCApproved, q.User.KYCStatus)
	assert.Equal(t, engine.CardActive, q.Card.Status)
	assert.Equal(t, engine.CardMultiUse, q.Card.Type)
	stdio := q.Stdio.MCPServers["agentledger"]
	assert.Equal(t, []string{"serve", "--stdio", "--db", c.db}, stdio.Args)
	assert.Equal(t, q.Key.Key, stdio.Env["LEDGER_API_KEY"])
	remote := q.Remote.MCPServers["agentledger"]
	assert.Equal(t, "npx", remote.Command)
	assert.Contains(t, remote.Args, "mcp-remote")
	assert.Contains(t, remote.Args, "http://127.0.0.1:8765/mcp")
	assert.Equal(t, "Bearer "+q.Key.Key, remote.Env["LEDGER_AUTH_HEADER"])

	var bal engine.Balance
	c.json(&bal, "ledger", "balance", "sandbox")
	assert.Equal(t, int64(sandboxFunds), bal.Available)

	// Run again: the same user, agent and card, no second deposit, a new key.
	var again struct {
		User engine.User `json:"user"`
		Card engine.Card `json:"card"`
		Key  struct {
			Key string `json:"key"`
		} `json:"key"`
	}
	c.json(&again, "quickstart")
	assert.Equal(t, q.User.ID, again.User.ID)
	assert.Equal(t, q.Card.ID, again.Card.ID)
	assert.NotEqual(t, q.Key.Key, again.Key.Key)
	c.json(&bal, "ledger", "balance", "sandbox")
	assert.Equal(t, int64(sandboxFunds), bal.Available)

	out := c.ok("quickstart")
	assert.Contains(t, out, `"mcpServers"`)
	assert.Contains(t, out, "intent declare")
}

func TestHelpAndCompletion(t *testing.T) {
	c := newCLI(t)
	help := c.ok("--help")
	for _, cmd := range []string{"init", "quickstart", "user", "agent", "policy", "key", "card", "intent", "approvals", "network", "txn", "ledger"} {
		assert.Contains(t, help, "  "+cmd)
	}
	assert.Contains(t, c.ok("completion", "bash"), "bash completion")
	assert.Contains(t, c.ok("policy", "set", "--help"), "--max-transactions-per-day")
}

// The example client configurations are what quickstart prints, in shape.
func TestExampleConfigs(t *testing.T) {
	for file, check := range map[string]func(serverEntry){
		"claude_desktop_config.json": func(e serverEntry) {
			assert.Equal(t, []string{"serve", "--stdio"}, e.Args[:2])
			assert.Contains(t, e.Env, "LEDGER_API_KEY")
		},
		"cursor_mcp.json": func(e serverEntry) {
			assert.Equal(t, []string{"serve", "--stdio"}, e.Args[:2])
			assert.Contains(t, e.Env, "LEDGER_API_KEY")
		},
		"mcp_remote_config.json": func(e serverEntry) {
			assert.Equal(t, "npx", e.Command)
			assert.Contains(t, e.Args, "mcp-remote")
			assert.Contains(t, e.Args, "Authorization:${LEDGER_AUTH_HEADER}")
			assert.True(t, strings.HasPrefix(e.Env["LEDGER_AUTH_HEADER"], "Bearer al_"))
		},
		"mcp_remote_oauth_config.json": func(e serverEntry) {
			assert.Equal(t, "npx", e.Command)
			assert.Equal(t, []string{"-y", "mcp-remote", "http://127.0.0.1:8765/mcp"}, e.Args, "no key: OAuth")
			assert.Empty(t, e.Env)
		},
	} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "examples", file))
		require.NoError(t, err)
		var cfg clientConfig
		require.NoError(t, json.Unmarshal(raw, &cfg), file)
		entry, ok := cfg.MCPServers["agentledger"]
		require.True(t, ok, file)
		check(entry)
	}
}

// The webhook journey: add an endpoint, see events queue, deliver them to a
// receiver that checks the signature, replay one, remove the endpoint.
func TestWebhooksFromTheCommandLine(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var secret string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, 5*time.Minute, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		got = append(got, r.Header.Get(webhook.EventHeader))
	}))
	defer receiver.Close()

	c := newCLI(t)
	c.ok("init")
	var added struct {
		ID     string   `json:"id"`
		URL    string   `json:"url"`
		Events []string `json:"events"`
		Secret string   `json:"secret"`
	}
	c.json(&added, "webhook", "add", receiver.URL+"/hooks", "--events", "user.approved,account.funded,transaction.authorized")
	assert.Equal(t, []string{"user.approved", "account.funded", "transaction.authorized"}, added.Events)
	require.True(t, strings.HasPrefix(added.Secret, "whsec_"))
	mu.Lock()
	secret = added.Secret
	mu.Unlock()
	assert.NotContains(t, c.ok("webhook", "list"), added.Secret, "shown once")

	c.ok("user", "create", "alice")
	c.ok("user", "approve", "alice")
	c.ok("user", "fund", "alice", "5000")
	assert.Contains(t, c.ok("webhook", "deliveries"), "pending")

	var ran map[string]int
	c.json(&ran, "webhook", "run", "--once")
	assert.Equal(t, 2, ran["attempted"])
	mu.Lock()
	assert.Equal(t, []string{"user.approved", "account.funded"}, got)
	mu.Unlock()
	var deliveries []engine.Delivery
	c.json(&deliveries, "webhook", "deliveries", "--endpoint", added.ID)
	require.Len(t, deliveries, 2)
	for _, d := range deliveries {
		assert.Equal(t, engine.DeliveryDelivered, d.Status)
	}

	var events []engine.Event
	c.json(&events, "webhook", "events", "--type", "user.approved")
	require.Len(t, events, 1)
	assert.Contains(t, c.ok("webhook", "replay", events[0].ID), "queued again")
	c.ok("webhook", "run", "--once")
	mu.Lock()
	assert.Equal(t, []string{"user.approved", "account.funded", "user.approved"}, got)
	mu.Unlock()

	assert.Contains(t, c.ok("webhook", "remove", added.ID), "removed")
	c.ok("user", "fund", "alice", "100")
	assert.Contains(t, c.ok("webhook", "run", "--once"), "Attempted 0 deliveries")
}

func TestCardLinksAndNetworkKeys(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "alice")
	c.ok("user", "approve", "alice")
	c.ok("agent", "create", "shopper", "--user", "alice")
	card := c.id("card", "create", "--agent", "shopper")
	var link engine.CardLink
	c.json(&link, "card", "link", card, "--stripe", "ic_1JDmgz2eZvKYlo2CRXlTsXj6")
	assert.Equal(t, engine.CardLink{Issuer: "stripe", ExternalID: "ic_1JDmgz2eZvKYlo2CRXlTsXj6", CardID: card, CreatedAt: link.CreatedAt}, link)
	assert.Contains(t, c.ok("card", "link", card, "--lithic", "76b9f589-8935-4e78-8809-7f583bf0fb89"), "linked to lithic card")
	other := c.id("card", "create", "--agent", "shopper")
	assert.Contains(t, c.fail(exitError, "card", "link", other, "--stripe", "ic_1JDmgz2eZvKYlo2CRXlTsXj6"), "already linked")

	var key struct {
		Role string `json:"role"`
		Key  string `json:"key"`
	}
	c.json(&key, "key", "create", "--network", "--name", "acquirer")
	assert.Equal(t, "network", key.Role)
	assert.Contains(t, c.ok("network", "fallbacks"), "OUTCOME")
}
