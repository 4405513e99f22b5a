package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

var cardFuncs = template.FuncMap{
	// cardTable is what the card table template needs: the list and the
	// session's role and token.
	"cardTable": func(v view, d cardsData) cardTableView {
		t := cardTableView{Viewer: v.Viewer, Cards: d}
		if v.Session != nil {
			t.CSRF = v.Session.CSRF()
		}
		return t
	},
}

type cardTableView struct {
	CSRF   string
	Viewer bool
	Cards  cardsData
}

type cardRow struct {
	Card  *engine.Card
	Agent string
}

type cardsData struct {
	AgentID string // the agent the list is of; "" for every card
	Rows    []cardRow
	Next    string // the next page's starting_after; "" on the last page
	Back    string // where a button's action returns
}

// cardsData loads a page of cards, optionally of one agent, with their
// agents' names.
func (h *Handler) cardsData(r *http.Request, a engine.Actor, agentRef, after string) (cardsData, error) {
	ctx := r.Context()
	l, err := h.eng.ListCards(ctx, a, agentRef, engine.Page{Limit: pageSize, StartingAfter: after})
	if err != nil {
		return cardsData{}, err
	}
	d := cardsData{AgentID: agentRef, Back: "/cards"}
	if agentRef != "" {
		d.Back += "?agent_id=" + url.QueryEscape(agentRef)
	}
	names := h.agentNames(r, a)
	for _, c := range l.Items {
		row := cardRow{Card: c}
		if row.Agent, err = names.name(c.AgentID); err != nil {
			return cardsData{}, err
		}
		d.Rows = append(d.Rows, row)
	}
	if l.HasMore && len(l.Items) > 0 {
		d.Next = l.Items[len(l.Items)-1].ID
	}
	return d, nil
}

func (h *Handler) cards(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Cards", Nav: "cards", Session: sess}
	q := r.URL.Query()
	d, err := h.cardsData(r, sess.actor, q.Get("agent_id"), q.Get("starting_after"))
	if err != nil {
		h.fail(w, r, "cards", v, err)
		return
	}
	v.Data = d
	h.render(w, http.StatusOK, "cards", v)
}

// cardsFail renders the first page of cards with the error of an action.
func (h *Handler) cardsFail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	v := view{Title: "Cards", Nav: "cards", Session: sess}
	if d, derr := h.cardsData(r, sess.actor, "", ""); derr == nil {
		v.Data = d
	}
	h.fail(w, r, "cards", v, err)
}

// cardAction freezes, unfreezes or closes one card; closing, which cannot
// be undone, asks first.
func (h *Handler) cardAction(w http.ResponseWriter, r *http.Request, sess *session) {
	in := engine.CardActionInput{CardID: r.PathValue("card")}
	back := localPath(r.PostFormValue("back"), "/cards")
	var err error
	switch r.PathValue("action") {
	case "freeze":
		_, err = h.eng.FreezeCard(r.Context(), sess.actor, in)
	case "unfreeze":
		_, err = h.eng.UnfreezeCard(r.Context(), sess.actor, in)
	case "close":
		if unconfirmed(r, sess) {
			c, err := h.eng.GetCard(r.Context(), sess.actor, in.CardID)
			if err != nil {
				h.cardsFail(w, r, sess, err)
				return
			}
			h.confirm(w, sess, confirmData{Question: "Close card •••• " + c.Last4 + "?",
				Detail: "A closed card never works again, and its open intents are cancelled. This cannot be undone.",
				Action: "/cards/" + c.ID + "/close", Button: "Close card •••• " + c.Last4, Back: back})
			return
		}
		_, err = h.eng.CloseCard(r.Context(), sess.actor, in)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		h.cardsFail(w, r, sess, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// freezeAllCards is the emergency stop: every card of every agent, after a
// confirmation.
func (h *Handler) freezeAllCards(w http.ResponseWriter, r *http.Request, sess *session) {
	if unconfirmed(r, sess) {
		h.confirm(w, sess, confirmData{Question: "Freeze every card?",
			Detail: "Every active card of every agent stops working until an operator unfreezes it.",
			Action: "/cards/freeze-all", Button: "Freeze every card", Back: "/cards"})
		return
	}
	if _, err := h.eng.FreezeAllCards(r.Context(), sess.actor, engine.FreezeAllCardsInput{}); err != nil {
		h.cardsFail(w, r, sess, err)
		return
	}
	http.Redirect(w, r, "/cards", http.StatusSeeOther)
}

// confirmData is a confirmation step: a form that posts the action again,
// confirmed. The CSP allows no inline script, so no JavaScript confirm().
type confirmData struct {
	Question, Detail, Action, Button, Back string
}

// unconfirmed reports whether an action must ask first. A viewer is not
// asked (it would see a button): the engine refuses its call.
func unconfirmed(r *http.Request, sess *session) bool {
	return r.PostFormValue("confirmed") != "yes" && sess.actor.Role == engine.RoleAdmin
}

func (h *Handler) confirm(w http.ResponseWriter, sess *session, d confirmData) {
	h.render(w, http.StatusOK, "confirm", view{Title: "Confirm", Session: sess, Data: d})
}

// localPath returns p if it is a path on this site, else def: a form's
// return address must not send the browser elsewhere.
func localPath(p, def string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.Contains(p, `\`) {
		return def
	}
	return p
}
