package sqlite_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A backup taken while authorizations are being decided from many
// goroutines is a consistent snapshot: restored, its ledger verifies, and
// every decision acknowledged before the backup began is in it.
func TestBackupUnderLoad(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(engine.MaxAmount, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	cards := []*engine.Card{card, env.Card(agent), env.Card(agent)}

	var mu sync.Mutex
	var acked []string // authorization ids, in the order their answers came
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				in := engine.AuthorizeInput{CardID: cards[(w+i)%len(cards)].ID, Amount: int64(100 + w), Currency: "USD",
					Merchant: engine.Merchant{Name: "Vending", MCC: "5814"}}
				if i%7 == 3 {
					in.Merchant.MCC = "7995" // some declines too
				}
				a, err := env.Engine.Authorize(env.Ctx, engine.Operator, in)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				acked = append(acked, a.ID)
				mu.Unlock()
			}
		}()
	}
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	waitFor := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for len(ackedNow()) < n {
			require.True(t, time.Now().Before(deadline), "the load stalled at %d decisions", len(ackedNow()))
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(200)

	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	before := ackedNow() // acknowledged before the backup began
	res, err := env.DB.Backup(env.Ctx, backup, sqlite.BackupOptions{})
	require.NoError(t, err)
	during := len(ackedNow()) - len(before)
	waitFor(len(before) + during + 100) // the load goes on after it
	stop()
	wg.Wait()
	t.Logf("%d decisions acknowledged before the backup, %d while it ran (%s), %d in all",
		len(before), during, res.Took, len(ackedNow()))

	assert.Equal(t, backup, res.Path)
	info, err := os.Stat(backup)
	require.NoError(t, err)
	assert.Equal(t, info.Size(), res.Bytes)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the copy holds sealed secrets and key hashes")
	assert.NoFileExists(t, backup+"-wal", "the copy is one self-contained file")
	assert.Positive(t, res.SchemaVersion)
	assert.WithinDuration(t, time.Now(), res.SnapshotAt, time.Minute)
	assertOnly(t, dir, "backup.db")

	restored := filepath.Join(t.TempDir(), "restored.db")
	rr, err := sqlite.Restore(env.Ctx, backup, restored, sqlite.RestoreOptions{Key: env.Key})
	require.NoError(t, err)
	require.True(t, rr.Ledger.OK, "%v", rr.Ledger.Faults)
	assert.Equal(t, res.SchemaVersion, rr.SchemaVersion)
	assert.Positive(t, rr.SealedChecked, "the key was tried on a card's secret")
	assert.Empty(t, rr.Replaced)

	db, err := sqlite.Open(restored, sqlite.Options{Key: env.Key})
	require.NoError(t, err)
	defer db.Close()
	eng := engine.New(db, engine.Options{Clock: env.Clock})
	for _, id := range before {
		_, err := eng.GetAuthorization(env.Ctx, engine.Operator, id)
		require.NoError(t, err, "decision %s was acknowledged before the backup began", id)
	}
	var inCopy int
	require.NoError(t, db.View(env.Ctx, func(tx engine.Tx) error {
		list, err := tx.ListAuthorizations(engine.AuthorizationFilter{Limit: 1_000_000})
		inCopy = len(list)
		return err
	}))
	assert.GreaterOrEqual(t, inCopy, len(before))
	assert.Less(t, inCopy, len(ackedNow()), "what was decided after the backup is not in it")
	report, err := db.VerifyLedger(env.Ctx)
	require.NoError(t, err)
	assert.True(t, report.OK, "%v", report.Faults)
}

// assertOnly checks that dir holds exactly the named files: no temporary
// file is left behind.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	assert.ElementsMatch(t, names, got)
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	env := sqlitetest.New(t)
	env.Setup(10_000, engine.Policy{})
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	require.NoError(t, os.WriteFile(backup, []byte("precious"), 0o600))

	_, err := env.DB.Backup(env.Ctx, backup, sqlite.BackupOptions{})
	require.ErrorIs(t, err, fs.ErrExist)
	got, _ := os.ReadFile(backup)
	assert.Equal(t, "precious", string(got), "an existing file is left as it was")
	assertOnly(t, dir, "backup.db")

	res, err := env.DB.Backup(env.Ctx, backup, sqlite.BackupOptions{Force: true})
	require.NoError(t, err)
	assert.Greater(t, res.Bytes, int64(len("precious")))
	assertOnly(t, dir, "backup.db")

	for _, own := range []string{env.Path, env.Path + "-wal", env.Path + "-shm"} {
		_, err := env.DB.Backup(env.Ctx, own, sqlite.BackupOptions{Force: true})
		require.Error(t, err, own)
		assert.Contains(t, err.Error(), "the database's own file")
	}
	_, err = env.DB.Backup(env.Ctx, dir, sqlite.BackupOptions{Force: true})
	assert.ErrorContains(t, err, "is a directory")
	_, err = env.DB.Backup(env.Ctx, filepath.Join(dir, "missing", "b.db"), sqlite.BackupOptions{})
	assert.Error(t, err, "a missing directory is not created")
	report, err := env.DB.VerifyLedger(env.Ctx)
	require.NoError(t, err)
	assert.True(t, report.OK, "the live database is untouched")
}

func TestRestoreChecksBeforeItReplaces(t *testing.T) {
	env := sqlitetest.New(t)
	env.Setup(10_000, engine.Policy{})
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	_, err := env.DB.Backup(env.Ctx, backup, sqlite.BackupOptions{})
	require.NoError(t, err)
	ctx := env.Ctx

	// A target that exists is refused without Force; with Force, while it
	// is open (env.DB has it open), too.
	_, err = sqlite.Restore(ctx, backup, env.Path, sqlite.RestoreOptions{Key: env.Key})
	require.ErrorIs(t, err, fs.ErrExist)
	_, err = sqlite.Restore(ctx, backup, env.Path, sqlite.RestoreOptions{Key: env.Key, Force: true})
	require.ErrorIs(t, err, sqlite.ErrInUse)

	// The wrong key is found out before anything is written.
	target := filepath.Join(t.TempDir(), "restored.db")
	_, err = sqlite.Restore(ctx, backup, target, sqlite.RestoreOptions{Key: sqlite.GenerateKey()})
	require.ErrorIs(t, err, sqlite.ErrWrongKey)
	assertOnly(t, filepath.Dir(target))

	// Not a database; not an agentledger database; missing.
	junk := filepath.Join(dir, "junk.db")
	require.NoError(t, os.WriteFile(junk, []byte(strings.Repeat("x", 4096)), 0o600))
	_, err = sqlite.Restore(ctx, junk, target, sqlite.RestoreOptions{Key: env.Key})
	assert.ErrorContains(t, err, "not an SQLite database")
	_, err = sqlite.Restore(ctx, filepath.Join(dir, "nope.db"), target, sqlite.RestoreOptions{Key: env.Key})
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = sqlite.Restore(ctx, backup, backup, sqlite.RestoreOptions{Key: env.Key, Force: true})
	assert.ErrorContains(t, err, "is the database to restore into")
	assertOnly(t, filepath.Dir(target))

	// Once closed, the database is replaced and kept aside.
	card := env.Card(env.Agent("later", env.User("later", 5_000), engine.Policy{})) // written after the backup
	require.NoError(t, env.DB.Close())
	res, err := sqlite.Restore(ctx, backup, env.Path, sqlite.RestoreOptions{Key: env.Key, Force: true})
	require.NoError(t, err)
	require.NotEmpty(t, res.Replaced)
	assert.True(t, strings.HasPrefix(res.Replaced, env.Path+".replaced-"), res.Replaced)
	assert.FileExists(t, res.Replaced)
	assert.NoFileExists(t, env.Path+"-wal")

	// Again at once: the first database kept aside is not overwritten.
	again, err := sqlite.Restore(ctx, backup, env.Path, sqlite.RestoreOptions{Key: env.Key, Force: true})
	require.NoError(t, err)
	assert.NotEqual(t, res.Replaced, again.Replaced)
	assert.FileExists(t, again.Replaced)

	db, err := sqlite.Open(env.Path, sqlite.Options{Key: env.Key})
	require.NoError(t, err)
	defer db.Close()
	_, err = engine.New(db, engine.Options{}).GetCard(ctx, engine.Operator, card.ID)
	assert.True(t, engine.IsNotFound(err), "the restored database is the backup's: %v", err)
	old, err := sqlite.Open(res.Replaced, sqlite.Options{Key: env.Key})
	require.NoError(t, err)
	defer old.Close()
	_, err = engine.New(old, engine.Options{}).GetCard(ctx, engine.Operator, card.ID)
	assert.NoError(t, err, "the replaced database is kept whole")
}

// A database file copied while nothing had it open restores too.
func TestRestoreFromACopiedFile(t *testing.T) {
	env := sqlitetest.New(t)
	env.Setup(10_000, engine.Policy{})
	require.NoError(t, env.DB.Close())
	raw, err := os.ReadFile(env.Path)
	require.NoError(t, err)
	copied := filepath.Join(t.TempDir(), "copied.db")
	require.NoError(t, os.WriteFile(copied, raw, 0o600))
	target := filepath.Join(t.TempDir(), "restored.db")
	res, err := sqlite.Restore(env.Ctx, copied, target, sqlite.RestoreOptions{Key: env.Key})
	require.NoError(t, err)
	assert.True(t, res.Ledger.OK)
	assertOnly(t, filepath.Dir(target), "restored.db")
}

func TestCheckNotInUse(t *testing.T) {
	env := sqlitetest.New(t)
	ctx := env.Ctx
	require.ErrorIs(t, sqlite.CheckNotInUse(ctx, env.Path), sqlite.ErrInUse)
	require.NoError(t, env.DB.Close())
	require.NoError(t, sqlite.CheckNotInUse(ctx, env.Path))
	other := env.Reopen(engine.Options{})
	require.ErrorIs(t, sqlite.CheckNotInUse(ctx, env.Path), sqlite.ErrInUse)
	require.NoError(t, other.DB.Close())
	missing := filepath.Join(t.TempDir(), "missing.db")
	assert.Error(t, sqlite.CheckNotInUse(ctx, missing))
	assert.NoFileExists(t, missing, "the check creates nothing")
}

func TestCheckKeyOnAnEmptyDatabase(t *testing.T) {
	env := sqlitetest.New(t)
	n, err := env.DB.CheckKey(env.Ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	_, _, _ = env.Setup(100, engine.Policy{})
	n, err = env.DB.CheckKey(env.Ctx)
	require.NoError(t, err)
	assert.Positive(t, n)
}
