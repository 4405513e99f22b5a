package sqlite

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The writer runs with the settings of DESIGN §7; readers cannot write.
func TestConnectionSettings(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	pragma := func(name string) string {
		var v string
		require.NoError(t, db.conn.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v))
		return v
	}
	assert.Equal(t, "wal", pragma("journal_mode"))
	assert.Equal(t, "2", pragma("synchronous"), "FULL")
	assert.Equal(t, "1", pragma("foreign_keys"))
	assert.Equal(t, "5000", pragma("busy_timeout"))
	migrations, err := loadMigrations()
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(len(migrations)), pragma("user_version"), "every migration applied")
	assert.Equal(t, "0", pragma("wal_autocheckpoint"), "the checkpointer checkpoints, never a commit")
	assert.Equal(t, "82400000", pragma("journal_size_limit"), "20,000 frames")
	var sync string
	require.NoError(t, db.ckpt.conn.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
	assert.Equal(t, "2", sync, "a checkpoint syncs the database before the log may restart")

	var queryOnly string
	require.NoError(t, db.reader.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly))
	assert.Equal(t, "1", queryOnly)
	_, err = db.reader.ExecContext(ctx, "DELETE FROM users")
	assert.Error(t, err)
	assert.Contains(t, dsn("/tmp/x y?.db", DefaultBusyTimeout, false), "file:/tmp/x%20y%3F.db?")
	assert.Contains(t, dsn("/tmp/x.db", DefaultBusyTimeout, false), "_txlock=immediate")
}
