package stripeapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseBillingAddress(t *testing.T) {
	a, err := ParseBillingAddress(`{"line1":" 1 Main St ","city":"San Francisco","state":"CA","postal_code":"94107","country":"us"}`)
	require.NoError(t, err)
	require.Equal(t, BillingAddress{Line1: "1 Main St", City: "San Francisco", State: "CA", PostalCode: "94107", Country: "US"}, a)

	a, err = ParseBillingAddress("  ")
	require.NoError(t, err, "blank is no address")
	require.True(t, a.IsZero())

	a, err = ParseBillingAddress(`{"line1":"1 Main","line2":null,"city":"Paris","postal_code":"75001","country":"FR"}`)
	require.NoError(t, err)
	require.Equal(t, "", a.Line2)

	for _, tc := range []struct{ in, field string }{
		{`{"city":"SF","postal_code":"94107","country":"US"}`, `"line1" is required`},
		{`{"line1":"1 Main","postal_code":"94107","country":"US"}`, `"city" is required`},
		{`{"line1":"1 Main","city":"SF","country":"US"}`, `"postal_code" is required`},
		{`{"line1":"1 Main","city":"SF","postal_code":"94107"}`, `"country" is required`},
		{`{"line1":"1 Main","city":"SF","postal_code":"94107","country":"USA"}`, `"country" must be a two-letter`},
		{`{"line1":"1 Main","city":"SF","postal_code":94107,"country":"US"}`, `"postal_code" must be a string`},
		{`{"line1":"1 Main","town":"SF","postal_code":"94107","country":"US"}`, `unknown field "town"`},
		{`{"line1":"1 Main","city":"SF","postal_code":"94107","country":"US"} {}`, `one JSON object`},
		{`["1 Main"]`, `want a JSON object`},
		{`1 Main St, SF`, `want a JSON object`},
	} {
		_, err := ParseBillingAddress(tc.in)
		require.Error(t, err, tc.in)
		require.Contains(t, err.Error(), BillingAddressEnv)
		require.Contains(t, err.Error(), tc.field)
	}
}
