package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var epoch = sqlitetest.Epoch

func user(name string) *engine.User {
	return &engine.User{ID: "usr_" + name, Name: name, KYCStatus: engine.KYCPending, CreatedAt: epoch, UpdatedAt: epoch}
}

func openDB(t *testing.T, path string, opts sqlite.Options) *sqlite.DB {
	t.Helper()
	if opts.Key == nil {
		opts.Key = testKey
	}
	db, err := sqlite.Open(path, opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

var testKey = sqlite.GenerateKey()

func findUser(t *testing.T, db *sqlite.DB, ref string) (*engine.User, error) {
	t.Helper()
	var u *engine.User
	err := db.View(context.Background(), func(tx engine.Tx) error {
		var err error
		u, err = tx.FindUser(ref)
		return err
	})
	return u, err
}

func TestOpenMigratesOnceAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openDB(t, path, sqlite.Options{})
	require.NoError(t, db.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertUser(user("ann")) }))
	require.NoError(t, db.Close())

	db = openDB(t, path, sqlite.Options{})
	u, err := findUser(t, db, "ann")
	require.NoError(t, err)
	assert.Equal(t, user("ann"), u, "what was committed survives a reopen")
}

// Several processes may open a new file at the same moment: the schema is
// created exactly once and every one of them works.
func TestConcurrentOpensOfANewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	var wg sync.WaitGroup
	dbs := make([]*sqlite.DB, 6)
	errs := make([]error, 6)
	for i := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = sqlite.Open(path, sqlite.Options{Key: testKey})
		}()
	}
	wg.Wait()
	for i, db := range dbs {
		require.NoError(t, errs[i])
		defer db.Close()
		require.NoError(t, db.Update(context.Background(), func(tx engine.Tx) error {
			return tx.InsertUser(user("u" + string(rune('a'+i))))
		}))
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	require.NoError(t, openDB(t, path, sqlite.Options{}).Close())
	raw, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = raw.Exec("PRAGMA user_version = 99")
	require.NoError(t, err)
	require.NoError(t, raw.Close())
	_, err = sqlite.Open(path, sqlite.Options{Key: testKey})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "newer than this agentledger")
}

func TestOpenRejectsAShortKey(t *testing.T) {
	_, err := sqlite.Open(filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Key: []byte("short")})
	assert.ErrorContains(t, err, "32 bytes")
}

func TestUpdateRollsBackOnError(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	boom := errors.New("boom")
	err := db.Update(context.Background(), func(tx engine.Tx) error {
		require.NoError(t, tx.InsertUser(user("ann")))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	_, err = findUser(t, db, "ann")
	assert.True(t, engine.IsNotFound(err), "nothing of a failed transaction is kept")
}

func TestUpdateSurvivesAPanic(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	err := db.Update(context.Background(), func(tx engine.Tx) error {
		require.NoError(t, tx.InsertUser(user("ann")))
		panic("bug")
	})
	assert.ErrorContains(t, err, "panic in transaction: bug")
	_, err = findUser(t, db, "ann")
	assert.True(t, engine.IsNotFound(err))
	require.NoError(t, db.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertUser(user("bob")) }),
		"the writer keeps working")
}

// Transactions committed together are still isolated: one that fails rolls
// back its own writes only.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	// Hold the writer so that everything below queues into one batch.
	release := make(chan struct{})
	started := make(chan struct{})
	go db.Update(context.Background(), func(tx engine.Tx) error {
		close(started)
		<-release
		return nil
	})
	<-started
	var wg sync.WaitGroup
	results := make([]error, 40)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = db.Update(context.Background(), func(tx engine.Tx) error {
				if err := tx.InsertUser(user("u" + itoa(i))); err != nil {
					return err
				}
				// Its event (the outbox) commits or rolls back with it.
				if err := tx.InsertEvent(&engine.Event{ID: "evt_" + itoa(i), Type: engine.EventUserApproved, CreatedAt: time.Now(), Data: []byte(`{}`)}); err != nil {
					return err
				}
				if i%3 == 0 {
					return errors.New("refused")
				}
				return nil
			})
		}()
	}
	time.Sleep(100 * time.Millisecond) // let them queue
	close(release)
	wg.Wait()
	for i, err := range results {
		_, findErr := findUser(t, db, "u"+itoa(i))
		var eventErr error
		require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
			_, eventErr = tx.FindEvent("evt_" + itoa(i))
			return nil
		}))
		if i%3 == 0 {
			assert.EqualError(t, err, "refused")
			assert.True(t, engine.IsNotFound(findErr), "u%d must be rolled back", i)
			assert.True(t, engine.IsNotFound(eventErr), "evt_%d must be rolled back", i)
		} else {
			assert.NoError(t, err)
			assert.NoError(t, findErr, "u%d must be committed", i)
			assert.NoError(t, eventErr, "evt_%d must be committed", i)
		}
	}
	tx, commits := db.Stats()
	assert.Less(t, commits, tx)
}

func itoa(i int) string { return strconv.Itoa(i) }

// Once handed to the writer, a transaction runs to completion even if the
// caller gives up: money is never half-moved by a disconnecting client.
func TestUpdateCompletesAfterTheCallerCancels(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	entered := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- db.Update(ctx, func(tx engine.Tx) error {
			close(entered)
			time.Sleep(50 * time.Millisecond)
			return tx.InsertUser(user("ann"))
		})
	}()
	<-entered
	cancel()
	require.NoError(t, <-done)
	_, err := findUser(t, db, "ann")
	assert.NoError(t, err)

	// A call already cancelled is not started at all.
	err = db.Update(ctx, func(tx engine.Tx) error { return tx.InsertUser(user("bob")) })
	assert.ErrorIs(t, err, context.Canceled)
	_, err = findUser(t, db, "bob")
	assert.True(t, engine.IsNotFound(err))
}

func TestViewIsReadOnlyAndSeesCommittedState(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	err := db.View(context.Background(), func(tx engine.Tx) error { return tx.InsertUser(user("ann")) })
	assert.Error(t, err)
	_, err = findUser(t, db, "ann")
	assert.True(t, engine.IsNotFound(err))
}

// A writer that cannot get the lock within the busy timeout fails with
// BUSY and writes nothing.
func TestBusyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	db := openDB(t, path, sqlite.Options{BusyTimeout: 100 * time.Millisecond})
	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	require.NoError(t, err)

	start := time.Now()
	err = db.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertUser(user("ann")) })
	assert.Equal(t, engine.CodeBusy, engine.ErrorCode(err))
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)

	_, err = conn.ExecContext(context.Background(), "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, db.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertUser(user("ann")) }))
}

func TestUniqueNamesConflict(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{})
	require.NoError(t, db.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertUser(user("ann")) }))
	err := db.Update(context.Background(), func(tx engine.Tx) error {
		u := user("ann")
		u.ID = "usr_other"
		return tx.InsertUser(u)
	})
	assert.Equal(t, engine.CodeConflict, engine.ErrorCode(err))
}

// Card secrets are sealed with the store key: not in the file, and not
// readable with another key.
func TestCardSecretsAreEncryptedAtRest(t *testing.T) {
	env := sqlitetest.New(t)
	_, agent, card := env.Setup(1000, engine.Policy{})
	env.Reveal(agent, card, 100, "")
	d, err := env.Engine.RevealCard(env.Ctx, sqlitetest.AgentActor(agent), engine.RevealInput{CardID: card.ID})
	require.NoError(t, err)
	require.NoError(t, env.DB.Close())

	for _, name := range []string{env.Path, env.Path + "-wal"} {
		raw, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		assert.NotContains(t, string(raw), d.PAN, name)
		assert.NotContains(t, string(raw), d.PAN+":"+d.CVV, name)
	}

	wrong, err := sqlite.Open(env.Path, sqlite.Options{Key: sqlite.GenerateKey()})
	require.NoError(t, err)
	defer wrong.Close()
	err = wrong.View(env.Ctx, func(tx engine.Tx) error {
		_, err := tx.CardSecret(card.ID)
		return err
	})
	assert.ErrorContains(t, err, "wrong AGENTLEDGER_KEY")

	right := openDB(t, env.Path, sqlite.Options{Key: env.Key})
	err = right.View(env.Ctx, func(tx engine.Tx) error {
		s, err := tx.CardSecret(card.ID)
		assert.Equal(t, engine.CardSecret{PAN: d.PAN, CVV: d.CVV}, s)
		return err
	})
	require.NoError(t, err)
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agentledger.key")
	key, err := sqlite.CreateKeyFile(path)
	require.NoError(t, err)
	assert.Len(t, key, sqlite.KeySize)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	_, err = sqlite.CreateKeyFile(path)
	assert.ErrorIs(t, err, os.ErrExist, "an existing key is never overwritten")
	read, err := sqlite.ReadKeyFile(path)
	require.NoError(t, err)
	assert.Equal(t, key, read)

	require.NoError(t, os.Chmod(path, 0o644))
	_, err = sqlite.ReadKeyFile(path)
	assert.ErrorContains(t, err, "chmod 600")

	for _, form := range []string{sqlite.EncodeKey(key), " " + sqlite.EncodeKey(key) + "\n", base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key)} {
		parsed, err := sqlite.ParseKey(form)
		assert.NoError(t, err, form)
		assert.Equal(t, key, parsed)
	}
	for _, bad := range []string{"", "abcd", base64.StdEncoding.EncodeToString(append(key, 1)), sqlite.EncodeKey(key)[2:]} {
		_, err := sqlite.ParseKey(bad)
		assert.Error(t, err, bad)
	}
}

// Read transactions that all hold a reader connection and each run a query
// for the first time do not wait for one another: preparing a statement
// must not need a connection the pool no longer has.
func TestConcurrentFirstReadsDoNotDeadlock(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "ledger.db"), sqlite.Options{Readers: 2})
	var ready sync.WaitGroup
	ready.Add(2)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			done <- db.View(context.Background(), func(tx engine.Tx) error {
				if _, err := tx.FindUser("warm-up"); !engine.IsNotFound(err) { // holds the connection
					return err
				}
				ready.Done()
				ready.Wait()
				_, err := tx.ListUsers(engine.UserFilter{}) // a query neither has prepared yet
				return err
			})
		}()
	}
	for range 2 {
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("two read transactions deadlocked preparing a statement")
		}
	}
}
