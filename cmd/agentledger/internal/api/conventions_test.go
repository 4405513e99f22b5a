package api_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/api"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKeysAndRoles(t *testing.T) {
	r := newRig(t, api.Options{})
	_, mine, myCard := r.env.Setup(100_00, engine.Policy{})
	pending, err := r.env.Engine.CreateUser(r.env.Ctx, engine.Operator, engine.CreateUserInput{Name: "pending"})
	require.NoError(t, err)
	theirs := r.env.Agent("other-bot", pending, engine.Policy{})
	agentKey := r.agentKey(mine)
	for _, tc := range []struct {
		name, method, path, key string
		body                    any
		headers                 []string
		status                  int
		code                    string
	}{
		{"no key", "GET", "/v1/users", "", nil, nil, 401, engine.CodeUnauthorized},
		{"unknown key", "GET", "/v1/users", "al_nosuchkey", nil, nil, 401, engine.CodeUnauthorized},
		{"not Bearer", "GET", "/v1/users", "", nil, []string{"Authorization", "Token " + r.admin}, 401, engine.CodeUnauthorized},
		{"no Bearer prefix (capped.ai's common error)", "GET", "/api/agents", "", nil, []string{"Authorization", r.admin}, 401, engine.CodeUnauthorized},
		{"Api-Key header, as LedgerOS sends it", "GET", "/v1/users", "", nil, []string{"Api-Key", r.admin}, 200, ""},
		{"viewer reads", "GET", "/v1/agents/" + mine.ID, r.viewer, nil, nil, 200, ""},
		{"viewer may not write", "POST", "/v1/users", r.viewer, map[string]any{"name": "x"}, nil, 403, engine.CodeForbidden},
		{"viewer may not write, whatever it sends", "POST", "/api/agents", r.viewer, map[string]any{}, nil, 403, engine.CodeForbidden},
		{"viewer may not patch", "PATCH", "/v1/agents/" + mine.ID + "/policy", r.viewer, "not json", nil, 403, engine.CodeForbidden},
		{"viewer may not freeze", "POST", "/v1/cards/" + myCard.ID + "/freeze", r.viewer, nil, nil, 403, engine.CodeForbidden},
		{"agent reads its own agent", "GET", "/v1/agents/" + mine.ID, agentKey, nil, nil, 200, ""},
		{"agent checks for itself", "POST", "/v1/agents/" + mine.ID + "/checks", agentKey, map[string]any{"amount": 100}, nil, 200, ""},
		{"another agent does not exist for it", "GET", "/v1/agents/" + theirs.ID, agentKey, nil, nil, 404, engine.CodeNotFound},
		{"nor may it check for one", "POST", "/v1/agents/" + theirs.ID + "/checks", agentKey, map[string]any{"amount": 100}, nil, 404, engine.CodeNotFound},
		{"agent may not list users", "GET", "/v1/users", agentKey, nil, nil, 403, engine.CodeForbidden},
		{"agent may not create keys", "POST", "/v1/keys", agentKey, map[string]any{"role": "admin"}, nil, 403, engine.CodeForbidden},
		{"unknown id", "GET", "/v1/cards/card_0194c2d1-7a3e-7c55-9a41-3e8f1b2c4d5e", r.admin, nil, nil, 404, engine.CodeNotFound},
		{"unknown route", "GET", "/v1/nothing", r.admin, nil, nil, 404, engine.CodeNotFound},
		{"name taken", "POST", "/v1/users", r.admin, map[string]any{"name": "user"}, nil, 409, engine.CodeConflict},
		{"a closed card stays closed", "POST", "/v1/cards/" + r.closedCard(mine) + "/unfreeze", r.admin, nil, nil, 409, engine.CodeInvalidState},
		{"a sweep takes no fields", "POST", "/v1/ledger/sweep", r.admin, map[string]any{"x": 1}, nil, 400, engine.CodeInvalidInput},
		{"capped.ai's id in errors", "PATCH", "/api/agents/nobody/card", r.admin, map[string]any{"action": "freeze"}, nil, 404, engine.CodeNotFound},
		{"KYC first", "POST", "/v1/agents/" + theirs.ID + "/cards", r.admin, map[string]any{}, nil, 422, engine.CodeKYCRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := r.call(tc.method, tc.path, tc.key, tc.body, tc.headers...)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			if tc.code != "" {
				assert.Equal(t, tc.code, a.code(t))
				assert.NotEmpty(t, a.json(t)["error"].(map[string]any)["message"])
			}
			if tc.status == 401 {
				assert.Contains(t, a.header.Get("WWW-Authenticate"), "Bearer")
			}
		})
	}
}

func (r *rig) closedCard(a *engine.Agent) string {
	c := r.env.Card(a)
	_, err := r.env.Engine.CloseCard(r.env.Ctx, engine.Operator, engine.CardActionInput{CardID: c.ID})
	require.NoError(r.t, err)
	return c.ID
}

// TestBadInputWritesNothing sends malformed requests; each is refused with
// 400 naming the field, and the database is as it was.
func TestBadInputWritesNothing(t *testing.T) {
	r := newRig(t, api.Options{})
	_, agent, card := r.env.Setup(100_00, engine.Policy{})
	before := r.env.Snapshot()
	huge := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"wrong type", "POST", "/v1/users/user/fund", `{"amount":"100"}`, 400, "amount"},
		{"a float amount", "POST", "/v1/users/user/fund", `{"amount":12.5}`, 400, "amount"},
		{"negative amount", "POST", "/v1/users/user/fund", `{"amount":-5}`, 400, "amount"},
		{"unknown currency", "POST", "/v1/users/user/fund", `{"amount":5,"currency":"XXX"}`, 400, "currency"},
		{"unknown field", "POST", "/v1/users", `{"name":"x","nmae":"y"}`, 400, "nmae"},
		{"missing field", "POST", "/v1/users/user/fund", `{}`, 400, "amount"},
		{"not JSON", "POST", "/v1/users", `{"name":`, 400, ""},
		{"bad mode", "PATCH", "/v1/agents/" + agent.ID, `{"mode":"yolo"}`, 400, "mode"},
		{"unknown policy field", "PATCH", "/v1/agents/" + agent.ID + "/policy", `{"daily_limt":5}`, 400, "daily_limt"},
		{"policy field of the wrong type", "PATCH", "/v1/agents/" + agent.ID + "/policy", `{"daily_limit":"a lot"}`, 400, "daily_limit"},
		{"policy replaced with a bad field", "PUT", "/v1/agents/" + agent.ID + "/policy", `{"daily_limit":-1}`, 400, "daily_limit"},
		{"card type", "POST", "/v1/agents/" + agent.ID + "/cards", `{"type":"triple"}`, 400, "type"},
		{"maxAmount and lifetime_limit", "POST", "/v1/agents/" + agent.ID + "/cards", `{"maxAmount":5,"limits":{"lifetime_limit":5}}`, 400, "maxAmount"},
		{"limit too big", "GET", "/v1/users?limit=1000", nil, 400, "limit"},
		{"limit not a number", "GET", "/v1/users?limit=ten", nil, 400, "limit"},
		{"cursor of another kind", "GET", "/v1/users?starting_after=" + card.ID, nil, 400, "starting_after"},
		{"huge body", "POST", "/v1/users", huge, 413, ""},
		{"huge patch", "PATCH", "/v1/agents/" + agent.ID + "/policy", `{"blocked_merchants":["` + strings.Repeat("x", 2<<20) + `"]}`, 413, ""},
		{"unknown query parameter", "GET", "/v1/transactions?agnet=x", nil, 400, "agnet"},
		{"huge path parameter", "GET", "/v1/agents/" + strings.Repeat("x", 5000), nil, 400, "agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := r.call(tc.method, tc.path, r.admin, tc.body)
			require.Equal(t, tc.status, a.status, "%s", a.body)
			e := a.json(t)["error"].(map[string]any)
			if tc.field != "" {
				assert.Equal(t, tc.field, e["field"], "%s", a.body)
				assert.Contains(t, e["message"], tc.field)
			}
			assert.NotContains(t, string(a.body), strings.Repeat("x", 100), "the input is not echoed")
		})
	}
	assert.Equal(t, before, r.env.Snapshot(), "nothing was written")
}

func TestIdempotencyKeys(t *testing.T) {
	r := newRig(t, api.Options{})
	u := r.env.User("user", 0)
	fund := func(amount int, key string) answer {
		return r.call("POST", "/v1/users/"+u.ID+"/fund", r.admin, map[string]any{"amount": amount}, "Idempotency-Key", key)
	}
	first := fund(5000, "deposit-1")
	require.Equal(t, 200, first.status, "%s", first.body)
	again := fund(5000, "deposit-1")
	require.Equal(t, 200, again.status)
	assert.JSONEq(t, string(first.body), string(again.body), "a retry returns the first answer")
	conflict := fund(7000, "deposit-1")
	require.Equal(t, 409, conflict.status)
	assert.Equal(t, engine.CodeIdempotencyConflict, conflict.code(t))
	bal, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, u.ID, "USD")
	require.NoError(t, err)
	assert.EqualValues(t, 5000, bal.Available, "deposited once")

	// Concurrent retries of one keyed request still make one user.
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = r.call("POST", "/v1/users", r.admin, map[string]any{"name": "Once"}, "Idempotency-Key", "create-once").status
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		assert.Equal(t, 200, s)
	}
	users := r.ok("GET", "/v1/users?limit=100", nil)["data"].([]any)
	assert.Len(t, users, 2)

	// Keys belong to the API key that used them.
	other := r.key(engine.CreateKeyInput{Role: engine.RoleAdmin})
	a := r.call("POST", "/v1/users/"+u.ID+"/fund", other, map[string]any{"amount": 7000}, "Idempotency-Key", "deposit-1")
	assert.Equal(t, 200, a.status, "another key's deposit-1 is another request: %s", a.body)
}

// TestPagination pages through each list with limit 2 and gets every
// object once, in order.
func TestPagination(t *testing.T) {
	r := newRig(t, api.Options{})
	u, agent, card := r.env.Setup(1000_00, engine.Policy{IntentRequired: sqlitetest.Ptr(false)})
	for i := range 5 {
		r.env.User(fmt.Sprintf("user-%d", i), 0)
		r.env.Agent(fmt.Sprintf("agent-%d", i), u, engine.Policy{})
		r.env.Card(agent)
		r.env.Charge(card, int64(100+i), "AWS", "5734")
		r.key(engine.CreateKeyInput{Role: engine.RoleViewer})
		_, err := r.env.Engine.PolicyCheck(r.env.Ctx, engine.Operator, engine.PolicyCheckInput{Agent: agent.ID, Amount: 100})
		require.NoError(t, err)
	}
	for _, path := range []string{"/v1/users", "/v1/agents", "/v1/cards", "/v1/transactions", "/v1/keys", "/v1/events",
		"/v1/agents/" + agent.ID + "/cards"} {
		t.Run(path, func(t *testing.T) {
			all := r.ok("GET", path+"?limit=100", nil)["data"].([]any)
			require.GreaterOrEqual(t, len(all), 5)
			var paged []any
			cursor := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 10)
				q := path + "?limit=2"
				if cursor != "" {
					q += "&starting_after=" + cursor
				}
				page := r.ok("GET", q, nil)
				data := page["data"].([]any)
				require.LessOrEqual(t, len(data), 2)
				paged = append(paged, data...)
				if page["has_more"] == false {
					break
				}
				require.Len(t, data, 2, "a page with more after it is full")
				cursor = data[len(data)-1].(map[string]any)["id"].(string)
			}
			assert.Equal(t, ids(all), ids(paged))
		})
	}
	page := r.ok("GET", "/v1/users", nil)
	assert.Len(t, page["data"], 6)
	assert.Equal(t, false, page["has_more"])
	for i := 5; i < 10; i++ {
		r.env.User(fmt.Sprintf("user-%d", i), 0)
	}
	page = r.ok("GET", "/v1/users", nil)
	assert.Len(t, page["data"], engine.DefaultPageLimit, "the default page is bounded")
	assert.Equal(t, true, page["has_more"])
}

func ids(list []any) []string {
	var out []string
	for _, o := range list {
		out = append(out, o.(map[string]any)["id"].(string))
	}
	return out
}

func TestRateLimit(t *testing.T) {
	now := sqlitetest.Epoch
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	r := newRig(t, api.Options{RatePerMinute: 5, Now: clock})
	for i := range 5 {
		a := r.call("GET", "/v1/users", r.admin, nil)
		require.Equal(t, 200, a.status, "request %d of the burst", i+1)
	}
	limited := r.call("GET", "/v1/users", r.admin, nil)
	require.Equal(t, 429, limited.status)
	assert.Equal(t, "RATE_LIMITED", limited.code(t))
	retry, err := strconv.Atoi(limited.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.Equal(t, 12, retry, "5 a minute: one every 12 s")
	assert.Equal(t, 200, r.call("GET", "/v1/users", r.viewer, nil).status, "another key has its own budget")
	advance(11 * time.Second)
	assert.Equal(t, 429, r.call("GET", "/v1/users", r.admin, nil).status)
	advance(time.Second)
	assert.Equal(t, 200, r.call("GET", "/v1/users", r.admin, nil).status, "recovered after Retry-After")
	assert.Equal(t, 429, r.call("GET", "/v1/users", r.admin, nil).status)
	advance(time.Minute)
	for range 5 {
		assert.Equal(t, 200, r.call("GET", "/v1/users", r.admin, nil).status, "a full minute refills the burst")
	}
}

// TestNoCardNumberInAnyAnswer: the REST API never shows a PAN or CVV.
func TestNoCardNumberInAnyAnswer(t *testing.T) {
	r := newRig(t, api.Options{})
	_, agent, card := r.env.Setup(100_00, engine.Policy{})
	actor := sqlitetest.AgentActor(agent)
	i, err := r.env.Engine.DeclareIntent(r.env.Ctx, actor, engine.DeclareIntentInput{CardID: card.ID, Summary: "x",
		Amount: 500, Merchant: "AWS"})
	require.NoError(t, err)
	secret, err := r.env.Engine.RevealCard(r.env.Ctx, actor, engine.RevealInput{CardID: card.ID, IntentID: i.ID})
	require.NoError(t, err)
	r.env.Charge(card, 500, "AWS", "5734")
	for _, path := range []string{"/v1/cards/" + card.ID, "/v1/cards", "/v1/agents/" + agent.ID + "/cards",
		"/v1/transactions", "/v1/events?limit=100", "/api/agents/" + agent.ID, "/api/agents/" + agent.ID + "/transactions"} {
		a := r.call("GET", path, r.admin, nil)
		require.Equal(t, 200, a.status, "%s: %s", path, a.body)
		assert.NotContains(t, string(a.body), secret.PAN, path)
		assert.NotContains(t, string(a.body), secret.PAN[len(secret.PAN)-10:], path)
	}
}

// TestABusyDatabaseIs503: a write that cannot get the database within the
// busy timeout is 503 BUSY, writes nothing, and succeeds when retried.
func TestABusyDatabaseIs503(t *testing.T) {
	env := sqlitetest.NewWith(t, sqlitetest.Options{Store: sqlite.Options{BusyTimeout: 50 * time.Millisecond}})
	r := newRigOn(t, env, api.Options{})
	release := env.BlockWrites()
	busy := r.call("POST", "/v1/users", r.admin, map[string]any{"name": "Acme"}, "Idempotency-Key", "acme")
	require.Equal(t, 503, busy.status, "%s", busy.body)
	assert.Equal(t, engine.CodeBusy, busy.code(t))
	release()
	again := r.call("POST", "/v1/users", r.admin, map[string]any{"name": "Acme"}, "Idempotency-Key", "acme")
	require.Equal(t, 200, again.status, "the retry goes through: %s", again.body)
}

func TestABodyThatIsNotJSONIs415(t *testing.T) {
	r := newRig(t, api.Options{})
	a := r.call("POST", "/v1/users", r.admin, "name=Acme", "Content-Type", "application/x-www-form-urlencoded")
	require.Equal(t, 415, a.status, "%s", a.body)
	assert.Equal(t, engine.CodeInvalidInput, a.code(t))
	assert.Contains(t, a.json(t)["error"].(map[string]any)["message"], "application/json")
}

// A key's secret pasted where its id belongs is not quoted back.
func TestAKeySecretIsNotEchoed(t *testing.T) {
	r := newRig(t, api.Options{})
	for _, path := range []string{"/v1/keys/" + r.viewer + "/revoke", "/v1/users/" + r.viewer + "/approve"} {
		a := r.call("POST", path, r.admin, nil)
		require.Equal(t, 404, a.status, "%s", a.body)
		assert.NotContains(t, string(a.body), r.viewer[len(engine.KeyPrefix)+8:])
		assert.Contains(t, string(a.body), r.viewer[:len(engine.KeyPrefix)+8]+"…", "the prefix names it")
	}
}
