package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var spendingT0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

// openSpendingDB is a store with a user, agents agt_a and agt_b, and cards
// card_a1, card_a2 (of agt_a) and card_b1, written with SQL so that these
// tests need only the spending methods.
func openSpendingDB(t *testing.T) *postgres.DB {
	t.Helper()
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url, postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO users (id, name, kyc_status, created_at, updated_at)
		VALUES ('usr_1', 'u', 'approved', 0, 0)`)
	require.NoError(t, err)
	for _, agent := range []string{"agt_a", "agt_b"} {
		_, err = conn.Exec(ctx, `INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at)
			VALUES ($1, $1, 'usr_1', 'live', '{}', 0, 0)`, agent)
		require.NoError(t, err)
	}
	for card, agent := range map[string]string{"card_a1": "agt_a", "card_a2": "agt_a", "card_b1": "agt_b"} {
		_, err = conn.Exec(ctx, `INSERT INTO cards (id, agent_id, type, status, last4, exp_month, exp_year, currency,
			limits, pan_fingerprint, secret, created_at, updated_at)
			VALUES ($1, $2, 'multi_use', 'active', '4242', 12, 2030, 'USD', '{}', $3, '\x00', 0, 0)`,
			card, agent, []byte(card))
		require.NoError(t, err)
	}
	return db
}

func spendingUpdate(t *testing.T, db *postgres.DB, fn func(engine.Tx) error) {
	t.Helper()
	require.NoError(t, db.Update(context.Background(), fn))
}

func spendingView(t *testing.T, db *postgres.DB, fn func(engine.Tx) error) {
	t.Helper()
	require.NoError(t, db.View(context.Background(), fn))
}

func spendingCode(err error) string {
	var e *engine.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return fmt.Sprint(err)
}

func spendingAuth(id, networkID, agentID, cardID, status string) *engine.Authorization {
	return &engine.Authorization{ID: id, NetworkID: networkID, AgentID: agentID, CardID: cardID, UserID: "usr_1",
		Status: status, Reason: "ok", Amount: 1000, Currency: "USD", NetworkAnswer: engine.NetworkApprove,
		Merchant: engine.Merchant{Name: "Shop", MCC: "5411"}, CreatedAt: spendingT0, UpdatedAt: spendingT0}
}

func spendingIntent(id, agentID, cardID, status string, expires time.Time) *engine.Intent {
	return &engine.Intent{ID: id, AgentID: agentID, CardID: cardID, Summary: "s", Amount: 500, Currency: "USD",
		Status: status, TTLSeconds: 60, ExpiresAt: expires, Attestation: engine.Attestation{AgentID: agentID},
		CreatedAt: spendingT0}
}

func spendingDecision(id, agentID, kind, approval string, expires *time.Time) *engine.Decision {
	return &engine.Decision{ID: id, AgentID: agentID, Kind: kind, ActionType: "purchase", Amount: 700, Currency: "USD",
		Status: engine.DecisionRequiresApproval, Reason: "r", RequiresHumanApproval: approval != "",
		ApprovalStatus: approval, ApprovalExpiresAt: expires, CreatedAt: spendingT0, UpdatedAt: spendingT0}
}

func spendingIDs[T any](list []*T, id func(*T) string) []string {
	out := []string{}
	for _, v := range list {
		out = append(out, id(v))
	}
	return out
}

// A repeated network id is a conflict the engine goes on after: nothing is
// written, and the transaction commits what came before and after.
func TestSpendingAuthorizationConflictKeepsTheTransaction(t *testing.T) {
	db := openSpendingDB(t)
	spendingUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertAuthorization(spendingAuth("auth_1", "net_1", "agt_a", "card_a1", engine.AuthApproved)))
		err := tx.InsertAuthorization(spendingAuth("auth_2", "net_1", "agt_b", "card_b1", engine.AuthDeclined))
		assert.Equal(t, engine.CodeConflict, spendingCode(err))
		return tx.InsertAuthorization(spendingAuth("auth_3", "net_3", "agt_a", "card_a1", engine.AuthApproved))
	})
	spendingView(t, db, func(tx engine.Tx) error {
		a, err := tx.FindAuthorizationByNetworkID("net_1")
		require.NoError(t, err)
		assert.Equal(t, "auth_1", a.ID)
		_, err = tx.FindAuthorization("auth_2")
		assert.Equal(t, engine.CodeNotFound, spendingCode(err))
		_, err = tx.FindAuthorization("auth_3")
		return err
	})
}

func TestSpendingRoundTrips(t *testing.T) {
	db := openSpendingDB(t)
	hold := spendingT0.Add(time.Hour)
	allowed := int64(300)
	revealed := spendingT0.Add(time.Minute)
	auth := spendingAuth("auth_1", "net_1", "agt_a", "card_a1", engine.AuthApproved)
	auth.Kind, auth.RiskScore, auth.RiskReview, auth.Paper = engine.KindCharge, 42, true, true
	auth.RiskSignals = []engine.RiskSignal{{Signal: "new_merchant", Points: 10, Detail: "first time"}}
	auth.Checks = []engine.Check{{Rule: "daily_limit", Result: engine.CheckPass, Message: "ok"}}
	auth.HoldID, auth.HoldExpiresAt, auth.Day, auth.Month = "tr_1", &hold, "2025-03-01", "2025-03"
	declined := spendingAuth("auth_2", "net_2", "", "", engine.AuthDeclined) // no card, agent or user
	declined.UserID, declined.Kind = "", engine.KindCharge
	intent := spendingIntent("int_1", "agt_a", "", engine.IntentPending, spendingT0.Add(time.Hour))
	decision := spendingDecision("dec_1", "agt_a", engine.KindPolicyCheck, engine.ApprovalPending, &hold)
	decision.AllowedAmount, decision.PolicyChecks, decision.DryRun = &allowed, auth.Checks, true
	fallback := &engine.Fallback{ID: "fb_1", Issuer: "lithic", NetworkID: "net_9", Answer: "approved", Reason: "budget",
		Amount: 100, Currency: "USD", CreatedAt: spendingT0}
	spendingUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertAuthorization(auth))
		require.NoError(t, tx.InsertAuthorization(declined))
		require.NoError(t, tx.InsertIntent(intent))
		require.NoError(t, tx.InsertDecision(decision))
		return tx.InsertFallback(fallback)
	})
	spendingView(t, db, func(tx engine.Tx) error {
		a, err := tx.FindAuthorization("auth_1")
		require.NoError(t, err)
		assert.Equal(t, auth, a)
		a, err = tx.FindAuthorization("auth_2")
		require.NoError(t, err)
		assert.Equal(t, declined, a)
		i, err := tx.FindIntent("int_1")
		require.NoError(t, err)
		assert.Equal(t, intent, i)
		d, err := tx.FindDecision("dec_1")
		require.NoError(t, err)
		assert.Equal(t, decision, d)
		f, err := tx.ListFallbacks(0)
		require.NoError(t, err)
		assert.Equal(t, []*engine.Fallback{fallback}, f)
		return nil
	})

	// Updates change what they save, and a missing row is not found.
	auth.Status, auth.SettledAmount, auth.UpdatedAt = engine.AuthSettled, 800, spendingT0.Add(time.Second)
	intent.CardID, intent.Status, intent.RevealedAt = "card_a2", engine.IntentRevealed, &revealed
	decision.ApprovalStatus, decision.DecidedBy, decision.DecidedAt = engine.ApprovalApproved, "ops", &revealed
	decision.Counted, decision.ApprovalExpiresAt, decision.AllowedAmount = 700, nil, nil
	spendingUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.UpdateAuthorization(auth))
		require.NoError(t, tx.UpdateIntent(intent))
		require.NoError(t, tx.UpdateDecision(decision))
		for _, err := range []error{
			tx.UpdateAuthorization(spendingAuth("auth_x", "n", "", "", "approved")),
			tx.UpdateIntent(spendingIntent("int_x", "agt_a", "", "pending", spendingT0)),
			tx.UpdateDecision(spendingDecision("dec_x", "agt_a", "policy_check", "", nil)),
		} {
			assert.Equal(t, engine.CodeNotFound, spendingCode(err))
		}
		return nil
	})
	decision.AllowedAmount = &allowed // not saved by an update
	spendingView(t, db, func(tx engine.Tx) error {
		a, err := tx.FindAuthorization("auth_1")
		require.NoError(t, err)
		assert.Equal(t, auth, a)
		i, err := tx.FindIntent("int_1")
		require.NoError(t, err)
		assert.Equal(t, intent, i)
		d, err := tx.FindDecision("dec_1")
		require.NoError(t, err)
		assert.Equal(t, decision, d)
		for _, err := range []error{
			spendingErr(tx.FindIntent("int_x")), spendingErr(tx.FindDecision("dec_x")),
			spendingErr(tx.FindAuthorization("auth_x")), spendingErr(tx.FindAuthorizationByNetworkID("net_x")),
		} {
			assert.Equal(t, engine.CodeNotFound, spendingCode(err))
		}
		// A read-only snapshot refuses every write.
		assert.Error(t, tx.InsertFallback(&engine.Fallback{ID: "fb_2", Issuer: "i", NetworkID: "n", Answer: "approved"}))
		assert.Error(t, tx.InsertIntent(spendingIntent("int_2", "agt_a", "", "pending", spendingT0)))
		assert.Error(t, tx.UpdateAuthorization(auth))
		assert.Error(t, tx.InsertDecision(spendingDecision("dec_2", "agt_a", "policy_check", "", nil)))
		return nil
	})
}

func spendingErr[T any](_ T, err error) error { return err }

func TestSpendingListAuthorizations(t *testing.T) {
	type af = engine.AuthorizationFilter
	db := openSpendingDB(t)
	at := func(m int) *time.Time { v := spendingT0.Add(time.Duration(m) * time.Minute); return &v }
	spendingUpdate(t, db, func(tx engine.Tx) error {
		for i, a := range []*engine.Authorization{
			spendingAuth("auth_01", "n01", "agt_a", "card_a1", engine.AuthApproved),
			spendingAuth("auth_02", "n02", "agt_a", "card_a2", engine.AuthDeclined),
			spendingAuth("auth_03", "n03", "agt_b", "card_b1", engine.AuthApproved),
			spendingAuth("auth_04", "n04", "agt_a", "card_a1", engine.AuthSettled),
			spendingAuth("auth_05", "n05", "agt_a", "card_a1", engine.AuthDeclined),
			spendingAuth("auth_06", "n06", "agt_a", "card_a1", engine.AuthApproved),
			spendingAuth("auth_07", "n07", "agt_a", "card_a2", engine.AuthApproved),
		} {
			switch a.Status {
			case engine.AuthDeclined:
				a.DeclineCode = map[string]string{"auth_02": "limit", "auth_05": "mcc"}[a.ID]
			case engine.AuthApproved:
				// Holds expiring out of id order, two at once.
				a.HoldExpiresAt = at([]int{0, 0, 30, 0, 0, 10, 30}[i])
			}
			if err := tx.InsertAuthorization(a); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		f    af
		want []string
	}{
		{"all", af{}, []string{"auth_07", "auth_06", "auth_05", "auth_04", "auth_03", "auth_02", "auth_01"}},
		{"all, after, limit", af{After: "auth_05", Limit: 2}, []string{"auth_04", "auth_03"}},
		{"statuses", af{Statuses: []string{"settled", "declined"}}, []string{"auth_05", "auth_04", "auth_02"}},
		{"agent", af{AgentID: "agt_a"}, []string{"auth_07", "auth_06", "auth_05", "auth_04", "auth_02", "auth_01"}},
		{"agent page", af{AgentID: "agt_a", Limit: 2}, []string{"auth_07", "auth_06"}},
		{"agent next page", af{AgentID: "agt_a", After: "auth_06", Limit: 3}, []string{"auth_05", "auth_04", "auth_02"}},
		{"agent, statuses, limit", af{AgentID: "agt_a", Statuses: []string{"approved", "declined"}, Limit: 3},
			[]string{"auth_07", "auth_06", "auth_05"}},
		{"card", af{CardID: "card_a2"}, []string{"auth_07", "auth_02"}},
		{"card of another agent", af{CardID: "card_a2", AgentID: "agt_b"}, []string{}},
		{"card, one status, limit", af{CardID: "card_a1", Statuses: []string{"approved"}, Limit: 1}, []string{"auth_06"}},
		{"decline code", af{Statuses: []string{"declined"}, DeclineCode: "limit"}, []string{"auth_02"}},
		{"agent decline code", af{AgentID: "agt_a", Statuses: []string{"declined"}, DeclineCode: "mcc"},
			[]string{"auth_05"}},
		{"decline code, any status", af{DeclineCode: "nope"}, []string{}},
		{"holds by expiry", af{Statuses: []string{"approved"}, HoldExpiresBefore: at(30)},
			[]string{"auth_01", "auth_06", "auth_03", "auth_07"}},
		{"holds before, limit", af{Statuses: []string{"approved"}, HoldExpiresBefore: at(10), Limit: 1},
			[]string{"auth_01"}},
		{"agent holds", af{AgentID: "agt_a", HoldExpiresBefore: at(29)}, []string{"auth_01", "auth_06"}},
		{"unknown status", af{Statuses: []string{"Approved"}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spendingView(t, db, func(tx engine.Tx) error {
				list, err := tx.ListAuthorizations(tc.f)
				require.NoError(t, err)
				assert.Equal(t, tc.want, spendingIDs(list, func(a *engine.Authorization) string { return a.ID }))
				return nil
			})
		})
	}
}

func TestSpendingListIntents(t *testing.T) {
	type inf = engine.IntentFilter
	db := openSpendingDB(t)
	at := func(m int) *time.Time { v := spendingT0.Add(time.Duration(m) * time.Minute); return &v }
	spendingUpdate(t, db, func(tx engine.Tx) error {
		for _, i := range []*engine.Intent{
			spendingIntent("int_01", "agt_a", "card_a1", engine.IntentRevealed, *at(20)),
			spendingIntent("int_02", "agt_a", "", engine.IntentPending, *at(10)),
			spendingIntent("int_03", "agt_b", "card_b1", engine.IntentPending, *at(5)),
			spendingIntent("int_04", "agt_a", "card_a1", engine.IntentMatched, *at(1)),
			spendingIntent("int_05", "agt_a", "card_a1", engine.IntentRevealed, *at(10)),
			spendingIntent("int_06", "agt_a", "card_a2", engine.IntentExpired, *at(2)),
		} {
			if err := tx.InsertIntent(i); err != nil {
				return err
			}
		}
		return nil
	})
	open := []string{engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed}
	for _, tc := range []struct {
		name string
		f    inf
		want []string
	}{
		{"all", inf{}, []string{"int_01", "int_02", "int_03", "int_04", "int_05", "int_06"}},
		{"all, after, limit", inf{After: "int_02", Limit: 2}, []string{"int_03", "int_04"}},
		{"agent", inf{AgentID: "agt_a"}, []string{"int_01", "int_02", "int_04", "int_05", "int_06"}},
		{"agent page", inf{AgentID: "agt_a", After: "int_01", Limit: 3}, []string{"int_02", "int_04", "int_05"}},
		{"agent closed", inf{AgentID: "agt_a", Statuses: []string{"matched", "expired"}, Limit: 5},
			[]string{"int_04", "int_06"}},
		{"agent open", inf{AgentID: "agt_a", Statuses: open}, []string{"int_01", "int_02", "int_05"}},
		{"card", inf{CardID: "card_a1", Limit: 2}, []string{"int_01", "int_04"}},
		{"card revealed", inf{AgentID: "agt_a", CardID: "card_a1", Statuses: []string{"revealed"}},
			[]string{"int_01", "int_05"}},
		{"card revealed, live", inf{AgentID: "agt_a", CardID: "card_a1", Statuses: []string{"revealed"},
			ExpiresAfter: at(10)}, []string{"int_01"}},
		{"open lapsed, by expiry", inf{Statuses: open, ExpiresBefore: at(10)}, []string{"int_03", "int_02", "int_05"}},
		{"open lapsed, limit", inf{Statuses: open, ExpiresBefore: at(20), Limit: 2}, []string{"int_03", "int_02"}},
		{"window", inf{ExpiresAfter: at(1), ExpiresBefore: at(10)},
			[]string{"int_06", "int_03", "int_02", "int_05"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spendingView(t, db, func(tx engine.Tx) error {
				list, err := tx.ListIntents(tc.f)
				require.NoError(t, err)
				assert.Equal(t, tc.want, spendingIDs(list, func(i *engine.Intent) string { return i.ID }))
				return nil
			})
		})
	}
}

func TestSpendingListDecisionsAndPendingApprovals(t *testing.T) {
	type df = engine.DecisionFilter
	db := openSpendingDB(t)
	at := func(m int) *time.Time { v := spendingT0.Add(time.Duration(m) * time.Minute); return &v }
	spendingUpdate(t, db, func(tx engine.Tx) error {
		for _, d := range []*engine.Decision{
			spendingDecision("dec_01", "agt_a", engine.KindPolicyCheck, "", nil),
			spendingDecision("dec_02", "agt_a", engine.KindIntentApproval, engine.ApprovalPending, at(30)),
			spendingDecision("dec_03", "agt_b", engine.KindPolicyCheck, engine.ApprovalPending, at(5)),
			spendingDecision("dec_04", "agt_a", engine.KindPolicyCheck, engine.ApprovalDenied, at(1)),
			spendingDecision("dec_05", "agt_a", engine.KindPolicyCheck, engine.ApprovalApproved, at(40)),
			spendingDecision("dec_06", "agt_a", engine.KindPolicyCheck, engine.ApprovalExpired, at(2)),
			spendingDecision("dec_07", "agt_a", engine.KindPolicyCheck, engine.ApprovalPending, nil),
			spendingDecision("dec_08", "agt_b", engine.KindPolicyCheck, engine.ApprovalExecuted, at(3)),
		} {
			if err := tx.InsertDecision(d); err != nil {
				return err
			}
		}
		return nil
	})
	live := []string{engine.ApprovalPending, engine.ApprovalApproved}
	for _, tc := range []struct {
		name string
		f    df
		want []string
	}{
		{"all", df{Limit: 3}, []string{"dec_01", "dec_02", "dec_03"}},
		{"agent, after", df{AgentID: "agt_a", After: "dec_04"}, []string{"dec_05", "dec_06", "dec_07"}},
		{"kind", df{Kind: engine.KindIntentApproval}, []string{"dec_02"}},
		{"live", df{ApprovalStatuses: live}, []string{"dec_02", "dec_03", "dec_05", "dec_07"}},
		{"live newest", df{ApprovalStatuses: live, Newest: true, Limit: 3}, []string{"dec_07", "dec_05", "dec_03"}},
		{"live newest, after", df{ApprovalStatuses: live, Newest: true, After: "dec_03"}, []string{"dec_02"}},
		{"history", df{ApprovalStatuses: []string{"denied", "expired", "executed"}, Limit: 2},
			[]string{"dec_04", "dec_06"}},
		{"history, after", df{ApprovalStatuses: []string{"denied", "expired", "executed"}, After: "dec_04", Limit: 5},
			[]string{"dec_06", "dec_08"}},
		{"agent history", df{AgentID: "agt_a", ApprovalStatuses: []string{"denied", "executed", "pending"}},
			[]string{"dec_02", "dec_04", "dec_07"}},
		{"lapsed, by expiry", df{ApprovalStatuses: []string{"pending"}, ApprovalExpiresBefore: at(30)},
			[]string{"dec_03", "dec_02"}},
		{"unexpired approved", df{Kind: engine.KindPolicyCheck, ApprovalStatuses: []string{"approved"},
			ApprovalExpiresAfter: at(39)}, []string{"dec_05"}},
		{"expiry window", df{ApprovalExpiresAfter: at(1), ApprovalExpiresBefore: at(30), Limit: 3},
			[]string{"dec_06", "dec_08", "dec_03"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spendingView(t, db, func(tx engine.Tx) error {
				list, err := tx.ListDecisions(tc.f)
				require.NoError(t, err)
				assert.Equal(t, tc.want, spendingIDs(list, func(d *engine.Decision) string { return d.ID }))
				return nil
			})
		})
	}
	spendingView(t, db, func(tx engine.Tx) error {
		for now, want := range map[int]int64{0: 3, 5: 2, 30: 1} {
			n, err := tx.CountPendingApprovals(*at(now))
			require.NoError(t, err)
			assert.Equal(t, want, n, "at +%dm", now) // dec_07 never lapses
		}
		return nil
	})
}

func TestSpendingListFallbacksNewestFirst(t *testing.T) {
	db := openSpendingDB(t)
	spendingUpdate(t, db, func(tx engine.Tx) error {
		for _, id := range []string{"fb_2", "fb_1", "fb_3"} {
			if err := tx.InsertFallback(&engine.Fallback{ID: id, Issuer: "i", NetworkID: "n", Answer: "declined",
				Reason: "db", Amount: 1, Currency: "USD", CreatedAt: spendingT0}); err != nil {
				return err
			}
		}
		return nil
	})
	spendingView(t, db, func(tx engine.Tx) error {
		for limit, want := range map[int][]string{0: {"fb_3", "fb_2", "fb_1"}, 2: {"fb_3", "fb_2"}} {
			list, err := tx.ListFallbacks(limit)
			require.NoError(t, err)
			assert.Equal(t, want, spendingIDs(list, func(f *engine.Fallback) string { return f.ID }))
		}
		return nil
	})
}
