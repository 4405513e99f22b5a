package lithictest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers/lithicapi/lithictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// call sends one request to s with its API key (unless headers set
// Authorization) and decodes the JSON answer.
func call(t *testing.T, s *lithictest.Server, method, path, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", lithictest.APIKey)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// keys lists a decoded JSON object's field paths ("funding.token").
func keys(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, x := range m {
			out = append(out, prefix+k)
			walk(prefix+k+".", x)
		}
	}
	walk("", v)
	sort.Strings(out)
	return out
}

func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(lithictest.Fixture(name), &m), name)
	return m
}

// TestAnswersKeepTheReferenceFieldSets holds the fake to the reference:
// the reference's request examples are accepted, and every answer has
// exactly the field set of the reference's example for it.
func TestAnswersKeepTheReferenceFieldSets(t *testing.T) {
	s := lithictest.New(t)
	status, created := call(t, s, "POST", "/v1/cards", string(lithictest.Fixture("create_card.request.json")))
	require.Equal(t, 200, status, created)
	assert.Equal(t, keys(fixture(t, "create_card.response.json")), keys(created))
	token := created["token"].(string)

	status, got := call(t, s, "GET", "/v1/cards/"+token, "")
	require.Equal(t, 200, status, got)
	assert.Equal(t, keys(fixture(t, "get_card.response.json")), keys(got))
	assert.Equal(t, created, got)

	status, updated := call(t, s, "PATCH", "/v1/cards/"+token, string(lithictest.Fixture("update_card.request.json")))
	require.Equal(t, 200, status, updated)
	assert.Equal(t, keys(fixture(t, "update_card.response.json")), keys(updated))
	assert.Equal(t, "Updated Name", updated["memo"])
	assert.EqualValues(t, 100, updated["spend_limit"])
	assert.Equal(t, "FOREVER", updated["spend_limit_duration"])

	status, list := call(t, s, "GET", "/v1/cards", "")
	require.Equal(t, 200, status, list)
	want := fixture(t, "list_cards.response.json")
	assert.Equal(t, keys(want), keys(list))
	require.Len(t, list["data"], 1)
	assert.Equal(t, keys(want["data"].([]any)[0]), keys(list["data"].([]any)[0]))
	assert.Equal(t, false, list["has_more"])

	status, refused := call(t, s, "GET", "/v1/cards", "", "Authorization", "")
	require.Equal(t, 401, status)
	assert.Equal(t, keys(fixture(t, "error.response.json")), keys(refused))
	assert.Equal(t, fixture(t, "error.response.json")["message"], refused["message"])
}

// TestCreatedCards: what the fake makes of a create request.
func TestCreatedCards(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)
	s := lithictest.New(t, lithictest.WithClock(func() time.Time { return now }))
	status, a := call(t, s, "POST", "/v1/cards", `{"type":"SINGLE_USE","memo":"m","state":"PAUSED"}`)
	require.Equal(t, 200, status, a)
	status, b := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL","exp_month":"01","exp_year":"2029","spend_limit":500,"spend_limit_duration":"MONTHLY"}`)
	require.Equal(t, 200, status, b)

	assert.NotEqual(t, a["token"], b["token"])
	assert.NotEqual(t, a["pan"], b["pan"])
	for _, c := range []map[string]any{a, b} {
		pan := c["pan"].(string)
		assert.Len(t, pan, 16)
		assert.Equal(t, pan[12:], c["last_four"])
		assert.Len(t, c["cvv"], 3)
		assert.Equal(t, "2026-03-14T09:26:53Z", c["created"])
		assert.Equal(t, "USD", c["cardholder_currency"])
	}
	assert.Equal(t, "SINGLE_USE", a["type"])
	assert.Equal(t, "PAUSED", a["state"])
	assert.Equal(t, "m", a["memo"])
	assert.EqualValues(t, 0, a["spend_limit"])
	assert.Equal(t, "TRANSACTION", a["spend_limit_duration"])
	assert.Equal(t, "03", a["exp_month"])
	assert.Equal(t, "2031", a["exp_year"])
	assert.Equal(t, "OPEN", b["state"])
	assert.Equal(t, "01", b["exp_month"])
	assert.Equal(t, "2029", b["exp_year"])
	assert.EqualValues(t, 500, b["spend_limit"])
	assert.Equal(t, "MONTHLY", b["spend_limit_duration"])

	cards := s.Cards()
	require.Len(t, cards, 2)
	assert.Equal(t, a["token"], cards[0].Token)
	assert.Equal(t, a["pan"], cards[0].PAN)
	assert.Equal(t, a["cvv"], cards[0].CVV)
	got, ok := s.Card(b["token"].(string))
	require.True(t, ok)
	assert.Equal(t, int64(500), got.SpendLimit)
}

// TestValidation: the reference's schema, strictly.
func TestValidation(t *testing.T) {
	s := lithictest.New(t)
	_, c := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL"}`)
	token := c["token"].(string)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		message                  string
	}{
		{"no body", "POST", "/v1/cards", "", 400, "body is required"},
		{"not an object", "POST", "/v1/cards", `[]`, 400, "JSON object"},
		{"not JSON", "POST", "/v1/cards", `{`, 400, "not valid JSON"},
		{"type missing", "POST", "/v1/cards", `{"memo":"x"}`, 400, "type: is required"},
		{"type unknown", "POST", "/v1/cards", `{"type":"PLASTIC"}`, 400, "type: must be one of"},
		{"state CLOSED at creation", "POST", "/v1/cards", `{"type":"VIRTUAL","state":"CLOSED"}`, 400, "state: must be one of OPEN, PAUSED"},
		{"duration unknown", "POST", "/v1/cards", `{"type":"VIRTUAL","spend_limit_duration":"DAILY"}`, 400, "spend_limit_duration"},
		{"negative limit", "POST", "/v1/cards", `{"type":"VIRTUAL","spend_limit":-1}`, 400, "at least 0"},
		{"fractional limit", "POST", "/v1/cards", `{"type":"VIRTUAL","spend_limit":1.5}`, 400, "integer"},
		{"limit as a string", "POST", "/v1/cards", `{"type":"VIRTUAL","spend_limit":"100"}`, 400, "integer"},
		{"unknown field", "POST", "/v1/cards", `{"type":"VIRTUAL","currency":"EUR"}`, 400, "currency: unknown field"},
		{"short exp_month", "POST", "/v1/cards", `{"type":"VIRTUAL","exp_month":"6"}`, 400, "2 characters"},
		{"bad account token", "POST", "/v1/cards", `{"type":"VIRTUAL","account_token":"acct"}`, 400, "UUID"},
		{"bad idempotency key", "POST", "/v1/cards", `{"type":"VIRTUAL"}`, 400, "Idempotency-Key"},
		{"patch unknown field", "PATCH", "/v1/cards/" + token, `{"type":"SINGLE_USE"}`, 400, "type: unknown field"},
		{"patch state unknown", "PATCH", "/v1/cards/" + token, `{"state":"FROZEN"}`, 400, "state: must be one of CLOSED, OPEN, PAUSED"},
		{"patch no body", "PATCH", "/v1/cards/" + token, "", 400, "body is required"},
		{"get bad token", "GET", "/v1/cards/card_123", "", 400, "UUID"},
		{"get unknown card", "GET", "/v1/cards/00000000-0000-4000-8000-000000000000", "", 404, "not found"},
		{"patch unknown card", "PATCH", "/v1/cards/00000000-0000-4000-8000-000000000000", `{"state":"OPEN"}`, 404, "not found"},
		{"list page too big", "GET", "/v1/cards?page_size=101", "", 400, "page_size"},
		{"list page zero", "GET", "/v1/cards?page_size=0", "", 400, "page_size"},
		{"list unknown parameter", "GET", "/v1/cards?limit=5", "", 400, "limit: unknown query parameter"},
		{"list bad state", "GET", "/v1/cards?state=ACTIVE", "", 400, "state"},
		{"list bad begin", "GET", "/v1/cards?begin=yesterday", "", 400, "RFC 3339"},
		{"list unknown cursor", "GET", "/v1/cards?starting_after=nope", "", 400, "starting_after"},
		{"delete", "DELETE", "/v1/cards/" + token, "", 405, "Method not allowed"},
		{"other path", "GET", "/v1/accounts", "", 404, "Not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.name == "bad idempotency key" {
				headers = []string{"Idempotency-Key", "agentledger-card-1"}
			}
			status, body := call(t, s, tc.method, tc.path, tc.body, headers...)
			assert.Equal(t, tc.status, status, body)
			assert.Contains(t, strings.ToLower(body["message"].(string)), strings.ToLower(tc.message))
			assert.NotEmpty(t, body["debugging_request_id"])
		})
	}
	assert.Len(t, s.Cards(), 1, "no refused request made a card")
}

// TestAuthorization: the reference's 401 table.
func TestAuthorization(t *testing.T) {
	s := lithictest.New(t, lithictest.WithAPIKey("sk-other"))
	for _, tc := range []struct{ header, message string }{
		{"", "Please provide API key in Authorization header"},
		{"Bearer sk-other", "Please provide API key in the form Authorization: [api-key]"},
		{lithictest.APIKey, "Could not find API key"},
	} {
		status, body := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL"}`, "Authorization", tc.header)
		assert.Equal(t, 401, status)
		assert.Equal(t, tc.message, body["message"])
	}
	status, _ := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL"}`, "Authorization", "sk-other")
	assert.Equal(t, 200, status)
	assert.Len(t, s.Cards(), 1)
}

// TestIdempotencyKey: Lithic's idempotent requests on card creation.
func TestIdempotencyKey(t *testing.T) {
	s := lithictest.New(t)
	const key = "3f8c1d2e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"
	body := `{"type":"VIRTUAL","memo":"agentledger card_1"}`
	_, first := call(t, s, "POST", "/v1/cards", body, "Idempotency-Key", key)
	_, again := call(t, s, "POST", "/v1/cards", body, "Idempotency-Key", key)
	assert.Equal(t, first, again, "the first answer is replayed")
	assert.Len(t, s.Cards(), 1)

	status, other := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL","memo":"something else"}`, "Idempotency-Key", key)
	assert.Equal(t, 422, status, other)
	assert.Len(t, s.Cards(), 1)

	s.ForgetIdempotencyKeys() // 24 hours later
	_, later := call(t, s, "POST", "/v1/cards", body, "Idempotency-Key", key)
	assert.NotEqual(t, first["token"], later["token"])
	assert.Len(t, s.Cards(), 2)

	_, unkeyed := call(t, s, "POST", "/v1/cards", body)
	assert.NotEqual(t, first["token"], unkeyed["token"])
	assert.Len(t, s.Cards(), 3)

	keys := []string{}
	for _, r := range s.Requests() {
		keys = append(keys, r.IdempotencyKey)
	}
	assert.Equal(t, []string{key, key, key, key, ""}, keys)
}

// TestUpdates: a PATCH changes what it names; a closed card stays closed.
func TestUpdates(t *testing.T) {
	s := lithictest.New(t)
	_, c := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL","memo":"m","spend_limit":700,"spend_limit_duration":"MONTHLY"}`)
	path := "/v1/cards/" + c["token"].(string)

	status, p := call(t, s, "PATCH", path, `{"state":"PAUSED"}`)
	require.Equal(t, 200, status, p)
	assert.Equal(t, "PAUSED", p["state"])
	assert.EqualValues(t, 700, p["spend_limit"], "unsupplied properties remain unchanged")
	assert.Equal(t, "m", p["memo"])

	_, p = call(t, s, "PATCH", path, `{"spend_limit":0}`)
	assert.EqualValues(t, 0, p["spend_limit"])
	assert.Equal(t, "MONTHLY", p["spend_limit_duration"])

	_, p = call(t, s, "PATCH", path, `{"state":"CLOSED"}`)
	assert.Equal(t, "CLOSED", p["state"])
	status, p = call(t, s, "PATCH", path, `{"state":"OPEN"}`)
	assert.Equal(t, 422, status, p)
	status, _ = call(t, s, "PATCH", path, `{"state":"CLOSED","memo":"still closed"}`)
	assert.Equal(t, 200, status)
	got, _ := s.Card(c["token"].(string))
	assert.Equal(t, "CLOSED", got.State)
	assert.Equal(t, "still closed", got.Memo)
}

// TestList: filters, order and both cursors.
func TestList(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := lithictest.New(t, lithictest.WithClock(func() time.Time { clock = clock.Add(time.Minute); return clock }))
	var tokens []string // oldest first
	for i := range 7 {
		memo := "agentledger card_" + string(rune('a'+i))
		_, c := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL","memo":"`+memo+`"}`)
		tokens = append(tokens, c["token"].(string))
	}
	s.SetState(tokens[2], "PAUSED")
	page := func(query string) ([]string, bool) {
		t.Helper()
		status, body := call(t, s, "GET", "/v1/cards"+query, "")
		require.Equal(t, 200, status, body)
		var got []string
		for _, c := range body["data"].([]any) {
			c := c.(map[string]any)
			assert.NotContains(t, c, "pan")
			assert.NotContains(t, c, "cvv")
			got = append(got, c["token"].(string))
		}
		return got, body["has_more"].(bool)
	}
	all, more := page("")
	assert.Equal(t, []string{tokens[6], tokens[5], tokens[4], tokens[3], tokens[2], tokens[1], tokens[0]}, all, "newest first")
	assert.False(t, more)

	first, more := page("?page_size=3")
	assert.Equal(t, all[:3], first)
	assert.True(t, more)
	second, more := page("?page_size=3&starting_after=" + first[2])
	assert.Equal(t, all[3:6], second)
	assert.True(t, more)
	third, more := page("?page_size=3&starting_after=" + second[2])
	assert.Equal(t, all[6:], third)
	assert.False(t, more)
	back, more := page("?page_size=2&ending_before=" + second[0])
	assert.Equal(t, all[1:3], back)
	assert.True(t, more)

	memo, _ := page("?memo=CARD_C")
	assert.Equal(t, []string{tokens[2]}, memo, "memo: contains, ignoring case")
	paused, _ := page("?state=PAUSED")
	assert.Equal(t, []string{tokens[2]}, paused)
	recent, _ := page("?begin=2026-01-01T00:05:00Z")
	assert.Equal(t, []string{tokens[6], tokens[5]}, recent, "created after begin")
	early, _ := page("?end=2026-01-01T00:02:00Z")
	assert.Equal(t, []string{tokens[0]}, early, "created before end")
}

// TestFaults: the injected failures, and the record of what came in.
func TestFaults(t *testing.T) {
	s := lithictest.New(t)
	noReuse := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	send := func(method, path, body string) (*http.Response, error) {
		req, _ := http.NewRequest(method, s.URL+path, bytes.NewBufferString(body))
		req.Header.Set("Authorization", lithictest.APIKey)
		return noReuse.Do(req)
	}

	t.Run("status", func(t *testing.T) {
		s.Inject(lithictest.Fault{Method: "POST", Path: "/v1/cards", Times: 2, Status: 500, Message: "boom"})
		for range 2 {
			status, body := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL"}`)
			assert.Equal(t, 500, status)
			assert.Equal(t, "boom", body["message"])
		}
		status, _ := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL"}`)
		assert.Equal(t, 200, status, "used up after two")
		assert.Len(t, s.Cards(), 1)
	})

	t.Run("matching", func(t *testing.T) {
		s.FailNext(1, "GET", "/v1/cards/*", 429)
		status, _ := call(t, s, "GET", "/v1/cards", "")
		assert.Equal(t, 200, status, "the list is not /v1/cards/*")
		status, body := call(t, s, "GET", "/v1/cards/"+s.Cards()[0].Token, "")
		assert.Equal(t, 429, status)
		assert.Equal(t, "Too Many Requests", body["message"])
	})

	t.Run("after effect", func(t *testing.T) {
		before := len(s.Cards())
		s.Inject(lithictest.Fault{Method: "POST", Status: 502, AfterEffect: true})
		status, _ := call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL"}`)
		assert.Equal(t, 502, status)
		assert.Len(t, s.Cards(), before+1, "the card was made all the same")
	})

	t.Run("refuse", func(t *testing.T) {
		before := len(s.Cards())
		s.RefuseNext(1, "POST", "/v1/cards")
		_, err := send("POST", "/v1/cards", `{"type":"VIRTUAL"}`)
		require.Error(t, err)
		assert.Len(t, s.Cards(), before, "refused before it took effect")
		s.Inject(lithictest.Fault{Method: "POST", Refuse: true, AfterEffect: true})
		_, err = send("POST", "/v1/cards", `{"type":"VIRTUAL"}`)
		require.Error(t, err)
		assert.Len(t, s.Cards(), before+1, "refused after it took effect")
	})

	t.Run("hang", func(t *testing.T) {
		before := len(s.Cards())
		s.HangNext(1, "POST", "/v1/cards", 10*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", s.URL+"/v1/cards", strings.NewReader(`{"type":"VIRTUAL"}`))
		req.Header.Set("Authorization", lithictest.APIKey)
		start := time.Now()
		_, err := noReuse.Do(req)
		require.Error(t, err)
		assert.True(t, errors.Is(err, context.DeadlineExceeded), err)
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Eventually(t, func() bool { return len(s.Requests()) > 0 }, time.Second, 10*time.Millisecond)
		assert.Len(t, s.Cards(), before, "a call abandoned while held never takes effect")

		s.HangNext(1, "GET", "", 50*time.Millisecond)
		status, _ := call(t, s, "GET", "/v1/cards", "")
		assert.Equal(t, 200, status, "a short hang answers afterwards")
	})

	t.Run("record", func(t *testing.T) {
		s.ClearRequests()
		s.FailNext(1, "", "", 503)
		call(t, s, "PATCH", "/v1/cards/"+s.Cards()[0].Token, `{"state":"PAUSED"}`)
		call(t, s, "GET", "/v1/cards?memo=x", "", "Idempotency-Key", "ignored-on-get")
		reqs := s.Requests()
		require.Len(t, reqs, 2)
		assert.Equal(t, "PATCH", reqs[0].Method)
		assert.Equal(t, "/v1/cards/"+s.Cards()[0].Token, reqs[0].Path)
		assert.JSONEq(t, `{"state":"PAUSED"}`, string(reqs[0].Body))
		assert.Equal(t, "status 503", reqs[0].Fault)
		assert.Equal(t, "GET", reqs[1].Method)
		assert.Equal(t, "x", reqs[1].Query.Get("memo"))
		assert.Nil(t, reqs[1].Body)
		assert.Equal(t, "ignored-on-get", reqs[1].IdempotencyKey)
		assert.Equal(t, "", reqs[1].Fault)
		assert.Equal(t, 1, s.Calls("GET", "/v1/cards"))
		assert.Equal(t, 1, s.Calls("PATCH", "/v1/cards/*"))
	})
}

// TestRecordedBodiesHaveNoPAN: should a request ever carry a card number,
// the record does not keep it.
func TestRecordedBodiesHaveNoPAN(t *testing.T) {
	s := lithictest.New(t)
	call(t, s, "POST", "/v1/cards", `{"type":"VIRTUAL","pan":"4111111111111111","cvv":"123"}`)
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.JSONEq(t, `{"type":"VIRTUAL"}`, string(reqs[0].Body))
}

// TestFixturesAreTheReference: every fixture is there and is JSON.
func TestFixturesAreTheReference(t *testing.T) {
	names := lithictest.FixtureNames()
	assert.Len(t, names, 7)
	for _, n := range names {
		var v any
		assert.NoError(t, json.Unmarshal(lithictest.Fixture(n), &v), n)
	}
}
