package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"
)

// KeyPrefix starts every API key secret, so that leaked keys are easy to
// recognise (and to scan for).
const KeyPrefix = "al_"

// CreateKeyInput creates an API key.
type CreateKeyInput struct {
	Role           string `json:"role"`  // RoleAdmin, RoleAgent, RoleViewer or RoleNetwork
	Agent          string `json:"agent"` // required for, and only for, RoleAgent
	Name           string `json:"name,omitempty"`
	IdempotencyKey string `json:"-"`
}

// NewKey is a freshly created key with its secret, which is shown once.
type NewKey struct {
	APIKey
	Secret string `json:"key"`
}

// CreateKey creates an API key and returns its secret once; only its
// SHA-256 is stored. Operators only.
func (e *Engine) CreateKey(ctx context.Context, actor Actor, in CreateKeyInput) (*NewKey, error) {
	if err := actor.requireRole("create key", RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkOneOf("role", in.Role, RoleAdmin, RoleAgent, RoleViewer, RoleNetwork); err != nil {
		return nil, err
	}
	switch {
	case in.Role == RoleAgent && in.Agent == "":
		return nil, invalid("agent", "is required for an agent key")
	case in.Role != RoleAgent && in.Agent != "":
		return nil, invalid("agent", "only agent keys belong to an agent")
	}
	var err error
	if in.Name, err = checkFreeText("name", in.Name, maxNameLen, false); err != nil {
		return nil, err
	}
	var out *NewKey
	err = e.update(ctx, func(tx Tx, now time.Time) error {
		out, err = idempotent(tx, actor, in.IdempotencyKey, "key.create", in, now, func() (*NewKey, error) {
			k := &APIKey{ID: e.newID(PrefixKey, now), Role: in.Role, Name: in.Name, CreatedAt: now}
			if in.Role == RoleAgent {
				a, err := findAgentFor(tx, actor, "agent", in.Agent)
				if err != nil {
					return nil, err
				}
				k.AgentID = a.ID
			}
			secret := newSecret()
			sum := sha256.Sum256([]byte(secret))
			k.Hash, k.Prefix = sum[:], secret[:len(KeyPrefix)+8]
			if err := tx.InsertKey(k); err != nil {
				return nil, err
			}
			return &NewKey{APIKey: *k, Secret: secret}, nil
		})
		return err
	})
	return out, err
}

func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("engine: crypto/rand failed: " + err.Error())
	}
	return KeyPrefix + hex.EncodeToString(b)
}

// ListKeys returns a page of API keys (never their secrets), oldest first.
// Operators only.
func (e *Engine) ListKeys(ctx context.Context, actor Actor, page Page) (List[APIKey], error) {
	if err := actor.requireRole("list keys", RoleAdmin); err != nil {
		return List[APIKey]{}, err
	}
	if err := page.check(PrefixKey); err != nil {
		return List[APIKey]{}, err
	}
	var out List[APIKey]
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		var err error
		out, err = paginate(page, func(k *APIKey) string { return k.ID }, func(after string, limit int) ([]*APIKey, error) {
			return tx.ListKeys(KeyFilter{After: after, Limit: limit})
		}, keepAll)
		return err
	})
	return out, err
}

// RevokeKeyInput revokes an API key.
type RevokeKeyInput struct {
	KeyID          string `json:"key_id"`
	IdempotencyKey string `json:"-"`
}

// RevokeKey revokes a key; revoking a revoked key changes nothing.
// Operators only.
func (e *Engine) RevokeKey(ctx context.Context, actor Actor, in RevokeKeyInput) (*APIKey, error) {
	if err := actor.requireRole("revoke key", RoleAdmin); err != nil {
		return nil, err
	}
	var out *APIKey
	err := e.update(ctx, func(tx Tx, now time.Time) error {
		var err error
		out, err = idempotent(tx, actor, in.IdempotencyKey, "key.revoke", in, now, func() (*APIKey, error) {
			k, err := tx.FindKey(in.KeyID)
			if IsNotFound(err) {
				return nil, notFound("key_id", "key", in.KeyID)
			} else if err != nil {
				return nil, err
			}
			if k.RevokedAt == nil {
				k.RevokedAt = &now
				err = tx.UpdateKey(k)
			}
			return k, err
		})
		return err
	})
	return out, err
}

// Authenticate turns an API key secret into the actor it stands for. An
// unknown, malformed or revoked key, or an agent key whose agent is gone, is
// UNAUTHORIZED; the message never says which.
func (e *Engine) Authenticate(ctx context.Context, secret string) (Actor, error) {
	unauthorized := Errorf(CodeUnauthorized, "invalid API key")
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, KeyPrefix) || len(secret) > 200 {
		return Actor{}, unauthorized
	}
	sum := sha256.Sum256([]byte(secret))
	var actor Actor
	err := e.view(ctx, func(tx Tx, _ time.Time) error {
		k, err := tx.FindKeyByHash(sum[:])
		if IsNotFound(err) {
			return unauthorized
		} else if err != nil {
			return err
		}
		// The lookup was by hash; compare again in constant time so that
		// nothing about the stored hash leaks through timing.
		if subtle.ConstantTimeCompare(k.Hash, sum[:]) != 1 || k.RevokedAt != nil {
			return unauthorized
		}
		if k.Role == RoleAgent {
			if _, err := tx.FindAgent(k.AgentID); err != nil {
				return unauthorized
			}
		}
		actor = Actor{Role: k.Role, AgentID: k.AgentID, KeyID: k.ID}
		return nil
	})
	return actor, err
}
