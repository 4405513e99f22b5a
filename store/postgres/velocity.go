package postgres

import (
	"fmt"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

// Velocity windows, as the SQLite store keeps them (its migrations 8 and
// 10). A scope's spends at or after since are
//
//	last cum − (cum − n of the first row at or after since)   started
//	− Σ removed of the rows in [since, c0)                      stopped in the first second
//	− Σ velocity_removed from c0 on, widest buckets that fit    stopped later
//
// with c0 since rounded up to a second: two seeks, the rows of one second
// and at most 59 + 59 + 23 + 32 buckets, however long the history or the
// window. startVelocity keeps cum a running sum when a spend is recorded
// before the scope's last row.

// AddVelocity implements engine.Tx.
func (t *tx) AddVelocity(deltas []engine.VelocityDelta) error {
	for _, d := range deltas {
		var err error
		switch {
		case d.Count > 0:
			err = t.startVelocity(d.Scope, micros(d.At), d.Count)
		case d.Count < 0:
			err = t.stopVelocity(d.Scope, micros(d.At), -d.Count)
		}
		if err != nil {
			return fmt.Errorf("postgres: velocity %s: %w", d.Scope, err)
		}
	}
	return nil
}

// startVelocity adds n spends at at, and to the cum of the scope's rows
// after it (none, unless another process's clock is behind), in one
// statement: the UPDATE touches only rows after at, the INSERT reads only
// rows before it, so neither sees the other's change. The SQLite store does
// this with triggers; PostgreSQL runs AFTER row triggers at the end of the
// statement, which made a fill's rows count each other twice.
func (t *tx) startVelocity(scope string, at, n int64) error {
	_, err := t.exec(`WITH later AS (
			UPDATE velocity_spends SET cum = cum + $3 WHERE scope = $1 AND at > $2 RETURNING 1
		)
		INSERT INTO velocity_spends AS v (scope, at, n, cum)
		VALUES ($1, $2, $3, $3 + coalesce(
			(SELECT cum FROM velocity_spends WHERE scope = $1 AND at < $2 ORDER BY at DESC LIMIT 1), 0))
		ON CONFLICT (scope, at) DO UPDATE SET n = v.n + excluded.n, cum = v.cum + excluded.n`, scope, at, n)
	return err
}

func (t *tx) stopVelocity(scope string, at, n int64) error {
	tag, err := t.exec(`UPDATE velocity_spends SET removed = removed + $3 WHERE scope = $1 AND at = $2`, scope, at, n)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		var since int64
		err := t.queryRow(`SELECT since FROM velocity_fills WHERE scope = $1`, scope).Scan(&since)
		if err == nil && at < since {
			return nil // the scope was filled from after it: it counts in no window the scope serves
		} else if err != nil && !isNoRows(err) {
			return err
		}
		return fmt.Errorf("no spend at %s to stop", fromMicros(at).Format(time.RFC3339Nano))
	}
	args := []any{scope, n}
	values := ""
	for i, w := range storekit.VelocityWidths {
		if i > 0 {
			values += ", "
		}
		values += fmt.Sprintf("($1, $%d::bigint, $%d::bigint, $2::bigint)", len(args)+1, len(args)+2)
		args = append(args, w, storekit.FloorTo(at, w))
	}
	_, err = t.exec(`INSERT INTO velocity_removed AS r (scope, width, start, n) VALUES `+values+
		` ON CONFLICT (scope, width, start) DO UPDATE SET n = r.n + excluded.n`, args...)
	return err
}

// ClearVelocity implements engine.Tx.
func (t *tx) ClearVelocity(scope string) error {
	for _, table := range []string{"velocity_spends", "velocity_removed", "velocity_fills"} {
		if _, err := t.exec(`DELETE FROM `+table+` WHERE scope = $1`, scope); err != nil {
			return fmt.Errorf("postgres: clear velocity %s: %w", scope, err)
		}
	}
	return nil
}

// FillAgentVelocity implements engine.Tx: the charges by an id range of the
// agent's approved and settled rows (ids begin with their creation time),
// the decisions by their counted index, each row with its running cum
// computed here (the scope was emptied first, and no trigger adds to it).
// velocity_fills keeps since, for stopVelocity and VerifyLedger.
func (t *tx) FillAgentVelocity(agentID string, since time.Time) error {
	scope := engine.AgentCountScope(agentID)
	if err := t.ClearVelocity(scope); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO velocity_spends (scope, at, n, cum)
		SELECT $1, at, count(*), (sum(count(*)) OVER (ORDER BY at))::bigint
		FROM (
			SELECT created_at AS at FROM authorizations
				WHERE agent_id = $2 AND status IN ('approved', 'settled') AND id >= $3
					AND created_at >= $4 AND kind = 'charge'
			UNION ALL
			SELECT counted_at FROM decisions WHERE agent_id = $2 AND counted > 0 AND counted_at >= $4
		) AS spends
		GROUP BY at ORDER BY at`,
		scope, agentID, engine.IDFloor(engine.PrefixAuthorization, since), micros(since))
	if err == nil {
		_, err = t.exec(`INSERT INTO velocity_fills (scope, since) VALUES ($1, $2)`, scope, micros(since))
	}
	if err != nil {
		return fmt.Errorf("postgres: fill velocity %s: %w", scope, err)
	}
	return nil
}

// CountVelocity implements engine.Tx.
func (t *tx) CountVelocity(scope string, since time.Time) (int64, error) {
	s := micros(since)
	c0 := storekit.CeilTo(s, storekit.VelocityWidths[0])
	c1 := storekit.CeilTo(c0, storekit.VelocityWidths[1])
	c2 := storekit.CeilTo(c1, storekit.VelocityWidths[2])
	c3 := storekit.CeilTo(c2, storekit.VelocityWidths[3])
	var n int64
	// sum() of BIGINT is NUMERIC in PostgreSQL: the total is cast back.
	err := t.queryRow(`SELECT (
		coalesce((SELECT cum FROM velocity_spends WHERE scope = $1 ORDER BY at DESC LIMIT 1), 0)
		- coalesce((SELECT cum - n FROM velocity_spends WHERE scope = $1 AND at >= $2 ORDER BY at LIMIT 1),
			(SELECT cum FROM velocity_spends WHERE scope = $1 ORDER BY at DESC LIMIT 1), 0)
		- (SELECT coalesce(sum(removed), 0) FROM velocity_spends WHERE scope = $1 AND at >= $2 AND at < $3)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed
			WHERE scope = $1 AND width = 1000000 AND start >= $3 AND start < $4)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed
			WHERE scope = $1 AND width = 60000000 AND start >= $4 AND start < $5)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed
			WHERE scope = $1 AND width = 3600000000 AND start >= $5 AND start < $6)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed WHERE scope = $1 AND width = 86400000000 AND start >= $6)
		)::bigint`,
		scope, s, c0, c1, c2, c3).Scan(&n)
	return n, err
}
