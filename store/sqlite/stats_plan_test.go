package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A scrape's reads use an index of the rows in play, reading no table and
// sorting nothing, so that they cost the same however long the history.
func TestStatsQueriesUseAnIndex(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	cases := []struct {
		name, index string
		read        func(tx engine.Tx) error
	}{
		{"pending approvals", "COVERING INDEX decisions_approvals", func(tx engine.Tx) error {
			_, err := tx.CountPendingApprovals(time.Now())
			return err
		}},
		{"pending deliveries", "COVERING INDEX deliveries_status", func(tx engine.Tx) error {
			_, _, err := tx.PendingDeliveries()
			return err
		}},
		{"issuer queue", "issuer_sync", func(tx engine.Tx) error {
			_, err := tx.CountIssuerSync()
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := map[string]bool{}
			for q := range db.stmts {
				seen[q] = true
			}
			require.NoError(t, db.Update(ctx, func(tx engine.Tx) error { return c.read(tx) }))
			var queries []string
			for q := range db.stmts {
				if !seen[q] {
					queries = append(queries, q)
				}
			}
			require.Len(t, queries, 1)
			args := make([]any, strings.Count(queries[0], "?"))
			for i := range args {
				args[i] = 0
			}
			rows, err := db.conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+queries[0], args...)
			require.NoError(t, err)
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Close())
			all := strings.Join(plan, "\n")
			assert.Contains(t, all, c.index)
			assert.NotContains(t, all, "TEMP B-TREE")
			for _, step := range plan {
				if strings.HasPrefix(step, "SCAN ") { // only the small issuer queue is read whole
					assert.Contains(t, step, "issuer_sync", all)
				}
			}
		})
	}
}
