package postgres_test

import (
	"context"
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

// openIssuersDB opens a fresh store with a user, an agent and the cards
// named, inserted directly.
func openIssuersDB(t *testing.T, cards ...string) *postgres.DB {
	t.Helper()
	url := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), `
		INSERT INTO users (id, name, kyc_status, created_at, updated_at) VALUES ('usr_1', 'u', 'approved', 1, 1);
		INSERT INTO agents (id, name, user_id, mode, policy, created_at, updated_at)
			VALUES ('agt_1', 'a', 'usr_1', 'live', '{}', 1, 1)`)
	require.NoError(t, err)
	for i, id := range cards {
		_, err = conn.Exec(context.Background(), `INSERT INTO cards (id, agent_id, type, status, last4, exp_month,
			exp_year, currency, limits, pan_fingerprint, secret, created_at, updated_at)
			VALUES ($1, 'agt_1', 'multi_use', 'active', '4242', 1, 2030, 'USD', '{}', $2, '\x00', 1, 1)`,
			id, []byte{byte(i)})
		require.NoError(t, err)
	}
	return db
}

func issuersUpdate(t *testing.T, db *postgres.DB, fn func(engine.Tx) error) {
	t.Helper()
	require.NoError(t, db.Update(context.Background(), fn))
}

func issuersCode(err error) string {
	if e, ok := err.(*engine.Error); ok {
		return string(e.Code)
	}
	return ""
}

func TestIssuersCardLinks(t *testing.T) {
	db := openIssuersDB(t, "crd_1", "crd_2")
	at := time.UnixMicro(1_700_000_000_000_000).UTC()
	link := func(issuer, ext, card string) *engine.CardLink {
		return &engine.CardLink{Issuer: issuer, ExternalID: ext, CardID: card, CreatedAt: at}
	}
	issuersUpdate(t, db, func(tx engine.Tx) error { return tx.PutCardLink(link("stripe", "ic_1", "crd_1")) })
	// A conflict leaves the transaction usable and writes nothing.
	issuersUpdate(t, db, func(tx engine.Tx) error {
		err := tx.PutCardLink(link("stripe", "ic_1", "crd_2"))
		assert.Equal(t, string(engine.CodeConflict), issuersCode(err), "%v", err)
		require.NoError(t, tx.PutCardLink(link("stripe", "ic_2", "crd_2")))
		// Linking the same pair again is no conflict.
		return tx.PutCardLink(link("stripe", "ic_1", "crd_1"))
	})
	issuersUpdate(t, db, func(tx engine.Tx) error {
		l, err := tx.FindCardLink("stripe", "ic_1")
		require.NoError(t, err)
		assert.Equal(t, link("stripe", "ic_1", "crd_1"), l)
		// A new link replaces the card's earlier one at that issuer only.
		require.NoError(t, tx.PutCardLink(link("lithic", "lc_1", "crd_1")))
		return tx.PutCardLink(link("stripe", "ic_3", "crd_1"))
	})
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		_, err := tx.FindCardLink("stripe", "ic_1")
		assert.Equal(t, string(engine.CodeNotFound), issuersCode(err))
		links, err := tx.ListCardLinks("crd_1")
		require.NoError(t, err)
		assert.Equal(t, []*engine.CardLink{link("lithic", "lc_1", "crd_1"), link("stripe", "ic_3", "crd_1")}, links)
		links, err = tx.ListCardLinks("crd_none")
		require.NoError(t, err)
		assert.Empty(t, links)
		// A View refuses writes.
		assert.Error(t, tx.PutCardLink(link("lithic", "lc_2", "crd_2")))
		return nil
	}))
}

func TestIssuersCardholders(t *testing.T) {
	db := openIssuersDB(t)
	at := time.UnixMicro(5).UTC()
	issuersUpdate(t, db, func(tx engine.Tx) error {
		_, err := tx.FindCardholder("stripe", "usr_1")
		assert.Equal(t, string(engine.CodeNotFound), issuersCode(err))
		require.NoError(t, tx.PutCardholder(&engine.Cardholder{Issuer: "stripe", UserID: "usr_1", ExternalID: "ich_1",
			CreatedAt: at}))
		return tx.PutCardholder(&engine.Cardholder{Issuer: "stripe", UserID: "usr_1", ExternalID: "ich_2", CreatedAt: at})
	})
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		c, err := tx.FindCardholder("stripe", "usr_1")
		require.NoError(t, err)
		assert.Equal(t, &engine.Cardholder{Issuer: "stripe", UserID: "usr_1", ExternalID: "ich_1", CreatedAt: at}, c)
		return nil
	}))
}

func TestIssuersSyncQueue(t *testing.T) {
	db := openIssuersDB(t)
	ts := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	entry := func(card, agent, version string, status bool, next int64) *engine.IssuerSync {
		return &engine.IssuerSync{CardID: card, Issuer: "stripe", ExternalID: "ic_" + card, AgentID: agent,
			Version: version, StatusChanged: status, NextAttemptAt: ts(next), CreatedAt: ts(1), UpdatedAt: ts(1)}
	}
	issuersUpdate(t, db, func(tx engine.Tx) error {
		require.NoError(t, tx.QueueIssuerSync(entry("crd_a", "agt_1", "v1", true, 30)))
		require.NoError(t, tx.QueueIssuerSync(entry("crd_b", "agt_2", "v1", false, 20)))
		require.NoError(t, tx.QueueIssuerSync(entry("crd_c", "agt_1", "v1", false, 20)))
		abandoned := entry("crd_d", "", "v1", false, 10)
		abandoned.Abandoned = `{"x":1}`
		require.NoError(t, tx.QueueIssuerSync(abandoned))
		failed := entry("crd_a", "agt_1", "v1", true, 100)
		failed.Attempts, failed.LastError = 3, "boom"
		require.NoError(t, tx.RetryIssuerSync(failed))
		// A requeue keeps status_changed, the external id when given none,
		// and resets the attempts.
		again := entry("crd_a", "agt_1", "v2", false, 5)
		again.ExternalID, again.UpdatedAt = "", ts(9)
		return tx.QueueIssuerSync(again)
	})
	issuersUpdate(t, db, func(tx engine.Tx) error {
		q, err := tx.FindIssuerSync("crd_a")
		require.NoError(t, err)
		assert.Equal(t, &engine.IssuerSync{CardID: "crd_a", Issuer: "stripe", ExternalID: "ic_crd_a", AgentID: "agt_1",
			Version: "v2", Kind: engine.IssuerSyncChange, StatusChanged: true, NextAttemptAt: ts(5), LastError: "boom",
			CreatedAt: ts(1), UpdatedAt: ts(9)}, q)
		d, err := tx.FindIssuerSync("crd_d")
		require.NoError(t, err)
		assert.Equal(t, engine.IssuerSyncAbandoned, d.Kind)
		// A stale version neither retries nor finishes.
		err = tx.RetryIssuerSync(entry("crd_a", "agt_1", "v1", true, 50))
		assert.Equal(t, string(engine.CodeNotFound), issuersCode(err))
		done, err := tx.DoneIssuerSync("crd_a", "v1")
		require.NoError(t, err)
		assert.False(t, done)
		n, err := tx.CountIssuerSync()
		require.NoError(t, err)
		assert.Equal(t, int64(4), n)
		return nil
	})
	cards := func(f engine.IssuerSyncFilter) []string {
		var out []string
		require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
			list, err := tx.ListIssuerSync(f)
			for _, q := range list {
				out = append(out, q.CardID)
			}
			return err
		}))
		return out
	}
	due := ts(20)
	for name, c := range map[string]struct {
		f    engine.IssuerSyncFilter
		want []string
	}{
		"all":   {engine.IssuerSyncFilter{}, []string{"crd_a", "crd_d", "crd_b", "crd_c"}},
		"due":   {engine.IssuerSyncFilter{DueBy: &due, Limit: 3}, []string{"crd_a", "crd_d", "crd_b"}},
		"agent": {engine.IssuerSyncFilter{AgentID: "agt_1"}, []string{"crd_a", "crd_c"}},
	} {
		assert.Equal(t, c.want, cards(c.f), name)
	}
	issuersUpdate(t, db, func(tx engine.Tx) error {
		done, err := tx.DoneIssuerSync("crd_a", "v2")
		require.NoError(t, err)
		assert.True(t, done)
		// Once done, a new entry starts without the old status change.
		require.NoError(t, tx.QueueIssuerSync(entry("crd_a", "agt_1", "v3", false, 5)))
		q, err := tx.FindIssuerSync("crd_a")
		require.NoError(t, err)
		assert.False(t, q.StatusChanged)
		return nil
	})
}

func TestIssuersOAuth(t *testing.T) {
	db := openIssuersDB(t)
	ts := func(s int64) time.Time { return time.Unix(s, 0).UTC() }
	client := func(id, by string) *engine.OAuthClient {
		return &engine.OAuthClient{ID: id, Name: id, RedirectURIs: []string{"https://x/cb"}, AuthMethod: "none",
			RegisteredBy: by, CreatedAt: ts(10)}
	}
	grant := &engine.OAuthGrant{ID: "ogr_1", ClientID: "ocl_2", AgentID: "agt_1", ReadOnly: true, Resource: "r",
		Scope: "s", CodeChallenge: "cc", ApprovedBy: "usr_1", CreatedAt: ts(11)}
	issuersUpdate(t, db, func(tx engine.Tx) error {
		for _, c := range []*engine.OAuthClient{client("ocl_1", "dynamic"), client("ocl_2", "dynamic"),
			client("ocl_3", "usr_1"), client("ocl_4", "dynamic"), client("ocl_5", "dynamic")} {
			require.NoError(t, tx.InsertOAuthClient(c))
		}
		// A duplicate is a conflict that does not abort the transaction.
		err := tx.InsertOAuthClient(client("ocl_1", "dynamic"))
		assert.Equal(t, string(engine.CodeConflict), issuersCode(err))
		secret := client("ocl_6", "usr_1")
		secret.SecretHash, secret.AuthMethod = []byte{1, 2}, "client_secret_post"
		require.NoError(t, tx.InsertOAuthClient(secret))
		require.NoError(t, tx.InsertOAuthGrant(grant))
		for i, exp := range []int64{100, 200, 300} {
			require.NoError(t, tx.InsertOAuthToken(&engine.OAuthToken{Hash: []byte{byte(i)}, Kind: "access",
				GrantID: "ogr_1", CreatedAt: ts(1), ExpiresAt: ts(exp)}))
		}
		revoked := ts(50)
		grant.ConnectedAt, grant.RevokedAt, grant.RevokedReason = &revoked, &revoked, "gone"
		require.NoError(t, tx.UpdateOAuthGrant(grant))
		return tx.MarkOAuthTokenUsed([]byte{1}, revoked)
	})
	issuersUpdate(t, db, func(tx engine.Tx) error {
		c, err := tx.FindOAuthClient("ocl_6")
		require.NoError(t, err)
		assert.Equal(t, []byte{1, 2}, c.SecretHash)
		c, err = tx.FindOAuthClient("ocl_1")
		require.NoError(t, err)
		assert.Equal(t, client("ocl_1", "dynamic"), c)
		list, err := tx.ListOAuthClients(engine.OAuthClientFilter{After: "ocl_2", Limit: 2})
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, []string{"ocl_3", "ocl_4"}, []string{list[0].ID, list[1].ID})
		g, err := tx.FindOAuthGrant("ogr_1")
		require.NoError(t, err)
		assert.Equal(t, grant, g)
		grants, err := tx.ListOAuthGrants(engine.OAuthGrantFilter{ClientID: "ocl_1"})
		require.NoError(t, err)
		assert.Empty(t, grants)
		tok, err := tx.FindOAuthToken([]byte{1})
		require.NoError(t, err)
		assert.Equal(t, ts(50), *tok.UsedAt)
		tok, err = tx.FindOAuthToken([]byte{0})
		require.NoError(t, err)
		assert.Nil(t, tok.UsedAt)
		err = tx.MarkOAuthTokenUsed([]byte{9}, ts(1))
		assert.Equal(t, string(engine.CodeNotFound), issuersCode(err))
		err = tx.UpdateOAuthClient(client("ocl_9", "dynamic"))
		assert.Equal(t, string(engine.CodeNotFound), issuersCode(err))

		n, err := tx.PruneOAuthTokens(ts(250), 1)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		n, err = tx.PruneOAuthTokens(ts(250), 10)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		// Only dynamic clients without a grant, created before the time.
		n, err = tx.PruneOAuthClients(ts(11), 2)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		n, err = tx.PruneOAuthClients(ts(11), 10)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		n, err = tx.PruneOAuthClients(ts(10), 10)
		require.NoError(t, err)
		assert.Equal(t, int64(0), n)
		left, err := tx.ListOAuthClients(engine.OAuthClientFilter{})
		require.NoError(t, err)
		require.Len(t, left, 3)
		assert.Equal(t, []string{"ocl_2", "ocl_3", "ocl_6"}, []string{left[0].ID, left[1].ID, left[2].ID})
		return nil
	})
}
