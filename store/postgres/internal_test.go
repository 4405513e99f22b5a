package postgres

import (
	"context"
	"io"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/postgres/pgtest"
	"github.com/agentledger/agentledger/store/seal"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A COMMIT the server refused wrote nothing (retry); one whose connection
// failed may have been written (look first).
func TestCommitFailedSaysWhetherAnythingWasWritten(t *testing.T) {
	assert.Equal(t, engine.CodeUnavailable, engine.ErrorCode(commitFailed(&pgconn.PgError{Severity: "ERROR", Code: "40001"})))
	assert.Equal(t, engine.CodeUnavailable, engine.ErrorCode(commitFailed(pgx.ErrTxCommitRollback)))
	terminated := commitFailed(&pgconn.PgError{Severity: "FATAL", Code: "57P01"}) // may follow a durable commit
	assert.Equal(t, engine.CodeInternal, engine.ErrorCode(terminated))
	err := commitFailed(io.ErrUnexpectedEOF)
	assert.Equal(t, engine.CodeInternal, engine.ErrorCode(err))
	assert.Contains(t, err.Error(), "unknown")
}

// The pool's size: Options.MaxConns, else the URL's pool_max_conns, else
// DefaultMaxConns.
func TestPoolSize(t *testing.T) {
	for _, c := range []struct {
		param string
		opt   int32
		want  int32
	}{{"", 0, DefaultMaxConns}, {"&pool_max_conns=3", 0, 3}, {"&pool_max_conns=3", 5, 5}} {
		db, err := Open(context.Background(), pgtest.URL(t)+c.param, Options{Key: seal.GenerateKey(), MaxConns: c.opt})
		require.NoError(t, err)
		assert.Equal(t, c.want, db.pool.Config().MaxConns, "%+v", c)
		db.Close()
	}
}
