package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/agentledger/agentledger/engine"
)

// Agent groups. Ordinary agents carry the comparisons with a fresh
// database; a seeded history adds agents with a velocity limit and, as
// their control, agents with the same history and no velocity limit.
const (
	groupOrdinary = "ordinary"
	groupVelocity = "velocity"
	groupControl  = "control"
)

// cardRef is one card the load charges, with the agent and user behind it.
type cardRef struct {
	ID      string `json:"card"`
	AgentID string `json:"agent"`
	UserID  string `json:"user"`
	Group   string `json:"group"`
	user    int    // index into the run's users, for the balance check
}

// Funding and limits. Every user can pay for far more than any run
// charges, and the limits are far above what a day of runs on one history
// spends, so that a decline is a fault, not the workload.
const (
	userFunds       int64 = 100_000_000_000 // $1,000,000,000.00
	perTransaction  int64 = 50_000          // $500.00
	dailyLimit      int64 = 1_000_000_000   // $10,000,000.00
	monthlyLimit    int64 = 10_000_000_000  // $100,000,000.00
	blockedMCC            = "7995"          // gambling: the history's merchant declines
	velocityCount   int64 = 1_000_000       // the engine's maximum
	velocityWindow  int64 = 7 * 24 * 3600
	maxChargeAmount int64 = 20_000
)

// policy is the policy of an agent of a group: limits, merchant controls
// and risk scoring as a real deployment would set them, no intents (the
// load is the network's, with no agent declaring first), and for the
// velocity group a sliding-window count over a week.
func policy(group string) engine.Policy {
	p := engine.Policy{
		IntentRequired: ptr(false),
		SpendLimits: engine.SpendLimits{
			PerTransactionLimit: ptr(perTransaction), DailyLimit: ptr(dailyLimit),
			MonthlyLimit: ptr(monthlyLimit), BlockedMCCs: []string{blockedMCC},
		},
	}
	if group == groupVelocity {
		p.Velocity = &engine.Velocity{Count: velocityCount, WindowSeconds: velocityWindow}
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// merchant is a merchant a charge names.
type merchant struct{ name, mcc string }

// merchantNames and merchantMCCs make a pool of merchants; each agent buys
// from a handful of them, so merchant history grows as it would.
var merchantNames = []string{
	"Office Depot", "Staples", "Amazon Web Services", "Google Cloud", "DigitalOcean", "GitHub", "Atlassian",
	"Slack", "Zoom", "Dropbox", "Figma", "Notion", "OpenAI", "Anthropic", "Twilio", "SendGrid", "Stripe Atlas",
	"Uber", "Lyft", "Delta Air Lines", "United Airlines", "Marriott", "Hilton", "Airbnb", "Starbucks",
	"Blue Bottle Coffee", "Whole Foods", "Best Buy", "Apple Store", "Dell", "Lenovo", "B&H Photo", "Newegg",
	"FedEx", "UPS", "USPS", "DoorDash", "Grubhub", "WeWork", "Namecheap",
}

var merchantMCCs = []string{
	"5943", "5734", "4816", "7372", "4121", "4511", "7011", "5814", "5411", "5732", "4215", "5812",
}

// merchantPool is every merchant of the pool, each name at several sites.
func merchantPool() []merchant {
	var out []merchant
	for i, name := range merchantNames {
		for site := range 5 {
			m := merchant{name: name + " #" + strconv.Itoa(100+site*37+i), mcc: merchantMCCs[(i+site)%len(merchantMCCs)]}
			out = append(out, m)
		}
	}
	return out
}

// agentMerchants is how many merchants of the pool one agent buys from.
const agentMerchants = 12

// merchantFor picks one of the merchants agent number n buys from.
func merchantFor(pool []merchant, n int, r *rand.Rand) merchant {
	return pool[(n*agentMerchants+r.IntN(agentMerchants))%len(pool)]
}

// chargeAmount is a charge's amount in minor units: mostly small, now and
// then a larger one, as purchases are.
func chargeAmount(r *rand.Rand) int64 {
	return min(100+int64(r.ExpFloat64()*1500), maxChargeAmount)
}

// authorizeBody is the body of POST /v1/network/authorize, appended to b.
func authorizeBody(b []byte, card string, amount int64, m merchant, networkID string) []byte {
	b = append(b, `{"card":"`...)
	b = append(b, card...)
	b = append(b, `","amount":`...)
	b = strconv.AppendInt(b, amount, 10)
	b = append(b, `,"currency":"USD","merchant":{"name":`...)
	b = strconv.AppendQuote(b, m.name)
	b = append(b, `,"mcc":"`...)
	b = append(b, m.mcc...)
	b = append(b, `","country":"US"},"network_id":"`...)
	b = append(b, networkID...)
	return append(b, `"}`...)
}

func agentName(prefix string, i int) string { return fmt.Sprintf("%s-agent-%04d", prefix, i) }
func userName(prefix string, i int) string  { return fmt.Sprintf("%s-user-%04d", prefix, i) }
