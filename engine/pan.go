package engine

import (
	"crypto/rand"
	"math/big"
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
