package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idle is a checkpointer that never runs a round by itself: tests run them.
var idle = checkpointConfig{softFrames: 1 << 40, restartFrames: 10, hardFrames: 100, truncateWait: 10 * time.Second,
	tick: time.Hour}

func openWith(t *testing.T, path string, cfg checkpointConfig) *DB {
	t.Helper()
	db, err := Open(path, Options{Key: GenerateKey(), checkpoints: cfg})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.conn.ExecContext(context.Background(), `CREATE TABLE IF NOT EXISTS filler (v BLOB)`)
	require.NoError(t, err)
	return db
}

// fill commits a transaction of about n pages.
func fill(t *testing.T, db *DB, n int) {
	t.Helper()
	require.NoError(t, db.Update(context.Background(), func(etx engine.Tx) error {
		_, err := etx.(*tx).exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?)
			INSERT INTO filler (v) SELECT randomblob(3500) FROM n`, n)
		return err
	}))
}

// walFileFrames is how many frames the -wal file has room for.
func walFileFrames(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	return max(info.Size()-32, 0) / (4096 + 24)
}

// No commit checkpoints: the log grows past SQLite's automatic threshold
// (1,000 frames) untouched until the checkpointer's round, after which the
// next commit writes from the log's beginning again.
func TestCommitsNeverCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openWith(t, path, idle)
	for range 12 {
		fill(t, db, 100)
	}
	frames := walFileFrames(t, path)
	assert.GreaterOrEqual(t, frames, int64(1200), "every frame is still in the log")

	r := db.ckpt.round()
	assert.True(t, r.complete(), "%+v", r)
	assert.EqualValues(t, frames, r.log)
	fill(t, db, 10)
	assert.LessOrEqual(t, walFileFrames(t, path), int64(idle.hardFrames),
		"the log restarted, and its file was cut back to journal_size_limit")
	r = db.ckpt.round()
	assert.True(t, r.complete())
	assert.Less(t, r.log, 20, "the log holds only the last commit")
}

// A round finishes the checkpoint with the writer held between two commits
// once the log is restartFrames long, so that the log restarts although
// commits go on; below that it copies beside the writer only. (Here a
// reader, not commits, keeps the first checkpoint from copying it all.)
func TestRoundsRestartTheLogBetweenCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	cfg := idle
	cfg.restartFrames, cfg.hardFrames = 300, 1<<30
	db := openWith(t, path, cfg)
	ctx := context.Background()
	fill(t, db, 100)
	require.True(t, db.ckpt.round().complete()) // the next commit restarts the log
	reader, err := db.reader.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer reader.Rollback()
	var n int
	require.NoError(t, reader.QueryRowContext(ctx, `SELECT count(*) FROM filler`).Scan(&n))

	fill(t, db, 100)
	r := db.ckpt.round()
	assert.False(t, r.complete())
	assert.Zero(t, db.ckpt.stats.paused.Load(), "below restartFrames the writer is never held")

	fill(t, db, 250)
	db.ckpt.step = func(step string) {
		if step == "passive" {
			require.NoError(t, reader.Rollback())
		}
	}
	r = db.ckpt.round()
	assert.EqualValues(t, 1, db.ckpt.stats.paused.Load())
	assert.True(t, r.complete(), "the paused checkpoint copied everything: %+v", r)
	assert.GreaterOrEqual(t, r.log, cfg.restartFrames)
	assert.Zero(t, db.ckpt.stats.failed.Load())
}

// A checkpoint beside a writer that keeps committing copies the log as it
// was when it began, and reports that as all of it. Past restartFrames the
// round finishes with the writer held anyway, so that the log restarts at
// the next commit rather than growing for as long as the load lasts.
func TestRoundsRestartTheLogWhileTheWriterCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	cfg := idle
	cfg.restartFrames, cfg.hardFrames = 300, 1<<30
	db := openWith(t, path, cfg)
	for round := range 5 {
		fill(t, db, 400)
		db.ckpt.step = func(step string) {
			if step == "passive" {
				fill(t, db, 20) // committed after the PASSIVE checkpoint began
			}
		}
		r := db.ckpt.round()
		assert.True(t, r.complete(), "round %d: %+v", round, r)
		assert.EqualValues(t, round+1, db.ckpt.stats.paused.Load(), "round %d", round)
		db.ckpt.step = nil
		fill(t, db, 1)
		assert.Less(t, db.ckpt.round().log, 20, "round %d: the log restarted", round)
	}
	assert.Less(t, walFileFrames(t, path), int64(600), "the file never held more than one round's frames")
}

// A reader that still needs old frames keeps the log from being copied
// whole. Past hardFrames a TRUNCATE is tried; refused while the reader
// stays (it waits truncateWait), it is not tried again at once, and once
// the reader has gone it empties the file.
func TestTruncateOnceReadersLetGo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openWith(t, path, idle)
	ctx := context.Background()
	fill(t, db, 5)
	reader, err := db.reader.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer reader.Rollback()
	var n int
	require.NoError(t, reader.QueryRowContext(ctx, `SELECT count(*) FROM filler`).Scan(&n))
	for range 3 {
		fill(t, db, 50)
	}
	_, err = db.ckpt.conn.ExecContext(ctx, "PRAGMA busy_timeout = 10")
	require.NoError(t, err)
	r := db.ckpt.round()
	assert.False(t, r.complete())
	assert.EqualValues(t, 1, db.ckpt.stats.truncateFailed.Load())
	db.ckpt.round()
	assert.EqualValues(t, 1, db.ckpt.stats.truncateFailed.Load(), "no second TRUNCATE at once")
	assert.Greater(t, walFileFrames(t, path), int64(150))

	db.ckpt.nextTruncate = time.Time{}
	db.ckpt.step = func(step string) {
		if step == "truncate" {
			require.NoError(t, reader.Rollback())
		}
	}
	r = db.ckpt.round()
	assert.True(t, r.complete(), "%+v", r)
	assert.EqualValues(t, 1, db.ckpt.stats.truncated.Load())
	assert.Zero(t, walFileFrames(t, path))
	fill(t, db, 5)
	var count int
	require.NoError(t, db.reader.QueryRowContext(ctx, `SELECT count(*) FROM filler`).Scan(&count))
	assert.Equal(t, 5+150+5, count)
}

// Several processes on one file, each with its checkpointer, write at once:
// their checkpoints never make a commit fail, and the log does not keep
// what is already in the database.
func TestCheckpointersOfSeveralProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	eager := checkpointConfig{softFrames: 30, restartFrames: 60, hardFrames: 400, truncateWait: 100 * time.Millisecond,
		tick: 5 * time.Millisecond}
	dbs := []*DB{openWith(t, path, eager), openWith(t, path, eager)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		db := dbs[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 60 {
				err := db.Update(context.Background(), func(etx engine.Tx) error {
					name := fmt.Sprintf("u%d-%d", i, j)
					if err := etx.InsertUser(&engine.User{ID: "usr_" + name, Name: name, KYCStatus: engine.KYCPending}); err != nil {
						return err
					}
					_, err := etx.(*tx).exec(`INSERT INTO filler (v) VALUES (randomblob(8000))`)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, db := range dbs {
		assert.Zero(t, db.ckpt.stats.failed.Load())
		assert.NotZero(t, db.ckpt.stats.rounds.Load())
	}
	// Once the writes stop, one round copies everything.
	r := dbs[0].ckpt.round()
	for r.busy {
		r = dbs[0].ckpt.round() // the other process was checkpointing
	}
	assert.True(t, r.complete(), "%+v", r)
	var users int
	require.NoError(t, dbs[1].reader.QueryRow(`SELECT count(*) FROM users`).Scan(&users))
	assert.Equal(t, 240, users)
	var check string
	require.NoError(t, dbs[1].reader.QueryRow(`PRAGMA integrity_check`).Scan(&check))
	assert.Equal(t, "ok", check)
}

// Close stops the checkpointer and closes its connection; the last
// connection to close leaves the log checkpointed and removed.
func TestCloseStopsTheCheckpointer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	cfg := idle
	cfg.softFrames, cfg.tick = 5, time.Millisecond
	db := openWith(t, path, cfg)
	for range 20 {
		fill(t, db, 3)
	}
	require.NoError(t, db.Close())
	select {
	case <-db.ckpt.stopped:
	default:
		t.Fatal("the checkpointer's goroutine is still running")
	}
	_, err := db.ckpt.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
	assert.ErrorIs(t, err, sql.ErrConnDone)
	_, err = os.Stat(path + "-wal")
	assert.True(t, os.IsNotExist(err), "%v", err)
	assert.NotZero(t, db.ckpt.stats.rounds.Load())
}
