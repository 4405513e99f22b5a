package stripeapi

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v84"
	"github.com/stripe/stripe-go/v84/form"

	"github.com/agentledger/agentledger/engine"
)

func TestMirror(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   engine.IssuerControls
		want engine.IssuerControls
	}{
		{"nothing", engine.IssuerControls{}, engine.IssuerControls{}},
		{
			"amounts are kept, none below zero",
			engine.IssuerControls{PerTransaction: 100, Daily: 200, Monthly: 300, Lifetime: -1},
			engine.IssuerControls{PerTransaction: 100, Daily: 200, Monthly: 300},
		},
		{
			"blocked: unmappable dropped, sorted, deduplicated",
			engine.IssuerControls{BlockedMCCs: []string{"5992", "3000", "5462", "5992"}},
			engine.IssuerControls{BlockedMCCs: []string{"5462", "5992"}},
		},
		{
			"blocked: none maps",
			engine.IssuerControls{BlockedMCCs: []string{"3000", "0000"}},
			engine.IssuerControls{},
		},
		{
			"allowed: all map",
			engine.IssuerControls{AllowedMCCs: []string{"5812", "5411"}, Daily: 5},
			engine.IssuerControls{AllowedMCCs: []string{"5411", "5812"}, Daily: 5},
		},
		{
			"allowed less blocked, the block list folded into it",
			engine.IssuerControls{AllowedMCCs: []string{"5812", "5411", "5462"}, BlockedMCCs: []string{"5462", "7995"}},
			engine.IssuerControls{AllowedMCCs: []string{"5411", "5812"}},
		},
		{
			"allowed with an unmappable MCC is not mirrored: the block list is",
			engine.IssuerControls{AllowedMCCs: []string{"5411", "3000"}, BlockedMCCs: []string{"7995", "3001"}},
			engine.IssuerControls{BlockedMCCs: []string{"7995"}},
		},
		{
			"allowed where none maps is not sent as an empty list",
			engine.IssuerControls{AllowedMCCs: []string{"3000", "3001"}},
			engine.IssuerControls{},
		},
		{
			"allowed all blocked: only the block list",
			engine.IssuerControls{AllowedMCCs: []string{"5411"}, BlockedMCCs: []string{"5411", "5462"}},
			engine.IssuerControls{BlockedMCCs: []string{"5411", "5462"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mirror(tc.in)
			require.Equal(t, tc.want, got)
			require.Equal(t, got, mirror(got), "mirroring is idempotent")
		})
	}
}

// encode is the form stripe-go sends for params.
func encode(params any) map[string][]string {
	values := &form.Values{}
	form.AppendTo(values, params)
	return values.ToValues()
}

func TestCreateControls(t *testing.T) {
	require.Nil(t, createControls(want(mirror(engine.IssuerControls{BlockedMCCs: []string{"3000"}}))),
		"no spending_controls at all when nothing is mirrored")

	p := &stripe.IssuingCardCreateParams{SpendingControls: createControls(want(mirror(engine.IssuerControls{
		PerTransaction: 1, Daily: 2, Monthly: 3, Lifetime: 4, AllowedMCCs: []string{"5812", "5411"},
	})))}
	require.Equal(t, map[string][]string{
		"spending_controls[spending_limits][0][amount]":   {"1"},
		"spending_controls[spending_limits][0][interval]": {"per_authorization"},
		"spending_controls[spending_limits][1][amount]":   {"2"},
		"spending_controls[spending_limits][1][interval]": {"daily"},
		"spending_controls[spending_limits][2][amount]":   {"3"},
		"spending_controls[spending_limits][2][interval]": {"monthly"},
		"spending_controls[spending_limits][3][amount]":   {"4"},
		"spending_controls[spending_limits][3][interval]": {"all_time"},
		"spending_controls[allowed_categories][0]":        {"grocery_stores_supermarkets"},
		"spending_controls[allowed_categories][1]":        {"eating_places_restaurants"},
	}, encode(p))
}

func TestUpdateControls(t *testing.T) {
	holding := &stripe.IssuingCardSpendingControls{
		SpendingLimits:    []*stripe.IssuingCardSpendingControlsSpendingLimit{{Amount: 5, Interval: "weekly"}},
		AllowedCategories: []string{"bakeries"},
	}
	for _, tc := range []struct {
		name string
		cur  *stripe.IssuingCardSpendingControls
		want engine.IssuerControls
		form map[string][]string
	}{
		{"nothing held, nothing wanted: nothing sent", nil, engine.IssuerControls{}, map[string][]string{}},
		{"what is held is cleared", holding, engine.IssuerControls{}, map[string][]string{
			"spending_controls[spending_limits]":    {""},
			"spending_controls[allowed_categories]": {""},
		}},
		{"an allow list becomes a block list", holding, engine.IssuerControls{Daily: 7, BlockedMCCs: []string{"5992"}}, map[string][]string{
			"spending_controls[spending_limits][0][amount]":   {"7"},
			"spending_controls[spending_limits][0][interval]": {"daily"},
			"spending_controls[allowed_categories]":           {""},
			"spending_controls[blocked_categories][0]":        {"florists"},
		}},
		{"a list is sent whole", nil, engine.IssuerControls{BlockedMCCs: []string{"5992", "5462"}}, map[string][]string{
			"spending_controls[blocked_categories][0]": {"bakeries"},
			"spending_controls[blocked_categories][1]": {"florists"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &stripe.IssuingCardUpdateParams{SpendingControls: updateControls(want(mirror(tc.want)), tc.cur)}
			require.Equal(t, tc.form, encode(p))
		})
	}
}

func TestHeld(t *testing.T) {
	require.Equal(t, engine.IssuerControls{}, held(nil))
	got := held(&stripe.IssuingCardSpendingControls{
		SpendingLimits: []*stripe.IssuingCardSpendingControlsSpendingLimit{
			{Amount: 500, Interval: "per_authorization"},
			{Amount: 300, Interval: "per_authorization"}, // the lower one binds
			{Amount: 100, Interval: "daily", Categories: []string{"bakeries"}},
			{Amount: 900, Interval: "weekly"},
			{Amount: 1000, Interval: "monthly"},
			{Amount: 5000, Interval: "all_time"},
			nil,
		},
		AllowedCategories: []string{"florists", "miscellaneous", "bakeries"},
		BlockedCategories: []string{"betting_casino_gambling"},
	})
	require.Equal(t, engine.IssuerControls{
		PerTransaction: 300, Monthly: 1000, Lifetime: 5000,
		AllowedMCCs: []string{"5462", "5992"}, BlockedMCCs: []string{"7995"},
	}, got)
}
