//go:build unix

package sqlite

import (
	"io/fs"
	"os"
	"syscall"
)

// sameOwner gives path the owner and group of info's file, when this process
// may (root may; anyone else already owns what they create).
func sameOwner(path string, info fs.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return os.Chown(path, int(st.Uid), int(st.Gid))
}
