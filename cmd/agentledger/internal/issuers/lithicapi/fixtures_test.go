package lithicapi

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi/lithictest"
	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// strict decodes b into v refusing fields v does not have.
func strict(t *testing.T, b []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	require.NoError(t, d.Decode(v))
}

// TestFixturesDecodeIntoTheClientTypes holds the client's types to Lithic's
// reference examples: every field of every example has a place, and the
// values arrive.
func TestFixturesDecodeIntoTheClientTypes(t *testing.T) {
	for _, name := range []string{"create_card.response.json", "get_card.response.json", "update_card.response.json"} {
		t.Run(name, func(t *testing.T) {
			var c pciCard
			strict(t, lithictest.Fixture(name), &c)
			assert.NotEmpty(t, c.Token)
			assert.Len(t, c.PAN, 16)
			assert.Len(t, c.CVV, 3)
			assert.Len(t, c.LastFour, 4) // the update example's (4938) is not its PAN's
			assert.NotEmpty(t, c.State)
			assert.NotEmpty(t, c.SpendLimitDuration)
			assert.Positive(t, c.SpendLimit)
			require.NotNil(t, c.Funding)
			assert.NotEmpty(t, c.Funding.Token)
			issued, err := issued(&c.Card)
			require.NoError(t, err)
			assert.Equal(t, engine.CardActive, issued.Status)
			assert.Equal(t, 2027, issued.ExpYear)
		})
	}
	t.Run("list_cards.response.json", func(t *testing.T) {
		var p CardPage
		strict(t, lithictest.Fixture("list_cards.response.json"), &p)
		require.Len(t, p.Data, 1)
		assert.NotEmpty(t, p.Data[0].Token)
		assert.False(t, p.HasMore)
	})
	t.Run("error.response.json", func(t *testing.T) {
		var e errorBody
		strict(t, lithictest.Fixture("error.response.json"), &e)
		assert.NotEmpty(t, e.DebuggingRequestID)
		assert.NotEmpty(t, e.Message)
	})
	t.Run("requests", func(t *testing.T) {
		var create CreateCardParams
		strict(t, lithictest.Fixture("create_card.request.json"), &create)
		assert.Equal(t, TypeVirtual, create.Type)
		require.NotNil(t, create.SpendLimit)
		var update UpdateCardParams
		strict(t, lithictest.Fixture("update_card.request.json"), &update)
		assert.Equal(t, DurationForever, update.SpendLimitDuration)
	})
}

// TestUUIDv5 checks the name-based UUIDs against RFC 9562's own example
// (the DNS namespace, "www.example.com").
func TestUUIDv5(t *testing.T) {
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	assert.Equal(t, "2ed6657d-e927-568b-95e1-2665a8aea6a2", uuidV5(dns, "www.example.com"))
	a, b := IdempotencyKey("card_a"), IdempotencyKey("card_b")
	assert.Equal(t, a, IdempotencyKey("card_a"))
	assert.NotEqual(t, a, b)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a)
}

func TestRedact(t *testing.T) {
	c := &Client{key: "sk_live_0123456789"}
	assert.Equal(t, "key [api key], card [card number], [card number] and 42",
		c.redact("key sk_live_0123456789, card 4111111289144142, 4111 1112 8914 4142 and 42"))
}
