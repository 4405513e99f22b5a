package web

import (
	"net/http"

	"github.com/agentledger/agentledger/engine"
)

var intentStatuses = []string{engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed, engine.IntentMatched,
	engine.IntentMismatched, engine.IntentDenied, engine.IntentCancelled, engine.IntentExpired}

type intentRow struct {
	Intent *engine.Intent
	Agent  string
}

type intentsData struct {
	AgentID, Status string
	Statuses        []string
	Rows            []intentRow
	Next            string
}

// intents lists intents in the engine's order (oldest first), filtered by
// agent and status.
func (h *Handler) intents(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	d := intentsData{AgentID: q.Get("agent_id"), Status: q.Get("status"), Statuses: intentStatuses}
	v := view{Title: "Intents", Nav: "intents", Session: sess, Data: &d}
	l, err := h.eng.ListIntents(r.Context(), sess.actor, engine.ListIntentsInput{Agent: d.AgentID, Status: d.Status,
		Page: engine.Page{Limit: recordsPageSize, StartingAfter: q.Get("starting_after")}})
	if err != nil {
		h.fail(w, r, "intents", v, err)
		return
	}
	names := h.agentNames(r, sess.actor)
	for _, i := range l.Items {
		name, err := names.name(i.AgentID)
		if err != nil {
			h.fail(w, r, "intents", v, err)
			return
		}
		d.Rows = append(d.Rows, intentRow{Intent: i, Agent: name})
	}
	if n := len(l.Items); n > 0 {
		d.Next = nextPage(r, "starting_after", l.HasMore, l.Items[n-1].ID)
	}
	h.render(w, http.StatusOK, "intents", v)
}

type intentData struct {
	Intent *engine.Intent
	Agent  string
	Open   bool // it may still be cancelled
}

func (h *Handler) intentData(r *http.Request, a engine.Actor, id string) (*intentData, error) {
	i, err := h.eng.GetIntent(r.Context(), a, id)
	if err != nil {
		return nil, err
	}
	d := &intentData{Intent: i}
	switch i.Status {
	case engine.IntentAwaitingApproval, engine.IntentPending, engine.IntentRevealed:
		d.Open = true
	}
	d.Agent, err = h.agentNames(r, a).name(i.AgentID)
	return d, err
}

// intent shows one intent with its attestation, and a Cancel button while
// it is open.
func (h *Handler) intent(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Intent", Nav: "intents", Session: sess}
	d, err := h.intentData(r, sess.actor, r.PathValue("intent"))
	if err != nil {
		h.fail(w, r, "intent", v, err)
		return
	}
	v.Title, v.Data = "Intent "+d.Intent.ID, d
	h.render(w, http.StatusOK, "intent", v)
}

// cancelIntent withdraws an open intent (engine.CancelIntent).
func (h *Handler) cancelIntent(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("intent")
	if _, err := h.eng.CancelIntent(r.Context(), sess.actor, engine.CancelIntentInput{IntentID: id}); err != nil {
		v := view{Title: "Intent", Nav: "intents", Session: sess}
		if d, derr := h.intentData(r, sess.actor, id); derr == nil {
			v.Title, v.Data = "Intent "+d.Intent.ID, d
		}
		h.fail(w, r, "intent", v, err)
		return
	}
	back(w, r, "/intents/"+id)
}
