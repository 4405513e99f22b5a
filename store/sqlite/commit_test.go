package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No request of a group commit is answered before the COMMIT, and when the
// COMMIT fails every one of them gets a retryable error. Here a settle
// fails inside the batch because a reversal before it in the same batch
// reversed the charge; the COMMIT then fails (a deferred foreign key, as
// real as a full disk), so the reversal never happened and "already
// reversed" would have been a lie the issuer face turns into a final 200.
func TestFailedCommitFailsTheWholeBatch(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.conn.ExecContext(ctx, `CREATE TABLE commit_poison (user_id TEXT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)

	eng := engine.New(db, engine.Options{Clock: engine.NewManualClock(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))})
	u, err := eng.CreateUser(ctx, engine.Operator, engine.CreateUserInput{Name: "u"})
	require.NoError(t, err)
	_, err = eng.SetKYC(ctx, engine.Operator, engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved})
	require.NoError(t, err)
	_, err = eng.FundUser(ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: 10_000})
	require.NoError(t, err)
	no := false
	a, err := eng.CreateAgent(ctx, engine.Operator, engine.CreateAgentInput{Name: "a", User: u.ID, Policy: &engine.Policy{IntentRequired: &no}})
	require.NoError(t, err)
	card, err := eng.CreateCard(ctx, engine.Operator, engine.CreateCardInput{Agent: a.ID})
	require.NoError(t, err)
	auth, err := eng.Authorize(ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: 2500, Merchant: engine.Merchant{Name: "Shop"}})
	require.NoError(t, err)
	require.Equal(t, engine.AuthApproved, auth.Status)

	// Hold the writer, queue reverse, settle and the poison in that order,
	// then let them run as one batch.
	release, started := make(chan struct{}), make(chan struct{})
	go db.Update(ctx, func(engine.Tx) error { close(started); <-release; return nil })
	<-started
	errs := make(chan [2]any, 3)
	queue := func(name string, call func() error) {
		n := len(db.requests)
		go func() { errs <- [2]any{name, call()} }()
		require.Eventually(t, func() bool { return len(db.requests) == n+1 }, 5*time.Second, time.Millisecond)
	}
	queue("reverse", func() error {
		_, err := eng.Reverse(ctx, engine.Operator, engine.ReverseInput{AuthorizationID: auth.ID})
		return err
	})
	queue("settle", func() error {
		_, err := eng.Settle(ctx, engine.Operator, engine.SettleInput{AuthorizationID: auth.ID})
		return err
	})
	queue("poison", func() error {
		return db.Update(ctx, func(etx engine.Tx) error {
			_, err := etx.(*tx).exec(`INSERT INTO commit_poison (user_id) VALUES ('usr_nobody')`)
			return err
		})
	})
	_, commitsBefore := db.Stats()
	close(release)
	for range 3 {
		got := <-errs
		err, _ := got[1].(error)
		assert.Equal(t, engine.CodeUnavailable, engine.ErrorCode(err), "%s: %v", got[0], err)
		assert.Contains(t, engine.ErrorMessage(err), "nothing was written")
	}
	_, commitsAfter := db.Stats()
	assert.Equal(t, commitsBefore+1, commitsAfter, "only the blocker committed")

	// Nothing of the batch happened: the charge is still approved, and a
	// retry of the settle succeeds.
	got, err := eng.GetAuthorization(ctx, engine.Operator, auth.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.AuthApproved, got.Status)
	settled, err := eng.Settle(ctx, engine.Operator, engine.SettleInput{AuthorizationID: auth.ID})
	require.NoError(t, err)
	assert.Equal(t, engine.AuthSettled, settled.Status)
	report, err := db.VerifyLedger(ctx)
	require.NoError(t, err)
	assert.Empty(t, report.Faults)
}

// What the writer keeps in memory (the webhook subscriptions) is dropped
// when a commit fails: here the batch that removed the only endpoint does
// not commit, so the endpoint stays, and the next event is sent to it.
func TestFailedCommitDropsWhatTheWriterKept(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{Key: GenerateKey()})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.conn.ExecContext(ctx,
		`CREATE TABLE commit_poison (user_id TEXT REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)
	eng := engine.New(db, engine.Options{Clock: engine.NewManualClock(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))})
	w, err := eng.AddWebhook(ctx, engine.Operator, engine.AddWebhookInput{URL: "https://example.com/hook"})
	require.NoError(t, err)
	approve := func(name string) error {
		u, err := eng.CreateUser(ctx, engine.Operator, engine.CreateUserInput{Name: name})
		if err == nil {
			_, err = eng.SetKYC(ctx, engine.Operator, engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved}) // user.approved
		}
		return err
	}

	release, started := make(chan struct{}), make(chan struct{})
	go db.Update(ctx, func(engine.Tx) error { close(started); <-release; return nil })
	<-started
	errs := make(chan error, 3)
	queue := func(call func() error) {
		n := len(db.requests)
		go func() { errs <- call() }()
		require.Eventually(t, func() bool { return len(db.requests) == n+1 }, 5*time.Second, time.Millisecond)
	}
	queue(func() error {
		_, err := eng.RemoveWebhook(ctx, engine.Operator, engine.RemoveWebhookInput{EndpointID: w.ID})
		return err
	})
	queue(func() error { // an event, so that the batch reads the endpoints
		return db.Update(ctx, func(etx engine.Tx) error {
			return etx.InsertEvent(&engine.Event{ID: "evt_01900000-0000-7000-8000-000000000001", Type: engine.EventUserApproved,
				CreatedAt: time.Now(), Data: []byte(`{}`)})
		})
	})
	queue(func() error {
		return db.Update(ctx, func(etx engine.Tx) error {
			_, err := etx.(*tx).exec(`INSERT INTO commit_poison (user_id) VALUES ('usr_nobody')`)
			return err
		})
	})
	close(release)
	for range 3 {
		assert.Equal(t, engine.CodeUnavailable, engine.ErrorCode(<-errs))
	}

	require.NoError(t, approve("u"))
	list, err := eng.ListDeliveries(ctx, engine.Operator, engine.ListDeliveriesInput{EndpointID: w.ID})
	require.NoError(t, err)
	require.Len(t, list.Items, 1, "the endpoint was never removed")
	assert.Equal(t, engine.DeliveryPending, list.Items[0].Status)
}
