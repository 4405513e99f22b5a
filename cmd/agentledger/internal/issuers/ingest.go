package issuers

import (
	"net/http"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

// ingest answers an issuer's event with what one engine call did to the
// ledger: 5xx when the database failed (the issuer should send the event
// again), otherwise 200 with what was applied and what was not (sending it
// again would not help). nothing is the answer when the event touched no
// authorization of ours.
func (h *Handler) ingest(w http.ResponseWriter, c *engine.NetworkChange, err error, nothing string) {
	switch code := engine.ErrorCode(err); {
	case code == engine.CodeNotFound:
		h.ingested(w, nothing)
		return
	case code == engine.CodeBusy, code == engine.CodeUnavailable, code == engine.CodeInternal:
		writeEngineError(w, err)
		return
	case code == engine.CodeIdempotencyConflict:
		// The event's key was used for something else: a failure to see,
		// not an event to acknowledge and lose.
		h.log.Error("an issuer event's idempotency key was already used", "err", engine.ErrorMessage(err))
		writeEngineError(w, err)
		return
	case err != nil:
		h.log.Warn("an issuer event could not be applied", "err", engine.ErrorMessage(err))
		h.ingested(w, "not applied: "+engine.ErrorMessage(err))
		return
	}
	var parts []string
	if len(c.Done) > 0 {
		parts = append(parts, "applied: "+strings.Join(c.Done, "; "))
	}
	if len(c.NotDone) > 0 {
		h.log.Warn("an issuer event could not be applied in full", "network_id", c.NetworkID, "not_applied", strings.Join(c.NotDone, "; "))
		parts = append(parts, "not applied: "+strings.Join(c.NotDone, "; "))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	h.ingested(w, strings.Join(parts, ". "))
}
