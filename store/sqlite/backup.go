package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/seal"
)

// ErrInUse is returned by Restore when the database it would replace is
// open in some process (a server, a CLI command).
var ErrInUse = errors.New("the database is open in another process")

// ErrWrongKey is returned by CheckKey (and Restore) when the store key
// does not open the database's sealed values.
var ErrWrongKey = errors.New("it is not the key this database was sealed with")

// BackupOptions tune Backup.
type BackupOptions struct {
	// Force replaces an existing file at the destination.
	Force bool
}

// BackupResult describes a copy written by Backup.
type BackupResult struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	// SnapshotAt is when the copy's read snapshot began: every write
	// acknowledged before then is in the copy, and nothing committed after
	// the copy finished is.
	SnapshotAt    time.Time `json:"snapshot_at"`
	SchemaVersion int       `json:"schema_version"`
	// Took is how long making the copy took.
	Took time.Duration `json:"-"`
}

// Backup writes a consistent copy of the database to path while it stays in
// use: SQLite's VACUUM INTO, on a read-only connection of its own, reads one
// WAL snapshot — writers go on committing meanwhile and are not in it — and
// writes a compact, self-contained database file (no -wal beside it) with
// mode 0600. The copy is written to a temporary file in the destination's
// directory, checked (PRAGMA quick_check), fsynced and only then renamed to
// path, so path is never a half-written copy. An existing path is refused
// (fs.ErrExist) unless opts.Force. The store key is not in the copy: it
// opens the copy's sealed secrets and must be kept separately.
func (db *DB) Backup(ctx context.Context, path string, opts BackupOptions) (*BackupResult, error) {
	dst, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := db.refuseOwnFiles(dst); err != nil {
		return nil, err
	}
	if info, err := os.Stat(dst); err == nil {
		if info.IsDir() {
			return nil, fmt.Errorf("backup destination %s is a directory: name the file to write", dst)
		}
		if !opts.Force {
			return nil, fmt.Errorf("backup destination %s already exists: %w", dst, fs.ErrExist)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	tmp, err := emptyTemp(dst)
	if err != nil {
		return nil, err
	}
	installed := false
	defer func() {
		if !installed {
			removeDatabaseFiles(tmp)
		}
	}()
	// mode=ro: the backup's connection can never write the live database.
	// The database is open (by db), so its -shm exists for a read-only
	// connection to share.
	src, err := sql.Open("sqlite", fileURI(db.path, url.Values{"mode": {"ro"},
		"_pragma": {fmt.Sprintf("busy_timeout(%d)", DefaultBusyTimeout.Milliseconds())}}))
	if err != nil {
		return nil, err
	}
	src.SetMaxOpenConns(1)
	start := time.Now()
	_, err = src.ExecContext(ctx, "VACUUM INTO ?", tmp)
	if closeErr := src.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, fmt.Errorf("backup of %s: %w", db.path, mapError(err))
	}
	res := &BackupResult{Path: dst, SnapshotAt: start.UTC(), Took: time.Since(start)}
	if res.SchemaVersion, err = checkCopy(ctx, tmp); err != nil {
		return nil, fmt.Errorf("backup of %s: the copy does not check: %w", db.path, err)
	}
	if res.Bytes, err = syncFile(tmp); err != nil {
		return nil, err
	}
	if err := install(tmp, dst, opts.Force); err != nil {
		return nil, err
	}
	installed = true
	return res, syncDir(filepath.Dir(dst))
}

// refuseOwnFiles refuses a backup destination that is the database itself
// or one of its companion files: replacing it would destroy the database.
func (db *DB) refuseOwnFiles(dst string) error {
	for _, own := range []string{db.path, db.path + "-wal", db.path + "-shm", db.path + "-journal"} {
		if dst == own || sameFile(dst, own) {
			return fmt.Errorf("backup destination %s is the database's own file", dst)
		}
	}
	return nil
}

func sameFile(a, b string) bool {
	ia, errA := os.Stat(a)
	ib, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(ia, ib)
}

// fileURI is the URI of a database file with query parameters.
func fileURI(path string, q url.Values) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// emptyTemp creates an empty file with mode 0600 beside path, for SQLite to
// write a copy into (VACUUM INTO accepts an empty file).
func emptyTemp(path string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	return f.Name(), f.Close()
}

// removeDatabaseFiles removes a database file and any companion files.
func removeDatabaseFiles(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// checkCopy opens a copy read-only and checks that it is a sound database
// (PRAGMA quick_check) of agentledger's schema, returning its version.
func checkCopy(ctx context.Context, path string) (int, error) {
	conn, err := sql.Open("sqlite", fileURI(path, url.Values{"mode": {"ro"}}))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return 0, err
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return 0, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], "…")
		}
		return 0, fmt.Errorf("the database is damaged: %s", strings.Join(problems, "; "))
	}
	var version, tables int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('accounts', 'transfers', 'authorizations')`).
		Scan(&tables); err != nil {
		return 0, err
	}
	if version == 0 || tables != 3 {
		return 0, errors.New("it is an SQLite database but not an agentledger one")
	}
	return version, nil
}

// syncFile flushes a file to disk and returns its size.
func syncFile(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return 0, err
	}
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), f.Close()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// install moves tmp to dst. Without replace, an existing dst is refused
// atomically (a hard link fails if dst exists); where hard links are not
// supported it falls back to a check and a rename.
func install(tmp, dst string, replace bool) error {
	if replace {
		return os.Rename(tmp, dst)
	}
	err := os.Link(tmp, dst)
	switch {
	case err == nil:
		return os.Remove(tmp)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s already exists: %w", dst, fs.ErrExist)
	}
	if _, statErr := os.Lstat(dst); statErr == nil {
		return fmt.Errorf("%s already exists: %w", dst, fs.ErrExist)
	}
	return os.Rename(tmp, dst)
}

// CheckNotInUse reports ErrInUse when the database at path is open in any
// process, this one included. It asks SQLite for an exclusive lock on the
// file, without waiting: every connection to a WAL database holds a shared
// lock for as long as it is open. When nobody has it open the check leaves
// the database checkpointed, with no write-ahead log beside it.
func CheckNotInUse(ctx context.Context, path string) error {
	conn, err := sql.Open("sqlite", fileURI(path, url.Values{"mode": {"rw"}, "_pragma": {"busy_timeout(0)", "locking_mode(EXCLUSIVE)"}}))
	if err != nil {
		return err
	}
	defer conn.Close()
	var n int
	err = conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n)
	if err == nil {
		return conn.Close()
	}
	if engine.ErrorCode(mapError(err)) == engine.CodeBusy {
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	return fmt.Errorf("%s: %w", path, err)
}

// CheckKey reports whether the store key opens the database's sealed
// values: the newest card secret, webhook signing secret and stored
// idempotent response, those that exist. It returns how many it opened;
// none when the database has no sealed value yet (then nothing shows the
// key wrong, or right).
func (db *DB) CheckKey(ctx context.Context) (int, error) {
	checks := []struct {
		what, query string
		aad         func(id, extra string) string
	}{
		{"a card's number", `SELECT id, '', secret FROM cards ORDER BY created_at DESC LIMIT 1`, func(id, _ string) string { return id }},
		{"a webhook signing secret", `SELECT id, '', secret FROM webhook_endpoints ORDER BY created_at DESC LIMIT 1`, func(id, _ string) string { return id }},
		{"a stored idempotent response", `SELECT scope, key, response FROM idempotency ORDER BY created_at DESC LIMIT 1`,
			func(scope, key string) string { return string(seal.ResponseAAD(scope, key)) }},
	}
	opened := 0
	for _, c := range checks {
		var id, extra string
		var sealed []byte
		err := db.reader.QueryRowContext(ctx, c.query).Scan(&id, &extra, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return opened, err
		}
		if _, err := db.seal.Open(sealed, []byte(c.aad(id, extra))); err != nil {
			return opened, fmt.Errorf("the store key does not open %s in %s: %w", c.what, db.path, ErrWrongKey)
		}
		opened++
	}
	return opened, nil
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Key is the store key the backed-up database was sealed with.
	Key []byte
	// Force replaces an existing database, which is kept beside it (see
	// RestoreResult.Replaced). It must not be open anywhere.
	Force bool
}

// RestoreResult describes a restore.
type RestoreResult struct {
	Database string `json:"database"`
	From     string `json:"from"`
	Bytes    int64  `json:"bytes"`
	// BackupSchemaVersion is the backup's schema; SchemaVersion the
	// restored database's, after any migration.
	BackupSchemaVersion int `json:"backup_schema_version"`
	SchemaVersion       int `json:"schema_version"`
	// SealedChecked is how many sealed values the key was checked on.
	SealedChecked int                  `json:"sealed_values_checked"`
	Ledger        *engine.LedgerReport `json:"ledger"`
	// Replaced is where the database that was at Database before has been
	// moved to; empty when there was none.
	Replaced string `json:"replaced,omitempty"`
}

// Restore brings a copy made by Backup (or any agentledger database file)
// back as the database at target. Everything is checked before target is
// touched: the backup is copied to a temporary file beside target, checked
// (PRAGMA quick_check, agentledger's schema), opened with opts.Key (which
// applies pending migrations), its ledger verified and the key tried on
// its sealed values; only a copy that passes every check is renamed into
// place. An existing target is refused (fs.ErrExist) unless opts.Force,
// and then only when no process has it open (ErrInUse); it is kept as
// target.replaced-TIMESTAMP. When the ledger has faults the result is
// returned with an error and nothing is restored.
func Restore(ctx context.Context, backup, target string, opts RestoreOptions) (*RestoreResult, error) {
	from, err := filepath.Abs(backup)
	if err != nil {
		return nil, err
	}
	dst, err := filepath.Abs(target)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(from)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("backup %s is not a regular file", from)
	}
	if from == dst || sameFile(from, dst) {
		return nil, fmt.Errorf("backup %s is the database to restore into", from)
	}
	if err := checkTarget(ctx, dst, opts.Force); err != nil {
		return nil, err
	}
	if err := checkHeader(from); err != nil {
		return nil, err
	}
	res := &RestoreResult{Database: dst, From: from}
	tmp, err := emptyTemp(dst)
	if err != nil {
		return nil, err
	}
	installed := false
	defer func() {
		if !installed {
			removeDatabaseFiles(tmp)
		}
	}()
	if err := copyFile(from, tmp); err != nil {
		return nil, err
	}
	if res.BackupSchemaVersion, err = checkCopy(ctx, tmp); err != nil {
		return nil, fmt.Errorf("backup %s: %w", from, err)
	}
	if err := checkRestored(ctx, tmp, opts.Key, res); err != nil {
		return res, err
	}
	if res.Bytes, err = syncFile(tmp); err != nil {
		return nil, err
	}
	if info, err := os.Stat(dst); err == nil {
		// Checked again just before: a server may have started meanwhile.
		if err := checkTarget(ctx, dst, true); err != nil {
			return nil, err
		}
		// The restored file belongs to whoever owned the one it replaces
		// (the service's user, when root runs the restore).
		if err := sameOwner(tmp, info); err != nil {
			return nil, err
		}
		if res.Replaced, err = moveAside(dst); err != nil {
			return nil, err
		}
		os.Remove(dst + "-shm")
	}
	if err := install(tmp, dst, false); err != nil {
		return nil, err
	}
	installed = true
	return res, syncDir(filepath.Dir(dst))
}

// moveAside renames the database at path to path.replaced-TIMESTAMP (with
// a counter when that exists already), never over another file.
func moveAside(path string) (string, error) {
	base := fmt.Sprintf("%s.replaced-%s", path, time.Now().UTC().Format("20060102T150405Z"))
	for i := 1; ; i++ {
		aside := base
		if i > 1 {
			aside = fmt.Sprintf("%s-%d", base, i)
		}
		err := install(path, aside, false)
		if err == nil {
			return aside, nil
		}
		if !errors.Is(err, fs.ErrExist) || i >= 100 {
			return "", err
		}
	}
}

// checkTarget refuses a restore target that exists (unless replace) or is
// open, and one with a write-ahead log that SQLite would apply to the
// restored file.
func checkTarget(ctx context.Context, dst string, replace bool) error {
	info, err := os.Stat(dst)
	switch {
	case err == nil && info.IsDir():
		return fmt.Errorf("%s is a directory", dst)
	case err == nil && !replace:
		return fmt.Errorf("a database already exists at %s: %w", dst, fs.ErrExist)
	case err == nil:
		if err := CheckNotInUse(ctx, dst); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if info, err := os.Stat(dst + "-wal"); err == nil && info.Size() > 0 {
		return fmt.Errorf("%s-wal exists without an open database to checkpoint it into: move it away first", dst)
	}
	return nil
}

// checkHeader refuses a file that is not an SQLite database at all, with a
// clearer message than SQLite's.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 16)
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return fmt.Errorf("backup %s is not an SQLite database", path)
	}
	return nil
}

// checkRestored opens the restored copy as agentledger would (migrating
// it), verifies its ledger and tries the key on it.
func checkRestored(ctx context.Context, path string, key []byte, res *RestoreResult) error {
	db, err := Open(path, Options{Key: key})
	if err != nil {
		return fmt.Errorf("backup %s: %w", res.From, err)
	}
	defer db.Close()
	if err := db.reader.QueryRowContext(ctx, "PRAGMA user_version").Scan(&res.SchemaVersion); err != nil {
		return err
	}
	if res.SealedChecked, err = db.CheckKey(ctx); errors.Is(err, ErrWrongKey) {
		return fmt.Errorf("backup %s: %w; restore with the key file (or AGENTLEDGER_KEY) that was in use when it was made", res.From, err)
	} else if err != nil {
		return err
	}
	if res.Ledger, err = db.VerifyLedger(ctx); err != nil {
		return err
	}
	if !res.Ledger.OK {
		return fmt.Errorf("backup %s: its ledger has %d fault(s); nothing was restored", res.From, len(res.Ledger.Faults))
	}
	if err := db.Close(); err != nil {
		return err
	}
	// The last connection to close checkpoints the log and removes it.
	if _, err := os.Stat(path + "-wal"); err == nil {
		return fmt.Errorf("restored copy %s kept a write-ahead log after closing", path)
	}
	os.Remove(path + "-shm")
	return nil
}

// copyFile copies src into the existing file dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
