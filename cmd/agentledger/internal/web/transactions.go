package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"

	"github.com/agentledger/agentledger/engine"
)

// recordsPageSize is the page size of the record pages (transactions,
// intents, webhooks, ledger): pageSize, smaller only in tests.
var recordsPageSize = pageSize

// registerRecords parses the record pages and adds their routes: the
// transactions, intents, webhooks and ledger, each read through the same
// engine calls as the CLI and the REST API.
func (h *Handler) registerRecords() {
	for _, page := range []string{"transactions", "transaction", "intents", "intent", "webhooks", "ledger"} {
		h.pages[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/"+page+".html"))
	}
	h.mux.HandleFunc("GET /transactions", h.signedIn(h.transactions))
	h.mux.HandleFunc("GET /transactions/{txn}", h.signedIn(h.transaction))
	h.mux.HandleFunc("GET /intents", h.signedIn(h.intents))
	h.mux.HandleFunc("GET /intents/{intent}", h.signedIn(h.intent))
	h.mux.HandleFunc("POST /intents/{intent}/cancel", h.signedIn(h.cancelIntent))
	h.mux.HandleFunc("GET /webhooks", h.signedIn(h.webhooks))
	h.mux.HandleFunc("POST /webhooks/events/{event}/replay", h.signedIn(h.replay))
	h.mux.HandleFunc("GET /ledger", h.signedIn(h.ledger))
}

// nextPage is the link to the page after one that ended at lastID: the
// request's own query (its filters) with the cursor param set to lastID;
// "" when nothing follows. The params in drop are left out.
func nextPage(r *http.Request, param string, more bool, lastID string, drop ...string) string {
	if !more || lastID == "" {
		return ""
	}
	q := r.URL.Query()
	for _, p := range drop {
		q.Del(p)
	}
	q.Set(param, lastID)
	return r.URL.Path + "?" + q.Encode()
}

// agentNames names the agents of one page's rows, one lookup per agent.
type agentNames struct {
	h     *Handler
	ctx   context.Context
	actor engine.Actor
	names map[string]string
}

func (h *Handler) agentNames(r *http.Request, a engine.Actor) *agentNames {
	return &agentNames{h: h, ctx: r.Context(), actor: a, names: map[string]string{}}
}

func (n *agentNames) name(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if name, ok := n.names[id]; ok {
		return name, nil
	}
	ag, err := n.h.eng.GetAgent(n.ctx, n.actor, id)
	if err != nil {
		return "", err
	}
	n.names[id] = ag.Name
	return ag.Name, nil
}

// txnFilters are the transactions page's filters, as its form sends them.
type txnFilters struct {
	AgentID, CardID, Status, DeclineCode string
}

type txnRow struct {
	Auth  *engine.Authorization
	Agent string
}

type transactionsData struct {
	Filters      txnFilters
	Statuses     []string
	DeclineCodes []string
	Rows         []txnRow
	Next         string
}

var authStatuses = []string{engine.AuthApproved, engine.AuthDeclined, engine.AuthSettled, engine.AuthReversed, engine.AuthExpired}

// transactions lists authorizations newest first, filtered by agent, card,
// status and decline code.
func (h *Handler) transactions(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	d := transactionsData{Statuses: authStatuses, DeclineCodes: engine.DeclineCodes, Filters: txnFilters{
		AgentID: q.Get("agent_id"), CardID: q.Get("card_id"), Status: q.Get("status"), DeclineCode: q.Get("decline_code")}}
	v := view{Title: "Transactions", Nav: "transactions", Session: sess, Data: &d}
	l, err := h.eng.ListAuthorizations(r.Context(), sess.actor, engine.ListAuthorizationsInput{
		Agent: d.Filters.AgentID, CardID: d.Filters.CardID, Status: d.Filters.Status, DeclineCode: d.Filters.DeclineCode,
		Page: engine.Page{Limit: recordsPageSize, StartingAfter: q.Get("starting_after")}})
	if err != nil {
		h.fail(w, r, "transactions", v, err)
		return
	}
	names := h.agentNames(r, sess.actor)
	for _, a := range l.Items {
		name, err := names.name(a.AgentID)
		if err != nil {
			h.fail(w, r, "transactions", v, err)
			return
		}
		d.Rows = append(d.Rows, txnRow{Auth: a, Agent: name})
	}
	if n := len(l.Items); n > 0 {
		d.Next = nextPage(r, "starting_after", l.HasMore, l.Items[n-1].ID)
	}
	h.render(w, http.StatusOK, "transactions", v)
}

type transactionData struct {
	Auth      *engine.Authorization
	Agent     string
	Transfers []*engine.Transfer
}

// transaction shows one authorization: its fields, every check that ran,
// its risk signals and its ledger transfers.
func (h *Handler) transaction(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Transaction", Nav: "transactions", Session: sess}
	ctx, id := r.Context(), r.PathValue("txn")
	a, err := h.eng.GetAuthorization(ctx, sess.actor, id)
	if err != nil {
		h.fail(w, r, "transaction", v, err)
		return
	}
	d := transactionData{Auth: a}
	if d.Agent, err = h.agentNames(r, sess.actor).name(a.AgentID); err != nil {
		h.fail(w, r, "transaction", v, err)
		return
	}
	if d.Transfers, err = h.eng.AuthorizationTransfers(ctx, sess.actor, a.ID); err != nil {
		h.fail(w, r, "transaction", v, err)
		return
	}
	v.Title, v.Data = "Transaction "+a.ID, d
	h.render(w, http.StatusOK, "transaction", v)
}

// back is where a POST returns to: its own page.
func back(w http.ResponseWriter, r *http.Request, path string) {
	http.Redirect(w, r, (&url.URL{Path: path}).String(), http.StatusSeeOther)
}
