package web

import (
	"bytes"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
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
	Users       []userRow
	MoreUsers   bool
	Agents      []agentRow
	MoreAgents  bool
	Pending     int
	MorePending bool
	Declines    []declineCount
	Charts      []spendChart
}

// declineCount is how often one decline code answered this week.
type declineCount struct {
	Code  string
	Count int
}

// recentDeclines is how many of each agent's last declines fell within
// this many days.
const (
	recentDeclineDays = 7
	declinesPerAgent  = 20
	chartDays         = 30
)

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
	if d.Declines, err = h.recentDeclines(r, a, agents.Items); err != nil {
		h.fail(w, r, "overview", v, err)
		return
	}
	if d.Charts, err = h.spendCharts(r, a, agents.Items); err != nil {
		h.fail(w, r, "overview", v, err)
		return
	}
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
	Rows  []approvalRow
	More  bool
	Next  string // the cursor of the next (older) page
	After string // this page's cursor: the poll refreshes this page
}

func (h *Handler) approvalsData(r *http.Request, a engine.Actor) (approvalsData, error) {
	ctx := r.Context()
	after := r.URL.Query().Get("starting_after")
	l, err := h.eng.ListApprovals(ctx, a, engine.ListApprovalsInput{Newest: true,
		Page: engine.Page{Limit: pageSize, StartingAfter: after}})
	if err != nil {
		return approvalsData{}, err
	}
	d := approvalsData{More: l.HasMore, After: after}
	if l.HasMore {
		d.Next = l.Items[len(l.Items)-1].ID
	}
	names := h.agentNames(r, a)
	for _, dec := range l.Items {
		row := approvalRow{Decision: dec}
		if row.Agent, err = names.name(dec.AgentID); err != nil {
			return approvalsData{}, err
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

// recentDeclines counts, by code, the declines of the last week among each
// agent's latest ones: a few index reads per agent, not a table walk.
func (h *Handler) recentDeclines(r *http.Request, a engine.Actor, agents []*engine.Agent) ([]declineCount, error) {
	since := h.opts.Now().Add(-recentDeclineDays * 24 * time.Hour)
	counts := map[string]int{}
	for _, ag := range agents {
		l, err := h.eng.ListAuthorizations(r.Context(), a, engine.ListAuthorizationsInput{Agent: ag.ID,
			Status: engine.AuthDeclined, Page: engine.Page{Limit: declinesPerAgent}})
		if err != nil {
			return nil, err
		}
		for _, t := range l.Items {
			if t.CreatedAt.After(since) {
				counts[t.DeclineCode]++
			}
		}
	}
	var out []declineCount
	for code, n := range counts {
		out = append(out, declineCount{Code: code, Count: n})
	}
	slices.SortFunc(out, func(x, y declineCount) int {
		if x.Count != y.Count {
			return y.Count - x.Count
		}
		return strings.Compare(x.Code, y.Code)
	})
	return out, nil
}

// spendChart is one currency's spend per day, drawn as SVG bars.
type spendChart struct {
	Currency string
	Total    int64
	Max      int64
	Bars     []spendBar
}

type spendBar struct {
	Day    string
	Amount int64
	X, Y   int // the bar's top-left corner in the 600×120 drawing
	Height int
}

// spendCharts draws the agents' spend per day over the last 30 days.
func (h *Handler) spendCharts(r *http.Request, a engine.Actor, agents []*engine.Agent) ([]spendChart, error) {
	if len(agents) == 0 {
		return nil, nil
	}
	ids := make([]string, len(agents))
	for i, ag := range agents {
		ids[i] = ag.ID
	}
	rep, err := h.eng.SpendByDay(r.Context(), a, engine.SpendByDayInput{Agents: ids, Days: chartDays})
	if err != nil {
		return nil, err
	}
	var out []spendChart
	for _, cur := range slices.Sorted(maps.Keys(rep.ByCurrency)) {
		c := spendChart{Currency: cur}
		for _, v := range rep.ByCurrency[cur] {
			c.Total += v
			c.Max = max(c.Max, v)
		}
		const width, height = 600, 120
		for i, v := range rep.ByCurrency[cur] {
			bar := spendBar{Day: rep.Days[i], Amount: v, X: i * width / chartDays}
			if c.Max > 0 {
				bar.Height = int(v * height / c.Max)
			}
			bar.Y = height - bar.Height
			c.Bars = append(c.Bars, bar)
		}
		out = append(out, c)
	}
	return out, nil
}
