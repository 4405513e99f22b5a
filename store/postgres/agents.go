package postgres

import (
	"encoding/json"

	"github.com/agentledger/agentledger/engine"
)

const agentColumns = `id, name, user_id, mode, policy, risk, created_at, updated_at, default_issuer`

func scanAgent(s scanner) (*engine.Agent, error) {
	var a engine.Agent
	var policy, risk string
	var created, updated int64
	err := s.Scan(&a.ID, &a.Name, &a.UserID, &a.Mode, &policy, &risk, &created, &updated, &a.DefaultIssuer)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(policy), &a.Policy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(risk), &a.Risk); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// InsertAgent implements engine.Tx. A taken name (or id) is a conflict that
// leaves the transaction usable.
func (t *tx) InsertAgent(a *engine.Agent) error {
	return t.insertUnique(conflict("an agent named "+a.Name+" already exists"),
		`INSERT INTO agents (`+agentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		a.ID, a.Name, a.UserID, a.Mode, mustJSON(a.Policy), mustJSON(a.Risk), micros(a.CreatedAt), micros(a.UpdatedAt),
		a.DefaultIssuer)
}

// UpdateAgent implements engine.Tx.
func (t *tx) UpdateAgent(a *engine.Agent) error {
	return t.execOne(notFound("agent", a.ID),
		`UPDATE agents SET mode = $1, policy = $2, risk = $3, updated_at = $4, default_issuer = $5 WHERE id = $6`,
		a.Mode, mustJSON(a.Policy), mustJSON(a.Risk), micros(a.UpdatedAt), a.DefaultIssuer, a.ID)
}

// UpdateAgentRisk implements engine.Tx. The risk state is saved by id only,
// never by name, and leaves updated_at alone as the SQLite store does.
func (t *tx) UpdateAgentRisk(agentID string, risk engine.RiskState) error {
	const update = `UPDATE agents SET risk = $1 WHERE id = $2`
	if t.agentsRead[agentID] {
		// Found in this transaction, and agents are never deleted: the
		// update has a row, so it may wait for the next round trip.
		return t.execLater(update, mustJSON(risk), agentID)
	}
	return t.execOne(notFound("agent", agentID), update, mustJSON(risk), agentID)
}

// FindAgent implements engine.Tx.
func (t *tx) FindAgent(ref string) (*engine.Agent, error) {
	a := t.prefetch.takeAgent(ref)
	if a == nil {
		column := refColumn(ref, engine.PrefixAgent)
		var err error
		if a, err = findOne(t, scanAgent, notFound("agent", ref),
			`SELECT `+agentColumns+` FROM agents WHERE `+column+` = $1`, ref); err != nil {
			return nil, err
		}
	}
	if t.agentsRead == nil {
		t.agentsRead = map[string]bool{}
	}
	t.agentsRead[a.ID] = true
	return a, nil
}

// ListAgents implements engine.Tx.
func (t *tx) ListAgents(f engine.AgentFilter) ([]*engine.Agent, error) {
	var c conditions
	if f.UserID != "" {
		c.And("user_id = ?", f.UserID)
	}
	c.After("id", f.After, false)
	q, args := c.query(`SELECT `+agentColumns+` FROM agents`, "id", f.Limit)
	return queryList(t, scanAgent, q, args...)
}
