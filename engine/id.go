package engine

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ID prefixes (DESIGN §2). Every identifier is one of these plus a UUIDv7.
const (
	PrefixUser          = "usr_"
	PrefixAgent         = "agt_"
	PrefixCard          = "card_"
	PrefixIntent        = "int_"
	PrefixAuthorization = "txn_"
	PrefixDecision      = "dec_"
	PrefixKey           = "key_"
	PrefixWebhook       = "whk_"
	PrefixEvent         = "evt_"
	PrefixTransfer      = "trf_"
	PrefixFallback      = "fbk_"
	PrefixOAuthClient   = "oac_"
	PrefixOAuthGrant    = "ogr_"
)

// idGenerator makes UUIDv7 identifiers from the engine's clock, so that ids
// sort in the order the engine created them even under a test clock. Within
// one millisecond a counter in the rand_a bits keeps them increasing.
type idGenerator struct {
	mu     sync.Mutex
	lastMS int64
	seq    uint16
}

func (g *idGenerator) newID(prefix string, now time.Time) string {
	ms := now.UnixMilli()
	g.mu.Lock()
	if ms <= g.lastMS {
		ms = g.lastMS
		g.seq++
		if g.seq > 0x0fff { // counter exhausted: borrow the next millisecond
			ms++
			g.seq = 0
		}
	} else {
		g.seq = 0
	}
	g.lastMS = ms
	seq := g.seq
	g.mu.Unlock()

	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], uint64(ms)<<16)
	u[6] = 0x70 | byte(seq>>8)&0x0f
	u[7] = byte(seq)
	if _, err := rand.Read(u[8:]); err != nil {
		panic("engine: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	u[8] = 0x80 | u[8]&0x3f
	return prefix + u.String()
}

// isID reports whether ref looks like an id with the given prefix (as opposed
// to a name).
func isID(ref, prefix string) bool {
	if !strings.HasPrefix(ref, prefix) {
		return false
	}
	// Only the canonical form (lower-case, dashed, bare): uuid.Parse also
	// takes upper case, braces, urn:uuid: and no dashes, which name the
	// same uuid but sort elsewhere among ids, so a page would start in
	// the wrong place.
	u, err := uuid.Parse(ref[len(prefix):])
	return err == nil && u.String() == ref[len(prefix):]
}

// IDFloor returns a string no greater than any id with the prefix that the
// engine made at or after t: ids carry their creation millisecond first, and
// the generator never goes back in time. A store may bound a time range of
// rows by id with it, on an index in id order, keeping the exact time test
// as a filter.
func IDFloor(prefix string, t time.Time) string {
	ms := t.UnixMilli()
	if ms <= 0 { // before any id: every id is above the bare prefix
		return prefix
	}
	return fmt.Sprintf("%s%08x-%04x", prefix, uint64(ms)>>16, uint64(ms)&0xffff)
}
