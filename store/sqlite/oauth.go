package sqlite

import (
	"database/sql"
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
	var revoked sql.NullInt64
	err := s.Scan(&c.ID, &c.Name, &uris, &c.AuthMethod, &c.SecretHash, &c.RegisteredBy, &created, &revoked)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(uris), &c.RedirectURIs); err != nil {
		return nil, fmt.Errorf("sqlite: OAuth client %s: redirect_uris: %w", c.ID, err)
	}
	c.CreatedAt, c.RevokedAt = fromMicros(created), timePtr(revoked)
	return &c, nil
}

// InsertOAuthClient implements engine.Tx.
func (t *tx) InsertOAuthClient(c *engine.OAuthClient) error {
	uris, err := json.Marshal(c.RedirectURIs)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO oauth_clients (`+oauthClientColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, string(uris), c.AuthMethod, c.SecretHash, c.RegisteredBy, micros(c.CreatedAt),
		nullMicros(c.RevokedAt))
	return err
}

// UpdateOAuthClient implements engine.Tx.
func (t *tx) UpdateOAuthClient(c *engine.OAuthClient) error {
	return t.execOne(notFound("OAuth client", c.ID), `UPDATE oauth_clients SET revoked_at = ? WHERE id = ?`,
		nullMicros(c.RevokedAt), c.ID)
}

// FindOAuthClient implements engine.Tx.
func (t *tx) FindOAuthClient(id string) (*engine.OAuthClient, error) {
	return findOne(t, scanOAuthClient, notFound("OAuth client", id),
		`SELECT `+oauthClientColumns+` FROM oauth_clients WHERE id = ?`, id)
}

// ListOAuthClients implements engine.Tx.
func (t *tx) ListOAuthClients(f engine.OAuthClientFilter) ([]*engine.OAuthClient, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.Query(`SELECT `+oauthClientColumns+` FROM oauth_clients`, "id", f.Limit)
	return queryList(t, scanOAuthClient, q, args...)
}

const oauthGrantColumns = `id, client_id, agent_id, read_only, resource, scope, redirect_uri, code_challenge,
	approved_by, created_at, connected_at, revoked_at, revoked_reason`

func scanOAuthGrant(s scanner) (*engine.OAuthGrant, error) {
	var g engine.OAuthGrant
	var created int64
	var connected, revoked sql.NullInt64
	if err := s.Scan(&g.ID, &g.ClientID, &g.AgentID, &g.ReadOnly, &g.Resource, &g.Scope, &g.RedirectURI,
		&g.CodeChallenge, &g.ApprovedBy, &created, &connected, &revoked, &g.RevokedReason); err != nil {
		return nil, err
	}
	g.CreatedAt, g.ConnectedAt, g.RevokedAt = fromMicros(created), timePtr(connected), timePtr(revoked)
	return &g, nil
}

// InsertOAuthGrant implements engine.Tx.
func (t *tx) InsertOAuthGrant(g *engine.OAuthGrant) error {
	_, err := t.exec(`INSERT INTO oauth_grants (`+oauthGrantColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.ClientID, g.AgentID, g.ReadOnly, g.Resource, g.Scope, g.RedirectURI, g.CodeChallenge, g.ApprovedBy,
		micros(g.CreatedAt), nullMicros(g.ConnectedAt), nullMicros(g.RevokedAt), g.RevokedReason)
	return err
}

// UpdateOAuthGrant implements engine.Tx.
func (t *tx) UpdateOAuthGrant(g *engine.OAuthGrant) error {
	return t.execOne(notFound("OAuth grant", g.ID),
		`UPDATE oauth_grants SET connected_at = ?, revoked_at = ?, revoked_reason = ? WHERE id = ?`,
		nullMicros(g.ConnectedAt), nullMicros(g.RevokedAt), g.RevokedReason, g.ID)
}

// FindOAuthGrant implements engine.Tx.
func (t *tx) FindOAuthGrant(id string) (*engine.OAuthGrant, error) {
	return findOne(t, scanOAuthGrant, notFound("OAuth grant", id),
		`SELECT `+oauthGrantColumns+` FROM oauth_grants WHERE id = ?`, id)
}

// ListOAuthGrants implements engine.Tx.
func (t *tx) ListOAuthGrants(f engine.OAuthGrantFilter) ([]*engine.OAuthGrant, error) {
	var c conditions
	if f.ClientID != "" {
		c.And("client_id = ?", f.ClientID)
	}
	c.After("id", f.After, false)
	q, args := c.Query(`SELECT `+oauthGrantColumns+` FROM oauth_grants`, "id", f.Limit)
	return queryList(t, scanOAuthGrant, q, args...)
}

// InsertOAuthToken implements engine.Tx.
func (t *tx) InsertOAuthToken(k *engine.OAuthToken) error {
	_, err := t.exec(`INSERT INTO oauth_tokens (hash, kind, grant_id, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		k.Hash, k.Kind, k.GrantID, micros(k.CreatedAt), micros(k.ExpiresAt), nullMicros(k.UsedAt))
	return err
}

// FindOAuthToken implements engine.Tx.
func (t *tx) FindOAuthToken(hash []byte) (*engine.OAuthToken, error) {
	return findOne(t, func(s scanner) (*engine.OAuthToken, error) {
		var k engine.OAuthToken
		var created, expires int64
		var used sql.NullInt64
		if err := s.Scan(&k.Hash, &k.Kind, &k.GrantID, &created, &expires, &used); err != nil {
			return nil, err
		}
		k.CreatedAt, k.ExpiresAt, k.UsedAt = fromMicros(created), fromMicros(expires), timePtr(used)
		return &k, nil
	}, notFound("OAuth token", "with that secret"),
		`SELECT hash, kind, grant_id, created_at, expires_at, used_at FROM oauth_tokens WHERE hash = ?`, hash)
}

// MarkOAuthTokenUsed implements engine.Tx.
func (t *tx) MarkOAuthTokenUsed(hash []byte, at time.Time) error {
	return t.execOne(notFound("OAuth token", "with that secret"), `UPDATE oauth_tokens SET used_at = ? WHERE hash = ?`,
		micros(at), hash)
}
