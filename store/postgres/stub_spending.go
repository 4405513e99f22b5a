package postgres

// Stubs of the spending methods, replaced as they are written.

import (
	"errors"
	"time"

	"github.com/agentledger/agentledger/engine"
)

var _ = time.Now
var _ engine.Tx

var errNotWrittenSpending = errors.New("postgres: not written yet")

func (t *tx) InsertIntent(i *engine.Intent) error          { return errNotWrittenSpending }
func (t *tx) UpdateIntent(i *engine.Intent) error          { return errNotWrittenSpending }
func (t *tx) FindIntent(id string) (*engine.Intent, error) { return nil, errNotWrittenSpending }
func (t *tx) ListIntents(f engine.IntentFilter) ([]*engine.Intent, error) {
	return nil, errNotWrittenSpending
}
func (t *tx) InsertAuthorization(a *engine.Authorization) error { return errNotWrittenSpending }
func (t *tx) UpdateAuthorization(a *engine.Authorization) error { return errNotWrittenSpending }
func (t *tx) FindAuthorization(id string) (*engine.Authorization, error) {
	return nil, errNotWrittenSpending
}
func (t *tx) FindAuthorizationByNetworkID(networkID string) (*engine.Authorization, error) {
	return nil, errNotWrittenSpending
}
func (t *tx) ListAuthorizations(f engine.AuthorizationFilter) ([]*engine.Authorization, error) {
	return nil, errNotWrittenSpending
}
func (t *tx) InsertDecision(d *engine.Decision) error          { return errNotWrittenSpending }
func (t *tx) UpdateDecision(d *engine.Decision) error          { return errNotWrittenSpending }
func (t *tx) FindDecision(id string) (*engine.Decision, error) { return nil, errNotWrittenSpending }
func (t *tx) ListDecisions(f engine.DecisionFilter) ([]*engine.Decision, error) {
	return nil, errNotWrittenSpending
}
func (t *tx) InsertFallback(f *engine.Fallback) error             { return errNotWrittenSpending }
func (t *tx) ListFallbacks(limit int) ([]*engine.Fallback, error) { return nil, errNotWrittenSpending }
func (t *tx) CountPendingApprovals(now time.Time) (int64, error)  { return 0, errNotWrittenSpending }
