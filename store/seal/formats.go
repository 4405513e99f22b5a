package seal

import (
	"strings"

	"github.com/agentledger/agentledger/engine"
)

// What the stores seal, and with what bound to it, in one place: a key
// opens what any store wrote, and a backup check opens what the store did.

// SealCard seals a card's PAN and CVV together, bound to the card's id.
func (s *Sealer) SealCard(cardID string, secret engine.CardSecret) []byte {
	return s.Seal([]byte(secret.PAN+":"+secret.CVV), []byte(cardID))
}

// OpenCard opens what SealCard sealed for the card.
func (s *Sealer) OpenCard(cardID string, sealed []byte) (engine.CardSecret, error) {
	plain, err := s.Open(sealed, []byte(cardID))
	if err != nil {
		return engine.CardSecret{}, err
	}
	pan, cvv, _ := strings.Cut(string(plain), ":")
	return engine.CardSecret{PAN: pan, CVV: cvv}, nil
}

// CardFingerprint is what a card is found by: its PAN's fingerprint, or,
// for a card provisioned at an issuer (its number stays there), one unique
// to the issuer's card that matches no card number.
func (s *Sealer) CardFingerprint(c *engine.Card, pan string) []byte {
	if c.Issuer != "" {
		return s.Fingerprint("issuer:" + c.Issuer + ":" + c.IssuerCardID)
	}
	return s.Fingerprint(pan)
}

// ResponseAAD binds a stored idempotent response to its scope and key.
func ResponseAAD(scope, key string) []byte { return []byte(scope + "\x00" + key) }
