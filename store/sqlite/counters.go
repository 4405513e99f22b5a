package sqlite

import (
	"fmt"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// Counters implements engine.Tx in one statement of primary-key seeks.
func (t *tx) Counters(scopes, periods []string) (map[engine.CounterKey]engine.Counter, error) {
	out := make(map[engine.CounterKey]engine.Counter, len(scopes)*len(periods))
	if len(scopes) == 0 || len(periods) == 0 {
		return out, nil
	}
	h := t.hot()
	if h != nil && h.keptCounters(scopes, periods, out) {
		return out, nil
	}
	clear(out)
	rows, err := t.query(`SELECT scope, period, amount, count FROM counters WHERE scope IN (`+inList(len(scopes))+`) AND period IN (`+inList(len(periods))+`)`,
		append(stringArgs(scopes), stringArgs(periods)...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k engine.CounterKey
		var c engine.Counter
		if err := rows.Scan(&k.Scope, &k.Period, &c.Amount, &c.Count); err != nil {
			return nil, err
		}
		out[k] = c
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if h != nil {
		for _, s := range scopes {
			for _, p := range periods {
				k := engine.CounterKey{Scope: s, Period: p}
				c, exists := out[k]
				set(h, &h.counters, k, keptCounter{Counter: c, exists: exists})
			}
		}
	}
	return out, nil
}

// keptCounters fills out from what the writer keeps when it knows every
// counter asked for.
func (h *hotRows) keptCounters(scopes, periods []string, out map[engine.CounterKey]engine.Counter) bool {
	for _, s := range scopes {
		for _, p := range periods {
			k := engine.CounterKey{Scope: s, Period: p}
			c, ok := h.counters[k]
			if !ok {
				return false
			}
			if c.exists {
				out[k] = c.Counter
			}
		}
	}
	return true
}

// addKeptCounter applies a delta the database took to the kept counter, if
// there is one.
func (h *hotRows) addKeptCounter(d engine.CounterDelta) {
	c, ok := h.counters[d.Key]
	if !ok {
		return
	}
	c.Amount += d.Amount
	c.Count += d.Count
	c.exists = true
	set(h, &h.counters, d.Key, c)
}

// AddCounters implements engine.Tx. Increments are one upsert; decrements
// (a reversal giving room back) update counters that must already exist. A
// decrement that would take a counter below zero violates the table's CHECK:
// that is a bug in the caller and fails the transaction.
func (t *tx) AddCounters(deltas []engine.CounterDelta) error {
	var up []engine.CounterDelta
	for _, d := range deltas {
		if d.Amount >= 0 && d.Count >= 0 {
			up = append(up, d)
			continue
		}
		err := t.execOne(fmt.Errorf("sqlite: counter %s %s does not exist to decrement", d.Key.Scope, d.Key.Period),
			`UPDATE counters SET amount = amount + ?, count = count + ? WHERE scope = ? AND period = ?`,
			d.Amount, d.Count, d.Key.Scope, d.Key.Period)
		if err != nil {
			return fmt.Errorf("sqlite: add counters: %w", err)
		}
		if h := t.hot(); h != nil {
			h.addKeptCounter(d)
		}
	}
	if len(up) == 0 {
		return nil
	}
	args := make([]any, 0, 4*len(up))
	for _, d := range up {
		args = append(args, d.Key.Scope, d.Key.Period, d.Amount, d.Count)
	}
	q := `INSERT INTO counters (scope, period, amount, count) VALUES ` + valueRows(len(up), 4) +
		` ON CONFLICT (scope, period) DO UPDATE SET amount = amount + excluded.amount, count = count + excluded.count`
	if _, err := t.exec(q, args...); err != nil {
		return fmt.Errorf("sqlite: add counters: %w", err)
	}
	if h := t.hot(); h != nil {
		for _, d := range up {
			h.addKeptCounter(d)
		}
	}
	return nil
}

// MerchantSeen implements engine.Tx.
func (t *tx) MerchantSeen(agentID, merchantKey, mcc string) (bool, bool, error) {
	h := t.hot()
	mk, ck := seenKey{agentID, "merchant", merchantKey}, seenKey{agentID, "mcc", mcc}
	if h != nil {
		merchant, ok1 := h.merchants[mk]
		category, ok2 := h.merchants[ck]
		if ok1 && ok2 {
			return merchant, category, nil
		}
	}
	var merchant, category bool
	err := t.queryRow(`SELECT
		EXISTS (SELECT 1 FROM merchants_seen WHERE agent_id = ?1 AND kind = 'merchant' AND key = ?2),
		EXISTS (SELECT 1 FROM merchants_seen WHERE agent_id = ?1 AND kind = 'mcc' AND key = ?3)`,
		agentID, merchantKey, mcc).Scan(&merchant, &category)
	if err == nil && h != nil {
		set(h, &h.merchants, mk, merchant)
		set(h, &h.merchants, ck, category)
	}
	return merchant, category, err
}

// MarkMerchantSeen implements engine.Tx.
func (t *tx) MarkMerchantSeen(agentID, merchantKey, mcc string, at time.Time) error {
	if merchantKey == "" && mcc == "" {
		return nil
	}
	_, err := t.exec(`INSERT INTO merchants_seen (agent_id, kind, key, first_seen_at)
		SELECT ?1, 'merchant', ?2, ?4 WHERE ?2 <> ''
		UNION ALL SELECT ?1, 'mcc', ?3, ?4 WHERE ?3 <> ''
		ON CONFLICT DO NOTHING`, agentID, merchantKey, mcc, micros(at))
	if h := t.hot(); h != nil {
		for _, k := range []seenKey{{agentID, "merchant", merchantKey}, {agentID, "mcc", mcc}} {
			if err != nil {
				forget(h, h.merchants, k)
			} else if k.key != "" {
				set(h, &h.merchants, k, true)
			}
		}
	}
	return err
}
