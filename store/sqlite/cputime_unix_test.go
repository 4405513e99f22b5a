//go:build unix

package sqlite

import (
	"syscall"
	"time"
)

// cpuTime is the CPU this process has used, user and system: a benchmark's
// cost apart from the time it waits for the disk.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
