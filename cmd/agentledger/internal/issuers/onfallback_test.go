package issuers_test

import (
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
)

// OnFallback hears of each answer given without the engine's decision, by
// issuer and answer, once.
func TestOnFallback(t *testing.T) {
	var mu sync.Mutex
	var heard []string
	env := sqlitetest.NewWith(t, sqlitetest.Options{Store: sqliteOptions(100 * time.Millisecond)})
	r := newRig(t, issuers.Options{Budget: time.Second, FallbackApprove: true, OnFallback: func(issuer, answer string) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, issuer+" "+answer)
	}}, env)
	release := blockWrites(t, r.env)
	answer := r.asa(nil)
	release()
	r.h.Wait()
	assert.Equal(t, "APPROVED", answer.Result)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{engine.IssuerLithic + " " + engine.FallbackApprove}, heard)
}
