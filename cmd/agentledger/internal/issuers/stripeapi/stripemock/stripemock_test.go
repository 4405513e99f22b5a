package stripemock_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/stripeapi/stripemock"
)

func post(t *testing.T, base, path string, form url.Values, idem string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer sk_test_stripemock")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out))
	return resp.StatusCode, out
}

// TestStartAndRecord starts two stripe-mocks at once (each on its own
// ports) and checks that one validates requests against Stripe's schema and
// that the recorder in front of it keeps what was sent.
func TestStartAndRecord(t *testing.T) {
	a := stripemock.Start(t)
	b := stripemock.Start(t)
	require.NotEqual(t, a.URL, b.URL)
	rec := stripemock.NewRecorder(t, a.URL)

	status, card := post(t, rec.URL, "/v1/issuing/cards", url.Values{
		"type": {"virtual"}, "currency": {"usd"}, "cardholder": {"ich_1"},
		"metadata[agentledger_card_id]": {"card_1"},
	}, "agentledger-card-card_1")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "issuing.card", card["object"])

	status, body := post(t, rec.URL, "/v1/issuing/cards/ic_1", url.Values{"status": {"frozen"}}, "")
	require.Equal(t, http.StatusBadRequest, status, "stripe-mock validates enums")
	require.Contains(t, body["error"].(map[string]any)["message"], "status")

	reqs := rec.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "POST", reqs[0].Method)
	require.Equal(t, "/v1/issuing/cards", reqs[0].Path)
	require.Equal(t, "card_1", reqs[0].Param("metadata[agentledger_card_id]"))
	require.Equal(t, "agentledger-card-card_1", reqs[0].IdempotencyKey)
	require.Equal(t, http.StatusOK, reqs[0].Status)
	require.Equal(t, http.StatusBadRequest, reqs[1].Status)
	require.Equal(t, "POST /v1/issuing/cards/ic_1 form[status] -> 400", reqs[1].String(), "String names parameters, not values")

	last, ok := rec.Last()
	require.True(t, ok)
	require.Equal(t, "/v1/issuing/cards/ic_1", last.Path)
	rec.Reset()
	require.Empty(t, rec.Requests())
}

func TestSpecIsStripeMocks(t *testing.T) {
	stripemock.Start(t) // skips, or fails, as Start does when it cannot be had
	path, err := stripemock.Spec()
	require.NoError(t, err)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var spec struct {
		Paths map[string]any `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &spec))
	require.Contains(t, spec.Paths, "/v1/issuing/cards/{card}")
}
