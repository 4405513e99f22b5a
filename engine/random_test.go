package engine_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// world is a small organisation that random operations are thrown at.
type world struct {
	env    *sqlitetest.Env
	users  []*engine.User
	agents []*engine.Agent
	cards  []*engine.Card

	mu    sync.Mutex
	auths []*engine.Authorization
	ops   map[string]int
}

func newWorld(t *testing.T, env *sqlitetest.Env) *world {
	w := &world{env: env, ops: map[string]int{}}
	policies := []engine.Policy{
		noIntent(engine.Policy{}),
		noIntent(engine.Policy{SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(20_000), DailyLimit: ptr(60_000), MonthlyLimit: ptr(300_000)}, AllowReduce: true}),
		noIntent(engine.Policy{SpendLimits: engine.SpendLimits{MaxTransactionsPerDay: ptr(20), Velocity: &engine.Velocity{Count: 5, WindowSeconds: 600}}, ApprovalThreshold: ptr(15_000)}),
		{SpendLimits: engine.SpendLimits{LifetimeLimit: ptr(500_000), BlockedMCCs: []string{"7995"}}, RiskDeclineScore: ptr(60)},
	}
	for i := range 3 {
		w.users = append(w.users, env.User(fmt.Sprintf("user-%d", i), 200_000))
	}
	for i, p := range policies {
		a := env.Agent(fmt.Sprintf("agent-%d", i), w.users[i%len(w.users)], p)
		w.agents = append(w.agents, a)
		w.cards = append(w.cards, env.Card(a), env.Card(a))
	}
	paper, err := env.Engine.CreateAgent(env.Ctx, engine.Operator, engine.CreateAgentInput{Name: "paper", User: w.users[0].ID, Mode: engine.ModePaper})
	require.NoError(t, err)
	_, err = env.Engine.FundPaper(env.Ctx, engine.Operator, engine.FundPaperInput{Agent: paper.ID, Amount: 100_000})
	require.NoError(t, err)
	w.agents = append(w.agents, paper)
	w.cards = append(w.cards, env.Card(paper))
	return w
}

var merchants = []engine.Merchant{
	{Name: "AWS", MCC: "7372"}, {Name: "Staples", MCC: "5943"}, {Name: "Delta Air Lines", MCC: "3058"},
	{Name: "Lucky Casino", MCC: "7995"}, {Name: "Corner Cafe", MCC: "5814"}, {Name: "OpenAI", MCC: "5734"},
}

// step performs one random operation. Business refusals are part of the
// game; anything else is a failure.
func (w *world) step(t *testing.T, r *rand.Rand) {
	env, e, ctx := w.env, w.env.Engine, w.env.Ctx
	allowed := func(err error) {
		switch engine.ErrorCode(err) {
		case "", engine.CodeInvalidState, engine.CodeIntentRequired, engine.CodeApprovalRequired, engine.CodeCardFrozen,
			engine.CodeCardCancelled, engine.CodeSpendLimitExceeded, engine.CodeMerchantBlocked, engine.CodeAgentDisabled,
			engine.CodeIntentExpired, engine.CodeDailyLimitExceeded, engine.CodeCycleLimitExceeded, engine.CodeLifetimeLimitExceeded,
			engine.CodeVelocityExceeded, engine.CodeInsufficientFunds, engine.CodeForbidden:
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	pickAuth := func() *engine.Authorization {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.auths) == 0 {
			return nil
		}
		return w.auths[r.IntN(len(w.auths))]
	}
	card := w.cards[r.IntN(len(w.cards))]
	agent := w.agentOf(card)
	amount := int64(r.IntN(30_000) + 1)
	n := r.IntN(100)
	var op string
	switch {
	case n < 35:
		op = "authorize"
		if r.IntN(2) == 0 {
			if i, err := e.DeclareIntent(ctx, sqlitetest.AgentActor(agent), engine.DeclareIntentInput{CardID: card.ID, Summary: "random", Amount: amount}); err == nil {
				_, err = e.RevealCard(ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: card.ID, IntentID: i.ID})
				allowed(err)
			} else {
				allowed(err)
			}
		}
		m := merchants[r.IntN(len(merchants))]
		a, err := e.Authorize(ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: amount + int64(r.IntN(3)-1)*int64(r.IntN(2000)), Currency: "USD", Merchant: m})
		if err != nil && engine.ErrorCode(err) == engine.CodeInvalidInput { // the jitter went to zero or below
			return
		}
		require.NoError(t, err)
		if a.Status == engine.AuthApproved {
			w.mu.Lock()
			w.auths = append(w.auths, a)
			w.mu.Unlock()
		}
	case n < 45:
		op = "settle"
		if a := pickAuth(); a != nil {
			var part *int64
			if r.IntN(2) == 0 {
				part = ptr(a.Amount - int64(r.IntN(int(a.Amount))))
			}
			_, err := e.Settle(ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID, Amount: part})
			allowed(err)
		}
	case n < 52:
		op = "reverse"
		if a := pickAuth(); a != nil {
			_, err := e.Reverse(ctx, engine.Operator, engine.ReverseInput{AuthorizationID: a.ID})
			allowed(err)
		}
	case n < 58:
		op = "refund"
		if a := pickAuth(); a != nil {
			var part *int64
			if r.IntN(2) == 0 {
				part = ptr(int64(r.IntN(int(a.Amount)) + 1))
			}
			_, err := e.Refund(ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID, Amount: part})
			if engine.ErrorCode(err) != engine.CodeInvalidInput { // refunding more than is left
				allowed(err)
			}
		}
	case n < 70:
		op = "policy_check"
		_, err := e.PolicyCheck(ctx, sqlitetest.AgentActor(agent), engine.PolicyCheckInput{
			ActionType: []string{"purchase", "api_spend", "trade"}[r.IntN(3)], Amount: amount, DryRun: r.IntN(4) == 0,
		})
		allowed(err)
	case n < 74:
		op = "approve"
		queue, err := items(e.ListApprovals(ctx, engine.Operator, engine.ListApprovalsInput{}))
		require.NoError(t, err)
		if len(queue) > 0 {
			d := queue[r.IntN(len(queue))]
			if r.IntN(3) == 0 {
				_, err = e.Deny(ctx, engine.Operator, engine.DecideInput{DecisionID: d.ID})
			} else {
				_, err = e.Approve(ctx, engine.Operator, engine.DecideInput{DecisionID: d.ID})
				if err == nil && d.Kind == engine.KindPolicyCheck {
					_, err = e.ExecuteDecision(ctx, sqlitetest.AgentActor(w.agentByID(d.AgentID)), engine.ExecuteInput{DecisionID: d.ID})
				}
			}
			allowed(err)
		}
	case n < 76:
		op = "freeze"
		_, err := e.FreezeCard(ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
		allowed(err)
	case n < 84:
		op = "unfreeze"
		_, err := e.UnfreezeCard(ctx, engine.Operator, engine.CardActionInput{CardID: card.ID})
		allowed(err)
	case n < 88:
		op = "fund"
		_, err := e.FundUser(ctx, engine.Operator, engine.FundInput{User: w.users[r.IntN(len(w.users))].ID, Amount: amount})
		require.NoError(t, err)
	case n < 95:
		op = "time"
		env.Clock.Advance(time.Duration(r.IntN(6*3600)) * time.Second)
	default:
		op = "sweep"
		_, err := e.Sweep(ctx, engine.Operator)
		require.NoError(t, err)
	}
	w.mu.Lock()
	w.ops[op]++
	w.mu.Unlock()
}

func (w *world) agentOf(c *engine.Card) *engine.Agent { return w.agentByID(c.AgentID) }

func (w *world) agentByID(id string) *engine.Agent {
	for _, a := range w.agents {
		if a.ID == id {
			return a
		}
	}
	panic("no agent " + id)
}

// Thousands of random operations, after which the ledger verifies clean:
// balances equal their transfers, holds agree with authorizations, counters
// equal the spends, nobody is below zero.
func TestRandomOperationsKeepTheLedgerConsistent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 42))
	env := sqlitetest.New(t)
	w := newWorld(t, env)
	steps := 3000
	if testing.Short() {
		steps = 500
	}
	for i := range steps {
		w.step(t, r)
		if i%1000 == 999 {
			env.Verify()
		}
	}
	report := env.Verify()
	t.Logf("operations %v; verified %d objects", w.ops, report.Checked)
	assert.Greater(t, report.Checked, steps/3)
}

// The same, with several goroutines at once.
func TestConcurrentRandomOperationsKeepTheLedgerConsistent(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	env := sqlitetest.New(t)
	w := newWorld(t, env)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			for range 150 {
				w.step(t, r)
			}
		}()
	}
	wg.Wait()
	env.Verify()
	t.Logf("operations %v", w.ops)
}
