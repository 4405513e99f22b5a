package engine_test

import (
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpendByDay(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("acme", 10_000_00)
	open := engine.Policy{IntentRequired: sqlitetest.Ptr(false)}
	a, b := env.Agent("a", u, open), env.Agent("b", u, open)
	ca, cb := env.Card(a), env.Card(b)
	env.Charge(ca, 10_00, "AWS", "5734")
	env.Clock.Advance(24 * time.Hour)
	env.Charge(ca, 20_00, "AWS", "5734")
	env.Charge(cb, 5_00, "AWS", "5734")
	declined := env.Charge(cb, 99_999_00, "AWS", "5734")
	require.Equal(t, engine.AuthDeclined, declined.Status)

	r, err := env.Engine.SpendByDay(env.Ctx, engine.Actor{Role: engine.RoleViewer}, engine.SpendByDayInput{
		Agents: []string{a.ID, "b"}, Days: 3})
	require.NoError(t, err)
	assert.Equal(t, []string{"2026-03-10", "2026-03-11", "2026-03-12"}, r.Days)
	assert.Equal(t, map[string][]int64{"USD": {0, 10_00, 25_00}}, r.ByCurrency, "a decline spends nothing")

	for _, in := range []engine.SpendByDayInput{{Days: 0}, {Days: engine.MaxSpendDays + 1}, {Days: 1, Agents: make([]string, engine.MaxPageLimit+1)}} {
		_, err := env.Engine.SpendByDay(env.Ctx, engine.Operator, in)
		assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
	}
	_, err = env.Engine.SpendByDay(env.Ctx, sqlitetest.AgentActor(a), engine.SpendByDayInput{Days: 1})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
}
