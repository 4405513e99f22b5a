package engine_test

import (
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStats(t *testing.T) {
	env := sqlitetest.New(t)
	e, op, ctx := env.Engine, engine.Operator, env.Ctx
	stats := func() *engine.Stats {
		t.Helper()
		s, err := e.Stats(ctx, op)
		require.NoError(t, err)
		return s
	}
	s := stats()
	assert.Equal(t, &engine.Stats{At: env.Clock.Now()}, s, "an empty database")

	_, err := e.AddWebhook(ctx, op, engine.AddWebhookInput{URL: "https://hooks.example.com/in"})
	require.NoError(t, err)
	queued := env.Clock.Now()
	_, agent, _ := env.Setup(100_00, engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](10_00)})
	d, err := e.PolicyCheck(ctx, op, engine.PolicyCheckInput{Agent: agent.ID, Amount: 50_00, Merchant: "Dell"})
	require.NoError(t, err)
	require.Equal(t, engine.DecisionRequiresApproval, d.Status)
	env.Clock.Advance(time.Minute)

	s = stats()
	assert.Equal(t, int64(1), s.ApprovalsPending)
	assert.Greater(t, s.DeliveriesPending, int64(3), "user, funds, agent, card and decision events")
	require.NotNil(t, s.OldestPendingDelivery)
	assert.True(t, s.OldestPendingDelivery.Equal(queued), "%s", s.OldestPendingDelivery)
	assert.Equal(t, time.Minute, s.At.Sub(*s.OldestPendingDelivery))
	assert.Zero(t, s.IssuerQueue)

	// The head delivered, the next is the oldest; a lapsed approval is no
	// longer pending, even before a sweep records it.
	jobs, err := e.ClaimDeliveries(ctx, op, "test", 1, time.Minute)
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	_, err = e.CompleteDelivery(ctx, op, jobs[0], engine.DeliveryResult{StatusCode: 200})
	require.NoError(t, err)
	env.Clock.Advance(24 * time.Hour)
	after := stats()
	assert.Zero(t, after.ApprovalsPending)
	assert.Equal(t, s.DeliveriesPending-1, after.DeliveriesPending)
	require.NotNil(t, after.OldestPendingDelivery)
	assert.False(t, after.OldestPendingDelivery.Before(queued))

	viewer, err := e.CreateKey(ctx, op, engine.CreateKeyInput{Role: engine.RoleViewer})
	require.NoError(t, err)
	actor, err := e.Authenticate(ctx, viewer.Secret)
	require.NoError(t, err)
	_, err = e.Stats(ctx, actor)
	require.NoError(t, err, "a viewer reads the gauges")
	for _, who := range []engine.Actor{sqlitetest.AgentActor(agent), {Role: engine.RoleNetwork, KeyID: "key_x"},
		{Role: engine.RoleViewer, AgentID: agent.ID}} {
		_, err = e.Stats(ctx, who)
		assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err), "%+v", who)
	}
	_, err = e.Stats(ctx, engine.Actor{})
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err))
}
