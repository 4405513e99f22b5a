package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreezeEveryCard(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("acme", 100_00)
	agent := env.Agent("bot", u, engine.Policy{})
	other := env.Agent("other", u, engine.Policy{})
	a, frozen, closed, theirs := env.Card(agent), env.Card(agent), env.Card(agent), env.Card(other)
	_, err := env.Engine.CloseCard(env.Ctx, engine.Operator, engine.CardActionInput{CardID: closed.ID})
	require.NoError(t, err)
	_, err = env.Engine.FreezeCard(env.Ctx, sqlitetest.AgentActor(agent), engine.CardActionInput{CardID: frozen.ID})
	require.NoError(t, err)
	get := func(c *engine.Card) *engine.Card {
		got, err := env.Engine.GetCard(env.Ctx, engine.Operator, c.ID)
		require.NoError(t, err)
		return got
	}
	frozenEvents := func() []string {
		l, err := env.Engine.ListEvents(env.Ctx, engine.Operator, engine.ListEventsInput{Type: engine.EventCardFrozen})
		require.NoError(t, err)
		var ids []string
		for _, ev := range l.Items {
			var c engine.Card
			require.NoError(t, json.Unmarshal(ev.Data, &c))
			ids = append(ids, c.ID)
		}
		return ids
	}
	require.Equal(t, []string{frozen.ID}, frozenEvents())

	_, err = env.Engine.FreezeAllCards(env.Ctx, engine.Actor{Role: engine.RoleViewer}, engine.FreezeAllCardsInput{})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err))
	_, err = env.Engine.FreezeAllCards(env.Ctx, sqlitetest.AgentActor(agent), engine.FreezeAllCardsInput{})
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err), "an agent may not freeze another agent's cards")
	assert.Equal(t, engine.CardActive, get(a).Status, "a refused call changed nothing")

	open, err := env.Engine.FreezeAllCards(env.Ctx, engine.Operator, engine.FreezeAllCardsInput{IdempotencyKey: "stop"})
	require.NoError(t, err)
	var ids []string
	for _, c := range open {
		ids = append(ids, c.ID)
		assert.Equal(t, engine.CardFrozen, c.Status)
	}
	assert.ElementsMatch(t, []string{a.ID, frozen.ID, theirs.ID}, ids, "every card not closed, of every agent")
	assert.Equal(t, engine.CardFrozen, get(theirs).Status, "another agent's card too")
	assert.Equal(t, engine.Operator.String(), get(theirs).FrozenBy)
	assert.Equal(t, "agent:"+agent.ID, get(frozen).FrozenBy, "a frozen card keeps who froze it")
	closedNow := get(closed)
	assert.Equal(t, engine.CardClosed, closedNow.Status, "a closed card is untouched")
	assert.Empty(t, closedNow.FrozenBy)
	assert.ElementsMatch(t, []string{frozen.ID, a.ID, theirs.ID}, frozenEvents(), "one card.frozen per card that changed")

	again, err := env.Engine.FreezeAllCards(env.Ctx, engine.Operator, engine.FreezeAllCardsInput{IdempotencyKey: "stop"})
	require.NoError(t, err)
	assert.Len(t, again, 3, "a retry returns the first answer")
	_, err = env.Engine.FreezeAllCards(env.Ctx, engine.Operator, engine.FreezeAllCardsInput{})
	require.NoError(t, err, "freezing frozen cards changes nothing")
	assert.Len(t, frozenEvents(), 3, "and emits nothing")
}
