package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openObjectsDB(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

var objectsT0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

func objectsUser(id, name string) *engine.User {
	return &engine.User{ID: id, Name: name, KYCStatus: "pending", CreatedAt: objectsT0, UpdatedAt: objectsT0}
}

func objectsAgent(id, name, userID string) *engine.Agent {
	limit := int64(5000)
	limits := engine.SpendLimits{DailyLimit: &limit, AllowedMCCs: []string{"5411"}}
	policy := engine.Policy{Currency: "USD", SpendLimits: limits}
	return &engine.Agent{ID: id, Name: name, UserID: userID, Mode: engine.ModeLive, Policy: policy,
		CreatedAt: objectsT0, UpdatedAt: objectsT0}
}

func objectsCard(id, agentID, issuer string) *engine.Card {
	return &engine.Card{ID: id, AgentID: agentID, Type: engine.CardMultiUse, Status: engine.CardActive, Last4: "4242",
		ExpMonth: 12, ExpYear: 2030, Currency: "USD", Issuer: issuer, IssuerCardID: "ext_" + id,
		CreatedAt: objectsT0, UpdatedAt: objectsT0}
}

func objectsUpdate(t *testing.T, db *postgres.DB, fn func(engine.Tx) error) {
	t.Helper()
	require.NoError(t, db.Update(context.Background(), fn))
}

func objectsView(t *testing.T, db *postgres.DB, fn func(engine.Tx) error) {
	t.Helper()
	require.NoError(t, db.View(context.Background(), fn))
}

// A taken name, PAN or hash is a conflict the engine goes on after: the
// transaction must stay usable and commit what came before and after.
func TestObjectsConflictsDoNotAbortTheTransaction(t *testing.T) {
	db := openObjectsDB(t)
	objectsUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertUser(objectsUser("usr_1", "alice")))
		assert.Equal(t, engine.CodeConflict, engine.ErrorCode(tx.InsertUser(objectsUser("usr_2", "alice"))))
		assert.Equal(t, engine.CodeConflict, engine.ErrorCode(tx.InsertUser(objectsUser("usr_1", "bob"))))
		require.NoError(t, tx.InsertUser(objectsUser("usr_2", "bob")))

		require.NoError(t, tx.InsertAgent(objectsAgent("agt_1", "bot", "usr_1")))
		assert.Equal(t, engine.CodeConflict, engine.ErrorCode(tx.InsertAgent(objectsAgent("agt_2", "bot", "usr_2"))))
		require.NoError(t, tx.InsertAgent(objectsAgent("agt_2", "bot2", "usr_2")))

		require.NoError(t, tx.InsertCard(objectsCard("card_1", "agt_1", ""), engine.CardSecret{PAN: "4000001", CVV: "123"}))
		err := tx.InsertCard(objectsCard("card_2", "agt_1", ""), engine.CardSecret{PAN: "4000001", CVV: "999"})
		assert.Equal(t, engine.CodeConflict, engine.ErrorCode(err))
		require.NoError(t, tx.InsertCard(objectsCard("card_2", "agt_1", ""), engine.CardSecret{PAN: "4000002", CVV: "999"}))

		key := &engine.APIKey{ID: "key_1", Role: "admin", Prefix: "al_1", Hash: []byte("h1"), CreatedAt: objectsT0}
		require.NoError(t, tx.InsertKey(key))
		dup := &engine.APIKey{ID: "key_2", Role: "admin", Prefix: "al_2", Hash: []byte("h1"), CreatedAt: objectsT0}
		assert.Equal(t, engine.CodeConflict, engine.ErrorCode(tx.InsertKey(dup)))
		dup.Hash = []byte("h2")
		return tx.InsertKey(dup)
	})
	objectsView(t, db, func(tx engine.Tx) error {
		users, err := tx.ListUsers(engine.UserFilter{})
		require.NoError(t, err)
		require.Len(t, users, 2)
		assert.Equal(t, "bob", users[1].Name)
		c, err := tx.FindCardByPAN("4000002")
		require.NoError(t, err)
		assert.Equal(t, "card_2", c.ID)
		secret, err := tx.CardSecret("card_2")
		require.NoError(t, err)
		assert.Equal(t, engine.CardSecret{PAN: "4000002", CVV: "999"}, secret)
		keys, err := tx.ListKeys(engine.KeyFilter{})
		require.NoError(t, err)
		assert.Len(t, keys, 2)
		return nil
	})
}

func TestObjectsRoundTripAndNotFound(t *testing.T) {
	db := openObjectsDB(t)
	frozen := objectsT0.Add(time.Hour)
	objectsUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertUser(objectsUser("usr_1", "alice")))
		require.NoError(t, tx.InsertAgent(objectsAgent("agt_1", "bot", "usr_1")))
		require.NoError(t, tx.InsertCard(objectsCard("card_1", "agt_1", "lithic"), engine.CardSecret{}))
		c, err := tx.FindCard("card_1")
		require.NoError(t, err)
		c.Status, c.FrozenBy, c.FrozenAt = engine.CardFrozen, "operator", &frozen
		require.NoError(t, tx.UpdateCard(c))
		agentKey := &engine.APIKey{ID: "key_a", Role: "agent", AgentID: "agt_1", Prefix: "al_a", Hash: []byte("ha"),
			CreatedAt: objectsT0}
		return tx.InsertKey(agentKey)
	})
	objectsView(t, db, func(tx engine.Tx) error {
		u, err := tx.FindUser("alice")
		require.NoError(t, err)
		assert.Equal(t, objectsUser("usr_1", "alice"), u)
		a, err := tx.FindAgent("bot")
		require.NoError(t, err)
		assert.Equal(t, objectsAgent("agt_1", "bot", "usr_1"), a)
		c, err := tx.FindCard("card_1")
		require.NoError(t, err)
		assert.Equal(t, frozen, *c.FrozenAt)
		assert.Nil(t, c.ClosedAt)
		assert.Equal(t, engine.CardFrozen, c.Status)
		// An issuer's card has no number here: no PAN finds it.
		_, err = tx.FindCardByPAN("")
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
		k, err := tx.FindKeyByHash([]byte("ha"))
		require.NoError(t, err)
		assert.Equal(t, "agt_1", k.AgentID)
		assert.Nil(t, k.RevokedAt)
		for _, err := range []error{
			objectsErr(tx.FindUser("usr_none")), objectsErr(tx.FindUser("nobody")), objectsErr(tx.FindAgent("agt_none")),
			objectsErr(tx.FindCard("card_none")), objectsErr(tx.CardSecret("card_none")), objectsErr(tx.FindKey("key_none")),
			objectsErr(tx.FindKeyByHash([]byte("none"))),
		} {
			assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
		}
		return nil
	})
	objectsUpdate(t, db, func(tx engine.Tx) error {
		for _, err := range []error{
			tx.UpdateUser(objectsUser("usr_none", "x")), tx.UpdateAgent(objectsAgent("agt_none", "x", "usr_1")),
			tx.UpdateAgentRisk("agt_none", engine.RiskState{}), tx.UpdateAgentRisk("bot", engine.RiskState{}),
			tx.UpdateCard(objectsCard("card_none", "agt_1", "")), tx.UpdateKey(&engine.APIKey{ID: "key_none"}),
		} {
			assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
		}
		return nil
	})
}

func objectsErr[T any](_ T, err error) error { return err }

func TestObjectsUpdateAgentRiskKeepsTheRest(t *testing.T) {
	db := openObjectsDB(t)
	risk := engine.RiskState{Amounts: []int64{100, 250}, Attempts: []int64{1, 2}, ConsecutiveDeclines: 3}
	objectsUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertUser(objectsUser("usr_1", "alice")))
		require.NoError(t, tx.InsertAgent(objectsAgent("agt_1", "bot", "usr_1")))
		return tx.UpdateAgentRisk("agt_1", risk)
	})
	objectsView(t, db, func(tx engine.Tx) error {
		a, err := tx.FindAgent("agt_1")
		require.NoError(t, err)
		assert.Equal(t, risk, a.Risk)
		assert.Equal(t, objectsT0, a.UpdatedAt)
		assert.Equal(t, objectsAgent("agt_1", "bot", "usr_1").Policy, a.Policy)
		return nil
	})
}

func TestObjectsListFiltersAndCursors(t *testing.T) {
	db := openObjectsDB(t)
	objectsUpdate(t, db, func(tx engine.Tx) error {
		// Ids differ in case: COLLATE "C" orders them bytewise, as SQLite does.
		for _, id := range []string{"usr_b", "usr_B", "usr_a"} {
			require.NoError(t, tx.InsertUser(objectsUser(id, "n"+id)))
		}
		for i, id := range []string{"agt_3", "agt_1", "agt_2"} {
			require.NoError(t, tx.InsertAgent(objectsAgent(id, "bot"+id, []string{"usr_a", "usr_b", "usr_a"}[i])))
		}
		require.NoError(t, tx.InsertCard(objectsCard("card_2", "agt_3", "lithic"), engine.CardSecret{}))
		require.NoError(t, tx.InsertCard(objectsCard("card_1", "agt_3", ""), engine.CardSecret{PAN: "41", CVV: "1"}))
		require.NoError(t, tx.InsertCard(objectsCard("card_3", "agt_1", ""), engine.CardSecret{PAN: "42", CVV: "1"}))
		return nil
	})
	ids := func(n int, id func(int) string) []string {
		out := []string{}
		for i := range n {
			out = append(out, id(i))
		}
		return out
	}
	objectsView(t, db, func(tx engine.Tx) error {
		users, err := tx.ListUsers(engine.UserFilter{})
		require.NoError(t, err)
		assert.Equal(t, []string{"usr_B", "usr_a", "usr_b"}, ids(len(users), func(i int) string { return users[i].ID }))
		users, err = tx.ListUsers(engine.UserFilter{After: "usr_B", Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, []string{"usr_a"}, ids(len(users), func(i int) string { return users[i].ID }))

		agentCases := []struct {
			f    engine.AgentFilter
			want []string
		}{
			{engine.AgentFilter{}, []string{"agt_1", "agt_2", "agt_3"}},
			{engine.AgentFilter{UserID: "usr_a"}, []string{"agt_2", "agt_3"}},
			{engine.AgentFilter{UserID: "usr_a", After: "agt_2"}, []string{"agt_3"}},
			{engine.AgentFilter{After: "agt_0", Limit: 2}, []string{"agt_1", "agt_2"}},
			{engine.AgentFilter{UserID: "usr_none"}, []string{}},
		}
		for _, c := range agentCases {
			agents, err := tx.ListAgents(c.f)
			require.NoError(t, err)
			assert.Equal(t, c.want, ids(len(agents), func(i int) string { return agents[i].ID }), "%+v", c.f)
		}
		cardCases := []struct {
			f    engine.CardFilter
			want []string
		}{
			{engine.CardFilter{}, []string{"card_1", "card_2", "card_3"}},
			{engine.CardFilter{AgentID: "agt_3"}, []string{"card_1", "card_2"}},
			{engine.CardFilter{IssuerOnly: true}, []string{"card_2"}},
			{engine.CardFilter{After: "card_1", Limit: 1}, []string{"card_2"}},
			{engine.CardFilter{AgentID: "agt_2"}, []string{}},
		}
		for _, c := range cardCases {
			cards, err := tx.ListCards(c.f)
			require.NoError(t, err)
			assert.Equal(t, c.want, ids(len(cards), func(i int) string { return cards[i].ID }), "%+v", c.f)
		}
		keys, err := tx.ListKeys(engine.KeyFilter{})
		require.NoError(t, err)
		assert.NotNil(t, keys)
		assert.Empty(t, keys)
		return nil
	})
}

func TestObjectsSettings(t *testing.T) {
	db := openObjectsDB(t)
	objectsView(t, db, func(tx engine.Tx) error {
		s, err := tx.Settings()
		require.NoError(t, err)
		assert.Equal(t, &engine.Settings{TimeZone: "UTC"}, s) // never changed: no UpdatedAt
		return nil
	})
	at := objectsT0
	objectsUpdate(t, db, func(tx engine.Tx) error {
		return tx.UpdateSettings(&engine.Settings{TimeZone: "Europe/Berlin", UpdatedAt: &at})
	})
	objectsView(t, db, func(tx engine.Tx) error {
		s, err := tx.Settings()
		require.NoError(t, err)
		assert.Equal(t, &engine.Settings{TimeZone: "Europe/Berlin", UpdatedAt: &at}, s)
		return nil
	})
}

func TestObjectsViewRefusesWrites(t *testing.T) {
	db := openObjectsDB(t)
	objectsUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertUser(objectsUser("usr_1", "alice")))
		return tx.InsertAgent(objectsAgent("agt_1", "bot", "usr_1"))
	})
	objectsView(t, db, func(tx engine.Tx) error {
		for _, err := range []error{
			tx.InsertUser(objectsUser("usr_2", "bob")), tx.UpdateUser(objectsUser("usr_1", "alice")),
			tx.InsertAgent(objectsAgent("agt_2", "bot2", "usr_1")), tx.UpdateAgentRisk("agt_1", engine.RiskState{}),
			tx.InsertCard(objectsCard("card_1", "agt_1", ""), engine.CardSecret{PAN: "1", CVV: "1"}),
			tx.InsertKey(&engine.APIKey{ID: "key_1", Role: "admin", Hash: []byte("h")}),
			tx.UpdateSettings(&engine.Settings{TimeZone: "UTC"}),
		} {
			assert.Error(t, err)
		}
		return nil
	})
}
