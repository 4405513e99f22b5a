package sqlite

import (
	"fmt"
	"time"

	sqlite "modernc.org/sqlite"
)

// WALFrames is how many pages the writer connection has appended to the
// WAL (SQLITE_DBSTATUS_CACHE_WRITE). Call it only while nothing writes.
func (db *DB) WALFrames() int {
	var n int
	err := db.conn.Raw(func(dc any) error {
		var err error
		n, _, err = dc.(sqlite.DBStatus).Status(sqlite.DBStatusCacheWrite, false)
		return err
	})
	if err != nil {
		panic(err)
	}
	return n
}

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
