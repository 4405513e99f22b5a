package storekit_test

import (
	"testing"

	"github.com/agentledger/agentledger/store/storekit"
	"github.com/stretchr/testify/assert"
)

func TestFloorAndCeilToAMultiple(t *testing.T) {
	for _, c := range []struct{ v, w, floor, ceil int64 }{
		{0, 10, 0, 0}, {7, 10, 0, 10}, {10, 10, 10, 10}, {-1, 10, -10, 0}, {-10, 10, -10, -10}, {-11, 10, -20, -10},
	} {
		assert.Equal(t, c.floor, storekit.FloorTo(c.v, c.w), "floor %d to %d", c.v, c.w)
		assert.Equal(t, c.ceil, storekit.CeilTo(c.v, c.w), "ceil %d to %d", c.v, c.w)
	}
	for i := 1; i < len(storekit.VelocityWidths); i++ {
		assert.Zero(t, storekit.VelocityWidths[i]%storekit.VelocityWidths[i-1], "each width divides the next")
	}
}
