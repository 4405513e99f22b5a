package postgres

import (
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/seal"
)

// FindIdempotency implements engine.Tx.
func (t *tx) FindIdempotency(scope, key string) (*engine.IdempotencyRecord, error) {
	var r engine.IdempotencyRecord
	var sealed []byte
	var created int64
	err := t.queryRow(`SELECT operation, request_hash, response, created_at FROM idempotency
		WHERE scope = $1 AND key = $2`, scope, key).Scan(&r.Operation, &r.RequestHash, &sealed, &created)
	if isNoRows(err) {
		return nil, notFound("idempotency key", key)
	} else if err != nil {
		return nil, err
	}
	if r.Response, err = t.db.seal.Open(sealed, seal.ResponseAAD(scope, key)); err != nil {
		return nil, err
	}
	r.Scope, r.Key, r.CreatedAt = scope, key, fromMicros(created)
	return &r, nil
}

// InsertIdempotency implements engine.Tx. Responses are sealed: some carry
// secrets (a new API key). A key already stored is CodeConflict, and the
// transaction goes on (the engine then reads the first record).
func (t *tx) InsertIdempotency(r *engine.IdempotencyRecord) error {
	return t.insertUnique(conflict("idempotency key "+r.Key+" is already used"),
		`INSERT INTO idempotency (scope, key, operation, request_hash, response, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING`,
		r.Scope, r.Key, r.Operation, r.RequestHash, t.db.seal.Seal(r.Response, seal.ResponseAAD(r.Scope, r.Key)),
		micros(r.CreatedAt))
}
