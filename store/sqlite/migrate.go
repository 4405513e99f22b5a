package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/agentledger/agentledger/store/storekit"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

func loadMigrations() ([]storekit.Migration, error) { return storekit.LoadMigrations(migrationFS) }

// migrate brings the schema up to date. The version lives in PRAGMA
// user_version; each step runs in its own BEGIN IMMEDIATE transaction that
// re-reads the version first, so two processes opening a new file at once
// apply each step exactly once.
func migrate(ctx context.Context, conn *sql.Conn) error {
	migrations, err := loadMigrations()
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if err := applyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this agentledger (%d): upgrade agentledger", version, len(migrations))
	}
	return nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, m storekit.Migration) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return mapError(err)
	}
	defer func() {
		if err != nil {
			conn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	var version int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version >= m.Version {
		_, err = conn.ExecContext(ctx, "COMMIT")
		return err
	}
	if _, err := conn.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version)); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}
