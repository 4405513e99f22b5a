package postgres_test

import (
	"context"
	"strings"
	"sync"
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
		"postgres://ada:s3cret@db.example:5432/ledger?sslmode=require": "postgres://ada@db.example:5432/ledger?sslmode=require",
		"postgres://ada@/ledger?host=/run/postgresql":                  "postgres://ada@/ledger?host=/run/postgresql",
		"postgres://h/db?password=s3cret&sslmode=require":              "postgres://h/db?sslmode=require",
		"postgres://h/db?PassWord=s3cret&sslpassword=k3y":              "postgres://h/db",
		"postgres://h/db?pass%77ord=s3cret":                            "postgres://h/db",
		"postgres://ada:12#s3cret@/ledger?host=/tmp":                   "postgres://ada@/ledger?host=/tmp",
		"postgres://ada:12?s3cret@/ledger?host=/tmp":                   "postgres://ada@/ledger?host=/tmp",
		"postgres://ada:a%40b@h1,h2:5433/ledger?password=ab#s3cret":    "postgres://ada@h1,h2:5433/ledger",
		"postgresql://ada:s3cret@h?sslmode=disable":                    "postgresql://ada@h?sslmode=disable",
		"postgres://ada:s3cret@h":                                      "postgres://ada@h",
	} {
		got := postgres.Redact(in)
		assert.Equal(t, want, got, in)
		assert.NotContains(t, got, "s3cret", in)
	}
	assert.Equal(t, "postgres://(a URL that does not parse)", postgres.Redact("postgres://ada:s3cret@[bad"))
}

func TestIsURL(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://h/db": true, "postgresql://h/db": true, "POSTGRES://h/db": false, // pgx takes lower case only
		"agentledger.db": false, "/var/lib/postgres://x": false, "": false,
	} {
		assert.Equal(t, want, postgres.IsURL(db), db)
	}
}

// openTest opens a store on a fresh schema.
func openTest(t *testing.T, opts postgres.Options) (*postgres.DB, string) {
	t.Helper()
	url := pgtest.URL(t)
	if opts.Key == nil {
		opts.Key = seal.GenerateKey()
	}
	db, err := postgres.Open(context.Background(), url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, url
}

// A write that waits past the busy timeout for another server's write fails
// with BUSY and writes nothing; a View does not wait.
func TestAWriteWaitingForAnotherServerIsBusy(t *testing.T) {
	db, url := openTest(t, postgres.Options{BusyTimeout: 100 * time.Millisecond})
	ctx := context.Background()
	other, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer other.Close(ctx)
	held, err := other.Begin(ctx)
	require.NoError(t, err)
	_, err = held.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('agentledger writer ' || current_schema(), 0))`)
	require.NoError(t, err)

	user := &engine.User{ID: "usr_busy", Name: "busy", KYCStatus: engine.KYCPending, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	start := time.Now()
	err = db.Update(ctx, func(tx engine.Tx) error { return tx.InsertUser(user) })
	assert.Equal(t, engine.CodeBusy, engine.ErrorCode(err), "%v", err)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, db.View(ctx, func(tx engine.Tx) error {
		_, err := tx.FindUser("usr_busy")
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err))
		return nil
	}))
	require.NoError(t, held.Rollback(ctx))
	require.NoError(t, db.Update(ctx, func(tx engine.Tx) error { return tx.InsertUser(user) }), "once the lock is free")
}

// A statement that fails aborts PostgreSQL's transaction: even if fn goes on
// and returns nil, Update reports the failure and keeps none of fn's writes.
func TestAFailedStatementKeepsNothing(t *testing.T) {
	db, _ := openTest(t, postgres.Options{})
	ctx := context.Background()
	now := time.Now()
	err := db.Update(ctx, func(tx engine.Tx) error {
		require.NoError(t, tx.InsertUser(&engine.User{ID: "usr_kept", Name: "kept", KYCStatus: engine.KYCPending, CreatedAt: now,
			UpdatedAt: now}))
		// A KYC status the table's CHECK refuses: the statement fails.
		bad := tx.InsertUser(&engine.User{ID: "usr_bad", Name: "bad", KYCStatus: "maybe", CreatedAt: now, UpdatedAt: now})
		require.Error(t, bad)
		return nil
	})
	require.ErrorContains(t, err, "violates check constraint", "the statement's own error, not the refused COMMIT's")
	require.NoError(t, db.View(ctx, func(tx engine.Tx) error {
		_, err := tx.FindUser("usr_kept")
		assert.Equal(t, engine.CodeNotFound, engine.ErrorCode(err), "nothing of the transaction is kept")
		return nil
	}))
}

// A database migrated by a newer agentledger is refused, not written.
func TestOpenRefusesANewerSchema(t *testing.T) {
	_, url := openTest(t, postgres.Options{})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO agentledger_schema (version, name) VALUES ($1, 'from_the_future.sql')`,
		postgres.SchemaVersion()+1)
	require.NoError(t, err)
	_, err = postgres.Open(ctx, url, postgres.Options{Key: seal.GenerateKey()})
	require.ErrorContains(t, err, "newer than this binary")
}

// Servers with different keys starting at once on a new database: exactly
// one key is kept, every other is refused.
func TestServersWithDifferentKeysAtOnce(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			db, err := postgres.Open(context.Background(), url, postgres.Options{Key: seal.GenerateKey()})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	accepted := 0
	for _, err := range errs {
		if err == nil {
			accepted++
		} else {
			assert.ErrorContains(t, err, "needs the same key")
		}
	}
	assert.Equal(t, 1, accepted)
}

// Initialized tells a database agentledger made from one it did not.
func TestInitialized(t *testing.T) {
	url := pgtest.URL(t)
	ok, err := postgres.Initialized(context.Background(), url)
	require.NoError(t, err)
	assert.False(t, ok)
	db, err := postgres.Open(context.Background(), url, postgres.Options{Key: seal.GenerateKey()})
	require.NoError(t, err)
	db.Close()
	ok, err = postgres.Initialized(context.Background(), url)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = postgres.Initialized(context.Background(), url+"&pool_max_conns=4")
	require.NoError(t, err, "pool parameters are the pool's, not the server's")
	assert.True(t, ok)

	// A schema first on the path without the tables is not initialized,
	// whatever a later schema of the path holds.
	empty := pgtest.URL(t)
	emptySchema := schemaOf(t, empty)
	emptyFirst := strings.Replace(url, "search_path=", "search_path="+emptySchema+"%2C", 1)
	ok, err = postgres.Initialized(context.Background(), emptyFirst)
	require.NoError(t, err)
	assert.False(t, ok)
}

func schemaOf(t *testing.T, url string) string {
	t.Helper()
	_, query, _ := strings.Cut(url, "?")
	for _, pair := range strings.Split(query, "&") {
		if name, value, _ := strings.Cut(pair, "="); name == "search_path" {
			return value
		}
	}
	t.Fatalf("no search_path in %s", url)
	return ""
}

// With MustExist, Open refuses a database without agentledger's tables and
// creates nothing in it; on a migrated one it opens.
func TestOpenMustExist(t *testing.T) {
	url := pgtest.URL(t)
	key := seal.GenerateKey()
	_, err := postgres.Open(context.Background(), url, postgres.Options{Key: key, MustExist: true})
	require.ErrorIs(t, err, postgres.ErrNotInitialized)
	ok, err := postgres.Initialized(context.Background(), url)
	require.NoError(t, err)
	assert.False(t, ok, "nothing created")

	db, err := postgres.Open(context.Background(), url, postgres.Options{Key: key})
	require.NoError(t, err)
	db.Close()
	db, err = postgres.Open(context.Background(), url, postgres.Options{Key: key, MustExist: true})
	require.NoError(t, err)
	db.Close()
}
