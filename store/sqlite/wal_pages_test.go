package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// walProbe reads which pages a commit appended to the WAL, by b-tree: it
// empties the log (a TRUNCATE checkpoint on a connection of its own) before
// the write it measures, then reads the frames' page numbers from the -wal
// file and names each page's table or index with dbstat.
type walProbe struct {
	t    testing.TB
	path string
	conn *sql.DB
}

func newWALProbe(t testing.TB, path string) *walProbe {
	conn, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	require.NoError(t, err)
	conn.SetMaxOpenConns(1)
	t.Cleanup(func() { conn.Close() })
	return &walProbe{t: t, path: path, conn: conn}
}

// reset checkpoints every frame into the database and truncates the log,
// trying again while the store's own checkpointer has the checkpoint lock.
func (p *walProbe) reset() {
	for range 1000 {
		var busy, log, done int
		require.NoError(p.t, p.conn.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &done))
		if busy == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	p.t.Fatal("the log could not be reset")
}

// frames returns the page number of every frame in the log since reset.
func (p *walProbe) frames() []uint32 {
	raw, err := os.ReadFile(p.path + "-wal")
	require.NoError(p.t, err)
	if len(raw) < 32 {
		return nil
	}
	pageSize := int(binary.BigEndian.Uint32(raw[8:12]))
	salt := raw[16:24]
	var pages []uint32
	for off := 32; off+24+pageSize <= len(raw); off += 24 + pageSize {
		if string(raw[off+8:off+16]) != string(salt) {
			break // a frame left from before the log restarted
		}
		pages = append(pages, binary.BigEndian.Uint32(raw[off:off+4]))
	}
	return pages
}

// trees names the b-tree of each page (page 1 is the schema and the file
// header; a page on no b-tree is on the freelist).
func (p *walProbe) trees(pages []uint32) []string {
	rows, err := p.conn.Query(`SELECT name, pageno FROM dbstat`)
	require.NoError(p.t, err)
	defer rows.Close()
	names := map[uint32]string{}
	for rows.Next() {
		var name string
		var page uint32
		require.NoError(p.t, rows.Scan(&name, &page))
		names[page] = name
	}
	require.NoError(p.t, rows.Err())
	out := make([]string, len(pages))
	for i, pg := range pages {
		if out[i] = names[pg]; out[i] == "" {
			out[i] = "(freelist)"
		}
	}
	return out
}

// measure runs write n times, each alone in the log, and returns the
// average frames per write by b-tree, and in all.
func (p *walProbe) measure(n int, before, write func()) (map[string]float64, float64) {
	by := map[string]float64{}
	total := 0
	for range n {
		if before != nil {
			before()
		}
		p.reset()
		write()
		pages := p.frames()
		total += len(pages)
		for _, name := range p.trees(pages) {
			by[name] += 1 / float64(n)
		}
	}
	return by, float64(total) / float64(n)
}

func formatTrees(by map[string]float64) string {
	names := slices.SortedFunc(maps.Keys(by), func(a, b string) int {
		if by[a] != by[b] {
			return int(1000 * (by[b] - by[a]))
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %5.2f  %s", by[n], n)
	}
	return b.String()
}

// What a serial authorization appends to the WAL, by table and index: the
// pages the target (≤ 5 per authorization) is about. Page counts
// are deterministic, so the ceilings catch a change that writes more.
func TestWALPagesPerSerialAuthorization(t *testing.T) {
	for _, c := range []struct {
		name    string
		intent  bool
		ceiling float64
	}{
		// The bench policy has a velocity limit: velocity_spends takes a
		// page of each authorization.
		{"authorize", false, 18},
		{"authorize matching an intent", true, 24},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := sqlitetest.New(t)
			_, agent, card := env.Setup(engine.MaxAmount, benchPolicy(c.intent))
			probe := newWALProbe(t, env.Path)
			charge := func() {
				a, err := env.Engine.Authorize(context.Background(), engine.Operator, benchCharge(card))
				require.NoError(t, err)
				require.Equal(t, engine.AuthApproved, a.Status, a.Reason)
			}
			reveal := func() {
				// A clock that moves, as a real one does: the agent's risk
				// state (its recent attempts) then changes with each charge.
				env.Clock.Advance(time.Second)
				if c.intent {
					env.Reveal(agent, card, 100, "Coffee")
				}
			}
			for range 20 { // merchant history, counters and accounts exist
				reveal()
				charge()
			}
			by, total := probe.measure(50, reveal, charge)
			t.Logf("%.2f WAL pages per authorization:%s", total, formatTrees(by))
			assert.LessOrEqual(t, total, c.ceiling)
		})
	}
}
