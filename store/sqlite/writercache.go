package sqlite

import (
	"slices"

	sqlite "modernc.org/sqlite"
)

// The writer keeps what nearly every transaction would otherwise read
// again in memory between its transactions: today the webhook
// subscriptions and the rows decisions read (hotrows.go). Another process
// (the CLI adding an endpoint beside a server) may change them, so at each
// BEGIN the writer reads SQLite's data version of the file, which moves
// when another connection has committed (or restarted the log with a
// TRUNCATE checkpoint) since this one last looked, and drops what it keeps
// when the version is not the one its own last transaction left. The
// BEGIN holds the write lock, so nothing can change between the check and
// the COMMIT.
type writerCache struct {
	version uint32 // the data version the writer's last transaction left
	known   bool   // version was read after that transaction

	// subscriptions are the endpoints not removed; nil until read.
	subscriptions []subscription
	// hot are the rows decisions read (hotrows.go).
	hot hotRows
}

// subscription is one endpoint's event types; empty is every type.
type subscription struct {
	endpointID string
	types      []string
}

func (s subscription) wants(eventType string) bool {
	return len(s.types) == 0 || slices.Contains(s.types, eventType)
}

// dataVersion reads the writer connection's data version.
func (db *DB) dataVersion() (uint32, bool) {
	var v uint32
	err := db.conn.Raw(func(dc any) error {
		var err error
		v, err = dc.(sqlite.FileControl).FileControlDataVersion("main")
		return err
	})
	return v, err == nil
}

// began is called just after BEGIN IMMEDIATE: another connection's commit
// since the writer's last transaction drops the cache.
func (db *DB) began() {
	v, ok := db.dataVersion()
	if !ok || !db.cache.known || v != db.cache.version {
		db.cache = writerCache{}
	}
	db.cache.version, db.cache.known = v, ok
}

// committed is called after the writer's COMMIT, which moved the version.
// (A ROLLBACK does not move it.)
func (db *DB) committed() {
	db.cache.version, db.cache.known = db.dataVersion()
}

// subscriptions returns the endpoints not removed, reading them when the
// cache has none (the first use, or after a change).
func (t *tx) subscriptions() ([]subscription, error) {
	if t.db.cache.subscriptions != nil {
		return t.db.cache.subscriptions, nil
	}
	list, err := queryList(t, scanEndpoint, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE removed_at IS NULL`)
	if err != nil {
		return nil, err
	}
	subs := make([]subscription, 0, len(list))
	for _, w := range list {
		subs = append(subs, subscription{endpointID: w.ID, types: w.Events})
	}
	t.db.cache.subscriptions = subs
	return subs, nil
}

// endpointsChanged drops the subscriptions after a write to
// webhook_endpoints: they are read again, in the same transaction, before
// its events are written (and again after a rollback of that write).
func (t *tx) endpointsChanged() { t.db.cache.subscriptions = nil }
