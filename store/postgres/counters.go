package postgres

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/agentledger/agentledger/engine"
)

// Counters implements engine.Tx: only the counters that were ever written
// are in the map.
func (t *tx) Counters(scopes, periods []string) (map[engine.CounterKey]engine.Counter, error) {
	out := make(map[engine.CounterKey]engine.Counter, len(scopes)*len(periods))
	if len(scopes) == 0 || len(periods) == 0 {
		return out, nil
	}
	rows, err := t.query(`SELECT scope, period, amount, count FROM counters WHERE scope = ANY($1) AND period = ANY($2)`,
		scopes, periods)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k engine.CounterKey
		var c engine.Counter
		if err := rows.Scan(&k.Scope, &k.Period, &c.Amount, &c.Count); err != nil {
			return nil, t.note(err)
		}
		out[k] = c
	}
	if err := t.note(rows.Err()); err != nil {
		return nil, err
	}
	return out, nil
}

// AddCounters implements engine.Tx. Increments are summed by counter and
// upserted in one statement (an upsert may not touch a row twice).
// A decrement (a reversal giving room back) first writes the increments
// before it, then updates its counter, which must exist and may not go
// below zero: the guard is in the WHERE clause rather than left to the
// table's CHECK, whose violation would abort the whole transaction. A
// refused decrement is a bug in the caller and an internal error.
func (t *tx) AddCounters(deltas []engine.CounterDelta) error {
	if !t.write {
		return errReadOnly
	}
	sums := map[engine.CounterKey]engine.Counter{}
	for _, d := range deltas {
		if d.Amount >= 0 && d.Count >= 0 {
			s := sums[d.Key]
			s.Amount += d.Amount
			s.Count += d.Count
			sums[d.Key] = s
			continue
		}
		if err := t.upsertCounterSums(sums); err != nil {
			return err
		}
		clear(sums)
		refused := fmt.Errorf("postgres: counter %s %s does not exist or would go below zero", d.Key.Scope, d.Key.Period)
		err := t.execOne(refused,
			`UPDATE counters SET amount = amount + $1, count = count + $2
			WHERE scope = $3 AND period = $4 AND amount + $1 >= 0 AND count + $2 >= 0`,
			d.Amount, d.Count, d.Key.Scope, d.Key.Period)
		if err != nil {
			return fmt.Errorf("postgres: add counters: %w", err)
		}
	}
	return t.upsertCounterSums(sums)
}

// upsertCounterSums adds the sums to their counters, creating them as
// needed, in key order.
func (t *tx) upsertCounterSums(sums map[engine.CounterKey]engine.Counter) error {
	if len(sums) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(sums), func(a, b engine.CounterKey) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Period, b.Period))
	})
	scopes, periods := make([]string, len(keys)), make([]string, len(keys))
	amounts, counts := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		scopes[i], periods[i], amounts[i], counts[i] = k.Scope, k.Period, sums[k].Amount, sums[k].Count
	}
	err := t.execLater(`INSERT INTO counters (scope, period, amount, count)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
		ON CONFLICT (scope, period) DO UPDATE SET amount = counters.amount + excluded.amount,
			count = counters.count + excluded.count`, scopes, periods, amounts, counts)
	if err != nil {
		return fmt.Errorf("postgres: add counters: %w", err)
	}
	return nil
}
