package sqlite_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The writer keeps the webhook subscriptions in memory, so that an event
// nobody subscribes to writes no delivery and costs no statement. An
// endpoint added or removed by another process (the CLI beside a server),
// or by the writer itself, counts from the next commit on, as it did when
// every commit read the endpoints.
func TestSubscriptionsFollowEveryProcess(t *testing.T) {
	server := sqlitetest.New(t)
	_, _, card := server.Setup(1_000_000, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	cli := server.Reopen(engine.Options{})
	deliveries := func(env *sqlitetest.Env, endpoint string) []string {
		t.Helper()
		list, err := env.Engine.ListDeliveries(env.Ctx, engine.Operator, engine.ListDeliveriesInput{EndpointID: endpoint})
		require.NoError(t, err)
		var types []string
		for _, d := range list.Items {
			types = append(types, d.EventType+" "+d.Status)
		}
		return types
	}
	add := func(env *sqlitetest.Env, events ...string) string {
		t.Helper()
		w, err := env.Engine.AddWebhook(env.Ctx, engine.Operator,
			engine.AddWebhookInput{URL: "https://example.com/hook", Events: events})
		require.NoError(t, err)
		return w.ID
	}
	remove := func(env *sqlitetest.Env, id string) {
		t.Helper()
		_, err := env.Engine.RemoveWebhook(env.Ctx, engine.Operator, engine.RemoveWebhookInput{EndpointID: id})
		require.NoError(t, err)
	}

	server.Charge(card, 100, "Coffee", "") // the server's writer now knows there is no endpoint

	every := add(cli, nil...)
	server.Charge(card, 100, "Coffee", "")
	assert.Equal(t, []string{"transaction.authorized pending"}, deliveries(server, every),
		"an endpoint another process added is sent the server's next event")

	closed := add(cli, engine.EventCardClosed)
	remove(cli, every)
	server.Charge(card, 100, "Coffee", "")
	assert.Equal(t, []string{"transaction.authorized cancelled"}, deliveries(server, every),
		"an endpoint another process removed is sent nothing more")
	assert.Empty(t, deliveries(server, closed), "nor is one subscribed to other events")

	_, err := server.Engine.CloseCard(server.Ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
	require.NoError(t, err)
	assert.Equal(t, []string{"card.closed pending"}, deliveries(server, closed))

	// The server's own changes count at once.
	agent := server.Agent("other", server.User("other", 0), engine.Policy{})
	mine := add(server, engine.EventCardCreated)
	server.Card(agent)
	assert.Equal(t, []string{"card.created pending"}, deliveries(server, mine))
	remove(cli, mine)
	server.Card(agent)
	assert.Equal(t, []string{"card.created cancelled"}, deliveries(server, mine))
}
