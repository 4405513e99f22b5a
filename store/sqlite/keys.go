package sqlite

import (
	"database/sql"

	"github.com/agentledger/agentledger/engine"
)

const keyColumns = `id, role, agent_id, name, prefix, hash, created_at, revoked_at`

func scanKey(s scanner) (*engine.APIKey, error) {
	var k engine.APIKey
	var agentID sql.NullString
	var created int64
	var revoked sql.NullInt64
	if err := s.Scan(&k.ID, &k.Role, &agentID, &k.Name, &k.Prefix, &k.Hash, &created, &revoked); err != nil {
		return nil, err
	}
	k.AgentID, k.CreatedAt, k.RevokedAt = agentID.String, fromMicros(created), timePtr(revoked)
	return &k, nil
}

// InsertKey implements engine.Tx.
func (t *tx) InsertKey(k *engine.APIKey) error {
	_, err := t.exec(`INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Role, nullString(k.AgentID), k.Name, k.Prefix, k.Hash, micros(k.CreatedAt), nullMicros(k.RevokedAt))
	return err
}

// UpdateKey implements engine.Tx.
func (t *tx) UpdateKey(k *engine.APIKey) error {
	return t.execOne(notFound("key", k.ID), `UPDATE api_keys SET name = ?, revoked_at = ? WHERE id = ?`, k.Name, nullMicros(k.RevokedAt), k.ID)
}

// FindKey implements engine.Tx.
func (t *tx) FindKey(id string) (*engine.APIKey, error) {
	return findOne(t, scanKey, notFound("key", id), `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id)
}

// FindKeyByHash implements engine.Tx.
func (t *tx) FindKeyByHash(hash []byte) (*engine.APIKey, error) {
	return findOne(t, scanKey, notFound("key", "with that secret"), `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash)
}

// ListKeys implements engine.Tx.
func (t *tx) ListKeys(f engine.KeyFilter) ([]*engine.APIKey, error) {
	var c conditions
	c.After("id", f.After, false)
	q, args := c.Query(`SELECT `+keyColumns+` FROM api_keys`, "id", f.Limit)
	return queryList(t, scanKey, q, args...)
}
