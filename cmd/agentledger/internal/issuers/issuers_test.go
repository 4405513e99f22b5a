package issuers_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/cmd/agentledger/internal/issuers"
	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/store/sqlite"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	stripeSecret = "whsec_test_secret"
	stripeCard   = "ic_1JDmgz2eZvKYlo2CRXlTsXj6"
	stripeAuth   = "iauth_1JVXl82eZvKYlo2CPIiWlzrn"
	lithicCard   = "76b9f589-8935-4e78-8809-7f583bf0fb89"
	lithicToken  = "7842e70e-2b17-47ca-8541-869636bedf6a"
)

var lithicSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// rig is an engine, the issuer endpoints on a loopback server, and an
// agent with a card linked to a Stripe card and a Lithic card.
type rig struct {
	t       *testing.T
	env     *sqlitetest.Env
	h       *issuers.Handler
	srv     *httptest.Server
	user    *engine.User
	agent   *engine.Agent
	card    *engine.Card
	network string // a network key
}

func newRig(t *testing.T, opts issuers.Options, env *sqlitetest.Env) *rig {
	t.Helper()
	if env == nil {
		env = sqlitetest.New(t)
	}
	if opts.StripeSecret == "" {
		opts.StripeSecret = stripeSecret
	}
	if opts.LithicSecret == "" {
		opts.LithicSecret = lithicSecret
	}
	h, err := issuers.New(env.Engine, opts)
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.Mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	user, agent, card := env.Setup(100_00, engine.Policy{})
	for issuer, id := range map[string]string{engine.IssuerStripe: stripeCard, engine.IssuerLithic: lithicCard} {
		_, err := env.Engine.LinkCard(env.Ctx, engine.Operator, engine.LinkCardInput{CardID: card.ID, Issuer: issuer, ExternalID: id})
		require.NoError(t, err)
	}
	key, err := env.Engine.CreateKey(env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleNetwork})
	require.NoError(t, err)
	return &rig{t: t, env: env, h: h, srv: srv, user: user, agent: agent, card: card, network: key.Secret}
}

// fixture reads testdata/name and applies edits ("a.b.c" paths) to it.
func fixture(t *testing.T, name string, edits map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	if len(edits) == 0 {
		return raw
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	for path, v := range edits {
		keys := strings.Split(path, ".")
		m := doc
		for _, k := range keys[:len(keys)-1] {
			m = m[k].(map[string]any)
		}
		m[keys[len(keys)-1]] = v
	}
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

func stripeSignature(secret string, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil)) + ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
}

func lithicHeaders(secret, id string, at time.Time, body []byte) http.Header {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "." + string(body)))
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString([]byte("an old secret's signature, say"))+" v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	return h
}

func (r *rig) post(path string, header http.Header, body []byte) (*http.Response, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+path, bytes.NewReader(body))
	require.NoError(r.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(r.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(r.t, err)
	return resp, out
}

type stripeAnswer struct {
	Approved bool              `json:"approved"`
	Amount   *int64            `json:"amount"`
	Metadata map[string]string `json:"metadata"`
}

// stripe sends a signed Stripe event and decodes the answer.
func (r *rig) stripe(body []byte) (*http.Response, stripeAnswer) {
	r.t.Helper()
	resp, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), body)}}, body)
	require.Equal(r.t, http.StatusOK, resp.StatusCode, string(out))
	var a stripeAnswer
	require.NoError(r.t, json.Unmarshal(out, &a), string(out))
	return resp, a
}

func (r *rig) stripeRequest(edits map[string]any) (*http.Response, stripeAnswer) {
	return r.stripe(fixture(r.t, "stripe/issuing_authorization.request.json", edits))
}

type lithicAnswer struct {
	Token  string `json:"token"`
	Result string `json:"result"`
}

func (r *rig) lithic(path string, body []byte) []byte {
	r.t.Helper()
	resp, out := r.post(path, lithicHeaders(lithicSecret, "msg_"+strconv.FormatInt(time.Now().UnixNano(), 10), time.Now(), body), body)
	require.Equal(r.t, http.StatusOK, resp.StatusCode, string(out))
	return out
}

func (r *rig) asa(edits map[string]any) lithicAnswer {
	r.t.Helper()
	var a lithicAnswer
	require.NoError(r.t, json.Unmarshal(r.lithic("/v1/issuers/lithic/asa", fixture(r.t, "lithic/asa_request.json", edits)), &a))
	return a
}

// paper turns the rig's agent into a paper agent with funds of paper money.
func (r *rig) paper(funds int64) {
	r.t.Helper()
	_, err := r.env.Engine.SetAgentMode(r.env.Ctx, engine.Operator, engine.SetModeInput{Agent: r.agent.ID, Mode: engine.ModePaper})
	require.NoError(r.t, err)
	_, err = r.env.Engine.FundPaper(r.env.Ctx, engine.Operator, engine.FundPaperInput{Agent: r.agent.ID, Amount: funds})
	require.NoError(r.t, err)
}

func (r *rig) authorization(networkID string) *engine.Authorization {
	r.t.Helper()
	a, err := r.env.Engine.GetAuthorizationByNetworkID(r.env.Ctx, engine.Operator, networkID)
	require.NoError(r.t, err)
	return a
}

func TestStripeApprovesADeclaredPurchase(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	intent := r.env.Reveal(r.agent, r.card, 382, "Stripe")

	resp, answer := r.stripeRequest(nil)
	assert.Equal(t, "2025-03-31.basil", resp.Header.Get("Stripe-Version"), "answered in the event's API version")
	assert.True(t, answer.Approved)
	assert.Nil(t, answer.Amount, "the amount is not controllable")
	auth := r.authorization(stripeAuth)
	assert.Equal(t, auth.ID, answer.Metadata["agentledger_authorization_id"])
	assert.Equal(t, engine.AuthApproved, answer.Metadata["agentledger_status"])
	assert.Equal(t, r.card.ID, auth.CardID)
	assert.Equal(t, intent.ID, auth.IntentID)
	assert.Equal(t, int64(382), auth.Amount, "from pending_request.amount, not the top-level 0")
	assert.Equal(t, "USD", auth.Currency)
	assert.Equal(t, engine.Merchant{Name: "STRIPE", MCC: "5734", ID: "1234567890", Country: "US"}, auth.Merchant)

	// Stripe sending the same request again gets the same answer, and
	// nothing is held twice.
	_, again := r.stripeRequest(nil)
	assert.Equal(t, answer, again)
	bal, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00-382), bal.Available)
}

func TestStripeAmountOnlyWhenControllable(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	r.env.Reveal(r.agent, r.card, 382, "Stripe")
	_, answer := r.stripeRequest(map[string]any{"data.object.pending_request.is_amount_controllable": true})
	require.True(t, answer.Approved)
	require.NotNil(t, answer.Amount)
	assert.Equal(t, int64(382), *answer.Amount)

	// A declined request never carries an amount.
	_, answer = r.stripeRequest(map[string]any{"data.object.id": "iauth_2", "data.object.pending_request.is_amount_controllable": true})
	assert.False(t, answer.Approved)
	assert.Nil(t, answer.Amount)
}

func TestStripeDeclines(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	_, answer := r.stripeRequest(nil) // no intent declared
	assert.False(t, answer.Approved)
	assert.Equal(t, engine.CodeIntentRequired, answer.Metadata["agentledger_decline_code"])
	assert.Contains(t, answer.Metadata["agentledger_reason"], "declare an intent")

	_, answer = r.stripeRequest(map[string]any{"data.object.id": "iauth_unknown_card", "data.object.card.id": "ic_not_linked"})
	assert.False(t, answer.Approved, "a card agentledger does not know is declined")
	assert.Equal(t, engine.CodeCardNotFound, answer.Metadata["agentledger_decline_code"])

	_, err := r.env.Engine.FreezeCard(r.env.Ctx, engine.Operator, engine.CardActionInput{CardID: r.card.ID})
	require.NoError(t, err)
	_, answer = r.stripeRequest(map[string]any{"data.object.id": "iauth_frozen"})
	assert.Equal(t, engine.CodeCardFrozen, answer.Metadata["agentledger_decline_code"])

	// A request agentledger cannot read is declined, with the reason.
	_, answer = r.stripeRequest(map[string]any{"data.object.id": "iauth_eur", "data.object.pending_request.currency": "xxx"})
	assert.False(t, answer.Approved)
	assert.Contains(t, answer.Metadata["agentledger_error"], "currency")
}

// A paper agent's charge is decided and recorded, and the issuer is told to
// decline: no real money moves for a paper agent.
func TestStripePaperAgentIsDeclinedAtTheIssuer(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	r.paper(100_00)
	r.env.Reveal(r.agent, r.card, 382, "Stripe")

	_, answer := r.stripeRequest(nil)
	assert.False(t, answer.Approved)
	assert.Equal(t, "true", answer.Metadata["agentledger_paper"])
	auth := r.authorization(stripeAuth)
	assert.Equal(t, engine.AuthApproved, auth.Status)
	assert.True(t, auth.Paper)

	var lithic lithicAnswer
	r.env.Reveal(r.agent, r.card, 5200, "Coffee Shop")
	require.NoError(t, json.Unmarshal(r.lithic("/v1/issuers/lithic/asa", fixture(t, "lithic/asa_request.json", nil)), &lithic))
	assert.Equal(t, "CARD_PAUSED", lithic.Result)
	require.Equal(t, engine.AuthApproved, r.authorization(lithicToken).Status, "approved on paper")

	// The issuers then report the declines agentledger asked for; the paper
	// approvals stand, and go on counting against the paper balance.
	body := fixture(t, "stripe/issuing_authorization.updated.reversed.json", map[string]any{"data.object.approved": false, "data.object.status": "closed"})
	_, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), body)}}, body)
	assert.Contains(t, string(out), "nothing to do")
	r.lithic("/v1/issuers/lithic/events", fixture(t, "lithic/card_transaction.updated.voided.json", map[string]any{"status": "DECLINED"}))
	assert.Equal(t, engine.AuthApproved, r.authorization(stripeAuth).Status)
	assert.Equal(t, engine.AuthApproved, r.authorization(lithicToken).Status)
	paper, err := r.env.Engine.PaperBalance(r.env.Ctx, engine.Operator, r.agent.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00-382-5200), paper.Available)
}

func TestStripeSignatures(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	body := fixture(t, "stripe/issuing_authorization.request.json", nil)
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		status int
	}{
		{"no header", "", body, http.StatusBadRequest},
		{"malformed", "v1=abc", body, http.StatusBadRequest},
		{"another secret", stripeSignature("whsec_other", time.Now(), body), body, http.StatusUnauthorized},
		{"tampered body", stripeSignature(stripeSecret, time.Now(), body), bytes.Replace(body, []byte(`"amount": 382`), []byte(`"amount": 1`), 1), http.StatusUnauthorized},
		{"stale", stripeSignature(stripeSecret, time.Now().Add(-310*time.Second), body), body, http.StatusUnauthorized},
		{"from the future", stripeSignature(stripeSecret, time.Now().Add(310*time.Second), body), body, http.StatusUnauthorized},
		{"only v0", "t=" + strconv.FormatInt(time.Now().Unix(), 10) + ",v0=" + strings.Repeat("ab", 32), body, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.env.Snapshot()
			resp, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {tc.header}}, tc.body)
			assert.Equal(t, tc.status, resp.StatusCode, string(out))
			assert.Contains(t, string(out), `"code":"UNAUTHORIZED"`)
			assert.Equal(t, before, r.env.Snapshot(), "nothing decided, nothing written")
		})
	}

	h, err := issuers.New(r.env.Engine, issuers.Options{})
	require.NoError(t, err)
	mux := http.NewServeMux()
	h.Mount(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/issuers/stripe/authorization", bytes.NewReader(body)))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.Contains(t, rec.Body.String(), "AGENTLEDGER_STRIPE_WEBHOOK_SECRET")
}

// After the decision Stripe reports what became of it: a capture settles,
// a refund refunds (once, however often Stripe sends it), a reversal
// reverses.
func TestStripeEventsSettleRefundAndReverse(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	r.env.Reveal(r.agent, r.card, 382, "Stripe")
	_, answer := r.stripeRequest(nil)
	require.True(t, answer.Approved)

	ingest := func(name string) string {
		resp, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), fixture(t, name, nil))}}, fixture(t, name, nil))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
		return string(out)
	}
	assert.Contains(t, ingest("stripe/issuing_transaction.created.capture.json"), "applied: settled $3.82 of txn_")
	auth := r.authorization(stripeAuth)
	assert.Equal(t, engine.AuthSettled, auth.Status)
	assert.Equal(t, int64(382), auth.SettledAmount)

	ingest("stripe/issuing_transaction.created.refund.json")
	ingest("stripe/issuing_transaction.created.refund.json") // Stripe delivers at least once
	auth = r.authorization(stripeAuth)
	assert.Equal(t, int64(100), auth.RefundedAmount)

	// A reversal of an authorization already settled changes nothing.
	assert.Contains(t, ingest("stripe/issuing_authorization.updated.reversed.json"), "nothing to do")

	// A fresh approval that Stripe reverses is reversed here too.
	r.env.Reveal(r.agent, r.card, 382, "Stripe")
	_, answer = r.stripeRequest(map[string]any{"data.object.id": "iauth_second"})
	require.True(t, answer.Approved)
	body := fixture(t, "stripe/issuing_authorization.updated.reversed.json", map[string]any{"data.object.id": "iauth_second"})
	_, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), body)}}, body)
	assert.Contains(t, string(out), "applied: reversed txn_")
	assert.Equal(t, engine.AuthReversed, r.authorization("iauth_second").Status)

	// Events about authorizations agentledger never saw are acknowledged.
	body = fixture(t, "stripe/issuing_transaction.created.capture.json", map[string]any{"data.object.authorization": "iauth_elsewhere"})
	resp, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), body)}}, body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(out), "ignored")
	r.env.Verify()
}

func TestLithicASA(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	r.env.Reveal(r.agent, r.card, 5200, "Coffee Shop")
	answer := r.asa(nil)
	assert.Equal(t, lithicAnswer{Token: lithicToken, Result: "APPROVED"}, answer)
	auth := r.authorization(lithicToken)
	assert.Equal(t, engine.AuthApproved, auth.Status)
	assert.Equal(t, int64(5200), auth.Amount)
	assert.Equal(t, engine.Merchant{Name: "COFFEE SHOP", MCC: "5812", ID: "174030075991", Country: "USA"}, auth.Merchant)

	// Lithic resends a request it got no answer to: same decision, one hold.
	assert.Equal(t, answer, r.asa(nil))
	bal, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00-5200), bal.Available)

	// Money coming back is not a spend; a balance inquiry is not for agents.
	assert.Equal(t, "APPROVED", r.asa(map[string]any{"token": "credit-1", "status": "CREDIT_AUTHORIZATION"}).Result)
	assert.Equal(t, "UNAUTHORIZED_MERCHANT", r.asa(map[string]any{"token": "inquiry-1", "status": "BALANCE_INQUIRY"}).Result)

	// Settlement and voids arrive as card_transaction.updated events.
	out := r.lithic("/v1/issuers/lithic/events", fixture(t, "lithic/card_transaction.updated.settled.json", nil))
	assert.Contains(t, string(out), "applied: settled $50.00 of txn_")
	auth = r.authorization(lithicToken)
	assert.Equal(t, engine.AuthSettled, auth.Status)
	assert.Equal(t, int64(5000), auth.SettledAmount, "what cleared, the rest released")

	// A second clearing on a settled authorization is refused by the
	// ledger, and the answer says so (200: sending it again would not help).
	out = r.lithic("/v1/issuers/lithic/events", fixture(t, "lithic/card_transaction.updated.settled.json", map[string]any{"settled_amount": 5100,
		"events": []any{map[string]any{"type": "CLEARING", "amount": 5000}, map[string]any{"type": "CLEARING", "amount": 100}}}))
	assert.Contains(t, string(out), "not applied")
	assert.Equal(t, int64(5000), r.authorization(lithicToken).SettledAmount)

	r.env.Reveal(r.agent, r.card, 20_00, "Coffee Shop")
	require.Equal(t, "APPROVED", r.asa(map[string]any{"token": "second", "amounts.cardholder.amount": 20_00}).Result)
	r.lithic("/v1/issuers/lithic/events", fixture(t, "lithic/card_transaction.updated.voided.json", map[string]any{"token": "second"}))
	assert.Equal(t, engine.AuthReversed, r.authorization("second").Status)
	r.env.Verify()
}

// An incremental request (the same authorization asking for more) is its
// own decision and hold; a capture settles them in order, a reversal
// releases them all.
func TestIncrementalAuthorizations(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	_, err := r.env.Engine.SetPolicy(r.env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: r.agent.ID, Policy: engine.Policy{IntentRequired: sqlitetest.Ptr(false)}})
	require.NoError(t, err)
	_, answer := r.stripeRequest(nil)
	require.True(t, answer.Approved)
	_, answer = r.stripeRequest(map[string]any{"data.object.request_history": []any{map[string]any{"amount": 382, "approved": true}},
		"data.object.pending_request.amount": 100})
	require.True(t, answer.Approved)
	second := r.authorization(stripeAuth + "#2")
	assert.Equal(t, int64(100), second.Amount)

	body := fixture(t, "stripe/issuing_transaction.created.capture.json", map[string]any{"data.object.amount": -432})
	_, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), body)}}, body)
	assert.Contains(t, string(out), "settled $3.82")
	assert.Contains(t, string(out), "settled $0.50")
	assert.Equal(t, int64(382), r.authorization(stripeAuth).SettledAmount)
	assert.Equal(t, int64(50), r.authorization(stripeAuth+"#2").SettledAmount)
	bal, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00-432), bal.Available, "the rest of the second hold released")

	// Lithic: the same token with another amount is an incremental request;
	// the same request again finds its decision.
	require.Equal(t, "APPROVED", r.asa(nil).Result)
	require.Equal(t, "APPROVED", r.asa(map[string]any{"amounts.cardholder.amount": 1000}).Result)
	require.Equal(t, "APPROVED", r.asa(map[string]any{"amounts.cardholder.amount": 1000}).Result)
	assert.Equal(t, int64(1000), r.authorization(lithicToken+"#2").Amount)
	_, err = r.env.Engine.GetAuthorizationByNetworkID(r.env.Ctx, engine.Operator, lithicToken+"#3")
	assert.True(t, engine.IsNotFound(err), "a retry is not a third request")
	r.lithic("/v1/issuers/lithic/events", fixture(t, "lithic/card_transaction.updated.voided.json", nil))
	assert.Equal(t, engine.AuthReversed, r.authorization(lithicToken).Status)
	assert.Equal(t, engine.AuthReversed, r.authorization(lithicToken+"#2").Status)
	r.env.Verify()
}

// Every decline code the engine can give maps to a result Lithic accepts,
// and the situations a user meets most come back as Lithic names them.
func TestLithicDeclineResults(t *testing.T) {
	for _, code := range engine.DeclineCodes {
		result, ok := issuers.LithicResults[code]
		assert.True(t, ok, "%s is not mapped", code)
		assert.Contains(t, issuers.LithicValidResults, result, code)
	}
	assert.Len(t, issuers.LithicResults, len(engine.DeclineCodes))

	for _, tc := range []struct {
		name   string
		setup  func(r *rig)
		edits  map[string]any
		code   string
		result string
	}{
		{"no intent", func(r *rig) {}, nil, engine.CodeIntentRequired, "UNAUTHORIZED_MERCHANT"},
		{"unknown card", func(r *rig) {}, map[string]any{"card.token": "00000000-0000-0000-0000-000000000000"}, engine.CodeCardNotFound, "CARD_PAUSED"},
		{"frozen card", func(r *rig) {
			_, err := r.env.Engine.FreezeCard(r.env.Ctx, engine.Operator, engine.CardActionInput{CardID: r.card.ID})
			require.NoError(r.t, err)
		}, nil, engine.CodeCardFrozen, "CARD_PAUSED"},
		{"insufficient funds", func(r *rig) { r.env.Reveal(r.agent, r.card, 200_00, "Coffee Shop") },
			map[string]any{"amounts.cardholder.amount": 200_00}, engine.CodeInsufficientFunds, "INSUFFICIENT_FUNDS"},
		{"over the daily limit", func(r *rig) {
			_, err := r.env.Engine.SetPolicy(r.env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: r.agent.ID,
				Policy: engine.Policy{SpendLimits: engine.SpendLimits{DailyLimit: sqlitetest.Ptr[int64](50_00)}}})
			require.NoError(r.t, err)
			r.env.Reveal(r.agent, r.card, 5200, "Coffee Shop")
		}, nil, engine.CodeDailyLimitExceeded, "VELOCITY_EXCEEDED"},
		{"blocked category", func(r *rig) {
			_, err := r.env.Engine.SetPolicy(r.env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: r.agent.ID,
				Policy: engine.Policy{SpendLimits: engine.SpendLimits{BlockedMCCs: []string{"5812"}}}})
			require.NoError(r.t, err)
		}, nil, engine.CodeMerchantBlocked, "UNAUTHORIZED_MERCHANT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, issuers.Options{}, nil)
			tc.setup(r)
			assert.Equal(t, tc.result, r.asa(tc.edits).Result)
			assert.Equal(t, tc.code, r.authorization(lithicToken).DeclineCode)
		})
	}
}

func TestLithicSignatures(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	body := fixture(t, "lithic/asa_request.json", nil)
	good := lithicHeaders(lithicSecret, "msg_1", time.Now(), body)
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
		status int
	}{
		{"no headers", http.Header{}, body, http.StatusBadRequest},
		{"another secret", lithicHeaders("whsec_"+base64.StdEncoding.EncodeToString([]byte("another key")), "msg_1", time.Now(), body), body, http.StatusUnauthorized},
		{"tampered body", good, bytes.Replace(body, []byte("5200"), []byte("5100"), 1), http.StatusUnauthorized},
		{"other message id", func() http.Header { h := good.Clone(); h.Set("webhook-id", "msg_2"); return h }(), body, http.StatusUnauthorized},
		{"stale", lithicHeaders(lithicSecret, "msg_1", time.Now().Add(-6*time.Minute), body), body, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.env.Snapshot()
			resp, out := r.post("/v1/issuers/lithic/asa", tc.header, tc.body)
			assert.Equal(t, tc.status, resp.StatusCode, string(out))
			assert.Equal(t, before, r.env.Snapshot())
		})
	}
	_, err := issuers.New(r.env.Engine, issuers.Options{LithicSecret: "whsec_not base64!"})
	assert.ErrorContains(t, err, "AGENTLEDGER_LITHIC_SECRET")
}

// blockWrites takes the database's write lock, as a long transaction in
// another process would, until the returned func is called.
func blockWrites(t *testing.T, env *sqlitetest.Env) func() {
	t.Helper()
	return env.BlockWrites()
}

// When the database is busy past the budget the issuer still gets its
// answer in time: the fallback (decline). Once the decision lands it is
// reconciled: the late approval is reversed, and the fallback recorded.
func TestTheBudgetHoldsWhenTheDatabaseIsBusy(t *testing.T) {
	r := newRig(t, issuers.Options{Budget: 200 * time.Millisecond}, nil)
	r.env.Reveal(r.agent, r.card, 382, "Stripe")
	release := blockWrites(t, r.env)
	start := time.Now()
	_, answer := r.stripeRequest(nil)
	elapsed := time.Since(start)
	release()
	assert.False(t, answer.Approved)
	assert.Contains(t, answer.Metadata["agentledger_fallback"], "no decision within 200ms")
	assert.Less(t, elapsed, 1500*time.Millisecond, "answered inside the issuer's deadline")

	r.h.Wait()
	fallbacks, err := r.env.Engine.ListFallbacks(r.env.Ctx, engine.Operator, 0)
	require.NoError(t, err)
	require.Len(t, fallbacks, 1)
	f := fallbacks[0]
	assert.Equal(t, stripeAuth, f.NetworkID)
	assert.Equal(t, engine.FallbackDecline, f.Answer)
	assert.Contains(t, f.Outcome, "reversed")
	assert.Equal(t, engine.AuthReversed, r.authorization(stripeAuth).Status)
	bal, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00), bal.Available, "no hold left behind")
	r.env.Verify()
}

// The fallback can be set to approve; a busy database that makes the
// decision fail outright answers at once.
func TestFallbackApproveAndABusyFailure(t *testing.T) {
	env := sqlitetest.NewWith(t, sqlitetest.Options{Store: sqliteOptions(100 * time.Millisecond)})
	r := newRig(t, issuers.Options{Budget: time.Second, FallbackApprove: true}, env)
	release := blockWrites(t, r.env)
	start := time.Now()
	answer := r.asa(nil)
	assert.Less(t, time.Since(start), time.Second, "a failed decision answers before the budget")
	release()
	assert.Equal(t, "APPROVED", answer.Result)
	r.h.Wait()
	fallbacks, err := r.env.Engine.ListFallbacks(r.env.Ctx, engine.Operator, 0)
	require.NoError(t, err)
	require.Len(t, fallbacks, 1)
	assert.Equal(t, engine.FallbackApprove, fallbacks[0].Answer)
	assert.Contains(t, fallbacks[0].Reason, "busy")
	assert.Equal(t, "the engine made no decision", fallbacks[0].Outcome)
}

func sqliteOptions(busy time.Duration) sqlite.Options { return sqlite.Options{BusyTimeout: busy} }

func TestSandboxNetworkEndpoints(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	r.env.Reveal(r.agent, r.card, 25_00, "Acme")
	auth := func(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

	call := func(path, key string, body string) (int, map[string]any) {
		resp, out := r.post(path, auth(key), []byte(body))
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m), string(out))
		return resp.StatusCode, m
	}
	status, a := call("/v1/network/authorize", r.network, `{"card":"`+r.card.ID+`","amount":2500,"currency":"USD","merchant":{"name":"Acme","mcc":"5734","id":"m_1","country":"US"},"network_id":"net_1"}`)
	require.Equal(t, http.StatusOK, status, a)
	assert.Equal(t, engine.AuthApproved, a["status"])
	id := a["id"].(string)

	status, a = call("/v1/network/authorize", r.network, `{"card":"`+r.card.ID+`","amount":999999,"merchant":{"name":"Acme"}}`)
	assert.Equal(t, http.StatusOK, status, "a decline is an answer, not an error")
	assert.Equal(t, engine.AuthDeclined, a["status"])

	status, a = call("/v1/network/settle", r.network, `{"authorization_id":"`+id+`","amount":2000}`)
	require.Equal(t, http.StatusOK, status, a)
	assert.Equal(t, engine.AuthSettled, a["status"])
	status, a = call("/v1/network/refund", r.network, `{"authorization_id":"`+id+`","amount":500}`)
	require.Equal(t, http.StatusOK, status, a)
	assert.Equal(t, float64(500), a["refunded_amount"])
	status, a = call("/v1/network/reverse", r.network, `{"authorization_id":"`+id+`"}`)
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, engine.CodeInvalidState, a["error"].(map[string]any)["code"])

	agentKey, err := r.env.Engine.CreateKey(r.env.Ctx, engine.Operator, engine.CreateKeyInput{Role: engine.RoleAgent, Agent: r.agent.ID})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		key    string
		body   string
		status int
		field  string
	}{
		{"no key", "", `{}`, http.StatusUnauthorized, ""},
		{"unknown key", "al_nope", `{}`, http.StatusUnauthorized, ""},
		{"agent key", agentKey.Secret, `{}`, http.StatusForbidden, ""},
		{"unknown field", r.network, `{"card":"x","amount":1,"merchant":{"name":"A"},"tip":5}`, http.StatusBadRequest, "tip"},
		{"amount not a number", r.network, `{"card":"x","amount":"1.50","merchant":{"name":"A"}}`, http.StatusBadRequest, "amount"},
		{"zero amount", r.network, `{"card":"` + r.card.ID + `","amount":0,"merchant":{"name":"A"}}`, http.StatusBadRequest, "amount"},
		{"no merchant", r.network, `{"card":"` + r.card.ID + `","amount":100}`, http.StatusBadRequest, "merchant.name"},
		{"not JSON", r.network, `amount=1`, http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.env.Snapshot()
			h := http.Header{}
			if tc.key != "" {
				h = auth(tc.key)
			}
			resp, out := r.post("/v1/network/authorize", h, []byte(tc.body))
			assert.Equal(t, tc.status, resp.StatusCode, string(out))
			var e struct {
				Error struct{ Code, Message, Field string }
			}
			require.NoError(t, json.Unmarshal(out, &e), string(out))
			assert.NotEmpty(t, e.Error.Message)
			assert.Equal(t, tc.field, e.Error.Field)
			assert.Equal(t, before, r.env.Snapshot())
		})
	}
}

// Idempotency-Key on every /v1/network endpoint, Stripe's way: the same key
// with the same body returns the first answer and acts once; with another
// body (or on another endpoint) it is 409 IDEMPOTENCY_CONFLICT.
func TestNetworkEndpointsHonourIdempotencyKey(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	r.env.Reveal(r.agent, r.card, 25_00, "Acme")
	call := func(path, key, body string) (int, map[string]any) {
		h := http.Header{"Authorization": {"Bearer " + r.network}}
		if key != "" {
			h.Set("Idempotency-Key", key)
		}
		resp, out := r.post(path, h, []byte(body))
		var m map[string]any
		require.NoError(t, json.Unmarshal(out, &m), string(out))
		return resp.StatusCode, m
	}
	charge := `{"card":"` + r.card.ID + `","amount":2500,"merchant":{"name":"Acme"}}` // no network_id
	status, first := call("/v1/network/authorize", "order-1", charge)
	require.Equal(t, http.StatusOK, status, first)
	require.Equal(t, engine.AuthApproved, first["status"])
	status, again := call("/v1/network/authorize", "order-1", charge)
	require.Equal(t, http.StatusOK, status, again)
	assert.Equal(t, first, again, "the first answer, word for word")
	b, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(2500), b.Pending, "held once")

	for _, tc := range []struct{ path, body string }{
		{"/v1/network/authorize", `{"card":"` + r.card.ID + `","amount":2600,"merchant":{"name":"Acme"}}`},
		{"/v1/network/reverse", `{"authorization_id":"` + first["id"].(string) + `"}`},
	} {
		status, m := call(tc.path, "order-1", tc.body)
		assert.Equal(t, http.StatusConflict, status, m)
		assert.Equal(t, engine.CodeIdempotencyConflict, m["error"].(map[string]any)["code"])
	}
	// Without the key, the same body is a new charge.
	status, other := call("/v1/network/authorize", "", charge)
	require.Equal(t, http.StatusOK, status, other)
	assert.NotEqual(t, first["id"], other["id"])
	r.env.Verify()
}

// Refunds over an authorization's requests are applied in full: captured
// $4.82 over two requests ($4.00 and an incremental $0.82), refunds of $3.00
// and then $1.50 refund $4.50, each answered as applied, never "not applied"
// (which Stripe would never resend).
func TestStripeRefundsAcrossIncrementalRequests(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	_, err := r.env.Engine.SetPolicy(r.env.Ctx, engine.Operator, engine.SetPolicyInput{Agent: r.agent.ID, Policy: engine.Policy{IntentRequired: sqlitetest.Ptr(false)}})
	require.NoError(t, err)
	_, answer := r.stripeRequest(map[string]any{"data.object.pending_request.amount": 400})
	require.True(t, answer.Approved)
	_, answer = r.stripeRequest(map[string]any{"data.object.request_history": []any{map[string]any{"amount": 400, "approved": true}},
		"data.object.pending_request.amount": 82})
	require.True(t, answer.Approved)
	send := func(name string, edits map[string]any) string {
		body := fixture(t, name, edits)
		resp, out := r.post("/v1/issuers/stripe/authorization", http.Header{"Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), body)}}, body)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
		return string(out)
	}
	out := send("stripe/issuing_transaction.created.capture.json", map[string]any{"data.object.amount": -482})
	assert.NotContains(t, out, "not applied")
	for _, refund := range []struct {
		id     string
		amount int64
	}{{"ipi_refund_1", 300}, {"ipi_refund_2", 150}} {
		out := send("stripe/issuing_transaction.created.refund.json", map[string]any{"data.object.id": refund.id, "data.object.amount": refund.amount})
		assert.Contains(t, out, "applied: refunded")
		assert.NotContains(t, out, "not applied", "refund %s", refund.id)
	}
	first, second := r.authorization(stripeAuth), r.authorization(stripeAuth+"#2")
	assert.Equal(t, int64(450), first.RefundedAmount+second.RefundedAmount)
	assert.Equal(t, int64(400), first.RefundedAmount, "oldest request first")
	assert.Equal(t, int64(50), second.RefundedAmount)
	out = send("stripe/issuing_transaction.created.refund.json", map[string]any{"data.object.id": "ipi_refund_3", "data.object.amount": 100})
	assert.Contains(t, out, "applied: refunded $0.32")
	assert.Contains(t, out, "not applied: $0.68 refunded beyond what was settled")
	bal, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00), bal.Available, "every cent captured came back")
	r.env.Verify()
}

// A paper agent's approval tells the network to decline, on every face:
// the sandbox network's answer carries the same instruction as Stripe's.
func TestNetworkAnswerOfAPaperApproval(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	r.paper(100_00)
	r.env.Reveal(r.agent, r.card, 25_00, "Acme")
	resp, out := r.post("/v1/network/authorize", http.Header{"Authorization": {"Bearer " + r.network}},
		[]byte(`{"card":"`+r.card.ID+`","amount":2500,"merchant":{"name":"Acme"}}`))
	require.Equal(t, http.StatusOK, resp.StatusCode, string(out))
	var a struct {
		Status        string `json:"status"`
		NetworkAnswer string `json:"network_answer"`
	}
	require.NoError(t, json.Unmarshal(out, &a))
	assert.Equal(t, engine.AuthApproved, a.Status)
	assert.Equal(t, engine.NetworkDecline, a.NetworkAnswer)

	_, err := r.env.Engine.SetAgentMode(r.env.Ctx, engine.Operator, engine.SetModeInput{Agent: r.agent.ID, Mode: engine.ModeLive})
	require.NoError(t, err)
	r.env.Reveal(r.agent, r.card, 25_00, "Acme")
	_, out = r.post("/v1/network/authorize", http.Header{"Authorization": {"Bearer " + r.network}},
		[]byte(`{"card":"`+r.card.ID+`","amount":2500,"merchant":{"name":"Acme"}}`))
	require.NoError(t, json.Unmarshal(out, &a))
	assert.Equal(t, engine.NetworkApprove, a.NetworkAnswer)
}

// A Lithic credit authorization (money back to the card) is recorded by the
// engine, approved whatever the card's state, holds and counts nothing, and
// once settled credits the user.
func TestLithicCreditAuthorization(t *testing.T) {
	r := newRig(t, issuers.Options{}, nil)
	_, err := r.env.Engine.FreezeCard(r.env.Ctx, engine.Operator, engine.CardActionInput{CardID: r.card.ID})
	require.NoError(t, err)
	credit := map[string]any{"status": "CREDIT_AUTHORIZATION", "token": "credit-1", "amounts.cardholder.amount": 1500}
	assert.Equal(t, "APPROVED", r.asa(credit).Result)
	assert.Equal(t, "APPROVED", r.asa(credit).Result, "the same request again")
	a := r.authorization("credit-1")
	assert.Equal(t, engine.KindCredit, a.Kind)
	assert.Equal(t, engine.AuthApproved, a.Status)
	assert.Empty(t, a.HoldID)
	bal, err := r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, int64(100_00), bal.Available, "nothing held")

	settled := fixture(t, "lithic/card_transaction.updated.settled.json", map[string]any{"token": "credit-1"})
	out := string(r.lithic("/v1/issuers/lithic/events", settled))
	assert.Contains(t, out, "applied: settled")
	a = r.authorization("credit-1")
	assert.Equal(t, engine.AuthSettled, a.Status)
	bal, err = r.env.Engine.UserBalance(r.env.Ctx, engine.Operator, r.user.ID, "USD")
	require.NoError(t, err)
	assert.Equal(t, 100_00+a.SettledAmount, bal.Available, "the credit reached the user")

	unknown := map[string]any{"status": "CREDIT_AUTHORIZATION", "token": "credit-2", "card.token": "not-linked"}
	assert.Equal(t, "CARD_PAUSED", r.asa(unknown).Result)
	r.env.Verify()
}

// A body over the limit is 413 with the JSON error shape, on every endpoint,
// and nothing is decided or written.
func TestIssuerBodiesAreBounded(t *testing.T) {
	r := newRig(t, issuers.Options{MaxBody: 256}, nil)
	big := []byte(`{"card":"` + r.card.ID + `","amount":100,"merchant":{"name":"` + strings.Repeat("A", 300) + `"}}`)
	before := r.env.Snapshot()
	for _, path := range []string{"/v1/network/authorize", "/v1/issuers/stripe/authorization", "/v1/issuers/lithic/asa"} {
		h := http.Header{"Authorization": {"Bearer " + r.network}, "Stripe-Signature": {stripeSignature(stripeSecret, time.Now(), big)}}
		for k, v := range lithicHeaders(lithicSecret, "msg_big", time.Now(), big) {
			h[k] = v
		}
		resp, out := r.post(path, h, big)
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s: %s", path, out)
		var e struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.Unmarshal(out, &e), string(out))
		assert.Equal(t, "TOO_LARGE", e.Error.Code)
		assert.Contains(t, e.Error.Message, "256 bytes")
	}
	assert.Equal(t, before, r.env.Snapshot())
}

// A credit authorization without a decision in time is approved: money
// coming back to the card spends nothing, whatever the fallback for charges.
func TestCreditFallbackApproves(t *testing.T) {
	r := newRig(t, issuers.Options{Budget: 200 * time.Millisecond}, nil)
	release := blockWrites(t, r.env)
	got := r.asa(map[string]any{"status": "CREDIT_AUTHORIZATION", "token": "credit-late"})
	release()
	assert.Equal(t, "APPROVED", got.Result)
	r.h.Wait()
	fallbacks, err := r.env.Engine.ListFallbacks(r.env.Ctx, engine.Operator, 0)
	require.NoError(t, err)
	require.Len(t, fallbacks, 1)
	assert.Equal(t, engine.FallbackApprove, fallbacks[0].Answer)
	assert.Equal(t, engine.AuthApproved, r.authorization("credit-late").Status)
	r.env.Verify()
}

// A network key is trusted for the key cache's time: revoked, it still
// authorizes until its check is stale, then never again.
func TestARevokedNetworkKeyStopsOnceItsCheckIsStale(t *testing.T) {
	const ttl = 100 * time.Millisecond
	r := newRig(t, issuers.Options{KeyCacheTTL: ttl}, nil)
	authorize := func() int {
		resp, out := r.post("/v1/network/authorize", http.Header{"Authorization": {"Bearer " + r.network}},
			[]byte(`{"card":"`+r.card.ID+`","amount":100,"merchant":{"name":"Acme"}}`))
		require.Contains(t, []int{http.StatusOK, http.StatusUnauthorized}, resp.StatusCode, string(out))
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, authorize())
	r.env.RevokeKeys(engine.RoleNetwork)
	time.Sleep(ttl)
	assert.Equal(t, http.StatusUnauthorized, authorize())
}
