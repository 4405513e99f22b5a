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

// A page of a list reads an index in the list's order from the cursor on,
// so its cost does not grow with the history behind it: no table scan, and
// no sort but of the few objects still in play (open intents, pending or
// approved decisions), found by their partial indexes.
func TestPageQueriesUseAnIndex(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	const agt, card = "agt_01900000-0000-7000-8000-000000000000", "card_01900000-0000-7000-8000-000000000000"
	now := time.Now()
	// The writer is told the card has a revealed intent, so that listing
	// them runs the query (it knows when a card has none).
	revealedIntent := func(engine.Tx) { set(&db.cache.hot, &db.cache.hot.noRevealed, card, false) }
	cases := []struct {
		name  string
		sorts bool // sorts a few rows in play
		list  func(tx engine.Tx) error
	}{
		{"authorizations of an agent", false, func(tx engine.Tx) error {
			_, err := tx.ListAuthorizations(engine.AuthorizationFilter{AgentID: agt, After: "txn_x", Limit: 11})
			return err
		}},
		{"authorizations of a card", false, func(tx engine.Tx) error {
			_, err := tx.ListAuthorizations(engine.AuthorizationFilter{AgentID: agt, CardID: card, Statuses: []string{engine.AuthSettled}, After: "txn_x", Limit: 11})
			return err
		}},
		{"every authorization", false, func(tx engine.Tx) error {
			_, err := tx.ListAuthorizations(engine.AuthorizationFilter{After: "txn_x", Limit: 11})
			return err
		}},
		{"intents of an agent", false, func(tx engine.Tx) error {
			_, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, After: "int_x", Limit: 11})
			return err
		}},
		{"intents of a card", false, func(tx engine.Tx) error {
			_, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, CardID: card, Statuses: []string{engine.IntentMatched}, After: "int_x", Limit: 11})
			return err
		}},
		{"open intents", true, func(tx engine.Tx) error {
			_, err := tx.ListIntents(engine.IntentFilter{Statuses: []string{engine.IntentPending}, After: "int_x", Limit: 11})
			return err
		}},
		{"open intents of a card", true, func(tx engine.Tx) error {
			revealedIntent(tx)
			_, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, CardID: card, Statuses: []string{engine.IntentRevealed}, Limit: 8})
			return err
		}},
		{"live intents of a card (authorize)", false, func(tx engine.Tx) error {
			revealedIntent(tx)
			_, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, CardID: card, Statuses: []string{engine.IntentRevealed}, ExpiresAfter: &now, Limit: 8})
			return err
		}},
		{"pending approvals", true, func(tx engine.Tx) error {
			_, err := tx.ListDecisions(engine.DecisionFilter{ApprovalStatuses: []string{engine.ApprovalPending}, After: "dec_x", Limit: 11})
			return err
		}},
		{"pending approvals of an agent", true, func(tx engine.Tx) error {
			_, err := tx.ListDecisions(engine.DecisionFilter{AgentID: agt, ApprovalStatuses: []string{engine.ApprovalPending}, After: "dec_x", Limit: 11})
			return err
		}},
		{"every approval", false, func(tx engine.Tx) error {
			_, err := tx.ListDecisions(engine.DecisionFilter{ApprovalStatuses: []string{engine.ApprovalPending, engine.ApprovalApproved,
				engine.ApprovalDenied, engine.ApprovalExpired, engine.ApprovalExecuted}, After: "dec_x", Limit: 11})
			return err
		}},
		{"every approval of an agent", false, func(tx engine.Tx) error {
			_, err := tx.ListDecisions(engine.DecisionFilter{AgentID: agt, ApprovalStatuses: []string{engine.ApprovalExpired, engine.ApprovalPending,
				engine.ApprovalApproved}, After: "dec_x", Limit: 11})
			return err
		}},
		{"reversed authorizations of an agent", false, func(tx engine.Tx) error {
			_, err := tx.ListAuthorizations(engine.AuthorizationFilter{AgentID: agt, Statuses: []string{engine.AuthReversed}, After: "txn_x", Limit: 11})
			return err
		}},
		{"authorizations of a card alone", false, func(tx engine.Tx) error {
			_, err := tx.ListAuthorizations(engine.AuthorizationFilter{CardID: card, After: "txn_x", Limit: 11})
			return err
		}},
		{"denied intents of an agent", false, func(tx engine.Tx) error {
			_, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, Statuses: []string{engine.IntentDenied}, After: "int_x", Limit: 11})
			return err
		}},
		{"expired intents of a card", false, func(tx engine.Tx) error {
			_, err := tx.ListIntents(engine.IntentFilter{AgentID: agt, CardID: card, Statuses: []string{engine.IntentExpired, engine.IntentAwaitingApproval,
				engine.IntentPending, engine.IntentRevealed}, After: "int_x", Limit: 11})
			return err
		}},
		{"denied approvals", false, func(tx engine.Tx) error {
			_, err := tx.ListDecisions(engine.DecisionFilter{ApprovalStatuses: []string{engine.ApprovalDenied}, After: "dec_x", Limit: 11})
			return err
		}},
		{"cards of an agent", false, func(tx engine.Tx) error {
			_, err := tx.ListCards(engine.CardFilter{AgentID: agt, After: "card_x", Limit: 11})
			return err
		}},
		{"agents of a user", false, func(tx engine.Tx) error {
			_, err := tx.ListAgents(engine.AgentFilter{UserID: "usr_x", After: "agt_x", Limit: 11})
			return err
		}},
		{"failed deliveries", false, func(tx engine.Tx) error {
			_, err := tx.ListDeliveries(engine.DeliveryFilter{Status: engine.DeliveryFailed, After: "evt_x:whk_x", Limit: 11})
			return err
		}},
		{"failed deliveries of an endpoint", false, func(tx engine.Tx) error {
			_, err := tx.ListDeliveries(engine.DeliveryFilter{EndpointID: "whk_x", Status: engine.DeliveryFailed, After: "evt_x:whk_x", Limit: 11})
			return err
		}},
		{"every delivery", false, func(tx engine.Tx) error {
			_, err := tx.ListDeliveries(engine.DeliveryFilter{After: "evt_x:whk_x", Limit: 11})
			return err
		}},
		{"deliveries of an event", false, func(tx engine.Tx) error {
			_, err := tx.ListDeliveries(engine.DeliveryFilter{EventID: "evt_x", Limit: 11})
			return err
		}},
		{"events", false, func(tx engine.Tx) error {
			_, err := tx.ListEvents(engine.EventFilter{After: "evt_x", Limit: 11})
			return err
		}},
		{"events of a type", false, func(tx engine.Tx) error {
			_, err := tx.ListEvents(engine.EventFilter{Type: engine.EventApprovalDecided, After: "evt_x", Limit: 11})
			return err
		}},
		{"declines of an agent by code", false, func(tx engine.Tx) error {
			_, err := tx.ListAuthorizations(engine.AuthorizationFilter{AgentID: agt, Statuses: []string{engine.AuthDeclined},
				DeclineCode: engine.CodeDailyLimitExceeded, After: "txn_x", Limit: 11})
			return err
		}},
		{"declines of a card by code", false, func(tx engine.Tx) error {
			_, err := tx.ListAuthorizations(engine.AuthorizationFilter{CardID: card, Statuses: []string{engine.AuthDeclined},
				DeclineCode: engine.CodeDailyLimitExceeded, After: "txn_x", Limit: 11})
			return err
		}},
		{"transfers of an authorization", false, func(tx engine.Tx) error {
			_, err := tx.ListTransfers(engine.TransferFilter{Reference: "txn_x", Limit: 100})
			return err
		}},
		{"deliveries of an endpoint", false, func(tx engine.Tx) error {
			_, err := tx.ListDeliveries(engine.DeliveryFilter{EndpointID: "whk_x", After: "evt_x:whk_x", Limit: 11})
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seen := map[string]bool{}
			for q := range db.stmts {
				seen[q] = true
			}
			require.NoError(t, db.Update(ctx, func(tx engine.Tx) error { return c.list(tx) }))
			var queries []string
			for q := range db.stmts {
				if !seen[q] && strings.Contains(q, "ORDER BY") {
					queries = append(queries, q)
				}
			}
			require.NotEmpty(t, queries)
			for _, query := range queries { // the page, and the placing of its cursor
				args := make([]any, strings.Count(query, "?"))
				for i := range args {
					args[i] = "x"
				}
				rows, err := db.conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
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
				merged := []string{} // the plan less its merges of reads cut at the limit
				for i, step := range plan {
					switch {
					case strings.HasPrefix(step, "SCAN (subquery-"): // a read of one status, merged
					case strings.Contains(step, "TEMP B-TREE") && i > 0 && strings.HasPrefix(plan[i-1], "SCAN (subquery-"):
						// sorts at most limit rows, read in order, for the merge
					case strings.HasPrefix(step, "SCAN"): // only a partial index of the rows in play may be read whole
						assert.Contains(t, step, "intents_open", query)
					default:
						merged = append(merged, step)
					}
				}
				if c.sorts {
					assert.Contains(t, all, "TEMP B-TREE FOR ORDER BY", "the rows in play are found by status")
				} else {
					assert.NotContains(t, strings.Join(merged, "\n"), "TEMP B-TREE", query+"\n"+all)
				}
			}
		})
	}
}
