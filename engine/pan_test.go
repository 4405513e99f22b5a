package engine_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A card number given where a card id (or text) was expected is treated as
// a card number: looked up as one, never echoed, stored or evented — only
// its last four digits.
func TestCardNumbersGivenAsReferencesAreNeverKept(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_000, noIntent(engine.Policy{}))
	i := env.Reveal(agent, card, 100, "Shop")
	details, err := env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: card.ID, IntentID: i.ID})
	require.NoError(t, err)
	unknown := []string{"4000056655665556", "4000 0566 5566 5556", "4000-0566-5566-5556", "1234567890123456", "123456789012"}
	agentActor := sqlitetest.AgentActor(agent)

	for _, ref := range unknown {
		a, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: ref, Amount: 100, Merchant: engine.Merchant{Name: "Shop"}})
		require.NoError(t, err)
		assert.Equal(t, engine.CodeCardNotFound, a.DeclineCode)
		assert.Equal(t, "No card has that number", a.Reason)
		assert.Empty(t, a.CardID)

		for _, call := range []func() error{
			func() error { _, err := env.Engine.GetCard(env.Ctx, agentActor, ref); return err },
			func() error {
				_, err := env.Engine.FreezeCard(env.Ctx, engine.Operator, engine.CardActionInput{CardID: ref})
				return err
			},
			func() error {
				_, err := env.Engine.RevealCard(env.Ctx, agentActor, engine.RevealInput{CardID: ref})
				return err
			},
			func() error {
				_, err := env.Engine.DeclareIntent(env.Ctx, agentActor, engine.DeclareIntentInput{CardID: ref, Summary: "x", Amount: 100})
				return err
			},
			func() error {
				_, err := items(env.Engine.ListAuthorizations(env.Ctx, engine.Operator, engine.ListAuthorizationsInput{CardID: ref}))
				return err
			},
		} {
			err := call()
			assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
			assert.Contains(t, engine.ErrorMessage(err), "····"+digitsOf(ref)[len(digitsOf(ref))-4:])
			assertNoPAN(t, engine.ErrorMessage(err), ref)
		}
	}
	// The card's own number works where its id does, and is not echoed.
	got, err := env.Engine.GetCard(env.Ctx, agentActor, details.PAN)
	require.NoError(t, err)
	assert.Equal(t, card.ID, got.ID)
	a, err := env.Engine.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: details.PAN, CVV: wrongCVV(details.CVV), Amount: 100,
		Merchant: engine.Merchant{Name: "Shop"}})
	require.NoError(t, err)
	assert.Equal(t, engine.CodeInvalidCVV, a.DeclineCode)
	assert.Equal(t, card.ID, a.CardID)

	// Card numbers written into text are masked before they are kept.
	intent, err := env.Engine.DeclareIntent(env.Ctx, agentActor, engine.DeclareIntentInput{CardID: card.ID,
		Summary: "pay with " + details.PAN + " please", Amount: 100, Merchant: "Shop " + unknown[1]})
	require.NoError(t, err)
	assert.Equal(t, "pay with ····"+details.PAN[12:]+" please", intent.Summary)
	assert.Equal(t, "Shop ····5556", intent.Merchant)
	d, err := env.Engine.PolicyCheck(env.Ctx, agentActor, engine.PolicyCheckInput{Amount: 100, Reason: "card " + details.PAN, Merchant: "Shop"})
	require.NoError(t, err)
	assert.Equal(t, "card ····"+details.PAN[12:], d.AgentReason)
	_, err = env.Engine.CreateUser(env.Ctx, engine.Operator, engine.CreateUserInput{Name: "user " + details.PAN})
	assertInvalid(t, err, "name")
	assertNoPAN(t, engine.ErrorMessage(err), details.PAN)

	// The card's own number as card_id: used as the card, kept as its id,
	// and keyed requests are hashed with the id (a hash of a card number
	// could be brute-forced back to it).
	byNumber, err := env.Engine.DeclareIntent(env.Ctx, agentActor, engine.DeclareIntentInput{CardID: details.PAN, Summary: "x", Amount: 100,
		IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Equal(t, card.ID, byNumber.CardID)
	_, err = env.Engine.DeclareIntent(env.Ctx, agentActor, engine.DeclareIntentInput{CardID: details.PAN, Summary: "x", Amount: 100, Currency: "EUR"})
	assert.Equal(t, engine.CodeCurrencyMismatch, engine.ErrorCode(err))
	assertNoPAN(t, engine.ErrorMessage(err), details.PAN)
	_, err = env.Engine.RevealCard(env.Ctx, agentActor, engine.RevealInput{CardID: details.PAN, IntentID: byNumber.ID, IdempotencyKey: "k2"})
	require.NoError(t, err)
	_, err = env.Engine.FreezeCard(env.Ctx, agentActor, engine.CardActionInput{CardID: details.PAN, IdempotencyKey: "k3"})
	require.NoError(t, err)
	hashOf := func(op string, input any) string {
		raw, err := json.Marshal(input)
		require.NoError(t, err)
		sum := sha256.Sum256(append([]byte(op+"\x00"), raw...))
		return hex.EncodeToString(sum[:])
	}
	keyed := env.Snapshot()
	assert.NotContains(t, keyed, hashOf("card.details", engine.RevealInput{CardID: details.PAN, IntentID: byNumber.ID}))
	assert.Contains(t, keyed, hashOf("card.details", engine.RevealInput{CardID: card.ID, IntentID: byNumber.ID}), "hashed with the id")
	assert.NotContains(t, keyed, hashOf("card.freeze", engine.CardActionInput{CardID: details.PAN}))

	// Nowhere in the database: not in a table, not in the file or its WAL.
	snapshot := env.Snapshot()
	for _, ref := range append(unknown, details.PAN) {
		assertNoPAN(t, snapshot, ref)
		for _, file := range []string{env.Path, env.Path + "-wal"} {
			if env.Path == "" {
				break // PostgreSQL: its files are the server's
			}
			raw, err := os.ReadFile(file)
			if os.IsNotExist(err) {
				continue
			}
			require.NoError(t, err)
			assertNoPAN(t, string(raw), ref)
		}
	}
	env.Verify()
}

func digitsOf(s string) string { return strings.NewReplacer(" ", "", "-", "").Replace(s) }

func assertNoPAN(t *testing.T, text, pan string) {
	t.Helper()
	assert.NotContains(t, text, pan)
	assert.NotContains(t, text, digitsOf(pan))
}

func wrongCVV(cvv string) string {
	if cvv == "000" {
		return "111"
	}
	return "000"
}
