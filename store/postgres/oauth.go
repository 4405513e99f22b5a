package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/agentledger/agentledger/engine"
)

const oauthClientColumns = `id, name, redirect_uris, auth_method, secret_hash, registered_by, created_at, revoked_at`

func scanOAuthClient(s scanner) (*engine.OAuthClient, error) {
	var c engine.OAuthClient
	var uris string
	var created int64
	var revoked *int64
	err := s.Scan(&c.ID, &c.Name, &uris, &c.AuthMethod, &c.SecretHash, &c.RegisteredBy, &created, &revoked)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("postgres: OAuth client %s: redirect_uris: %w", c.ID, err)
	}
	c.CreatedAt, c.RevokedAt = fromMicros(created), timePtr(revoked)
	return &c, nil
}

// InsertOAuthClient implements engine.Tx. A duplicate id is a conflict
// that leaves the transaction usable.
func (t *tx) InsertOAuthClient(c *engine.OAuthClient) error {
	return t.insertUnique(conflict("OAuth client "+c.ID+" already exists"),
		`INSERT INTO oauth_clients (`+oauthClientColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT DO NOTHING`,
		c.ID, c.Name, mustJSON(c.RedirectURIs), c.AuthMethod, c.SecretHash, c.RegisteredBy, micros(c.CreatedAt),
		nullMicros(c.RevokedAt))
}

// UpdateOAuthClient implements engine.Tx.
func (t *tx) UpdateOAuthClient(c *engine.OAuthClient) error {
	return t.execOne(notFound("OAuth client", c.ID), `UPDATE oauth_clients SET revoked_at = $1 WHERE id = $2`,
		nullMicros(c.RevokedAt), c.ID)
}

// FindOAuthClient implements engine.Tx.
func (t *tx) FindOAuthClient(id string) (*engine.OAuthClient, error) {
	return findOne(t, scanOAuthClient, notFound("OAuth client", id),
		`SELECT `+oauthClientColumns+` FROM oauth_clients WHERE id = $1`, id)
}

// ListOAuthClients implements engine.Tx.
func (t *tx) ListOAuthClients(f engine.OAuthClientFilter) ([]*engine.OAuthClient, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.query(`SELECT `+oauthClientColumns+` FROM oauth_clients`, "id", f.Limit)
	return queryList(t, scanOAuthClient, q, args...)
}

const oauthGrantColumns = `id, client_id, agent_id, read_only, resource, scope, redirect_uri, code_challenge,
	approved_by, created_at, connected_at, revoked_at, revoked_reason`

func scanOAuthGrant(s scanner) (*engine.OAuthGrant, error) {
	var g engine.OAuthGrant
	var created int64
	var connected, revoked *int64
	if err := s.Scan(&g.ID, &g.ClientID, &g.AgentID, &g.ReadOnly, &g.Resource, &g.Scope, &g.RedirectURI,
		&g.CodeChallenge, &g.ApprovedBy, &created, &connected, &revoked, &g.RevokedReason); err != nil {
		return nil, err
	}
	g.CreatedAt, g.ConnectedAt, g.RevokedAt = fromMicros(created), timePtr(connected), timePtr(revoked)
	return &g, nil
}

// InsertOAuthGrant implements engine.Tx.
func (t *tx) InsertOAuthGrant(g *engine.OAuthGrant) error {
	return t.insertUnique(conflict("OAuth grant "+g.ID+" already exists"),
		`INSERT INTO oauth_grants (`+oauthGrantColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING`,
		g.ID, g.ClientID, g.AgentID, g.ReadOnly, g.Resource, g.Scope, g.RedirectURI, g.CodeChallenge, g.ApprovedBy,
		micros(g.CreatedAt), nullMicros(g.ConnectedAt), nullMicros(g.RevokedAt), g.RevokedReason)
}

// UpdateOAuthGrant implements engine.Tx.
func (t *tx) UpdateOAuthGrant(g *engine.OAuthGrant) error {
	return t.execOne(notFound("OAuth grant", g.ID),
		`UPDATE oauth_grants SET connected_at = $1, revoked_at = $2, revoked_reason = $3 WHERE id = $4`,
		nullMicros(g.ConnectedAt), nullMicros(g.RevokedAt), g.RevokedReason, g.ID)
}

// FindOAuthGrant implements engine.Tx.
func (t *tx) FindOAuthGrant(id string) (*engine.OAuthGrant, error) {
	return findOne(t, scanOAuthGrant, notFound("OAuth grant", id),
		`SELECT `+oauthGrantColumns+` FROM oauth_grants WHERE id = $1`, id)
}

// ListOAuthGrants implements engine.Tx.
func (t *tx) ListOAuthGrants(f engine.OAuthGrantFilter) ([]*engine.OAuthGrant, error) {
	var c conditions
	if f.ClientID != "" {
		c.And("client_id = ?", f.ClientID)
	}
	c.After("id", f.After, false)
	q, args := c.query(`SELECT `+oauthGrantColumns+` FROM oauth_grants`, "id", f.Limit)
	return queryList(t, scanOAuthGrant, q, args...)
}

// InsertOAuthToken implements engine.Tx.
func (t *tx) InsertOAuthToken(k *engine.OAuthToken) error {
	return t.insertUnique(conflict("OAuth token already exists"),
		`INSERT INTO oauth_tokens (hash, kind, grant_id, created_at, expires_at, used_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		k.Hash, k.Kind, k.GrantID, micros(k.CreatedAt), micros(k.ExpiresAt), nullMicros(k.UsedAt))
}

// FindOAuthToken implements engine.Tx.
func (t *tx) FindOAuthToken(hash []byte) (*engine.OAuthToken, error) {
	return findOne(t, func(s scanner) (*engine.OAuthToken, error) {
		var k engine.OAuthToken
		var created, expires int64
		var used *int64
		if err := s.Scan(&k.Hash, &k.Kind, &k.GrantID, &created, &expires, &used); err != nil {
			return nil, err
		}
		k.CreatedAt, k.ExpiresAt, k.UsedAt = fromMicros(created), fromMicros(expires), timePtr(used)
		return &k, nil
	}, notFound("OAuth token", "with that secret"),
		`SELECT hash, kind, grant_id, created_at, expires_at, used_at FROM oauth_tokens WHERE hash = $1`, hash)
}

// MarkOAuthTokenUsed implements engine.Tx.
func (t *tx) MarkOAuthTokenUsed(hash []byte, at time.Time) error {
	return t.execOne(notFound("OAuth token", "with that secret"),
		`UPDATE oauth_tokens SET used_at = $1 WHERE hash = $2`, micros(at), hash)
}

// oauthPruneLimit is a prune's LIMIT: NULL (no limit) for a negative one,
// as SQLite reads it, where PostgreSQL would fail the statement.
func oauthPruneLimit(limit int) *int64 {
	if limit < 0 {
		return nil
	}
	n := int64(limit)
	return &n
}

// PruneOAuthTokens implements engine.Tx. PostgreSQL has no DELETE … LIMIT:
// the subquery picks the keys.
func (t *tx) PruneOAuthTokens(before time.Time, limit int) (int64, error) {
	tag, err := t.exec(`DELETE FROM oauth_tokens WHERE hash IN (
		SELECT hash FROM oauth_tokens WHERE expires_at < $1 LIMIT $2)`, micros(before), oauthPruneLimit(limit))
	return tag.RowsAffected(), err
}

// PruneOAuthClients implements engine.Tx: only dynamically registered
// clients no grant refers to.
func (t *tx) PruneOAuthClients(before time.Time, limit int) (int64, error) {
	tag, err := t.exec(`DELETE FROM oauth_clients WHERE id IN (
		SELECT c.id FROM oauth_clients c WHERE c.registered_by = 'dynamic' AND c.created_at < $1
			AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.id)
		LIMIT $2)`, micros(before), oauthPruneLimit(limit))
	return tag.RowsAffected(), err
}
