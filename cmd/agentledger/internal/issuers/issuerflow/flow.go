package issuerflow

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentledger/agentledger/engine"
	"github.com/agentledger/agentledger/mcp"
	"github.com/agentledger/agentledger/store/sqlite/sqlitetest"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issuer is the issuer API a scenario runs against.
type Issuer struct {
	Name string // engine.IssuerStripe or engine.IssuerLithic
	// Target is the URL of the issuer's API (stripe-mock, the Lithic test
	// server); the scenario puts its proxy in front.
	Target string
	// Start, when set, starts a fresh issuer API for each part of the
	// scenario and returns its URL, instead of Target.
	Start func(t testing.TB) string
	// New makes agentledger's client of the issuer at base, calling with hc.
	New func(t testing.TB, base string, hc *http.Client) engine.CardIssuer
	// CardsPath is the path of the issuer's card endpoints
	// (/v1/issuing/cards, /v1/cards): creates, updates and reads.
	CardsPath string
	// NumberFetch tells a request that fetches a card's number.
	NumberFetch func(Request) bool
	// Status is the issuer's status of a card (engine's names), when the
	// issuer keeps state; nil for a stateless mock.
	Status func(externalID string) string
	// OpenCards counts the cards the issuer holds that are not closed, when
	// it keeps state.
	OpenCards func() int
	// Rewrite, when set, changes the issuer's answers on their way back
	// (a mock that cannot give some field).
	Rewrite func(*http.Response) error
}

// clientTimeout is the issuer client's timeout in the scenario: a hung
// issuer fails a call after it.
const clientTimeout = time.Second

// world is one scenario's engine, proxy and agent.
type world struct {
	t     *testing.T
	is    Issuer
	env   *sqlitetest.Env
	proxy *Proxy
	agent *engine.Agent
	mcp   *session
}

// With is the issuer with a Start function.
func (is Issuer) With(start func(t testing.TB) string) Issuer {
	is.Start = start
	return is
}

func newWorld(t *testing.T, is Issuer) *world {
	target := is.Target
	if is.Start != nil {
		target = is.Start(t)
	}
	proxy := NewProxy(t, target, 3*clientTimeout, is.Rewrite)
	// No keep-alive: a refused connection is then never retried unseen.
	hc := &http.Client{Timeout: clientTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	env := sqlitetest.NewWith(t, sqlitetest.Options{Engine: engine.Options{
		Issuers: []engine.CardIssuer{is.New(t, proxy.URL, hc)}}})
	u, err := env.Engine.CreateUser(env.Ctx, engine.Operator, engine.CreateUserInput{Name: "Ada Lovelace", Email: "ada@example.com"})
	require.NoError(t, err)
	_, err = env.Engine.SetKYC(env.Ctx, engine.Operator, engine.SetKYCInput{User: u.ID, Status: engine.KYCApproved})
	require.NoError(t, err)
	_, err = env.Engine.FundUser(env.Ctx, engine.Operator, engine.FundInput{User: u.ID, Amount: 100_000})
	require.NoError(t, err)
	agent := env.Agent("buyer", u, engine.Policy{SpendLimits: engine.SpendLimits{
		PerTransactionLimit: sqlitetest.Ptr[int64](5_000), MonthlyLimit: sqlitetest.Ptr[int64](50_000),
		BlockedMCCs: []string{"7995"},
	}})
	_, err = env.Engine.SetDefaultIssuer(env.Ctx, engine.Operator, engine.SetDefaultIssuerInput{Agent: agent.ID, Issuer: is.Name})
	require.NoError(t, err)
	w := &world{t: t, is: is, env: env, proxy: proxy, agent: agent}
	t.Cleanup(func() {
		// Every call agentledger made was accepted by the issuer's API
		// (stripe-mock checks each against Stripe's OpenAPI schema).
		for _, r := range proxy.Refused() {
			t.Errorf("the issuer refused %s %s?%s (%d): %s", r.Method, r.Path, r.Query, r.Status, r.Body)
		}
	})
	w.mcp = connect(t, mcp.New(env.Engine, mcp.Options{}), engine.Actor{Role: engine.RoleAgent, AgentID: agent.ID, KeyID: "key_flow"})
	return w
}

// Run runs the scenario against the issuer.
func Run(t *testing.T, is Issuer) {
	t.Run("provision, reveal after an intent, follow", func(t *testing.T) { provisionRevealFollow(t, is) })
	for _, kind := range []string{"500", "hang", "refuse", "lost"} {
		t.Run("create fails: "+kind, func(t *testing.T) { createFails(t, is, kind) })
		if kind == "lost" {
			t.Run("create answer lost, then the issuer is back", func(t *testing.T) { createAnswerLost(t, is) })
			continue
		}
		t.Run("freeze fails: "+kind, func(t *testing.T) { freezeFails(t, is, kind) })
		t.Run("details fail: "+kind, func(t *testing.T) { detailsFail(t, is, kind) })
	}
}

func provisionRevealFollow(t *testing.T, is Issuer) {
	w := newWorld(t, is)
	var card engine.Card
	w.mcp.ok("ledger_card", map[string]any{"action": "create", "purpose": "office supplies"}, &card)
	assert.Equal(t, is.Name, card.Issuer, "the agent's default issuer provisions the card")
	require.NotEmpty(t, card.IssuerCardID)
	assert.Len(t, card.Last4, 4)
	creates := 0
	for _, r := range w.proxy.Requests() {
		if r.Method == http.MethodPost && r.Path == is.CardsPath {
			creates++
		}
	}
	assert.Equal(t, 1, creates, "one card created at the issuer: %v", w.proxy.Requests())
	if is.Status != nil {
		assert.Equal(t, engine.CardActive, is.Status(card.IssuerCardID))
	}

	code, msg := w.mcp.fail("ledger_card", map[string]any{"action": "details", "card_id": card.ID})
	assert.Equal(t, engine.CodeIntentRequired, code, msg)
	w.noNumberFetch(0, "before an intent")

	var intent engine.Intent
	w.mcp.ok("ledger_intent", map[string]any{"action": "declare", "card_id": card.ID, "summary": "printer paper",
		"amount": 2_500, "merchant": "Staples"}, &intent)
	w.noNumberFetch(0, "declaring an intent fetches nothing")
	mark := w.proxy.Mark()
	var details engine.CardDetails
	w.mcp.ok("ledger_card", map[string]any{"action": "details", "card_id": card.ID}, &details)
	assert.Equal(t, intent.ID, details.IntentID)
	assert.True(t, engine.LuhnValid(details.PAN), "the issuer's card number")
	assert.True(t, strings.HasSuffix(details.PAN, card.Last4) || is.Status == nil, "the number of this card")
	assert.NotEmpty(t, details.CVV)
	fetches := 0
	for _, r := range w.proxy.Since(mark) {
		if is.NumberFetch(r) {
			fetches++
		}
	}
	assert.Equal(t, 1, fetches, "the number is fetched from the issuer once, after the intent is revealed")
	got, err := w.env.Engine.GetIntent(w.env.Ctx, engine.Operator, intent.ID)
	require.NoError(t, err)
	assert.Equal(t, engine.IntentRevealed, got.Status)
	assert.NotContains(t, w.env.Snapshot(), details.PAN, "the number is never stored, nor evented")

	mark = w.proxy.Mark()
	var frozen engine.Card
	w.mcp.ok("ledger_card", map[string]any{"action": "freeze", "card_id": card.ID}, &frozen)
	assert.Equal(t, engine.CardFrozen, frozen.Status)
	assert.Equal(t, engine.IssuerSynced, frozen.IssuerSync)
	w.updated(mark, card.IssuerCardID, "the freeze reaches the issuer in the same operation")
	if is.Status != nil {
		assert.Equal(t, engine.CardFrozen, is.Status(card.IssuerCardID))
	}

	mark = w.proxy.Mark()
	_, err = w.env.Engine.PatchPolicy(w.env.Ctx, engine.Operator, engine.PatchPolicyInput{Agent: w.agent.ID,
		Patch: map[string]json.RawMessage{"monthly_limit": json.RawMessage("40000")}})
	require.NoError(t, err)
	w.updated(mark, card.IssuerCardID, "a policy change updates the mirrored controls")

	report, err := w.env.Engine.SyncIssuers(w.env.Ctx, engine.Operator, engine.IssuerSyncInput{DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, 1, report.Checked)
	assert.Empty(t, report.Queued)
	if is.Status != nil {
		assert.Empty(t, report.Drift, "the issuer's card matches: %+v", report.Drift)
	}

	mark = w.proxy.Mark()
	var closed engine.Card
	w.mcp.ok("ledger_card", map[string]any{"action": "close", "card_id": card.ID}, &closed)
	w.updated(mark, card.IssuerCardID, "closing cancels the issuer's card")
	if is.Status != nil {
		assert.Equal(t, engine.CardClosed, is.Status(card.IssuerCardID))
	}
	w.env.Verify()
}

// createFails: the issuer fails the create; no card is left on either side.
func createFails(t *testing.T, is Issuer, kind string) {
	w := newWorld(t, is)
	// Enough failures for the create and for the immediate attempt to
	// cancel what it may have made: the cancellation is then queued.
	w.proxy.Fail(4, http.MethodPost, is.CardsPath, kind)
	code, msg := w.mcp.fail("ledger_card", map[string]any{"action": "create"})
	assert.Equal(t, engine.CodeIssuerUnavailable, code, msg)
	assert.Contains(t, msg, is.Name)
	assert.Contains(t, msg, "no card was created")
	cards, err := w.env.Engine.ListCards(w.env.Ctx, engine.Operator, "", engine.Page{})
	require.NoError(t, err)
	assert.Empty(t, cards.Items, "no card here")
	w.proxy.Clear()
	w.drainQueue()
	if is.OpenCards != nil {
		assert.Zero(t, is.OpenCards(), "no usable card at the issuer")
	}
}

// createAnswerLost: the issuer makes the card but its answer is lost, and
// then it answers again: the half-made card is found and cancelled at once.
func createAnswerLost(t *testing.T, is Issuer) {
	w := newWorld(t, is)
	w.proxy.Fail(1, http.MethodPost, is.CardsPath, "lost")
	code, msg := w.mcp.fail("ledger_card", map[string]any{"action": "create"})
	assert.Equal(t, engine.CodeIssuerUnavailable, code, msg)
	cards, err := w.env.Engine.ListCards(w.env.Ctx, engine.Operator, "", engine.Page{})
	require.NoError(t, err)
	assert.Empty(t, cards.Items, "no card here")
	r, err := w.env.Engine.SyncIssuers(w.env.Ctx, engine.Operator, engine.IssuerSyncInput{DryRun: true})
	require.NoError(t, err)
	assert.Empty(t, r.Queued, "cancelled at once, nothing queued")
	if is.OpenCards != nil {
		assert.Zero(t, is.OpenCards(), "the card the issuer made is cancelled there")
	}
	var cancelled bool
	for _, r := range w.proxy.Requests() {
		if r.Fault == "" && (r.Method == http.MethodPost || r.Method == http.MethodPatch) &&
			strings.HasPrefix(r.Path, is.CardsPath+"/") {
			cancelled = true
		}
	}
	assert.True(t, cancelled, "the half-made card is cancelled at the issuer: %v", w.proxy.Requests())
}

// freezeFails: the issuer fails the freeze; the card is frozen here at once
// and at the issuer once it answers again.
func freezeFails(t *testing.T, is Issuer, kind string) {
	w := newWorld(t, is)
	var card engine.Card
	w.mcp.ok("ledger_card", map[string]any{"action": "create"}, &card)
	w.proxy.Fail(3, "", is.CardsPath+"/", kind)
	var frozen engine.Card
	w.mcp.ok("ledger_card", map[string]any{"action": "freeze", "card_id": card.ID}, &frozen)
	assert.Equal(t, engine.CardFrozen, frozen.Status, "the freeze is never lost")
	assert.True(t, strings.HasPrefix(frozen.IssuerSync, "pending: "), frozen.IssuerSync)
	a, err := w.env.Engine.Authorize(w.env.Ctx, engine.Operator, engine.AuthorizeInput{CardID: card.ID, Amount: 100,
		Currency: "USD", Merchant: engine.Merchant{Name: "Shop"}})
	require.NoError(t, err)
	assert.Equal(t, engine.CodeCardFrozen, a.DeclineCode, "agentledger declines at once")
	w.proxy.Clear()
	mark := w.proxy.Mark()
	w.drainQueue()
	w.updated(mark, card.IssuerCardID, "the queued freeze reaches the issuer")
	if is.Status != nil {
		assert.Equal(t, engine.CardFrozen, is.Status(card.IssuerCardID))
	}
}

// detailsFail: the issuer fails the number fetch; the agent gets a clear
// error, and asking again works.
func detailsFail(t *testing.T, is Issuer, kind string) {
	w := newWorld(t, is)
	var card engine.Card
	w.mcp.ok("ledger_card", map[string]any{"action": "create"}, &card)
	var intent engine.Intent
	w.mcp.ok("ledger_intent", map[string]any{"action": "declare", "card_id": card.ID, "summary": "toner", "amount": 900}, &intent)
	w.proxy.Fail(3, http.MethodGet, is.CardsPath+"/", kind)
	code, msg := w.mcp.fail("ledger_card", map[string]any{"action": "details", "card_id": card.ID})
	assert.Equal(t, engine.CodeIssuerUnavailable, code, msg)
	assert.Contains(t, msg, "ask for the details again")
	w.proxy.Clear()
	var details engine.CardDetails
	w.mcp.ok("ledger_card", map[string]any{"action": "details", "card_id": card.ID}, &details)
	assert.Equal(t, intent.ID, details.IntentID)
	assert.True(t, engine.LuhnValid(details.PAN))
}

// noNumberFetch fails if any request since mark fetched a card number.
func (w *world) noNumberFetch(mark int, why string) {
	w.t.Helper()
	for _, r := range w.proxy.Since(mark) {
		assert.False(w.t, w.is.NumberFetch(r), "%s: %s %s?%s", why, r.Method, r.Path, r.Query)
	}
}

// updated fails unless the card was changed at the issuer since mark.
func (w *world) updated(mark int, ext, why string) {
	w.t.Helper()
	for _, r := range w.proxy.Since(mark) {
		if r.Fault == "" && (r.Method == http.MethodPost || r.Method == http.MethodPatch) && r.Path == w.is.CardsPath+"/"+ext {
			return
		}
	}
	w.t.Errorf("%s: no update of %s in %v", why, ext, w.proxy.Since(mark))
}

// drainQueue works the issuer queue until it is empty, moving the clock past
// each backoff.
func (w *world) drainQueue() {
	w.t.Helper()
	for range 5 {
		w.env.Clock.Advance(15 * time.Minute)
		_, left, err := w.env.Engine.SyncIssuerQueue(w.env.Ctx)
		require.NoError(w.t, err)
		if left == 0 {
			break
		}
	}
	r, err := w.env.Engine.SyncIssuers(w.env.Ctx, engine.Operator, engine.IssuerSyncInput{DryRun: true})
	require.NoError(w.t, err)
	assert.Empty(w.t, r.Queued, "the issuer queue is empty once the issuer answers")
}

// session is an in-process MCP client acting as an agent.
type session struct {
	t   *testing.T
	c   *client.Client
	ctx context.Context
}

func connect(t *testing.T, srv *mcp.Server, actor engine.Actor) *session {
	c := client.NewClient(transport.NewInProcessTransport(srv.MCPServer()))
	ctx := mcp.WithActor(context.Background(), actor)
	require.NoError(t, c.Start(ctx))
	var init mcpgo.InitializeRequest
	init.Params.ClientInfo = mcpgo.Implementation{Name: "issuerflow", Version: "1.0"}
	_, err := c.Initialize(ctx, init)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &session{t: t, c: c, ctx: ctx}
}

func (s *session) call(tool string, args map[string]any) (*mcpgo.CallToolResult, []byte) {
	s.t.Helper()
	var req mcpgo.CallToolRequest
	req.Params.Name, req.Params.Arguments = tool, args
	res, err := s.c.CallTool(s.ctx, req)
	require.NoError(s.t, err)
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(s.t, err)
	return res, raw
}

func (s *session) ok(tool string, args map[string]any, into any) {
	s.t.Helper()
	res, raw := s.call(tool, args)
	require.False(s.t, res.IsError, "%s %v: %s", tool, args, raw)
	require.NoError(s.t, json.Unmarshal(raw, into), string(raw))
}

func (s *session) fail(tool string, args map[string]any) (code, message string) {
	s.t.Helper()
	res, raw := s.call(tool, args)
	require.True(s.t, res.IsError, "%s %v should fail: %s", tool, args, raw)
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(s.t, json.Unmarshal(raw, &body), string(raw))
	return body.Error.Code, body.Error.Message
}
