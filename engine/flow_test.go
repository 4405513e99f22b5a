package engine_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The flow of the seed documents: create card → details fails "Declare
// intent first" → declare → details → a matching charge is approved and
// the intent matched; a non-matching one is declined and mismatched.
func TestSeedFlow(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(100_000, engine.Policy{})
	actor := sqlitetest.AgentActor(agent)

	card, err := env.Engine.CreateCard(env.Ctx, actor, engine.CreateCardInput{Purpose: "Buy headphones"})
	require.NoError(t, err)

	_, err = env.Engine.RevealCard(env.Ctx, actor, engine.RevealInput{CardID: card.ID})
	require.Error(t, err)
	assert.Equal(t, engine.CodeIntentRequired, engine.ErrorCode(err))
	assert.Contains(t, engine.ErrorMessage(err), "Declare intent first")

	intent, err := env.Engine.DeclareIntent(env.Ctx, actor, engine.DeclareIntentInput{Summary: "Buy headphones", Amount: 9999, Merchant: "Amazon"})
	require.NoError(t, err)
	assert.Equal(t, engine.IntentPending, intent.Status)

	details, err := env.Engine.RevealCard(env.Ctx, actor, engine.RevealInput{CardID: card.ID})
	require.NoError(t, err)
	assert.Len(t, details.PAN, 16)
	assert.True(t, engine.LuhnValid(details.PAN))
	assert.Len(t, details.CVV, 3)
	assert.Equal(t, intent.ID, details.IntentID)

	auth, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{
		PAN: details.PAN, CVV: details.CVV, Amount: 9999, Currency: "USD", Merchant: engine.Merchant{Name: "AMAZON.COM*A1B2", MCC: "5732"},
	})
	require.NoError(t, err)
	assert.Equal(t, engine.AuthApproved, auth.Status, auth.Reason)
	assert.Equal(t, intent.ID, auth.IntentID)

	got, err := env.Engine.GetIntent(env.Ctx, actor, intent.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.IntentMatched, got.Status)

	second := env.Reveal(agent, card, 5000, "Best Buy")
	auth, err = env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{
		CardID: card.ID, Amount: 5000, Currency: "USD", Merchant: engine.Merchant{Name: "Newegg"},
	})
	require.NoError(t, err)
	assert.Equal(t, engine.AuthDeclined, auth.Status)
	assert.Equal(t, engine.CodeIntentMismatch, auth.DeclineCode)
	got, err = env.Engine.GetIntent(env.Ctx, actor, second.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.IntentMismatched, got.Status)
	env.Verify()
}
