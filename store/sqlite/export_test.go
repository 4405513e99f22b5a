package sqlite

import (
	"fmt"
	"time"
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
