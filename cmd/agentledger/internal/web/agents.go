package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/agentledger/agentledger/engine"
)

// registerAgents adds the agents and cards pages: the agent list, an
// agent's page with its mode, policy, keys and cards, and the card list with
// its freeze, unfreeze and close buttons.
func (h *Handler) registerAgents() {
	for _, page := range []string{"agents", "agent", "cards", "confirm"} {
		h.pages[page] = template.Must(template.New("layout.html").Funcs(funcs).Funcs(cardFuncs).ParseFS(templateFS,
			"templates/layout.html", "templates/card_table.html", "templates/"+page+".html"))
	}
	h.mux.HandleFunc("GET /agents", h.signedIn(h.agents))
	h.mux.HandleFunc("GET /agents/{agent}", h.signedIn(h.agent))
	h.mux.HandleFunc("POST /agents/{agent}/mode", h.signedIn(h.setMode))
	h.mux.HandleFunc("POST /agents/{agent}/policy", h.signedIn(h.patchPolicy))
	h.mux.HandleFunc("POST /agents/{agent}/freeze-cards", h.signedIn(h.freezeAgentCards))
	h.mux.HandleFunc("GET /cards", h.signedIn(h.cards))
	h.mux.HandleFunc("POST /cards/freeze-all", h.signedIn(h.freezeAllCards))
	h.mux.HandleFunc("POST /cards/{card}/{action}", h.signedIn(h.cardAction))
}

type agentsData struct {
	Rows []agentListRow
	Next string // the next page's starting_after; "" on the last page
}

type agentListRow struct {
	Agent  *engine.Agent
	User   string
	Limits *engine.LimitsReport
}

func (h *Handler) agents(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Agents", Nav: "agents", Session: sess}
	ctx, a := r.Context(), sess.actor
	l, err := h.eng.ListAgents(ctx, a, "", engine.Page{Limit: pageSize, StartingAfter: r.URL.Query().Get("starting_after")})
	if err != nil {
		h.fail(w, r, "agents", v, err)
		return
	}
	var d agentsData
	users := map[string]string{}
	for _, ag := range l.Items {
		row := agentListRow{Agent: ag, User: users[ag.UserID]}
		if row.User == "" {
			u, err := h.eng.GetUser(ctx, a, ag.UserID)
			if err != nil {
				h.fail(w, r, "agents", v, err)
				return
			}
			row.User, users[ag.UserID] = u.Name, u.Name
		}
		if row.Limits, err = h.eng.Limits(ctx, a, ag.ID); err != nil {
			h.fail(w, r, "agents", v, err)
			return
		}
		d.Rows = append(d.Rows, row)
	}
	if l.HasMore && len(l.Items) > 0 {
		d.Next = l.Items[len(l.Items)-1].ID
	}
	v.Data = d
	h.render(w, http.StatusOK, "agents", v)
}

// policyField is one input of the policy form: its value as the operator
// typed it (or as the policy has it), the value the form was loaded with
// (so that a save patches only what the operator changed), and the error of
// the last save, beside it.
type policyField struct {
	Name, Label, Kind string // Kind: amount, int, list, bool, tristate, currency
	Hint              string // the placeholder: what an empty input means
	Value, Was, Error string
}

// ID is the field's element id (velocity.count → f-velocity-count).
func (f policyField) ID() string {
	return "f-" + strings.NewReplacer(".", "-", "_", "-").Replace(f.Name)
}

// policyForm lists every field of a policy, in the form's order, with the
// policy's values.
func policyForm(p engine.Policy) []policyField {
	cur := p.Effective().Currency
	amount := func(v *int64) string {
		if v == nil {
			return ""
		}
		return engine.DecimalString(*v, cur)
	}
	num := func(v *int64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatInt(*v, 10)
	}
	list := func(l []string) string { return strings.Join(l, ", ") }
	// Merchant names may contain commas ("Casino, Ltd."): one per line.
	lines := func(l []string) string { return strings.Join(l, "\n") }
	var vc, vw string
	if p.Velocity != nil {
		vc, vw = strconv.FormatInt(p.Velocity.Count, 10), strconv.FormatInt(p.Velocity.WindowSeconds, 10)
	}
	tri := ""
	if p.IntentRequired != nil {
		tri = strconv.FormatBool(*p.IntentRequired)
	}
	fields := []policyField{
		{Name: "currency", Label: "Currency", Kind: "currency", Hint: engine.DefaultCurrency, Value: p.Currency},
		{Name: "per_transaction_limit", Label: "Per transaction limit", Kind: "amount", Hint: "no limit", Value: amount(p.PerTransactionLimit)},
		{Name: "daily_limit", Label: "Daily limit", Kind: "amount", Hint: "no limit", Value: amount(p.DailyLimit)},
		{Name: "monthly_limit", Label: "Monthly limit", Kind: "amount", Hint: "no limit", Value: amount(p.MonthlyLimit)},
		{Name: "lifetime_limit", Label: "Lifetime limit", Kind: "amount", Hint: "no limit", Value: amount(p.LifetimeLimit)},
		{Name: "approval_threshold", Label: "Approval above", Kind: "amount", Hint: "never", Value: amount(p.ApprovalThreshold)},
		{Name: "max_transactions_per_day", Label: "Transactions per day", Kind: "int", Hint: "no limit", Value: num(p.MaxTransactionsPerDay)},
		{Name: "velocity.count", Label: "Velocity: spends", Kind: "int", Hint: "no limit", Value: vc},
		{Name: "velocity.window_seconds", Label: "Velocity: per seconds", Kind: "int", Hint: "no limit", Value: vw},
		{Name: "allowed_mccs", Label: "Allowed MCCs", Kind: "list", Hint: "any", Value: list(p.AllowedMCCs)},
		{Name: "blocked_mccs", Label: "Blocked MCCs", Kind: "list", Hint: "none", Value: list(p.BlockedMCCs)},
		{Name: "allowed_merchants", Label: "Allowed merchants (one a line)", Kind: "lines", Hint: "any", Value: lines(p.AllowedMerchants)},
		{Name: "blocked_merchants", Label: "Blocked merchants (one a line)", Kind: "lines", Hint: "none", Value: lines(p.BlockedMerchants)},
		{Name: "blocked_action_types", Label: "Blocked action types", Kind: "list", Hint: "none", Value: list(p.BlockedActionTypes)},
		{Name: "allow_reduce", Label: "Allow reduce", Kind: "bool", Value: strconv.FormatBool(p.AllowReduce)},
		{Name: "intent_required", Label: "Intent required", Kind: "tristate", Hint: "default (yes)", Value: tri},
		{Name: "intent_tolerance_pct", Label: "Intent tolerance %", Kind: "int", Hint: fmt.Sprint(engine.DefaultIntentTolerancePct), Value: num(p.IntentTolerancePct)},
		{Name: "intent_ttl_seconds", Label: "Intent lifetime (s)", Kind: "int", Hint: fmt.Sprint(engine.DefaultIntentTTLSeconds), Value: num(p.IntentTTLSeconds)},
		{Name: "risk_review_score", Label: "Risk review score", Kind: "int", Hint: "off", Value: num(p.RiskReviewScore)},
		{Name: "risk_decline_score", Label: "Risk decline score", Kind: "int", Hint: "off", Value: num(p.RiskDeclineScore)},
		{Name: "client_approval", Label: "Client approval", Kind: "bool", Value: strconv.FormatBool(p.ClientApproval)},
		{Name: "approval_ttl_seconds", Label: "Approval lifetime (s)", Kind: "int", Hint: fmt.Sprint(engine.DefaultApprovalTTLSeconds), Value: num(p.ApprovalTTLSeconds)},
	}
	for i := range fields {
		fields[i].Was = fields[i].Value
	}
	return fields
}

type agentData struct {
	Agent      *engine.Agent
	User       *engine.User
	Limits     *engine.LimitsReport
	Modes      []string
	Policy     []policyField
	Keys       []*engine.APIKey
	KeysHidden bool // the actor may not list keys (a viewer)
	Cards      cardsData
}

// agentData loads what an agent's page shows, from engine calls.
func (h *Handler) agentData(r *http.Request, a engine.Actor, ref string) (agentData, error) {
	ctx := r.Context()
	ag, err := h.eng.GetAgent(ctx, a, ref)
	if err != nil {
		return agentData{}, err
	}
	d := agentData{Agent: ag, Modes: []string{engine.ModeLive, engine.ModePaper, engine.ModeApprovalOnly, engine.ModeDisabled},
		Policy: policyForm(ag.Policy)}
	if d.User, err = h.eng.GetUser(ctx, a, ag.UserID); err != nil {
		return agentData{}, err
	}
	if d.Limits, err = h.eng.Limits(ctx, a, ag.ID); err != nil {
		return agentData{}, err
	}
	// Keys have no per-agent listing: page through them all (there are few).
	for page := (engine.Page{Limit: engine.MaxPageLimit}); ; {
		l, err := h.eng.ListKeys(ctx, a, page)
		if engine.ErrorCode(err) == engine.CodeForbidden {
			d.KeysHidden = true
			break
		} else if err != nil {
			return agentData{}, err
		}
		for _, k := range l.Items {
			if k.AgentID == ag.ID {
				d.Keys = append(d.Keys, k)
			}
		}
		if !l.HasMore || len(l.Items) == 0 {
			break
		}
		page.StartingAfter = l.Items[len(l.Items)-1].ID
	}
	if d.Cards, err = h.cardsData(r, a, ag.ID, ""); err != nil {
		return agentData{}, err
	}
	d.Cards.Back = "/agents/" + ag.ID
	return d, nil
}

func (h *Handler) agent(w http.ResponseWriter, r *http.Request, sess *session) {
	v := view{Title: "Agent", Nav: "agents", Session: sess}
	d, err := h.agentData(r, sess.actor, r.PathValue("agent"))
	if err != nil {
		h.fail(w, r, "agent", v, err)
		return
	}
	v.Title, v.Data = d.Agent.Name, d
	h.render(w, http.StatusOK, "agent", v)
}

// agentFail renders an agent's page with the error of an action on it;
// edit, when set, replaces the policy form (to keep what was typed).
func (h *Handler) agentFail(w http.ResponseWriter, r *http.Request, sess *session, edit []policyField, err error) {
	v := view{Title: "Agent", Nav: "agents", Session: sess}
	if d, derr := h.agentData(r, sess.actor, r.PathValue("agent")); derr == nil {
		if edit != nil {
			d.Policy = edit
		}
		v.Title, v.Data = d.Agent.Name, d
	}
	h.fail(w, r, "agent", v, err)
}

func (h *Handler) setMode(w http.ResponseWriter, r *http.Request, sess *session) {
	ag, err := h.eng.SetAgentMode(r.Context(), sess.actor, engine.SetModeInput{Agent: r.PathValue("agent"),
		Mode: r.PostFormValue("mode")})
	if err != nil {
		h.agentFail(w, r, sess, nil, err)
		return
	}
	http.Redirect(w, r, "/agents/"+url.PathEscape(ag.ID), http.StatusSeeOther)
}

// patchPolicy saves the policy form as one merge patch of the fields the
// operator changed: amounts typed in major units are read exactly in the
// policy's currency, an empty input is null (no limit, or the default).
// Any error is shown beside its field, with the form as typed, and nothing
// is saved.
func (h *Handler) patchPolicy(w http.ResponseWriter, r *http.Request, sess *session) {
	ag, err := h.eng.GetAgent(r.Context(), sess.actor, r.PathValue("agent"))
	if err != nil {
		h.agentFail(w, r, sess, nil, err)
		return
	}
	fields := policyForm(ag.Policy)
	byName := map[string]*policyField{}
	for i := range fields {
		f := &fields[i]
		byName[f.Name] = f
		f.Value, f.Was = strings.TrimSpace(r.PostFormValue(f.Name)), r.PostFormValue("was."+f.Name)
		if f.Kind == "bool" {
			f.Value = strconv.FormatBool(f.Value == "true")
		}
	}
	patch, ferr := buildPatch(fields, byName, ag.Policy.Effective().Currency)
	if ferr == nil && len(patch) == 0 {
		http.Redirect(w, r, "/agents/"+url.PathEscape(ag.ID), http.StatusSeeOther) // nothing changed
		return
	}
	if ferr == nil {
		_, ferr = h.eng.PatchPolicy(r.Context(), sess.actor, engine.PatchPolicyInput{Agent: ag.ID, Patch: patch})
		if ferr == nil {
			http.Redirect(w, r, "/agents/"+url.PathEscape(ag.ID), http.StatusSeeOther)
			return
		}
	}
	var ee *engine.Error
	if errors.As(ferr, &ee) && ee.Field != "" {
		name := ee.Field
		if name == "velocity" {
			name = "velocity.count"
		}
		if f := byName[name]; f != nil {
			f.Error = ee.Message
			ferr = &engine.Error{Code: ee.Code, Field: ee.Field, Message: "The policy was not saved: " + ee.Message}
		}
	}
	h.agentFail(w, r, sess, fields, ferr)
}

// buildPatch turns the changed fields of the form into a merge patch. When
// the currency changes every amount is sent again, read in the new one.
// plainDecimal is an amount as an operator types it.
var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func buildPatch(fields []policyField, byName map[string]*policyField, current string) (map[string]json.RawMessage, error) {
	patch := map[string]json.RawMessage{}
	cur := strings.ToUpper(byName["currency"].Value)
	if cur == "" {
		cur = engine.DefaultCurrency
	}
	if _, ok := engine.CurrencyExponent(cur); !ok {
		return nil, &engine.Error{Code: engine.CodeInvalidInput, Field: "currency",
			Message: fmt.Sprintf("currency: unknown currency %q", byName["currency"].Value)}
	}
	if cur != current {
		// The engine keeps each amount's minor units when the currency
		// changes (as the CLI and the REST API do): a form that also
		// changed amounts would mean something else, so it changes the
		// currency alone.
		for _, f := range fields {
			if f.Name != "currency" && f.Value != f.Was {
				return nil, &engine.Error{Code: engine.CodeInvalidInput, Field: "currency",
					Message: "currency: change the currency on its own; each amount keeps its minor units " +
						"(100.00 USD becomes 10,000 JPY), then set the amounts"}
			}
		}
		return map[string]json.RawMessage{"currency": json.RawMessage(strconv.Quote(cur))}, nil
	}
	raw := func(v any) json.RawMessage {
		b, _ := json.Marshal(v)
		return b
	}
	null := json.RawMessage("null")
	integer := func(f *policyField) (int64, error) {
		n, err := strconv.ParseInt(f.Value, 10, 64)
		if err != nil {
			return 0, &engine.Error{Code: engine.CodeInvalidInput, Field: f.Name,
				Message: fmt.Sprintf("%s: must be a whole number, got %q", f.Name, f.Value)}
		}
		return n, nil
	}
	for i := range fields {
		f := &fields[i]
		changed := f.Value != f.Was
		if !changed || strings.HasPrefix(f.Name, "velocity.") {
			continue
		}
		if f.Value == "" {
			patch[f.Name] = null
			continue
		}
		switch f.Kind {
		case "amount":
			if !plainDecimal.MatchString(f.Value) { // as typed: no exponent, sign or grouping
				return nil, &engine.Error{Code: engine.CodeInvalidInput, Field: f.Name,
					Message: fmt.Sprintf("%s: must be a number such as 120 or 4832.50, got %q", f.Name, f.Value)}
			}
			n, err := engine.ParseDecimal(f.Name, f.Value, cur)
			if err != nil {
				return nil, err
			}
			patch[f.Name] = raw(n)
		case "int":
			n, err := integer(f)
			if err != nil {
				return nil, err
			}
			patch[f.Name] = raw(n)
		case "list", "lines":
			sep := ","
			if f.Kind == "lines" {
				sep = "\n"
			}
			var list []string
			for _, s := range strings.Split(f.Value, sep) {
				if s = strings.TrimSpace(s); s != "" {
					list = append(list, s)
				}
			}
			if len(list) == 0 {
				patch[f.Name] = null
			} else {
				patch[f.Name] = raw(list)
			}
		case "bool", "tristate":
			patch[f.Name] = raw(f.Value == "true")
		case "currency":
			patch[f.Name] = raw(f.Value)
		}
	}
	count, window := byName["velocity.count"], byName["velocity.window_seconds"]
	if count.Value != count.Was || window.Value != window.Was {
		switch {
		case count.Value == "" && window.Value == "":
			patch["velocity"] = null
		case count.Value == "" || window.Value == "":
			empty := count
			if window.Value == "" {
				empty = window
			}
			return nil, &engine.Error{Code: engine.CodeInvalidInput, Field: empty.Name,
				Message: empty.Name + ": give both the number of spends and the window, or neither"}
		default:
			c, err := integer(count)
			if err != nil {
				return nil, err
			}
			s, err := integer(window)
			if err != nil {
				return nil, err
			}
			patch["velocity"] = raw(engine.Velocity{Count: c, WindowSeconds: s})
		}
	}
	return patch, nil
}

func (h *Handler) freezeAgentCards(w http.ResponseWriter, r *http.Request, sess *session) {
	ag, err := h.eng.GetAgent(r.Context(), sess.actor, r.PathValue("agent"))
	if err != nil {
		h.agentFail(w, r, sess, nil, err)
		return
	}
	back := "/agents/" + ag.ID
	if unconfirmed(r, sess) {
		h.confirm(w, sess, confirmData{Question: "Freeze every card of " + ag.Name + "?",
			Detail: "Every active card of this agent stops working until an operator unfreezes it.",
			Action: "/agents/" + ag.ID + "/freeze-cards", Button: "Freeze every card of " + ag.Name, Back: back})
		return
	}
	if _, err := h.eng.FreezeAgentCards(r.Context(), sess.actor, engine.AgentCardsInput{Agent: ag.ID}); err != nil {
		h.agentFail(w, r, sess, nil, err)
		return
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
