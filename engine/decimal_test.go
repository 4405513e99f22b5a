package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDecimalIsExact(t *testing.T) {
	for _, tc := range []struct {
		text, currency string
		want           int64
	}{
		{"120", "USD", 12000},
		{"4832.50", "USD", 483250},
		{"4832.5", "USD", 483250},
		{"0.29", "USD", 29}, // 0.29 is 0.28999… as a float
		{"19.99", "USD", 1999},
		{"1.2e2", "USD", 12000},
		{"1E+2", "USD", 10000},
		{"12345e-2", "USD", 12345},
		{"1.500", "USD", 150},
		{"500", "JPY", 500},
		{"12.500", "BHD", 12500},
		{"0", "USD", 0},
		{"0.00", "USD", 0},
		{"1000000000000", "USD", MaxAmount},
	} {
		got, err := ParseDecimal("amount_usd", tc.text, tc.currency)
		require.NoError(t, err, tc.text)
		assert.Equal(t, tc.want, got, tc.text)
	}
}

func TestParseDecimalRefusesWhatIsNotExact(t *testing.T) {
	for _, tc := range []struct{ text, currency, message string }{
		{"0.001", "USD", "amount_usd: 0.001 has more decimal places than USD's 2"},
		{"19.999", "USD", "more decimal places"},
		{"1.5", "JPY", "more decimal places"},
		{"1e-3", "USD", "more decimal places"},
		{"-5", "USD", "must not be negative"},
		{"1000000000000.01", "USD", "must not exceed 1000000000000.00"},
		{"1e30", "USD", "must not exceed"},
		{"99999999999999999999", "USD", "must not exceed"},
		{"1e1000", "USD", "must be a number"},
		{"", "USD", "must be a number"},
		{"12a", "USD", "must be a number"},
		{"01", "USD", "must be a number"},
		{"1.", "USD", "must be a number"},
		{".5", "USD", "must be a number"},
		{`"5"`, "USD", "must be a number"},
		{"5", "XXX", "unknown currency"},
	} {
		_, err := ParseDecimal("amount_usd", tc.text, tc.currency)
		require.Error(t, err, tc.text)
		assert.Equal(t, CodeInvalidInput, ErrorCode(err), tc.text)
		assert.Contains(t, err.Error(), tc.message, tc.text)
		assert.Equal(t, "amount_usd", err.(*Error).Field, tc.text)
	}
}

func TestDecimalString(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{483250, "USD", "4832.50"}, {5, "USD", "0.05"}, {0, "USD", "0.00"}, {-150, "USD", "-1.50"},
		{500, "JPY", "500"}, {12500, "BHD", "12.500"},
	} {
		assert.Equal(t, tc.want, DecimalString(tc.amount, tc.currency))
		back, err := ParseDecimal("x", tc.want, tc.currency)
		if tc.amount >= 0 {
			require.NoError(t, err)
			assert.Equal(t, tc.amount, back)
		}
	}
}
