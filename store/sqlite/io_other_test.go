//go:build !linux

package sqlite_test

// diskWrites is not measured here.
func diskWrites() int64 { return -1 }
