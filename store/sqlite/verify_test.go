package sqlite_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busyLedger builds a ledger that has seen every kind of transfer: deposits,
// holds, partial and full settlements, reversals, refunds and counted
// policy checks.
func busyLedger(t *testing.T) *sqlitetest.Env {
	env := sqlitetest.New(t)
	p := engine.Policy{IntentRequired: sqlitetest.Ptr(false), SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](1_000_000)}}
	_, agent, card := env.Setup(100_000, p)
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	settled := env.Charge(card, 3000, "Shop", "")
	_, err := e.Settle(ctx, op, engine.SettleInput{AuthorizationID: settled.ID, Amount: sqlitetest.Ptr[int64](2500)})
	require.NoError(t, err)
	_, err = e.Refund(ctx, op, engine.RefundInput{AuthorizationID: settled.ID, Amount: sqlitetest.Ptr[int64](1000)})
	require.NoError(t, err)
	reversed := env.Charge(card, 2000, "Shop", "")
	_, err = e.Reverse(ctx, op, engine.ReverseInput{AuthorizationID: reversed.ID})
	require.NoError(t, err)
	env.Charge(card, 1500, "Shop", "") // left open
	_, err = e.PolicyCheck(ctx, sqlitetest.AgentActor(agent), engine.PolicyCheckInput{Amount: 700})
	require.NoError(t, err)
	return env
}

// Each fixture in testdata/verify damages a healthy ledger in one way; the
// first line says what the verifier must report.
func TestVerifyFindsEachKindOfFault(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/verify/*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, fixtures)
	for _, fixture := range fixtures {
		t.Run(strings.TrimSuffix(filepath.Base(fixture), ".sql"), func(t *testing.T) {
			body, err := os.ReadFile(fixture)
			require.NoError(t, err)
			first, _, _ := strings.Cut(string(body), "\n")
			expect, ok := strings.CutPrefix(first, "-- expect: ")
			require.True(t, ok, "a fixture starts with -- expect: <fault text>")

			env := busyLedger(t)
			env.Verify()
			raw, err := sql.Open("sqlite", env.Path)
			require.NoError(t, err)
			defer raw.Close()
			raw.SetMaxOpenConns(1)
			_, err = raw.Exec(string(body))
			require.NoError(t, err)

			report, err := env.DB.VerifyLedger(env.Ctx)
			require.NoError(t, err)
			assert.False(t, report.OK)
			found := false
			for _, f := range report.Faults {
				found = found || strings.Contains(f, expect)
			}
			assert.True(t, found, "no fault mentions %q in %q", expect, report.Faults)
		})
	}
}
