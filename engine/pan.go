package engine

import (
	"crypto/rand"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TestBIN is the issuer identification number of every sandbox card: the
// Visa test range that card networks and processors treat as non-live.
const TestBIN = "424242"

// newPAN returns a 16-digit, Luhn-valid card number on the test BIN.
func newPAN() string {
	digits := []byte(TestBIN + randomDigits(9))
	return string(append(digits, luhnCheckDigit(digits)))
}

// newCVV returns a 3-digit card verification value.
func newCVV() string { return randomDigits(3) }

func randomDigits(n int) string {
	out := make([]byte, n)
	for i := range out {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic("engine: crypto/rand failed: " + err.Error())
		}
		out[i] = byte('0' + d.Int64())
	}
	return string(out)
}

// luhnCheckDigit returns the digit that makes payload+digit pass the Luhn
// check.
func luhnCheckDigit(payload []byte) byte {
	sum := 0
	for i := len(payload) - 1; i >= 0; i-- {
		d := int(payload[i] - '0')
		if (len(payload)-1-i)%2 == 0 { // doubled: every second digit from the right of the full number
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// LuhnValid reports whether a digit string passes the Luhn check.
func LuhnValid(number string) bool {
	if len(number) < 2 {
		return false
	}
	for i := 0; i < len(number); i++ {
		if number[i] < '0' || number[i] > '9' {
			return false
		}
	}
	return luhnCheckDigit([]byte(number[:len(number)-1])) == number[len(number)-1]
}

// Card numbers typed where something else was expected (a card reference, a
// summary, a merchant name) must never be echoed, stored or evented. A
// "card-number shape" is a run of 12 or more digits (ASCII or fullwidth),
// possibly grouped: up to maxPANSeparators spaces, dashes, dots, slashes or
// underscores between two digits.
const (
	minPANDigits     = 12
	maxPANDigits     = 19
	maxPANSeparators = 3
)

// panDigit returns the ASCII digit of r, if it is one (fullwidth too).
func panDigit(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return byte(r), true
	case r >= '０' && r <= '９':
		return byte('0' + r - '０'), true
	}
	return 0, false
}

func panSeparator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("-./_\u2010\u2011\u2012\u2013\u2014", r)
}

// digitRun reads the grouped digit run starting at byte i of s, and returns
// where it ends and its digits; where s[i] starts no digit it returns i, "".
func digitRun(s string, i int) (end int, digits string) {
	var b strings.Builder
	j := i
	for j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		if d, ok := panDigit(r); ok {
			b.WriteByte(d)
			j += size
			end = j
			continue
		}
		if b.Len() == 0 || !panSeparator(r) {
			break
		}
		// Separators count only when a digit follows them.
		k, seps := j, 0
		for k < len(s) && seps <= maxPANSeparators {
			r, size := utf8.DecodeRuneInString(s[k:])
			if !panSeparator(r) {
				break
			}
			k += size
			seps++
		}
		r, _ = utf8.DecodeRuneInString(s[k:])
		if _, ok := panDigit(r); !ok || seps > maxPANSeparators || k >= len(s) {
			break
		}
		j = k
	}
	if b.Len() == 0 {
		return i, ""
	}
	return end, b.String()
}

// panDigits returns the digits of a card number as given (grouped or not).
func panDigits(s string) string {
	_, digits := digitRun(strings.TrimSpace(s), 0)
	return digits
}

// LooksLikePAN reports whether a reference is a card number rather than an
// id: 12 to 19 digits, possibly grouped, and nothing else.
func LooksLikePAN(s string) bool {
	s = strings.TrimSpace(s)
	end, digits := digitRun(s, 0)
	return end == len(s) && len(digits) >= minPANDigits && len(digits) <= maxPANDigits
}

// MaskPANs replaces every run of card-number shape in s with its last four
// digits ("····4242"). Runs longer than a card number are masked too: a card
// number followed by more digits is still a card number.
func MaskPANs(s string) string {
	if !hasDigits(s, minPANDigits) {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); {
		if end, digits := digitRun(s, i); len(digits) >= minPANDigits {
			out.WriteString("····" + digits[len(digits)-4:])
			i = end
			continue
		} else if end > i {
			out.WriteString(s[i:end])
			i = end
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		out.WriteString(s[i : i+size])
		i += size
	}
	return out.String()
}

// hasDigits is a quick test for n digits anywhere, so that text without
// them is returned as it is.
func hasDigits(s string, n int) bool {
	for _, r := range s {
		if _, ok := panDigit(r); ok {
			if n--; n == 0 {
				return true
			}
		}
	}
	return false
}
