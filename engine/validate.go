package engine

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkText validates a free-text field: valid UTF-8, no control characters,
// at most max characters, and present when required. It returns the trimmed text.
func checkText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case !utf8.ValidString(s):
		return "", invalid(field, "must be valid UTF-8")
	case required && s == "":
		return "", invalid(field, "is required")
	case utf8.RuneCountInString(s) > max:
		return "", invalid(field, "must be at most %d characters, got %d", max, utf8.RuneCountInString(s))
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", invalid(field, "must not contain control characters")
	}
	return s, nil
}

// checkFreeText is checkText for text people write (a summary, a reason, a
// merchant name): a card number in it is masked to its last four digits
// before it is stored, evented or echoed.
func checkFreeText(field, s string, max int, required bool) (string, error) {
	s, err := checkText(field, s, max, required)
	return MaskPANs(s), err
}

// checkName validates a unique name (of a user or agent). Names may not look
// like ids, since every place that takes an id takes a name too.
func checkName(field, s string) (string, error) {
	s, err := checkText(field, s, maxNameLen, true)
	if err != nil {
		return "", err
	}
	if MaskPANs(s) != s {
		return "", invalid(field, "must not contain a card number")
	}
	for _, p := range []string{PrefixUser, PrefixAgent, PrefixCard, PrefixIntent, PrefixAuthorization, PrefixDecision, PrefixKey} {
		if strings.HasPrefix(s, p) {
			return "", invalid(field, "must not start with %q, which is reserved for ids", p)
		}
	}
	return s, nil
}

// checkMCC validates an optional merchant category code.
func checkMCC(field, mcc string) (string, error) {
	mcc = strings.TrimSpace(mcc)
	if mcc != "" && !mccPattern.MatchString(mcc) {
		return "", invalid(field, "%q is not a 4-digit merchant category code", mcc)
	}
	return mcc, nil
}

// checkCountry validates an optional ISO 3166 alpha-2 or alpha-3 country
// code (networks send either).
func checkCountry(field, c string) (string, error) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "" {
		return "", nil
	}
	if (len(c) != 2 && len(c) != 3) || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return "", invalid(field, "%q is not an ISO 3166 country code (two or three letters)", c)
	}
	return c, nil
}

// checkIdempotencyKey validates an optional idempotency key.
func checkIdempotencyKey(key string) error {
	if len(key) > 255 {
		return invalid("idempotency_key", "must be at most 255 characters")
	}
	if strings.IndexFunc(key, unicode.IsControl) >= 0 {
		return invalid("idempotency_key", "must not contain control characters")
	}
	return nil
}

// checkOneOf validates an enum value.
func checkOneOf(field, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid(field, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
}
