package sqlite

import (
	"encoding/json"

	"github.com/agentledger/agentledger/engine"
)

var policies = newJSONCache(engine.Policy.Clone)

const agentColumns = `id, name, user_id, mode, policy, risk, created_at, updated_at, default_issuer`

func scanAgent(s scanner) (*engine.Agent, error) {
	var a engine.Agent
	var policy, risk string
	var created, updated int64
	if err := s.Scan(&a.ID, &a.Name, &a.UserID, &a.Mode, &policy, &risk, &created, &updated, &a.DefaultIssuer); err != nil {
		return nil, err
	}
	if err := policies.decode(policy, &a.Policy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(risk), &a.Risk); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// InsertAgent implements engine.Tx.
func (t *tx) InsertAgent(a *engine.Agent) error {
	_, err := t.exec(`INSERT INTO agents (`+agentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.UserID, a.Mode, mustJSON(a.Policy), mustJSON(a.Risk), micros(a.CreatedAt), micros(a.UpdatedAt), a.DefaultIssuer)
	return err
}

// UpdateAgent implements engine.Tx.
func (t *tx) UpdateAgent(a *engine.Agent) error {
	if h := t.hot(); h != nil {
		forget(h, h.agents, a.ID)
	}
	return t.execOne(notFound("agent", a.ID), `UPDATE agents SET mode = ?, policy = ?, risk = ?, updated_at = ?, default_issuer = ? WHERE id = ?`,
		a.Mode, mustJSON(a.Policy), mustJSON(a.Risk), micros(a.UpdatedAt), a.DefaultIssuer, a.ID)
}

// UpdateAgentRisk implements engine.Tx.
func (t *tx) UpdateAgentRisk(agentID string, risk engine.RiskState) error {
	err := t.execOne(notFound("agent", agentID), `UPDATE agents SET risk = ? WHERE id = ?`, mustJSON(risk), agentID)
	if h := t.hot(); h != nil {
		if a, ok := h.agents[agentID]; ok {
			if err != nil {
				forget(h, h.agents, agentID)
			} else {
				kept := *a // the policy is not shared with the engine: no need to copy it again
				kept.Risk = cloneRisk(risk)
				set(h, &h.agents, agentID, &kept)
			}
		}
	}
	return err
}

// FindAgent implements engine.Tx.
func (t *tx) FindAgent(ref string) (*engine.Agent, error) {
	column := refColumn(ref, engine.PrefixAgent)
	find := func() (*engine.Agent, error) {
		return findOne(t, scanAgent, notFound("agent", ref), `SELECT `+agentColumns+` FROM agents WHERE `+column+` = ?`, ref)
	}
	if column != "id" { // kept by id only
		return find()
	}
	return findKept(t, func(h *hotRows) *map[string]*engine.Agent { return &h.agents }, ref, cloneAgent, find)
}

// ListAgents implements engine.Tx.
func (t *tx) ListAgents(f engine.AgentFilter) ([]*engine.Agent, error) {
	var c conditions
	if f.UserID != "" {
		c.and("user_id = ?", f.UserID)
	}
	c.after("id", f.After, false)
	q, args := c.query(`SELECT `+agentColumns+` FROM agents`, "id", f.Limit)
	return queryList(t, scanAgent, q, args...)
}
