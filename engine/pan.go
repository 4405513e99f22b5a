package engine

import (
	"crypto/rand"
	"math/big"
	"strings"
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
// "card-number shape" is a run of 12 or more digits, possibly grouped by
// single spaces or dashes.
const (
	minPANDigits = 12
	maxPANDigits = 19
)

// LooksLikePAN reports whether a reference is a card number rather than an
// id: 12 to 19 digits, possibly grouped by spaces or dashes.
func LooksLikePAN(s string) bool {
	digits := panDigits(strings.TrimSpace(s))
	return digits != "" && len(digits) >= minPANDigits && len(digits) <= maxPANDigits
}

// panDigits returns the digits of a grouped digit string, or "" when s is
// anything else.
func panDigits(s string) string {
	var b strings.Builder
	prevSep := true // no leading separator
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
			prevSep = false
		case (c == ' ' || c == '-') && !prevSep:
			prevSep = true
		default:
			return ""
		}
	}
	if prevSep {
		return ""
	}
	return b.String()
}

// MaskPANs replaces every run of 12 or more digits of card-number shape in s
// with its last four digits ("····4242"). Longer runs are masked too: a
// card number followed by more digits is still a card number.
func MaskPANs(s string) string {
	if !hasDigitRun(s) {
		return s
	}
	var out strings.Builder
	i := 0
	for i < len(s) {
		end, digits := digitRun(s, i)
		if digits != "" && len(digits) >= minPANDigits {
			out.WriteString("····" + digits[len(digits)-4:])
			i = end
			continue
		}
		if end > i {
			out.WriteString(s[i:end])
			i = end
			continue
		}
		out.WriteByte(s[i])
		i++
	}
	return out.String()
}

// hasDigitRun is a quick test for twelve digits anywhere, so that text
// without them is returned as it is.
func hasDigitRun(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			if n++; n >= minPANDigits {
				return true
			}
		}
	}
	return false
}

// digitRun reads the grouped digit run starting at s[i] (a digit), and
// returns where it ends and its digits; for anything else it returns i and "".
func digitRun(s string, i int) (end int, digits string) {
	if s[i] < '0' || s[i] > '9' {
		return i, ""
	}
	var b strings.Builder
	j := i
	for j < len(s) {
		c := s[j]
		if c >= '0' && c <= '9' {
			b.WriteByte(c)
			j++
			continue
		}
		if (c == ' ' || c == '-') && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9' {
			j++
			continue
		}
		break
	}
	return j, b.String()
}
