package sqlite_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A batch's counter increments are written once, just before COMMIT. Until
// then every read in the batch sees them, a decrement of a counter the
// batch has just created finds it, and a failed request's are gone.
func TestCountersSummedUntilCommit(t *testing.T) {
	env := sqlitetest.New(t)
	key := engine.CounterKey{Scope: "card:c1", Period: "lifetime"}
	other := engine.CounterKey{Scope: "card:c2", Period: "lifetime"}
	// Inside a transaction (the writer's goroutine) a failure is asserted,
	// never required: the writer must go on.
	add := func(tx engine.Tx, k engine.CounterKey, amount, count int64) {
		assert.NoError(t, tx.AddCounters([]engine.CounterDelta{{Key: k, Amount: amount, Count: count}}))
	}
	read := func(tx engine.Tx) map[engine.CounterKey]engine.Counter {
		c, err := tx.Counters([]string{key.Scope, other.Scope}, []string{key.Period})
		assert.NoError(t, err)
		return c
	}
	stored := func() map[engine.CounterKey]engine.Counter {
		t.Helper()
		var c map[engine.CounterKey]engine.Counter
		require.NoError(t, env.DB.View(env.Ctx, func(tx engine.Tx) error { c = read(tx); return nil }))
		return c
	}

	require.NoError(t, env.DB.Update(env.Ctx, func(tx engine.Tx) error {
		dup := engine.CounterKey{Scope: "card:c3", Period: "lifetime"}
		add(tx, dup, 30, 1)
		twice, err := tx.Counters([]string{dup.Scope, dup.Scope}, []string{dup.Period, dup.Period})
		assert.NoError(t, err)
		assert.Equal(t, map[engine.CounterKey]engine.Counter{dup: {Amount: 30, Count: 1}}, twice, "asked for twice")
		add(tx, key, 500, 1) // neither counter has been read: nothing is kept
		assert.Equal(t, map[engine.CounterKey]engine.Counter{key: {Amount: 500, Count: 1}}, read(tx))
		add(tx, key, 200, 1)
		add(tx, other, 7, 1)
		assert.Equal(t, map[engine.CounterKey]engine.Counter{key: {Amount: 700, Count: 2}, other: {Amount: 7, Count: 1}},
			read(tx))
		add(tx, key, -700, -2) // a reversal in the same commit: the row must be there to decrement
		assert.Equal(t, engine.Counter{}, read(tx)[key])
		add(tx, key, 40, 1)
		return nil
	}))
	assert.Equal(t, map[engine.CounterKey]engine.Counter{key: {Amount: 40, Count: 1}, other: {Amount: 7, Count: 1}},
		stored())
	require.NoError(t, env.DB.CheckKept())

	boom := errors.New("boom")
	require.ErrorIs(t, env.DB.Update(env.Ctx, func(tx engine.Tx) error {
		add(tx, key, 1000, 1)
		add(tx, key, -1040, -2)
		add(tx, other, 3, 1)
		return boom
	}), boom)
	assert.Equal(t, map[engine.CounterKey]engine.Counter{key: {Amount: 40, Count: 1}, other: {Amount: 7, Count: 1}},
		stored(), "a failed request writes nothing")
	require.NoError(t, env.DB.CheckKept())

	// Concurrent requests share commits: each fourth fails after adding,
	// some after a decrement of what they added; the others' sums stay.
	var added atomic.Int64
	for round := range 5 {
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				err := env.DB.Update(env.Ctx, func(tx engine.Tx) error {
					add(tx, key, 10, 1)
					if i%3 == 0 {
						add(tx, key, -10, -1)
						add(tx, key, 10, 1)
					}
					if read(tx)[key].Amount < 10 {
						return errors.New("the request's own increment is not read back")
					}
					if i%4 == 0 {
						return boom
					}
					return nil
				})
				if i%4 == 0 {
					assert.ErrorIs(t, err, boom)
				} else if assert.NoError(t, err) {
					added.Add(1)
				}
			})
		}
		wg.Wait()
		require.NoError(t, env.DB.CheckKept(), "round %d", round)
	}
	assert.Equal(t, engine.Counter{Amount: 40 + 10*added.Load(), Count: 1 + added.Load()}, stored()[key])
}

// An agent's risk state is saved once per commit, the batch's newest: every
// read in the batch sees it, a failed request's is gone, and an update of
// the whole agent after it is what is saved.
func TestRiskStateSavedOncePerCommit(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(1_000_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	risk := func(declines int) engine.RiskState {
		return engine.RiskState{Amounts: []int64{int64(declines)}, ConsecutiveDeclines: declines}
	}
	stored := func() engine.RiskState {
		t.Helper()
		var a *engine.Agent
		require.NoError(t, env.DB.View(env.Ctx, func(tx engine.Tx) (err error) {
			a, err = tx.FindAgent(agent.ID)
			return err
		}))
		return a.Risk
	}
	require.NoError(t, env.DB.Update(env.Ctx, func(tx engine.Tx) error {
		assert.NoError(t, tx.UpdateAgentRisk(agent.ID, risk(1)))
		byName, err := tx.FindAgent(agent.Name) // read from its row, not kept
		if assert.NoError(t, err) {
			assert.Equal(t, risk(1), byName.Risk)
		}
		listed, err := tx.ListAgents(engine.AgentFilter{})
		if assert.NoError(t, err) && assert.Len(t, listed, 1) {
			assert.Equal(t, risk(1), listed[0].Risk)
		}
		assert.NoError(t, tx.UpdateAgentRisk(agent.ID, risk(2)))
		byID, err := tx.FindAgent(agent.ID)
		if assert.NoError(t, err) {
			assert.Equal(t, risk(2), byID.Risk)
		}
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(tx.UpdateAgentRisk("agt_missing", risk(9))))
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(tx.UpdateAgentRisk(agent.Name, risk(9))), "by id only")
		return nil
	}))
	assert.Equal(t, risk(2), stored())
	require.NoError(t, env.DB.CheckKept())

	boom := errors.New("boom")
	require.ErrorIs(t, env.DB.Update(env.Ctx, func(tx engine.Tx) error {
		assert.NoError(t, tx.UpdateAgentRisk(agent.ID, risk(3)))
		return boom
	}), boom)
	assert.Equal(t, risk(2), stored(), "a failed request saves nothing")
	require.NoError(t, env.DB.CheckKept())

	require.NoError(t, env.DB.Update(env.Ctx, func(tx engine.Tx) error {
		assert.NoError(t, tx.UpdateAgentRisk(agent.ID, risk(4)))
		a, err := tx.FindAgent(agent.ID)
		if assert.NoError(t, err) {
			a.Risk, a.Mode = risk(5), engine.ModePaper
			assert.NoError(t, tx.UpdateAgent(a))
		}
		return nil
	}))
	assert.Equal(t, risk(5), stored(), "the whole agent, saved after the risk state, wins")
	require.NoError(t, env.DB.CheckKept())

	// Concurrent requests share commits; those with an even number fail
	// after saving theirs.
	for round := range 10 {
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				err := env.DB.Update(env.Ctx, func(tx engine.Tx) error {
					assert.NoError(t, tx.UpdateAgentRisk(agent.ID, risk(100*round+i)))
					if i%2 == 0 {
						return boom
					}
					return nil
				})
				if i%2 == 0 {
					assert.ErrorIs(t, err, boom)
				} else {
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, stored().ConsecutiveDeclines%2, "round %d: a failed request's risk state was saved", round)
		require.NoError(t, env.DB.CheckKept(), "round %d", round)
	}
}
