package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// BenchmarkVelocity authorizes charges on a card with a velocity of its own
// under a policy velocity, both over two days, with none, 24,000 or 240,000
// spends in the window (settled charges of the last day, written before the
// velocity migration and upgraded): approved ones, the window with room
// left, and declined ones (VELOCITY_EXCEEDED), the window full, as an agent
// at its limit that keeps trying; beside them the same charge under no
// velocity at all, the policy's report of what remains (a read, no
// commit) and the count alone. On-disk, synchronous=FULL, the system clock; one decision and
// one commit at a time. cpu-µs/op is the process's CPU per decision, apart
// from waiting for the disk.
func BenchmarkVelocity(b *testing.B) {
	const window = 2 * 24 * 3600
	cases := []struct {
		name    string
		history int
		limit   int64 // 0: no velocity
	}{
		{"no-velocity/history=24000", 24_000, 0},
		{"no-velocity/history=240000", 240_000, 0},
		{"approved/history=0", 0, 1_000_000},
		{"approved/history=24000", 24_000, 1_000_000},
		{"approved/history=240000", 240_000, 1_000_000},
		{"declined/history=1", 1, 1},
		{"declined/history=24000", 24_000, 24_000},
		{"declined/history=240000", 240_000, 240_000},
		// What remains of the window (policy_check limits, the policy's GET):
		// the velocity count alone, in a read transaction, no commit.
		{"limits/history=0", 0, 1_000_000},
		{"limits/history=24000", 24_000, 1_000_000},
		{"limits/history=240000", 240_000, 1_000_000},
		// The count itself, in one read transaction.
		{"count/history=0", 0, 1_000_000},
		{"count/history=24000", 24_000, 1_000_000},
		{"count/history=240000", 240_000, 1_000_000},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var v *engine.Velocity
			if c.limit > 0 {
				v = &engine.Velocity{Count: c.limit, WindowSeconds: window}
			}
			s := newVelocityScene(b, c.history, engine.Policy{IntentRequired: new(false), SpendLimits: engine.SpendLimits{Velocity: v}},
				engine.SpendLimits{Velocity: v}, engine.SystemClock{})
			ctx := context.Background()
			in := engine.AuthorizeInput{CardID: s.card, Amount: 100, Currency: "USD", Merchant: engine.Merchant{Name: "Coffee"}}
			full := c.limit > 0 && c.limit <= int64(c.history)
			defer func(cpu0 time.Duration) {
				b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			}(cpuTime())
			b.ResetTimer()
			if strings.HasPrefix(c.name, "count/") {
				err := s.db.View(ctx, func(tx engine.Tx) error {
					for range b.N {
						n, err := tx.CountVelocity(engine.AgentCountScope(s.agent), time.Now().Add(-window*time.Second))
						if err != nil || n != int64(c.history) {
							return fmt.Errorf("%d spends: %v", n, err)
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				return
			}
			if strings.HasPrefix(c.name, "limits/") {
				for range b.N {
					l, err := s.e.Limits(ctx, engine.Operator, s.agent)
					if err != nil || l.Velocity.Used != int64(c.history) {
						b.Fatal(err, l.Velocity)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
				return
			}
			for range b.N {
				a, err := s.e.Authorize(ctx, engine.Operator, in)
				if err != nil {
					b.Fatal(err)
				}
				if (a.Status == engine.AuthApproved) == full {
					b.Fatalf("%s: %s", a.Status, a.Reason)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}
