package engine_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func patch(fields map[string]string) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range fields {
		out[k] = json.RawMessage(v)
	}
	return out
}

func TestPatchPolicy(t *testing.T) {
	env := sqlitetest.New(t)
	e, ctx, op := env.Engine, env.Ctx, engine.Operator
	start := engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000), Velocity: &engine.Velocity{Count: 3, WindowSeconds: 60}},
		ApprovalThreshold: ptr(5000)}
	u := env.User("u", 0)

	t.Run("sets one field, keeps the others", func(t *testing.T) {
		a := env.Agent("set", u, start)
		got, err := e.PatchPolicy(ctx, op, engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{"monthly_limit": "50000"})})
		require.NoError(t, err)
		assert.Equal(t, ptr(50_000), got.Policy.MonthlyLimit)
		assert.Equal(t, ptr(10_000), got.Policy.DailyLimit)
		assert.Equal(t, ptr(5000), got.Policy.ApprovalThreshold)
		stored, err := e.GetAgent(ctx, op, a.ID)
		require.NoError(t, err)
		assert.Equal(t, got.Policy, stored.Policy)
	})
	t.Run("null clears a field; velocity is replaced whole", func(t *testing.T) {
		a := env.Agent("clear", u, start)
		got, err := e.PatchPolicy(ctx, op, engine.PatchPolicyInput{Agent: a.Name, Patch: patch(map[string]string{
			"daily_limit": "null", "velocity": `{"count": 5, "window_seconds": 3600}`, "currency": "null",
		})})
		require.NoError(t, err)
		assert.Nil(t, got.Policy.DailyLimit)
		assert.Equal(t, &engine.Velocity{Count: 5, WindowSeconds: 3600}, got.Policy.Velocity)
		assert.Equal(t, engine.DefaultCurrency, got.Policy.Currency)
		assert.Equal(t, ptr(5000), got.Policy.ApprovalThreshold)
	})
	t.Run("validated as SetPolicy does", func(t *testing.T) {
		a := env.Agent("validated", u, start)
		_, err := e.PatchPolicy(ctx, op, engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{"velocity": `{"count": 5}`})})
		assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
		card := env.Card(a)
		_, err = e.PatchPolicy(ctx, op, engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{"currency": `"EUR"`})})
		require.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err))
		assert.Equal(t, "currency", err.(*engine.Error).Field)
		assert.Contains(t, err.Error(), card.ID)
	})

	a := env.Agent("bad", u, start)
	bad := []struct {
		name  string
		patch map[string]json.RawMessage
		field string
	}{
		{"empty patch", map[string]json.RawMessage{}, "patch"},
		{"unknown field", patch(map[string]string{"daily_limit": "1", "dailly_limit": "1"}), "dailly_limit"},
		{"a field in another case", patch(map[string]string{"Daily_Limit": "100"}), "Daily_Limit"},
		{"null in another case", patch(map[string]string{"DAILY_LIMIT": "null"}), "DAILY_LIMIT"},
		{"wrong type", patch(map[string]string{"daily_limit": `"lots"`}), "daily_limit"},
		{"wrong type of a policy field", patch(map[string]string{"allow_reduce": "1"}), "allow_reduce"},
		{"wrong type inside velocity", patch(map[string]string{"velocity": `{"count": "x", "window_seconds": 60}`}), "velocity.count"},
		{"not JSON", patch(map[string]string{"daily_limit": "{"}), "daily_limit"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := e.PatchPolicy(ctx, op, engine.PatchPolicyInput{Agent: a.ID, Patch: b.patch})
			var ee *engine.Error
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, engine.CodeInvalidInput, ee.Code)
			assert.Equal(t, b.field, ee.Field, ee.Message)
		})
	}
	got, err := e.GetAgent(ctx, op, a.ID)
	require.NoError(t, err)
	assert.Equal(t, ptr(10_000), got.Policy.DailyLimit, "a refused patch changes nothing")

	t.Run("operators only", func(t *testing.T) {
		for _, actor := range []engine.Actor{{Role: engine.RoleViewer}, sqlitetest.AgentActor(a)} {
			_, err := e.PatchPolicy(ctx, actor, engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{"daily_limit": "1"})})
			assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		in := engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{"daily_limit": "20000"}), IdempotencyKey: "patch-1"}
		first, err := e.PatchPolicy(ctx, op, in)
		require.NoError(t, err)
		_, err = e.PatchPolicy(ctx, op, engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{"daily_limit": "30000"})})
		require.NoError(t, err)
		replay, err := e.PatchPolicy(ctx, op, in)
		require.NoError(t, err)
		assert.Equal(t, first.Policy, replay.Policy, "the first answer, not a second patch")
		got, err := e.GetAgent(ctx, op, a.ID)
		require.NoError(t, err)
		assert.Equal(t, ptr(30_000), got.Policy.DailyLimit)

		_, err = e.PatchPolicy(ctx, op, engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{"daily_limit": "40000"}), IdempotencyKey: "patch-1"})
		assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err))
		_, err = e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: a.ID, Policy: start, IdempotencyKey: "patch-1"})
		assert.Equal(t, engine.CodeIdempotencyConflict, engine.ErrorCode(err), "another operation")
	})
}

// Patches of different fields made at once all survive: each merges into
// the policy as the write transaction reads it.
func TestConcurrentPatchesOfDifferentFieldsAllSurvive(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("u", 0)
	a := env.Agent("a", u, engine.Policy{})
	fields := []string{"per_transaction_limit", "daily_limit", "monthly_limit", "lifetime_limit", "max_transactions_per_day",
		"approval_threshold", "risk_review_score", "intent_ttl_seconds"}
	values := map[string]int64{}
	var wg sync.WaitGroup
	for i, f := range fields {
		values[f] = int64(60 + i)
		wg.Go(func() {
			_, err := env.Engine.PatchPolicy(env.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: a.ID, Patch: patch(map[string]string{f: fmt.Sprint(60 + i)})})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	got, err := env.Engine.GetAgent(env.Ctx, engine.Operator, a.ID)
	require.NoError(t, err)
	raw, err := json.Marshal(got.Policy)
	require.NoError(t, err)
	var policy map[string]any
	require.NoError(t, json.Unmarshal(raw, &policy))
	for f, v := range values {
		assert.EqualValues(t, v, policy[f], f)
	}
}
