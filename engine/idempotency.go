package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// idempotent runs a mutating call at most once per idempotency key: the
// first call's result is stored in the same transaction as its effects, and
// a repeat with the same operation and input returns that result without
// doing anything. A repeat with other input is IDEMPOTENCY_CONFLICT. An
// empty key runs the call unguarded.
//
// input must marshal to JSON deterministically and must not contain the key
// itself (input structs tag it `json:"-"`).
func idempotent[T any](tx Tx, actor Actor, key, op string, input any, now time.Time, run func() (T, error)) (T, error) {
	var zero T
	if key == "" {
		return run()
	}
	if err := checkIdempotencyKey(key); err != nil {
		return zero, err
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return zero, err
	}
	sum := sha256.Sum256(append([]byte(op+"\x00"), raw...))
	hash := hex.EncodeToString(sum[:])
	scope := actor.idempotencyScope()

	rec, err := tx.FindIdempotency(scope, key)
	switch {
	case err == nil && (rec.Operation != op || rec.RequestHash != hash):
		return zero, keyReused(rec)
	case err == nil:
		var out T
		if err := json.Unmarshal(rec.Response, &out); err != nil {
			return zero, err
		}
		return out, nil
	case !IsNotFound(err):
		return zero, err
	}

	out, err := run()
	if err != nil {
		return zero, err
	}
	resp, err := json.Marshal(out)
	if err != nil {
		return zero, err
	}
	if err := tx.InsertIdempotency(&IdempotencyRecord{
		Scope: scope, Key: key, Operation: op, RequestHash: hash, Response: resp, CreatedAt: now,
	}); ErrorCode(err) == CodeConflict {
		// Another transaction took the key while this one ran (charges of
		// different users run at once on PostgreSQL). What this one did is
		// rolled back with the error.
		rec, ferr := tx.FindIdempotency(scope, key)
		if ferr == nil && (rec.Operation != op || rec.RequestHash != hash) {
			return zero, keyReused(rec)
		}
		return zero, &Error{Code: CodeBusy,
			Message: "a request with this idempotency key was being made at the same time; retry it"}
	} else if err != nil {
		return zero, err
	}
	// Answer with what a repeat will get, so first and repeat are identical.
	var first T
	return first, json.Unmarshal(resp, &first)
}

// keyReused is the error of a key already used by rec's different request.
func keyReused(rec *IdempotencyRecord) error {
	return &Error{Code: CodeIdempotencyConflict, Field: "idempotency_key", Message: "idempotency_key: already used " +
		"with a different request (" + rec.Operation + "); use a new key for a new request"}
}
