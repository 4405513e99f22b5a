package sqlite

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// WALFrames is how many pages the writer connection has appended to the
// WAL (SQLITE_DBSTATUS_CACHE_WRITE, counted after each commit).
func (db *DB) WALFrames() int { return int(db.walFrames.Load()) }

// CheckpointPauses is how long the checkpointer has held the writer, in all.
func (db *DB) CheckpointPauses() time.Duration {
	return time.Duration(db.ckpt.stats.pausedFor.Load())
}

// EagerCheckpoints makes the checkpointer run a round every few commits,
// finish it paused and truncate the log often, and tick every millisecond.
func EagerCheckpoints(o Options) Options {
	o.checkpoints = checkpointConfig{softFrames: 10, restartFrames: 30, hardFrames: 120, truncateWait: 20 * time.Millisecond,
		tick: time.Millisecond}
	return o
}

// CheckpointCounts reports the checkpointer's rounds, paused checkpoints,
// TRUNCATEs done and refused, and failures.
func (db *DB) CheckpointCounts() string {
	s := &db.ckpt.stats
	return fmt.Sprintf("rounds=%d paused=%d truncated=%d truncate-refused=%d busy=%d failed=%d",
		s.rounds.Load(), s.paused.Load(), s.truncated.Load(), s.truncateFailed.Load(), s.busy.Load(), s.failed.Load())
}

// Statements is how many statements the writer's transactions have run.
func (db *DB) Statements() int64 { return db.statements.Load() }

// KeptRows is how many rows the writer keeps (hotrows.go).
func (db *DB) KeptRows() int {
	n := 0
	_ = db.Update(context.Background(), func(engine.Tx) error {
		h := &db.cache.hot
		n = len(h.cards) + len(h.agents) + len(h.users) + len(h.counters) + len(h.merchants) + len(h.accounts) +
			len(h.noRevealed) + len(h.settings)
		return nil
	})
	return n
}

// CheckKept compares every row the writer keeps with the database's, in a
// write transaction (where what is kept is valid), and names the first
// that differs.
func (db *DB) CheckKept() error {
	return db.Update(context.Background(), func(etx engine.Tx) error {
		t := etx.(*tx)
		h := db.cache.hot
		db.cache.hot = hotRows{} // the reads below must come from SQL
		defer func() { db.cache.hot = h }()
		differ := func(what string, kept, stored any) error {
			if !reflect.DeepEqual(kept, stored) {
				return fmt.Errorf("kept %s %+v, stored %+v", what, kept, stored)
			}
			return nil
		}
		for id, c := range h.cards {
			stored, err := t.FindCard(id)
			if err != nil {
				return err
			}
			if err := differ("card "+id, c, stored); err != nil {
				return err
			}
		}
		for id, a := range h.agents {
			stored, err := t.FindAgent(id)
			if err != nil {
				return err
			}
			if err := differ("agent "+id, a, stored); err != nil {
				return err
			}
		}
		for id, u := range h.users {
			stored, err := t.FindUser(id)
			if err != nil {
				return err
			}
			if err := differ("user "+id, u, stored); err != nil {
				return err
			}
		}
		for k, c := range h.counters {
			stored, err := t.Counters([]string{k.Scope}, []string{k.Period})
			if err != nil {
				return err
			}
			s, exists := stored[k]
			if err := differ(fmt.Sprint("counter ", k), c, keptCounter{Counter: s, exists: exists}); err != nil {
				return err
			}
		}
		for k, seen := range h.merchants {
			var stored bool
			if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM merchants_seen WHERE agent_id = ? AND kind = ? AND key = ?)`,
				k.agentID, k.kind, k.key).Scan(&stored); err != nil {
				return err
			}
			if err := differ(fmt.Sprint("merchant seen ", k), seen, stored); err != nil {
				return err
			}
		}
		for id, a := range h.accounts {
			stored, err := t.committedAccount(id)
			if err != nil {
				return err
			}
			if err := differ("account "+id, a, *stored); err != nil {
				return err
			}
		}
		for card, none := range h.noRevealed {
			stored, err := t.noRevealedIntents(card)
			if err != nil {
				return err
			}
			if err := differ("no revealed intents on "+card, none, stored); err != nil {
				return err
			}
		}
		for _, k := range h.settings {
			stored, err := t.readSettings()
			if err != nil {
				return err
			}
			if err := differ("settings", k, stored); err != nil {
				return err
			}
		}
		return nil
	})
}
