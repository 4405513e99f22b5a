package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/storekit"
)

// Velocity windows (migration 8). A scope's spends at or after since are
//
//	last cum − (cum − n of the first row at or after since)   started
//	− Σ removed of the rows in [since, c0)                      stopped in the first second
//	− Σ velocity_removed from c0 on, widest buckets that fit    stopped later
//
// with c0 since rounded up to a second: two seeks, the rows of one second
// and at most 59 + 59 + 23 + 32 buckets (only where a spend stopped),
// however long the history or the window. A spend is one upsert at the end
// of its scope's rows, whose trigger updates the rows after it (none, unless
// another process's clock is behind); a stop is one update and four bucket
// upserts, wherever the spend lies.
//
// Chosen by measurement (24,000 spends in the last day, one scope, on the
// 2-core machine): this costs 1.3 WAL pages a spend and 15–21 µs a count;
// buckets of every spend (1 s/1 min/1 h/1 day, plus the spends of the
// edge second) 3.9 pages and 62–73 µs, a long history putting each level's
// newest bucket on a page of its own; a record of the last N spend times in
// one row 3 pages at N = 1,000 and 48 at 24,000 (the count may be
// 1,000,000, and N is only known when deciding: policies change).

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
			return fmt.Errorf("sqlite: velocity %s: %w", d.Scope, err)
		}
	}
	return nil
}

// startVelocity adds n spends at at; the migration's triggers add them to
// the cum of any rows after it.
func (t *tx) startVelocity(scope string, at, n int64) error {
	_, err := t.exec(`INSERT INTO velocity_spends (scope, at, n, cum)
		VALUES (?1, ?2, ?3, ?3 + coalesce(
			(SELECT cum FROM velocity_spends WHERE scope = ?1 AND at < ?2 ORDER BY at DESC LIMIT 1), 0))
		ON CONFLICT (scope, at) DO UPDATE SET n = n + excluded.n, cum = cum + excluded.n`, scope, at, n)
	return err
}

func (t *tx) stopVelocity(scope string, at, n int64) error {
	res, err := t.exec(`UPDATE velocity_spends SET removed = removed + ?3 WHERE scope = ?1 AND at = ?2`, scope, at, n)
	if err != nil {
		return err
	}
	if changed, err := res.RowsAffected(); err != nil {
		return err
	} else if changed == 0 {
		var since int64
		err := t.queryRow(`SELECT since FROM velocity_fills WHERE scope = ?`, scope).Scan(&since)
		if err == nil && at < since {
			return nil // the scope was filled from after it: it counts in no window the scope serves
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return fmt.Errorf("no spend at %s to stop", fromMicros(at).Format(time.RFC3339Nano))
	}
	args := make([]any, 0, 4*len(storekit.VelocityWidths))
	for _, w := range storekit.VelocityWidths {
		args = append(args, scope, w, storekit.FloorTo(at, w), n)
	}
	_, err = t.exec(`INSERT INTO velocity_removed (scope, width, start, n) VALUES `+valueRows(len(storekit.VelocityWidths), 4)+
		` ON CONFLICT (scope, width, start) DO UPDATE SET n = n + excluded.n`, args...)
	return err
}

// ClearVelocity implements engine.Tx.
func (t *tx) ClearVelocity(scope string) error {
	for _, table := range []string{"velocity_spends", "velocity_removed", "velocity_fills"} {
		if _, err := t.exec(`DELETE FROM `+table+` WHERE scope = ?`, scope); err != nil {
			return fmt.Errorf("sqlite: clear velocity %s: %w", scope, err)
		}
	}
	return nil
}

// FillAgentVelocity implements engine.Tx, as migration 8 filled every
// scope: the charges by an id range of the agent's approved and settled
// rows (ids begin with their creation time), the decisions by their
// counted index. Rows go in time order, each carrying its cum, so the
// insert trigger finds no row after it to add to. velocity_fills keeps
// since, for stopVelocity and verify.
func (t *tx) FillAgentVelocity(agentID string, since time.Time) error {
	scope := engine.AgentCountScope(agentID)
	if err := t.ClearVelocity(scope); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO velocity_spends (scope, at, n, cum)
		SELECT ?1, at, count(*), sum(count(*)) OVER (ORDER BY at)
		FROM (
			SELECT created_at AS at FROM authorizations
				WHERE agent_id = ?2 AND status IN ('approved', 'settled') AND id >= ?3
					AND created_at >= ?4 AND kind = 'charge'
			UNION ALL
			SELECT counted_at FROM decisions WHERE agent_id = ?2 AND counted > 0 AND counted_at >= ?4
		)
		GROUP BY at ORDER BY at`,
		scope, agentID, engine.IDFloor(engine.PrefixAuthorization, since), micros(since))
	if err == nil {
		_, err = t.exec(`INSERT INTO velocity_fills (scope, since) VALUES (?, ?)`, scope, micros(since))
	}
	if err != nil {
		return fmt.Errorf("sqlite: fill velocity %s: %w", scope, err)
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
	err := t.queryRow(`SELECT
		coalesce((SELECT cum FROM velocity_spends WHERE scope = ?1 ORDER BY at DESC LIMIT 1), 0)
		- coalesce((SELECT cum - n FROM velocity_spends WHERE scope = ?1 AND at >= ?2 ORDER BY at LIMIT 1),
			(SELECT cum FROM velocity_spends WHERE scope = ?1 ORDER BY at DESC LIMIT 1), 0)
		- (SELECT coalesce(sum(removed), 0) FROM velocity_spends WHERE scope = ?1 AND at >= ?2 AND at < ?3)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed
			WHERE scope = ?1 AND width = 1000000 AND start >= ?3 AND start < ?4)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed
			WHERE scope = ?1 AND width = 60000000 AND start >= ?4 AND start < ?5)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed
			WHERE scope = ?1 AND width = 3600000000 AND start >= ?5 AND start < ?6)
		- (SELECT coalesce(sum(n), 0) FROM velocity_removed WHERE scope = ?1 AND width = 86400000000 AND start >= ?6)`,
		scope, s, c0, c1, c2, c3).Scan(&n)
	return n, err
}
