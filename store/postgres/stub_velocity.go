package postgres

// Stubs of the velocity methods, replaced as they are written.

import (
	"context"
	"errors"
	"time"

	"github.com/agentledger/agentledger/engine"
)

var _ = time.Now
var _ engine.Tx

var errNotWrittenVelocity = errors.New("postgres: not written yet")

func (t *tx) AddVelocity(deltas []engine.VelocityDelta) error         { return errNotWrittenVelocity }
func (t *tx) FillAgentVelocity(agentID string, since time.Time) error { return errNotWrittenVelocity }
func (t *tx) ClearVelocity(scope string) error                        { return errNotWrittenVelocity }
func (t *tx) CountVelocity(scope string, since time.Time) (int64, error) {
	return 0, errNotWrittenVelocity
}

// VerifyLedger implements engine.Store.
func (db *DB) VerifyLedger(ctx context.Context) (*engine.LedgerReport, error) {
	return nil, errNotWrittenVelocity
}
