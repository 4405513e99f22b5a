package web

import (
	"bytes"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/agentledger/agentledger/engine"
)

// pageSize bounds every list a page shows: pages paginate, nothing loads a
// whole table.
const pageSize = 50

var funcs = template.FuncMap{
	"money": engine.FormatAmount,
	"moneyOr": func(amount *int64, currency, none string) string {
		if amount == nil {
			return none
		}
		return engine.FormatAmount(*amount, currency)
	},
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
}

type userRow struct {
	User    *engine.User
	Balance *engine.Balance
}

type agentRow struct {
	Agent  *engine.Agent
	Limits *engine.LimitsReport
}

type overviewData struct {
	Users        []userRow
	MoreUsers    bool
	Agents       []agentRow
	MoreAgents   bool
	Pending      int
	MorePending  bool
	RecentDenied int
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Overview", Nav: "overview", Session: sess}
	ctx, a := r.Context(), sess.actor
	var d overviewData
	users, err := h.eng.ListUsers(ctx, a, engine.Page{Limit: pageSize})
	if err != nil {
		h.fail(w, r, "overview", v, err)
		return
	}
	d.MoreUsers = users.HasMore
	for _, u := range users.Items {
		b, err := h.eng.UserBalance(ctx, a, u.ID, "")
		if err != nil {
			h.fail(w, r, "overview", v, err)
			return
		}
		d.Users = append(d.Users, userRow{User: u, Balance: b})
	}
	agents, err := h.eng.ListAgents(ctx, a, "", engine.Page{Limit: pageSize})
	if err != nil {
		h.fail(w, r, "overview", v, err)
		return
	}
	d.MoreAgents = agents.HasMore
	for _, ag := range agents.Items {
		l, err := h.eng.Limits(ctx, a, ag.ID)
		if err != nil {
			h.fail(w, r, "overview", v, err)
			return
		}
		d.Agents = append(d.Agents, agentRow{Agent: ag, Limits: l})
	}
	pending, err := h.eng.ListApprovals(ctx, a, engine.ListApprovalsInput{Page: engine.Page{Limit: engine.MaxPageLimit}})
	if err != nil {
		h.fail(w, r, "overview", v, err)
		return
	}
	d.Pending, d.MorePending = len(pending.Items), pending.HasMore
	v.Data = d
	h.render(w, http.StatusOK, "overview", v)
}

// approvalRow is one request in the queue, with what a human needs to
// decide it.
type approvalRow struct {
	Decision *engine.Decision
	Agent    string
	Summary  string // the intent's, for an intent's approval
}

type approvalsData struct {
	Rows []approvalRow
	More bool
}

func (h *Handler) approvalsData(r *http.Request, a engine.Actor) (approvalsData, error) {
	ctx := r.Context()
	l, err := h.eng.ListApprovals(ctx, a, engine.ListApprovalsInput{Page: engine.Page{Limit: pageSize}})
	if err != nil {
		return approvalsData{}, err
	}
	d := approvalsData{More: l.HasMore}
	names := map[string]string{}
	for _, dec := range slices.Backward(l.Items) { // newest first
		row := approvalRow{Decision: dec, Agent: names[dec.AgentID]}
		if row.Agent == "" {
			ag, err := h.eng.GetAgent(ctx, a, dec.AgentID)
			if err != nil {
				return approvalsData{}, err
			}
			row.Agent, names[dec.AgentID] = ag.Name, ag.Name
		}
		if dec.IntentID != "" {
			i, err := h.eng.GetIntent(ctx, a, dec.IntentID)
			if err != nil {
				return approvalsData{}, err
			}
			row.Summary = i.Summary
		}
		d.Rows = append(d.Rows, row)
	}
	return d, nil
}

func (h *Handler) approvals(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Approvals", Nav: "approvals", Session: sess}
	d, err := h.approvalsData(r, sess.actor)
	if err != nil {
		h.fail(w, r, "approvals", v, err)
		return
	}
	v.Data = d
	h.render(w, http.StatusOK, "approvals", v)
}

// approvalRows is the queue's table alone, which the approvals page polls
// so that a new request appears without a reload.
func (h *Handler) approvalRows(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := h.approvalsData(r, sess.actor)
	if err != nil {
		h.fail(w, r, "approvals", view{Session: sess}, err)
		return
	}
	var b bytes.Buffer
	if err := h.pages["approval_rows"].ExecuteTemplate(&b, "rows", view{Session: sess,
		Viewer: sess.actor.Role != engine.RoleAdmin, Data: d}); err != nil {
		h.log.Error("web: render rows", "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b.Bytes())
}

// decide approves or denies a request, with the operator's reason.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, sess *session) {
	in := engine.DecideInput{DecisionID: r.PathValue("decision"), Note: r.PostFormValue("reason")}
	var err error
	switch r.PathValue("outcome") {
	case "approve":
		_, err = h.eng.Approve(r.Context(), sess.actor, in)
	case "deny":
		_, err = h.eng.Deny(r.Context(), sess.actor, in)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		v := view{Title: "Approvals", Nav: "approvals", Session: sess}
		if d, derr := h.approvalsData(r, sess.actor); derr == nil {
			v.Data = d
		}
		h.fail(w, r, "approvals", v, err)
		return
	}
	http.Redirect(w, r, "/approvals", http.StatusSeeOther)
}
