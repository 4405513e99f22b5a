package stripeapi

import (
	"slices"

	"github.com/stripe/stripe-go/v84"

	"github.com/agentledger/agentledger/engine"
)

// Stripe's spending-limit intervals for IssuerControls' amounts, in the
// order a card's limits are sent.
const (
	intervalPerAuthorization = "per_authorization"
	intervalDaily            = "daily"
	intervalMonthly          = "monthly"
	intervalAllTime          = "all_time"
)

// mirror is the part of c Stripe holds, as GetCard reports it once
// UpdateCard has sent c (see Client.Mirrored):
//
//   - Amounts are kept; zero (or less) is no limit and is not sent.
//   - MCC lists come back sorted, without duplicates, nil when empty.
//   - A blocked MCC with no Stripe category is dropped: Stripe then lets
//     through what agentledger will still decline, which only loses some
//     defence in depth.
//   - An allow list is mirrored only when every MCC it allows (less those
//     also blocked, as agentledger reads the two together) has a category.
//     Dropping one entry would make Stripe decline a merchant agentledger
//     allows, and an allow list with no entries left must not be sent at
//     all: Stripe could read an empty list as "allow nothing". Without a
//     mirrorable allow list, the block list is mirrored instead; with one,
//     the block list is already folded into it, since Stripe takes only one
//     of the two.
func mirror(c engine.IssuerControls) engine.IssuerControls {
	out := engine.IssuerControls{
		PerTransaction: positive(c.PerTransaction),
		Daily:          positive(c.Daily),
		Monthly:        positive(c.Monthly),
		Lifetime:       positive(c.Lifetime),
	}
	if allowed, ok := mirrorAllowed(c.AllowedMCCs, c.BlockedMCCs); ok {
		out.AllowedMCCs = allowed
		return out
	}
	var blocked []string
	for _, m := range c.BlockedMCCs {
		if _, ok := Category(m); ok {
			blocked = append(blocked, m)
		}
	}
	out.BlockedMCCs = sortedMCCs(blocked)
	return out
}

// mirrorAllowed is the allow list Stripe can hold for allowed less
// blocked, and false when there is none to send.
func mirrorAllowed(allowed, blocked []string) ([]string, bool) {
	var eff []string
	for _, m := range allowed {
		if slices.Contains(blocked, m) {
			continue
		}
		if _, ok := Category(m); !ok {
			return nil, false
		}
		eff = append(eff, m)
	}
	eff = sortedMCCs(eff)
	return eff, len(eff) > 0
}

func positive(n int64) int64 {
	return max(n, 0)
}

// sortedMCCs sorts and deduplicates mccs, nil when empty.
func sortedMCCs(mccs []string) []string {
	if len(mccs) == 0 {
		return nil
	}
	out := slices.Clone(mccs)
	slices.Sort(out)
	return slices.Compact(out)
}

// limit is one of Stripe's spending limits.
type limit struct {
	interval string
	amount   int64
}

// wanted is what a card's spending_controls should be, in Stripe's terms.
type wanted struct {
	limits             []limit
	allowed, blocked   []string // categories
	anyControl         bool
	hasAllow, hasBlock bool
}

// want is m, mirrored controls, in Stripe's terms.
func want(m engine.IssuerControls) wanted {
	var w wanted
	for _, l := range []limit{
		{intervalPerAuthorization, m.PerTransaction},
		{intervalDaily, m.Daily},
		{intervalMonthly, m.Monthly},
		{intervalAllTime, m.Lifetime},
	} {
		if l.amount > 0 {
			w.limits = append(w.limits, l)
		}
	}
	w.allowed, w.blocked = categories(m.AllowedMCCs), categories(m.BlockedMCCs)
	w.hasAllow, w.hasBlock = len(w.allowed) > 0, len(w.blocked) > 0
	w.anyControl = len(w.limits) > 0 || w.hasAllow || w.hasBlock
	return w
}

// categories maps mirrored MCCs (all mappable) to Stripe's categories.
func categories(mccs []string) []string {
	var out []string
	for _, m := range mccs {
		if c, ok := Category(m); ok {
			out = append(out, c)
		}
	}
	return out
}

// createControls is a new card's spending_controls, nil when it has none.
func createControls(w wanted) *stripe.IssuingCardCreateSpendingControlsParams {
	if !w.anyControl {
		return nil
	}
	p := &stripe.IssuingCardCreateSpendingControlsParams{}
	for _, l := range w.limits {
		p.SpendingLimits = append(p.SpendingLimits, &stripe.IssuingCardCreateSpendingControlsSpendingLimitParams{
			Amount: stripe.Int64(l.amount), Interval: stripe.String(l.interval),
		})
	}
	if w.hasAllow {
		p.AllowedCategories = stripe.StringSlice(w.allowed)
	}
	if w.hasBlock {
		p.BlockedCategories = stripe.StringSlice(w.blocked)
	}
	return p
}

// updateControls is the spending_controls that make a card holding cur
// hold w, nil when nothing is to be sent. A list w has is sent whole (it
// replaces Stripe's); a list w lacks is cleared only when the card holds
// one, with an empty value (stripe-go encodes an empty, non-nil slice as
// `spending_controls[spending_limits]=`, Stripe's way to empty an array).
// Clearing only what is there keeps the request one that Stripe's
// published schema (and stripe-mock, which enforces it) accepts, since the
// schema types these fields as arrays only. An allow list and a block list
// are never both sent non-empty (Stripe takes one or the other); one may be
// set while the other is cleared.
func updateControls(w wanted, cur *stripe.IssuingCardSpendingControls) *stripe.IssuingCardUpdateSpendingControlsParams {
	if cur == nil {
		cur = &stripe.IssuingCardSpendingControls{}
	}
	p := &stripe.IssuingCardUpdateSpendingControlsParams{}
	send := false
	switch {
	case len(w.limits) > 0:
		for _, l := range w.limits {
			p.SpendingLimits = append(p.SpendingLimits, &stripe.IssuingCardUpdateSpendingControlsSpendingLimitParams{
				Amount: stripe.Int64(l.amount), Interval: stripe.String(l.interval),
			})
		}
		send = true
	case len(cur.SpendingLimits) > 0:
		p.SpendingLimits = []*stripe.IssuingCardUpdateSpendingControlsSpendingLimitParams{}
		send = true
	}
	switch {
	case w.hasAllow:
		p.AllowedCategories, send = stripe.StringSlice(w.allowed), true
	case len(cur.AllowedCategories) > 0:
		p.AllowedCategories, send = []*string{}, true
	}
	switch {
	case w.hasBlock:
		p.BlockedCategories, send = stripe.StringSlice(w.blocked), true
	case len(cur.BlockedCategories) > 0:
		p.BlockedCategories, send = []*string{}, true
	}
	if !send {
		return nil
	}
	return p
}

// held is the controls a Stripe card holds, in IssuerControls' terms: the
// lowest amount of each interval agentledger has, over the limits that
// apply to every category (a limit on some categories only, or on a weekly
// or yearly interval, is not one IssuerControls can say), and the MCCs of
// the allowed and blocked categories, sorted (a category with no MCC in
// the table is left out).
func held(sc *stripe.IssuingCardSpendingControls) engine.IssuerControls {
	var c engine.IssuerControls
	if sc == nil {
		return c
	}
	lower := func(p *int64, amount int64) {
		if *p == 0 || amount < *p {
			*p = amount
		}
	}
	for _, l := range sc.SpendingLimits {
		if l == nil || len(l.Categories) > 0 || l.Amount <= 0 {
			continue
		}
		switch string(l.Interval) {
		case intervalPerAuthorization:
			lower(&c.PerTransaction, l.Amount)
		case intervalDaily:
			lower(&c.Daily, l.Amount)
		case intervalMonthly:
			lower(&c.Monthly, l.Amount)
		case intervalAllTime:
			lower(&c.Lifetime, l.Amount)
		}
	}
	c.AllowedMCCs, c.BlockedMCCs = mccsOf(sc.AllowedCategories), mccsOf(sc.BlockedCategories)
	return c
}

func mccsOf(categories []string) []string {
	var out []string
	for _, cat := range categories {
		if m, ok := MCC(cat); ok {
			out = append(out, m)
		}
	}
	return sortedMCCs(out)
}
