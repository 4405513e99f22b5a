package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A delivery signed at t=1800000000 with the secret whsec_x (the signature
// computed independently, with Python's hmac module). The same receiver is
// driven by agentledger's own sender in cmd/agentledger's process tests.
var (
	body      = []byte(`{"id":"evt_1","type":"card.frozen","created_at":"2026-03-11T12:00:00Z","data":{"id":"card_1"}}`)
	signedAt  = time.Unix(1_800_000_000, 0)
	signature = "t=1800000000,v1=6da85e467e0d7bd7292b65d91b99e4a66f0a7a6dcff2b4eab0208b82fef2736e"
	otherKey  = "t=1800000000,v1=e7e065255b0ed179af170a915fad3c2a7158991d43116102dc5735d8e2c83f12"
)

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		want   bool
	}{
		{"signed", signature, body, signedAt.Add(10 * time.Second), true},
		{"other secret", otherKey, body, signedAt, false},
		{"tampered", signature, bytes.ToUpper(body), signedAt, false},
		{"replayed an hour later", signature, body, signedAt.Add(time.Hour), false},
		{"unsigned", "", body, signedAt, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, verify("whsec_x", tc.header, tc.body, tc.now))
		})
	}
}

func TestHandlerRefusesWhatDoesNotVerify(t *testing.T) {
	var out strings.Builder
	req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(body))
	req.Header.Set("X-Agentledger-Signature", signature) // signed long ago: a replay now
	rec := httptest.NewRecorder()
	handler("whsec_x", &out).ServeHTTP(rec, req)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Empty(t, out.String())
}
