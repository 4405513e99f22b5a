//go:build unix

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The files a first run creates are for the operator alone: the database
// (sealed card numbers, key hashes), its -wal and -shm files, and the key
// file. The umask is set to the usual 022 so that the test means the same
// whatever umask it runs under.
func TestFirstRunCreatesOwnerOnlyFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	for _, args := range [][]string{{"init"}, {"quickstart"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c := newCLI(t)
			c.ok(args...)
			key := strings.TrimSuffix(c.db, filepath.Ext(c.db)) + ".key"
			for _, p := range []string{c.db, c.db + "-wal", c.db + "-shm", key} {
				info, err := os.Stat(p)
				if p != c.db && p != key && errors.Is(err, os.ErrNotExist) {
					continue // SQLite removes -wal and -shm when the last connection closes
				}
				require.NoError(t, err)
				assert.Zero(t, info.Mode().Perm()&0o077, "%s has mode %v", filepath.Base(p), info.Mode().Perm())
			}
		})
	}
}
