package main

import (
	"fmt"
	"strings"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi"
	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/stripeapi"
	"github.com/agentledger/agentledger/engine"
)

// cardIssuers are the real issuers' APIs the environment configures, for
// every command: provisioning, state changes, reveals and issuer sync.
func (a *app) cardIssuers() ([]engine.CardIssuer, error) {
	var out []engine.CardIssuer
	if key := strings.TrimSpace(a.getenv("AGENTLEDGER_STRIPE_API_KEY")); key != "" {
		address, err := stripeapi.ParseBillingAddress(a.getenv("AGENTLEDGER_STRIPE_BILLING_ADDRESS"))
		if err != nil {
			return nil, err
		}
		c, err := stripeapi.New(stripeapi.Config{APIKey: key, APIBase: a.getenv("AGENTLEDGER_STRIPE_API_BASE"),
			BillingAddress: address})
		if err != nil {
			return nil, fmt.Errorf("AGENTLEDGER_STRIPE_API_KEY/AGENTLEDGER_STRIPE_API_BASE: %w", err)
		}
		out = append(out, c)
	}
	if key := strings.TrimSpace(a.getenv("AGENTLEDGER_LITHIC_API_KEY")); key != "" {
		c, err := lithicapi.New(lithicapi.Config{APIKey: key, APIBase: a.getenv("AGENTLEDGER_LITHIC_API_BASE")})
		if err != nil {
			return nil, fmt.Errorf("AGENTLEDGER_LITHIC_API_KEY/AGENTLEDGER_LITHIC_API_BASE: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}
