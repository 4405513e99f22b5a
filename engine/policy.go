package engine

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Policy defaults (DESIGN §3).
const (
	DefaultIntentTolerancePct = 10
	DefaultIntentTTLSeconds   = 900
	MaxIntentTTLSeconds       = 7 * 24 * 3600
	// DefaultApprovalTTLSeconds is how long a human's approval of a
	// policy_check may be executed, or cover a card charge: an approval is
	// for the spend in front of the human, not a credit for later.
	DefaultApprovalTTLSeconds = 3600
	MinApprovalTTLSeconds     = 60
	MaxApprovalTTLSeconds     = 7 * 24 * 3600
)

// cardActionTypes are the policy_check action types whose approval may
// cover a card charge: a human who approved an API spend or a transfer did
// not approve a card purchase.
var cardActionTypes = []string{"purchase", "payment"}

// Velocity caps how many spends may happen within a sliding window.
type Velocity struct {
	Count         int64 `json:"count"`
	WindowSeconds int64 `json:"window_seconds"`
}

func (v *Velocity) window() time.Duration { return time.Duration(v.WindowSeconds) * time.Second }

// SpendLimits are the limits and merchant controls a policy and a card share.
// A nil pointer or an empty list means "no limit".
type SpendLimits struct {
	PerTransactionLimit   *int64    `json:"per_transaction_limit"`
	DailyLimit            *int64    `json:"daily_limit"`
	MonthlyLimit          *int64    `json:"monthly_limit"`
	LifetimeLimit         *int64    `json:"lifetime_limit"`
	MaxTransactionsPerDay *int64    `json:"max_transactions_per_day"`
	Velocity              *Velocity `json:"velocity"`
	AllowedMCCs           []string  `json:"allowed_mccs"`
	BlockedMCCs           []string  `json:"blocked_mccs"`
	AllowedMerchants      []string  `json:"allowed_merchants"`
	BlockedMerchants      []string  `json:"blocked_merchants"`
}

// Policy is an agent's spending policy. Amounts are minor units of Currency.
type Policy struct {
	// Currency is the currency the policy's amounts are in (default USD).
	// Spends in another currency cannot be measured against the limits and
	// are refused while any amount limit is set.
	Currency string `json:"currency"`
	SpendLimits
	ApprovalThreshold  *int64   `json:"approval_threshold"`
	BlockedActionTypes []string `json:"blocked_action_types"`
	AllowReduce        bool     `json:"allow_reduce"`
	IntentRequired     *bool    `json:"intent_required"`
	IntentTolerancePct *int64   `json:"intent_tolerance_pct"`
	IntentTTLSeconds   *int64   `json:"intent_ttl_seconds"`
	RiskReviewScore    *int64   `json:"risk_review_score"`
	RiskDeclineScore   *int64   `json:"risk_decline_score"`
	ClientApproval     bool     `json:"client_approval"`
	// ApprovalTTLSeconds is how long a human's approval of a policy_check
	// stays usable (DefaultApprovalTTLSeconds when nil).
	ApprovalTTLSeconds *int64 `json:"approval_ttl_seconds"`
}

// Effective returns the policy with every defaulted field filled in, as it
// is enforced.
func (p Policy) Effective() Policy {
	if p.Currency == "" {
		p.Currency = DefaultCurrency
	}
	if p.IntentRequired == nil {
		p.IntentRequired = ptr(true)
	}
	if p.IntentTolerancePct == nil {
		p.IntentTolerancePct = ptr[int64](DefaultIntentTolerancePct)
	}
	if p.IntentTTLSeconds == nil {
		p.IntentTTLSeconds = ptr[int64](DefaultIntentTTLSeconds)
	}
	if p.ApprovalTTLSeconds == nil {
		p.ApprovalTTLSeconds = ptr[int64](DefaultApprovalTTLSeconds)
	}
	return p
}

// approvalTTL is how long a granted approval stays usable.
func (p Policy) approvalTTL() time.Duration {
	if p.ApprovalTTLSeconds == nil {
		return DefaultApprovalTTLSeconds * time.Second
	}
	return time.Duration(*p.ApprovalTTLSeconds) * time.Second
}

func (p Policy) requiresIntent() bool { return p.IntentRequired == nil || *p.IntentRequired }

func (p Policy) tolerancePct() int64 {
	if p.IntentTolerancePct == nil {
		return DefaultIntentTolerancePct
	}
	return *p.IntentTolerancePct
}

func (p Policy) intentTTL() int64 {
	if p.IntentTTLSeconds == nil {
		return DefaultIntentTTLSeconds
	}
	return *p.IntentTTLSeconds
}

// hasAmountLimits reports whether any field of the policy is an amount in
// its currency.
func (p Policy) hasAmountLimits() bool {
	return p.PerTransactionLimit != nil || p.DailyLimit != nil || p.MonthlyLimit != nil ||
		p.LifetimeLimit != nil || p.ApprovalThreshold != nil
}

func ptr[T any](v T) *T { return &v }

// clonePtr copies the value behind a pointer.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ptr(*p)
}

// Clone returns a deep copy of the limits.
func (l SpendLimits) Clone() SpendLimits {
	l.PerTransactionLimit, l.DailyLimit = clonePtr(l.PerTransactionLimit), clonePtr(l.DailyLimit)
	l.MonthlyLimit, l.LifetimeLimit = clonePtr(l.MonthlyLimit), clonePtr(l.LifetimeLimit)
	l.MaxTransactionsPerDay, l.Velocity = clonePtr(l.MaxTransactionsPerDay), clonePtr(l.Velocity)
	l.AllowedMCCs, l.BlockedMCCs = slices.Clone(l.AllowedMCCs), slices.Clone(l.BlockedMCCs)
	l.AllowedMerchants, l.BlockedMerchants = slices.Clone(l.AllowedMerchants), slices.Clone(l.BlockedMerchants)
	return l
}

// Clone returns a deep copy of the policy.
func (p Policy) Clone() Policy {
	p.SpendLimits = p.SpendLimits.Clone()
	p.ApprovalThreshold, p.BlockedActionTypes = clonePtr(p.ApprovalThreshold), slices.Clone(p.BlockedActionTypes)
	p.IntentRequired, p.IntentTolerancePct, p.IntentTTLSeconds = clonePtr(p.IntentRequired), clonePtr(p.IntentTolerancePct), clonePtr(p.IntentTTLSeconds)
	p.RiskReviewScore, p.RiskDeclineScore = clonePtr(p.RiskReviewScore), clonePtr(p.RiskDeclineScore)
	p.ApprovalTTLSeconds = clonePtr(p.ApprovalTTLSeconds)
	return p
}

var mccPattern = regexp.MustCompile(`^[0-9]{4}$`)

const (
	maxListLen     = 500
	maxNameLen     = 100
	maxMerchantLen = 200
	maxTextLen     = 1000
)

// normalize validates a policy and returns it in canonical form (currency
// upper case, lists deduplicated).
func (p Policy) normalize() (Policy, error) {
	var err error
	if p.Currency, err = normalizeCurrency("currency", p.Currency, DefaultCurrency); err != nil {
		return p, err
	}
	if p.SpendLimits, err = p.SpendLimits.normalize(""); err != nil {
		return p, err
	}
	if p.ApprovalThreshold != nil && (*p.ApprovalThreshold < 0 || *p.ApprovalThreshold > MaxAmount) {
		return p, invalid("approval_threshold", "must be between 0 and %d minor units", MaxAmount)
	}
	if p.BlockedActionTypes, err = normalizeList("blocked_action_types", p.BlockedActionTypes, maxNameLen, strings.ToLower); err != nil {
		return p, err
	}
	if v := p.IntentTolerancePct; v != nil && (*v < 0 || *v > 100) {
		return p, invalid("intent_tolerance_pct", "must be between 0 and 100, got %d", *v)
	}
	if v := p.IntentTTLSeconds; v != nil && (*v < 10 || *v > MaxIntentTTLSeconds) {
		return p, invalid("intent_ttl_seconds", "must be between 10 and %d, got %d", MaxIntentTTLSeconds, *v)
	}
	if v := p.ApprovalTTLSeconds; v != nil && (*v < MinApprovalTTLSeconds || *v > MaxApprovalTTLSeconds) {
		return p, invalid("approval_ttl_seconds", "must be between %d and %d, got %d", MinApprovalTTLSeconds, MaxApprovalTTLSeconds, *v)
	}
	for field, v := range map[string]*int64{"risk_review_score": p.RiskReviewScore, "risk_decline_score": p.RiskDeclineScore} {
		if v != nil && (*v < 1 || *v > 100) {
			return p, invalid(field, "must be between 1 and 100, got %d", *v)
		}
	}
	if p.RiskReviewScore != nil && p.RiskDeclineScore != nil && *p.RiskReviewScore > *p.RiskDeclineScore {
		return p, invalid("risk_review_score", "must not be above risk_decline_score (%d)", *p.RiskDeclineScore)
	}
	return p, nil
}

// normalize validates limits; prefix names the enclosing field in errors
// ("limits." for a card's own).
func (l SpendLimits) normalize(prefix string) (SpendLimits, error) {
	amounts := []struct {
		name string
		v    *int64
	}{
		{"per_transaction_limit", l.PerTransactionLimit}, {"daily_limit", l.DailyLimit},
		{"monthly_limit", l.MonthlyLimit}, {"lifetime_limit", l.LifetimeLimit},
	}
	for _, a := range amounts {
		if a.v != nil {
			if err := checkAmount(prefix+a.name, *a.v); err != nil {
				return l, err
			}
		}
	}
	if v := l.MaxTransactionsPerDay; v != nil && (*v < 1 || *v > 1_000_000) {
		return l, invalid(prefix+"max_transactions_per_day", "must be between 1 and 1000000, got %d", *v)
	}
	if v := l.Velocity; v != nil {
		if v.Count < 1 || v.Count > 1_000_000 {
			return l, invalid(prefix+"velocity.count", "must be between 1 and 1000000, got %d", v.Count)
		}
		if v.WindowSeconds < 1 || v.WindowSeconds > 31*24*3600 {
			return l, invalid(prefix+"velocity.window_seconds", "must be between 1 and %d, got %d", 31*24*3600, v.WindowSeconds)
		}
	}
	var err error
	if l.AllowedMCCs, err = normalizeMCCs(prefix+"allowed_mccs", l.AllowedMCCs); err != nil {
		return l, err
	}
	if l.BlockedMCCs, err = normalizeMCCs(prefix+"blocked_mccs", l.BlockedMCCs); err != nil {
		return l, err
	}
	if l.AllowedMerchants, err = normalizeList(prefix+"allowed_merchants", l.AllowedMerchants, maxMerchantLen, strings.TrimSpace); err != nil {
		return l, err
	}
	for _, m := range l.AllowedMerchants {
		if err := checkMerchantName(prefix+"allowed_merchants", m); err != nil {
			return l, err
		}
	}
	if l.BlockedMerchants, err = normalizeList(prefix+"blocked_merchants", l.BlockedMerchants, maxMerchantLen, strings.TrimSpace); err != nil {
		return l, err
	}
	return l, nil
}

// notLooserThan checks that a card's own limits are no looser than the
// agent's policy: every limit the policy sets, the card either leaves unset
// (inheriting it) or sets at most as high; an allow-list on the card may only
// narrow the policy's.
func (l SpendLimits) notLooserThan(p Policy) error {
	pairs := []struct {
		name      string
		card, pol *int64
		isAmount  bool
	}{
		{"per_transaction_limit", l.PerTransactionLimit, p.PerTransactionLimit, true},
		{"daily_limit", l.DailyLimit, p.DailyLimit, true},
		{"monthly_limit", l.MonthlyLimit, p.MonthlyLimit, true},
		{"lifetime_limit", l.LifetimeLimit, p.LifetimeLimit, true},
		{"max_transactions_per_day", l.MaxTransactionsPerDay, p.MaxTransactionsPerDay, false},
	}
	for _, pr := range pairs {
		if pr.card == nil || pr.pol == nil || *pr.card <= *pr.pol {
			continue
		}
		show := func(v int64) string { return fmt.Sprint(v) }
		if pr.isAmount {
			show = func(v int64) string { return FormatAmount(v, p.Currency) }
		}
		return invalid("limits."+pr.name, "%s is looser than the agent's policy %s of %s", show(*pr.card), pr.name, show(*pr.pol))
	}
	// A velocity is tighter only when it allows no more spends over no
	// shorter a window: 100 per 61 s allows 100 spends in the policy's 60 s.
	if cv, pv := l.Velocity, p.Velocity; cv != nil && pv != nil && (cv.Count > pv.Count || cv.WindowSeconds < pv.WindowSeconds) {
		return invalid("limits.velocity", "%d per %ds is looser than the agent's policy velocity of %d per %ds "+
			"(a card may allow no more spends, over no shorter a window)", cv.Count, cv.WindowSeconds, pv.Count, pv.WindowSeconds)
	}
	if len(p.AllowedMCCs) > 0 {
		for _, m := range l.AllowedMCCs {
			if !slices.Contains(p.AllowedMCCs, m) {
				return invalid("limits.allowed_mccs", "MCC %s is not allowed by the agent's policy", m)
			}
		}
	}
	if len(p.AllowedMerchants) > 0 {
		for _, m := range l.AllowedMerchants {
			if !slices.ContainsFunc(p.AllowedMerchants, func(pm string) bool { return merchantNamed(m, pm) }) {
				return invalid("limits.allowed_merchants", "merchant %q is not allowed by the agent's policy", m)
			}
		}
	}
	return nil
}

func normalizeMCCs(field string, mccs []string) ([]string, error) {
	out, err := normalizeList(field, mccs, 4, strings.TrimSpace)
	if err != nil {
		return nil, err
	}
	for _, m := range out {
		if !mccPattern.MatchString(m) {
			return nil, invalid(field, "%q is not a 4-digit merchant category code", m)
		}
	}
	return out, nil
}

// normalizeList trims, transforms and deduplicates a list, rejecting empty
// and over-long entries and over-long lists. It returns nil for an empty list.
func normalizeList(field string, list []string, maxLen int, transform func(string) string) ([]string, error) {
	if len(list) > maxListLen {
		return nil, invalid(field, "at most %d entries, got %d", maxListLen, len(list))
	}
	var out []string
	for _, v := range list {
		v = transform(strings.TrimSpace(v))
		switch {
		case v == "":
			return nil, invalid(field, "entries must not be empty")
		case len(v) > maxLen:
			return nil, invalid(field, "entry %q is longer than %d characters", v, maxLen)
		case slices.Contains(out, v):
			continue
		}
		out = append(out, v)
	}
	return out, nil
}
