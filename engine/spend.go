package engine

import (
	"context"
	"slices"
	"time"
)

// MaxSpendDays bounds a SpendByDay report.
const MaxSpendDays = 366

// SpendByDayInput asks for the daily spend of some agents.
type SpendByDayInput struct {
	Agents []string // agent ids or names; at most MaxPageLimit
	Days   int      // how many days, ending today (1 to MaxSpendDays)
}

// SpendReport is what agents spent on each of the last days, in the
// organisation's time zone, summed per currency (each agent counts in its
// policy currency).
type SpendReport struct {
	Days       []string           `json:"days"`        // oldest first, today last
	ByCurrency map[string][]int64 `json:"by_currency"` // one amount per day
}

// SpendByDay reads the agents' day counters: as many counters as agents
// times days, however long the history. Operators and viewers.
func (e *Engine) SpendByDay(ctx context.Context, actor Actor, in SpendByDayInput) (*SpendReport, error) {
	if err := actor.requireRole("read spend", RoleAdmin, RoleViewer); err != nil {
		return nil, err
	}
	if in.Days < 1 || in.Days > MaxSpendDays {
		return nil, invalid("days", "must be between 1 and %d, got %d", MaxSpendDays, in.Days)
	}
	if len(in.Agents) > MaxPageLimit {
		return nil, invalid("agents", "at most %d agents at once, got %d", MaxPageLimit, len(in.Agents))
	}
	var out *SpendReport
	err := e.view(ctx, func(tx Tx, now time.Time) error {
		loc, err := location(tx)
		if err != nil {
			return err
		}
		out = &SpendReport{ByCurrency: map[string][]int64{}}
		var periods []string
		today := now.In(loc)
		for i := in.Days - 1; i >= 0; i-- {
			day, _ := windowKeys(loc, time.Date(today.Year(), today.Month(), today.Day()-i, 12, 0, 0, 0, loc))
			out.Days = append(out.Days, day)
			periods = append(periods, DayPeriod(day))
		}
		var scopes []string
		currencyOf := map[string]string{}
		for _, ref := range in.Agents {
			a, err := findAgentFor(tx, actor, "agents", ref)
			if err != nil {
				return err
			}
			scope := AgentScope(a.ID, a.Policy.Effective().Currency)
			if !slices.Contains(scopes, scope) {
				scopes = append(scopes, scope)
				currencyOf[scope] = a.Policy.Effective().Currency
			}
		}
		counters, err := tx.Counters(scopes, periods)
		if err != nil {
			return err
		}
		for _, scope := range scopes {
			cur := currencyOf[scope]
			if out.ByCurrency[cur] == nil {
				out.ByCurrency[cur] = make([]int64, len(periods))
			}
			for i, p := range periods {
				out.ByCurrency[cur][i] += counters[CounterKey{scope, p}].Amount
			}
		}
		return nil
	})
	return out, err
}
