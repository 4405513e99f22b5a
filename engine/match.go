package engine

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Merchant names are chosen by the merchant, so matching them is a security
// rule, not a convenience. A charge's name (its descriptor, such as
// "AMAZON.COM*2K4RT" or "SQ *BLUE BOTTLE") is compared with a name someone
// trusted wrote down (an intent's merchant, an approved decision's, an
// allow-list entry) word by word from the start, never as a substring:
//
//   - Normalisation: letters are lower-cased and common Latin accents
//     dropped ("Café" is "cafe"); apostrophes are removed ("McDonald's" is
//     "mcdonalds"); every other character that is not a letter or digit
//     separates words ("AMAZON.COM*2K4RT" is amazon, com, 2k4rt).
//   - Whole words from the start: the name's words, joined, must equal the
//     descriptor's first words, joined. Spacing may differ ("OfficeDepot"
//     names "OFFICE DEPOT #1138"), but a word may not be cut: "Amazon" names
//     "AMAZON WEB SERVICES" and "Amazon Mktplace", not "NOTAMAZON BETS LTD";
//     "Amazon Web Services" is not named by "A", "WEB", "Services" or "ma".
//   - A payment facilitator's prefix is skipped: the descriptor may also be
//     read from just after its first "*" when what comes before is at most
//     maxFacilitatorPrefix characters ("SQ *", "TST*", "PAYPAL *").
//   - A long descriptor may be cut off by the network: one of at least
//     truncatedDescriptorLen characters, truncatedDescriptorLetters of them
//     letters or digits (padding does not make a descriptor long), names a
//     longer name when all its words, joined, start that name and cover at
//     least minTruncatedMatchLen of it ("SQ *BLUE BOTTLE COFFE" for "Blue
//     Bottle Coffee").
//   - Names written down must have at least MinMerchantNameLen letters or
//     digits, so that "A" or "ma" cannot name half the merchants there are.
//
// Block lists are read the other way round, since blocking more is the safe
// side: an entry blocks a descriptor whose normalised letters and digits
// contain the entry's anywhere ("Casino" blocks "GOLDEN NUGGET CASINO",
// "ONLINECASINO LTD" and "CASINOS AUSTRIA").
const (
	MinMerchantNameLen         = 3
	maxFacilitatorPrefix       = 12
	truncatedDescriptorLen     = 20
	truncatedDescriptorLetters = 15
	minTruncatedMatchLen       = 10
)

// latinFold maps accented Latin letters (lower case) to plain ones.
var latinFold = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'æ': "ae", 'ç': "c",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i",
	'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ø': "o", 'œ': "oe",
	'ù': "u", 'ú': "u", 'û': "u", 'ü': "u", 'ý': "y", 'ÿ': "y", 'ß': "ss",
}

func isApostrophe(r rune) bool { return r == '\'' || r == '’' || r == 'ʼ' || r == '`' }

// merchantWords splits a merchant name into its normalised words.
func merchantWords(name string) []string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, r := range name {
		switch {
		case isApostrophe(r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
			if f, ok := latinFold[r]; ok {
				b.WriteString(f)
			} else {
				b.WriteRune(r)
			}
		default:
			flush()
		}
	}
	flush()
	return words
}

// normalizeMerchant reduces a merchant name to its normalised words joined,
// so that "Amazon.com", "AMAZON COM" and "amazon-com" compare equal. It keys
// the merchant history the risk signals read.
func normalizeMerchant(name string) string { return strings.Join(merchantWords(name), "") }

// descriptorReadings returns the ways a descriptor is read: from its start
// and, after a payment facilitator's prefix, from just after the "*".
func descriptorReadings(descriptor string) [][]string {
	out := [][]string{merchantWords(descriptor)}
	if prefix, rest, found := strings.Cut(descriptor, "*"); found && utf8.RuneCountInString(strings.TrimSpace(prefix)) <= maxFacilitatorPrefix {
		out = append(out, merchantWords(rest))
	}
	return out
}

// merchantNamed reports whether a charge's descriptor is the merchant a
// trusted name names: an intent's declared merchant, an approved decision's,
// or an allow-list entry (see the rules above).
func merchantNamed(descriptor, name string) bool {
	want := normalizeMerchant(name)
	if utf8.RuneCountInString(want) < MinMerchantNameLen {
		return false
	}
	for _, words := range descriptorReadings(descriptor) {
		joined := ""
		for _, w := range words {
			joined += w
			if joined == want {
				return true
			}
			if len(joined) >= len(want) {
				break
			}
		}
		truncated := utf8.RuneCountInString(strings.TrimSpace(descriptor)) >= truncatedDescriptorLen &&
			utf8.RuneCountInString(normalizeMerchant(descriptor)) >= truncatedDescriptorLetters
		if truncated && len(joined) >= minTruncatedMatchLen && len(joined) < len(want) && strings.HasPrefix(want, joined) {
			return true
		}
	}
	return false
}

// merchantMentioned reports whether a descriptor contains a block-list
// entry anywhere, comparing normalised letters and digits.
func merchantMentioned(descriptor, entry string) bool {
	want := normalizeMerchant(entry)
	return want != "" && strings.Contains(normalizeMerchant(descriptor), want)
}

// merchantAllowed reports whether an allow-list entry admits a merchant:
// the network's merchant id equals the entry, or the entry names the
// merchant's descriptor.
func merchantAllowed(m Merchant, entry string) bool {
	return merchantIDIs(m, entry) || merchantNamed(m.Name, entry)
}

// merchantBlocked reports whether a block-list entry refuses a merchant: the
// merchant id equals the entry, or the descriptor mentions the entry.
func merchantBlocked(m Merchant, entry string) bool {
	return merchantIDIs(m, entry) || merchantMentioned(m.Name, entry)
}

func merchantIDIs(m Merchant, entry string) bool {
	return m.ID != "" && strings.EqualFold(m.ID, strings.TrimSpace(entry))
}

// checkMerchantName validates a merchant name that will be matched against
// descriptors (an intent's, a policy check's, an allow-list entry).
func checkMerchantName(field, name string) error {
	if name != "" && utf8.RuneCountInString(normalizeMerchant(name)) < MinMerchantNameLen {
		return invalid(field, "%q is too short to name a merchant: give at least %d letters or digits, "+
			"as the merchant's name starts on the charge (e.g. \"Amazon\", \"Blue Bottle\")", name, MinMerchantNameLen)
	}
	return nil
}
