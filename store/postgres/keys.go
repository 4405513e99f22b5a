package postgres

import "github.com/agentledger/agentledger/engine"

const keyColumns = `id, role, agent_id, name, prefix, hash, created_at, revoked_at`

func scanKey(s scanner) (*engine.APIKey, error) {
	var k engine.APIKey
	var agentID *string
	var created int64
	var revoked *int64
	if err := s.Scan(&k.ID, &k.Role, &agentID, &k.Name, &k.Prefix, &k.Hash, &created, &revoked); err != nil {
		return nil, err
	}
	if agentID != nil {
		k.AgentID = *agentID
	}
	k.CreatedAt, k.RevokedAt = fromMicros(created), timePtr(revoked)
	return &k, nil
}

// InsertKey implements engine.Tx. A hash (or id) already stored is a
// conflict that leaves the transaction usable.
func (t *tx) InsertKey(k *engine.APIKey) error {
	var agentID *string // NULL for keys of no agent, as the schema's CHECK requires
	if k.AgentID != "" {
		agentID = &k.AgentID
	}
	return t.insertUnique(conflict("a key with that secret already exists"),
		`INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		k.ID, k.Role, agentID, k.Name, k.Prefix, k.Hash, micros(k.CreatedAt), nullMicros(k.RevokedAt))
}

// UpdateKey implements engine.Tx.
func (t *tx) UpdateKey(k *engine.APIKey) error {
	return t.execOne(notFound("key", k.ID), `UPDATE api_keys SET name = $1, revoked_at = $2 WHERE id = $3`,
		k.Name, nullMicros(k.RevokedAt), k.ID)
}

// FindKey implements engine.Tx.
func (t *tx) FindKey(id string) (*engine.APIKey, error) {
	return findOne(t, scanKey, notFound("key", id), `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id)
}

// FindKeyByHash implements engine.Tx.
func (t *tx) FindKeyByHash(hash []byte) (*engine.APIKey, error) {
	return findOne(t, scanKey, notFound("key", "with that secret"),
		`SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash)
}

// ListKeys implements engine.Tx.
func (t *tx) ListKeys(f engine.KeyFilter) ([]*engine.APIKey, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.query(`SELECT `+keyColumns+` FROM api_keys`, "id", f.Limit)
	return queryList(t, scanKey, q, args...)
}
