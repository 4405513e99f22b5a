package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/agentledger/agentledger/store/storekit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

func loadMigrations() ([]storekit.Migration, error) { return storekit.LoadMigrations(migrationFS) }

// SchemaVersion is the schema version this binary migrates to.
func SchemaVersion() int {
	m, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(m)
}

// migrate brings the schema up to date. The version lives in the table
// agentledger_schema; the steps run on one connection holding a
// session-level advisory lock, each in a transaction of its own that
// re-reads the version first, so servers starting at once apply each step
// exactly once, and a server finding a newer schema than it knows refuses
// to run on it.
func (db *DB) migrate(ctx context.Context) error {
	migrations, err := loadMigrations()
	if err != nil {
		return err
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", db.migrationLock); err != nil {
		return fmt.Errorf("postgres: taking the migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", db.migrationLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS agentledger_schema (
		version BIGINT NOT NULL, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for _, m := range migrations {
		err := pgx.BeginFunc(ctx, conn, func(t pgx.Tx) error {
			var current int
			if err := t.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM agentledger_schema").Scan(&current); err != nil {
				return err
			}
			if current > len(migrations) {
				return fmt.Errorf("the database is at schema version %d, newer than this binary's %d: run a newer agentledger",
					current, len(migrations))
			}
			if current >= m.Version {
				return nil
			}
			// The writer lock too, for a step that runs: one that moves
			// data must not race with servers still writing.
			if _, err := t.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", db.writerLock); err != nil {
				return err
			}
			if _, err := t.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %s: %w", m.Name, err)
			}
			_, err := t.Exec(ctx, "INSERT INTO agentledger_schema (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	return nil
}

// Initialized reports whether the database at url holds an agentledger
// schema (in the first schema of its search_path), without creating or
// changing anything: commands other than init refuse a database that does
// not, as they refuse a SQLite file that does not exist.
func Initialized(ctx context.Context, url string) (bool, error) {
	cfg, err := pgxpool.ParseConfig(url) // as Open reads it: pool_* parameters are not the server's
	if err != nil {
		return false, fmt.Errorf("postgres: the database URL is not valid: %s", redact(err))
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return false, fmt.Errorf("postgres: %s", redact(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrated(ctx, conn)
}

// migrated reports whether the schema the migrations use holds agentledger's
// tables: there, not anywhere on the path (current_schema() is the first
// schema of the path that exists, which unqualified names then find first).
func migrated(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (bool, error) {
	var exists bool
	err := q.QueryRow(ctx, `SELECT to_regclass(quote_ident(current_schema()) || '.agentledger_schema') IS NOT NULL`).
		Scan(&exists)
	if err != nil || !exists {
		return false, err
	}
	var version int
	err = q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM agentledger_schema`).Scan(&version)
	return version > 0, err
}
