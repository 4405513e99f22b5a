package sqlite

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// A counter is written once per commit, however many of the batch's
// decisions add to it: AddCounters sums the increments in memory
// (tx.counterSums, journaled with what the writer keeps so that a failed
// request's are undone with its savepoint) and writeCounters upserts the
// sums just before COMMIT, as writeBalances does the balances. Counters
// reads the rows plus the sums. A decrement (a reversal giving room back)
// is written at once, after the sum of its counter: it must find the row,
// and the row's CHECK keeps it from going below zero.

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
		seen := make(map[engine.CounterKey]bool, len(out))
		for _, s := range scopes {
			for _, p := range periods {
				k := engine.CounterKey{Scope: s, Period: p}
				if seen[k] { // asked for twice: its sum is in already
					continue
				}
				seen[k] = true
				c, exists := out[k]
				if sum, ok := t.counterSums[k]; ok {
					c.Amount += sum.Amount
					c.Count += sum.Count
					out[k], exists = c, true
				}
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

// addKeptCounter applies a delta the batch took to the kept counter, if
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

// AddCounters implements engine.Tx. Increments are summed for
// writeCounters (see above); decrements update counters that must already
// exist. A decrement that would take a counter below zero violates the
// table's CHECK: that is a bug in the caller and fails the transaction.
func (t *tx) AddCounters(deltas []engine.CounterDelta) error {
	if !t.write {
		return errReadOnly
	}
	h := t.hot()
	for _, d := range deltas {
		if d.Amount >= 0 && d.Count >= 0 {
			sum := t.counterSums[d.Key]
			sum.Amount += d.Amount
			sum.Count += d.Count
			set(h, &t.counterSums, d.Key, sum)
			h.addKeptCounter(d)
			continue
		}
		if err := t.flushCounter(d.Key); err != nil {
			return err
		}
		err := t.execOne(fmt.Errorf("sqlite: counter %s %s does not exist to decrement", d.Key.Scope, d.Key.Period),
			`UPDATE counters SET amount = amount + ?, count = count + ? WHERE scope = ? AND period = ?`,
			d.Amount, d.Count, d.Key.Scope, d.Key.Period)
		if err != nil {
			return fmt.Errorf("sqlite: add counters: %w", err)
		}
		h.addKeptCounter(d)
	}
	return nil
}

// counterChunk bounds the counters of one upsert.
const counterChunk = 200

// writeCounters writes the batch's sums, in key order.
func (t *tx) writeCounters() error {
	return t.upsertCounterSums(slices.SortedFunc(maps.Keys(t.counterSums), func(a, b engine.CounterKey) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Period, b.Period))
	}))
}

// flushCounter writes the batch's sum of one counter, if it has one.
func (t *tx) flushCounter(k engine.CounterKey) error {
	if _, ok := t.counterSums[k]; !ok {
		return nil
	}
	return t.upsertCounterSums([]engine.CounterKey{k})
}

// upsertCounterSums adds the sums of keys to their rows, creating them as
// needed, and forgets the sums.
func (t *tx) upsertCounterSums(keys []engine.CounterKey) error {
	h := t.hot()
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), counterChunk)]
		keys = keys[len(chunk):]
		args := make([]any, 0, 4*len(chunk))
		for _, k := range chunk {
			sum := t.counterSums[k]
			args = append(args, k.Scope, k.Period, sum.Amount, sum.Count)
			forget(h, t.counterSums, k)
		}
		q := `INSERT INTO counters (scope, period, amount, count) VALUES ` + valueRows(len(chunk), 4) +
			` ON CONFLICT (scope, period) DO UPDATE SET amount = amount + excluded.amount, count = count + excluded.count`
		if _, err := t.exec(q, args...); err != nil {
			return fmt.Errorf("sqlite: add counters: %w", err)
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
