package engine_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreezeAndUnfreeze(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(10_000, engine.Policy{})
	me := sqlitetest.AgentActor(agent)
	cardAction := engine.CardActionInput{CardID: card.ID}

	c, err := env.Engine.FreezeCard(env.Ctx, me, cardAction)
	require.NoError(t, err)
	assert.Equal(t, engine.CardFrozen, c.Status)
	assert.Equal(t, "agent:"+agent.ID, c.FrozenBy)
	c, err = env.Engine.UnfreezeCard(env.Ctx, me, cardAction)
	require.NoError(t, err, "an agent may unfreeze a card it froze")
	assert.Equal(t, engine.CardActive, c.Status)
	assert.Empty(t, c.FrozenBy)

	c, err = env.Engine.FreezeCard(env.Ctx, engine.Operator, cardAction)
	require.NoError(t, err)
	assert.Equal(t, "operator", c.FrozenBy)
	_, err = env.Engine.UnfreezeCard(env.Ctx, me, cardAction)
	assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(err), "but not one an operator froze")
	c, err = env.Engine.UnfreezeCard(env.Ctx, engine.Operator, cardAction)
	require.NoError(t, err)
	assert.Equal(t, engine.CardActive, c.Status)

	c, err = env.Engine.CloseCard(env.Ctx, me, cardAction)
	require.NoError(t, err)
	assert.Equal(t, engine.CardClosed, c.Status)
	assert.Equal(t, "agent:"+agent.ID, c.ClosedBy)
	_, err = env.Engine.FreezeCard(env.Ctx, engine.Operator, cardAction)
	assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err), "closed is final")
	_, err = env.Engine.UnfreezeCard(env.Ctx, engine.Operator, cardAction)
	assert.Equal(t, engine.CodeInvalidState, engine.ErrorCode(err))
	_, err = env.Engine.RevealCard(env.Ctx, me, engine.RevealInput{CardID: card.ID})
	assert.Equal(t, engine.CodeCardCancelled, engine.ErrorCode(err))
}

func TestCardIssuing(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(10_000, engine.Policy{})
	assert.Equal(t, engine.CardMultiUse, card.Type)
	assert.Equal(t, engine.CardActive, card.Status)
	assert.Equal(t, "USD", card.Currency)
	assert.Equal(t, sqlitetest.Epoch.Year()+3, card.ExpYear)

	// The PAN is Luhn-valid on the test BIN, and never part of the card.
	env.Reveal(agent, card, 100, "")
	d, err := env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: card.ID})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(d.PAN, engine.TestBIN))
	assert.True(t, engine.LuhnValid(d.PAN))
	assert.Equal(t, card.Last4, d.PAN[12:])
	raw, err := json.Marshal(card)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), d.PAN)
	assert.NotContains(t, env.Snapshot(), d.PAN, "the PAN is encrypted at rest")

	// No card for a user who has not passed KYC, or for a disabled agent.
	pending, err := env.Engine.CreateUser(env.Ctx, engine.Operator, engine.CreateUserInput{Name: "pending"})
	require.NoError(t, err)
	other := env.Agent("other", pending, engine.Policy{})
	_, err = env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: other.ID})
	assert.Equal(t, engine.CodeKYCRequired, engine.ErrorCode(err))
	_, err = env.Engine.SetAgentMode(env.Ctx, engine.Operator, engine.SetModeInput{Agent: agent.ID, Mode: engine.ModeDisabled})
	require.NoError(t, err)
	_, err = env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID})
	assert.Equal(t, engine.CodeAgentDisabled, engine.ErrorCode(err))
	_ = user
}

func TestCardLimitsMayNotBeLooserThanThePolicy(t *testing.T) {
	policy := engine.Policy{SpendLimits: engine.SpendLimits{
		PerTransactionLimit: ptr(5_000), DailyLimit: ptr(10_000), MaxTransactionsPerDay: ptr(5),
		AllowedMCCs: []string{"5734", "7372"}, AllowedMerchants: []string{"amazon"},
		Velocity: &engine.Velocity{Count: 3, WindowSeconds: 60},
	}}
	cases := []struct {
		name   string
		limits engine.SpendLimits
		field  string // "" when allowed
	}{
		{"tighter amounts", engine.SpendLimits{PerTransactionLimit: ptr(1_000), DailyLimit: ptr(2_000)}, ""},
		{"equal amounts", engine.SpendLimits{PerTransactionLimit: ptr(5_000)}, ""},
		{"a limit the policy lacks", engine.SpendLimits{LifetimeLimit: ptr(1_000_000)}, ""},
		{"looser per-transaction", engine.SpendLimits{PerTransactionLimit: ptr(5_001)}, "limits.per_transaction_limit"},
		{"looser daily", engine.SpendLimits{DailyLimit: ptr(20_000)}, "limits.daily_limit"},
		{"more transactions a day", engine.SpendLimits{MaxTransactionsPerDay: ptr(6)}, "limits.max_transactions_per_day"},
		{"a faster velocity", engine.SpendLimits{Velocity: &engine.Velocity{Count: 10, WindowSeconds: 60}}, "limits.velocity"},
		{"more spends over a longer window", engine.SpendLimits{Velocity: &engine.Velocity{Count: 100, WindowSeconds: 61}}, "limits.velocity"},
		{"more spends over any window", engine.SpendLimits{Velocity: &engine.Velocity{Count: 4, WindowSeconds: 3600}}, "limits.velocity"},
		{"the same count over a shorter window", engine.SpendLimits{Velocity: &engine.Velocity{Count: 3, WindowSeconds: 30}}, "limits.velocity"},
		{"many more spends over a much shorter window", engine.SpendLimits{Velocity: &engine.Velocity{Count: 500, WindowSeconds: 1}}, "limits.velocity"},
		{"fewer spends over the same window", engine.SpendLimits{Velocity: &engine.Velocity{Count: 2, WindowSeconds: 60}}, ""},
		{"the same count over a longer window", engine.SpendLimits{Velocity: &engine.Velocity{Count: 3, WindowSeconds: 600}}, ""},
		{"a narrower MCC allow-list", engine.SpendLimits{AllowedMCCs: []string{"7372"}}, ""},
		{"an MCC the policy does not allow", engine.SpendLimits{AllowedMCCs: []string{"7995"}}, "limits.allowed_mccs"},
		{"a narrower merchant allow-list", engine.SpendLimits{AllowedMerchants: []string{"Amazon Web Services"}}, ""},
		{"a merchant the policy does not allow", engine.SpendLimits{AllowedMerchants: []string{"eBay"}}, "limits.allowed_merchants"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			agent := env.Agent("a", env.User("u", 0), policy)
			_, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID, Limits: tc.limits})
			if tc.field == "" {
				assert.NoError(t, err)
				return
			}
			var ee *engine.Error
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tc.field, ee.Field, ee.Message)
			assert.Contains(t, ee.Message, "the agent's policy")
		})
	}
}

// An agent never sees or touches another agent's objects: to it they do not
// exist.
func TestAgentsCannotSeeEachOther(t *testing.T) {
	env := sqlitetest.New(t)
	user := env.User("u", 100_000)
	alice := env.Agent("alice", user, engine.Policy{})
	bob := env.Agent("bob", user, engine.Policy{})
	card := env.Card(alice)
	intent := env.Reveal(alice, card, 1000, "Shop")
	decision := check(t, env, alice, engine.PolicyCheckInput{Amount: 100})
	auth := env.Charge(card, 1000, "Shop", "")
	requireApproved(t, auth)
	as := sqlitetest.AgentActor(bob)
	e, ctx := env.Engine, env.Ctx

	notFound := []struct {
		name string
		call func() error
	}{
		{"get agent", func() error { _, err := e.GetAgent(ctx, as, alice.ID); return err }},
		{"get card", func() error { _, err := e.GetCard(ctx, as, card.ID); return err }},
		{"list another's cards", func() error { _, err := items(e.ListCards(ctx, as, alice.ID, engine.Page{})); return err }},
		{"reveal", func() error { _, err := e.RevealCard(ctx, as, engine.RevealInput{CardID: card.ID}); return err }},
		{"freeze", func() error { _, err := e.FreezeCard(ctx, as, engine.CardActionInput{CardID: card.ID}); return err }},
		{"unfreeze", func() error { _, err := e.UnfreezeCard(ctx, as, engine.CardActionInput{CardID: card.ID}); return err }},
		{"close", func() error { _, err := e.CloseCard(ctx, as, engine.CardActionInput{CardID: card.ID}); return err }},
		{"card transactions", func() error {
			_, err := items(e.ListAuthorizations(ctx, as, engine.ListAuthorizationsInput{CardID: card.ID}))
			return err
		}},
		{"get authorization", func() error { _, err := e.GetAuthorization(ctx, as, auth.ID); return err }},
		{"declare on another's card", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{CardID: card.ID, Summary: "x", Amount: 1})
			return err
		}},
		{"declare as another", func() error {
			_, err := e.DeclareIntent(ctx, as, engine.DeclareIntentInput{Agent: alice.ID, Summary: "x", Amount: 1})
			return err
		}},
		{"get intent", func() error { _, err := e.GetIntent(ctx, as, intent.ID); return err }},
		{"list another's intents", func() error {
			_, err := items(e.ListIntents(ctx, as, engine.ListIntentsInput{Agent: alice.ID}))
			return err
		}},
		{"cancel intent", func() error {
			_, err := e.CancelIntent(ctx, as, engine.CancelIntentInput{IntentID: intent.ID})
			return err
		}},
		{"get decision", func() error { _, err := e.GetDecision(ctx, as, decision.ID); return err }},
		{"execute decision", func() error {
			_, err := e.ExecuteDecision(ctx, as, engine.ExecuteInput{DecisionID: decision.ID})
			return err
		}},
		{"policy check as another", func() error {
			_, err := e.PolicyCheck(ctx, as, engine.PolicyCheckInput{Agent: alice.ID, Amount: 1})
			return err
		}},
		{"limits of another", func() error { _, err := e.Limits(ctx, as, alice.ID); return err }},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			before := env.Snapshot()
			err := tc.call()
			assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), "%v", err)
			assert.Equal(t, before, env.Snapshot())
		})
	}

	// Listings simply leave the other agent out.
	cards, err := items(e.ListCards(ctx, as, "", engine.Page{}))
	require.NoError(t, err)
	assert.Empty(t, cards)
	intents, err := items(e.ListIntents(ctx, as, engine.ListIntentsInput{}))
	require.NoError(t, err)
	assert.Empty(t, intents)
	auths, err := items(e.ListAuthorizations(ctx, as, engine.ListAuthorizationsInput{}))
	require.NoError(t, err)
	assert.Empty(t, auths)
	agents, err := items(e.ListAgents(ctx, as, "", engine.Page{}))
	require.NoError(t, err)
	require.Len(t, agents, 1)
	assert.Equal(t, bob.ID, agents[0].ID)
}

// Operator-only calls are forbidden to agent and viewer keys; viewers read.
func TestRoles(t *testing.T) {
	env := sqlitetest.New(t)
	user, agent, card := env.Setup(10_000, engine.Policy{})
	viewer := engine.Actor{Role: engine.RoleViewer, KeyID: "key_v"}
	e, ctx := env.Engine, env.Ctx
	for _, actor := range []engine.Actor{viewer, sqlitetest.AgentActor(agent)} {
		for name, call := range map[string]func() error{
			"fund": func() error { _, err := e.FundUser(ctx, actor, engine.FundInput{User: user.ID, Amount: 1}); return err },
			"set mode": func() error {
				_, err := e.SetAgentMode(ctx, actor, engine.SetModeInput{Agent: agent.ID, Mode: "live"})
				return err
			},
			"policy":    func() error { _, err := e.SetPolicy(ctx, actor, engine.SetPolicyInput{Agent: agent.ID}); return err },
			"authorize": func() error { _, err := e.Authorize(ctx, actor, charge(card, 1, "Shop")); return err },
			"key":       func() error { _, err := e.CreateKey(ctx, actor, engine.CreateKeyInput{Role: "admin"}); return err },
			"approve":   func() error { _, err := e.Approve(ctx, actor, engine.DecideInput{DecisionID: "dec_x"}); return err },
			"create user": func() error {
				_, err := e.CreateUser(ctx, actor, engine.CreateUserInput{Name: "x"})
				return err
			},
		} {
			assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(call()), "%s as %s", name, actor.Role)
		}
	}
	for name, call := range map[string]func() error{
		"freeze": func() error { _, err := e.FreezeCard(ctx, viewer, engine.CardActionInput{CardID: card.ID}); return err },
		"declare": func() error {
			_, err := e.DeclareIntent(ctx, viewer, engine.DeclareIntentInput{Agent: agent.ID, Summary: "x", Amount: 1})
			return err
		},
		"reveal": func() error { _, err := e.RevealCard(ctx, viewer, engine.RevealInput{CardID: card.ID}); return err },
		"check": func() error {
			_, err := e.PolicyCheck(ctx, viewer, engine.PolicyCheckInput{Agent: agent.ID, Amount: 1})
			return err
		},
	} {
		assert.Equal(t, engine.CodeForbidden, engine.ErrorCode(call()), "viewer may not %s", name)
	}
	_, err := e.GetCard(ctx, viewer, card.ID)
	assert.NoError(t, err, "viewers read")
	_, err = e.Limits(ctx, viewer, agent.ID)
	assert.NoError(t, err)
	_, err = e.Limits(ctx, viewer, "")
	assert.Equal(t, engine.CodeInvalidInput, engine.ErrorCode(err), "a viewer must name the agent")
}

func TestAPIKeys(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(0, engine.Policy{})
	k, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: agent.Name, Name: "laptop"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(k.Secret, engine.KeyPrefix))
	assert.Equal(t, agent.ID, k.AgentID)

	actor, err := env.Engine.Authenticate(env.Ctx, k.Secret)
	require.NoError(t, err)
	assert.Equal(t, engine.Actor{Role: engine.RoleAgent, AgentID: agent.ID, KeyID: k.ID}, actor)

	keys, err := items(env.Engine.ListKeys(env.Ctx, engine.Operator, engine.Page{}))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	raw, err := json.Marshal(keys)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), k.Secret[len(engine.KeyPrefix)+8:], "a listing never shows the secret")
	assert.NotContains(t, env.Snapshot(), k.Secret, "the secret is stored hashed")

	for _, bad := range []string{"", "al_", "al_nothex", k.Secret + "x", strings.ToUpper(k.Secret), "Bearer " + k.Secret} {
		_, err := env.Engine.Authenticate(env.Ctx, bad)
		assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), "%q", bad)
	}
	_, err = env.Engine.RevokeKey(env.Ctx, engine.Operator, engine.RevokeKeyInput{KeyID: k.ID})
	require.NoError(t, err)
	_, err = env.Engine.Authenticate(env.Ctx, k.Secret)
	assert.Equal(t, engine.CodeUnauthorized, engine.ErrorCode(err), "a revoked key is refused")

	_, err = env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent})
	assert.Equal(t, "agent", fieldOf(err))
	_, err = env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAdmin, Agent: agent.ID})
	assert.Equal(t, "agent", fieldOf(err))
	_, err = env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: "root"})
	assert.Equal(t, "role", fieldOf(err))
}

func fieldOf(err error) string {
	var ee *engine.Error
	if errors.As(err, &ee) {
		return ee.Field
	}
	return ""
}

// items drops a list's paging, for tests that read a whole list.
func items[T any](l engine.List[T], err error) ([]*T, error) { return l.Items, err }
