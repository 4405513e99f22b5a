//go:build unix

package stripemock

import (
	"os"
	"syscall"
)

// lockBuild takes an exclusive lock on path, waiting for it, so that test
// processes started together build stripe-mock once: the others wait and
// find the binary. The returned func releases it.
func lockBuild(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
