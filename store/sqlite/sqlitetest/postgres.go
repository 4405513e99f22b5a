package sqlitetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// snapshotPostgres is Snapshot of a PostgreSQL database: every table of its
// schema, row by row in the order of the row's text (rows whose first
// column ties stay in one order), bytes as text so that a secret in a BYTEA
// column shows as it would in a SQLite file.
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
		rows, err := conn.Query(env.Ctx, `SELECT * FROM "`+n+`" AS t ORDER BY t::text COLLATE "C"`)
		require.NoError(env.T, err)
		fmt.Fprintf(&b, "== %s\n", n)
		for rows.Next() {
			vals, err := rows.Values()
			require.NoError(env.T, err)
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
			}
			fmt.Fprintf(&b, "%v\n", vals)
		}
		require.NoError(env.T, rows.Err())
		rows.Close()
	}
	return b.String()
}

// BlockWrites takes the database's write lock from a connection of its
// own, as a long write transaction of another process (another server)
// would, until the returned func is called: SQLite's BEGIN IMMEDIATE, or
// PostgreSQL's writer lock.
func (env *Env) BlockWrites() (release func()) {
	env.T.Helper()
	if env.URL == "" {
		raw, err := sql.Open("sqlite", "file:"+env.Path)
		require.NoError(env.T, err)
		conn, err := raw.Conn(context.Background())
		require.NoError(env.T, err)
		_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
		require.NoError(env.T, err)
		release = sync.OnceFunc(func() {
			conn.ExecContext(context.Background(), "ROLLBACK")
			conn.Close()
			raw.Close()
		})
		env.T.Cleanup(release)
		return release
	}
	conn, err := pgx.Connect(context.Background(), env.URL)
	require.NoError(env.T, err)
	held, err := conn.Begin(context.Background())
	require.NoError(env.T, err)
	_, err = held.Exec(context.Background(), `SELECT pg_advisory_xact_lock(hashtextextended('agentledger writer ' || current_schema(), 0))`)
	require.NoError(env.T, err)
	release = sync.OnceFunc(func() {
		held.Rollback(context.Background())
		conn.Close(context.Background())
	})
	env.T.Cleanup(release)
	return release
}
