package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openPipelineDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), pgtest.URL(t), Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func pipelineUser(id string) *engine.User {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return &engine.User{ID: id, Name: id, KYCStatus: engine.KYCApproved, CreatedAt: at, UpdatedAt: at}
}

func userExists(t *testing.T, db *DB, id string) bool {
	t.Helper()
	var found bool
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		_, err := tx.FindUser(id)
		found = err == nil
		return nil
	}))
	return found
}

// A pending write that fails is seen at the next statement, which fails
// with its error, or at COMMIT, which is then not sent: either way the
// transaction keeps nothing, and a pending write that succeeds is kept.
func TestPendingWrites(t *testing.T) {
	const bad = `INSERT INTO users (id, name, kyc_status, created_at, updated_at) VALUES ('usr_bad', 'bad', 'maybe', 0, 0)`
	const good = `INSERT INTO users (id, name, kyc_status, created_at, updated_at) VALUES ('usr_ok', 'ok', 'pending', 0, 0)`
	ctx := context.Background()
	t.Run("a failed one, seen at COMMIT", func(t *testing.T) {
		db := openPipelineDB(t)
		err := db.Update(ctx, func(etx engine.Tx) error {
			tx := etx.(*tx)
			require.NoError(t, tx.InsertUser(pipelineUser("usr_first")))
			require.NoError(t, tx.execLater(good))
			return tx.execLater(bad)
		})
		assert.ErrorContains(t, err, "violates check constraint")
		assert.False(t, userExists(t, db, "usr_first"), "nothing of the transaction is kept")
		assert.False(t, userExists(t, db, "usr_ok"))
	})
	t.Run("a failed one, seen at the next statement", func(t *testing.T) {
		db := openPipelineDB(t)
		var next error
		err := db.Update(ctx, func(etx engine.Tx) error {
			tx := etx.(*tx)
			require.NoError(t, tx.execLater(bad))
			_, next = tx.FindUser("usr_first")
			return nil // fn goes on regardless
		})
		assert.ErrorContains(t, next, "violates check constraint")
		assert.ErrorContains(t, err, "violates check constraint")
		assert.False(t, userExists(t, db, "usr_bad"))
	})
	t.Run("one that succeeds, before a read and at COMMIT", func(t *testing.T) {
		db := openPipelineDB(t)
		require.NoError(t, db.Update(ctx, func(etx engine.Tx) error {
			tx := etx.(*tx)
			require.NoError(t, tx.execLater(good))
			u, err := tx.FindUser("usr_ok")
			require.NoError(t, err, "a read sees the pending write before it")
			assert.Equal(t, "ok", u.Name)
			return tx.execLater(`UPDATE users SET email = 'ok@example.com' WHERE id = 'usr_ok'`)
		}))
		require.NoError(t, db.View(ctx, func(tx engine.Tx) error {
			u, err := tx.FindUser("usr_ok")
			require.NoError(t, err)
			assert.Equal(t, "ok@example.com", u.Email, "the write sent with COMMIT is kept")
			return nil
		}))
	})
	t.Run("no statement at all", func(t *testing.T) {
		db := openPipelineDB(t)
		require.NoError(t, db.Update(ctx, func(engine.Tx) error { return nil }))
	})
}

// The rows UpdateCharge reads with its locks are given once each, to a Find of the same
// row; a second Find, and any Find after a write, reads the database.
func TestPrefetchedRowsAreGivenOnceAndForgottenOnWrite(t *testing.T) {
	db := openPipelineDB(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error {
		if err := tx.InsertUser(pipelineUser("usr_1")); err != nil {
			return err
		}
		if err := tx.InsertAgent(&engine.Agent{ID: "agt_1", Name: "a1", UserID: "usr_1", Mode: engine.ModeLive,
			CreatedAt: at, UpdatedAt: at}); err != nil {
			return err
		}
		return tx.InsertCard(&engine.Card{ID: "card_1", AgentID: "agt_1", Type: engine.CardMultiUse, Status: engine.CardActive,
			Last4: "4242", ExpMonth: 12, ExpYear: 2030, Currency: "USD", CreatedAt: at, UpdatedAt: at},
			engine.CardSecret{PAN: "4242424242424242", CVV: "123"})
	}))
	require.NoError(t, db.UpdateCharge(ctx, engine.CardRef{PAN: "4242424242424242"}, func(etx engine.Tx) error {
		tx := etx.(*tx)
		require.NotNil(t, tx.prefetch)
		_, err := tx.FindCardByPAN("4111111111111111")
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), "another PAN is not the prefetched card")
		card, err := tx.FindCardByPAN("4242424242424242")
		require.NoError(t, err)
		assert.Nil(t, tx.prefetch.card, "given once")
		card.Status = engine.CardFrozen // the caller's copy
		again, err := tx.FindCard("card_1")
		require.NoError(t, err)
		assert.Equal(t, engine.CardActive, again.Status, "a fresh copy from the database")

		agent, err := tx.FindAgent("agt_1")
		require.NoError(t, err)
		assert.Equal(t, "usr_1", agent.UserID)
		settings, err := tx.Settings()
		require.NoError(t, err)
		assert.Equal(t, "UTC", settings.TimeZone)
		require.NotNil(t, tx.prefetch.user)
		require.NoError(t, tx.UpdateUser(&engine.User{ID: "usr_1", Email: "new@example.com", KYCStatus: engine.KYCApproved,
			UpdatedAt: at}))
		assert.Nil(t, tx.prefetch, "a write forgets the prefetched rows")
		user, err := tx.FindUser("usr_1")
		require.NoError(t, err)
		assert.Equal(t, "new@example.com", user.Email, "read after the write")
		return nil
	}))
}
