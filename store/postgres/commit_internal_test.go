package postgres

import (
	"io"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
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
