package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/agentledger/agentledger/engine"
	"github.com/spf13/pflag"
)

// amountValue is an amount in minor units, with an error message that says so.
type amountValue struct {
	v   *int64
	set bool
}

func (f *amountValue) Set(s string) error {
	v, err := parseAmount(s)
	if err != nil {
		return err
	}
	*f.v, f.set = v, true
	return nil
}

func (f *amountValue) String() string {
	if f.v == nil || !f.set {
		return ""
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f *amountValue) Type() string { return "minor-units" }

// parseAmount reads an amount in minor units, explaining the unit when
// someone writes dollars.
func parseAmount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err == nil:
		return v, nil
	case strings.ContainsAny(s, ".,$€£"):
		return 0, fmt.Errorf("%q: amounts are whole minor units, e.g. 1250 for $12.50", s)
	}
	return 0, fmt.Errorf("%q is not an amount in minor units (e.g. 1250 for $12.50)", s)
}

// optionalInt is a limit that may be set, changed or removed ("none").
type optionalInt struct {
	v       **int64
	changed bool
	amount  bool
}

func (f *optionalInt) Set(s string) error {
	f.changed = true
	if s == "none" || s == "" {
		*f.v = nil
		return nil
	}
	var v int64
	var err error
	if f.amount {
		v, err = parseAmount(s)
	} else if v, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
		err = fmt.Errorf("%q is not a whole number", s)
	}
	if err != nil {
		return err
	}
	*f.v = &v
	return nil
}

func (f *optionalInt) String() string {
	if *f.v == nil {
		return ""
	}
	return strconv.FormatInt(**f.v, 10)
}

func (f *optionalInt) Type() string {
	if f.amount {
		return "minor-units|none"
	}
	return "int|none"
}

// optionalVelocity is "COUNT/SECONDS", or "none".
type optionalVelocity struct {
	v       **engine.Velocity
	changed bool
}

func (f *optionalVelocity) Set(s string) error {
	f.changed = true
	if s == "none" || s == "" {
		*f.v = nil
		return nil
	}
	c, w, ok := strings.Cut(s, "/")
	count, err1 := strconv.ParseInt(strings.TrimSpace(c), 10, 64)
	window, err2 := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(w), "s"), 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%q is not COUNT/SECONDS, e.g. 5/60 for five spends a minute", s)
	}
	*f.v = &engine.Velocity{Count: count, WindowSeconds: window}
	return nil
}

func (f *optionalVelocity) String() string {
	if *f.v == nil {
		return ""
	}
	return fmt.Sprintf("%d/%d", (*f.v).Count, (*f.v).WindowSeconds)
}

func (f *optionalVelocity) Type() string { return "count/seconds|none" }

// listValue is a comma-separated list; an empty value clears it.
type listValue struct {
	v       *[]string
	changed bool
}

func (f *listValue) Set(s string) error {
	f.changed = true
	*f.v = nil
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*f.v = append(*f.v, item)
		}
	}
	return nil
}

func (f *listValue) String() string { return strings.Join(*f.v, ",") }

func (f *listValue) Type() string { return "list" }

// optionalBool is a tri-state bool: unset, true or false.
type optionalBool struct {
	v       **bool
	changed bool
}

func (f *optionalBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	f.changed, *f.v = true, &b
	return nil
}

func (f *optionalBool) String() string {
	if *f.v == nil {
		return ""
	}
	return strconv.FormatBool(**f.v)
}

func (f *optionalBool) Type() string { return "bool" }

// plainBool is a bool flag that remembers whether it was given.
type plainBool struct {
	v       *bool
	changed bool
}

func (f *plainBool) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	f.changed, *f.v = true, b
	return nil
}

func (f *plainBool) String() string {
	if f.v == nil {
		return "false"
	}
	return strconv.FormatBool(*f.v)
}

func (f *plainBool) Type() string { return "bool" }

// limitFlags binds one flag per field of engine.SpendLimits onto limits.
// Only flags given on the command line change anything.
func limitFlags(fs *pflag.FlagSet, limits *engine.SpendLimits) {
	fs.Var(&optionalInt{v: &limits.PerTransactionLimit, amount: true}, "per-transaction-limit", "largest single spend, in minor units (none: no limit)")
	fs.Var(&optionalInt{v: &limits.DailyLimit, amount: true}, "daily-limit", "spend per calendar day, in minor units")
	fs.Var(&optionalInt{v: &limits.MonthlyLimit, amount: true}, "monthly-limit", "spend per calendar month, in minor units")
	fs.Var(&optionalInt{v: &limits.LifetimeLimit, amount: true}, "lifetime-limit", "spend ever, in minor units")
	fs.Var(&optionalInt{v: &limits.MaxTransactionsPerDay}, "max-transactions-per-day", "approved spends per day")
	fs.Var(&optionalVelocity{v: &limits.Velocity}, "velocity", "at most COUNT spends per SECONDS, e.g. 5/60")
	fs.Var(&listValue{v: &limits.AllowedMCCs}, "allowed-mccs", "only these merchant category codes, e.g. 5734,7372 (empty: any)")
	fs.Var(&listValue{v: &limits.BlockedMCCs}, "blocked-mccs", "never these merchant category codes, e.g. 7995,5933")
	fs.Var(&listValue{v: &limits.AllowedMerchants}, "allowed-merchants", "only these merchants (names or ids), comma-separated")
	fs.Var(&listValue{v: &limits.BlockedMerchants}, "blocked-merchants", "never these merchants (names or ids), comma-separated")
}

// policyFlags binds one flag per policy field onto p: the limits, and the
// rest of engine.Policy.
func policyFlags(fs *pflag.FlagSet, p *engine.Policy) {
	fs.StringVar(&p.Currency, "currency", p.Currency, "currency of the policy's amounts (ISO 4217)")
	limitFlags(fs, &p.SpendLimits)
	fs.Var(&optionalInt{v: &p.ApprovalThreshold, amount: true}, "approval-threshold", "spends above this need a human, in minor units")
	fs.Var(&listValue{v: &p.BlockedActionTypes}, "blocked-action-types", "policy_check action types to refuse, e.g. trade,transfer")
	boolFlag(fs, &plainBool{v: &p.AllowReduce}, "allow-reduce", "answer 'reduced' when only the per-transaction limit is exceeded")
	boolFlag(fs, &optionalBool{v: &p.IntentRequired}, "intent-required", "agents must declare an intent before a card charge (default true)")
	fs.Var(&optionalInt{v: &p.IntentTolerancePct}, "intent-tolerance-pct", "how far above the declared amount a charge may land, in percent (default 10)")
	fs.Var(&optionalInt{v: &p.IntentTTLSeconds}, "intent-ttl-seconds", "how long an intent lives (default 900)")
	fs.Var(&optionalInt{v: &p.ApprovalTTLSeconds}, "approval-ttl-seconds",
		"how long a human's approval of a policy_check may be executed or cover a card charge (default 3600)")
	fs.Var(&optionalInt{v: &p.RiskReviewScore}, "risk-review-score", "risk score (1–100) that flags a spend for review")
	fs.Var(&optionalInt{v: &p.RiskDeclineScore}, "risk-decline-score", "risk score (1–100) that declines a spend")
	boolFlag(fs, &plainBool{v: &p.ClientApproval}, "client-approval", "let the MCP client's human approve through elicitation")
}

// boolFlag adds a flag that, like a plain bool flag, may be given without a
// value (--client-approval) or with one (--client-approval=false).
func boolFlag(fs *pflag.FlagSet, v pflag.Value, name, usage string) {
	fs.Var(v, name, usage)
	fs.Lookup(name).NoOptDefVal = "true"
}

// anyChanged reports whether any flag of the set was given. (VisitAll and
// Changed, since cobra's LocalFlags is a copy whose Visit sees nothing.)
func anyChanged(fs *pflag.FlagSet) bool {
	changed := false
	fs.VisitAll(func(f *pflag.Flag) { changed = changed || f.Changed })
	return changed
}
