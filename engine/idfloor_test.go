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
