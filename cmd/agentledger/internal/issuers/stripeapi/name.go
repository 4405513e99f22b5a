package stripeapi

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

const (
	// maxNameLen is the longest cardholder name Stripe takes (it is
	// printed on cards).
	maxNameLen = 24
	// fallbackName names a cardholder whose user has neither a usable name
	// nor a usable email address.
	fallbackName = "Agentledger Cardholder"
)

// latinFolds spells the Latin letters that have no decomposition into an
// ASCII letter and a mark.
var latinFolds = strings.NewReplacer(
	"ß", "ss", "æ", "ae", "Æ", "AE", "œ", "oe", "Œ", "OE", "ø", "o", "Ø", "O",
	"ł", "l", "Ł", "L", "đ", "d", "Đ", "D", "ð", "d", "Ð", "D", "þ", "th", "Þ", "Th", "ı", "i",
)

// cardholderName is a name Stripe accepts for a cardholder: at most 24
// characters of ASCII letters and single spaces, "with no special
// characters or numbers". Accents are dropped (José → Jose), separators
// become spaces (Jean-Luc → Jean Luc), digits, symbols and letters of other
// scripts are dropped, and whole words are kept up to the limit. When the
// user's name leaves nothing, the local part of the email address is tried
// (jane.doe@… → jane doe), then a fixed name.
func cardholderName(name, email string) string {
	if n := cleanName(name); n != "" {
		return n
	}
	if local, _, ok := strings.Cut(email, "@"); ok {
		if n := cleanName(local); n != "" {
			return n
		}
	}
	return fallbackName
}

func cleanName(s string) string {
	s = norm.NFD.String(latinFolds.Replace(s))
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < unicode.MaxASCII && unicode.IsLetter(r):
			b.WriteRune(r)
		case unicode.IsSpace(r) || strings.ContainsRune("-._'’,+", r):
			b.WriteByte(' ')
		}
	}
	out := ""
	for _, w := range strings.Fields(b.String()) {
		next := w
		if out != "" {
			next = out + " " + w
		}
		if len(next) > maxNameLen {
			if out == "" {
				out = w[:maxNameLen]
			}
			break
		}
		out = next
	}
	return out
}
