package engine

import (
	"fmt"
	"math/big"
	"time"
)

// Risk signal names (DESIGN §4).
const (
	SignalNewMerchant         = "new_merchant"
	SignalNewMCC              = "new_mcc"
	SignalAmountZScore        = "amount_zscore"
	SignalBurst               = "burst"
	SignalConsecutiveDeclines = "consecutive_declines"
)

// How much history the risk signals look at.
const (
	riskAmountHistory  = 20 // approved amounts kept for the z-score
	riskMinZHistory    = 5  // fewer approved charges than this: no z-score
	riskAttemptHistory = 10 // attempt times kept for burst detection
	burstWindow        = time.Minute
)

// RiskSignal is one signal that contributed to a risk score.
type RiskSignal struct {
	Signal string `json:"signal"`
	Points int    `json:"points"`
	Detail string `json:"detail"`
}

// RiskState is the slice of an agent's history the risk signals read. It
// lives on the agent so that scoring a charge costs no extra queries.
type RiskState struct {
	// Amounts are the agent's most recent approved amounts in its policy
	// currency, oldest first.
	Amounts []int64 `json:"amounts,omitempty"`
	// Attempts are the Unix milliseconds of its most recent spend attempts,
	// approved or not, oldest first.
	Attempts []int64 `json:"attempts,omitempty"`
	// ConsecutiveDeclines counts declined attempts since the last approval.
	ConsecutiveDeclines int `json:"consecutive_declines,omitempty"`
}

// recordAttempt notes a spend attempt that was neither approved nor
// declined (it waits for a human).
func (s *RiskState) recordAttempt(at time.Time) {
	s.Attempts = appendBounded(s.Attempts, at.UnixMilli(), riskAttemptHistory)
}

// recordApproved notes an approved spend; only amounts in the policy
// currency feed the z-score.
func (s *RiskState) recordApproved(at time.Time, amount int64, inPolicyCurrency bool) {
	s.recordAttempt(at)
	s.ConsecutiveDeclines = 0
	if inPolicyCurrency {
		s.Amounts = appendBounded(s.Amounts, amount, riskAmountHistory)
	}
}

// recordDeclined notes a declined attempt.
func (s *RiskState) recordDeclined(at time.Time) {
	s.recordAttempt(at)
	s.ConsecutiveDeclines++
}

func appendBounded(list []int64, v int64, max int) []int64 {
	list = append(list, v)
	if len(list) > max {
		list = append([]int64(nil), list[len(list)-max:]...)
	}
	return list
}

// riskInput is what scoring needs to know about one spend attempt.
type riskInput struct {
	state            RiskState
	now              time.Time
	amount           int64
	inPolicyCurrency bool
	merchantKnown    bool // a merchant was named at all
	merchantSeen     bool
	mccKnown         bool
	mccSeen          bool
}

// scoreRisk computes the signals and the 0–100 score of one attempt. The
// weights are documented in the README; each signal is capped so that no
// single one declines a charge under the suggested thresholds (review 60,
// decline 90), but two strong ones together do.
func scoreRisk(in riskInput) (int, []RiskSignal) {
	signals := []RiskSignal{}
	hasHistory := len(in.state.Amounts) > 0
	if in.merchantKnown && !in.merchantSeen && hasHistory {
		signals = append(signals, RiskSignal{SignalNewMerchant, 20, "first charge at this merchant"})
	}
	if in.mccKnown && !in.mccSeen && hasHistory {
		signals = append(signals, RiskSignal{SignalNewMCC, 15, "first charge in this merchant category"})
	}
	if in.inPolicyCurrency && len(in.state.Amounts) >= riskMinZHistory {
		z10 := zScoreTenths(in.amount, in.state.Amounts)
		points := 0
		switch {
		case z10 >= 50:
			points = 40
		case z10 >= 30:
			points = 30
		case z10 >= 20:
			points = 15
		}
		if points > 0 {
			signals = append(signals, RiskSignal{SignalAmountZScore, points,
				fmt.Sprintf("amount is %d.%d standard deviations above the last %d approved charges", z10/10, z10%10, len(in.state.Amounts))})
		}
	}
	recent := 1 // this attempt
	for _, ms := range in.state.Attempts {
		if in.now.Sub(time.UnixMilli(ms)) < burstWindow {
			recent++
		}
	}
	switch {
	case recent >= 10:
		signals = append(signals, RiskSignal{SignalBurst, 30, fmt.Sprintf("%d attempts in the last minute", recent)})
	case recent >= 5:
		signals = append(signals, RiskSignal{SignalBurst, 15, fmt.Sprintf("%d attempts in the last minute", recent)})
	}
	switch d := in.state.ConsecutiveDeclines; {
	case d >= 5:
		signals = append(signals, RiskSignal{SignalConsecutiveDeclines, 30, fmt.Sprintf("%d declines in a row before this attempt", d)})
	case d >= 3:
		signals = append(signals, RiskSignal{SignalConsecutiveDeclines, 15, fmt.Sprintf("%d declines in a row before this attempt", d)})
	}
	score := 0
	for _, s := range signals {
		score += s.Points
	}
	return min(score, 100), signals
}

// zScoreTenths returns how many tenths of a standard deviation x lies above
// the mean of history (0 when it lies below), in exact integer arithmetic:
// z = (n·x − Σ) / sqrt(n·Σx² − Σ²). The deviation is floored at a tenth of
// the mean so that a perfectly regular history does not make every cent of
// difference look infinite.
func zScoreTenths(x int64, history []int64) int64 {
	n := big.NewInt(int64(len(history)))
	sum, sumSq := new(big.Int), new(big.Int)
	for _, a := range history {
		v := big.NewInt(a)
		sum.Add(sum, v)
		sumSq.Add(sumSq, new(big.Int).Mul(v, v))
	}
	num := new(big.Int).Sub(new(big.Int).Mul(n, big.NewInt(x)), sum) // n·x − Σ
	if num.Sign() <= 0 {
		return 0
	}
	varN2 := new(big.Int).Sub(new(big.Int).Mul(n, sumSq), new(big.Int).Mul(sum, sum)) // n²·variance
	floor := new(big.Int).Div(sum, big.NewInt(10))                                    // n·mean/10
	floor.Mul(floor, floor)
	if varN2.Cmp(floor) < 0 {
		varN2 = floor
	}
	if varN2.Sign() == 0 {
		return 1000
	}
	// tenths = floor(10·num / sqrt(varN2)) = floor(sqrt(100·num² / varN2))
	q := new(big.Int).Mul(num, num)
	q.Mul(q, big.NewInt(100))
	q.Div(q, varN2)
	z := q.Sqrt(q)
	if !z.IsInt64() || z.Int64() > 1000 {
		return 1000
	}
	return z.Int64()
}
