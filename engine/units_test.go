package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFormatAmount(t *testing.T) {
	cases := []struct {
		amount   int64
		currency string
		want     string
	}{
		{12000, "USD", "$120.00"},
		{100_000, "USD", "$1,000.00"},
		{5, "USD", "$0.05"},
		{0, "USD", "$0.00"},
		{-1250, "USD", "-$12.50"},
		{123_456_789, "EUR", "€1,234,567.89"},
		{500, "JPY", "¥500"},
		{1_000_000, "KRW", "₩1,000,000"},
		{12_500, "BHD", "12.500 BHD"},
		{1, "KWD", "0.001 KWD"},
		{999, "CHF", "9.99 CHF"},
		{42, "XXX", "42 XXX"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, FormatAmount(tc.amount, tc.currency))
	}
}

func TestCurrencies(t *testing.T) {
	for code, exp := range map[string]int{"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3} {
		got, ok := CurrencyExponent(code)
		assert.True(t, ok, code)
		assert.Equal(t, exp, got, code)
	}
	_, ok := CurrencyExponent("usd")
	assert.False(t, ok, "codes are upper case")
	c, err := normalizeCurrency("currency", " eur ", "USD")
	assert.NoError(t, err)
	assert.Equal(t, "EUR", c)
	c, err = normalizeCurrency("currency", "", "USD")
	assert.NoError(t, err)
	assert.Equal(t, "USD", c)
	_, err = normalizeCurrency("currency", "BTC", "USD")
	assert.EqualError(t, err, `currency: unknown currency "BTC" (use an ISO 4217 code such as USD)`)
}

func TestLuhn(t *testing.T) {
	assert.True(t, LuhnValid("4242424242424242"))
	assert.True(t, LuhnValid("79927398713"))
	assert.False(t, LuhnValid("4242424242424241"))
	assert.False(t, LuhnValid("42424242424a4242"))
	for range 1000 {
		pan := newPAN()
		assert.Len(t, pan, 16)
		assert.True(t, strings.HasPrefix(pan, TestBIN))
		assert.True(t, LuhnValid(pan), pan)
	}
}

func TestIDs(t *testing.T) {
	var g idGenerator
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 5000 {
		id := g.newID(PrefixCard, now.Add(time.Duration(i/1000)*time.Millisecond))
		assert.True(t, isID(id, PrefixCard), id)
		assert.Greater(t, id, prev, "ids sort in creation order")
		prev = id
	}
	assert.False(t, isID("card_notauuid", PrefixCard))
	assert.False(t, isID(prev, PrefixUser))
}

// The matcher's rules, one by one (the behaviour users see is in
// TestMerchantNamesMatchWholeWordsFromTheStart).
func TestMerchantNames(t *testing.T) {
	assert.Equal(t, "amazoncom", normalizeMerchant("Amazon.com"))
	assert.Equal(t, "oreillymedia", normalizeMerchant("O'Reilly  Media!"))
	assert.Equal(t, []string{"cafe", "creme", "mcdonalds"}, merchantWords("Café CRÈME — McDonald’s"))
	cases := []struct {
		descriptor, name string
		named            bool
	}{
		{"AMAZON.COM*2K4", "amazon", true},
		{"Amazon", "amazon.com", false}, // the descriptor is less than the name
		{"AMZN Mktp", "Amazon", false},
		{"", "Amazon", false},
		{"***", "...", false},
		{"OFFICEDEPOT 1138", "Office Depot", true},  // spacing may differ
		{"OFFICE DEPOT #1138", "OfficeDepot", true}, // either way
		{"OFFICE DEPOTS", "Office Depot", false},    // a word may not be cut
		{"TST* JOE'S PIZZA", "Joes Pizza", true},    // a facilitator's prefix
		{"VERYLONGPREFIX *ACME", "Acme", false},     // a "prefix" that is too long
		{"SQ *BLUE BOTTLE COFFE", "Blue Bottle Coffee", true},
		{"SQ *BLUE BOTTLE C", "Blue Bottle Coffee", false}, // short: not truncated, just different
		{"AMAZON MKTPLACE PMTS", "Amazon Marketplace", false},
		{"AB", "ab", false}, // too short a name names nothing
	}
	for _, c := range cases {
		assert.Equal(t, c.named, merchantNamed(c.descriptor, c.name), "%q names %q", c.name, c.descriptor)
	}
	assert.True(t, merchantMentioned("GOLDEN NUGGET CASINO", "casino"))
	assert.True(t, merchantMentioned("SQ *CASINO ROYALE", "Casino"))
	assert.True(t, merchantMentioned("ONLINECASINO LTD", "Casino"), "blocking more is the safe side")
	assert.False(t, merchantMentioned("CASHINO LTD", "Casino"))
	assert.False(t, merchantNamed("WASHINGTON..........", "Washington Post"), "padding is not truncation")
	assert.False(t, merchantNamed("AMAZON WEBS ********", "Amazon Web Services"))
	assert.True(t, merchantMentioned("BP#1234 HIGHWAY", "BP"), "a block entry may be short")
	assert.True(t, merchantAllowed(Merchant{Name: "Corner Shop", ID: "MID-1"}, "mid-1"))
	assert.True(t, merchantBlocked(Merchant{Name: "Corner Shop", ID: "MID-1"}, "mid-1"))
}

func TestZScore(t *testing.T) {
	steady := []int64{1000, 1100, 900, 1000, 1050, 950}
	assert.Equal(t, int64(0), zScoreTenths(900, steady), "below the mean is no signal")
	assert.Equal(t, int64(0), zScoreTenths(1000, steady))
	z := zScoreTenths(1300, steady)
	assert.Equal(t, int64(30), z, "std is floored at a tenth of the mean: (1300-1000)/100")
	assert.Equal(t, int64(20), zScoreTenths(1200, steady))
	assert.Equal(t, int64(1000), zScoreTenths(1_000_000_000, steady), "capped")
	flat := []int64{500, 500, 500, 500, 500}
	assert.Equal(t, int64(10), zScoreTenths(550, flat), "a flat history still has a tenth-of-mean deviation")
	huge := []int64{MaxAmount, MaxAmount - 1, MaxAmount, MaxAmount, MaxAmount}
	assert.Equal(t, int64(0), zScoreTenths(MaxAmount, huge)-zScoreTenths(MaxAmount, huge), "no overflow at the largest amounts")
}

func TestScoreRisk(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	history := RiskState{Amounts: []int64{1000, 1100, 900, 1000, 1050, 950}}
	signals := func(in riskInput) []string {
		_, s := scoreRisk(in)
		names := []string{}
		for _, x := range s {
			names = append(names, x.Signal)
		}
		return names
	}
	base := riskInput{state: history, now: now, amount: 1000, inPolicyCurrency: true, merchantKnown: true, merchantSeen: true, mccKnown: true, mccSeen: true}
	score, _ := scoreRisk(base)
	assert.Equal(t, 0, score, "a familiar charge is no risk")

	in := base
	in.merchantSeen, in.mccSeen = false, false
	assert.Equal(t, []string{SignalNewMerchant, SignalNewMCC}, signals(in))
	score, _ = scoreRisk(in)
	assert.Equal(t, 35, score)

	first := in
	first.state = RiskState{}
	assert.Empty(t, signals(first), "an agent's first charges are not new against nothing")

	in = base
	in.amount = 5000
	assert.Equal(t, []string{SignalAmountZScore}, signals(in))

	in = base
	for i := range 6 {
		in.state.Attempts = append(in.state.Attempts, now.Add(-time.Duration(i)*time.Second).UnixMilli())
	}
	in.state.Attempts = append(in.state.Attempts, now.Add(-2*time.Minute).UnixMilli()) // outside the minute
	assert.Equal(t, []string{SignalBurst}, signals(in))

	in = base
	in.state.ConsecutiveDeclines = 5
	assert.Equal(t, []string{SignalConsecutiveDeclines}, signals(in))

	in = base
	in.merchantSeen, in.mccSeen, in.amount, in.state.ConsecutiveDeclines = false, false, 100_000, 9
	for range 12 {
		in.state.Attempts = append(in.state.Attempts, now.UnixMilli())
	}
	score, _ = scoreRisk(in)
	assert.Equal(t, 100, score, "capped at 100")
}

func TestRiskStateIsBounded(t *testing.T) {
	var s RiskState
	now := time.Now()
	for i := range 100 {
		s.recordApproved(now, int64(i), true)
		s.recordDeclined(now)
	}
	assert.Len(t, s.Amounts, riskAmountHistory)
	assert.Len(t, s.Attempts, riskAttemptHistory)
	assert.Equal(t, int64(99), s.Amounts[len(s.Amounts)-1])
	assert.Equal(t, 1, s.ConsecutiveDeclines)
	s.recordApproved(now, 1, false)
	assert.Equal(t, 0, s.ConsecutiveDeclines)
	assert.Equal(t, int64(99), s.Amounts[len(s.Amounts)-1], "other currencies do not feed the z-score")
}

func TestCardNumberShapes(t *testing.T) {
	for _, s := range []string{"4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "4242.4242.4242.4242",
		"4242  4242  4242  4242", "4242\u00a04242\u00a04242\u00a04242", "4242/4242/4242/4242", "4242 - 4242 - 4242 - 4242",
		"４２４２４２４２４２４２４２４２", "424242424242"} {
		assert.True(t, LooksLikePAN(s), "%q", s)
		assert.Equal(t, "pay ····4242 now", MaskPANs("pay "+s+" now"), "%q", s)
	}
	for _, s := range []string{"card_019cdcc4-a200-7005-92ce-e26e99006da3", "42424242424", "4242 4242 4242 x", "4242.....4242.4242.4242"} {
		assert.False(t, LooksLikePAN(s), "%q", s)
	}
	assert.Equal(t, "4242424242424242", panDigits("４２４２ ４２４２-4242.4242"))
	assert.Equal(t, "at 2026-12-01 10:00, order 12345", MaskPANs("at 2026-12-01 10:00, order 12345"), "dates and short numbers stay")
	assert.Equal(t, "must not exceed 100000000000000 minor units", invalid("amount", "must not exceed %d minor units", MaxAmount).Message[8:],
		"the engine's own numbers are not masked")
	assert.Contains(t, invalid("mcc", "%q is not an MCC", "4242424242424242").Message, "····4242")
}
