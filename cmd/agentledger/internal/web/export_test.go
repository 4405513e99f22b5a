package web

import "testing"

// SetRecordsPageSize shrinks the record pages' page size for one test, so
// that a test reaches a second page with a few objects.
func SetRecordsPageSize(t testing.TB, n int) {
	old := recordsPageSize
	recordsPageSize = n
	t.Cleanup(func() { recordsPageSize = old })
}
