package engine

import (
	"strings"
	"unicode"
)

// normalizeMerchant reduces a merchant name to lower-case letters and digits,
// so that "Amazon.com", "AMAZON COM" and "amazon-com" compare equal.
func normalizeMerchant(name string) string {
	var b strings.Builder
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// merchantMatches reports whether a charge's merchant name matches the one an
// intent declared: compared case- and punctuation-insensitively, either
// containing the other (DESIGN §4), so "Amazon" matches "AMAZON.COM*2K4"
// and "amazon.com" matches "Amazon".
func merchantMatches(charged, declared string) bool {
	c, d := normalizeMerchant(charged), normalizeMerchant(declared)
	if c == "" || d == "" {
		return false
	}
	return strings.Contains(c, d) || strings.Contains(d, c)
}

// merchantListed reports whether a merchant (name, and network merchant id
// when known) is named by one entry of an allow or block list. An entry
// names a merchant when it equals the merchant id or when the normalized
// merchant name contains the normalized entry: "amazon" covers
// "Amazon Web Services", but "Amazon Web Services" does not cover "Amazon".
func merchantListed(name, id, entry string) bool {
	if id != "" && strings.EqualFold(id, strings.TrimSpace(entry)) {
		return true
	}
	n, e := normalizeMerchant(name), normalizeMerchant(entry)
	return e != "" && strings.Contains(n, e)
}
