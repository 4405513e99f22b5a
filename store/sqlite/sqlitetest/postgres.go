package sqlitetest

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// snapshotPostgres is Snapshot of a PostgreSQL database: every table of its
// schema, row by row in the order of the first column.
func (env *Env) snapshotPostgres() string {
	env.T.Helper()
	conn, err := pgx.Connect(env.Ctx, env.URL)
	require.NoError(env.T, err)
	defer conn.Close(env.Ctx)
	rows, err := conn.Query(env.Ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name COLLATE "C"`)
	require.NoError(env.T, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(env.T, err)
	var b strings.Builder
	for _, n := range names {
		if n == "agentledger_schema" {
			continue
		}
		rows, err := conn.Query(env.Ctx, `SELECT * FROM "`+n+`" ORDER BY 1`)
		require.NoError(env.T, err)
		fmt.Fprintf(&b, "== %s\n", n)
		for rows.Next() {
			vals, err := rows.Values()
			require.NoError(env.T, err)
			fmt.Fprintf(&b, "%v\n", vals)
		}
		require.NoError(env.T, rows.Err())
		rows.Close()
	}
	return b.String()
}
