package engine_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	racers   = 200
	oneBuck  = 100    // $1.00
	hundred  = 10_000 // $100.00
	rounds   = 5
	plenty   = 1_000_000
	noLimits = 0
)

// race has racers goroutines each authorize $1 on the card, spread over the
// engines, and returns how many were approved and with what codes the rest
// were declined.
func race(t *testing.T, engines []*engine.Engine, env *sqlitetest.Env, card *engine.Card) (int64, map[string]int) {
	t.Helper()
	var approved atomic.Int64
	var mu sync.Mutex
	declines := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := engines[i%len(engines)].Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{
				CardID: card.ID, Amount: oneBuck, Currency: "USD", Merchant: engine.Merchant{Name: "Vending"},
				NetworkID: fmt.Sprintf("race-%d", i),
			})
			if !assert.NoError(t, err) {
				return
			}
			if a.Status == engine.AuthApproved {
				approved.Add(1)
			} else {
				mu.Lock()
				declines[a.DeclineCode]++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return approved.Load(), declines
}

// 200 goroutines spend $1 each against a $100 limit, or $100 of funds:
// exactly 100 are approved, never more, round after round, whether they go
// through one database handle or two (two processes' worth).
func TestConcurrentSpendNeverExceedsTheLimit(t *testing.T) {
	cases := []struct {
		name    string
		funds   int64
		policy  engine.Policy
		decline string
	}{
		{"daily limit", plenty, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(hundred)}}), engine.CodeDailyLimitExceeded},
		{"funds", hundred, noIntent(engine.Policy{}), engine.CodeInsufficientFunds},
	}
	for _, tc := range cases {
		for _, handles := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d handles", tc.name, handles), func(t *testing.T) {
				for round := range rounds {
					env := sqlitetest.New(t)
					user, agent, card := env.Setup(tc.funds, tc.policy)
					engines := []*engine.Engine{env.Engine}
					if handles == 2 {
						engines = append(engines, env.Reopen(engine.Options{}).Engine)
					}
					approved, declines := race(t, engines, env, card)
					require.Equal(t, int64(100), approved, "round %d: declines %v", round, declines)
					assert.Equal(t, map[string]int{tc.decline: racers - 100}, declines)

					limits, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
					require.NoError(t, err)
					assert.Equal(t, int64(hundred), limits.Daily.Spent)
					assert.Equal(t, int64(100), limits.TransactionsToday.Used)
					b := balance(t, env, user)
					assert.Equal(t, tc.funds-hundred, b.Available)
					assert.Equal(t, int64(hundred), b.Pending)
					env.Verify()
				}
			})
		}
	}
}

// Charges of several users at once, through two handles, each user with
// $10.00 of funds over two agents' cards, while transactions that run alone
// (funding another user) come between them: each user gets exactly 10
// approved and no more, and the ledger, the system accounts included,
// verifies. On PostgreSQL the users' charges are decided at once.
func TestConcurrentChargesOfManyUsersNeverOverspend(t *testing.T) {
	const users, perUser = 8, 1_000 // $10.00 each
	env := sqlitetest.New(t)
	engines := []*engine.Engine{env.Engine, env.Reopen(engine.Options{}).Engine}
	var owners []*engine.User
	var cards []*engine.Card
	for u := range users {
		owner := env.User(fmt.Sprintf("owner-%d", u), perUser)
		owners = append(owners, owner)
		for a := range 2 {
			cards = append(cards, env.Card(env.Agent(fmt.Sprintf("agent-%d-%d", u, a), owner, noIntent(engine.Policy{}))))
		}
	}
	bystander := env.User("bystander", 0)
	var mu sync.Mutex
	approved := map[string]int{}
	declines := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 3 * racers {
		wg.Go(func() {
			<-start
			eng := engines[i%len(engines)]
			if i%10 == 0 {
				_, err := eng.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: bystander.ID, Amount: oneBuck})
				assert.NoError(t, err)
				return
			}
			card := cards[i%len(cards)]
			a, err := eng.Authorize(env.Ctx, engine.Operator, engine.AuthorizeInput{
				CardID: card.ID, Amount: oneBuck, Currency: "USD", Merchant: engine.Merchant{Name: "Vending"},
			})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if a.Status == engine.AuthApproved {
				approved[a.UserID]++
			} else {
				declines[a.DeclineCode]++
			}
		})
	}
	close(start)
	wg.Wait()
	for _, owner := range owners {
		assert.Equal(t, perUser/oneBuck, approved[owner.ID], "user %s", owner.Name)
		b := balance(t, env, owner)
		assert.Equal(t, int64(0), b.Available, "user %s", owner.Name)
		assert.Equal(t, int64(perUser), b.Pending, "user %s", owner.Name)
	}
	assert.Equal(t, map[string]int{engine.CodeInsufficientFunds: 3*racers*9/10 - users*perUser/oneBuck}, declines)
	assert.Equal(t, int64(3*racers/10*oneBuck), balance(t, env, bystander).Available)
	env.Verify()
}

// Concurrent policy checks against one daily limit: the approved amounts
// never add up past it.
func TestConcurrentPolicyChecksNeverExceedTheLimit(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, _ := env.Setup(plenty, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: ptr(hundred)}})
	var approved atomic.Int64
	var wg sync.WaitGroup
	for range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := env.Engine.PolicyCheck(env.Ctx, sqlitetest.AgentActor(agent), engine.PolicyCheckInput{ActionType: "api_spend", Amount: oneBuck})
			if assert.NoError(t, err) && d.Status == engine.DecisionApproved {
				approved.Add(1)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(100), approved.Load())
	assert.Equal(t, int64(hundred), spentToday(t, env, agent))
	env.Verify()
}

// Concurrent writers are committed together: fewer commits than transactions.
func TestConcurrentWritesAreGroupCommitted(t *testing.T) {
	env := sqlitetest.New(t)
	env.SQLiteOnly("group commit")
	_, _, card := env.Setup(plenty, noIntent(engine.Policy{}))
	txBefore, commitsBefore := env.DB.Stats()
	approved, _ := race(t, []*engine.Engine{env.Engine}, env, card)
	assert.Equal(t, int64(racers), approved)
	txAfter, commitsAfter := env.DB.Stats()
	transactions, commits := txAfter-txBefore, commitsAfter-commitsBefore
	assert.Equal(t, int64(racers), transactions)
	assert.Less(t, commits, transactions, "concurrent authorizations should share commits")
	t.Logf("%d transactions in %d commits", transactions, commits)
	env.Verify()
}
