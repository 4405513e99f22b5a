package engine

import (
	"strconv"
	"strings"
)

// MaxAmount bounds every amount the engine accepts (minor units). It keeps
// sums over any realistic history far from int64 overflow: 10^14 cents is a
// trillion dollars.
const MaxAmount int64 = 100_000_000_000_000

// DefaultCurrency is used wherever a currency may be omitted.
const DefaultCurrency = "USD"

type currencyInfo struct {
	exponent int
	symbol   string // prefix symbol; empty means "12.50 CHF" style
}

// currencies maps ISO 4217 codes to their minor-unit exponent. The list holds
// the currencies card networks settle in; an unknown code is rejected rather
// than guessed at.
var currencies = map[string]currencyInfo{
	"USD": {2, "$"}, "EUR": {2, "€"}, "GBP": {2, "£"}, "JPY": {0, "¥"}, "KRW": {0, "₩"},
	"INR": {2, "₹"}, "BHD": {3, ""}, "KWD": {3, ""}, "OMR": {3, ""}, "JOD": {3, ""},
	"TND": {3, ""}, "IQD": {3, ""}, "LYD": {3, ""}, "CLP": {0, ""}, "ISK": {0, ""},
	"VND": {0, ""}, "UGX": {0, ""}, "PYG": {0, ""}, "XAF": {0, ""}, "XOF": {0, ""},
	"CAD": {2, ""}, "AUD": {2, ""}, "NZD": {2, ""}, "CHF": {2, ""}, "SEK": {2, ""},
	"NOK": {2, ""}, "DKK": {2, ""}, "PLN": {2, ""}, "CZK": {2, ""}, "HUF": {2, ""},
	"RON": {2, ""}, "BGN": {2, ""}, "TRY": {2, ""}, "ILS": {2, ""}, "AED": {2, ""},
	"SAR": {2, ""}, "QAR": {2, ""}, "ZAR": {2, ""}, "NGN": {2, ""}, "KES": {2, ""},
	"EGP": {2, ""}, "MAD": {2, ""}, "CNY": {2, ""}, "HKD": {2, ""}, "SGD": {2, ""},
	"TWD": {2, ""}, "THB": {2, ""}, "MYR": {2, ""}, "IDR": {2, ""}, "PHP": {2, ""},
	"PKR": {2, ""}, "BDT": {2, ""}, "LKR": {2, ""}, "MXN": {2, ""}, "BRL": {2, ""},
	"ARS": {2, ""}, "COP": {2, ""}, "PEN": {2, ""}, "UYU": {2, ""},
}

// CurrencyExponent returns the number of minor-unit digits of an ISO 4217
// currency, and false for a code the engine does not know.
func CurrencyExponent(code string) (int, bool) {
	c, ok := currencies[code]
	return c.exponent, ok
}

// FormatAmount renders an amount in minor units for people: "$1,250.00",
// "¥500", "12.500 BHD". Negative amounts get a leading minus sign.
func FormatAmount(amount int64, currency string) string {
	info, ok := currencies[currency]
	if !ok {
		return strconv.FormatInt(amount, 10) + " " + currency
	}
	sign := ""
	if amount < 0 {
		sign = "-"
		amount = -amount
	}
	digits := strconv.FormatInt(amount, 10)
	var whole, frac string
	if info.exponent > 0 {
		for len(digits) <= info.exponent {
			digits = "0" + digits
		}
		whole, frac = digits[:len(digits)-info.exponent], digits[len(digits)-info.exponent:]
	} else {
		whole = digits
	}
	s := groupThousands(whole)
	if frac != "" {
		s += "." + frac
	}
	if info.symbol != "" {
		return sign + info.symbol + s
	}
	return sign + s + " " + currency
}

func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}

// normalizeCurrency upper-cases a currency code, substituting the default for
// an empty one, and checks it is a known ISO 4217 code.
func normalizeCurrency(field, code, fallback string) (string, error) {
	if code == "" {
		code = fallback
	}
	code = strings.ToUpper(strings.TrimSpace(code))
	if _, ok := currencies[code]; !ok {
		return "", invalid(field, "unknown currency %q (use an ISO 4217 code such as USD)", code)
	}
	return code, nil
}

// checkAmount validates a positive amount in minor units.
func checkAmount(field string, amount int64) error {
	switch {
	case amount <= 0:
		return invalid(field, "must be a positive amount in minor units (e.g. 1250 for $12.50), got %d", amount)
	case amount > MaxAmount:
		return invalid(field, "must not exceed %d minor units", MaxAmount)
	}
	return nil
}
