package sqlite_test

import (
	"bytes"
	"os"
	"strconv"
)

// diskWrites is how many bytes the process has caused to be written to
// storage (write_bytes of /proc/self/io), or -1 where that cannot be read.
func diskWrites() int64 {
	raw, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("write_bytes: ")); ok {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
