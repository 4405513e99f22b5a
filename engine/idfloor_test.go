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
