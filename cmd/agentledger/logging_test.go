package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaskCaller(t *testing.T) {
	const id = "card_01a23258-de6d-7000-8448-57827420dd0d" // digits that look like a card number
	for in, want := range map[string]string{
		"/v1/cards/4111111111111111":                            "/v1/cards/····1111",
		"/v1/cards/4111+1111+1111+1111":                         "/v1/cards/····1111",
		"/v1/cards/4111.1111.1111.1111/links":                   "/v1/cards/····1111/links",
		"/v1/cards/" + id:                                       "/v1/cards/" + id,
		"/v1/keys/al_" + strings.Repeat("ab12", 16) + "/revoke": "/v1/keys/al_ab12ab12…/revoke",
		"/v1/agents/buyer":                                      "/v1/agents/buyer",
		"/v1/ledger/2026-12-01":                                 "/v1/ledger/2026-12-01",
	} {
		assert.Equal(t, want, maskCaller(in), in)
	}
}

// Every line goes through the masking handler: a message or value quoting
// a card number or a key is masked, an id is not.
func TestLoggerMasksEveryLine(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		logger, err := newLogger(&out, format, "info")
		require.NoError(t, err)
		const id = "key_01a23258-de6d-7000-8448-57827420dd0d"
		logger.Info("http: panic serving: card 4242424242424242", "err", errors.New("bad key al_"+strings.Repeat("cd", 32)),
			"id", id, "note", "paid with 4242 4242 4242 4242")
		logger.With("pan", "4242424242424242").Warn("with")
		line := out.String()
		assert.NotContains(t, line, "4242424242424242", format)
		assert.NotContains(t, line, "4242 4242 4242 4242", format)
		assert.NotContains(t, line, strings.Repeat("cd", 32), format)
		assert.Contains(t, line, id, format)
	}
}
