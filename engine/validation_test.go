package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bad input gets a clear error naming the field, and writes nothing.
func TestBadInputNamesTheFieldAndWritesNothing(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(100_000, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(10_000)}})
	env.Reveal(agent, card, 1000, "Shop")
	settled := env.Charge(card, 1000, "Shop", "")
	requireApproved(t, settled)
	e, ctx, op, as := env.Engine, env.Ctx, engine.Operator, sqlitetest.AgentActor(agent)
	long := strings.Repeat("x", 1001)

	cases := []struct {
		name  string
		code  string
		field string
		call  func() error
	}{
		{"user without a name", engine.CodeInvalidInput, "name", func() error {
			_, err := e.CreateUser(ctx, op, engine.CreateUserInput{Name: "  "})
			return err
		}},
		{"user name too long", engine.CodeInvalidInput, "name", func() error {
			_, err := e.CreateUser(ctx, op, engine.CreateUserInput{Name: strings.Repeat("n", 101)})
			return err
		}},
		{"user name that looks like an id", engine.CodeInvalidInput, "name", func() error {
			_, err := e.CreateUser(ctx, op, engine.CreateUserInput{Name: "usr_bob"})
			return err
		}},
		{"user name with a control character", engine.CodeInvalidInput, "name", func() error {
			_, err := e.CreateUser(ctx, op, engine.CreateUserInput{Name: "bob\x07"})
			return err
		}},
		{"user name taken", engine.CodeConflict, "name", func() error {
			_, err := e.CreateUser(ctx, op, engine.CreateUserInput{Name: user.Name})
			return err
		}},
		{"fund zero", engine.CodeInvalidInput, "amount", func() error {
			_, err := e.FundUser(ctx, op, engine.FundInput{User: user.ID, Amount: 0})
			return err
		}},
		{"fund negative", engine.CodeInvalidInput, "amount", func() error {
			_, err := e.FundUser(ctx, op, engine.FundInput{User: user.ID, Amount: -500})
			return err
		}},
		{"fund absurdly much", engine.CodeInvalidInput, "amount", func() error {
			_, err := e.FundUser(ctx, op, engine.FundInput{User: user.ID, Amount: engine.MaxAmount + 1})
			return err
		}},
		{"fund unknown currency", engine.CodeInvalidInput, "currency", func() error {
			_, err := e.FundUser(ctx, op, engine.FundInput{User: user.ID, Amount: 1, Currency: "XYZ"})
			return err
		}},
		{"fund unknown user", engine.CodeNotFound, "user", func() error {
			_, err := e.FundUser(ctx, op, engine.FundInput{User: "usr_nobody", Amount: 1})
			return err
		}},
		{"agent with an unknown mode", engine.CodeInvalidInput, "mode", func() error {
			_, err := e.CreateAgent(ctx, op, engine.CreateAgentInput{Name: "x", User: user.ID, Mode: "turbo"})
			return err
		}},
		{"agent for an unknown user", engine.CodeNotFound, "user", func() error {
			_, err := e.CreateAgent(ctx, op, engine.CreateAgentInput{Name: "x", User: "nobody"})
			return err
		}},
		{"policy with a negative limit", engine.CodeInvalidInput, "daily_limit", func() error {
			_, err := e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(-1)}}})
			return err
		}},
		{"policy with a malformed MCC", engine.CodeInvalidInput, "blocked_mccs", func() error {
			_, err := e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{SpendLimits: engine.SpendLimits{BlockedMCCs: []string{"79"}}}})
			return err
		}},
		{"policy with an absurd tolerance", engine.CodeInvalidInput, "intent_tolerance_pct", func() error {
			_, err := e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{IntentTolerancePct: ptr(500)}})
			return err
		}},
		{"policy reviewing above its decline score", engine.CodeInvalidInput, "risk_review_score", func() error {
			_, err := e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{RiskReviewScore: ptr(90), RiskDeclineScore: ptr(50)}})
			return err
		}},
		{"policy with zero velocity", engine.CodeInvalidInput, "velocity.count", func() error {
			_, err := e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{SpendLimits: engine.SpendLimits{Velocity: &engine.Velocity{WindowSeconds: 60}}}})
			return err
		}},
		{"policy in an unknown currency", engine.CodeInvalidInput, "currency", func() error {
			_, err := e.SetPolicy(ctx, op, engine.SetPolicyInput{Agent: agent.ID, Policy: engine.Policy{Currency: "DOLLAR"}})
			return err
		}},
		{"card of an unknown type", engine.CodeInvalidInput, "type", func() error {
			_, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID, Type: "prepaid"})
			return err
		}},
		{"card looser than its policy", engine.CodeInvalidInput, "limits.daily_limit", func() error {
			_, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID, Limits: engine.SpendLimits{DailyLimit: ptr(20_000)}})
			return err
		}},
		{"card in another currency than its policy", engine.CodeInvalidInput, "currency", func() error {
			_, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID, Currency: "EUR"})
			return err
		}},
		{"card with a long purpose", engine.CodeInvalidInput, "purpose", func() error {
			_, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: agent.ID, Purpose: long})
			return err
		}},
		{"card for an unknown agent", engine.CodeNotFound, "agent_id", func() error {
			_, err := e.CreateCard(ctx, op, engine.CreateCardInput{Agent: "agt_nobody"})
			return err
		}},
		{"intent of zero", engine.CodeInvalidInput, "amount", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Summary: "x", Amount: 0})
			return err
		}},
		{"intent without a summary", engine.CodeInvalidInput, "summary", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Amount: 100})
			return err
		}},
		{"intent with an over-long summary", engine.CodeInvalidInput, "summary", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Summary: long, Amount: 100})
			return err
		}},
		{"intent with a bad MCC", engine.CodeInvalidInput, "mcc", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Summary: "x", Amount: 100, MCC: "abcd"})
			return err
		}},
		{"intent in an unknown currency", engine.CodeInvalidInput, "currency", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Summary: "x", Amount: 100, Currency: "ZZZ"})
			return err
		}},
		{"intent for an unknown card", engine.CodeNotFound, "card_id", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Summary: "x", Amount: 100, CardID: "card_nope"})
			return err
		}},
		{"intent expiring too soon", engine.CodeInvalidInput, "expires_in_seconds", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Summary: "x", Amount: 100, ExpiresInSeconds: 5})
			return err
		}},
		{"charge of a negative amount", engine.CodeInvalidInput, "amount", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, Amount: -100, Merchant: engine.Merchant{Name: "Shop"}})
			return err
		}},
		{"charge in an unknown currency", engine.CodeInvalidInput, "currency", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, Amount: 100, Currency: "DOLLARS", Merchant: engine.Merchant{Name: "Shop"}})
			return err
		}},
		{"charge without a merchant", engine.CodeInvalidInput, "merchant.name", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, Amount: 100})
			return err
		}},
		{"charge with an over-long merchant", engine.CodeInvalidInput, "merchant.name", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, Amount: 100, Merchant: engine.Merchant{Name: long}})
			return err
		}},
		{"charge with a bad MCC", engine.CodeInvalidInput, "merchant.mcc", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, Amount: 100, Merchant: engine.Merchant{Name: "Shop", MCC: "12345"}})
			return err
		}},
		{"charge with a bad country", engine.CodeInvalidInput, "merchant.country", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, Amount: 100, Merchant: engine.Merchant{Name: "Shop", Country: "U.S."}})
			return err
		}},
		{"charge with a malformed CVV", engine.CodeInvalidInput, "cvv", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{CardID: card.ID, CVV: "1a", Amount: 100, Merchant: engine.Merchant{Name: "Shop"}})
			return err
		}},
		{"charge with a malformed PAN", engine.CodeInvalidInput, "pan", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{PAN: "4242", Amount: 100, Merchant: engine.Merchant{Name: "Shop"}})
			return err
		}},
		{"charge without a card", engine.CodeInvalidInput, "card_id", func() error {
			_, err := e.Authorize(ctx, op, engine.AuthorizeInput{Amount: 100, Merchant: engine.Merchant{Name: "Shop"}})
			return err
		}},
		{"policy check of zero", engine.CodeInvalidInput, "amount", func() error {
			_, err := e.PolicyCheck(ctx, as, engine.PolicyCheckInput{Amount: 0})
			return err
		}},
		{"policy check with an over-long reason", engine.CodeInvalidInput, "reason", func() error {
			_, err := e.PolicyCheck(ctx, as, engine.PolicyCheckInput{Amount: 1, Reason: long})
			return err
		}},
		{"settle zero", engine.CodeInvalidInput, "amount", func() error {
			_, err := e.Settle(ctx, op, engine.SettleInput{AuthorizationID: settled.ID, Amount: ptr(0)})
			return err
		}},
		{"settle an unknown authorization", engine.CodeNotFound, "authorization_id", func() error {
			_, err := e.Settle(ctx, op, engine.SettleInput{AuthorizationID: "txn_nope"})
			return err
		}},
		{"refund an unknown authorization", engine.CodeNotFound, "authorization_id", func() error {
			_, err := e.Refund(ctx, op, engine.RefundInput{AuthorizationID: "txn_nope"})
			return err
		}},
		{"freeze an unknown card", engine.CodeNotFound, "card_id", func() error {
			_, err := e.FreezeCard(ctx, op, engine.CardActionInput{CardID: "card_nope"})
			return err
		}},
		{"approve an unknown decision", engine.CodeNotFound, "decision_id", func() error {
			_, err := e.Approve(ctx, op, engine.DecideInput{DecisionID: "dec_nope"})
			return err
		}},
		{"an over-long idempotency key", engine.CodeInvalidInput, "idempotency_key", func() error {
			_, err := e.FundUser(ctx, op, engine.FundInput{User: user.ID, Amount: 1, IdempotencyKey: strings.Repeat("k", 300)})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := env.Snapshot()
			err := tc.call()
			require.Error(t, err)
			var ee *engine.Error
			require.True(t, errors.As(err, &ee), "not an engine error: %v", err)
			assert.Equal(t, tc.code, ee.Code, ee.Message)
			assert.Equal(t, tc.field, ee.Field)
			assert.True(t, strings.HasPrefix(ee.Message, tc.field+":"), "message %q should start with the field", ee.Message)
			assert.Equal(t, before, env.Snapshot(), "nothing may be written")
		})
	}
}
