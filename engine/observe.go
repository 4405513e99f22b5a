package engine

import "time"

// Observer hears of every money decision once it is committed: each card
// authorization and each policy check, never a repeat answered from an
// idempotency key. The operator's logs and metrics are observers. It is
// called on the deciding goroutine, after the commit: it must be quick and
// must not block.
type Observer interface {
	Decided(Observation)
}

// Observation kinds.
const (
	ObservedAuthorization = "authorization"
	ObservedCheck         = "check"
)

// Observation is one decision as an operator watches it. It carries no
// secret: a card appears by its last four digits.
type Observation struct {
	Kind      string // ObservedAuthorization or ObservedCheck
	ID        string // txn_… or dec_…
	AgentID   string
	CardLast4 string // authorizations only
	Amount    int64
	Currency  string
	Status    string // the authorization's or the decision's status
	// DeclineCode is an authorization's decline code, or the first rule a
	// check failed; empty when it passed.
	DeclineCode string
	RiskScore   int
	// Duration is the engine's part: from the call to the commit.
	Duration time.Duration
}

// observing reports whether an observer listens now: an Observer may say
// it does not (Observing() false), and the engine then skips the reads
// only an observation needs.
func (e *Engine) observing() bool {
	if e.observer == nil {
		return false
	}
	if o, ok := e.observer.(interface{ Observing() bool }); ok {
		return o.Observing()
	}
	return true
}

// observe tells the observer, if there is one.
func (e *Engine) observe(o Observation) {
	if e.observer != nil {
		e.observer.Decided(o)
	}
}

// checkObservation is the observation of a policy check.
func checkObservation(d *Decision, took time.Duration) Observation {
	o := Observation{Kind: ObservedCheck, ID: d.ID, AgentID: d.AgentID, Amount: d.Amount, Currency: d.Currency,
		Status: d.Status, RiskScore: d.RiskScore, Duration: took}
	for _, c := range d.PolicyChecks {
		if c.Result == CheckFail {
			o.DeclineCode = c.Rule
			break
		}
	}
	return o
}
