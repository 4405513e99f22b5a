package lithicapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/issuerflow"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi/lithictest"
	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/require"
)

// agentledger as the control plane of Lithic cards, end to end through MCP,
// against the Lithic test server.
func TestLithicFlow(t *testing.T) {
	var srv *lithictest.Server
	states := map[string]string{"OPEN": engine.CardActive, "PAUSED": engine.CardFrozen, "CLOSED": engine.CardClosed}
	issuerflow.Run(t, issuerflow.Issuer{
		Name: engine.IssuerLithic,
		New: func(t testing.TB, base string, hc *http.Client) engine.CardIssuer {
			c, err := lithicapi.New(lithicapi.Config{APIKey: lithictest.APIKey, APIBase: base, HTTPClient: hc})
			require.NoError(t, err)
			return c
		},
		Target:    "", // set per world below
		CardsPath: "/v1/cards",
		NumberFetch: func(r issuerflow.Request) bool {
			return r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/v1/cards/")
		},
		Status: func(token string) string {
			c, _ := srv.Card(token)
			return states[c.State]
		},
		OpenCards: func() int {
			open := 0
			for _, c := range srv.Cards() {
				if c.State != "CLOSED" {
					open++
				}
			}
			return open
		},
	}.With(func(t testing.TB) string {
		srv = lithictest.New(t)
		return srv.URL
	}))
}
