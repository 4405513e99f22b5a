package engine_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func velocity(count, seconds int64) *engine.Velocity {
	return &engine.Velocity{Count: count, WindowSeconds: seconds}
}

// A spend counts toward a velocity window from the microsecond it was made
// until exactly one window later: one made exactly a window ago still
// counts, one a microsecond older does not. Whatever the window's length,
// wherever the spend falls in its second, minute or day, and for the
// policy's velocity, a card's own, or a counted policy check.
func TestVelocityWindowEdges(t *testing.T) {
	starts := map[string]time.Time{
		"on the second":        sqlitetest.Epoch,
		"mid-second":           sqlitetest.Epoch.Add(500*time.Millisecond + 123*time.Microsecond),
		"just before midnight": time.Date(2026, 3, 11, 23, 59, 59, 999_999_000, time.UTC),
	}
	windows := []int64{1, 61, 3600, 86_400 + 3661, 31 * 86_400}
	// One spend, then another attempt a microsecond inside the window, at
	// its edge, and a microsecond outside: only the last is approved.
	edges := []time.Duration{-time.Microsecond, 0, time.Microsecond}
	approvedAt := []bool{false, false, true}
	// Each kind of spend in its own database, each case its own agent.
	spends := []struct {
		name  string
		setup func(t *testing.T, env *sqlitetest.Env, u *engine.User, name string, w int64) func() bool
	}{
		{"policy velocity", func(t *testing.T, env *sqlitetest.Env, u *engine.User, name string, w int64) func() bool {
			policy := noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(1, w)}})
			card := env.Card(env.Agent(name, u, policy))
			return func() bool { return env.Charge(card, 100, "Shop", "").Status == engine.AuthApproved }
		}},
		{"card velocity", func(t *testing.T, env *sqlitetest.Env, u *engine.User, name string, w int64) func() bool {
			agent := env.Agent(name, u, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(5, w)}}))
			card, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID,
				Limits: engine.SpendLimits{Velocity: velocity(1, w)}})
			require.NoError(t, err)
			return func() bool { return env.Charge(card, 100, "Shop", "").Status == engine.AuthApproved }
		}},
		{"policy check", func(t *testing.T, env *sqlitetest.Env, u *engine.User, name string, w int64) func() bool {
			agent := env.Agent(name, u, engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(1, w)}})
			return func() bool {
				return check(t, env, agent, engine.PolicyCheckInput{Amount: 100}).Status == engine.DecisionApproved
			}
		}},
	}
	for _, s := range spends {
		t.Run(s.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			u := env.User("u", 1_000_000)
			for name, start := range starts {
				for _, w := range windows {
					t.Run(fmt.Sprintf("%s/%ds", name, w), func(t *testing.T) {
						spend := s.setup(t, env, u, fmt.Sprintf("%s %d", name, w), w)
						env.Clock.Set(start)
						require.True(t, spend())
						for i, edge := range edges {
							env.Clock.Set(start.Add(time.Duration(w)*time.Second + edge))
							assert.Equal(t, approvedAt[i], spend(), "%s after the window", edge)
						}
					})
				}
			}
			env.Verify()
		})
	}
}

// A spend that stops counting — reversed, expired, reversed because the
// issuer had declined it already — gives its room in the window back; one
// settled, settled in part or refunded keeps it.
func TestVelocityRoomComesBackOnlyWithTheSpend(t *testing.T) {
	network := engine.Actor{Role: engine.RoleNetwork}
	cases := []struct {
		name   string
		change func(t *testing.T, env *sqlitetest.Env, a *engine.Authorization)
		back   bool
	}{
		{"reversed", func(t *testing.T, env *sqlitetest.Env, a *engine.Authorization) {
			_, err := env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: a.ID})
			require.NoError(t, err)
		}, true},
		{"expired", func(t *testing.T, env *sqlitetest.Env, a *engine.Authorization) {
			env.Clock.Advance(engine.DefaultHoldTTL - 30*time.Second) // the first hold only
			res, err := env.Engine.Sweep(env.Ctx, engine.Operator)
			require.NoError(t, err)
			require.Equal(t, 1, res.Holds)
		}, true},
		{"declined by the issuer first", func(t *testing.T, env *sqlitetest.Env, a *engine.Authorization) {
			_, err := env.Engine.RecordFallback(env.Ctx, network, engine.FallbackInput{Issuer: engine.IssuerLithic,
				NetworkID: a.NetworkID, Answer: engine.FallbackDecline, Reason: "timeout", Amount: a.Amount, Currency: a.Currency})
			require.NoError(t, err)
		}, true},
		{"settled", func(t *testing.T, env *sqlitetest.Env, a *engine.Authorization) {
			_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
			require.NoError(t, err)
		}, false},
		{"settled in part", func(t *testing.T, env *sqlitetest.Env, a *engine.Authorization) {
			_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID, Amount: ptr(1)})
			require.NoError(t, err)
		}, false},
		{"refunded", func(t *testing.T, env *sqlitetest.Env, a *engine.Authorization) {
			_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
			require.NoError(t, err)
			_, err = env.Engine.Refund(env.Ctx, engine.Operator, engine.RefundInput{AuthorizationID: a.ID})
			require.NoError(t, err)
		}, false},
	}
	for _, c := range cases {
		for _, scope := range []string{"policy", "card"} {
			t.Run(c.name+"/"+scope+" velocity", func(t *testing.T) {
				env := sqlitetest.New(t)
				// Longer than a hold lives, so that an expired hold is still in it.
				window := velocity(2, 10*86_400)
				u := env.User("u", 1_000_000)
				policy := noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(100, 10*86_400)}})
				var limits engine.SpendLimits
				if scope == "policy" {
					policy.Velocity = window
				} else {
					limits.Velocity = window
				}
				agent := env.Agent("a", u, policy)
				card, err := env.Engine.CreateCard(env.Ctx, engine.Operator,
					engine.CreateCardInput{Agent: agent.ID, Limits: limits})
				require.NoError(t, err)
				first, err := env.Engine.Authorize(env.Ctx, network, engine.AuthorizeInput{CardID: card.ID, Amount: 500,
					Currency: "USD", Merchant: engine.Merchant{Name: "Shop"}, NetworkID: "net_first"})
				require.NoError(t, err)
				requireApproved(t, first)
				env.Clock.Advance(time.Minute)
				requireApproved(t, env.Charge(card, 100, "Shop", ""))
				full := env.Charge(card, 100, "Shop", "")
				require.Equal(t, engine.CodeVelocityExceeded, full.DeclineCode)
				whose := map[string]string{"policy": "", "card": "card "}[scope]
				assert.Contains(t, full.Reason, "2 "+whose+"spends in the last 864000s already")

				c.change(t, env, first)
				next := env.Charge(card, 100, "Shop", "")
				if c.back {
					requireApproved(t, next)
				} else {
					assert.Equal(t, engine.CodeVelocityExceeded, next.DeclineCode)
				}
				env.Verify()
			})
		}
	}
}

// A policy check counts toward the policy's velocity when approved, from the
// moment it was made; a dry run, a blocked one and one waiting for a human
// do not; an approved one counts once executed, from its execution.
func TestVelocityCountsPolicyChecks(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1_000_000, noIntent(engine.Policy{ApprovalThreshold: ptr(5_000),
		SpendLimits: engine.SpendLimits{PerTransactionLimit: ptr(9_000), Velocity: velocity(3, 60)}}))
	used := func() int64 {
		t.Helper()
		l, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
		require.NoError(t, err)
		return l.Velocity.Used
	}
	require.Equal(t, engine.DecisionApproved, check(t, env, agent, engine.PolicyCheckInput{Amount: 100}).Status)
	require.Equal(t, engine.DecisionApproved, check(t, env, agent, engine.PolicyCheckInput{Amount: 100, DryRun: true}).Status)
	require.Equal(t, engine.DecisionBlocked, check(t, env, agent, engine.PolicyCheckInput{Amount: 10_000}).Status)
	waiting := check(t, env, agent, engine.PolicyCheckInput{Amount: 6_000})
	require.Equal(t, engine.DecisionRequiresApproval, waiting.Status)
	assert.Equal(t, int64(1), used(), "only the approved check")

	env.Clock.Advance(50 * time.Second)
	_, err := env.Engine.Approve(env.Ctx, engine.Operator, engine.DecideInput{DecisionID: waiting.ID})
	require.NoError(t, err)
	assert.Equal(t, int64(1), used(), "approved but not executed")
	executed := env.Clock.Now()
	_, err = env.Engine.ExecuteDecision(env.Ctx, sqlitetest.AgentActor(agent), engine.ExecuteInput{DecisionID: waiting.ID})
	require.NoError(t, err)
	assert.Equal(t, int64(2), used())
	env.Clock.Advance(time.Second)
	requireApproved(t, env.Charge(card, 100, "Shop", ""))
	assert.Equal(t, int64(3), used())
	assert.Equal(t, engine.CodeVelocityExceeded, env.Charge(card, 100, "Shop", "").DeclineCode)

	env.Clock.Set(executed.Add(time.Minute)) // the first check is out, the executed one still in
	assert.Equal(t, int64(2), used())
	env.Clock.Set(executed.Add(time.Minute + time.Microsecond))
	assert.Equal(t, int64(1), used(), "only the charge")
	env.Verify()
}

// A card's own velocity counts its own charges only: not the agent's other
// cards, not its policy checks; the policy's counts them all.
func TestCardVelocityCountsItsOwnCharges(t *testing.T) {
	env := sqlitetest.New(t)
	u := env.User("u", 1_000_000)
	agent := env.Agent("a", u, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(5, 3600)}}))
	limited, err := env.Engine.CreateCard(env.Ctx, engine.Operator, engine.CreateCardInput{Agent: agent.ID,
		Limits: engine.SpendLimits{Velocity: velocity(2, 3600)}})
	require.NoError(t, err)
	other := env.Card(agent)
	requireApproved(t, env.Charge(other, 100, "Shop", ""))
	require.Equal(t, engine.DecisionApproved, check(t, env, agent, engine.PolicyCheckInput{Amount: 100}).Status)
	requireApproved(t, env.Charge(limited, 100, "Shop", ""))
	requireApproved(t, env.Charge(limited, 100, "Shop", ""))
	d := env.Charge(limited, 100, "Shop", "")
	assert.Equal(t, engine.CodeVelocityExceeded, d.DeclineCode)
	assert.Contains(t, d.Reason, "2 card spends in the last 3600s already")
	requireApproved(t, env.Charge(other, 100, "Shop", "")) // the policy's fifth
	d = env.Charge(other, 100, "Shop", "")
	assert.Equal(t, engine.CodeVelocityExceeded, d.DeclineCode)
	assert.Contains(t, d.Reason, "5 spends in the last 3600s already", "a charge on each card and a check")
	env.Verify()
}

// The velocity the policy reports is what counts, even above a limit lowered
// since.
func TestVelocityReportAfterTheLimitIsLowered(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1_000_000, noIntent(engine.Policy{}))
	for range 5 {
		requireApproved(t, env.Charge(card, 100, "Shop", ""))
		env.Clock.Advance(time.Second)
	}
	_, err := env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID,
		Policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(2, 3600)}})})
	require.NoError(t, err)
	l, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.CountReport{Limit: ptr(2), Used: 5, Remaining: ptr(0), WindowSeconds: 3600}, *l.Velocity)
	d := env.Charge(card, 100, "Shop", "")
	assert.Equal(t, engine.CodeVelocityExceeded, d.DeclineCode)
	assert.Contains(t, d.Reason, "5 spends in the last 3600s already; the limit is 2")
}

// An agent's velocity scope is kept only while its policy has a velocity
// limit. A policy that gains one counts at once every spend of the window
// made without it — charges, counted checks, not the reversed — and one
// that loses it stops counting; a charge from before the refill, reversed
// after it, stops nothing.
func TestVelocityRefilledWhenAPolicyGainsIt(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1_000_000, noIntent(engine.Policy{}))
	setVelocity := func(v *engine.Velocity) {
		t.Helper()
		_, err := env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID,
			Policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: v}})})
		require.NoError(t, err)
	}
	used := func() int64 {
		t.Helper()
		l, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
		require.NoError(t, err)
		require.NotNil(t, l.Velocity)
		return l.Velocity.Used
	}
	kept := func() int64 { // what the scope holds, whatever the policy
		t.Helper()
		var n int64
		require.NoError(t, env.Store.View(env.Ctx, func(tx engine.Tx) (err error) {
			n, err = tx.CountVelocity(engine.AgentCountScope(agent.ID), sqlitetest.Epoch.Add(-365*24*time.Hour))
			return err
		}))
		return n
	}
	old := env.Charge(card, 100, "Shop", "") // before the refill's reach, its hold still open
	requireApproved(t, old)
	env.Clock.Advance(40 * 24 * time.Hour)
	for i := range 3 {
		a := env.Charge(card, 100, "Shop", "")
		requireApproved(t, a)
		if i == 0 { // a settled charge counts as an approved one does
			_, err := env.Engine.Settle(env.Ctx, engine.Operator, engine.SettleInput{AuthorizationID: a.ID})
			require.NoError(t, err)
		}
		env.Clock.Advance(time.Minute)
	}
	reversed := env.Charge(card, 100, "Shop", "")
	_, err := env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: reversed.ID})
	require.NoError(t, err)
	for range 2 {
		require.Equal(t, engine.DecisionApproved, check(t, env, agent, engine.PolicyCheckInput{Amount: 100}).Status)
	}
	assert.Zero(t, kept(), "no limit: no spend is kept")

	setVelocity(velocity(6, 31*86_400))
	assert.Equal(t, int64(5), used(), "three charges (one settled) and two checks; not the reversed, not the 40-day-old")
	requireApproved(t, env.Charge(card, 100, "Shop", ""))
	assert.Equal(t, engine.CodeVelocityExceeded, env.Charge(card, 100, "Shop", "").DeclineCode)
	_, err = env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: old.ID})
	require.NoError(t, err, "a spend from before the refill stops nothing")
	assert.Equal(t, int64(6), used())
	env.Verify()

	setVelocity(nil)
	assert.Zero(t, kept())
	requireApproved(t, env.Charge(card, 100, "Shop", ""))
	assert.Zero(t, kept())
	env.Verify()

	setVelocity(velocity(8, 31*86_400))
	assert.Equal(t, int64(7), used(), "the charge made without a limit counts too")
	requireApproved(t, env.Charge(card, 100, "Shop", ""))
	assert.Equal(t, engine.CodeVelocityExceeded, env.Charge(card, 100, "Shop", "").DeclineCode)
	setVelocity(velocity(8, 3600)) // a shorter window: nothing is refilled
	assert.Equal(t, int64(8), used())
	env.Verify()
}

// A policy whose velocity window grows counts at once the spends of the
// longer window, made before the scope reached back that far.
func TestVelocityRefilledWhenTheWindowGrows(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1_000_000, noIntent(engine.Policy{}))
	setVelocity := func(v *engine.Velocity) int64 {
		t.Helper()
		_, err := env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID,
			Policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: v}})})
		require.NoError(t, err)
		l, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
		require.NoError(t, err)
		return l.Velocity.Used
	}
	requireApproved(t, env.Charge(card, 100, "Shop", ""))
	env.Clock.Advance(3 * 24 * time.Hour)
	requireApproved(t, env.Charge(card, 100, "Shop", ""))
	assert.Equal(t, int64(1), setVelocity(velocity(10, 3600)))
	requireApproved(t, env.Charge(card, 100, "Shop", ""))
	assert.Equal(t, int64(3), setVelocity(velocity(10, 4*86_400)), "the spend of three days ago counts")
	assert.Equal(t, int64(2), setVelocity(velocity(10, 60)))
	env.Verify()
}

// Hundreds of spends at odd microseconds over three days — charges on two
// cards and policy checks, some from a second process whose clock is
// behind, some at the same microsecond, a quarter of the charges reversed
// or expired — and the velocity the policy reports is, at each edge of
// every spend's window and for windows of a second to a day and more, the
// number of spends that still count in it.
func TestVelocityExactAcrossManyBuckets(t *testing.T) {
	env := sqlitetest.New(t)
	lagging := engine.NewManualClock(sqlitetest.Epoch)
	other := env.Reopen(engine.Options{Clock: lagging})
	u := env.User("u", 100_000_000)
	// A limit from the start (the longest window probed), so that the scope
	// holds every spend; the probes shorten it, which refills nothing.
	agent := env.Agent("a", u, noIntent(engine.Policy{
		SpendLimits: engine.SpendLimits{Velocity: velocity(1_000_000, 3*86_400)}}))
	cards := []*engine.Card{env.Card(agent), env.Card(agent)}
	rng := rand.New(rand.NewPCG(12, 34))

	type spend struct {
		at      time.Time
		auth    *engine.Authorization // nil for a policy check
		stopped bool
	}
	var spends []*spend
	at := sqlitetest.Epoch
	for range 400 {
		switch r := rng.IntN(10); {
		case r == 0: // the same microsecond
		case r < 6:
			at = at.Add(time.Duration(rng.Int64N(int64(90 * time.Second))))
		default:
			at = at.Add(time.Duration(rng.Int64N(int64(40 * time.Minute))))
		}
		e, clock := env.Engine, env.Clock
		if rng.IntN(5) == 0 { // another process, its clock up to two minutes behind
			e, clock = other.Engine, lagging
			clock.Set(at.Add(-time.Duration(rng.Int64N(int64(2 * time.Minute)))))
		} else {
			clock.Set(at)
		}
		s := &spend{at: clock.Now()}
		if rng.IntN(4) == 0 {
			d, err := e.PolicyCheck(env.Ctx, sqlitetest.AgentActor(agent), engine.PolicyCheckInput{Amount: 100})
			require.NoError(t, err)
			require.Equal(t, engine.DecisionApproved, d.Status)
		} else {
			a, err := e.Authorize(env.Ctx, engine.Operator, charge(cards[rng.IntN(2)], 100, "Shop"))
			require.NoError(t, err)
			requireApproved(t, a)
			s.auth = a
		}
		spends = append(spends, s)
	}
	for _, s := range spends {
		if s.auth != nil && rng.IntN(4) == 0 {
			_, err := env.Engine.Reverse(env.Ctx, engine.Operator, engine.ReverseInput{AuthorizationID: s.auth.ID})
			require.NoError(t, err)
			s.stopped = true
		}
	}
	env.Clock.Set(spends[len(spends)/2].at.Add(engine.DefaultHoldTTL))
	_, err := env.Engine.Sweep(env.Ctx, engine.Operator) // the holds of the first half expire
	require.NoError(t, err)
	for _, s := range spends {
		s.stopped = s.stopped || s.auth != nil && !s.at.Add(engine.DefaultHoldTTL).After(env.Clock.Now())
	}
	env.Verify()

	want := func(since time.Time) int64 {
		var n int64
		for _, s := range spends {
			if !s.stopped && !s.at.Before(since) {
				n++
			}
		}
		return n
	}
	probed := 0
	for _, w := range []int64{3 * 86_400, 86_400 + 1, 3600, 59, 1} {
		_, err := env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID,
			Policy: noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(1_000_000, w)}})})
		require.NoError(t, err)
		window := time.Duration(w) * time.Second
		for i, s := range spends {
			if i%7 != 0 {
				continue
			}
			for _, edge := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
				now := s.at.Add(window + edge)
				env.Clock.Set(now)
				l, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
				require.NoError(t, err)
				require.Equal(t, want(now.Add(-window)), l.Velocity.Used, "window %ds at %s", w, now.Format(time.RFC3339Nano))
				probed++
			}
		}
	}
	t.Logf("%d spends, %d stopped; %d windows probed", len(spends),
		len(slices.DeleteFunc(slices.Clone(spends), func(s *spend) bool { return !s.stopped })), probed)
}

// Hundreds of goroutines through one or two database handles (two processes'
// worth), charging and checking at once against a velocity of 10 an hour:
// exactly 10 spends are approved, whatever their mix.
func TestVelocityNeverExceededConcurrently(t *testing.T) {
	for _, handles := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d handles", handles), func(t *testing.T) {
			env := sqlitetest.New(t)
			policy := noIntent(engine.Policy{SpendLimits: engine.SpendLimits{Velocity: velocity(10, 3600)}})
			_, agent, card := env.Setup(plenty, policy)
			engines := []*engine.Engine{env.Engine}
			if handles == 2 {
				engines = append(engines, env.Reopen(engine.Options{}).Engine)
			}
			var approved atomic.Int64
			var mu sync.Mutex
			declines := map[string]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range racers {
				wg.Go(func() {
					<-start
					e := engines[i%len(engines)]
					ok, code := false, ""
					if i%3 == 0 {
						d, err := e.PolicyCheck(env.Ctx, sqlitetest.AgentActor(agent), engine.PolicyCheckInput{Amount: oneBuck})
						if !assert.NoError(t, err) {
							return
						}
						ok = d.Status == engine.DecisionApproved
						if r := rule(d, "velocity"); !ok && r.Result == engine.CheckFail {
							code = engine.CodeVelocityExceeded
						}
					} else {
						a, err := e.Authorize(env.Ctx, engine.Operator, charge(card, oneBuck, "Vending"))
						if !assert.NoError(t, err) {
							return
						}
						ok, code = a.Status == engine.AuthApproved, a.DeclineCode
					}
					if ok {
						approved.Add(1)
						return
					}
					mu.Lock()
					declines[code]++
					mu.Unlock()
				})
			}
			close(start)
			wg.Wait()
			assert.Equal(t, int64(10), approved.Load(), "declines: %v", declines)
			assert.Equal(t, map[string]int{engine.CodeVelocityExceeded: racers - 10}, declines)
			l, err := env.Engine.Limits(env.Ctx, engine.Operator, agent.ID)
			require.NoError(t, err)
			assert.Equal(t, engine.CountReport{Limit: ptr(10), Used: 10, Remaining: ptr(0), WindowSeconds: 3600}, *l.Velocity)
			env.Verify()
		})
	}
}
