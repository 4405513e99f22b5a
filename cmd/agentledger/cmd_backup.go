package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/spf13/cobra"
)

// backupResult is what 'backup --json' prints.
type backupResult struct {
	*sqlite.BackupResult
	Database string `json:"database"`
	// KeyIncluded is always false: the store key is never in a backup.
	KeyIncluded bool `json:"key_included"`
	// KeyFile is the key file to keep a copy of; KeyEnv names the variable
	// the key came from instead.
	KeyFile string `json:"key_file,omitempty"`
	KeyEnv  string `json:"key_env,omitempty"`
}

// errPostgresBackup answers backup and restore on PostgreSQL, whose own
// tools do it.
var errPostgresBackup = errors.New("backup and restore are for a SQLite database: back a PostgreSQL database up with " +
	"pg_dump (pg_dump --format=custom), or the server's base backups, and bring it back with pg_restore; keep the store " +
	"key apart from the dump, as with a SQLite backup")

func (a *app) backupCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the database to FILE while servers keep running",
		Long: `Write a consistent copy of the database to FILE, online: servers and other
commands keep deciding and writing meanwhile. The copy is one SQLite snapshot
(VACUUM INTO): every write acknowledged before the snapshot time it prints is
in it, and none committed after the copy is. It is a single compact file with
mode 0600, written beside FILE, checked, flushed to disk and only then renamed
to FILE. An existing FILE is refused unless --force.

The store key is NOT in the backup, on purpose: the key is what keeps the
card numbers, CVVs and webhook secrets in it sealed, so it must not travel
with it. Keep a copy of the key file (or $AGENTLEDGER_KEY) somewhere else —
it never changes, so one copy serves every backup. Without it a backup's
sealed secrets cannot be read.

Bring a backup back with 'agentledger restore'.`,
		Example: `  agentledger backup /backups/agentledger-$(date -u +%Y%m%dT%H%M%SZ).db`,
		Args:    cobra.ExactArgs(1),
		RunE: a.withEngine(func(cmd *cobra.Command, args []string) error {
			db, ok := a.db.(*sqlite.DB)
			if !ok {
				return errPostgresBackup
			}
			res, err := db.Backup(a.ctx, args[0], sqlite.BackupOptions{Force: force})
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s already exists: pass --force to replace it, or choose another name", args[0])
			} else if err != nil {
				return err
			}
			out := backupResult{BackupResult: res, Database: db.Path()}
			if a.getenv("AGENTLEDGER_KEY") != "" {
				out.KeyEnv = "AGENTLEDGER_KEY"
			} else {
				out.KeyFile = absPath(a.keyPath())
			}
			return a.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "Backed up %s to %s (%s, schema version %d) in %s.\n", out.Database, res.Path, byteSize(res.Bytes),
					res.SchemaVersion, res.Took.Round(time.Millisecond))
				fmt.Fprintf(w, "Snapshot at %s: every write acknowledged before then is in it.\n", res.SnapshotAt.Format(time.RFC3339Nano))
				fmt.Fprintln(w, "\nThe store key is NOT in the backup: without it the backup's card numbers and secrets cannot be read.")
				if out.KeyEnv != "" {
					fmt.Fprintf(w, "Keep a copy of $%s's value somewhere other than beside the backup (it never changes).\n", out.KeyEnv)
				} else {
					fmt.Fprintf(w, "Keep a copy of the key file %s somewhere other than beside the backup (it never changes).\n", out.KeyFile)
				}
				fmt.Fprintf(w, "\nRestore with: agentledger --db PATH restore %s (stop the servers on PATH first)\n", res.Path)
			})
		}),
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	return cmd
}

func (a *app) restoreCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "restore BACKUP",
		Short: "Bring a backup back as the database (--db), checking it first",
		Long: `Restore BACKUP (made by 'agentledger backup') as the database named by --db
($AGENTLEDGER_DB). Stop every server and command using that database first.

Nothing is replaced before the backup passes every check: it is copied beside
the database, checked (SQLite's quick_check and agentledger's schema), opened
with the store key — which applies any migration this agentledger has that
the backup's does not — the key is tried on its sealed card secrets, and the
ledger is verified as 'ledger verify' does. A backup that fails a check is
not restored.

The store key must be the one the backup was sealed with: the key file
beside --db (or --key-file, or $AGENTLEDGER_KEY). Restoring to a new place,
copy your backed-up key file there first, with mode 0600.

An existing database is refused unless --force, and even then while any
process has it open; replaced, it is kept beside as DB.replaced-TIMESTAMP.`,
		Example: `  agentledger --db /var/lib/agentledger/agentledger.db restore /backups/agentledger-20260311T120000Z.db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.onPostgres() {
				return errPostgresBackup
			}
			if _, err := os.Stat(a.dbPath); err == nil && !force {
				return fmt.Errorf("a database already exists at %s: restore to another --db, or stop every server using it and pass --force "+
					"(it is kept as %s.replaced-TIMESTAMP)", a.dbPath, a.dbPath)
			}
			key, err := a.restoreKey()
			if err != nil {
				return err
			}
			res, err := sqlite.Restore(a.ctx, args[0], a.dbPath, sqlite.RestoreOptions{Key: key, Force: force})
			switch {
			case errors.Is(err, sqlite.ErrInUse):
				return fmt.Errorf("%s is open in another process (a running 'agentledger serve'?): stop every server and command using it, then restore again", a.dbPath)
			case err != nil && res != nil && res.Ledger != nil && !res.Ledger.OK:
				for _, f := range res.Ledger.Faults {
					fmt.Fprintf(a.err, "  - %s\n", oneLine(f))
				}
				return err
			case err != nil:
				return err
			}
			return a.emit(res, func(w io.Writer) {
				fmt.Fprintf(w, "Restored %s into %s (%s).\n", res.From, res.Database, byteSize(res.Bytes))
				if res.SchemaVersion != res.BackupSchemaVersion {
					fmt.Fprintf(w, "Schema: migrated from version %d to %d.\n", res.BackupSchemaVersion, res.SchemaVersion)
				} else {
					fmt.Fprintf(w, "Schema: version %d, current.\n", res.SchemaVersion)
				}
				if res.SealedChecked > 0 {
					fmt.Fprintf(w, "Key: opens the backup's sealed secrets (%d checked).\n", res.SealedChecked)
				} else {
					fmt.Fprintln(w, "Key: not checked — the backup has no sealed secret yet (no card, webhook or stored response).")
				}
				fmt.Fprintf(w, "Ledger OK: %d transfers, accounts and authorizations checked.\n", res.Ledger.Checked)
				if res.Replaced != "" {
					fmt.Fprintf(w, "The database it replaced is kept at %s (delete it once you no longer need it).\n", res.Replaced)
				}
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing database (it must not be open anywhere; it is kept aside)")
	return cmd
}

// restoreKey is loadKey with advice for a restore: the key is the backed-up
// one, never a new one.
func (a *app) restoreKey() ([]byte, error) {
	if a.getenv("AGENTLEDGER_KEY") == "" {
		if _, err := os.Stat(a.keyPath()); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no key file at %s (and AGENTLEDGER_KEY is not set): a backup opens only with the store key it was sealed with; "+
				"copy your backed-up key file to %s (chmod 600), or pass --key-file or set AGENTLEDGER_KEY", a.keyPath(), a.keyPath())
		}
	}
	return a.loadKey()
}

// byteSize renders a size for people: 1.4 MB.
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
