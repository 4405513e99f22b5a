package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyFileOf is where the CLI looks for a database's key file.
func keyFileOf(db string) string { return strings.TrimSuffix(db, filepath.Ext(db)) + ".key" }

// A backup taken by another process while 'serve --http' decides
// authorizations from several clients restores to a database whose ledger
// verifies and that holds every decision acknowledged before the backup
// began; restore refuses a database in use, and replaces it once stopped.
func TestBackupWhileServing(t *testing.T) {
	p := newProc(t)
	p.fundedBuyer()
	var ignored any
	p.json(&ignored, "policy", "set", "buyer", "--intent-required=false")
	var card engine.Card
	p.json(&card, "card", "create", "--agent", "buyer")
	var network struct{ Key string }
	p.json(&network, "key", "create", "--network")
	s := p.serveHTTP(t)

	var mu sync.Mutex
	var acked []string
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"card_id":%q,"amount":%d,"currency":"USD","merchant":{"name":"Vending %d"}}`, card.ID, 100+w, i)
				req, _ := http.NewRequest(http.MethodPost, s.url+"/v1/network/authorize", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+network.Key)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if !assert.NoError(t, err) {
					return
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var a struct{ ID, Status string }
				if !assert.Equal(t, http.StatusOK, res.StatusCode, "%s", raw) || !assert.NoError(t, json.Unmarshal(raw, &a)) {
					return
				}
				mu.Lock()
				acked = append(acked, a.ID)
				mu.Unlock()
			}
		}()
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for len(ackedNow()) < n {
			require.True(t, time.Now().Before(deadline), "the load stalled at %d decisions: %s", len(ackedNow()), s.log())
			time.Sleep(10 * time.Millisecond)
		}
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()
	waitFor(40)

	dir := t.TempDir()
	backup := filepath.Join(dir, "agentledger-backup.db")
	before := ackedNow()
	out, errOut, err := p.run("backup", backup)
	require.NoError(t, err, errOut)
	during := len(ackedNow()) - len(before)
	assert.Contains(t, out, "Backed up "+p.db+" to "+backup)
	assert.Contains(t, out, "The store key is NOT in the backup")
	assert.Contains(t, out, "Keep a copy of the key file "+keyFileOf(p.db))
	waitFor(len(before) + during + 40)
	close(stop)
	wg.Wait()
	t.Logf("%d decisions acknowledged before the backup, %d while it ran, %d in all", len(before), during, len(ackedNow()))

	// The backup again: refused without --force; --json says where the key is.
	_, errOut, err = p.run("backup", backup)
	require.Error(t, err)
	assert.Contains(t, errOut, "already exists: pass --force")
	var again struct {
		Path        string    `json:"path"`
		Bytes       int64     `json:"bytes"`
		SnapshotAt  time.Time `json:"snapshot_at"`
		KeyIncluded bool      `json:"key_included"`
		KeyFile     string    `json:"key_file"`
	}
	second := filepath.Join(dir, "second.db")
	p.json(&again, "backup", second)
	assert.Equal(t, second, again.Path)
	assert.Positive(t, again.Bytes)
	assert.False(t, again.KeyIncluded)
	assert.Equal(t, keyFileOf(p.db), again.KeyFile)
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 2, "no key file and no temporary file beside the backups")

	// Restore into a new place: the key must be put there first.
	restored := filepath.Join(t.TempDir(), "restored.db")
	r := &proc{t: t, bin: p.bin, db: restored}
	_, errOut, err = r.run("restore", backup)
	require.Error(t, err)
	assert.Contains(t, errOut, "copy your backed-up key file to "+keyFileOf(restored))
	assert.NoFileExists(t, restored)
	key, err := os.ReadFile(keyFileOf(p.db))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFileOf(restored), key, 0o600))
	out, errOut, err = r.run("restore", backup)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "Restored "+backup+" into "+restored)
	assert.Contains(t, out, "Key: opens the backup's sealed secrets")
	assert.Contains(t, out, "Ledger OK")
	out, errOut, err = r.run("ledger", "verify")
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "Ledger OK")

	var txns []struct{ ID string }
	r.json(&txns, "txn", "list", "--limit", "0")
	inCopy := map[string]bool{}
	for _, x := range txns {
		inCopy[x.ID] = true
	}
	for _, id := range before {
		require.True(t, inCopy[id], "decision %s was acknowledged before the backup began", id)
	}
	assert.Less(t, len(txns), len(ackedNow()), "decisions made after the backup are not in it")

	// Restoring over the database the server has open is refused, forced
	// or not; once the server stops, --force replaces it and keeps it aside.
	_, errOut, err = p.run("restore", backup)
	require.Error(t, err)
	assert.Contains(t, errOut, "a database already exists at "+p.db)
	_, errOut, err = p.run("restore", backup, "--force")
	require.Error(t, err)
	assert.Contains(t, errOut, "is open in another process")
	s.stop(t)
	var res struct {
		Database string `json:"database"`
		Replaced string `json:"replaced"`
		Ledger   struct{ OK bool }
	}
	p.json(&res, "restore", backup, "--force")
	assert.Equal(t, p.db, res.Database)
	assert.True(t, res.Ledger.OK)
	require.FileExists(t, res.Replaced)
	p.json(&txns, "txn", "list", "--limit", "0")
	assert.Equal(t, len(inCopy), len(txns), "the database is the backup's now")
}

// Restore refuses what is not a backup, and a backup with the wrong key.
func TestRestoreRefusals(t *testing.T) {
	c := newCLI(t)
	c.ok("init")
	c.ok("user", "create", "acme")
	c.ok("user", "approve", "acme")
	c.ok("agent", "create", "buyer", "--user", "acme")
	c.ok("card", "create", "--agent", "buyer")
	backup := filepath.Join(c.dir, "backup.db")
	c.ok("backup", backup)
	c.fail(exitUsage, "backup")
	c.fail(exitError, "backup", c.db, "--force") // the database's own file

	other := newCLI(t)
	require.NoError(t, os.WriteFile(keyFileOf(other.db), []byte(strings.Repeat("ab", 32)+"\n"), 0o600))
	msg := other.fail(exitError, "restore", backup)
	assert.Contains(t, msg, "not the key this database was sealed with")
	assert.NoFileExists(t, other.db)

	junk := filepath.Join(c.dir, "junk.db")
	require.NoError(t, os.WriteFile(junk, bytes.Repeat([]byte("x"), 100), 0o600))
	msg = other.fail(exitError, "restore", junk)
	assert.Contains(t, msg, "is not an SQLite database")
	msg = other.fail(exitError, "restore", filepath.Join(c.dir, "missing.db"))
	assert.Contains(t, msg, "no such file")
	assert.NoFileExists(t, other.db)
}
