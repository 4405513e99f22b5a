package engine_test

import (
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A merchant name written down by someone trusted (an intent's merchant, an
// allow-list entry) names a charge's descriptor by whole words from its
// start, never as a substring of a name the merchant controls.
func TestMerchantNamesMatchWholeWordsFromTheStart(t *testing.T) {
	cases := []struct {
		name         string // declared, or allowed
		matches      []string
		doesNotMatch []string
	}{
		{"Amazon",
			[]string{"AMAZON.COM*2K4RT", "Amazon Mktplace", "AMAZON WEB SERVICES", "amazon.com", "Amazon"},
			[]string{"NOTAMAZON BETS LTD", "AMAZONIA CASINO", "AMZN Mktp US", "A", "ma", "BETS AMAZON LTD"}},
		{"Amazon Web Services",
			[]string{"AMAZON WEB SERVICES", "AMAZON WEB SERVICES AWS.AMAZON.CO", "AmazonWebServices"},
			[]string{"A", "WEB", "Services", "ma", "AMAZON", "AMAZON.COM*2K4RT", "WEB SERVICES AMAZON", "AMAZON WEBS ********"}},
		{"Washington Post",
			[]string{"WASHINGTON POST", "WASHINGTONPOST.COM"},
			[]string{"WASHINGTON..........", "WASHINGTON #########", "WASHINGTON"}},
		{"Blue Bottle Coffee",
			[]string{"SQ *BLUE BOTTLE COFFE", "BLUE BOTTLE COFFEE #12"}, // cut off by the network
			[]string{"SQ *BLUE BOTTLE C", "BLUE BOTTLE .........."}},
		{"Blue Bottle",
			[]string{"SQ *BLUE BOTTLE", "BLUE BOTTLE COFFEE", "TST* BLUE BOTTLE"},
			[]string{"BLUE", "SQ *BLUE", "BLUEBOTTLES INC", "BOTTLE SHOP"}},
		{"Office Depot",
			[]string{"OFFICE DEPOT #1138", "OFFICEDEPOT.COM", "Office-Depot"},
			[]string{"OFFICE", "DEPOT", "OFFICE DEPOTS R US", "HOME DEPOT"}},
	}
	for _, tc := range cases {
		check := func(t *testing.T, descriptor string, want bool) {
			t.Helper()
			// As an intent's merchant: the charge matches it or is declined.
			env := sqlitetest.New(t)
			_, agent, card := env.Setup(100_000, engine.Policy{})
			intent := env.Reveal(agent, card, 1000, tc.name)
			auth := env.Charge(card, 1000, descriptor, "")
			if want {
				assert.Equal(t, engine.AuthApproved, auth.Status, "intent for %q, charge at %q: %s", tc.name, descriptor, auth.Reason)
				assert.Equal(t, intent.ID, auth.IntentID)
			} else {
				assert.Equal(t, engine.CodeIntentMismatch, auth.DeclineCode, "intent for %q, charge at %q", tc.name, descriptor)
			}
			// As an allow-list entry of the policy.
			env2 := sqlitetest.New(t)
			_, _, card2 := env2.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{AllowedMerchants: []string{tc.name}}}))
			auth = env2.Charge(card2, 1000, descriptor, "")
			if want {
				assert.Equal(t, engine.AuthApproved, auth.Status, "allowed %q, charge at %q: %s", tc.name, descriptor, auth.Reason)
			} else {
				assert.Equal(t, engine.CodeMerchantBlocked, auth.DeclineCode, "allowed %q, charge at %q", tc.name, descriptor)
			}
		}
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range tc.matches {
				check(t, d, true)
			}
			for _, d := range tc.doesNotMatch {
				check(t, d, false)
			}
		})
	}
}

// A block-list entry blocks a descriptor that contains it anywhere, even
// inside a word: blocking more is the safe side.
func TestBlockedMerchantsBlockWholeWordsAnywhere(t *testing.T) {
	env := sqlitetest.New(t)
	_, _, card := env.Setup(100_000, noIntent(engine.Policy{SpendLimits: engine.SpendLimits{BlockedMerchants: []string{"Casino", "Bet 365"}}}))
	for descriptor, blocked := range map[string]bool{
		"GOLDEN NUGGET CASINO": true, "SQ *CASINO ROYALE": true, "BET365 LTD": true, "PP*BET 365": true,
		"ONLINECASINO LTD": true, "CASINOS AUSTRIA": true, "CASINO'S ROYALE": true, "GOLDENCASINO.COM": true,
		"BET365SPORTS": true, "MYBET365": true, "CASINOVA PIZZA": true,
		"OFFICE DEPOT": false, "BETTER BAGELS": false, "CASHINO": false,
	} {
		auth := env.Charge(card, 100, descriptor, "")
		if blocked {
			assert.Equal(t, engine.CodeMerchantBlocked, auth.DeclineCode, descriptor)
		} else {
			assert.Equal(t, engine.AuthApproved, auth.Status, "%s: %s", descriptor, auth.Reason)
		}
	}
}

// Names that would name half the merchants there are cannot be written down.
func TestMerchantNamesTooShortAreRefused(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(100_000, engine.Policy{})
	actor := sqlitetest.AgentActor(agent)
	_, err := env.Engine.DeclareIntent(env.Ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "x", Amount: 100, Merchant: "A"})
	assertInvalid(t, err, "merchant")
	_, err = env.Engine.PolicyCheck(env.Ctx, actor, engine.PolicyCheckInput{Amount: 100, Merchant: "ma"})
	assertInvalid(t, err, "merchant")
	_, err = env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID,
		Policy: engine.Policy{SpendLimits: engine.SpendLimits{AllowedMerchants: []string{"Amazon", "A."}}}})
	assertInvalid(t, err, "allowed_merchants")
	_, err = env.Engine.SetPolicy(env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: agent.ID,
		Policy: engine.Policy{SpendLimits: engine.SpendLimits{BlockedMerchants: []string{"BP"}}}})
	require.NoError(t, err, "a block entry may be short")
}

func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var ee *engine.Error
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, engine.CodeInvalidInput, ee.Code, ee.Message)
	assert.Equal(t, field, ee.Field, ee.Message)
}
