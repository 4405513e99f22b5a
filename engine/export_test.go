package engine

// SetPruneBatch makes Prune work in batches of n rows, for a test, until
// the returned func restores it.
func SetPruneBatch(n int) (restore func()) {
	old := pruneBatch
	pruneBatch = n
	return func() { pruneBatch = old }
}
