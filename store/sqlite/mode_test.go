//go:build unix

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withUmask runs the test under the usual umask 022, so that a file created
// 0644 shows group and other bits whatever umask the test runner has.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// The database holds sealed card numbers and key hashes: a new one, its WAL
// and its shared-memory file are for the owner alone. An existing file keeps
// the mode its owner gave it.
func TestOpenCreatesOwnerOnlyFiles(t *testing.T) {
	withUmask(t, 0o022)
	tests := []struct {
		name     string
		existing os.FileMode // 0: no file before Open
		want     os.FileMode
	}{
		{name: "new database", want: 0o600},
		{name: "existing 0644 database is left as it is", existing: 0o644, want: 0o644},
		{name: "existing 0640 database is left as it is", existing: 0o640, want: 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			if tt.existing != 0 {
				require.NoError(t, openDB(t, path, sqlite.Options{}).Close())
				require.NoError(t, os.Chmod(path, tt.existing))
			}
			db := openDB(t, path, sqlite.Options{})
			// A write while the database is open leaves the -wal and -shm files.
			err := db.Update(context.Background(), func(tx engine.Tx) error { return tx.InsertUser(user("ann")) })
			require.NoError(t, err)
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				info, err := os.Stat(p)
				require.NoError(t, err)
				assert.Equal(t, tt.want.String(), info.Mode().Perm().String(), filepath.Base(p))
			}
		})
	}
}
