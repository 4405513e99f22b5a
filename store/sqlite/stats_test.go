package sqlite_test

import (
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The gauges' reads count what is in play: approvals still open at the
// time asked, pending deliveries and the head of their queue, the issuer
// queue's entries.
func TestStatsReads(t *testing.T) {
	env := sqlitetest.New(t)
	e, op, ctx := env.Engine, engine.Operator, env.Ctx
	view := func(fn func(tx engine.Tx) error) {
		t.Helper()
		require.NoError(t, env.DB.View(ctx, fn))
	}
	count := func(at time.Time) (n int64) {
		t.Helper()
		view(func(tx engine.Tx) (err error) { n, err = tx.CountPendingApprovals(at); return err })
		return n
	}
	pending := func() (n int64, oldest *time.Time) {
		t.Helper()
		view(func(tx engine.Tx) (err error) { n, oldest, err = tx.PendingDeliveries(); return err })
		return n, oldest
	}

	n, oldest := pending()
	assert.Zero(t, n)
	assert.Nil(t, oldest)
	_, err := e.AddWebhook(ctx, op, engine.AddWebhookInput{URL: "https://hooks.example.com/in"})
	require.NoError(t, err)
	first := env.Clock.Now()
	_, agent, _ := env.Setup(100_00, engine.Policy{ApprovalThreshold: sqlitetest.Ptr[int64](10_00)})
	var checks []*engine.Decision
	for range 3 {
		env.Clock.Advance(time.Second)
		d, err := e.PolicyCheck(ctx, op, engine.PolicyCheckInput{Agent: agent.ID, Amount: 20_00, Merchant: "Dell"})
		require.NoError(t, err)
		require.Equal(t, engine.ApprovalPending, d.ApprovalStatus)
		checks = append(checks, d)
	}
	_, err = e.Approve(ctx, op, engine.DecideInput{DecisionID: checks[0].ID})
	require.NoError(t, err)
	now := env.Clock.Now()
	assert.Equal(t, int64(2), count(now), "the approved one is no longer waiting")
	last := *checks[2].ApprovalExpiresAt
	assert.Equal(t, int64(1), count(last.Add(-time.Microsecond)), "the second has lapsed")
	assert.Zero(t, count(last), "lapsed at its expiry, as the engine has it")

	page, err := e.ListDeliveries(ctx, op, engine.ListDeliveriesInput{Status: engine.DeliveryPending,
		Page: engine.Page{Limit: 100}})
	require.NoError(t, err)
	require.False(t, page.HasMore)
	list := page.Items // newest event first
	n, oldest = pending()
	assert.Equal(t, int64(len(list)), n)
	require.NotNil(t, oldest)
	assert.True(t, oldest.Equal(first), "%s, not %s", oldest, first)
	jobs, err := e.ClaimDeliveries(ctx, op, "test", 10, time.Minute)
	require.NoError(t, err)
	require.Len(t, jobs, 1, "one endpoint: its head")
	_, err = e.CompleteDelivery(ctx, op, jobs[0], engine.DeliveryResult{StatusCode: 204})
	require.NoError(t, err)
	after, next := pending()
	assert.Equal(t, n-1, after)
	require.NotNil(t, next)
	assert.True(t, next.Equal(list[len(list)-2].CreatedAt), "the next event's delivery heads the queue")

	view(func(tx engine.Tx) error {
		n, err := tx.CountIssuerSync()
		assert.Zero(t, n)
		return err
	})
	for _, card := range []string{"card_a", "card_b", "card_a"} {
		require.NoError(t, env.DB.Update(ctx, func(tx engine.Tx) error {
			return tx.QueueIssuerSync(&engine.IssuerSync{CardID: card, Issuer: engine.IssuerStripe, Version: card + now.String(),
				NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
		}))
	}
	view(func(tx engine.Tx) error {
		n, err := tx.CountIssuerSync()
		assert.Equal(t, int64(2), n, "one entry a card")
		return err
	})
}
