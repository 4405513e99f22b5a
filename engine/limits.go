package engine

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// windowCounters are what one scope (an agent in a currency, or a card) has
// spent in the current day, month and lifetime.
type windowCounters struct {
	day, month, life Counter
}

// spendWindows is everything the limit rules need to know about past spending.
type spendWindows struct {
	agent, card       windowCounters
	agentCount        windowCounters // the agent's spends in every currency (counts only)
	agentVelocity     int64          // spends within the policy's velocity window
	cardVelocity      int64          // charges within the card's velocity window
	day, month        string
	resetDay, resetMo time.Time
}

// loadWindows reads the counters of the agent (in the currency) and, when
// card is set, of the card, plus the velocity counts the limits call for.
func (e *Engine) loadWindows(tx Tx, agentID string, card *Card, currency string, policy SpendLimits, now time.Time) (*spendWindows, error) {
	// The zone is read in the transaction: it belongs to the database, so
	// that every process keys a charge to the same day.
	loc, err := location(tx)
	if err != nil {
		return nil, err
	}
	w := &spendWindows{resetDay: nextDay(loc, now), resetMo: nextMonth(loc, now)}
	w.day, w.month = windowKeys(loc, now)
	periods := []string{DayPeriod(w.day), MonthPeriod(w.month), LifetimePeriod}
	scopes := []string{AgentScope(agentID, currency), AgentCountScope(agentID)}
	if card != nil {
		scopes = append(scopes, CardScope(card.ID))
	}
	counters, err := tx.Counters(scopes, periods)
	if err != nil {
		return nil, err
	}
	read := func(scope string) windowCounters {
		return windowCounters{counters[CounterKey{scope, periods[0]}], counters[CounterKey{scope, periods[1]}], counters[CounterKey{scope, periods[2]}]}
	}
	w.agent, w.agentCount = read(scopes[0]), read(scopes[1])
	if card != nil {
		w.card = read(scopes[2])
	}
	// A spend exactly one window ago still counts.
	if v := policy.Velocity; v != nil {
		if w.agentVelocity, err = tx.CountVelocity(AgentCountScope(agentID), now.Add(-v.window())); err != nil {
			return nil, err
		}
	}
	if card != nil && card.Limits.Velocity != nil {
		if w.cardVelocity, err = tx.CountVelocity(CardScope(card.ID), now.Add(-card.Limits.Velocity.window())); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// limitResult is the outcome of one limit rule; code is the decline code
// when it failed.
type limitResult struct {
	Check
	code string
}

// bound is the side of a limit that decides a rule: the policy's ("") or the
// card's own ("card "), with what has been used of it.
type bound struct {
	limit, used int64
	scope       string
}

func (b *bound) room() int64 { return b.limit - b.used }

// binding returns the side with less room left, or nil when neither the
// policy nor the card sets the limit.
func binding(pol, card *int64, polUsed, cardUsed int64) *bound {
	var p, c *bound
	if pol != nil {
		p = &bound{*pol, polUsed, ""}
	}
	if card != nil {
		c = &bound{*card, cardUsed, "card "}
	}
	switch {
	case p == nil:
		return c
	case c == nil || p.room() <= c.room():
		return p
	}
	return c
}

// evaluateLimits runs every configured limit rule (DESIGN §4 step 6) for a
// spend of amount, against the policy and, when card is set, the card's own
// limits; where both set a rule, the one with less room left decides. Rules
// neither sets are left out.
func evaluateLimits(amount int64, currency string, policy SpendLimits, card *SpendLimits, w *spendWindows) []limitResult {
	var cardL SpendLimits
	if card != nil {
		cardL = *card
	}
	money := func(v int64) string { return FormatAmount(v, currency) }
	var out []limitResult
	result := func(rule, code string, pass bool, message string) {
		r := limitResult{Check: Check{Rule: rule, Result: CheckPass, Message: message}}
		if !pass {
			r.Result, r.code = CheckFail, code
		}
		out = append(out, r)
	}

	if b := binding(policy.PerTransactionLimit, cardL.PerTransactionLimit, 0, 0); b != nil {
		if amount <= b.limit {
			result("per_transaction_limit", "", true, fmt.Sprintf("%s ≤ %s %slimit", money(amount), money(b.limit), b.scope))
		} else {
			result("per_transaction_limit", CodeSpendLimitExceeded, false, fmt.Sprintf("%s exceeds the %s %sper-transaction limit", money(amount), money(b.limit), b.scope))
		}
	}
	windows := []struct {
		rule, code, name, when string
		pol, crd               *int64
		agent, card            Counter
	}{
		{"daily_limit", CodeDailyLimitExceeded, "daily", "today", policy.DailyLimit, cardL.DailyLimit, w.agent.day, w.card.day},
		{"monthly_limit", CodeCycleLimitExceeded, "monthly", "this month", policy.MonthlyLimit, cardL.MonthlyLimit, w.agent.month, w.card.month},
		{"lifetime_limit", CodeLifetimeLimitExceeded, "lifetime", "so far", policy.LifetimeLimit, cardL.LifetimeLimit, w.agent.life, w.card.life},
	}
	for _, win := range windows {
		b := binding(win.pol, win.crd, win.agent.Amount, win.card.Amount)
		if b == nil {
			continue
		}
		if amount <= b.room() {
			result(win.rule, "", true, fmt.Sprintf("%s of %s %s%s limit", money(b.used+amount), money(b.limit), b.scope, win.name))
		} else {
			result(win.rule, win.code, false, fmt.Sprintf("%s would exceed the %s %s%s limit (%s already spent %s)",
				money(amount), money(b.limit), b.scope, win.name, money(b.used), win.when))
		}
	}
	if b := binding(policy.MaxTransactionsPerDay, cardL.MaxTransactionsPerDay, w.agentCount.day.Count, w.card.day.Count); b != nil {
		if b.room() >= 1 {
			result("max_transactions_per_day", "", true, fmt.Sprintf("%d of %d %stransactions today", b.used+1, b.limit, b.scope))
		} else {
			result("max_transactions_per_day", CodeVelocityExceeded, false, fmt.Sprintf("%d %stransactions today already; the limit is %d", b.used, b.scope, b.limit))
		}
	}
	var polMax, cardMax *int64
	if policy.Velocity != nil {
		polMax = &policy.Velocity.Count
	}
	if cardL.Velocity != nil {
		cardMax = &cardL.Velocity.Count
	}
	if b := binding(polMax, cardMax, w.agentVelocity, w.cardVelocity); b != nil {
		window := policy.Velocity
		if b.scope != "" {
			window = cardL.Velocity
		}
		if b.room() >= 1 {
			result("velocity", "", true, fmt.Sprintf("%d of %d %sspends in the last %ds", b.used+1, b.limit, b.scope, window.WindowSeconds))
		} else {
			result("velocity", CodeVelocityExceeded, false, fmt.Sprintf("%d %sspends in the last %ds already; the limit is %d", b.used, b.scope, window.WindowSeconds, b.limit))
		}
	}
	return out
}

// merchantControl applies one set of merchant and category controls to a
// merchant and returns the rule ("mcc" or "merchant") that refuses it, with a
// message; owner names whose controls they are. When strict, an allow-list
// also refuses a merchant whose name or category is unknown; otherwise
// (checking a declared intent) unknown fields pass.
func merchantControl(l SpendLimits, m Merchant, owner string, strict bool) (rule, message string, blocked bool) {
	blocks := func(entry string) bool { return merchantBlocked(m, entry) }
	allows := func(entry string) bool { return merchantAllowed(m, entry) }
	switch {
	case m.MCC != "" && slices.Contains(l.BlockedMCCs, m.MCC):
		return "mcc", fmt.Sprintf("merchant category %s is blocked by %s", m.MCC, owner), true
	case slices.ContainsFunc(l.BlockedMerchants, blocks):
		return "merchant", fmt.Sprintf("merchant %q is blocked by %s", m.Name, owner), true
	case len(l.AllowedMCCs) > 0 && (m.MCC != "" || strict) && !slices.Contains(l.AllowedMCCs, m.MCC):
		return "mcc", fmt.Sprintf("merchant category %s is not among those %s allows", orNone(m.MCC), owner), true
	case len(l.AllowedMerchants) > 0 && (m.Name != "" || strict) && !slices.ContainsFunc(l.AllowedMerchants, allows):
		return "merchant", fmt.Sprintf("merchant %q is not among those %s allows", m.Name, owner), true
	}
	return "", "", false
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func quote(s string) string { return strconv.Quote(s) }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
