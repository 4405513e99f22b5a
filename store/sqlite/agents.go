package sqlite

import (
	"encoding/json"
	"maps"
	"slices"

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

// UpdateAgent implements engine.Tx. It saves the risk state too, so the
// batch's newest (see UpdateAgentRisk) is superseded.
func (t *tx) UpdateAgent(a *engine.Agent) error {
	if h := t.hot(); h != nil {
		forget(h, h.agents, a.ID)
		forget(h, t.riskStates, a.ID)
	}
	return t.execOne(notFound("agent", a.ID), `UPDATE agents SET mode = ?, policy = ?, risk = ?, updated_at = ?, default_issuer = ? WHERE id = ?`,
		a.Mode, mustJSON(a.Policy), mustJSON(a.Risk), micros(a.UpdatedAt), a.DefaultIssuer, a.ID)
}

// An agent's risk state changes with every spend attempt, and nothing else
// of it does: UpdateAgentRisk keeps the newest state in memory
// (tx.riskStates, journaled with the kept rows so that a failed request's
// is undone) and writeRiskStates saves each agent's once, just before
// COMMIT. Every read of an agent in the batch sees it.

// UpdateAgentRisk implements engine.Tx.
func (t *tx) UpdateAgentRisk(agentID string, risk engine.RiskState) error {
	h := t.hot()
	if h == nil {
		return errReadOnly
	}
	if _, ok := h.agents[agentID]; !ok {
		a, err := t.FindAgent(agentID) // it exists, and is kept now
		if err != nil {
			return err
		} else if a.ID != agentID { // found by name: an agent's risk is saved by id only
			return notFound("agent", agentID)
		}
	}
	kept := *h.agents[agentID] // the policy is not shared with the engine: no need to copy it again
	kept.Risk = cloneRisk(risk)
	set(h, &h.agents, agentID, &kept)
	set(h, &t.riskStates, agentID, kept.Risk)
	return nil
}

// withBatchRisk gives an agent read from its row the batch's newest risk
// state.
func (t *tx) withBatchRisk(a *engine.Agent, err error) (*engine.Agent, error) {
	if err != nil {
		return nil, err
	}
	if r, ok := t.riskStates[a.ID]; ok {
		a.Risk = cloneRisk(r)
	}
	return a, nil
}

// writeRiskStates saves the batch's newest risk state of each agent.
func (t *tx) writeRiskStates() error {
	return t.updateEvery("agents", "risk = d.column2", 2, slices.Sorted(maps.Keys(t.riskStates)),
		func(args []any, id string) []any { return append(args, id, mustJSON(t.riskStates[id])) })
}

// FindAgent implements engine.Tx.
func (t *tx) FindAgent(ref string) (*engine.Agent, error) {
	column := refColumn(ref, engine.PrefixAgent)
	find := func() (*engine.Agent, error) {
		return t.withBatchRisk(findOne(t, scanAgent, notFound("agent", ref),
			`SELECT `+agentColumns+` FROM agents WHERE `+column+` = ?`, ref))
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
		c.And("user_id = ?", f.UserID)
	}
	c.After("id", f.After, false)
	q, args := c.Query(`SELECT `+agentColumns+` FROM agents`, "id", f.Limit)
	return queryList(t, func(s scanner) (*engine.Agent, error) { return t.withBatchRisk(scanAgent(s)) }, q, args...)
}
