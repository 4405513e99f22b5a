package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crashChild names the database a child process of
// TestKillDuringCheckpointsLosesNoCommit deposits into.
const crashChild = "AGENTLEDGER_CRASH_CHILD"

// A process killed (SIGKILL) while it commits deposits from four clients,
// with its checkpointer copying, pausing the writer and truncating the log
// all the time (a reader keeps the log from being copied now and then),
// loses no deposit it acknowledged: after each kill the database opens, is
// sound, its ledger balances, and every acknowledged deposit is in it (at
// most the four in flight besides).
func TestKillDuringCheckpointsLosesNoCommit(t *testing.T) {
	if path := os.Getenv(crashChild); path != "" {
		depositUntilKilled(t, path)
		return
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	path := filepath.Join(t.TempDir(), "ledger.db")
	key := sqlite.GenerateKey()
	db, err := sqlite.Open(path, sqlite.Options{Key: key})
	require.NoError(t, err)
	eng := engine.New(db, engine.Options{})
	u, err := eng.CreateUser(context.Background(), engine.Operator, engine.CreateUserInput{Name: "u"})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	acked := map[int64]bool{}
	for run := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringCheckpointsLosesNoCommit$")
		cmd.Env = append(os.Environ(), crashChild+"="+path, fmt.Sprintf("AGENTLEDGER_CRASH_RUN=%d", run),
			"AGENTLEDGER_CRASH_KEY="+hex.EncodeToString(key))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		lines := bufio.NewScanner(out)
		killAfter := 40 + rand.IntN(200)
		n, last := 0, ""
		for n < killAfter && lines.Scan() {
			if counts, ok := strings.CutPrefix(lines.Text(), "checkpoints "); ok {
				last = counts
			}
			if amount, ok := strings.CutPrefix(lines.Text(), "acked "); ok {
				v, err := strconv.ParseInt(amount, 10, 64)
				require.NoError(t, err)
				acked[v] = true
				n++
			}
		}
		require.NoError(t, cmd.Process.Kill())
		cmd.Wait()
		require.Equal(t, killAfter, n, "the child stopped before it was killed")
		t.Logf("killed after %d deposits; its checkpoints: %s", n, last)

		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
		require.NoError(t, err)
		var check string
		require.NoError(t, raw.QueryRow(`PRAGMA integrity_check`).Scan(&check))
		assert.Equal(t, "ok", check)
		rows, err := raw.Query(`SELECT amount FROM transfers WHERE credit_account_id = ?`, engine.UserAccountID(u.ID, "USD"))
		require.NoError(t, err)
		stored := map[int64]bool{}
		for rows.Next() {
			var v int64
			require.NoError(t, rows.Scan(&v))
			stored[v] = true
		}
		require.NoError(t, rows.Err())
		require.NoError(t, raw.Close())
		extra := 0
		for v := range acked {
			assert.True(t, stored[v], "acknowledged deposit %d is lost", v)
		}
		for v := range stored {
			if !acked[v] {
				extra++
			}
		}
		assert.LessOrEqual(t, extra, 4*(run+1), "only deposits in flight when killed are not acknowledged")

		db, err := sqlite.Open(path, sqlite.Options{Key: key})
		require.NoError(t, err)
		report, err := db.VerifyLedger(context.Background())
		require.NoError(t, err)
		assert.True(t, report.OK, "%v", report.Faults)
		require.NoError(t, db.Close())
	}
}

// depositUntilKilled is the child: four clients deposit distinct amounts,
// printing each one acknowledged, and a reader holds snapshots now and then.
func depositUntilKilled(t *testing.T, path string) {
	key, err := hex.DecodeString(os.Getenv("AGENTLEDGER_CRASH_KEY"))
	require.NoError(t, err)
	db, err := sqlite.Open(path, sqlite.EagerCheckpoints(sqlite.Options{Key: key}))
	require.NoError(t, err)
	eng := engine.New(db, engine.Options{})
	ctx := context.Background()
	users, err := eng.ListUsers(ctx, engine.Operator, engine.Page{})
	require.NoError(t, err)
	user := users.Items[0].ID
	run, _ := strconv.Atoi(os.Getenv("AGENTLEDGER_CRASH_RUN"))
	var mu sync.Mutex
	go func() {
		for {
			db.View(ctx, func(tx engine.Tx) error {
				_, err := tx.FindUser(user)
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
				return err
			})
		}
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				amount := int64(run)*1_000_000 + int64(j)*4 + int64(g) + 1
				if _, err := eng.FundUser(ctx, engine.Operator, engine.FundInput{User: user, Amount: amount}); err != nil {
					panic(err)
				}
				mu.Lock()
				fmt.Printf("acked %d\n", amount)
				if j%25 == 0 {
					fmt.Printf("checkpoints %s\n", db.CheckpointCounts())
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
