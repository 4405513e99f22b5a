package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	formTag   = regexp.MustCompile(`(?s)<form method="post" action="([^"]+)"[^>]*>(.*?)</form>`)
	inputTag  = regexp.MustCompile(`<input\b[^>]*>`)
	selectTag = regexp.MustCompile(`(?s)<select\b[^>]*name="([^"]*)"[^>]*>(.*?)</select>`)
	attr      = regexp.MustCompile(`\b(name|value|type|checked)(?:="([^"]*)")?`)
	selected  = regexp.MustCompile(`<option value="([^"]*)" selected>`)
)

// form reads the form that posts to action on a page as a browser would
// submit it: its inputs' values (checked boxes only) and selected options.
func form(t testing.TB, body, action string) url.Values {
	t.Helper()
	for _, m := range formTag.FindAllStringSubmatch(body, -1) {
		if m[1] != action {
			continue
		}
		vals := url.Values{}
		for _, tag := range inputTag.FindAllString(m[2], -1) {
			a := map[string]string{}
			for _, kv := range attr.FindAllStringSubmatch(tag, -1) {
				a[kv[1]] = html.UnescapeString(kv[2])
			}
			if _, checked := a["checked"]; a["type"] == "checkbox" && !checked {
				continue
			}
			vals.Add(a["name"], a["value"])
		}
		for _, s := range selectTag.FindAllStringSubmatch(m[2], -1) {
			v := ""
			if o := selected.FindStringSubmatch(s[2]); o != nil {
				v = html.UnescapeString(o[1])
			}
			vals.Set(s[1], v)
		}
		return vals
	}
	require.Fail(t, "no form posting to "+action)
	return nil
}

// agentNow is the agent as the engine has it.
func (r *rig) agentNow() *engine.Agent {
	r.t.Helper()
	a, err := r.env.Engine.GetAgent(r.env.Ctx, engine.Operator, r.agent.ID)
	require.NoError(r.t, err)
	return a
}

// editPolicy loads the agent's page, changes the policy form's fields and
// submits it.
func (b *browser) editPolicy(changes map[string]string) page {
	b.r.t.Helper()
	p := b.do("GET", "/agents/"+b.r.agent.ID, nil)
	require.Equal(b.r.t, http.StatusOK, p.status, p.body)
	f := form(b.r.t, p.body, "/agents/"+b.r.agent.ID+"/policy")
	for k, v := range changes {
		f.Set(k, v)
	}
	return b.do("POST", "/agents/"+b.r.agent.ID+"/policy", f)
}

func TestTheAgentsList(t *testing.T) {
	r := newRig(t)
	u, err := r.env.Engine.GetUser(r.env.Ctx, engine.Operator, r.agent.UserID)
	require.NoError(t, err)
	r.env.Agent("capped", u, engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](500_00), MonthlyLimit: sqlitetest.Ptr[int64](2000_00)}})
	b := r.browser()
	b.signIn(engine.RoleViewer)
	p := b.do("GET", "/agents", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, `href="/agents/`+r.agent.ID+`"`)
	assert.Contains(t, p.body, "capped")
	assert.Contains(t, p.body, "Acme Corp")
	assert.Contains(t, p.body, "$0.00 of $500.00")
	assert.Contains(t, p.body, "$0.00 of $2,000.00")
	assert.Contains(t, p.body, `<a href="/agents" aria-current="page">Agents</a>`)
	assert.NotContains(t, p.body, "Next page", "one page")
	assert.Equal(t, http.StatusBadRequest, b.do("GET", "/agents?starting_after=nope", nil).status)
}

func TestTheAgentsListPages(t *testing.T) {
	r := newRig(t)
	u, err := r.env.Engine.GetUser(r.env.Ctx, engine.Operator, r.agent.UserID)
	require.NoError(t, err)
	var last *engine.Agent
	for i := range 50 {
		last = r.env.Agent("bot-"+string(rune('a'+i/26))+string(rune('a'+i%26)), u, engine.Policy{})
	}
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/agents", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, 50, strings.Count(p.body, `<tr id="agent-`), "a page of 50")
	assert.NotContains(t, p.body, last.ID)
	next := regexp.MustCompile(`href="(/agents\?starting_after=[^"]+)" rel="next"`).FindStringSubmatch(p.body)
	require.NotNil(t, next)
	p = b.do("GET", html.UnescapeString(next[1]), nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, 1, strings.Count(p.body, `<tr id="agent-`))
	assert.Contains(t, p.body, last.ID)
	assert.NotContains(t, p.body, "Next page")
}

func TestTheAgentPage(t *testing.T) {
	r := newRig(t)
	card := r.env.Card(r.agent)
	named, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: r.agent.ID, Name: "laptop"})
	require.NoError(t, err)
	_, err = r.env.Engine.RevokeKey(r.env.Ctx, engine.Operator, engine.RevokeKeyInput{KeyID: named.ID})
	require.NoError(t, err)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/agents/"+r.agent.ID, nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, "<h1>checkout-bot</h1>")
	assert.Contains(t, p.body, `<option value="live" selected>`)
	assert.Contains(t, p.body, `name="approval_threshold" value="100.00"`)
	assert.Contains(t, p.body, "•••• "+card.Last4)
	assert.Contains(t, p.body, `href="/cards?agent_id=`+r.agent.ID+`"`)
	assert.Contains(t, p.body, "laptop")
	assert.Contains(t, p.body, named.Prefix)
	assert.Equal(t, 2, strings.Count(p.body, `<tr id="key-`), "the agent's two keys, not the admin's or viewer's")
	assert.NotContains(t, p.body, r.keys[engine.RoleAgent], "never a secret")
	for _, field := range []string{"per_transaction_limit", "daily_limit", "monthly_limit", "lifetime_limit",
		"max_transactions_per_day", "velocity.count", "velocity.window_seconds", "approval_threshold", "allowed_mccs",
		"blocked_mccs", "allowed_merchants", "blocked_merchants", "blocked_action_types", "allow_reduce",
		"intent_required", "intent_tolerance_pct", "intent_ttl_seconds", "risk_review_score", "risk_decline_score",
		"client_approval", "approval_ttl_seconds", "currency"} {
		assert.Contains(t, p.body, `name="`+field+`"`, "every policy field is editable")
	}
	assert.Equal(t, http.StatusNotFound, b.do("GET", "/agents/nosuch", nil).status)
}

func TestEditThePolicy(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.signIn(engine.RoleAdmin)

	for _, tc := range []struct{ field, id, typed, message string }{
		{"daily_limit", "f-daily-limit", "-5", "must be a number such as 120"},
		{"daily_limit", "f-daily-limit", "2e3", "must be a number such as 120"},
		{"daily_limit", "f-daily-limit", "1.005", "more decimal places"},
		{"monthly_limit", "f-monthly-limit", "lots", "must be a number"},
		{"risk_review_score", "f-risk-review-score", "500", "between 1 and 100"},
		{"velocity.window_seconds", "f-velocity-window-seconds", "", "give both"},
		{"allowed_mccs", "f-allowed-mccs", "5411, food", "4-digit"},
	} {
		t.Run(tc.field+"="+tc.typed, func(t *testing.T) {
			changes := map[string]string{tc.field: tc.typed, "per_transaction_limit": "42.00"}
			if tc.field == "velocity.window_seconds" {
				changes["velocity.count"] = "5"
			}
			p := b.editPolicy(changes)
			require.Equal(t, http.StatusBadRequest, p.status, p.body)
			assert.Contains(t, p.body, `role="alert"`)
			beside := regexp.MustCompile(`(?s)id="` + regexp.QuoteMeta(tc.id) + `" name="[^"]+" value="([^"]*)"[^>]*aria-invalid="true"[^>]*>\s*<input type="hidden"[^>]*>\s*<span class="field-error" id="` +
				regexp.QuoteMeta(tc.id) + `-error">([^<]*)</span>`).FindStringSubmatch(p.body)
			require.NotNil(t, beside, "the error beside its field:\n%s", p.body)
			assert.Equal(t, tc.typed, html.UnescapeString(beside[1]), "the form keeps what was typed")
			assert.Contains(t, html.UnescapeString(beside[2]), tc.message)
			assert.Contains(t, p.body, `name="per_transaction_limit" value="42.00"`, "and the other fields as typed")
			a := r.agentNow()
			assert.Nil(t, a.Policy.DailyLimit, "nothing saved")
			assert.Nil(t, a.Policy.PerTransactionLimit, "not even the good fields")
			assert.Nil(t, a.Policy.Velocity)
		})
	}

	p := b.editPolicy(map[string]string{"daily_limit": "500.10", "monthly_limit": "1000", "velocity.count": "5",
		"velocity.window_seconds": "60", "blocked_merchants": "Casino, Ltd.\n Lottery \n", "allow_reduce": "true",
		"intent_required": "false", "risk_review_score": "40", "risk_decline_score": "80"})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	assert.Equal(t, "/agents/"+r.agent.ID, p.location)
	got := r.agentNow().Policy
	require.NotNil(t, got.DailyLimit)
	assert.Equal(t, int64(500_10), *got.DailyLimit, "exact cents")
	assert.Equal(t, int64(1000_00), *got.MonthlyLimit)
	assert.Equal(t, &engine.Velocity{Count: 5, WindowSeconds: 60}, got.Velocity)
	assert.Equal(t, []string{"Casino, Ltd.", "Lottery"}, got.BlockedMerchants, "one a line: a comma stays in its name")
	assert.True(t, got.AllowReduce)
	assert.Equal(t, false, *got.IntentRequired)
	assert.Equal(t, int64(100_00), *got.ApprovalThreshold, "a field not touched is kept")
	assert.Contains(t, b.do("GET", "/agents/"+r.agent.ID, nil).body, "$500.10", "what remains shows the new limit")

	p = b.editPolicy(map[string]string{"daily_limit": "", "velocity.count": "", "velocity.window_seconds": "",
		"blocked_merchants": "", "allow_reduce": "", "intent_required": ""})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	got = r.agentNow().Policy
	assert.Nil(t, got.DailyLimit, "an empty field is no limit")
	assert.Nil(t, got.Velocity)
	assert.Nil(t, got.BlockedMerchants)
	assert.False(t, got.AllowReduce, "an unchecked box")
	assert.Nil(t, got.IntentRequired, "back to the default")
	assert.Equal(t, int64(1000_00), *got.MonthlyLimit)

	before := r.agentNow()
	p = b.editPolicy(nil)
	require.Equal(t, http.StatusSeeOther, p.status, "nothing changed: nothing to save")
	assert.Equal(t, before.UpdatedAt, r.agentNow().UpdatedAt)
}

// A field another operator changed meanwhile is not reverted by a form
// that did not touch it: the form patches only what its user changed.
func TestAPolicyEditPatchesOnlyWhatChanged(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("GET", "/agents/"+r.agent.ID, nil)
	f := form(t, p.body, "/agents/"+r.agent.ID+"/policy")
	_, err := r.env.Engine.PatchPolicy(r.env.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: r.agent.ID,
		Patch: map[string]json.RawMessage{"approval_threshold": json.RawMessage("25000")}})
	require.NoError(t, err)
	f.Set("lifetime_limit", "9999.99")
	require.Equal(t, http.StatusSeeOther, b.do("POST", "/agents/"+r.agent.ID+"/policy", f).status)
	got := r.agentNow().Policy
	assert.Equal(t, int64(9999_99), *got.LifetimeLimit)
	assert.Equal(t, int64(250_00), *got.ApprovalThreshold)
}

func TestChangeTheMode(t *testing.T) {
	r := newRig(t)
	b := r.browser()
	b.signIn(engine.RoleAdmin)
	p := b.do("POST", "/agents/"+r.agent.ID+"/mode", url.Values{"csrf": {b.csrf()}, "mode": {engine.ModeApprovalOnly}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	assert.Equal(t, engine.ModeApprovalOnly, r.agentNow().Mode)
	assert.Contains(t, b.do("GET", "/agents/"+r.agent.ID, nil).body, `<option value="approval_only" selected>`)
	bad := b.do("POST", "/agents/"+r.agent.ID+"/mode", url.Values{"csrf": {b.csrf()}, "mode": {"turbo"}})
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, bad.body, `role="alert"`)
	assert.Equal(t, engine.ModeApprovalOnly, r.agentNow().Mode)
	assert.Equal(t, http.StatusForbidden, b.do("POST", "/agents/"+r.agent.ID+"/mode", url.Values{"mode": {engine.ModeDisabled}}).status, "no CSRF token")
	assert.Equal(t, engine.ModeApprovalOnly, r.agentNow().Mode)
}

func TestAViewerSeesTheAgentAndChangesNothing(t *testing.T) {
	r := newRig(t)
	card := r.env.Card(r.agent)
	b := r.browser()
	b.signIn(engine.RoleViewer)
	p := b.do("GET", "/agents/"+r.agent.ID, nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, `id="f-approval-threshold">100.00<`, "the policy, read only")
	assert.Contains(t, p.body, "•••• "+card.Last4)
	assert.Contains(t, p.body, "Keys are shown to admins only")
	assert.NotContains(t, p.body, "<button type=\"submit\">Save", "no buttons")
	for _, path := range []string{"/mode", "/policy", "/freeze-cards", "/freeze\"", "/close\""} {
		assert.NotContains(t, p.body, path)
	}

	token := b.csrf()
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/agents/" + r.agent.ID + "/mode", url.Values{"mode": {engine.ModeDisabled}}},
		{"/agents/" + r.agent.ID + "/policy", url.Values{"daily_limit": {"1.00"}, "was.daily_limit": {""}, "currency": {"USD"}, "was.currency": {"USD"}}},
		{"/agents/" + r.agent.ID + "/freeze-cards", url.Values{"confirmed": {"yes"}}},
	} {
		tc.form.Set("csrf", token)
		p := b.do("POST", tc.path, tc.form)
		assert.Equal(t, http.StatusForbidden, p.status, tc.path)
		assert.Contains(t, p.body, `role="alert"`)
	}
	a := r.agentNow()
	assert.Equal(t, engine.ModeLive, a.Mode)
	assert.Nil(t, a.Policy.DailyLimit)
	got, err := r.env.Engine.GetCard(r.env.Ctx, engine.Operator, card.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.CardActive, got.Status)
}
