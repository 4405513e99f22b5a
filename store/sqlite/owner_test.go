//go:build unix

package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// A restore run as root leaves the database owned by the user who owned the
// one it replaced: the service can still open it.
func TestRestoredFileKeepsTheOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give a file away")
	}
	dir := t.TempDir()
	old, restored := filepath.Join(dir, "old.db"), filepath.Join(dir, "new.db")
	require.NoError(t, os.WriteFile(old, nil, 0o600))
	require.NoError(t, os.WriteFile(restored, nil, 0o600))
	require.NoError(t, os.Chown(old, 4321, 4322))
	info, err := os.Stat(old)
	require.NoError(t, err)
	require.NoError(t, sameOwner(restored, info))
	after, err := os.Stat(restored)
	require.NoError(t, err)
	st := after.Sys().(*syscall.Stat_t)
	require.Equal(t, [2]uint32{4321, 4322}, [2]uint32{st.Uid, st.Gid})
}
