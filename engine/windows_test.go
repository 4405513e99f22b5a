package engine_test

import (
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

// envIn is an engine whose organisation lives in the time zone.
func envIn(t *testing.T, loc *time.Location) *sqlitetest.Env {
	env := sqlitetest.New(t)
	_, err := env.Engine.SetTimeZone(env.Ctx, engine.Operator, engine.SetTimeZoneInput{TimeZone: loc.String()})
	require.NoError(t, err)
	return env
}

// Daily windows are calendar days in the organisation's time zone.
func TestDailyLimitFollowsTheOrganisationsDay(t *testing.T) {
	daily := noIntent(engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000)}})
	lateEvening := time.Date(2026, 3, 11, 23, 30, 0, 0, time.UTC) // 19:30 in New York (EDT)
	afterMidnightUTC := lateEvening.Add(time.Hour)                // 00:30 UTC on the 12th, 20:30 in New York

	cases := []struct {
		name       string
		loc        *time.Location
		secondCode string // "" when the second charge is approved
	}{
		{"UTC: a new day has begun", time.UTC, ""},
		{"New York: still the same day", mustLoad(t, "America/New_York"), engine.CodeDailyLimitExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := envIn(t, tc.loc)
			_, _, card := env.Setup(100_000, daily)
			env.Clock.Set(lateEvening)
			requireApproved(t, env.Charge(card, 8000, "Shop", ""))
			env.Clock.Set(afterMidnightUTC)
			assert.Equal(t, tc.secondCode, env.Charge(card, 3000, "Shop", "").DeclineCode)
			env.Verify()
		})
	}

	t.Run("New York: the window resets at local midnight", func(t *testing.T) {
		ny := mustLoad(t, "America/New_York")
		env := envIn(t, ny)
		_, agent, card := env.Setup(100_000, daily)
		env.Clock.Set(time.Date(2026, 3, 11, 23, 0, 0, 0, ny))
		requireApproved(t, env.Charge(card, 8000, "Shop", ""))
		env.Clock.Set(time.Date(2026, 3, 11, 23, 59, 59, 0, ny))
		assert.Equal(t, engine.CodeDailyLimitExceeded, env.Charge(card, 3000, "Shop", "").DeclineCode)

		limits, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(8000), limits.Daily.Spent)
		assert.Equal(t, int64(2000), *limits.Daily.Remaining)
		assert.Equal(t, time.Date(2026, 3, 12, 0, 0, 0, 0, ny).UTC(), *limits.Daily.ResetsAt)

		env.Clock.Set(time.Date(2026, 3, 12, 0, 0, 0, 0, ny))
		requireApproved(t, env.Charge(card, 3000, "Shop", ""))
		env.Verify()
	})
}

// Monthly windows are calendar months in the organisation's time zone; the
// cycle resets on the 1st.
func TestMonthlyLimitResetsOnTheFirst(t *testing.T) {
	tokyo := mustLoad(t, "Asia/Tokyo")
	monthly := noIntent(engine.Policy{SpendLimits: engine.SpendLimits{MonthlyLimit: ptr(10_000)}})
	env := envIn(t, tokyo)
	_, agent, card := env.Setup(100_000, monthly)

	env.Clock.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, tokyo))
	requireApproved(t, env.Charge(card, 8000, "Shop", ""))
	env.Clock.Set(time.Date(2026, 3, 31, 23, 59, 0, 0, tokyo))
	assert.Equal(t, engine.CodeCycleLimitExceeded, env.Charge(card, 3000, "Shop", "").DeclineCode)

	// 1 April 00:00 in Tokyo is still 31 March in UTC: the Tokyo cycle has reset.
	firstOfApril := time.Date(2026, 4, 1, 0, 0, 0, 0, tokyo)
	require.Equal(t, time.March, firstOfApril.UTC().Month())
	env.Clock.Set(firstOfApril)
	requireApproved(t, env.Charge(card, 3000, "Shop", ""))

	limits, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(3000), limits.Monthly.Spent)
	assert.Equal(t, time.Date(2026, 5, 1, 0, 0, 0, 0, tokyo).UTC(), *limits.Monthly.ResetsAt)
	env.Verify()
}

// What counts toward the windows: approved and settled charges; not declined
// or reversed ones, not what a partial settlement released, not expired
// holds. Refunds do not give room back.
func TestWindowsCountOnlyMoneySpent(t *testing.T) {
	daily := func() engine.Policy {
		return noIntent(engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000)}})
	}
	t.Run("declined charges do not count", func(t *testing.T) {
		env := sqlitetest.New(t)
		user, _, card := env.Setup(5000, daily())
		assert.Equal(t, engine.CodeInsufficientFunds, env.Charge(card, 8000, "Shop", "").DeclineCode)
		_, err := env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: user.ID, Amount: 50_000})
		require.NoError(t, err)
		requireApproved(t, env.Charge(card, 10_000, "Shop", ""))
		env.Verify()
	})
	t.Run("reversed charges do not count", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, _, card := env.Setup(100_000, daily())
		a := env.Charge(card, 8000, "Shop", "")
		requireApproved(t, a)
		assert.Equal(t, engine.CodeDailyLimitExceeded, env.Charge(card, 8000, "Shop", "").DeclineCode)
		_, err := env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: a.ID})
		require.NoError(t, err)
		requireApproved(t, env.Charge(card, 8000, "Shop", ""))
		env.Verify()
	})
	t.Run("a partial settlement releases the rest", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, _, card := env.Setup(100_000, daily())
		a := env.Charge(card, 8000, "Shop", "")
		_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID, Amount: ptr(5000)})
		require.NoError(t, err)
		requireApproved(t, env.Charge(card, 5000, "Shop", ""))
		assert.Equal(t, engine.CodeDailyLimitExceeded, env.Charge(card, 1, "Shop", "").DeclineCode)
		env.Verify()
	})
	t.Run("refunds do not give room back", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, _, card := env.Setup(100_000, daily())
		a := env.Charge(card, 8000, "Shop", "")
		_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
		require.NoError(t, err)
		_, err = env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID})
		require.NoError(t, err)
		assert.Equal(t, engine.CodeDailyLimitExceeded, env.Charge(card, 3000, "Shop", "").DeclineCode)
		env.Verify()
	})
	t.Run("expired holds give room back", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, _, card := env.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{LifetimeLimit: ptr(10_000)}}))
		a := env.Charge(card, 8000, "Shop", "")
		env.Clock.Advance(engine.DefaultHoldTTL)
		res, err := env.Engine.Sweep(env.Ctx, engine.Operator)
		require.NoError(t, err)
		assert.Equal(t, 1, res.Holds)
		got, err := env.Engine.GetAuthorization(env.Ctx, engine.Operator, a.ID)
		require.NoError(t, err)
		assert.Equal(t, engine.AuthExpired, got.Status)
		requireApproved(t, env.Charge(card, 8000, "Shop", ""))
		env.Verify()
	})
	t.Run("the transaction count resets with the day", func(t *testing.T) {
		env := sqlitetest.New(t)
		_, _, card := env.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{MaxTransactionsPerDay: ptr(1)}}))
		requireApproved(t, env.Charge(card, 100, "Shop", ""))
		assert.Equal(t, engine.CodeVelocityExceeded, env.Charge(card, 100, "Shop", "").DeclineCode)
		env.Clock.Advance(24 * time.Hour)
		requireApproved(t, env.Charge(card, 100, "Shop", ""))
	})
}

// A card's own limits apply on top of the policy's; an agent's limits span
// all its cards.
func TestCardAndAgentLimitsCombine(t *testing.T) {
	env := sqlitetest.New(t)
	user := env.User("u", 1_000_000)
	agent := env.Agent("a", user, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000)}}))
	tight, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID, Limits: engine.SpendLimits{DailyLimit: ptr(3000)}})
	require.NoError(t, err)
	loose := env.Card(agent)

	requireApproved(t, env.Charge(tight, 3000, "Shop", ""))
	auth := env.Charge(tight, 1, "Shop", "")
	assert.Equal(t, engine.CodeDailyLimitExceeded, auth.DeclineCode)
	assert.Contains(t, auth.Reason, "card daily limit")

	requireApproved(t, env.Charge(loose, 7000, "Shop", ""))
	auth = env.Charge(loose, 1, "Shop", "")
	assert.Equal(t, engine.CodeDailyLimitExceeded, auth.DeclineCode)
	assert.NotContains(t, auth.Reason, "card daily limit")
	env.Verify()
}

// max_transactions_per_day counts an agent's spends in every currency: a
// limit of 2 is not four spends in two currencies (velocity counts across
// currencies too).
func TestTransactionsPerDayCountAcrossCurrencies(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{MaxTransactionsPerDay: ptr(2)}}))
	for _, cur := range []string{"EUR", "JPY", "GBP"} {
		_, err := env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: user.ID, Amount: 10_000, Currency: cur})
		require.NoError(t, err)
	}
	requireApproved(t, env.Charge(card, 1000, "Shop", ""))
	assert.Equal(t, engine.DecisionApproved, check(t, env, agent, engine.PolicyCheckInput{Amount: 500, Currency: "EUR"}).Status)

	third := check(t, env, agent, engine.PolicyCheckInput{Amount: 500, Currency: "EUR"})
	assert.Equal(t, engine.DecisionBlocked, third.Status, third.Reason)
	assert.Contains(t, third.Reason, "2 transactions today already")
	assert.Equal(t, engine.CodeVelocityExceeded, env.Charge(card, 1000, "Shop", "").DeclineCode)
	assert.Equal(t, engine.DecisionBlocked, check(t, env, agent, engine.PolicyCheckInput{Amount: 500, Currency: "JPY"}).Status)

	limits, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), limits.TransactionsToday.Used)
	assert.Equal(t, int64(0), *limits.TransactionsToday.Remaining)
	env.Verify()

	// A reversal gives the count back in the currency's window and the
	// agent's whole count alike.
	auths, err := items(env.Engine.ListAuthorizations(env.Ctx, engine.Operator, engine.ListAuthorizationsInput{Status: engine.AuthApproved}))
	require.NoError(t, err)
	require.NotEmpty(t, auths)
	_, err = env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: auths[len(auths)-1].ID})
	require.NoError(t, err)
	assert.Equal(t, engine.DecisionApproved, check(t, env, agent, engine.PolicyCheckInput{Amount: 500, Currency: "GBP"}).Status)
	env.Verify()
}

// The time zone belongs to the database: every engine on it (every
// process) keys a charge to the same day, and a change takes effect in all
// of them at once.
func TestTimeZoneBelongsToTheDatabase(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000)}}))
	other := env.Reopen(engine.Options{}) // another process on the same file

	change, err := other.Engine.SetTimeZone(env.Ctx, engine.Operator, engine.SetTimeZoneInput{TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	assert.Equal(t, "UTC", change.From)
	assert.Equal(t, "Europe/Berlin", change.To)
	s, err := env.Engine.GetSettings(env.Ctx, engine.Operator)
	require.NoError(t, err)
	assert.Equal(t, "Europe/Berlin", s.TimeZone, "the first engine sees the change")

	// 23:30 UTC on 1 December is 00:30 on the 2nd in Berlin; 00:30 UTC on the
	// 2nd is the same Berlin day. Two $100 charges in one Berlin day.
	env.Clock.Set(time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC))
	requireApproved(t, env.Charge(card, 10_000, "Shop", ""))
	env.Clock.Set(time.Date(2026, 12, 2, 0, 30, 0, 0, time.UTC))
	assert.Equal(t, engine.CodeDailyLimitExceeded, other.Charge(card, 10_000, "Shop", "").DeclineCode)
	limits, err := other.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC), *limits.Daily.ResetsAt, "midnight in Berlin")

	// Back to UTC at 00:30 UTC on the 2nd: today is the 2nd in UTC too, so the
	// Berlin-day spend (counted under 2026-12-02) keeps counting.
	change, err = env.Engine.SetTimeZone(env.Ctx, engine.Operator, engine.SetTimeZoneInput{TimeZone: "UTC"})
	require.NoError(t, err)
	assert.Equal(t, "2026-12-02", change.DayBefore)
	assert.Equal(t, "2026-12-02", change.DayAfter)
	assert.Equal(t, engine.CodeDailyLimitExceeded, env.Charge(card, 10_000, "Shop", "").DeclineCode)
	env.Verify()

	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd"} {
		_, err := env.Engine.SetTimeZone(env.Ctx, engine.Operator, engine.SetTimeZoneInput{TimeZone: bad})
		assertInvalid(t, err, "timezone")
	}
	_, err = env.Engine.SetTimeZone(env.Ctx, sqlitetest.AgentActor(agent), engine.SetTimeZoneInput{TimeZone: "UTC"})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
}

// Two processes starting on one new database each choose a zone only if
// none is chosen: the first choice stands, whoever asks second.
func TestTimeZoneChosenOnceForANewDatabase(t *testing.T) {
	env := sqlitetest.New(t)
	other := env.Reopen(engine.Options{})
	first, err := env.Engine.SetTimeZone(env.Ctx, engine.Operator, engine.SetTimeZoneInput{TimeZone: "Asia/Tokyo", OnlyIfUnset: true})
	require.NoError(t, err)
	assert.Equal(t, "Asia/Tokyo", first.To)
	second, err := other.Engine.SetTimeZone(env.Ctx, engine.Operator,
		engine.SetTimeZoneInput{TimeZone: "America/New_York", OnlyIfUnset: true})
	require.NoError(t, err)
	assert.Equal(t, "Asia/Tokyo", second.To, "the zone chosen first stands")
	assert.Equal(t, second.DayBefore, second.DayAfter)
	s, err := env.Engine.GetSettings(env.Ctx, engine.Operator)
	require.NoError(t, err)
	assert.Equal(t, "Asia/Tokyo", s.TimeZone)
}
