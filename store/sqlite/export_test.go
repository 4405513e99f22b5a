package sqlite

import sqlite "modernc.org/sqlite"

// WALFrames is how many pages the writer connection has appended to the
// WAL (SQLITE_DBSTATUS_CACHE_WRITE). Call it only while nothing writes.
func (db *DB) WALFrames() int {
	var n int
	err := db.conn.Raw(func(dc any) error {
		var err error
		n, _, err = dc.(sqlite.DBStatus).Status(sqlite.DBStatusCacheWrite, false)
		return err
	})
	if err != nil {
		panic(err)
	}
	return n
}
