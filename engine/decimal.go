package engine

import (
	"strconv"
	"strings"
)

// ParseDecimal reads an amount written in major units, in JSON's number
// syntax ("120", "4832.50", "1.2e2"), exactly into minor units of the
// currency: no float is involved. A fraction finer than the currency's
// minor unit (a tenth of a cent), a negative amount, one above MaxAmount or
// text that is not a number is INVALID_INPUT naming the field.
func ParseDecimal(field, text, currency string) (int64, error) {
	exp, ok := CurrencyExponent(currency)
	if !ok {
		return 0, invalid(field, "unknown currency %q", currency)
	}
	mantissa, frac, power, ok := splitNumber(text)
	if !ok {
		return 0, invalid(field, "must be a number such as 120 or 4832.50, got %q", text)
	}
	if strings.HasPrefix(mantissa, "-") {
		return 0, invalid(field, "must not be negative, got %s", text)
	}
	digits := strings.TrimLeft(mantissa+frac, "0")
	shift := power - len(frac) + exp // minor units = digits × 10^shift
	if digits == "" {
		return 0, nil
	}
	if shift < 0 {
		cut := len(digits) + shift
		if cut < 0 || strings.Trim(digits[max(cut, 0):], "0") != "" {
			return 0, invalid(field, "%s has more decimal places than %s's %d", text, currency, exp)
		}
		digits, shift = digits[:cut], 0
	}
	if len(digits)+shift > 18 {
		return 0, tooLarge(field, currency)
	}
	n, err := strconv.ParseInt(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil || n > MaxAmount {
		return 0, tooLarge(field, currency)
	}
	return n, nil
}

// splitNumber splits JSON number text into its integer digits (with any
// minus sign), fraction digits and power of ten.
func splitNumber(s string) (mantissa, frac string, power int, ok bool) {
	rest := s
	if e := strings.IndexAny(rest, "eE"); e >= 0 {
		p, err := strconv.Atoi(strings.TrimPrefix(rest[e+1:], "+"))
		if err != nil || p > 100 || p < -100 || rest[e+1:] == "" {
			return "", "", 0, false
		}
		power, rest = p, rest[:e]
	}
	mantissa, frac, dot := strings.Cut(rest, ".")
	unsigned := strings.TrimPrefix(mantissa, "-")
	if unsigned == "" || !allDigits(unsigned) || (dot && (frac == "" || !allDigits(frac))) ||
		(len(unsigned) > 1 && unsigned[0] == '0') {
		return "", "", 0, false
	}
	return mantissa, frac, power, true
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// DecimalString writes minor units as a plain decimal in major units with
// every minor digit: 483250 USD is "4832.50", 500 JPY is "500".
func DecimalString(amount int64, currency string) string {
	exp, _ := CurrencyExponent(currency)
	sign := ""
	if amount < 0 {
		sign, amount = "-", -amount
	}
	digits := strconv.FormatInt(amount, 10)
	if exp == 0 {
		return sign + digits
	}
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
}

// tooLarge is built without invalid's masking: the bound is all digits.
func tooLarge(field, currency string) error {
	return &Error{Code: CodeInvalidInput, Field: field, Message: field + ": must not exceed " + DecimalString(MaxAmount, currency)}
}
