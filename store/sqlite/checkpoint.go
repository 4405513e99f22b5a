package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
)

// Checkpoints run off the commit path. SQLite's automatic checkpoint runs
// inside the COMMIT that crosses its threshold, copying a thousand pages
// into the database and syncing it before that commit is answered; the
// writer has it turned off (wal_autocheckpoint=0), and a checkpointer
// goroutine on a connection of its own copies instead.
//
// A PASSIVE checkpoint never blocks a writer, but it copies only the frames
// there were when it began. While the writer keeps committing the log is
// never wholly copied, and SQLite restarts it from its beginning (rather
// than growing the file) only when it is. So a round, every softFrames the
// writer appended, is a PASSIVE checkpoint beside the writer, which copies
// the bulk; once the log is restartFrames long, a second one follows with
// this process's writer held between two commits, which copies what was
// committed meanwhile — a short pause, one sync of the database — and
// leaves nothing behind, so that the next commit restarts the log. What it
// cannot copy is what readers still need (a backup, a long list) or what
// another process's writer added; when the log has grown past hardFrames
// anyway, a TRUNCATE checkpoint stops every writer, waits up to
// truncateWait for those readers, and empties the file.
//
// Several processes on one file each run a checkpointer. SQLite runs one
// checkpoint at a time and refuses the others at once (busy, never
// waiting); a refused round is skipped, the other process's checkpoint
// doing the same work. Each process counts only the frames its own writer
// appended, so a tick also runs a round, for the frames of processes that
// append without checkpointing (a short CLI command, an older agentledger).
type checkpointer struct {
	db   *DB
	pool *sql.DB
	conn *sql.Conn
	checkpointConfig

	appended atomic.Int64 // frames the writer appended since the last round began
	wake     chan struct{}
	stop     chan struct{}
	stopped  chan struct{}

	mu           sync.Mutex // one round at a time, on conn
	nextTruncate time.Time  // after a failed TRUNCATE, none before then
	// step, when set (tests), hears each step of a round: "passive" after
	// the one beside the writer, "truncate" before a TRUNCATE.
	step func(name string)

	stats checkpointStats
}

// checkpointStats count what the checkpointer did, for tests and metrics.
type checkpointStats struct {
	rounds, complete, paused, truncated, truncateFailed, busy, failed atomic.Int64
	pausedFor                                                         atomic.Int64 // nanoseconds the writer was held
	lastLog                                                           atomic.Int64 // frames in the log after the last round
}

// checkpointConfig tunes the checkpointer; tests make it eager.
type checkpointConfig struct {
	softFrames    int64         // frames appended by the writer that start a round
	restartFrames int           // a log this long is finished with the writer paused
	hardFrames    int           // a log this long is truncated
	truncateWait  time.Duration // how long a TRUNCATE waits for readers and writers
	tick          time.Duration // rounds for other processes' frames
}

// defaultCheckpoints: a round per 5,000 frames (about 20 MB of 4 KiB
// pages), a restart of the log from 10,000 and a TRUNCATE past 20,000
// (about 80 MB). A page a round copies once however often the log holds
// it, so rarer rounds copy less: over 1,000 cards under load, a round per
// 5,000 frames wrote 51 KB to disk per authorization against 67 KB at
// SQLite's own 1,000, and took 20% less CPU.
var defaultCheckpoints = checkpointConfig{
	softFrames: 5000, restartFrames: 10_000, hardFrames: 20_000, truncateWait: 100 * time.Millisecond, tick: time.Second,
}

// walSizeLimit is the writer's journal_size_limit: hardFrames frames of
// 4 KiB pages.
func (c checkpointConfig) walSizeLimit() int64 { return int64(c.hardFrames) * (4096 + 24) }

// truncateBackoff spaces TRUNCATE attempts that failed (readers kept the
// log): each may have held the writer for truncateWait.
const truncateBackoff = 10

// checkpointDSN is the checkpointer's connection: read-write (a checkpoint
// writes the database file), synchronous=FULL so that a checkpoint syncs
// the log before and the database after copying — the log may only be
// restarted over frames that are safely in the database — and a busy
// timeout that bounds how long a TRUNCATE holds the writers.
func checkpointDSN(path string, wait time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", wait.Milliseconds()))
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "wal_autocheckpoint(0)")
	return fileURI(path, q)
}

func (db *DB) startCheckpointer(cfg checkpointConfig) error {
	c := &checkpointer{db: db, checkpointConfig: cfg,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	var err error
	if c.pool, err = sql.Open("sqlite", checkpointDSN(db.path, c.truncateWait)); err != nil {
		return err
	}
	c.pool.SetMaxOpenConns(1)
	if c.conn, err = c.pool.Conn(context.Background()); err != nil {
		c.pool.Close()
		return fmt.Errorf("open %s for checkpoints: %w", db.path, err)
	}
	db.ckpt = c
	go c.loop()
	return nil
}

// appendedFrames is called by the writer after each commit: it counts the
// frames the commit appended (the connection's page writes, which in WAL
// mode are frames; read and reset, since SQLite's counter is 31 bits) and
// wakes the checkpointer past softFrames.
func (db *DB) appendedFrames() {
	var frames int
	if err := db.conn.Raw(func(dc any) error {
		var err error
		frames, _, err = dc.(sqlite.DBStatus).Status(sqlite.DBStatusCacheWrite, true)
		return err
	}); err != nil {
		return // the tick still runs rounds
	}
	n := int64(frames)
	db.walFrames.Add(n)
	c := db.ckpt
	if c != nil && c.appended.Add(n) >= c.softFrames {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *checkpointer) loop() {
	defer close(c.stopped)
	tick := time.NewTicker(c.tick)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-tick.C:
		}
		c.round()
	}
}

// close stops the goroutine, then closes the connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.stopped
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.conn.Close(), c.pool.Close())
}

// walResult is what PRAGMA wal_checkpoint reports: whether it was refused
// or could not finish (busy), the frames in the log, and how many of them
// are now in the database. Refused, log and done are -1.
type walResult struct {
	busy      bool
	log, done int
}

func (r walResult) complete() bool { return !r.busy && r.done == r.log }

func (c *checkpointer) checkpoint(mode string) (walResult, error) {
	var r walResult
	var busy int
	err := c.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &r.log, &r.done)
	r.busy = busy != 0
	return r, err
}

// round is one checkpoint round (see above). It returns the last result.
func (c *checkpointer) round() walResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.rounds.Add(1)
	c.appended.Store(0)
	r, err := c.checkpoint("PASSIVE")
	switch {
	case err != nil:
		c.stats.failed.Add(1)
		return r
	case r.busy && r.log < 0:
		c.stats.busy.Add(1) // another process is checkpointing
		return r
	}
	c.hook("passive")
	// A PASSIVE checkpoint reports the log as it was when it began: while
	// this process's writer commits beside it, even one that copied all of
	// that leaves the writer's newer frames behind, and the log is never
	// restarted. So a long log is finished with the writer held unless
	// nothing was appended since the round began.
	if r.log >= c.restartFrames && !(r.complete() && c.appended.Load() == 0) {
		if r, err = c.paused("PASSIVE"); err != nil {
			c.stats.failed.Add(1)
			return r
		}
	}
	if !r.complete() && r.log >= c.hardFrames && !time.Now().Before(c.nextTruncate) {
		c.hook("truncate")
		started := time.Now()
		if r, err = c.paused("TRUNCATE"); err != nil || r.busy {
			c.stats.truncateFailed.Add(1)
			c.nextTruncate = time.Now().Add(truncateBackoff * time.Since(started))
		} else {
			c.stats.truncated.Add(1)
		}
	}
	if r.complete() {
		c.stats.complete.Add(1)
	}
	c.stats.lastLog.Store(int64(r.log))
	return r
}

func (c *checkpointer) hook(step string) {
	if c.step != nil {
		c.step(step)
	}
}

// paused runs a checkpoint with this process's writer held between two
// commits.
func (c *checkpointer) paused(mode string) (walResult, error) {
	c.db.commitMu.Lock()
	defer c.db.commitMu.Unlock()
	start := time.Now()
	defer func() { c.stats.paused.Add(1); c.stats.pausedFor.Add(int64(time.Since(start))) }()
	return c.checkpoint(mode)
}
