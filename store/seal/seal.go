// Package seal encrypts a store's secrets at rest (card numbers, webhook
// secrets, idempotent responses) under the store key, and reads and writes
// key files. Every store seals the same way, so a key opens what any store
// wrote.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the size of the store key in bytes (AES-256).
const KeySize = 32

// Sealer encrypts secrets at rest. Two keys are derived from the store key:
// one for AES-256-GCM, one for the HMAC that fingerprints PANs for lookup.
type Sealer struct {
	aead   cipher.AEAD
	macKey []byte
}

func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("the store key must be %d bytes, got %d", KeySize, len(key))
	}
	encKey, err := hkdf.Key(sha256.New, key, nil, "agentledger seal v1", KeySize)
	if err != nil {
		return nil, err
	}
	macKey, err := hkdf.Key(sha256.New, key, nil, "agentledger pan fingerprint v1", KeySize)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, macKey: macKey}, nil
}

// Seal encrypts plaintext, binding it to aad (the row it belongs to) so a
// sealed value copied to another row does not open.
func (s *Sealer) Seal(plaintext, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic("seal: crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts what Seal sealed with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("seal: sealed value too short")
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errors.New("seal: cannot decrypt a sealed value: wrong AGENTLEDGER_KEY or key file?")
	}
	return out, nil
}

// Fingerprint is a keyed hash of a PAN: equal PANs give equal fingerprints,
// but the PAN cannot be recovered or brute-forced without the key.
func (s *Sealer) Fingerprint(pan string) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(pan))
	return m.Sum(nil)
}

// GenerateKey returns a new random store key.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("seal: crypto/rand failed: " + err.Error())
	}
	return k
}

// EncodeKey renders a key as it is written to a key file or AGENTLEDGER_KEY:
// 64 hex digits.
func EncodeKey(key []byte) string { return hex.EncodeToString(key) }

// ParseKey decodes a key given as 64 hex digits or as base64 of 32 bytes.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("the key must be %d bytes as 64 hex digits or base64", KeySize)
}

// ReadKeyFile reads a key file, refusing one that others may read.
func ReadKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %o; it must not be readable by others (chmod 600)", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// CreateKeyFile writes a new random key to path with mode 0600. It never
// overwrites: an existing file is an error (os.ErrExist), because replacing
// the key would make every sealed card secret unreadable.
func CreateKeyFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	key := GenerateKey()
	if _, err := f.WriteString(EncodeKey(key) + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return key, f.Close()
}
