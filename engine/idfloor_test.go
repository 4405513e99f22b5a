package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// IDFloor bounds by id the rows made at or after a time: no id made at or
// after it sorts below it, and every id made a millisecond before sorts
// below it.
func TestIDFloorBoundsIdsByTime(t *testing.T) {
	var g idGenerator
	at := time.Date(2026, 3, 11, 12, 0, 0, 123_456_000, time.UTC)
	floor := IDFloor(PrefixAuthorization, at)
	assert.Equal(t, "txn_", floor[:4])
	before := g.newID(PrefixAuthorization, at.Add(-time.Millisecond))
	assert.Less(t, before, floor)
	for _, d := range []time.Duration{0, time.Microsecond, 999 * time.Microsecond, time.Millisecond, time.Hour, 24 * 365 * time.Hour} {
		for range 3 {
			id := g.newID(PrefixAuthorization, at.Add(d))
			assert.GreaterOrEqual(t, id, floor, d)
		}
	}
	// Within the millisecond of `at` the floor is below every id, whatever
	// the counter: the exact time test is the caller's.
	assert.Equal(t, PrefixAuthorization, IDFloor(PrefixAuthorization, time.Time{}), "the zero time bounds nothing")
	var fresh idGenerator
	assert.Less(t, floor, fresh.newID(PrefixAuthorization, at.Truncate(time.Millisecond)))
}

// An id in an error message is shown whole, even when its digits look like
// a card number (they are random, so now and then they do).
func TestIdsInErrorsAreNotMasked(t *testing.T) {
	id := "card_019cdcc4-a200-7005-9863-5ded64051308" // "…7005-9863-5…" once masked as a PAN
	err := invalid("currency", "agent has open card %s", id)
	assert.Contains(t, err.Error(), id)
	masked := invalid("card", "no card %s", "4242 4242 4242 4242")
	assert.NotContains(t, masked.Error(), "4242 4242 4242 4242")
}

// A key secret whose hex holds a card-number-like run of digits is masked
// whole (the run once got masked first, and the rest of the key shown).
func TestAKeySecretWithDigitsIsMaskedWhole(t *testing.T) {
	key := "al_ae09479041234523fda84d0b063177a66982fc5adee84ff0eba590434e132bc"
	err := notFound("key_id", "key", key)
	assert.NotContains(t, err.Error(), "fda84d0b063177a66982fc5adee84ff0eba590434e132bc")
	assert.Contains(t, err.Error(), "al_ae094790…")
}
