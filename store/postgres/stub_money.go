package postgres

// Stubs of the money methods, replaced as they are written.

import (
	"errors"
	"time"

	"github.com/agentledger/agentledger/engine"
)

var _ = time.Now
var _ engine.Tx

var errNotWrittenMoney = errors.New("postgres: not written yet")

func (t *tx) Counters(scopes, periods []string) (map[engine.CounterKey]engine.Counter, error) {
	return nil, errNotWrittenMoney
}
func (t *tx) AddCounters(deltas []engine.CounterDelta) error { return errNotWrittenMoney }
func (t *tx) MerchantSeen(agentID, merchantKey, mcc string) (merchantSeen, mccSeen bool, err error) {
	return false, false, errNotWrittenMoney
}
func (t *tx) MarkMerchantSeen(agentID, merchantKey, mcc string, at time.Time) error {
	return errNotWrittenMoney
}
func (t *tx) FindAccount(id string) (*engine.Account, error) { return nil, errNotWrittenMoney }
func (t *tx) InsertTransfer(tr *engine.Transfer) error       { return errNotWrittenMoney }
func (t *tx) ListTransfers(f engine.TransferFilter) ([]*engine.Transfer, error) {
	return nil, errNotWrittenMoney
}
func (t *tx) FindIdempotency(scope, key string) (*engine.IdempotencyRecord, error) {
	return nil, errNotWrittenMoney
}
func (t *tx) InsertIdempotency(r *engine.IdempotencyRecord) error { return errNotWrittenMoney }
