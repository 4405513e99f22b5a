package web

import (
	"net/http"

	"github.com/agentledger/agentledger/engine"
)

type ledgerData struct {
	Users  []userRow
	Next   string
	Verify *engine.LedgerReport // when asked for: ?verify=1
}

// ledger shows each user's balance, a page of users at a time, and on
// request the outcome of engine.VerifyLedger. Verifying reads the whole
// ledger, so it runs only when the Verify button asks for it.
func (h *Handler) ledger(w http.ResponseWriter, r *http.Request, sess *session) {
	ctx, a, q := r.Context(), sess.actor, r.URL.Query()
	d := &ledgerData{}
	v := view{Title: "Ledger", Nav: "ledger", Session: sess, Data: d}
	users, err := h.eng.ListUsers(ctx, a, engine.Page{Limit: recordsPageSize, StartingAfter: q.Get("starting_after")})
	if err != nil {
		h.fail(w, r, "ledger", v, err)
		return
	}
	for _, u := range users.Items {
		b, err := h.eng.UserBalance(ctx, a, u.ID, "")
		if err != nil {
			h.fail(w, r, "ledger", v, err)
			return
		}
		d.Users = append(d.Users, userRow{User: u, Balance: b})
	}
	if n := len(users.Items); n > 0 {
		d.Next = nextPage(r, "starting_after", users.HasMore, users.Items[n-1].ID, "verify")
	}
	if q.Get("verify") != "" {
		if d.Verify, err = h.eng.VerifyLedger(ctx, a); err != nil {
			h.fail(w, r, "ledger", v, err)
			return
		}
	}
	h.render(w, http.StatusOK, "ledger", v)
}
