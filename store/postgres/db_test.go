package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenMigratesOnceWhenServersStartTogether(t *testing.T) {
	url := pgtest.URL(t)
	key := seal.GenerateKey()
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), url, postgres.Options{Key: key})
			if err == nil {
				err = db.Ping(context.Background())
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	db, err := postgres.Open(context.Background(), url, postgres.Options{Key: key})
	require.NoError(t, err)
	defer db.Close()
	var settings *engine.Settings
	require.NoError(t, db.View(context.Background(), func(tx engine.Tx) error {
		var err error
		settings, err = tx.Settings()
		return err
	}))
	assert.Equal(t, "UTC", settings.TimeZone)
}

func TestOpenRefusesABadURLWithoutEchoingIt(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://user:s3cret-pw@[bad", postgres.Options{Key: seal.GenerateKey()})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret-pw")
}

// Servers on one database must share the store key: another key is refused
// at once rather than sealing cards the other servers cannot open.
func TestOpenRefusesAnotherKey(t *testing.T) {
	url := pgtest.URL(t)
	db, err := postgres.Open(context.Background(), url, postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	db.Close()
	_, err = postgres.Open(context.Background(), url, postgres.Options{Key: seal.GenerateKey()})
	require.ErrorContains(t, err, "needs the same key")
}

func TestRedactHidesThePassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://ada:s3cret@db.example:5432/ledger?sslmode=require": "postgres://ada:xxxxx@db.example:5432/ledger?sslmode=require",
		"postgres://ada@/ledger?host=/run/postgresql":                  "postgres://ada@/ledger?host=/run/postgresql",
	} {
		assert.Equal(t, want, postgres.Redact(in))
	}
}
